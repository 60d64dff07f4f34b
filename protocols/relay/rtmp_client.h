/* The RTMP client of the relay: pushes a local stream to another server (publish)
 * or pulls a remote one in (play). I/O-free like the server's cores, which it
 * reuses: bytes from the server go in through sl_rtmp_client_feed, bytes to send
 * come out in an sl_bytes_t, and what happens on the stream comes back through
 * callbacks. The socket, timers and reconnection belong to the relay session.
 *
 * The exchange, in the order OBS and ffmpeg use and nginx-rtmp and SRS expect:
 *   C0C1                                         (init)
 *   C2, Set Chunk Size, connect                  (once S0S1S2 is in)
 *   Window Ack Size, then
 *     publish: releaseStream, FCPublish, createStream   (on connect's _result)
 *     play:    createStream
 *   publish: publish(name, "live")                (on createStream's _result)
 *   play:    play(name, -2000), Set Buffer Length
 *   ready on onStatus NetStream.Publish.Start / NetStream.Play.Start.
 * Throughout, the server's Set Chunk Size is honoured, an Acknowledgement goes out
 * each time the server's window of bytes has been received, and pings are answered.
 *
 * Timestamps: play turns the server's 32-bit millisecond timestamps into the 64-bit
 * 90 kHz clock of frames, unwrapping them as the server's own ingest does. Publish
 * sends timestamps relative to the first audio or video frame that is not a codec
 * config (a stream joined late starts near 0 on the remote server, as ffmpeg's
 * output does); configs and metadata sent before it, and frames a little older than
 * it (audio interleaved with the first keyframe), go at 0.
 */
#ifndef SLUICE_RELAY_RTMP_CLIENT_H
#define SLUICE_RELAY_RTMP_CLIENT_H

#include <stdbool.h>

#include "protocols/relay/url.h"
#include "protocols/rtmp/chunk.h"
#include "protocols/rtmp/handshake.h"
#include "protocols/rtmp/message.h"
#include "sluice/frame.h"

typedef enum {
    SL_RTMP_CLIENT_PUBLISH, /* push frames to the server */
    SL_RTMP_CLIENT_PLAY,    /* pull frames from the server */
} sl_rtmp_client_mode_t;

/* Defaults for the zero values of sl_rtmp_client_cfg_t. */
#define SL_RTMP_CLIENT_CHUNK_SIZE 4096
#define SL_RTMP_CLIENT_MAX_MESSAGE (8u << 20)
/* The window we ask the server to acknowledge, and the play buffer we announce:
 * the values of librtmp and ffmpeg. */
#define SL_RTMP_CLIENT_WINDOW 2500000
#define SL_RTMP_CLIENT_BUFFER_MS 3000

typedef struct sl_rtmp_client_cfg {
    sl_rtmp_client_mode_t mode;
    /* Where to connect and what to publish or play; copied. url->name must not be
     * empty: fill it in before (a push to "rtmp://host/app" takes the local name). */
    const sl_rtmp_url_t *url;
    /* Ours, 128..65536 (the range SRS accepts); 0 = SL_RTMP_CLIENT_CHUNK_SIZE. */
    uint32_t chunk_size;
    uint32_t max_message_bytes; /* largest message accepted; 0 = SL_RTMP_CLIENT_MAX_MESSAGE */
} sl_rtmp_client_cfg_t;

/* Callbacks, all optional (NULL is fine), called from inside sl_rtmp_client_feed
 * only. They must not free the client; they may call sl_rtmp_client_send_frame with
 * the `out` they are being fed with. */
typedef struct sl_rtmp_client_ops {
    /* Publish: NetStream.Publish.Start, frames may be sent from now on.
     * Play: NetStream.Play.Start (frames may already have come). Called once. */
    void (*on_ready)(void *arg);
    /* Play: every audio, video and metadata frame, as the server's RTMP ingest makes
     * them (90 kHz timestamps, codec configs flagged, metadata without
     * @setDataFrame). The frame is borrowed for the call: sl_frame_ref it to keep it.
     * A non-zero return stops the client and is returned by sl_rtmp_client_feed. */
    int (*on_frame)(void *arg, sl_frame_t *f);
    /* The server refused: _error to connect, createStream, publish or play, or an
     * onStatus of level "error", with its code (e.g. NetStream.Publish.BadName,
     * NetStream.Play.StreamNotFound, NetConnection.Connect.Rejected) and description,
     * both borrowed for the call and never NULL ("" when absent). Also a "close"
     * command from the server (code NetConnection.Connect.Closed). Called once; the
     * client is over. */
    void (*on_error)(void *arg, const char *code, const char *description);
    /* Play: the stream ended (onStatus NetStream.Play.UnpublishNotify,
     * NetStream.Play.Stop or NetStream.Play.Complete, or a Stream EOF user control
     * event once playing). Called once; the client is over. */
    void (*on_end)(void *arg);
} sl_rtmp_client_ops_t;

