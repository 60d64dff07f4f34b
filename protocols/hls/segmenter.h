/* HLS segmenting, independent of the container and of I/O.
 *
 * Three small parts:
 *  - the cutter decides, frame by frame, where a segment ends (keyframes, target
 *    duration, timestamp jumps) and measures the segment it closes;
 *  - a segment records one finished piece of media: its sequence number, timing,
 *    wall-clock start, discontinuity flag and its bytes;
 *  - the window is the bounded ring of the newest finished segments that a live
 *    playlist lists and the server serves.
 *
 * The HLS glue owns the muxer and the bytes. Per frame it asks the cutter; when told
 * to cut it closes the open segment (duration from the cutter, bytes from its muxer),
 * pushes it into the window, and opens the next one:
 *
 *     bool disc;
 *     if (sl_hls_cutter_should_cut(&cutter, f, &disc)) {
 *         if (open) { seg.duration_ts = cutter.closed_duration_ts; seg.data = bytes;
 *                     sl_hls_window_push(&window, &seg); }
 *         seg = (sl_hls_segment_t){ .start_ts = cutter.seg_start_ts,
 *                                   .pdt_ms = now_ms, .discontinuity = disc || restarted };
 *     }
 *     mux f into the open segment;
 *
 * and when the stream ends it closes the open segment with
 * sl_hls_cutter_duration(&cutter).
 *
 * Timestamps are 90 kHz ticks (SL_CLOCK_HZ), as in sl_frame_t.
 */
#ifndef SLUICE_PROTOCOLS_HLS_SEGMENTER_H
#define SLUICE_PROTOCOLS_HLS_SEGMENTER_H

#include <stdbool.h>

#include "sluice/frame.h"

/* A segment never lasts longer than this (or 3 targets if that is longer) even when
 * no keyframe comes: the glue holds the open segment in memory, so a publisher that
 * never sends a keyframe must not make it grow without bound. */
#define SL_HLS_SEGMENT_MAX_TS ((int64_t)30 * SL_CLOCK_HZ)
/* A forward step larger than twice the target, but at least 1 s and at most 10 s,
 * is a timestamp jump rather than a slow frame rate. */
#define SL_HLS_GAP_MIN_TS ((int64_t)1 * SL_CLOCK_HZ)
#define SL_HLS_GAP_MAX_TS ((int64_t)10 * SL_CLOCK_HZ)
/* Upper bound of the window (listed + extra segments). */
#define SL_HLS_WINDOW_MAX 1024

typedef struct sl_hls_segment {
    uint64_t seq;         /* media sequence number, assigned by sl_hls_window_push */
    int64_t start_ts;     /* dts of the first frame, 90 kHz */
    int64_t duration_ts;  /* 90 kHz */
    int64_t pdt_ms;       /* wall clock (Unix ms) of the first frame; < 0: unknown */
    bool discontinuity;   /* EXT-X-DISCONTINUITY before this segment */
    sl_buf_t *data;       /* the segment's bytes: one reference, owned by the holder */
} sl_hls_segment_t;

/* Per-track timing the cutter keeps (video and audio separately, because an
 * interleaved stream's dts only increases within one track). */
typedef struct sl_hls_track_clock {
    bool has_last;      /* false at start and after a discontinuity */
    int64_t last_dts;
    int64_t last_delta; /* dts step between the track's last two frames; 0 if unknown */
} sl_hls_track_clock_t;

typedef struct sl_hls_cutter {
    int64_t target_ts;          /* wanted segment duration */
    int64_t max_ts;             /* forced cut, see SL_HLS_SEGMENT_MAX_TS */
    int64_t gap_ts;             /* forward jump threshold, see SL_HLS_GAP_MIN_TS */
    bool has_video;             /* cut at video keyframes only; set by any video frame */
    bool started;               /* a segment is open */
    int64_t seg_start_ts;       /* dts of the first frame of the open segment */
    int64_t seg_end_ts;         /* estimated end of the open segment's last frames */
    int64_t latest_ts;          /* highest dts since the last discontinuity */
    int64_t closed_duration_ts; /* duration of the segment closed by the last cut */
    sl_hls_track_clock_t track[2]; /* indexed by SL_MEDIA_VIDEO, SL_MEDIA_AUDIO */
} sl_hls_cutter_t;

