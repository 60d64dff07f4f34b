/* Pulls: a stream of another server brought into the hub while someone watches it.
 *
 * A player asking for a stream this server does not have (sl_relay_wait) starts the
 * pull of the relay.pull rule or source that covers it and waits until the stream
 * is in the hub with a keyframe. The pull tries its origins in order: one that has
 * not got the stream (NetStream.Play.StreamNotFound, RTSP 404) or cannot be reached
 * passes the turn to the next at once; after a whole pass without success it waits,
 * 1 s doubling to relay.retry_max_ms. When every origin says it has no such stream
 * the waiting players are told at once.
 *
 * Once live, the pull publishes the stream and keeps it published across the loss
 * of its origin: players stay connected while the next origin is tried, and
 * continue at its first keyframe with timestamps that go on from the last frame.
 * The pull ends relay.idle_timeout_ms after its last viewer left (HLS players count
 * by their requests, sl_relay_touch), or when no origin has had the stream for
 * relay.pull_timeout_ms. Always-on sources run whether watched or not.
 */
#include "protocols/relay/pull.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/log.h"

/* An attempt that is not playing within this time starts over. */
#define READY_TIMEOUT_MS 10000
/* After a change of origin, frames resume this long after the last one. */
#define REBASE_GAP_MS 100
/* Playing, no frame this long: the origin is gone, or it accepted a stream it
 * does not have (nginx-rtmp answers Play.Start to any name). */
#define SILENCE_MS 10000
#define FIRST_FRAME_MS 5000
/* An audio-only stream wakes its players once audio has flowed this long. */
#define AUDIO_ONLY_WAKE_MS 1000

static const char *const state_names[] = {"idle", "connecting", "live", "waiting"};

static void attempt(pull_t *p);
static void stop_run(pull_t *p, int status, const char *why);

static uint64_t now_ms(const pull_t *p) { return uv_now(p->relay->srv->loop); }

const char *sl__pull_url(const pull_t *p)
{
    const char *u = p->urls;
    for (int i = 0; i < p->url_index; i++) u += strlen(u) + 1;
    return u;
}

static bool is_rtsp(const char *url) { return strncasecmp(url, "rtsp://", 7) == 0; }

/* ---- waiting players -------------------------------------------------------------- */

static void arm_wait_timer(pull_t *p);

/* Tells every waiting player, oldest first; each may start waiting again. */
static void wake(pull_t *p, int status)
{
    sl_list_t done;
    sl_list_init(&done);
    /* Moved aside first: a player told may wait again, on a new pull. */
    while (p->waiters.next != &p->waiters) {
        sl_list_t *n = p->waiters.next;
        sl_list_remove(n);
        sl_list_insert_tail(&done, n);
    }
    while (done.next != &done) {
        sl_relay_wait_t *w = sl_container_of(done.next, sl_relay_wait_t, link);
        sl_list_remove(&w->link);
        w->done(w, status);
    }
}

static void on_wait_timer(uv_timer_t *t)
{
    pull_run_t *run = t->data;
    pull_t *p = run->pull;
    if (p == NULL) return;
    uint64_t now = now_ms(p);
    while (p->waiters.next != &p->waiters) {
        sl_relay_wait_t *w = sl_container_of(p->waiters.next, sl_relay_wait_t, link);
        if (w->deadline_ms > now) break;
        sl_list_remove(&w->link);
        SL_INFO("relay pull %s: a player gave up waiting after %u ms", p->key, p->relay->srv->cfg->relay.pull_timeout_ms);
        w->done(w, SL_ERR_TIMEOUT);
        if (run->pull == NULL) return;
    }
    arm_wait_timer(p);
}

/* Every player waits as long, so the first in the list is the first to expire. */
static void arm_wait_timer(pull_t *p)
{
    if (p->run == NULL || p->waiters.next == &p->waiters) return;
    sl_relay_wait_t *w = sl_container_of(p->waiters.next, sl_relay_wait_t, link);
    uint64_t now = now_ms(p);
    uv_timer_start(&p->run->wait_timer, on_wait_timer, w->deadline_ms > now ? w->deadline_ms - now : 0, 0);
}

