/* The stream hub: stream key ("app/name") → stream.
 *
 * A stream has at most one publisher, the current codec configs and metadata, and a
 * log of recent frames: a ring indexed by sequence number. Subscribers are cursors
 * into that log (the Redis replication-buffer shape), so a frame is stored once
 * however many viewers there are. The log keeps the GOP cache (frames from the
 * oldest of the last `gop_cache` keyframes) and whatever the slowest subscriber has
 * not taken yet; both are bounded: a subscriber lagging past the soft limit skips to
 * the newest keyframe, past the hard limit it is ended, and a GOP longer than the
 * hard limit is not cached. Nothing in the hub grows with time.
 *
 * The hub is I/O-free: sessions give it frames and are told, through callbacks,
 * when frames are ready for them or when they must end.
 */
#ifndef SLUICE_HUB_H
#define SLUICE_HUB_H

#include <stdbool.h>

#include "sluice/config.h"
#include "sluice/frame.h"
#include "sluice/list.h"

#define SL_STREAM_KEY_MAX 256

typedef struct sl_hub sl_hub_t;
typedef struct sl_stream sl_stream_t;
typedef struct sl_subscriber sl_subscriber_t;

typedef struct sl_subscriber_ops {
    /* Frames are waiting, or the publisher left (then sl_subscriber_eof tells):
     * called once until sl_subscriber_next has returned NULL. */
    void (*on_ready)(sl_subscriber_t *sub);
    /* The subscriber lagged past the hard limit and was detached: close. */
    void (*on_too_slow)(sl_subscriber_t *sub);
} sl_subscriber_ops_t;

/* Embedded in the session that plays; the hub never frees it. */
struct sl_subscriber {
    sl_list_t link;
    sl_stream_t *stream; /* NULL once detached */
    const sl_subscriber_ops_t *ops;
    uint64_t cursor;          /* sequence number of the next frame to take */
    int prelude;              /* metadata and configs still to give before the cursor */
    uint64_t prelude_end;     /* the log's tail when the prelude was given */
    bool wait_key;            /* skip until a video keyframe */
    bool notified;            /* on_ready called, next() has not returned NULL since */
    uint64_t behind_since_ms; /* when it last had taken every frame (or joined) */
    uint64_t last_skip_ms;    /* when it last skipped to a keyframe */
    uint64_t frames_taken, frames_skipped;
    bool passive; /* see sl_subscriber_set_passive */
    bool batched; /* see sl_subscriber_set_batched */
};

/* Told when any stream starts or stops being published: how outputs that run
 * whether or not anyone watches (HLS, recording, relay push) follow the hub.
 * on_unpublish runs before the stream's subscribers are told, with every frame
 * still in the log. Embedded in its owner. */
typedef struct sl_hub_observer {
    sl_list_t link;
    void (*on_publish)(struct sl_hub_observer *o, sl_stream_t *s);
    void (*on_unpublish)(struct sl_hub_observer *o, sl_stream_t *s);
} sl_hub_observer_t;

/* Seconds the measured bitrate and frame rate are averaged over. */
#define SL_STREAM_RATE_WINDOW 5

typedef struct sl_stream_stats {
    uint64_t frames_in, bytes_in; /* payload bytes */
    size_t subscribers;
    int64_t last_dts;
    uint64_t bitrate; /* payload bits per second over the last seconds */
    double fps;       /* video frames per second over the same seconds */
    uint64_t gop_frames, gop_ms; /* the last complete GOP: video frames, duration */
    uint64_t age_ms;  /* since the first frame */
} sl_stream_stats_t;

/* A hub with GOP-cache depth and queue limits from cfg (borrowed: outlives the hub). */
sl_hub_t *sl_hub_new(const sl_config_t *cfg);
/* Frees the hub; every stream must be gone (all publishers and subscribers left). */
void sl_hub_free(sl_hub_t *hub);
size_t sl_hub_stream_count(const sl_hub_t *hub);
/* Adds an observer (not owned); remove it with sl_hub_unobserve before freeing it. */
void sl_hub_observe(sl_hub_t *hub, sl_hub_observer_t *o);
void sl_hub_unobserve(sl_hub_observer_t *o);

/* Checks that key is "app/name" of printable characters without "..", spaces or a
 * query, at most SL_STREAM_KEY_MAX-1 long. */
bool sl_hub_key_valid(const char *key);

/* Makes `key` a live stream published by the caller. SL_ERR_BUSY when it already
 * has a publisher, SL_ERR_PROTO for an invalid key. The stream stays owned by the
 * hub; the caller must call sl_stream_unpublish exactly once. */
int sl_hub_publish(sl_hub_t *hub, const char *key, sl_stream_t **out) SL_MUST_CHECK;
/* Adds a frame (the stream takes a new reference; the caller keeps its own) and
 * notifies subscribers. Config frames replace the stream's current ones (and are
 * logged, so viewers see the change in order); a metadata frame only replaces the
 * stream's metadata, which new viewers get first, with timestamp 0. now_ms is a monotonic clock (uv_now) used to measure how long subscribers
 * lag. SL_ERR_NOMEM leaves the stream as it was. */
