/* Static push: every stream published here whose key matches a relay.push rule is
 * republished, whatever protocol brought it, to each target of the rule over RTMP,
 * under its own name (nginx-rtmp's "push"). A push is a hub subscriber feeding an
 * RTMP client (rtmp_client.h) on a TCP connection; when the connection fails it
 * comes back with exponential backoff for as long as the stream lives. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/relay/link.h"
#include "protocols/relay/module.h"
#include "protocols/relay/rtmp_client.h"
#include "sluice/log.h"
#include "sluice/transcode.h"

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
    sl_relay_link_t *tcp; /* the attempt's connection, NULL between attempts */
    sl_rtmp_client_t client;
    bool client_live; /* client initialised */
    sl_subscriber_t sub;
    bool subscribed;
    bool too_slow; /* the hub dropped sub: disconnect from the deferred flush */
    sl_transcode_t *transcode; /* RTMP carries AAC only: Opus is transcoded for us */
    sl_deferred_t flush;
} push_t;

static void attempt(push_t *p);
static void disconnect(push_t *p, const char *why);

/* ---- the stream's frames --------------------------------------------------------- */

static void flush(push_t *p)
{
    if (p->too_slow) {
        disconnect(p, "the target is too slow (queue limit exceeded)");
        return;
    }
    if (p->state != PUSH_LIVE || !p->subscribed) return;
    sl_bytes_t *out = sl_relay_link_out(p->tcp);
    sl_frame_t *f;
    int rc = SL_OK;
    /* Frames RTMP cannot carry (Opus) are left out: the target gets the rest, the
     * AAC made of that Opus included. */
    while (rc == SL_OK && (f = sl_subscriber_next(&p->sub)) != NULL) {
        rc = sl_rtmp_client_send_frame(&p->client, f, out);
        if (rc == SL_ERR_UNSUPPORTED) rc = SL_OK;
    }
    if (rc == SL_OK) rc = sl_relay_link_flush(p->tcp);
    if (rc != SL_OK) disconnect(p, sl_strerror(rc));
}

static void run_flush(sl_deferred_t *d) { flush(sl_container_of(d, push_t, flush)); }

static void on_ready(sl_subscriber_t *sub)
{
    push_t *p = sl_container_of(sub, push_t, sub);
    sl_server_defer(p->relay->srv, &p->flush);
}

/* The target takes less than the stream brings: start over from a keyframe. The
 * hub is walking the stream's subscribers, the transcoder's among them, which the
 * disconnect releases: it waits for the deferred flush. */
static void on_too_slow(sl_subscriber_t *sub)
{
    push_t *p = sl_container_of(sub, push_t, sub);
    p->subscribed = false;
    p->too_slow = true;
    sl_server_defer(p->relay->srv, &p->flush);
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
    if (sl_hub_subscribe(p->relay->srv->hub, p->key, &p->sub, &push_ops, uv_now(p->relay->srv->loop)) != SL_OK)
        return;
    sl_subscriber_set_batched(&p->sub);
    p->subscribed = true;
    p->transcode = sl_transcode_want(p->relay->srv, p->sub.stream, SL_CODEC_AAC);
}

static void client_error(void *arg, const char *code, const char *description)
{
    push_t *p = arg;
    SL_WARN("relay push %s -> %s: refused: %s %s", p->key, p->target, code, description);
    p->last_error = "refused by the target";
}

static const sl_rtmp_client_ops_t client_ops = {.on_ready = client_ready, .on_error = client_error};

static void on_data(void *arg, const uint8_t *data, size_t len)
{
    push_t *p = arg;
    int rc = sl_rtmp_client_feed(&p->client, data, len, sl_relay_link_out(p->tcp));
    int sent = sl_relay_link_flush(p->tcp);
    if (rc == SL_OK) rc = sent;
    if (rc != SL_OK) {
        disconnect(p, p->last_error != NULL ? p->last_error : sl_strerror(rc));
        return;
    }
    if (p->state == PUSH_LIVE) sl_server_defer(p->relay->srv, &p->flush);
}

