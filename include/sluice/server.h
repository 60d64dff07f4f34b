/* The server: one libuv loop, the hub, the protocol listeners, signals and the
 * per-turn flush of viewers' output. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <uv.h>

#include "sluice/config.h"
#include "sluice/hub.h"
#include "sluice/http.h"
#include "sluice/list.h"

/* Work to run once at the end of the current loop turn (after I/O callbacks): the
 * way viewers batch every frame that arrived in a turn into one write. */
typedef struct sl_deferred {
    sl_list_t link;
    void (*run)(struct sl_deferred *d);
} sl_deferred_t;

/* The protocols a client session speaks (HLS requests are not sessions). */
typedef enum sl_proto {
    SL_PROTO_RTMP = 0,
    SL_PROTO_RTSP,
    SL_PROTO_HTTP_FLV,
    SL_PROTO_WEBRTC,
    SL_PROTO_HLS, /* requests, not sessions: counted for auth failures only */
    SL_PROTO_COUNT
} sl_proto_t;
/* The protocols that have sessions: those before SL_PROTO_HLS. */
#define SL_PROTO_SESSIONS SL_PROTO_HLS
/* "rtmp", "rtsp", "http-flv", "webrtc", "hls". */
const char *sl_proto_name(sl_proto_t p);

typedef enum sl_role {
    SL_ROLE_NONE = 0, /* connected, neither publishing nor playing yet */
    SL_ROLE_PUBLISHER,
    SL_ROLE_PLAYER,
} sl_role_t;

/* Seconds a client's bitrate is measured over. */
#define SL_CONN_RATE_WINDOW 5

/* A client session, embedded in the protocol's session: what the server closes on
 * shutdown, counts for limits.max_connections, and what the API lists and kicks.
 * The session keeps id, role, key and the byte counters up to date. */
typedef struct sl_conn {
    sl_list_t link;
    /* Closes the session (shutdown, a kick from the API) with a reason for its log
     * line; it leaves the registry at once or once its handles are closed. */
    void (*close)(struct sl_conn *c, const char *reason);
    uint64_t id;
    uint8_t proto;         /* sl_proto_t */
    uint8_t role;          /* sl_role_t */
    const char *remote;    /* "ip:port", owned by the session */
    const char *key;       /* the stream published or played, owned by the session; "" */
    uint64_t connected_ms; /* Unix time */
    uint64_t bytes_in, bytes_out;
    /* Byte counters sampled by the stats tick each second, the last
     * SL_CONN_RATE_WINDOW + 1 of them: the rate is between the newest and oldest. */
    uint64_t hist_in[SL_CONN_RATE_WINDOW + 1], hist_out[SL_CONN_RATE_WINDOW + 1];
    uint32_t hist_count;
} sl_conn_t;

/* Fills a session's conn before sl_server_add_conn. */
void sl_conn_init(sl_conn_t *c, uint64_t id, sl_proto_t proto, const char *remote, const char *key,
                  void (*close)(sl_conn_t *c, const char *reason));
/* Bits per second in and out over the last SL_CONN_RATE_WINDOW whole seconds (up
 * to a second old; 0 in the first second). */
uint64_t sl_conn_bitrate_in(const sl_conn_t *c);
uint64_t sl_conn_bitrate_out(const sl_conn_t *c);

typedef struct sl_server {
    uv_loop_t *loop;
    const sl_config_t *cfg;
    sl_hub_t *hub;
    sl_http_server_t *http;
    struct sl_hls_module *hls;
    struct sl_webrtc_module *webrtc;
    struct sl_api *api;
    struct sl_relay *relay;
    sl_list_t listeners; /* sl_conn_t of listening handles, closed first on shutdown */
    sl_list_t conns;     /* sl_conn_t of live client sessions */
    size_t conn_count;
    size_t proto_conns[SL_PROTO_COUNT];
    /* Bytes of sessions already closed, by protocol (live ones are in their conn). */
    uint64_t closed_bytes_in[SL_PROTO_COUNT], closed_bytes_out[SL_PROTO_COUNT];
    uint64_t started_ms; /* Unix time */
    uint64_t auth_failures[SL_PROTO_COUNT]; /* requests refused for credentials */
    uint64_t hook_failures;                 /* hook requests that failed or timed out */
    uv_timer_t stats_timer;
    uint32_t stats_ticks;
    sl_list_t deferred;
    uv_check_t flush_check;
    /* Active while work is deferred: the loop then polls without blocking, so work
     * deferred from a timer runs at once, not at the next I/O or timer. */
    uv_idle_t flush_idle;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer;
    bool stopping;
} sl_server_t;

/* Sets up the hub and the listeners of every enabled protocol on `loop`. cfg is
 * borrowed and must outlive the server. SL_ERR_IO when a listener cannot bind. */
int sl_server_init(sl_server_t *srv, uv_loop_t *loop, const sl_config_t *cfg) SL_MUST_CHECK;
/* Closes listeners, then every session; returns at once, the loop ends when all
 * handles are closed. */
void sl_server_stop(sl_server_t *srv);
/* Frees what init allocated, after the loop has ended. */
void sl_server_free(sl_server_t *srv);

/* Queues d to run at the end of this loop turn; a no-op when already queued. */
void sl_server_defer(sl_server_t *srv, sl_deferred_t *d);
/* Removes d from the queue if it is there (before freeing its owner). */
void sl_server_cancel(sl_deferred_t *d);

/* Session registry for shutdown, the connection limit and the API. add returns
 * false when the session's protocol now has more than limits.max_connections
 * sessions: the caller then closes it. remove is idempotent. */
bool sl_server_add_conn(sl_server_t *srv, sl_conn_t *c);
void sl_server_remove_conn(sl_server_t *srv, sl_conn_t *c);
/* The live session with this id, or NULL. */
sl_conn_t *sl_server_find_conn(sl_server_t *srv, uint64_t id);
/* Unix time in milliseconds. */
uint64_t sl_unix_ms(void);
void sl_server_add_listener(sl_server_t *srv, sl_conn_t *c);
void sl_server_remove_listener(sl_server_t *srv, sl_conn_t *c);

/* Binds a TCP listener to addr ("host:port", v4 or v6) with backlog 511. Logs and
 * returns SL_ERR_IO on failure. */
int sl_tcp_listen(uv_tcp_t *tcp, const sl_listen_addr_t *addr, uv_connection_cb cb) SL_MUST_CHECK;
/* Listens on every address of `list` for protocol `name` (for logs); each listening
 * handle's data is srv, so on_connection finds the server, and the server closes the
 * listeners on shutdown. */
int sl_server_listen(sl_server_t *srv, const sl_listen_list_t *list, const char *name,
                     uv_connection_cb on_connection) SL_MUST_CHECK;
/* "ip:port" of the peer of a connected TCP handle. */
void sl_tcp_peer_name(const uv_tcp_t *tcp, char *out, size_t len);

#endif
