#include "protocols/httpflv/httpflv.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/flv/flv.h"
#include "protocols/relay/relay.h"
#include "sluice/admit.h"
#include "sluice/iobatch.h"
#include "sluice/log.h"
#include "sluice/transcode.h"

typedef struct flv_viewer {
    sl_server_t *srv;
    sl_http_conn_t *conn;
    sl_conn_t client; /* in the server's registry, for the API */
    uint64_t id;
    char key[SL_STREAM_KEY_MAX];
    char query[SL_HTTP_MAX_PATH]; /* for the token */
    struct sl_admission *admission; /* while the on_play hook decides */
    sl_relay_wait_t pull_wait;      /* while a relay pull may bring the stream */
    sl_subscriber_t sub;
    sl_transcode_t *transcode; /* FLV carries AAC only: Opus is transcoded for us */
    sl_deferred_t flush;
    sl_iobatch_t batch;
    bool writing, header_sent;
    const char *ended; /* why we ended the response, NULL while playing */
} flv_viewer_t;

static void flush(flv_viewer_t *v);

static sl_buf_t *encode_tag(sl_frame_t *f, uint32_t param) { return sl_flv_frame_tag(f); }

static void on_written(void *arg, int status)
{
    flv_viewer_t *v = arg;
    v->writing = false;
    sl_iobatch_release(&v->batch);
    if (status == 0 && !v->ended) flush(v);
}

/* Whether the stream has audio FLV can carry: Opus from a browser has no FLV
 * codec id, and a header announcing audio that never comes makes players wait
 * (flv.js ignores audio tags the header did not announce). Opus counts when it is
 * transcoded: the AAC made of it follows within a few frames. */
static bool flv_audio(const sl_stream_t *s, bool transcoded)
{
    const sl_frame_t *ac = sl_stream_audio_config(s);
    return sl_stream_has_audio(s) && (ac == NULL || ac->codec == SL_CODEC_AAC || transcoded);
}

/* The FLV header, then every frame ready, in one chunk. */
static void flush(flv_viewer_t *v)
{
    if (v->writing || v->ended) return;
    sl_iobatch_t *b = &v->batch;
    int rc = SL_OK;
    if (!v->header_sent) {
        uint8_t header[SL_FLV_FILE_HEADER_LEN];
        sl_flv_file_header(header, flv_audio(v->sub.stream, v->transcode != NULL),
                           sl_stream_has_video(v->sub.stream));
        rc = sl_iobatch_add_copy(b, header, sizeof(header));
        v->header_sent = true;
    }
    if (rc == SL_OK) rc = sl_iobatch_take_frames(b, &v->sub, encode_tag, 0);
    if (rc < 0) {
        sl_iobatch_release(b);
        sl_http_conn_close(v->conn);
        return;
    }
    if (b->count == 0) {
        if (sl_subscriber_eof(&v->sub)) {
            v->ended = "stream ended";
            sl_http_stream_end(v->conn);
        }
        return;
    }
    v->client.bytes_out += b->bytes;
    rc = sl_http_stream_write(v->conn, b->iov, (unsigned)b->count, on_written, v);
    if (rc == SL_HTTP_QUEUED) {
        v->writing = true;
        return;
    }
    sl_iobatch_release(b);
    if (rc < 0) sl_http_conn_close(v->conn);
    /* Written at once: nothing came in meanwhile, but the stream may have ended. */
    else if (sl_subscriber_eof(&v->sub)) flush(v);
}

static void run_flush(sl_deferred_t *d) { flush(sl_container_of(d, flv_viewer_t, flush)); }

static void on_ready(sl_subscriber_t *sub)
{
    flv_viewer_t *v = sl_container_of(sub, flv_viewer_t, sub);
    sl_server_defer(v->srv, &v->flush);
}

static void on_too_slow(sl_subscriber_t *sub)
{
    flv_viewer_t *v = sl_container_of(sub, flv_viewer_t, sub);
    v->ended = "too slow, queue limit exceeded";
    sl_http_conn_close(v->conn);
}

static sl_admit_req_t admit_req(flv_viewer_t *v)
{
    return (sl_admit_req_t){.proto = SL_PROTO_HTTP_FLV, .dir = SL_DIR_PLAY, .client_id = v->id, .key = v->key,
                            .query = v->query, .remote = sl_http_conn_peer(v->conn)};
}

/* The connection is gone: whatever the cause, this is the one place that frees. */
static void on_close(void *arg)
{
    flv_viewer_t *v = arg;
    SL_INFO("client %llu http-flv close %s %s: %s after %llu frames", (unsigned long long)v->id,
            sl_http_conn_peer(v->conn), v->key, v->ended ? v->ended : "connection closed",
            (unsigned long long)v->sub.frames_taken);
    sl_server_remove_conn(v->srv, &v->client);
    /* Before the detach: our subscriber may be what keeps the stream alive. */
    sl_transcode_release(v->transcode);
    sl_subscriber_detach(&v->sub);
    sl_admit_req_t req = admit_req(v);
    sl_hook_event(v->srv, "on_stop", &req);
    sl_server_cancel(&v->flush);
    sl_iobatch_free(&v->batch);
    free(v);
}

/* A kick from the API or the server's shutdown: the close path frees. */
static void close_client(sl_conn_t *c, const char *reason)
{
    flv_viewer_t *v = sl_container_of(c, flv_viewer_t, client);
    v->ended = reason;
    sl_http_conn_close(v->conn);
}

/* "/app/name.flv" → "app/name"; false for other paths. */
static bool stream_key_of(const char *path, char *key, size_t size)
{
    size_t len = strlen(path);
    if (len < 6 || path[0] != '/' || strcmp(path + len - 4, ".flv") != 0 || len - 5 >= size) return false;
    memcpy(key, path + 1, len - 5);
    key[len - 5] = '\0';
    return sl_hub_key_valid(key);
}

