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

/* A connection of a protocol module that the server must be able to close on
 * shutdown. */
typedef struct sl_conn {
    sl_list_t link;
    void (*close)(struct sl_conn *c);
} sl_conn_t;

typedef struct sl_server {
    uv_loop_t *loop;
    const sl_config_t *cfg;
    sl_hub_t *hub;
    sl_http_server_t *http;
    struct sl_hls_module *hls;
    struct sl_webrtc_module *webrtc;
    sl_list_t listeners; /* sl_conn_t of listening handles, closed first on shutdown */
    sl_list_t conns;     /* sl_conn_t of live sessions (non-HTTP) */
    size_t conn_count;
    sl_list_t deferred;
    uv_check_t flush_check;
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

/* Session registry for shutdown and the connection limit. */
void sl_server_add_conn(sl_server_t *srv, sl_conn_t *c);
void sl_server_remove_conn(sl_server_t *srv, sl_conn_t *c);
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
