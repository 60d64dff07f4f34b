/* Static push: every stream published here whose key matches a relay.push rule is
 * republished, whatever protocol brought it, to each target of the rule over RTMP,
 * under its own name (nginx-rtmp's "push"). A push is a hub subscriber feeding an
 * RTMP client (rtmp_client.h) on a TCP connection; when the connection fails it
 * comes back with exponential backoff for as long as the stream lives. */
#include "protocols/relay/relay.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/relay/rtmp_client.h"
#include "sluice/log.h"

#define RETRY_FIRST_MS 1000
/* A push that does not reach NetStream.Publish.Start in this time starts over. */
#define READY_TIMEOUT_MS 10000

typedef enum push_state {
    PUSH_WAITING,    /* backoff before the next attempt */
    PUSH_CONNECTING, /* resolving, connecting, RTMP handshake and commands */
    PUSH_LIVE,       /* publishing */
} push_state_t;

typedef struct push {
    sl_conn_t conn; /* in the server's registry: the API lists pushes as clients */
    sl_list_t link; /* in the module's list */
    struct sl_relay *relay;
    sl_stream_t *stream;
    char key[SL_STREAM_KEY_MAX];
    char target[SL_CONFIG_RULE_MAX];
    char remote[128];
    sl_rtmp_url_t url;
    push_state_t state;
    uint32_t retries;
    uint32_t backoff_ms;
    const char *last_error; /* set by the client's refusal, for the log */
    const char *why_down;   /* why the last attempt ended, for the API */

    uv_timer_t timer;
    uv_tcp_t tcp;
    bool tcp_open;
    uv_getaddrinfo_t resolve;
    bool resolving;
    uv_connect_t connect;
    uv_write_t write_req;
    bool writing;
    int open_handles;
    bool stopping;

    sl_rtmp_client_t client;
    bool client_live; /* client initialised */
    sl_subscriber_t sub;
    bool subscribed;
    sl_deferred_t flush;
    sl_bytes_t out, inflight; /* bytes to write; bytes being written */
} push_t;

struct sl_relay {
    sl_server_t *srv;
    sl_hub_observer_t observer;
    sl_list_t pushes;
};

static void attempt(push_t *p);
static void disconnect(push_t *p, const char *why);

/* ---- writing ------------------------------------------------------------------- */

static void write_out(push_t *p);

static void on_written(uv_write_t *req, int status)
{
    push_t *p = req->data;
    p->writing = false;
    p->inflight.len = 0;
    if (p->stopping || !p->tcp_open) return;
    if (status < 0) {
        disconnect(p, uv_strerror(status));
        return;
    }
    write_out(p);
}

/* One write at a time: what gathers meanwhile goes in the next. */
static void write_out(push_t *p)
{
    if (p->writing || p->out.len == 0 || !p->tcp_open) return;
    sl_bytes_t t = p->inflight;
    p->inflight = p->out;
    p->out = t;
    p->out.len = 0;
    uv_buf_t b = uv_buf_init((char *)p->inflight.data, (unsigned)p->inflight.len);
    p->write_req.data = p;
    int rc = uv_write(&p->write_req, (uv_stream_t *)&p->tcp, &b, 1, on_written);
    if (rc != 0) {
        disconnect(p, uv_strerror(rc));
        return;
    }
    p->writing = true;
    p->conn.bytes_out += b.len;
}

/* ---- the stream's frames --------------------------------------------------------- */

static void flush(push_t *p)
{
    if (p->state != PUSH_LIVE || !p->subscribed) return;
    sl_frame_t *f;
    int rc = SL_OK;
    /* Frames RTMP cannot carry (Opus) are left out: the target gets the rest. */
    while (rc == SL_OK && (f = sl_subscriber_next(&p->sub)) != NULL) {
        rc = sl_rtmp_client_send_frame(&p->client, f, &p->out);
        if (rc == SL_ERR_UNSUPPORTED) rc = SL_OK;
    }
    if (rc != SL_OK) {
        disconnect(p, sl_strerror(rc));
        return;
    }
    write_out(p);
}

static void run_flush(sl_deferred_t *d) { flush(sl_container_of(d, push_t, flush)); }

static void on_ready(sl_subscriber_t *sub)
{
    push_t *p = sl_container_of(sub, push_t, sub);
    sl_server_defer(p->relay->srv, &p->flush);
}

/* The target takes less than the stream brings: start over from a keyframe. */
static void on_too_slow(sl_subscriber_t *sub)
{
    push_t *p = sl_container_of(sub, push_t, sub);
    p->subscribed = false;
    disconnect(p, "the target is too slow (queue limit exceeded)");
}

static const sl_subscriber_ops_t push_ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

/* ---- the RTMP client ------------------------------------------------------------- */