static const sl_subscriber_ops_t viewer_ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

/* The request ends before its response started: the viewer goes, the status
 * answers. */
static int refuse(flv_viewer_t *v, int status, const char *detail)
{
    sl_http_conn_t *c = v->conn;
    free(v);
    return sl_http_respond_error(c, status, detail);
}

/* The client left before its response started: while the hook decided or while a
 * relay pull was awaited. Cancelling what is not pending does nothing. */
static void on_close_pending(void *arg)
{
    flv_viewer_t *v = arg;
    sl_admit_cancel(v->admission);
    sl_relay_wait_cancel(&v->pull_wait);
    free(v);
}

static void on_pulled(sl_relay_wait_t *w, int status);

/* An edge server: the stream may come from an origin, and the request stays
 * unanswered until it does. SL_ERR_NOT_FOUND when no relay.pull rule covers it. */
static int wait_for_pull(flv_viewer_t *v)
{
    v->pull_wait.done = on_pulled;
    int rc = sl_relay_wait(v->srv, v->key, &v->pull_wait);
    if (rc != SL_OK) return rc;
    sl_http_conn_on_close(v->conn, on_close_pending, v);
    SL_INFO("client %llu http-flv play %s: waiting for the relay pull", (unsigned long long)v->id, v->key);
    return SL_OK;
}

/* Admitted: the response starts, the request waits for a relay pull (`may_wait`),
 * or a 404 ends it. */
static int start_viewer(flv_viewer_t *v, bool may_wait)
{
    sl_server_t *srv = v->srv;
    sl_http_conn_t *c = v->conn;
    int rc = sl_hub_subscribe(srv->hub, v->key, &v->sub, &viewer_ops, uv_now(srv->loop));
    if (rc == SL_ERR_NOT_FOUND && may_wait) {
        rc = wait_for_pull(v);
        if (rc == SL_OK) return SL_OK;
        if (rc != SL_ERR_NOT_FOUND) return refuse(v, 503, NULL);
    }
    if (rc == SL_ERR_NOT_FOUND) return refuse(v, 404, "stream not found");
    if (rc != SL_OK) return refuse(v, 503, NULL);
    sl_subscriber_set_batched(&v->sub);
    rc = sl_http_stream_begin(c, 200, "video/x-flv", on_close, v);
    if (rc != SL_OK) {
        sl_subscriber_detach(&v->sub);
        sl_server_cancel(&v->flush);
        return refuse(v, 503, NULL);
    }
    /* The HTTP server enforces limits.max_connections for HTTP-FLV already. */
    sl_conn_init(&v->client, v->id, SL_PROTO_HTTP_FLV, sl_http_conn_peer(c), v->key, close_client);
    v->client.role = SL_ROLE_PLAYER;
    (void)sl_server_add_conn(srv, &v->client);
    v->transcode = sl_transcode_want(srv, v->sub.stream, SL_CODEC_AAC);
    SL_INFO("client %llu http-flv play %s from %s", (unsigned long long)v->id, v->key, sl_http_conn_peer(c));
    return SL_OK;
}

/* The pull ended; nothing of the response was sent yet. */
static void on_pulled(sl_relay_wait_t *w, int status)
{
    flv_viewer_t *v = sl_container_of(w, flv_viewer_t, pull_wait);
    if (status == SL_OK) {
        (void)start_viewer(v, false);
        return;
    }
    /* SL_ERR_CLOSED: the server is shutting down. */
    int http = 503;
    const char *why = NULL;
    if (status == SL_ERR_TIMEOUT) {
        http = 504;
        why = "no origin answered in time";
    } else if (status == SL_ERR_NOT_FOUND) {
        http = 404;
        why = "stream not found";
    }
    SL_WARN("client %llu http-flv play %s: %s", (unsigned long long)v->id, v->key, why ? why : "server shutting down");
    (void)refuse(v, http, why);
}

static void on_admitted(void *arg, int rc, const char *why)
{
    flv_viewer_t *v = arg;
    v->admission = NULL;
    if (rc == SL_OK) (void)start_viewer(v, true);
    else (void)refuse(v, 403, why);
}

static int handle(void *arg, sl_http_conn_t *c, const sl_http_request_t *req)
{
    sl_server_t *srv = arg;
    char key[SL_STREAM_KEY_MAX];
    if (!stream_key_of(req->path, key, sizeof(key))) return SL_ERR_NOT_FOUND;
    if (strcmp(req->method, "GET") != 0) return sl_http_respond_error(c, 405, NULL);

    flv_viewer_t *v = calloc(1, sizeof(*v));
    if (v == NULL) return sl_http_respond_error(c, 503, NULL);
    v->srv = srv;
    v->conn = c;
    v->id = sl_http_conn_id(c);
    memcpy(v->key, key, sizeof(key));
    snprintf(v->query, sizeof(v->query), "%s", req->query);
    sl_list_init(&v->flush.link);
    v->flush.run = run_flush;
    sl_iobatch_init(&v->batch);
    sl_admit_req_t ar = admit_req(v);
    const char *why = NULL;
    int rc = sl_admit(srv, &ar, on_admitted, v, &v->admission, &why);
    if (rc == SL_OK) return start_viewer(v, true);
    if (rc == SL_ERR_AUTH) return refuse(v, 401, why);
    sl_http_conn_on_close(c, on_close_pending, v);
    return SL_OK;
}

int sl_httpflv_start(sl_server_t *srv) { return sl_http_server_add_handler(srv->http, handle, srv); }