/* Private state: use the functions below. Embed it in the relay session. */
typedef struct sl_rtmp_client {
    uint8_t mode;  /* sl_rtmp_client_mode_t */
    uint8_t state; /* see rtmp_client.c */
    int err;       /* sticky: once non-zero, every call returns it */
    sl_rtmp_url_t url;
    uint32_t chunk_size; /* ours */
    const sl_rtmp_client_ops_t *ops;
    void *arg;
    sl_rtmp_handshake_t handshake;
    sl_rtmp_reader_t reader;
    sl_bytes_t *out; /* the caller's output during a feed */
    sl_bytes_t scratch; /* message bodies being built, reused */

    double txn;           /* last transaction id used */
    double txn_pending;   /* connect, createStream, publish or play awaiting its answer */
    uint32_t stream_id;   /* message stream from createStream */

    uint32_t window;      /* the server's Window Acknowledgement Size, 0 before */
    uint64_t acked_bytes; /* reader bytes at our last Acknowledgement */

    /* Play: the server's timestamps unwrapped. */
    sl_rtmp_clock_t clock;
    uint64_t unsupported; /* messages dropped for a codec frames cannot carry */

    /* Publish: the timestamp base, in ms of the frames' clock. */
    bool base_set;
    int64_t base_ms;
} sl_rtmp_client_t;

/* Prepares a client and appends C0C1 to out (the caller sends it after connecting).
 * cfg and cfg->url are only read. Returns SL_OK, SL_ERR_PROTO for an empty app or
 * name in the URL or a chunk size out of range, SL_ERR_NOMEM (out unchanged). Call
 * sl_rtmp_client_free afterwards whatever the result. */
int sl_rtmp_client_init(sl_rtmp_client_t *c, const sl_rtmp_client_cfg_t *cfg, const sl_rtmp_client_ops_t *ops,
                        void *arg, sl_bytes_t *out) SL_MUST_CHECK;

/* Feeds bytes received from the server, split anywhere; data is only read. Replies
 * (C2, commands, Window Ack Size, Acknowledgements, ping responses) are appended to
 * out, which the caller sends. Calls ops as the exchange goes. Returns SL_OK, or a
 * final error, returned again by every later call:
 *  - after on_error: SL_ERR_NOT_FOUND (a code ending in "StreamNotFound"),
 *    SL_ERR_AUTH (ending in "Rejected" or "Unauthorized"), SL_ERR_BUSY
 *    (NetStream.Publish.BadName: nginx-rtmp and SRS say so when the stream is
 *    already published), SL_ERR_CLOSED for any other refusal, so the relay can
 *    tell "retry later" from "do not retry";
 *  - after on_end: SL_ERR_CLOSED;
 *  - on_frame's non-zero return;
 *  - SL_ERR_PROTO, SL_ERR_UNSUPPORTED (RTMPE handshake) or SL_ERR_TOO_BIG (a message
 *    over max_message_bytes) for what a server should not send, SL_ERR_NOMEM.
 * Bytes already appended to out stay valid to send in every case. */
int sl_rtmp_client_feed(sl_rtmp_client_t *c, const uint8_t *data, size_t len, sl_bytes_t *out) SL_MUST_CHECK;

/* Publish, after on_ready: appends frame f as one RTMP message to out (video and
 * audio as FLV tag bodies, codec configs as sequence headers, metadata as
 * "@setDataFrame" + the onMetaData body). f is only read. Returns SL_OK,
 * SL_ERR_AGAIN before on_ready, SL_ERR_UNSUPPORTED for a frame FLV cannot carry
 * (Opus) or a play client, SL_ERR_TOO_BIG for a body over 16 MB, SL_ERR_NOMEM (out
 * unchanged for all of these, the client still usable), or the client's final
 * error once it is over. */
int sl_rtmp_client_send_frame(sl_rtmp_client_t *c, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;

/* Audio and video messages that play dropped because frames cannot carry their
 * codec (MP3, Speex, AV1...), for the relay's log line. */
uint64_t sl_rtmp_client_unsupported(const sl_rtmp_client_t *c);

/* Releases what the client holds. Safe after a failed init and to call twice. */
void sl_rtmp_client_free(sl_rtmp_client_t *c);

#endif
