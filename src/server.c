#include "sluice/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "protocols/hls/hls.h"
#include "protocols/relay/relay.h"
#include "protocols/httpflv/httpflv.h"
#include "protocols/rtmp/rtmp.h"
#include "protocols/rtsp/rtsp.h"
#include "protocols/webrtc/webrtc.h"
#include "sluice/api.h"
#include "sluice/log.h"

static void run_deferred(uv_check_t *check)
{
    sl_server_t *srv = sl_container_of(check, sl_server_t, flush_check);
    /* Work queued while running (a flush that makes another viewer ready) runs in
     * this same pass: the queue is drained until empty. */
    while (!sl_list_empty(&srv->deferred)) {
        sl_list_t *node = srv->deferred.next;
        sl_list_remove(node);
        sl_deferred_t *d = sl_container_of(node, sl_deferred_t, link);
        d->run(d);
    }
    uv_idle_stop(&srv->flush_idle);
}

static void keep_polling(uv_idle_t *idle) {}

void sl_server_defer(sl_server_t *srv, sl_deferred_t *d)
{
    if (sl_list_linked(&d->link)) return;
    sl_list_insert_tail(&srv->deferred, &d->link);
    uv_idle_start(&srv->flush_idle, keep_polling);
}

void sl_server_cancel(sl_deferred_t *d) { sl_list_remove(&d->link); }

const char *sl_proto_name(sl_proto_t p)
{
    static const char *const names[SL_PROTO_COUNT] = {"rtmp", "rtsp", "http-flv", "webrtc", "hls"};
    return p < SL_PROTO_COUNT ? names[p] : "?";
}

uint64_t sl_unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

void sl_conn_init(sl_conn_t *c, uint64_t id, sl_proto_t proto, const char *remote, const char *key,
                  void (*close)(sl_conn_t *c, const char *reason))
{
    memset(c, 0, sizeof(*c));
    sl_list_init(&c->link);
    c->id = id;
    c->proto = (uint8_t)proto;
    c->remote = remote;
    c->key = key;
    c->close = close;
    c->connected_ms = sl_unix_ms();
}

#define HIST_SLOTS (SL_CONN_RATE_WINDOW + 1)

/* Bits per second between the newest sample of the stats tick and the oldest
 * kept, whole seconds apart: over the whole window once it is full. */
static uint64_t bitrate(const uint64_t *hist, uint32_t count)
{
    if (count < 2) return 0;
    uint32_t seconds = SL_MIN(count - 1, SL_CONN_RATE_WINDOW);
    uint64_t newest = hist[(count - 1) % HIST_SLOTS], oldest = hist[(count - 1 - seconds) % HIST_SLOTS];
    return (newest - oldest) * 8 / seconds;
}

uint64_t sl_conn_bitrate_in(const sl_conn_t *c) { return bitrate(c->hist_in, c->hist_count); }
uint64_t sl_conn_bitrate_out(const sl_conn_t *c) { return bitrate(c->hist_out, c->hist_count); }

static void on_stats_tick(uv_timer_t *t)
{
    sl_server_t *srv = t->data;
    sl_list_t *pos;
    for (pos = srv->conns.next; pos != &srv->conns; pos = pos->next) {
        sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        c->hist_in[c->hist_count % HIST_SLOTS] = c->bytes_in;
        c->hist_out[c->hist_count % HIST_SLOTS] = c->bytes_out;
        c->hist_count++;
    }
    srv->stats_ticks++;
}

bool sl_server_add_conn(sl_server_t *srv, sl_conn_t *c)
{
    sl_list_insert_tail(&srv->conns, &c->link);
    srv->conn_count++;
    return ++srv->proto_conns[c->proto] <= srv->cfg->limits.max_connections;
}

void sl_server_remove_conn(sl_server_t *srv, sl_conn_t *c)
{
    if (!sl_list_linked(&c->link)) return;
    sl_list_remove(&c->link);
    srv->conn_count--;
    srv->proto_conns[c->proto]--;
    srv->closed_bytes_in[c->proto] += c->bytes_in;
    srv->closed_bytes_out[c->proto] += c->bytes_out;
}

sl_conn_t *sl_server_find_conn(sl_server_t *srv, uint64_t id)
{
    sl_list_t *pos;
    for (pos = srv->conns.next; pos != &srv->conns; pos = pos->next) {
        sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        if (c->id == id) return c;
    }
    return NULL;
}

void sl_server_add_listener(sl_server_t *srv, sl_conn_t *c) { sl_list_insert_tail(&srv->listeners, &c->link); }
void sl_server_remove_listener(sl_server_t *srv, sl_conn_t *c) { sl_list_remove(&c->link); }

int sl_tcp_listen(uv_tcp_t *tcp, const sl_listen_addr_t *addr, uv_connection_cb cb)
{
    struct sockaddr_storage ss;
    int rc = strchr(addr->host, ':') != NULL
                 ? uv_ip6_addr(addr->host, addr->port, (struct sockaddr_in6 *)&ss)
                 : uv_ip4_addr(addr->host, addr->port, (struct sockaddr_in *)&ss);
    if (rc == 0) rc = uv_tcp_bind(tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)tcp, 511, cb);
    if (rc != 0) {
        SL_ERROR("cannot listen on %s:%u: %s", addr->host, addr->port, uv_strerror(rc));
        return SL_ERR_IO;
    }
    return SL_OK;
}