/* ---- frames ---------------------------------------------------------------------- */

void sl__pull_ready(pull_t *p)
{
    p->state = PULL_LIVE;
    p->down_since_ms = 0;
    p->last_frame_ms = now_ms(p);
    p->framed = false;
    p->backoff_ms = 0;
    p->round_failures = p->round_not_found = 0;
    p->rebase = p->need_key = true;
    p->conn.role = SL_ROLE_PUBLISHER;
    uv_timer_stop(&p->run->timer);
    char shown[SL_CONFIG_SOURCE_MAX];
    sl_source_url_redact(sl__pull_url(p), shown, sizeof(shown));
    SL_INFO("relay pull %s <- %s: playing", p->key, shown);
}

/* Players waiting are told once the stream can start them on a picture. */
static void maybe_wake(pull_t *p, const sl_frame_t *f)
{
    if (p->woken) return;
    bool ready = f->media == SL_MEDIA_VIDEO && (f->flags & SL_FRAME_KEY);
    if (f->media == SL_MEDIA_AUDIO && sl_stream_video_config(p->stream) == NULL) {
        uint64_t now = now_ms(p);
        if (p->first_audio_ms == 0) p->first_audio_ms = now;
        ready = now - p->first_audio_ms >= AUDIO_ONLY_WAKE_MS;
    }
    if (!ready) return;
    p->woken = true;
    SL_INFO("relay pull %s: the stream is here (%s)", p->key, f->media == SL_MEDIA_VIDEO ? "keyframe" : "audio");
    wake(p, SL_OK);
}

int sl__pull_frame(pull_t *p, sl_frame_t *f)
{
    if (p->state != PULL_LIVE) return SL_OK;
    /* Published with the first frame, not on Play.Start: an origin that accepts a
     * name it does not have then publishes nothing here. */
    if (p->stream == NULL && sl_hub_publish(p->relay->srv->hub, p->key, &p->stream) != SL_OK) {
        /* Published here meanwhile by a client: its players take that stream. */
        p->stream = NULL;
        return SL_ERR_BUSY;
    }
    p->framed = true;
    bool media = (f->flags & SL_FRAME_CONFIG) == 0 && f->media != SL_MEDIA_DATA;
    if (!media) {
        /* Configs and metadata of a later connection go at the current time. */
        if (p->have_last) f->dts = f->pts = p->last_dts;
    } else {
        /* After a change of origin the picture starts again at a keyframe. */
        if (f->media == SL_MEDIA_VIDEO) {
            if (p->need_key && !(f->flags & SL_FRAME_KEY)) return SL_OK;
            p->need_key = false;
        }
        if (p->rebase) {
            p->offset = p->have_last ? p->last_dts + SL_MS_TO_TS(REBASE_GAP_MS) - f->dts : 0;
            p->rebase = false;
        }
        f->dts += p->offset;
        f->pts += p->offset;
        if (!p->have_last || f->dts > p->last_dts) p->last_dts = f->dts;
        p->have_last = true;
    }
    int rc = sl_stream_push(p->stream, f, now_ms(p));
    if (rc == SL_OK && media) {
        p->last_frame_ms = now_ms(p);
        maybe_wake(p, f);
    }
    return rc;
}

void sl__pull_refused(pull_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why_buf, sizeof(p->why_buf), fmt, ap);
    va_end(ap);
    p->why_down = p->why_buf;
}

/* ---- RTMP ------------------------------------------------------------------------ */

static void rtmp_ready(void *arg) { sl__pull_ready(arg); }

static int rtmp_frame(void *arg, sl_frame_t *f) { return sl__pull_frame(arg, f); }

static void rtmp_error(void *arg, const char *code, const char *description)
{
    sl__pull_refused(arg, "%s %s", code, description);
}