static void on_connected(void *arg)
{
    push_t *p = arg;
    sl_rtmp_client_cfg_t cfg = {.mode = SL_RTMP_CLIENT_PUBLISH, .url = &p->url,
                                .chunk_size = p->relay->srv->cfg->rtmp.chunk_size};
    int rc = sl_rtmp_client_init(&p->client, &cfg, &client_ops, p, sl_relay_link_out(p->tcp));
    p->client_live = true;
    if (rc == SL_OK) rc = sl_relay_link_flush(p->tcp);
    if (rc != SL_OK) disconnect(p, sl_strerror(rc));
}

static void on_down(void *arg, const char *why)
{
    push_t *p = arg;
    p->tcp = NULL; /* closed by the link itself */
    disconnect(p, strcmp(why, "the server closed the connection") == 0 ? "the target closed the connection" : why);
}

static const sl_relay_link_ops_t link_ops = {.on_connected = on_connected, .on_data = on_data, .on_down = on_down};

/* ---- lifecycle ------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

static void on_timer(uv_timer_t *t)
{
    push_t *p = t->data;
    if (p->state == PUSH_WAITING) attempt(p);
    else if (p->state == PUSH_CONNECTING) disconnect(p, "no NetStream.Publish.Start in time");
}

/* Drops the connection; schedules the next attempt unless the push is stopping. */
static void drop(push_t *p)
{
    /* Before the detach: our subscriber may be what keeps the stream alive. */
    sl_transcode_release(p->transcode);
    p->transcode = NULL;
    if (p->subscribed) sl_subscriber_detach(&p->sub);
    p->subscribed = false;
    p->too_slow = false;
    sl_server_cancel(&p->flush);
    if (p->client_live) sl_rtmp_client_free(&p->client);
    p->client_live = false;
    sl_relay_link_close(p->tcp);
    p->tcp = NULL;
    p->conn.role = SL_ROLE_NONE;
    p->last_error = NULL;
}

static void disconnect(push_t *p, const char *why)
{
    drop(p);
    p->backoff_ms = sl__relay_backoff(p->relay, p->backoff_ms);
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
    p->tcp = sl_relay_link_open(p->relay->srv->loop, p->url.host, p->url.port, &p->conn, &link_ops, p);
    if (p->tcp == NULL) disconnect(p, "cannot resolve the target");
}

static void push_stop(push_t *p, const char *why)
{
    SL_INFO("relay push %s -> %s: stopped: %s (%u retries)", p->key, p->target, why, p->retries);
    drop(p);
    sl_list_remove(&p->link);
    sl_server_remove_conn(p->relay->srv, &p->conn);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
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
    sl_list_init(&p->flush.link);
    p->flush.run = run_flush;
    uv_timer_init(r->srv->loop, &p->timer);
    p->timer.data = p;
    sl_conn_init(&p->conn, sl_next_client_id(), SL_PROTO_RTMP, p->remote, p->key, close_conn);
    (void)sl_server_add_conn(r->srv, &p->conn);
    sl_list_insert_tail(&r->pushes, &p->link);
    SL_INFO("relay push %s -> %s: starting", p->key, target);
    attempt(p);
}

/* ---- rules ------------------------------------------------------------------------ */

void sl__relay_push_on_publish(struct sl_relay *r, sl_stream_t *s)
{
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

void sl__relay_push_on_unpublish(struct sl_relay *r, sl_stream_t *s)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pushes) {
        push_t *p = sl_container_of(pos, push_t, link);
        if (p->stream == s) push_stop(p, "the stream ended");
    }
}

void sl__relay_push_foreach(struct sl_relay *r, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg)
{
    static const char *const states[] = {"waiting", "connecting", "live"};
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pushes) {
        push_t *p = sl_container_of(pos, push_t, link);
        sl_relay_info_t info = {.id = p->conn.id, .kind = "push", .stream = p->key, .target = p->target,
                                .state = states[p->state], .retries = p->retries, .bytes_in = p->conn.bytes_in,
                                .bytes_out = p->conn.bytes_out, .last_error = p->why_down};
        fn(&info, arg);
    }
}

void sl__relay_push_stop_all(struct sl_relay *r)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pushes) push_stop(sl_container_of(pos, push_t, link), "server shutting down");
}