static void client_ready(void *arg)
{
    push_t *p = arg;
    p->state = PUSH_LIVE;
    p->backoff_ms = 0;
    uv_timer_stop(&p->timer);
    p->conn.role = SL_ROLE_PLAYER;
    SL_INFO("relay push %s -> %s: publishing", p->key, p->target);
    /* From the GOP cache, so the target's viewers start with a keyframe. */
    if (sl_hub_subscribe(p->relay->srv->hub, p->key, &p->sub, &push_ops, uv_now(p->relay->srv->loop)) == SL_OK)
        p->subscribed = true;
}

static void client_error(void *arg, const char *code, const char *description)
{
    push_t *p = arg;
    SL_WARN("relay push %s -> %s: refused: %s %s", p->key, p->target, code, description);
    p->last_error = "refused by the target";
}

static const sl_rtmp_client_ops_t client_ops = {.on_ready = client_ready, .on_error = client_error};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char mem[65536];
    *buf = uv_buf_init(mem, sizeof(mem));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    push_t *p = s->data;
    if (n == 0 || p->stopping) return;
    if (n < 0) {
        disconnect(p, n == UV_EOF ? "the target closed the connection" : uv_strerror((int)n));
        return;
    }
    p->conn.bytes_in += (uint64_t)n;
    int rc = sl_rtmp_client_feed(&p->client, (const uint8_t *)buf->base, (size_t)n, &p->out);
    write_out(p);
    if (rc != SL_OK) {
        disconnect(p, p->last_error != NULL ? p->last_error : sl_strerror(rc));
        return;
    }
    if (p->state == PUSH_LIVE) sl_server_defer(p->relay->srv, &p->flush);
}

static void on_connected(uv_connect_t *req, int status)
{
    push_t *p = req->data;
    if (p->stopping || !p->tcp_open) return;
    if (status < 0) {
        disconnect(p, uv_strerror(status));
        return;
    }
    sl_rtmp_client_cfg_t cfg = {.mode = SL_RTMP_CLIENT_PUBLISH, .url = &p->url,
                                .chunk_size = p->relay->srv->cfg->rtmp.chunk_size};
    int rc = sl_rtmp_client_init(&p->client, &cfg, &client_ops, p, &p->out);
    if (rc == SL_OK) {
        p->client_live = true;
        rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) == 0 ? SL_OK : SL_ERR_IO;
    }
    if (rc != SL_OK) {
        disconnect(p, sl_strerror(rc));
        return;
    }
    (void)uv_tcp_nodelay(&p->tcp, 1);
    write_out(p);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    push_t *p = req->data;
    p->resolving = false;
    if (p->stopping) {
        uv_freeaddrinfo(res);
        if (--p->open_handles == 0) free(p);
        return;
    }
    p->open_handles--;
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        disconnect(p, status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    uv_tcp_init(p->relay->srv->loop, &p->tcp);
    p->tcp.data = p;
    p->tcp_open = true;
    p->open_handles++;
    p->connect.data = p;
    int rc = uv_tcp_connect(&p->connect, &p->tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc != 0) disconnect(p, uv_strerror(rc));
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    push_t *p = h->data;
    if (h == (uv_handle_t *)&p->tcp) p->inflight.len = 0;
    if (--p->open_handles > 0) return;
    sl_bytes_free(&p->out);
    sl_bytes_free(&p->inflight);
    free(p);
}

static void on_timer(uv_timer_t *t)
{
    push_t *p = t->data;
    if (p->state == PUSH_WAITING) attempt(p);
    else if (p->state == PUSH_CONNECTING) disconnect(p, "no NetStream.Publish.Start in time");
}

/* Drops the connection and schedules the next attempt. */
static void disconnect(push_t *p, const char *why)
{
    if (p->subscribed) sl_subscriber_detach(&p->sub);
    p->subscribed = false;
    sl_server_cancel(&p->flush);
    if (p->client_live) sl_rtmp_client_free(&p->client);
    p->client_live = false;
    if (p->tcp_open) {
        p->tcp_open = false;
        uv_close((uv_handle_t *)&p->tcp, on_handle_closed);
    }
    p->out.len = 0;
    p->conn.role = SL_ROLE_NONE;
    p->last_error = NULL;
    if (p->stopping) return;
    uint32_t max = p->relay->srv->cfg->relay.retry_max_ms;
    p->backoff_ms = p->backoff_ms == 0 ? RETRY_FIRST_MS : SL_MIN(p->backoff_ms * 2, max);
    p->retries++;
    p->state = PUSH_WAITING;
    p->why_down = why;
    SL_WARN("relay push %s -> %s: %s; retry %u in %u ms", p->key, p->target, why, p->retries, p->backoff_ms);
    uv_timer_start(&p->timer, on_timer, p->backoff_ms, 0);
}