static void rtmp_end(void *arg) { sl__pull_refused(arg, "the origin's stream ended"); }

static const sl_rtmp_client_ops_t rtmp_ops = {
    .on_ready = rtmp_ready, .on_frame = rtmp_frame, .on_error = rtmp_error, .on_end = rtmp_end};

static int rtmp_connected(pull_t *p)
{
    sl_rtmp_url_t url;
    if (sl_rtmp_url_parse(sl__pull_url(p), &url) != SL_OK) return SL_ERR_PROTO;
    /* "rtmp://origin/app" plays the stream under its own name. */
    if (url.name[0] == '\0') {
        const char *slash = strchr(p->key, '/');
        snprintf(url.name, sizeof(url.name), "%s", slash != NULL ? slash + 1 : p->key);
    }
    sl_rtmp_client_cfg_t cfg = {.mode = SL_RTMP_CLIENT_PLAY, .url = &url,
                                .chunk_size = p->relay->srv->cfg->rtmp.chunk_size};
    int rc = sl_rtmp_client_init(&p->run->rtmp, &cfg, &rtmp_ops, p, sl_relay_link_out(p->run->tcp));
    p->run->rtmp_live = true;
    return rc;
}

/* ---- the connection --------------------------------------------------------------- */

/* Ends the attempt's connection and client state. */
static void drop_attempt(pull_t *p)
{
    pull_run_t *run = p->run;
    if (run->rtsp != NULL) sl__pull_rtsp_end(p);
    if (run->rtmp_live) sl_rtmp_client_free(&run->rtmp);
    run->rtmp_live = false;
    sl_relay_link_close(run->tcp);
    run->tcp = NULL;
    p->conn.role = SL_ROLE_NONE;
}

static void on_connected(void *arg)
{
    pull_t *p = arg;
    int rc = is_rtsp(sl__pull_url(p)) ? sl__pull_rtsp_connected(p) : rtmp_connected(p);
    if (rc == SL_OK) rc = sl_relay_link_flush(p->run->tcp);
    if (rc != SL_OK) sl__pull_failed(p, rc, sl_strerror(rc));
}

static void on_data(void *arg, const uint8_t *data, size_t len)
{
    pull_t *p = arg;
    pull_run_t *run = p->run;
    const char *why_before = p->why_down;
    p->why_down = NULL;
    int rc = run->rtsp != NULL ? sl__pull_rtsp_data(p, data, len)
                               : sl_rtmp_client_feed(&run->rtmp, data, len, sl_relay_link_out(run->tcp));
    int sent = run->tcp != NULL ? sl_relay_link_flush(run->tcp) : SL_OK;
    if (rc == SL_OK) rc = sent;
    if (rc == SL_ERR_BUSY && p->stream == NULL) sl__pull_superseded(p);
    else if (rc != SL_OK) sl__pull_failed(p, rc, p->why_down != NULL ? p->why_down : sl_strerror(rc));
    else if (p->why_down == NULL) p->why_down = why_before;
}

static void on_down(void *arg, const char *why)
{
    pull_t *p = arg;
    p->run->tcp = NULL; /* closed by the link itself */
    sl__pull_failed(p, SL_ERR_CLOSED, strcmp(why, "the server closed the connection") == 0
                                          ? "the origin closed the connection" : why);
}

static const sl_relay_link_ops_t link_ops = {.on_connected = on_connected, .on_data = on_data, .on_down = on_down};

static void on_timer(uv_timer_t *t)
{
    pull_run_t *run = t->data;
    pull_t *p = run->pull;
    if (p == NULL) return;
    if (p->state == PULL_WAITING) attempt(p);
    else if (p->state == PULL_CONNECTING) sl__pull_failed(p, SL_ERR_TIMEOUT, "the origin did not start playing in time");
}

