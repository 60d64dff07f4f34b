/* sluice-bench: the load generator of the benchmarks (tests/bench/compare.py).
 * One process, one libuv loop, loopback targets only, bounded in count and time.
 *
 *   sluice-bench publish URL --file SRC.flv --seconds S [--json OUT]
 *   sluice-bench play URL --players N [--ramp R] --seconds S [--stall PCT] [--json OUT]
 *
 * publish: RTMP (rtmp://127.0.0.1:PORT/app/name) only. SRC.flv (H.264 + AAC, as
 * ffmpeg writes it) is sent in real time by its timestamps, looped with timestamps
 * going on, through the relay's I/O-free RTMP client (protocols/relay/rtmp_client.h).
 * Every video frame gets one more NAL in front: a stamp (below) with the moment it
 * was handed to the socket and its number, so players measure latency and losses.
 *
 * play: N players of URL, started R per second (0 or absent: all at once):
 *   rtmp://127.0.0.1:PORT/app/name              RTMP (play_rtmp.c)
 *   http://127.0.0.1:PORT/app/name.flv          HTTP-FLV (play_flv.c)
 *   rtsp://127.0.0.1:PORT/app/name              RTSP, TCP interleaved (play_rtsp.c)
 *   http://127.0.0.1:PORT/app/name/index.m3u8   HLS (play_hls.c; any playlist URL)
 * --stall PCT makes that share of the players (every k-th) stop reading once they
 * have their first keyframe and stay connected: they must not hurt the others.
 *
 * Both modes print one line per second to stderr and, at the end, one JSON object
 * to stdout (and to --json OUT), described in docs/benchmarks.md:
 *   publish: {"mode":"publish","frames":..,"video_frames":..,"bytes":..,
 *             "send_queue_max_bytes":..,"seconds":..,"error":null|"..."}
 *   play:    {"mode":"play","proto":"rtmp","players":N,"connected":..,"failed":..,
 *             "stalled":..,"first_frame_ms":{"p50":..,"p99":..,"max":..},
 *             "latency_ms":{"p50":..,"p99":..,"max":..,"samples":..},
 *             "video_frames":..,"audio_frames":..,"dropped":..,"bytes":..,
 *             "mbps":..,"seconds":..,"errors":{"message":count,...}}
 * first_frame_ms is from starting the TCP connect to the first video keyframe
 * (stalled players included); latency, frames, drops and bytes count the players
 * that did not stall. Percentiles are null without samples.
 *
 * The stamp: an H.264 SEI NAL (type 6), payload type 5 (user data unregistered),
 * BENCH_STAMP_UUID then the send time (uv_hrtime() in µs, big-endian 64 bits, one
 * clock for every process of the machine) and the frame number (big-endian 32
 * bits, from 0, video frames only). A player that sees number n after n-k-1 counts
 * k dropped frames; latency is its uv_hrtime() at the frame's arrival minus the
 * send time. Frames sent before the player started (the GOP cache a player joins
 * with) give no latency sample: their age says how long the cache is, not how
 * late the server is.
 */
#ifndef SLUICE_BENCH_H
#define SLUICE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define BENCH_STAMP_UUID "sluice-bench-ts\0" /* 16 bytes with the NUL */
#define BENCH_STAMP_PAYLOAD 28               /* UUID + time + number */
#define BENCH_MAX_PLAYERS 20000
#define BENCH_MAX_SECONDS 3600

uint64_t bench_now_us(void); /* uv_hrtime() / 1000 */

/* --- the stamp (stamp.c) ---------------------------------------------------- */

/* Appends a 4-byte-length-prefixed SEI NAL carrying the stamp to out[0..cap);
 * returns its length (at most 64), 0 when cap is too small. */
size_t bench_stamp_write(uint8_t *out, size_t cap, uint64_t send_us, uint32_t number);
/* Finds the stamp in a video access unit, AVCC (4-byte lengths) when avcc, else
 * Annex B (start codes); false when there is none. */
bool bench_stamp_find(const uint8_t *au, size_t len, bool avcc, uint64_t *send_us, uint32_t *number);

/* --- the publisher (publish.c) ---------------------------------------------- */

typedef struct bench_publish_result {
    uint64_t frames, video_frames, bytes, send_queue_max_bytes;
    double seconds;
    const char *error; /* static text; NULL when the run went to its end */
} bench_publish_result_t;

/* Publishes `file` to `url` (rtmp://127.x.x.x) for `seconds` on `loop`, one line per
 * second to stderr, and returns once every handle it opened is closed, with what
 * happened in *out. The strings are only read. */
void bench_publish_run(uv_loop_t *loop, const char *url, const char *file, unsigned seconds,
                       bench_publish_result_t *out);

/* --- what main.c offers the modules ------------------------------------------ */

/* Hands data[0..len) (only read) to the socket: what uv_try_write does not take at
 * once is copied and queued with uv_write. 0 or a libuv error (the caller fails). */
int bench_write(uv_stream_t *s, const uint8_t *data, size_t len);

/* --- players (main.c owns them; one protocol module drives each) ------------- */

typedef struct bench_player bench_player_t;

typedef struct bench_proto {
    const char *name; /* "rtmp", "flv", "rtsp", "hls" */
    /* Starts connecting to p->url on p->loop; SL-style 0 or a negative error. The
     * module keeps its state in p->proto_state. */
    int (*start)(bench_player_t *p);
    /* Stops the player: closes its handles, then calls bench_player_closed(p) once
     * they are closed (also when the player failed by itself before). */
    void (*stop)(bench_player_t *p);
} bench_proto_t;

extern const bench_proto_t bench_proto_rtmp, bench_proto_flv, bench_proto_rtsp, bench_proto_hls;

struct bench_player {
    uv_loop_t *loop;
    const char *url; /* borrowed, lives as long as the run */
    int index;
    bool stall; /* stop reading after the first keyframe and stay connected */
    void *proto_state;

    /* Kept by main.c from the calls below; modules only read them. */
    uint64_t start_us, first_key_us;
    bool connected, failed, stalled, closed;
    uint64_t bytes, video_frames, audio_frames, dropped;
    bool have_number;
    uint32_t last_number;
};

/* What a module reports, from its callbacks on the loop. */
void bench_player_connected(bench_player_t *p);             /* the play request was accepted */
void bench_player_bytes(bench_player_t *p, size_t n);       /* bytes read from the socket */
/* A whole video access unit (AVCC when avcc, Annex B otherwise), keyframe or not:
 * counts it, reads its stamp. Returns true when the module must stall now (p->stall
 * and this was the first keyframe): stop reading, keep the connection. */
bool bench_player_video(bench_player_t *p, const uint8_t *au, size_t len, bool avcc, bool key);
void bench_player_audio(bench_player_t *p);                 /* one audio frame */
/* The player failed (refused, connection lost, protocol error): counted once by
 * message; the module then stops by itself and calls bench_player_closed. */
void bench_player_failed(bench_player_t *p, const char *message);
void bench_player_closed(bench_player_t *p);

#endif