static void attempt(push_t *p)
{
    p->state = PUSH_CONNECTING;
    uv_timer_start(&p->timer, on_timer, READY_TIMEOUT_MS, 0);
    char port[8];
    snprintf(port, sizeof(port), "%u", p->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    p->resolve.data = p;
    if (uv_getaddrinfo(p->relay->srv->loop, &p->resolve, on_resolved, p->url.host, port, &hints) != 0) {
        disconnect(p, "cannot resolve the target");
        return;
    }
    p->resolving = true;
    p->open_handles++; /* the resolve request holds p until it returns */
}

static void push_stop(push_t *p, const char *why)
{
    SL_INFO("relay push %s -> %s: stopped: %s (%u retries)", p->key, p->target, why, p->retries);
    p->stopping = true;
    disconnect(p, why);
    sl_list_remove(&p->link);
    sl_server_remove_conn(p->relay->srv, &p->conn);
    uv_close((uv_handle_t *)&p->timer, on_handle_closed);
    /* A resolve in flight cannot be cancelled once running: on_resolved frees. */
    if (p->resolving) uv_cancel((uv_req_t *)&p->resolve);
}

static void close_conn(sl_conn_t *c, const char *reason) { push_stop(sl_container_of(c, push_t, conn), reason); }

static void push_start(struct sl_relay *r, sl_stream_t *s, const char *target)
{
    push_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return;
    p->relay = r;
    p->stream = s;
    snprintf(p->key, sizeof(p->key), "%s", sl_stream_key(s));
    snprintf(p->target, sizeof(p->target), "%s", target);
    if (sl_rtmp_url_parse(target, &p->url) != SL_OK) {
        free(p);
        return;
    }
    /* "rtmp://host/app" pushes under the stream's own name. */
    if (p->url.name[0] == '\0') {
        const char *slash = strchr(p->key, '/');
        snprintf(p->url.name, sizeof(p->url.name), "%s", slash != NULL ? slash + 1 : p->key);
    }
    snprintf(p->remote, sizeof(p->remote), "%s:%u", p->url.host, p->url.port);
    sl_bytes_init(&p->out);
    sl_bytes_init(&p->inflight);
    sl_list_init(&p->flush.link);
    p->flush.run = run_flush;
    uv_timer_init(r->srv->loop, &p->timer);
    p->timer.data = p;
    p->open_handles = 1;
    sl_conn_init(&p->conn, sl_next_client_id(), SL_PROTO_RTMP, p->remote, p->key, close_conn);
    (void)sl_server_add_conn(r->srv, &p->conn);
    sl_list_insert_tail(&r->pushes, &p->link);
    SL_INFO("relay push %s -> %s: starting", p->key, target);
    attempt(p);
}

/* ---- rules ------------------------------------------------------------------------ */

static void on_publish(sl_hub_observer_t *o, sl_stream_t *s)
{
    struct sl_relay *r = sl_container_of(o, struct sl_relay, observer);
    const sl_rule_list_t *rules = &r->srv->cfg->relay.push;
    for (int i = 0; i < rules->count; i++) {
        char copy[SL_CONFIG_RULE_MAX], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", rules->rule[i]);
        const char *pattern = strtok_r(copy, " ", &save);
        if (pattern == NULL || fnmatch(pattern, sl_stream_key(s), 0) != 0) continue;
        for (const char *url = strtok_r(NULL, " ", &save); url != NULL; url = strtok_r(NULL, " ", &save))
            push_start(r, s, url);
    }
}

static void on_unpublish(sl_hub_observer_t *o, sl_stream_t *s)
{
    struct sl_relay *r = sl_container_of(o, struct sl_relay, observer);
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pushes) {
        push_t *p = sl_container_of(pos, push_t, link);
        if (p->stream == s) push_stop(p, "the stream ended");
    }
}

int sl_relay_start(sl_server_t *srv)
{
    if (srv->cfg->relay.push.count == 0) return SL_OK;
    struct sl_relay *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    r->srv = srv;
    sl_list_init(&r->pushes);
    r->observer.on_publish = on_publish;
    r->observer.on_unpublish = on_unpublish;
    sl_hub_observe(srv->hub, &r->observer);
    srv->relay = r;
    return SL_OK;
}

void sl_relay_foreach(sl_server_t *srv, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg)
{
    static const char *const states[] = {"waiting", "connecting", "live"};
    if (srv->relay == NULL) return;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &srv->relay->pushes) {
        push_t *p = sl_container_of(pos, push_t, link);
        sl_relay_info_t info = {.id = p->conn.id, .kind = "push", .stream = p->key, .target = p->target,
                                .state = states[p->state], .retries = p->retries, .bytes_out = p->conn.bytes_out,
                                .last_error = p->why_down};
        fn(&info, arg);
    }
}

void sl_relay_stop(sl_server_t *srv)
{
    struct sl_relay *r = srv->relay;
    if (r == NULL) return;
    srv->relay = NULL;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pushes) push_stop(sl_container_of(pos, push_t, link), "server shutting down");
    sl_hub_unobserve(&r->observer);
    free(r);
}