/* Host and port of an origin, for the registry and the log. */
static int origin_address(const char *url, char *host, size_t n, uint16_t *port)
{
    if (is_rtsp(url)) {
        sl_rtsp_url_t u;
        if (sl_rtsp_url_parse(url, &u) != SL_OK) return SL_ERR_PROTO;
        snprintf(host, n, "%s", u.host);
        *port = u.port;
        return SL_OK;
    }
    sl_rtmp_url_t u;
    if (sl_rtmp_url_parse(url, &u) != SL_OK) return SL_ERR_PROTO;
    snprintf(host, n, "%s", u.host);
    *port = u.port;
    return SL_OK;
}

static void attempt(pull_t *p)
{
    char host[SL_URL_HOST_MAX];
    uint16_t port = 0;
    const char *url = sl__pull_url(p);
    p->state = PULL_CONNECTING;
    uv_timer_start(&p->run->timer, on_timer, READY_TIMEOUT_MS, 0);
    if (origin_address(url, host, sizeof(host), &port) != SL_OK) {
        sl__pull_failed(p, SL_ERR_PROTO, "not an rtmp:// or rtsp:// URL");
        return;
    }
    snprintf(p->remote, sizeof(p->remote), "%s:%u", host, port);
    p->run->tcp = sl_relay_link_open(p->relay->srv->loop, host, port, &p->conn, &link_ops, p);
    if (p->run->tcp == NULL) sl__pull_failed(p, SL_ERR_NOMEM, "cannot resolve the origin");
}

void sl__pull_failed(pull_t *p, int rc, const char *why)
{
    drop_attempt(p);
    char shown[SL_CONFIG_SOURCE_MAX];
    sl_source_url_redact(sl__pull_url(p), shown, sizeof(shown));
    p->why_down = why;
    p->retries++;
    if (p->state == PULL_LIVE) p->down_since_ms = now_ms(p);
    p->round_failures++;
    if (rc == SL_ERR_NOT_FOUND) p->round_not_found++;
    /* RTSP over UDP refused, or brought nothing: "auto" goes on over TCP. */
    if (rc == SL_ERR_UNSUPPORTED && p->transport == SL_SOURCE_AUTO && !p->use_tcp) {
        p->use_tcp = true;
        SL_WARN("relay pull %s <- %s: %s; again over TCP", p->key, shown, why);
        p->retries--;
        p->round_failures--;
        attempt(p);
        return;
    }
    bool all_not_found = p->round_not_found == p->url_count;
    bool round_over = p->round_failures >= p->url_count;
    p->url_index = (p->url_index + 1) % p->url_count;
    if (all_not_found && p->stream == NULL && !p->always_on) {
        SL_WARN("relay pull %s <- %s: %s", p->key, shown, why);
        stop_run(p, SL_ERR_NOT_FOUND, "no origin has the stream");
        return;
    }
    if (!round_over) {
        SL_WARN("relay pull %s <- %s: %s; trying the next origin", p->key, shown, why);
        attempt(p);
        return;
    }
    p->round_failures = p->round_not_found = 0;
    p->backoff_ms = sl__relay_backoff(p->relay, p->backoff_ms);
    p->state = PULL_WAITING;
    SL_WARN("relay pull %s <- %s: %s; retry %u in %u ms", p->key, shown, why, p->retries, p->backoff_ms);
    uv_timer_start(&p->run->timer, on_timer, p->backoff_ms, 0);
}

/* ---- running and stopping ------------------------------------------------------------ */

void sl__pull_superseded(pull_t *p) { stop_run(p, SL_OK, "the stream is published here by a client"); }

static void on_run_closed(uv_handle_t *h)
{
    pull_run_t *run = h->data;
    if (--run->handles == 0) free(run);
}

static void close_conn(sl_conn_t *c, const char *reason) { stop_run(sl_container_of(c, pull_t, conn), SL_ERR_CLOSED, reason); }