int sl_stream_push(sl_stream_t *s, sl_frame_t *f, uint64_t now_ms) SL_MUST_CHECK;
/* The publisher left. The stream leaves the hub (a new publisher of the same key
 * gets a new stream); subscribers drain what they have and then end with
 * sl_subscriber_eof; the stream is freed with its last subscriber. */
void sl_stream_unpublish(sl_stream_t *s);

/* The live stream `key` (borrowed), or NULL when nobody publishes it. */
sl_stream_t *sl_hub_find(sl_hub_t *hub, const char *key);

/* Attaches a subscriber to the live stream `key`: it starts with the metadata, the
 * codec configs and the GOP cache. SL_ERR_NOT_FOUND when nobody publishes it. */
int sl_hub_subscribe(sl_hub_t *hub, const char *key, sl_subscriber_t *sub,
                     const sl_subscriber_ops_t *ops, uint64_t now_ms) SL_MUST_CHECK;
/* The next frame for this subscriber (borrowed: sl_frame_ref it to keep it beyond
 * the next call into the hub), or NULL when it has taken everything for now. After
 * the publisher left and everything was taken, sl_subscriber_eof is true. */
sl_frame_t *sl_subscriber_next(sl_subscriber_t *sub);
bool sl_subscriber_eof(const sl_subscriber_t *sub);
/* Marks a subscriber that runs whether or not anyone watches (the HLS muxer): it
 * does not count in sl_stream_viewers, so a pulled stream can go idle under it. */
void sl_subscriber_set_passive(sl_subscriber_t *sub);
/* Marks a subscriber that writes to a TCP socket (RTMP, HTTP-FLV and RTSP players,
 * relay pushes). While its stream has video, an audio frame does not wake it: the
 * audio rides with the next video frame, held at most SL_AUDIO_HOLD_MS, so one
 * write carries both. A socket write costs mostly per call, not per byte, and audio
 * frames outnumber video ones (47 AAC frames a second at 48 kHz against 25-30
 * pictures), so this halves a player's writes; video is never held, and players
 * buffer audio far longer than the hold. */
#define SL_AUDIO_HOLD_MS 50
void sl_subscriber_set_batched(sl_subscriber_t *sub);
/* Subscribers that are not passive: players, the RTP output of RTSP and WebRTC
 * players, relay pushes. */
size_t sl_stream_viewers(const sl_stream_t *s);
/* Detaches (idempotent); the stream is freed if it was the last user. */
void sl_subscriber_detach(sl_subscriber_t *sub);

/* A publisher that can make a keyframe on demand (a WebRTC browser, through PLI)
 * registers fn; the hub calls it when a subscriber joins, and players may ask for
 * one (a WHEP viewer's PLI). The publisher rate-limits. Cleared on unpublish. */
void sl_stream_on_keyframe_request(sl_stream_t *s, void (*fn)(void *arg), void *arg);
void sl_stream_request_keyframe(sl_stream_t *s);

/* Things worth one log line per stream, not one per viewer. */
typedef enum sl_stream_note {
    SL_STREAM_NOTE_WHEP_AUDIO = 1 << 0, /* its audio codec cannot go to WebRTC players */
    SL_STREAM_NOTE_WHEP_BFRAMES = 1 << 1, /* it has B-frames, which browsers do not decode over WebRTC */
} sl_stream_note_t;
/* True the first time it is called for `note` on this stream. */
bool sl_stream_note_once(sl_stream_t *s, sl_stream_note_t note);

/* Per-format shared outputs a protocol attaches to a stream (RTP packetizers shared
 * by every RTSP player, say). The hub only stores the pointer; its owner frees it
 * and clears the slot before the stream can go. */
typedef enum sl_output_kind {
    SL_OUTPUT_RTP = 0, /* protocols/rtp/output.h: RTP packets for RTSP and WebRTC players */
    SL_OUTPUT_TO_AAC,  /* protocols/transcode: the transcoder making AAC of Opus */
    SL_OUTPUT_TO_OPUS, /* and Opus of AAC */
    SL_OUTPUT_COUNT
} sl_output_kind_t;
void *sl_stream_get_output(const sl_stream_t *s, sl_output_kind_t kind);
void sl_stream_set_output(sl_stream_t *s, sl_output_kind_t kind, void *output);

const char *sl_stream_key(const sl_stream_t *s);
bool sl_stream_has_video(const sl_stream_t *s);
bool sl_stream_has_audio(const sl_stream_t *s);
/* Current codec configs (borrowed, may be NULL). */
const sl_frame_t *sl_stream_video_config(const sl_stream_t *s);
const sl_frame_t *sl_stream_audio_config(const sl_stream_t *s);
/* The audio config of `codec`: the publisher's, or that of the track the
 * transcoder derives from it (SL_FRAME_DERIVED); NULL when the stream has neither. */
const sl_frame_t *sl_stream_audio_config_of(const sl_stream_t *s, sl_codec_t codec);
/* Stats at now_ms (the clock of sl_stream_push). */
void sl_stream_get_stats(const sl_stream_t *s, uint64_t now_ms, sl_stream_stats_t *out);
/* Frames skipped by every subscriber that fell behind the soft limit. */
uint64_t sl_hub_frames_skipped(const sl_hub_t *hub);
/* Calls fn for every live stream. */
void sl_hub_foreach(sl_hub_t *hub, void (*fn)(sl_stream_t *s, void *arg), void *arg);

#endif