/* Starts a cutter for segments of target_ts ticks (clamped to 1 tick .. 1 hour).
 * has_video: the stream has a video track, so segments start at keyframes; an
 * audio-only cutter switches to that mode by itself when a video frame comes. */
void sl_hls_cutter_init(sl_hls_cutter_t *c, int64_t target_ts, bool has_video);

/* Called for every frame the glue puts into segments, in arrival order; the frame is
 * only read. Returns true when a new segment must start BEFORE this frame, and then
 * sets seg_start_ts to the frame's dts and, unless this is the first segment,
 * closed_duration_ts to the duration of the segment that just ended.
 *  - The first frame always starts a segment (feed a video stream from a keyframe).
 *  - With video, a cut happens at a video keyframe once the segment has lasted
 *    >= target.
 *  - Audio only, a cut happens before the first frame that would end past the target
 *    (its dts plus the track's last frame step), so segments stay within the target
 *    and EXT-X-TARGETDURATION equals the configured value.
 *  - A segment that reached the hard limit is cut on any frame.
 *  - A timestamp jump (a dts going backwards within its track, or a step forward past
 *    the gap threshold from the highest dts) cuts on any frame and sets
 *    *discontinuity; the closed segment's duration is then measured on the old
 *    timeline.
 * CONFIG frames and data frames return false and change nothing. *discontinuity is
 * always written. */
bool sl_hls_cutter_should_cut(sl_hls_cutter_t *c, const sl_frame_t *f, bool *discontinuity);

/* The duration of the open segment so far, its last frames included (their dts plus
 * the track's last frame step): what the glue uses to close the last segment when the
 * stream ends. 0 when no segment is open. */
int64_t sl_hls_cutter_duration(const sl_hls_cutter_t *c);

/* The newest finished segments. The playlist lists the newest `listed`; `extra`
 * older ones stay servable because a client may request a segment shortly after
 * it left the playlist it fetched (RFC 8216 6.2.2). */
typedef struct sl_hls_window {
    sl_hls_segment_t *ring;
    size_t cap;               /* listed + extra */
    size_t listed;
    size_t head;              /* ring index of the oldest held segment */
    size_t count;             /* segments held, <= cap */
    uint64_t next_seq;        /* seq of the next pushed segment; the glue may set it
                                 before the first push to continue a numbering */
    uint64_t disc_released;   /* discontinuity-flagged segments released */
    int64_t max_duration_ts;  /* longest segment ever pushed (never decreases) */
} sl_hls_window_t;

/* Allocates the ring. SL_ERR_CONFIG when listed is 0 or listed + extra exceeds
 * SL_HLS_WINDOW_MAX, SL_ERR_NOMEM. */
int sl_hls_window_init(sl_hls_window_t *w, size_t listed, size_t extra) SL_MUST_CHECK;
/* Drops the data reference of every held segment and frees the ring. */
void sl_hls_window_free(sl_hls_window_t *w);
/* Adds a finished segment as the newest. Sets seg->seq to w->next_seq (and returns
 * it), moves seg->data into the window (the window owns that reference; seg->data
 * is set to NULL) and, when the ring is full, releases the oldest segment's data.
 * A negative duration is stored as 0. Cannot fail. */
uint64_t sl_hls_window_push(sl_hls_window_t *w, sl_hls_segment_t *seg);
/* How many segments the playlist lists (<= listed). */
size_t sl_hls_window_listed_count(const sl_hls_window_t *w);
/* The i-th listed segment, oldest first, i < sl_hls_window_listed_count(). Borrowed. */
const sl_hls_segment_t *sl_hls_window_listed_at(const sl_hls_window_t *w, size_t i);
/* The held segment (listed or extra) with this seq, or NULL. Borrowed: take a
 * reference on ->data to keep the bytes past the next push. */
const sl_hls_segment_t *sl_hls_window_find(const sl_hls_window_t *w, uint64_t seq);
/* EXT-X-DISCONTINUITY-SEQUENCE of the listed segments: the number of
 * discontinuity-flagged segments that left the listed range (a tag disappears from
 * the playlist with its segment). */
uint64_t sl_hls_window_disc_seq(const sl_hls_window_t *w);

#endif