void sl_tcp_peer_name(const uv_tcp_t *tcp, char *out, size_t len)
{
    struct sockaddr_storage ss;
    int n = sizeof(ss);
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &n) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip + 1, sizeof(ip) - 2);
            ip[0] = '[';
            strcat(ip, "]");
            port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        }
    }
    snprintf(out, len, "%s:%d", ip, port);
}

/* One listening socket of a protocol module. */
typedef struct listener {
    sl_conn_t conn;
    sl_server_t *srv;
    uv_tcp_t tcp;
} listener_t;

static void on_listener_closed(uv_handle_t *h) { free(sl_container_of(h, listener_t, tcp)); }

static void close_listener(sl_conn_t *c, const char *reason)
{
    listener_t *l = sl_container_of(c, listener_t, conn);
    sl_server_remove_listener(l->srv, c);
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

int sl_server_listen(sl_server_t *srv, const sl_listen_list_t *list, const char *name,
                     uv_connection_cb on_connection)
{
    for (int i = 0; i < list->count; i++) {
        listener_t *l = calloc(1, sizeof(*l));
        if (l == NULL) return SL_ERR_NOMEM;
        l->srv = srv;
        l->conn.close = close_listener;
        uv_tcp_init(srv->loop, &l->tcp);
        l->tcp.data = srv;
        sl_server_add_listener(srv, &l->conn);
        if (sl_tcp_listen(&l->tcp, &list->addr[i], on_connection) != SL_OK) return SL_ERR_IO;
        SL_INFO("%s: listening on %s:%u", name, list->addr[i].host, list->addr[i].port);
    }
    return SL_OK;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    sl_server_t *srv = sig->data;
    SL_INFO("signal %d: shutting down", signum);
    sl_server_stop(srv);
}

static int start_http(sl_server_t *srv)
{
    const sl_config_t *cfg = srv->cfg;
    if (!cfg->http.enabled) return SL_OK;
    srv->http = sl_http_server_new(srv->loop, cfg);
    if (srv->http == NULL) return SL_ERR_NOMEM;
    for (int i = 0; i < cfg->http.listen.count; i++) {
        int rc = sl_http_server_listen(srv->http, &cfg->http.listen.addr[i]);
        if (rc != SL_OK) return rc;
    }
    return sl_httpflv_start(srv);
}

int sl_server_init(sl_server_t *srv, uv_loop_t *loop, const sl_config_t *cfg)
{
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = cfg;
    sl_list_init(&srv->listeners);
    sl_list_init(&srv->conns);
    sl_list_init(&srv->deferred);
    srv->hub = sl_hub_new(cfg);
    if (srv->hub == NULL) return SL_ERR_NOMEM;
    srv->started_ms = sl_unix_ms();
    uv_timer_init(loop, &srv->stats_timer);
    srv->stats_timer.data = srv;
    uv_timer_start(&srv->stats_timer, on_stats_tick, 1000, 1000);

    uv_check_init(loop, &srv->flush_check);
    uv_check_start(&srv->flush_check, run_deferred);
    uv_idle_init(loop, &srv->flush_idle);
    uv_signal_init(loop, &srv->sigint);
    uv_signal_init(loop, &srv->sigterm);
    srv->sigint.data = srv->sigterm.data = srv;
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);

    int rc = start_http(srv);
    if (rc == SL_OK) rc = sl_hls_start(srv);
    if (rc == SL_OK && cfg->rtmp.enabled) rc = sl_rtmp_start(srv);
    if (rc == SL_OK && cfg->rtsp.enabled) rc = sl_rtsp_start(srv);
    if (rc == SL_OK) rc = sl_webrtc_start(srv);
    if (rc == SL_OK) rc = sl_api_start(srv);
    if (rc == SL_OK) rc = sl_relay_start(srv);
    if (rc != SL_OK) sl_server_stop(srv);
    return rc;
}

void sl_server_stop(sl_server_t *srv)
{
    if (srv->stopping) return;
    srv->stopping = true;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &srv->listeners) {
        sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        c->close(c, "server shutting down");
    }
    sl_list_foreach_safe(pos, tmp, &srv->conns) {
        sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        c->close(c, "server shutting down");
    }
    /* Sessions are closed, their streams unpublished: HLS finishes segments and
     * recordings, and answers the requests still waiting, before HTTP closes. */
    sl_relay_stop(srv);
    sl_hls_stop(srv);
    sl_api_stop(srv);
    if (srv->http != NULL) {
        sl_http_server_close(srv->http, NULL, NULL);
        srv->http = NULL;
    }
    uv_close((uv_handle_t *)&srv->stats_timer, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    /* Sessions cancel their deferred work when they close, so nothing is left. */
    uv_close((uv_handle_t *)&srv->flush_check, NULL);
    uv_close((uv_handle_t *)&srv->flush_idle, NULL);
}

void sl_server_free(sl_server_t *srv)
{
    sl_hub_free(srv->hub);
    srv->hub = NULL;
}
