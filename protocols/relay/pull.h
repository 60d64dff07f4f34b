/* Internal to protocols/relay: a pull brings a stream of another server into the
 * hub, on demand (relay.pull rules, on-demand sources) or always (always-on
 * sources). pull.c runs it and speaks RTMP; pull_rtsp.c speaks RTSP. */
#ifndef SLUICE_RELAY_PULL_H
#define SLUICE_RELAY_PULL_H

#include "protocols/relay/link.h"
#include "protocols/relay/module.h"
#include "protocols/relay/rtmp_client.h"
#include "protocols/relay/source.h"

typedef enum pull_state {
    PULL_IDLE,       /* not running: a source nobody watches */
    PULL_CONNECTING, /* resolving, connecting, handshakes and commands */
    PULL_LIVE,       /* frames flow */
    PULL_WAITING,    /* backoff before the next attempt */
} pull_state_t;

typedef struct pull_rtsp pull_rtsp_t;

/* What a running pull holds: made when it starts, freed once its timers closed,
 * so a pull stopped and asked for again at once starts afresh. */
typedef struct pull_run {
    struct pull *pull; /* NULL once the pull let go */
    int handles;
    uv_timer_t timer;      /* the attempt's deadline, or the backoff */
    uv_timer_t wait_timer; /* the first waiting player's deadline */
    sl_relay_link_t *tcp;  /* the attempt's connection */
    sl_rtmp_client_t rtmp;
    bool rtmp_live;
    pull_rtsp_t *rtsp;
} pull_run_t;

typedef struct pull {
    sl_conn_t conn; /* registered while running: the API lists it as a publisher */
    sl_list_t link; /* in the module's list */
    struct sl_relay *relay;
    char key[SL_STREAM_KEY_MAX];
    bool is_source; /* kept while idle, until removed */
    bool always_on;
    sl_source_transport_t transport;
    bool use_tcp; /* RTSP: tcp, or auto after UDP failed */
    char *urls;   /* origins, NUL-separated */
    int url_count, url_index;
    char remote[SL_URL_HOST_MAX + 8]; /* host:port of the current origin */

    pull_state_t state;
    uint32_t retries, backoff_ms;
    int round_failures, round_not_found; /* of this pass over the origins */
    const char *why_down; /* why the last attempt ended, for the API; or NULL */
    char why_buf[160];
    sl_list_t waiters;
    uint64_t last_used_ms;  /* a player started it or an HLS request touched it */
    uint64_t idle_since_ms; /* the first tick that saw no viewer; 0 while watched */
    uint64_t down_since_ms;
    uint64_t last_frame_ms; /* of this connection, or when it started playing */
    bool framed;            /* this connection brought a frame */

    sl_stream_t *stream; /* published while running, across origin changes */
    bool woken;          /* players were told the stream is there */
    uint64_t first_audio_ms;
    /* Timestamps go on across reconnections: each connection's are shifted to
     * follow the last frame pushed. */
    bool rebase, have_last, need_key;
    int64_t offset, last_dts;

    pull_run_t *run; /* NULL when idle */
} pull_t;

/* pull.c, for pull_rtsp.c */
/* The current origin's URL. */
const char *sl__pull_url(const pull_t *p);
/* The origin accepted: frames are coming (the first one publishes the stream). */
void sl__pull_ready(pull_t *p);
/* A frame from the origin (borrowed; its timestamps are shifted in place).
 * SL_ERR_BUSY when a client published the stream here first. */
int sl__pull_frame(pull_t *p, sl_frame_t *f);
/* Formats why the origin refused into p->why_buf and makes it the reason shown. */
void sl__pull_refused(pull_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The attempt failed or the connection was lost (rc classifies: SL_ERR_NOT_FOUND
 * makes the next origin be tried; `why` static or p->why_buf). Not from inside a
 * client's feed. */
void sl__pull_failed(pull_t *p, int rc, const char *why);

/* A client published the stream here before the pull could (a frame returned
 * SL_ERR_BUSY): the pull stops and its waiting players take that stream. */
void sl__pull_superseded(pull_t *p);

/* pull_rtsp.c */
/* The TCP connection is up: send the first request. */
int sl__pull_rtsp_connected(pull_t *p) SL_MUST_CHECK;
int sl__pull_rtsp_data(pull_t *p, const uint8_t *data, size_t len) SL_MUST_CHECK;
/* Every second while running: keep-alives, receiver reports; an error fails the attempt. */
int sl__pull_rtsp_tick(pull_t *p, uint64_t now_ms) SL_MUST_CHECK;
/* The attempt is over: TEARDOWN if possible, then free what it held. */
void sl__pull_rtsp_end(pull_t *p);

#endif