static int start_run(pull_t *p)
{
    pull_run_t *run = calloc(1, sizeof(*run));
    if (run == NULL) return SL_ERR_NOMEM;
    run->pull = p;
    uv_timer_init(p->relay->srv->loop, &run->timer);
    uv_timer_init(p->relay->srv->loop, &run->wait_timer);
    run->timer.data = run->wait_timer.data = run;
    run->handles = 2;
    p->run = run;
    p->url_index = 0;
    p->round_failures = p->round_not_found = 0;
    p->backoff_ms = 0;
    p->use_tcp = p->transport == SL_SOURCE_TCP;
    p->last_used_ms = now_ms(p);
    p->idle_since_ms = 0;
    p->remote[0] = '\0';
    /* A source is one URL; the origins of a rule are all RTMP. */
    sl_conn_init(&p->conn, p->conn.id, is_rtsp(p->urls) ? SL_PROTO_RTSP : SL_PROTO_RTMP, p->remote, p->key,
                 close_conn);
    (void)sl_server_add_conn(p->relay->srv, &p->conn);
    SL_INFO("relay pull %s: starting (%d origin%s)", p->key, p->url_count, p->url_count > 1 ? "s" : "");
    attempt(p);
    return SL_OK;
}

static void free_pull(pull_t *p)
{
    sl_list_remove(&p->link);
    free(p->urls);
    free(p);
}

/* The pull stops: waiting players get `status`, the stream ends. A source stays,
 * idle; a pull of a rule goes. */
static void stop_run(pull_t *p, int status, const char *why)
{
    pull_run_t *run = p->run;
    if (run == NULL) return;
    SL_INFO("relay pull %s: stopped: %s (%u retries)", p->key, why, p->retries);
    drop_attempt(p);
    run->pull = NULL;
    p->run = NULL;
    p->state = PULL_IDLE;
    uv_close((uv_handle_t *)&run->timer, on_run_closed);
    uv_close((uv_handle_t *)&run->wait_timer, on_run_closed);
    sl_server_remove_conn(p->relay->srv, &p->conn);
    if (p->stream != NULL) sl_stream_unpublish(p->stream);
    p->stream = NULL;
    p->woken = p->have_last = false;
    p->first_audio_ms = 0;
    wake(p, status);
    if (!p->is_source) free_pull(p);
}

/* ---- the module's side --------------------------------------------------------------- */

static pull_t *pull_new(struct sl_relay *r, const char *key, const char *urls)
{
    pull_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    size_t n = strlen(urls);
    p->urls = malloc(n + 1);
    if (p->urls == NULL) {
        free(p);
        return NULL;
    }
    /* "url url url" becomes "url\0url\0url\0". */
    for (size_t i = 0; i <= n; i++) {
        p->urls[i] = urls[i] == ' ' ? '\0' : urls[i];
        if (p->urls[i] == '\0' && (i == 0 || p->urls[i - 1] != '\0') && i < n) p->url_count++;
    }
    p->url_count++;
    p->relay = r;
    snprintf(p->key, sizeof(p->key), "%s", key);
    p->conn.id = sl_next_client_id();
    sl_list_init(&p->waiters);
    sl_list_insert_tail(&r->pulls, &p->link);
    return p;
}

static pull_t *find_pull(struct sl_relay *r, const char *key)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pulls) {
        pull_t *p = sl_container_of(pos, pull_t, link);
        if (strcmp(p->key, key) == 0) return p;
    }
    return NULL;
}

/* The origins of the first relay.pull rule whose pattern matches key, written into
 * urls; false when none does. */
static bool match_rule(const sl_config_t *cfg, const char *key, char *urls, size_t n)
{
    for (int i = 0; i < cfg->relay.pull.count; i++) {
        const char *rule = cfg->relay.pull.rule[i];
        const char *space = strchr(rule, ' ');
        if (space == NULL) continue;
        char pattern[SL_CONFIG_RULE_MAX];
        snprintf(pattern, sizeof(pattern), "%.*s", (int)(space - rule), rule);
        if (fnmatch(pattern, key, 0) != 0) continue;
        while (*space == ' ') space++;
        snprintf(urls, n, "%s", space);
        /* Rules are checked at start-up; runs of spaces collapse here. */
        char *w = urls;
        for (const char *c = urls; *c != '\0'; c++)
            if (*c != ' ' || (w > urls && w[-1] != ' ')) *w++ = *c;
        while (w > urls && w[-1] == ' ') w--;
        *w = '\0';
        return true;
    }
    return false;
}

int sl_relay_wait(sl_server_t *srv, const char *key, sl_relay_wait_t *w)
{
    struct sl_relay *r = srv->relay;
    if (r == NULL) return SL_ERR_NOT_FOUND;
    pull_t *p = find_pull(r, key);
    if (p == NULL) {
        char urls[SL_CONFIG_RULE_MAX];
        if (!match_rule(srv->cfg, key, urls, sizeof(urls))) return SL_ERR_NOT_FOUND;
        if ((p = pull_new(r, key, urls)) == NULL) return SL_ERR_NOMEM;
    }
    if (p->run == NULL) {
        int rc = start_run(p);
        if (rc != SL_OK) {
            if (!p->is_source) free_pull(p);
            return rc;
        }
    }
    w->deadline_ms = now_ms(p) + srv->cfg->relay.pull_timeout_ms;
    sl_list_insert_tail(&p->waiters, &w->link);
    p->last_used_ms = now_ms(p);
    arm_wait_timer(p);
    return SL_OK;
}

void sl_relay_wait_cancel(sl_relay_wait_t *w)
{
    if (w->link.next == NULL || w->link.next == &w->link) return;
    sl_list_remove(&w->link);
}

void sl_relay_touch(sl_server_t *srv, const char *key)
{
    if (srv->relay == NULL) return;
    pull_t *p = find_pull(srv->relay, key);
    if (p != NULL && p->run != NULL) p->last_used_ms = now_ms(p);
}

/* Idle pulls stop; pulls whose origins are all gone stop; always-on sources run. */
static void tick_one(pull_t *p, const sl_config_t *cfg, uint64_t now)
{
    if (p->run == NULL) {
        if (p->always_on && start_run(p) != SL_OK) SL_WARN("relay pull %s: out of memory", p->key);
        return;
    }
    /* Idle from the first tick without a viewer (or the last HLS request, if
     * later): a pull stops between idle_timeout_ms and a second more after its
     * last viewer left, never before. */
    if ((p->stream != NULL && sl_stream_viewers(p->stream) > 0) || p->waiters.next != &p->waiters)
        p->idle_since_ms = 0;
    else if (p->idle_since_ms == 0)
        p->idle_since_ms = now;
    uint64_t idle_since = SL_MAX(p->idle_since_ms, p->last_used_ms);
    if (!p->always_on && p->idle_since_ms != 0 && now - idle_since >= cfg->relay.idle_timeout_ms) {
        stop_run(p, SL_ERR_CLOSED, "nobody watches");
        return;
    }
    if (p->stream != NULL && p->state != PULL_LIVE && p->down_since_ms != 0 &&
        now - p->down_since_ms >= cfg->relay.pull_timeout_ms) {
        if (!p->always_on) {
            stop_run(p, SL_ERR_NOT_FOUND, "no origin has had the stream since it was lost");
            return;
        }
        /* An always-on source keeps trying, but its players are told it ended. */
        sl_stream_unpublish(p->stream);
        p->stream = NULL;
        p->woken = p->have_last = false;
    }
    if (p->state == PULL_LIVE && now - p->last_frame_ms >= (p->framed ? SILENCE_MS : FIRST_FRAME_MS)) {
        sl__pull_failed(p, SL_ERR_NOT_FOUND, p->framed ? "no frame from the origin for 10 s"
                                                       : "the origin sent nothing in 5 s after starting to play");
        return;
    }
    if (p->run->rtsp != NULL && p->state != PULL_WAITING) {
        int rc = sl__pull_rtsp_tick(p, now);
        if (rc != SL_OK) sl__pull_failed(p, rc, p->why_down != NULL ? p->why_down : sl_strerror(rc));
    }
}

void sl__relay_pull_tick(struct sl_relay *r)
{
    uint64_t now = uv_now(r->srv->loop);
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pulls) tick_one(sl_container_of(pos, pull_t, link), r->srv->cfg, now);
}

void sl__relay_pull_foreach(struct sl_relay *r, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pulls) {
        pull_t *p = sl_container_of(pos, pull_t, link);
        if (p->run == NULL) continue;
        char shown[SL_CONFIG_SOURCE_MAX];
        sl_source_url_redact(sl__pull_url(p), shown, sizeof(shown));
        sl_relay_info_t info = {.id = p->conn.id, .kind = "pull", .stream = p->key, .target = shown,
                                .state = state_names[p->state], .retries = p->retries, .bytes_in = p->conn.bytes_in,
                                .bytes_out = p->conn.bytes_out, .last_error = p->why_down};
        fn(&info, arg);
    }
}

/* ---- sources ------------------------------------------------------------------------ */

int sl_relay_add_source(sl_server_t *srv, const sl_source_spec_t *spec, uint64_t *id)
{
    struct sl_relay *r = srv->relay;
    if (r == NULL) return SL_ERR_CLOSED;
    pull_t *p = find_pull(r, spec->key);
    if (p != NULL && p->is_source) return SL_ERR_BUSY;
    if (p != NULL) stop_run(p, SL_ERR_CLOSED, "replaced by a source");
    if ((p = pull_new(r, spec->key, spec->url)) == NULL) return SL_ERR_NOMEM;
    p->is_source = true;
    p->always_on = spec->always_on;
    p->transport = spec->transport;
    *id = p->conn.id;
    if (p->always_on && start_run(p) != SL_OK) SL_WARN("relay pull %s: out of memory", p->key);
    return SL_OK;
}

int sl_relay_remove_source(sl_server_t *srv, uint64_t id)
{
    struct sl_relay *r = srv->relay;
    if (r == NULL) return SL_ERR_NOT_FOUND;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pulls) {
        pull_t *p = sl_container_of(pos, pull_t, link);
        if (!p->is_source || p->conn.id != id) continue;
        stop_run(p, SL_ERR_NOT_FOUND, "removed through the API");
        free_pull(p);
        return SL_OK;
    }
    return SL_ERR_NOT_FOUND;
}

void sl_relay_foreach_source(sl_server_t *srv, void (*fn)(const sl_source_info_t *info, void *arg), void *arg)
{
    if (srv->relay == NULL) return;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &srv->relay->pulls) {
        pull_t *p = sl_container_of(pos, pull_t, link);
        if (!p->is_source) continue;
        char shown[SL_CONFIG_SOURCE_MAX];
        sl_source_url_redact(p->urls, shown, sizeof(shown));
        sl_source_info_t info = {.id = p->conn.id, .stream = p->key, .url = shown,
                                 .transport = is_rtsp(p->urls) ? sl_source_transport_name(p->transport) : NULL,
                                 .on_demand = !p->always_on, .state = state_names[p->state], .retries = p->retries,
                                 .bytes_in = p->conn.bytes_in, .last_error = p->why_down};
        fn(&info, arg);
    }
}

int sl__relay_pull_start(struct sl_relay *r)
{
    const sl_source_list_t *list = &r->srv->cfg->relay.sources;
    for (int i = 0; i < list->count; i++) {
        sl_source_spec_t spec;
        const char *why;
        uint64_t id;
        /* Checked when the configuration was read. */
        if (sl_source_spec_parse(list->rule[i], &spec, &why) != SL_OK) continue;
        int rc = sl_relay_add_source(r->srv, &spec, &id);
        if (rc == SL_ERR_NOMEM) return rc;
    }
    return SL_OK;
}

void sl__relay_pull_stop_all(struct sl_relay *r)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &r->pulls) {
        pull_t *p = sl_container_of(pos, pull_t, link);
        bool source = p->is_source;
        stop_run(p, SL_ERR_CLOSED, "server shutting down");
        if (source) free_pull(p);
    }
}
