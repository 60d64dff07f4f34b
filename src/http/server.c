/* The libuv glue of the HTTP/1.1 server: listeners, connections, request framing,
 * responses and chunked streams. The bytes are understood by parser.c.
 *
 * A connection moves through these states:
 *
 *   READ_HEAD --head ok--> READ_BODY --body in--> HANDLING --respond, keep-alive--> READ_HEAD
 *                                                    |--respond, close------------> DRAIN
 *                                                    '--stream_begin--> STREAMING --end--> DRAIN
 *   any refused request ---------------------------------------------------------> DRAIN
 *
 * DRAIN waits for the queued writes, then (for plain responses) shuts the sending
 * side down and keeps reading for a moment before closing: closing a socket with
 * unread bytes makes the kernel send RST, which can destroy the response we just
 * sent (a 413 to a client still uploading, a 431 to one still sending its head).
 *
 * Memory is freed only in close callbacks; every callback first checks `closing`.
 */
#include "sluice/http.h"
#include "sluice/iobatch.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sluice/list.h"
#include "sluice/log.h"

#define HTTP_BACKLOG 511
#define READ_BUF_MIN 4096
#define READ_BUF_KEEP 16384            /* an emptied read buffer larger than this is freed */
#define WRITE_QUEUE_MAX (4u << 20)     /* unsent response bytes before a client is dropped */
#define LINGER_MS 5000                 /* DRAIN: wait this long for the last bytes and EOF */
#define STREAM_IOV_STACK 16

enum conn_state {
    ST_READ_HEAD, /* waiting for (the rest of) a request head */
    ST_READ_BODY, /* head accepted, waiting for Content-Length bytes */
    ST_HANDLING,  /* a handler has the request and has not answered yet */
    ST_STREAMING, /* a chunked response is open */
    ST_DRAIN,     /* the last response is queued; close once it is out */
};

typedef struct handler {
    sl_http_handler_fn fn;
    void *arg;
} handler_t;

typedef struct listener {
    uv_tcp_t tcp;
    sl_http_server_t *server;
    sl_list_t link;
} listener_t;

struct sl_http_server {
    uv_loop_t *loop;
    const sl_config_t *cfg;
    handler_t *handlers;
    size_t handler_count;
    sl_list_t listeners;
    sl_list_t conns;
    /* Connections answered outside of their own read callback, whose buffered
     * (pipelined) requests the pump handles on the next loop turn. */
    sl_list_t pending;
    uv_idle_t pump;
    size_t conn_count;
    size_t handles; /* open libuv handles; the server is freed when closing and 0 */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

struct sl_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    uv_write_t chunk_req; /* the one stream chunk in flight */
    sl_http_server_t *server;
    sl_list_t link;         /* in server->conns */
    sl_list_t pending_link; /* in server->pending */
    uint64_t id;
    char peer[64];
    int handles; /* of tcp and timer, still open */
    enum conn_state state;
    bool closing;
    bool in_process;  /* process() is on the stack: it picks up the next request itself */
    bool read_paused; /* the buffer filled up while a handler worked */
    bool peer_eof;
    bool linger;       /* DRAIN: shut down and wait for EOF rather than close at once */
    bool shutting_down;
    unsigned writes;   /* uv_write requests in flight */

    uint8_t *buf; /* read buffer: [0, len) holds unconsumed bytes */
    size_t len, cap;
    size_t scan;      /* where the search for the end of the head resumes */
    size_t head_len;  /* of the request being read, 0 until its head is accepted */
    size_t body_len;
    size_t junk;      /* bytes discarded while streaming */
    uint64_t timer_ms;
    size_t timer_wq;  /* write queue size when the timer last fired, to see progress */

    /* The request being answered. */
    bool req_keep_alive, req_head_only, req_http10;

    /* Streaming. */
    bool stream_raw; /* HTTP/1.0 client: no chunk framing, the close ends the body */
    bool chunk_busy;
    void (*on_close)(void *arg);
    void *close_arg;
    void (*on_written)(void *arg, int status);
    void *written_arg;
    char chunk_head[24]; /* "<hex len>\r\n" of the chunk in flight */
};

/* A response or control write whose bytes are copied after the request, and
 * possibly a shared body sent by reference after them. */
typedef struct owned_write {
    uv_write_t req;
    sl_http_conn_t *c;
    sl_buf_t *shared; /* one reference, or NULL */
    char data[];
} owned_write_t;

/* The fixed fields of a response head. */
typedef struct head {
    int status;
    const char *content_type; /* NULL: none */
    int64_t content_length;   /* -1: none */
    const char *fields;       /* extra header lines, NULL for none */
    const char *connection;   /* "keep-alive" or "close" */
    char date[40];
} head_t;

static void process(sl_http_conn_t *c);
static void on_timer(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static size_t max_head(const sl_http_conn_t *c) { return c->server->cfg->limits.http_max_header_bytes; }
static size_t max_body(const sl_http_conn_t *c) { return c->server->cfg->limits.http_max_body_bytes; }

/* ---- server lifetime -------------------------------------------------- */

static void maybe_free_server(sl_http_server_t *s)
{
    if (!s->closing || s->handles > 0) return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s->handlers);
    free(s);
    if (done) done(arg);
}

static void on_listener_closed(uv_handle_t *h)
{
    listener_t *l = sl_container_of((uv_tcp_t *)h, listener_t, tcp);
    sl_http_server_t *s = l->server;
    free(l);
    s->handles--;
    maybe_free_server(s);
}

static void on_pump_closed(uv_handle_t *h)
{
    sl_http_server_t *s = sl_container_of((uv_idle_t *)h, sl_http_server_t, pump);
    s->handles--;
    maybe_free_server(s);
}

static void on_refused_closed(uv_handle_t *h)
{
    sl_http_server_t *s = h->data;
    free(h);
    s->handles--;
    maybe_free_server(s);
}

sl_http_server_t *sl_http_server_new(uv_loop_t *loop, const sl_config_t *cfg)
{
    sl_http_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    s->loop = loop;
    s->cfg = cfg;
    sl_list_init(&s->listeners);
    sl_list_init(&s->conns);
    sl_list_init(&s->pending);
    if (uv_idle_init(loop, &s->pump) != 0) {
        free(s);
        return NULL;
    }
    s->handles = 1;
    return s;
}

int sl_http_server_add_handler(sl_http_server_t *s, sl_http_handler_fn fn, void *arg)
{
    if (s->closing) return SL_ERR_CLOSED;
    handler_t *h = realloc(s->handlers, (s->handler_count + 1) * sizeof(*h));
    if (h == NULL) return SL_ERR_NOMEM;
    h[s->handler_count++] = (handler_t){fn, arg};
    s->handlers = h;
    return SL_OK;
}

size_t sl_http_server_conn_count(const sl_http_server_t *s) { return s->conn_count; }

const char *sl_http_conn_peer(const sl_http_conn_t *c) { return c->peer; }

uint64_t sl_http_conn_id(const sl_http_conn_t *c) { return c->id; }

/* ---- connection lifetime ---------------------------------------------- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    sl_http_conn_t *c = h->data;
    sl_http_server_t *s = c->server;
    s->handles--;
    if (--c->handles > 0) return;
    /* Both handles are closed, so every write callback has run already. */
    if (c->on_close) {
        void (*cb)(void *) = c->on_close;
        c->on_close = NULL;
        cb(c->close_arg);
    }
    SL_DEBUG("http: client %" PRIu64 " %s closed", c->id, c->peer);
    sl_list_remove(&c->link);
    s->conn_count--;
    free(c->buf);
    free(c);
    maybe_free_server(s);
}

void sl_http_conn_close(sl_http_conn_t *c)
{
    if (c->closing) return;
    c->closing = true;
    sl_list_remove(&c->pending_link);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    if (c->handles == 2) uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void arm_timer(sl_http_conn_t *c, uint64_t ms)
{
    c->timer_ms = ms;
    c->timer_wq = SIZE_MAX;
    if (uv_timer_start(&c->timer, on_timer, ms, 0) != 0) sl_http_conn_close(c);
}

/* The client has idle_timeout_ms to send (the rest of) its next request. */
static void arm_idle(sl_http_conn_t *c)
{
    uint32_t ms = c->server->cfg->limits.idle_timeout_ms;
    if (ms > 0) arm_timer(c, ms);
    else uv_timer_stop(&c->timer);
}

static void on_timer(uv_timer_t *t)
{
    sl_http_conn_t *c = t->data;
    if (c->closing) return;
    /* A client that is still taking in a large response is not idle. */
    size_t wq = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (wq > 0 && wq < c->timer_wq) {
        uint64_t ms = c->timer_ms;
        arm_timer(c, ms);
        c->timer_wq = wq;
        return;
    }
    SL_DEBUG("http: client %" PRIu64 " %s timed out", c->id, c->peer);
    sl_http_conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    sl_http_conn_t *c = sl_container_of(req, sl_http_conn_t, shutdown);
    if (c->closing) return;
    if (status < 0) sl_http_conn_close(c);
}

/* DRAIN with every write out: close, or first let the client read in peace. */
static void finish_drain(sl_http_conn_t *c)
{
    if (c->peer_eof || !c->linger) {
        sl_http_conn_close(c);
        return;
    }
    if (c->shutting_down) return;
    c->shutting_down = true;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        sl_http_conn_close(c);
        return;
    }
    arm_timer(c, LINGER_MS);
}

static void enter_drain(sl_http_conn_t *c, bool linger)
{
    c->state = ST_DRAIN;
    c->linger = linger;
    arm_timer(c, LINGER_MS);
    if (!c->closing && c->writes == 0) finish_drain(c);
}

/* ---- writes -------------------------------------------------------------- */

static void write_done(sl_http_conn_t *c, int status)
{
    if (c->closing) return;
    if (status < 0) {
        SL_DEBUG("http: client %" PRIu64 " %s write failed: %s", c->id, c->peer, uv_strerror(status));
        sl_http_conn_close(c);
        return;
    }
    if (c->state == ST_DRAIN && c->writes == 0) finish_drain(c);
}

static void on_owned_written(uv_write_t *req, int status)
{
    owned_write_t *w = sl_container_of(req, owned_write_t, req);
    sl_http_conn_t *c = w->c;
    sl_buf_unref(w->shared);
    free(w);
    c->writes--;
    write_done(c, status);
}

/* Queues w->data[0..len), then w->shared if set. On failure the connection is
 * closed. */
static int owned_send(sl_http_conn_t *c, owned_write_t *w, size_t len)
{
    uv_buf_t b[2] = {uv_buf_init(w->data, (unsigned)len)};
    if (w->shared != NULL) b[1] = uv_buf_init((char *)w->shared->data, (unsigned)w->shared->len);
    w->c = c;
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, b, w->shared != NULL ? 2 : 1, on_owned_written);
    if (r != 0) {
        sl_buf_unref(w->shared);
        free(w);
        SL_WARN("http: client %" PRIu64 " %s cannot write: %s", c->id, c->peer, uv_strerror(r));
        sl_http_conn_close(c);
        return SL_ERR_IO;
    }
    c->writes++;
    return SL_OK;
}

static int write_bytes(sl_http_conn_t *c, const char *data, size_t len)
{
    owned_write_t *w = malloc(sizeof(*w) + len);
    if (w == NULL) return SL_ERR_NOMEM;
    w->shared = NULL;
    memcpy(w->data, data, len);
    return owned_send(c, w, len);
}

static void http_date(char *out, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int format_head(char *dst, size_t cap, const sl_http_conn_t *c, const head_t *h)
{
    const char *origin = c->server->cfg->http.cors_origin;
    bool cors = origin[0] != '\0';
    bool ctype = h->content_type != NULL && h->content_type[0] != '\0';
    char length[48] = "";
    if (h->content_length >= 0)
        snprintf(length, sizeof(length), "Content-Length: %" PRId64 "\r\n", h->content_length);
    return snprintf(dst, cap,
                    "HTTP/1.1 %d %s\r\n"
                    "Server: sluice/" SLUICE_VERSION "\r\n"
                    "Date: %s\r\n"
                    "%s%s%s%s%s"
                    "Connection: %s\r\n"
                    "%s%s%s"
                    "\r\n",
                    h->status, sl_http_status_text(h->status), h->date,
                    ctype ? "Content-Type: " : "", ctype ? h->content_type : "", ctype ? "\r\n" : "",
                    length, h->fields ? h->fields : "",
                    h->connection, cors ? "Access-Control-Allow-Origin: " : "", origin,
                    cors ? "\r\nAccess-Control-Expose-Headers: *\r\n" : "");
}

/* Queues a head and body[0..len) as one write; a `shared` body (taking a new
 * reference) goes by reference instead of body. On an I/O failure the connection
 * is closed. */
static int write_head(sl_http_conn_t *c, head_t *h, const void *body, size_t len, sl_buf_t *shared)
{
    http_date(h->date, sizeof(h->date));
    int n = format_head(NULL, 0, c, h);
    if (n < 0) return SL_ERR_PROTO;
    size_t total = (size_t)n + len;
    if (total > UINT32_MAX || (shared != NULL && shared->len > UINT32_MAX)) return SL_ERR_TOO_BIG;
    owned_write_t *w = malloc(sizeof(*w) + total + 1);
    if (w == NULL) return SL_ERR_NOMEM;
    w->shared = shared != NULL ? sl_buf_ref(shared) : NULL;
    format_head(w->data, (size_t)n + 1, c, h);
    if (len > 0) memcpy(w->data + n, body, len);
    return owned_send(c, w, total);
}

/* ---- responses --------------------------------------------------------- */

static void schedule(sl_http_conn_t *c);

/* Back to reading requests after a complete keep-alive response. */
static void resume_reading(sl_http_conn_t *c)
{
    c->state = ST_READ_HEAD;
    arm_idle(c);
    if (c->read_paused) {
        c->read_paused = false;
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            sl_http_conn_close(c);
            return;
        }
    }
    if (!c->in_process) schedule(c);
}

static int send_response(sl_http_conn_t *c, int status, const char *content_type,
                         const char *fields, const void *body, size_t len, sl_buf_t *shared,
                         bool keep_alive)
{
    /* A pipelining client that does not read its answers would make us queue them
     * without bound. */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX) {
        SL_WARN("http: client %" PRIu64 " %s does not read its responses, closing", c->id, c->peer);
        sl_http_conn_close(c);
        return SL_ERR_CLOSED;
    }
    keep_alive = keep_alive && !c->server->closing;
    /* 1xx, 204 and 304 have neither a body nor a Content-Length (RFC 9110 8.6). */
    bool bodiless = status < 200 || status == 204 || status == 304;
    head_t h = {
        .status = status,
        .content_type = content_type,
        .content_length = bodiless ? -1 : (int64_t)(shared != NULL ? shared->len : len),
        .fields = fields,
        .connection = keep_alive ? "keep-alive" : "close",
    };
    bool no_body = bodiless || c->req_head_only;
    int r = write_head(c, &h, body, no_body ? 0 : len, no_body ? NULL : shared);
    if (r != SL_OK) {
        sl_http_conn_close(c);
        return r;
    }
    if (keep_alive) resume_reading(c);
    else enter_drain(c, true);
    return SL_OK;
}

int sl_http_respond_ex(sl_http_conn_t *c, int status, const char *content_type,
                       const char *headers, const void *body, size_t len)
{
    if (c->closing) return SL_ERR_CLOSED;
    if (c->state != ST_HANDLING) return SL_ERR_BUSY;
    /* Whoever waited for this answer is done with the connection, even if sending
     * it fails. */
    c->on_close = NULL;
    return send_response(c, status, content_type, headers, body, len, NULL, c->req_keep_alive);
}

int sl_http_respond_buf(sl_http_conn_t *c, int status, const char *content_type,
                        const char *headers, sl_buf_t *body)
{
    if (c->closing) return SL_ERR_CLOSED;
    if (c->state != ST_HANDLING) return SL_ERR_BUSY;
    c->on_close = NULL;
    return send_response(c, status, content_type, headers, NULL, 0, body, c->req_keep_alive);
}

void sl_http_conn_on_close(sl_http_conn_t *c, void (*fn)(void *arg), void *arg)
{
    c->on_close = fn;
    c->close_arg = arg;
}

int sl_http_respond(sl_http_conn_t *c, int status, const char *content_type, const void *body,
                    size_t len)
{
    return sl_http_respond_ex(c, status, content_type, NULL, body, len);
}

static int error_body(char *out, size_t cap, int status, const char *detail)
{
    int n = detail ? snprintf(out, cap, "%s\n", detail)
                   : snprintf(out, cap, "%d %s\n", status, sl_http_status_text(status));
    return (int)SL_MIN((size_t)n, cap - 1);
}

int sl_http_respond_error(sl_http_conn_t *c, int status, const char *detail)
{
    char body[1024];
    int n = error_body(body, sizeof(body), status, detail);
    return sl_http_respond(c, status, "text/plain", body, (size_t)n);
}

/* Answers a request we will not hand to anyone, then closes. */
static void refuse(sl_http_conn_t *c, int status, const char *why)
{
    SL_WARN("http: client %" PRIu64 " %s: %d %s: %s", c->id, c->peer, status,
            sl_http_status_text(status), why);
    char body[128];
    int n = error_body(body, sizeof(body), status, NULL);
    c->req_head_only = false;
    /* On failure the connection is already closed. */
    (void)send_response(c, status, "text/plain", NULL, body, (size_t)n, NULL, false);
}

/* An OPTIONS no handler wanted: a CORS preflight answer. */
static void preflight(sl_http_conn_t *c)
{
    const char *fields = c->server->cfg->http.cors_origin[0] == '\0' ? NULL :
        "Access-Control-Allow-Methods: GET, POST, DELETE, PATCH, OPTIONS\r\n"
        /* "*" does not cover Authorization (Fetch standard), which WHIP clients send. */
        "Access-Control-Allow-Headers: *, Authorization\r\n"
        "Access-Control-Max-Age: 86400\r\n";
    (void)send_response(c, 204, NULL, fields, NULL, 0, NULL, c->req_keep_alive);
}

/* ---- streams ------------------------------------------------------------ */

int sl_http_stream_begin(sl_http_conn_t *c, int status, const char *content_type,
                         void (*on_close)(void *arg), void *arg)
{
    if (c->closing) return SL_ERR_CLOSED;
    if (c->state != ST_HANDLING) return SL_ERR_BUSY;
    /* HTTP/1.0 has no chunked coding: the body is raw and ends with the connection. */
    c->stream_raw = c->req_http10;
    head_t h = {
        .status = status,
        .content_type = content_type,
        .content_length = -1,
        .fields = c->stream_raw ? "Cache-Control: no-cache\r\n"
                                : "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n",
        .connection = "close",
    };
    int r = write_head(c, &h, NULL, 0, NULL);
    if (r != SL_OK) {
        sl_http_conn_close(c);
        return r;
    }
    c->on_close = on_close;
    c->close_arg = arg;
    if (c->req_head_only) {
        /* HEAD: the head is the whole answer; on_close follows soon. */
        enter_drain(c, false);
        return SL_OK;
    }
    c->state = ST_STREAMING;
    c->junk = 0;
    uv_timer_stop(&c->timer);
    return SL_OK;
}

static void on_chunk_written(uv_write_t *req, int status)
{
    sl_http_conn_t *c = sl_container_of(req, sl_http_conn_t, chunk_req);
    void (*cb)(void *, int) = c->on_written;
    void *arg = c->written_arg;
    c->on_written = NULL;
    c->chunk_busy = false;
    c->writes--;
    write_done(c, status);
    /* c stays allocated until its close callback, so the callee may close it. */
    if (cb) cb(arg, status);
}

int sl_http_stream_write(sl_http_conn_t *c, const uv_buf_t *bufs, unsigned nbufs,
                         void (*on_written)(void *arg, int status), void *arg)
{
    if (c->closing || c->state != ST_STREAMING) return SL_ERR_CLOSED;
    if (c->chunk_busy) return SL_ERR_BUSY;
    uv_buf_t stack[STREAM_IOV_STACK], *iov = stack;
    if ((size_t)nbufs + 2 > STREAM_IOV_STACK) {
        iov = malloc(((size_t)nbufs + 2) * sizeof(*iov));
        if (iov == NULL) return SL_ERR_NOMEM;
    }
    size_t total = 0;
    unsigned n = 1; /* iov[0] is the chunk head */
    for (unsigned i = 0; i < nbufs; i++) {
        if (bufs[i].len == 0) continue;
        iov[n++] = bufs[i];
        total += bufs[i].len;
    }
    if (total == 0) {
        /* An empty chunk would be the last chunk. Write nothing, but through the
         * loop, so on_written stays asynchronous. */
        iov[0] = uv_buf_init(c->chunk_head, 0);
        n = 1;
    } else if (c->stream_raw) {
        iov[0] = uv_buf_init(c->chunk_head, 0);
    } else {
        int hl = snprintf(c->chunk_head, sizeof(c->chunk_head), "%zx\r\n", total);
        iov[0] = uv_buf_init(c->chunk_head, (unsigned)hl);
        iov[n++] = uv_buf_init((char *)"\r\n", 2);
    }
    /* libuv copies the iovec array; only the bytes must outlive the write. */
    int r = total == 0 ? uv_write(&c->chunk_req, (uv_stream_t *)&c->tcp, iov, n, on_chunk_written)
                       : sl_iov_write((uv_stream_t *)&c->tcp, &c->chunk_req, iov, n, on_chunk_written);
    if (iov != stack) free(iov);
    if (r < 0) {
        SL_WARN("http: client %" PRIu64 " %s cannot write: %s", c->id, c->peer, uv_strerror(r));
        sl_http_conn_close(c);
        return SL_ERR_IO;
    }
    if (total > 0 && r == SL_IOV_WRITTEN) return SL_HTTP_WRITTEN;
    c->chunk_busy = true;
    c->writes++;
    c->on_written = on_written;
    c->written_arg = arg;
    return SL_HTTP_QUEUED;
}

void sl_http_stream_end(sl_http_conn_t *c)
{
    if (c->closing || c->state != ST_STREAMING) return;
    if (!c->stream_raw) {
        static const char last_chunk[] = "0\r\n\r\n";
        if (write_bytes(c, last_chunk, sizeof(last_chunk) - 1) != SL_OK) {
            sl_http_conn_close(c);
            return;
        }
    }
    enter_drain(c, false);
}

/* ---- requests ---------------------------------------------------------- */

/* Whether a blank line ends the head since the last call; resumes where it stopped,
 * so a head trickling in byte by byte costs linear time. */
static bool head_end_seen(sl_http_conn_t *c)
{
    const uint8_t *b = c->buf;
    size_t i = c->scan;
    while (i < c->len) {
        const uint8_t *lf = memchr(b + i, '\n', c->len - i);
        if (lf == NULL) break;
        i = (size_t)(lf - b);
        if ((i >= 1 && b[i - 1] == '\n') || (i >= 2 && b[i - 1] == '\r' && b[i - 2] == '\n')) {
            c->scan = i + 1;
            return true;
        }
        i++;
    }
    c->scan = c->len;
    return false;
}

/* 414 when the target's path or query is what is too long, else 431. */
static int too_big_status(const sl_http_conn_t *c)
{
    const char *line = (const char *)c->buf;
    const char *lf = memchr(line, '\n', c->len);
    const char *end = lf ? lf : line + c->len;
    const char *t = memchr(line, ' ', (size_t)(end - line));
    if (t == NULL) return 431;
    t++;
    const char *t_end = memchr(t, ' ', (size_t)(end - t));
    if (t_end == NULL) t_end = end;
    const char *q = memchr(t, '?', (size_t)(t_end - t));
    size_t path = (size_t)((q ? q : t_end) - t), query = q ? (size_t)(t_end - q - 1) : 0;
    return path >= SL_HTTP_MAX_PATH || query >= SL_HTTP_MAX_PATH ? 414 : 431;
}

static bool expects_continue(const sl_http_request_t *req)
{
    size_t n;
    const char *v = sl_http_header_get(req, "Expect", &n);
    return v && req->version_minor >= 1 && n == 12 && strncasecmp(v, "100-continue", 12) == 0;
}

/* Parses and checks the head in the buffer. Returns 1 when it is accepted (state
 * READ_BODY, req filled), 0 when more bytes are needed, -1 when refused. */
static int read_head(sl_http_conn_t *c, sl_http_request_t *req)
{
    if (!head_end_seen(c) && c->len < max_head(c)) return 0;
    int n = sl_http_parse_request(req, "HTTP", (const char *)c->buf, c->len, max_head(c));
    if (n == SL_ERR_AGAIN) return 0;
    if (n == SL_ERR_TOO_BIG) {
        refuse(c, too_big_status(c), "request head too large");
        return -1;
    }
    if (n < 0) {
        refuse(c, 400, "malformed request head");
        return -1;
    }
    if (req->version_major != 1) {
        refuse(c, 505, "unsupported HTTP version");
        return -1;
    }
    if (req->chunked) {
        refuse(c, 411, "chunked request body");
        return -1;
    }
    if (req->content_length > (int64_t)max_body(c)) {
        refuse(c, 413, "request body too large");
        return -1;
    }
    c->head_len = (size_t)n;
    c->body_len = req->content_length > 0 ? (size_t)req->content_length : 0;
    c->state = ST_READ_BODY;
    if (c->len < c->head_len + c->body_len && expects_continue(req)) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (write_bytes(c, cont, sizeof(cont) - 1) != SL_OK) {
            sl_http_conn_close(c);
            return -1;
        }
    }
    return 1;
}

/* Drops the first n buffered bytes (a handled request). */
static void consume(sl_http_conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    c->scan = 0;
    c->head_len = c->body_len = 0;
    if (c->len == 0 && c->cap > READ_BUF_KEEP) {
        /* Do not keep a large body's buffer on an idle connection. */
        free(c->buf);
        c->buf = NULL;
        c->cap = 0;
    }
}

static void dispatch(sl_http_conn_t *c, sl_http_request_t *req)
{
    sl_http_server_t *s = c->server;
    req->body = c->body_len ? c->buf + c->head_len : NULL;
    req->body_len = c->body_len;
    c->state = ST_HANDLING;
    c->req_keep_alive = req->keep_alive;
    c->req_head_only = strcmp(req->method, "HEAD") == 0;
    c->req_http10 = req->version_minor == 0;
    uv_timer_stop(&c->timer);
    SL_DEBUG("http: client %" PRIu64 " %s %s %s%s%s", c->id, c->peer, req->method, req->path,
             req->query[0] ? "?" : "", req->query);

    int r = SL_ERR_NOT_FOUND;
    for (size_t i = 0; i < s->handler_count && r == SL_ERR_NOT_FOUND; i++) {
        if (c->closing || c->state != ST_HANDLING) break;
        r = s->handlers[i].fn(s->handlers[i].arg, c, req);
    }
    bool options = strcmp(req->method, "OPTIONS") == 0;
    consume(c, c->head_len + c->body_len);
    if (c->closing || c->state != ST_HANDLING) return;
    if (r == SL_ERR_NOT_FOUND && options) {
        preflight(c);
    } else if (r == SL_ERR_NOT_FOUND) {
        (void)sl_http_respond_error(c, 404, NULL);
    } else if (r < 0) {
        SL_WARN("http: client %" PRIu64 " %s: handler failed: %s", c->id, c->peer, sl_strerror(r));
        (void)sl_http_respond_error(c, 500, NULL);
    }
    /* Otherwise the handler answers later. */
}

/* Handles every complete request in the buffer, one after the other, until a
 * handler answers asynchronously, a stream starts, or bytes run out. */
static void process(sl_http_conn_t *c)
{
    sl_http_request_t req;
    bool parsed = false;
    c->in_process = true;
    while (!c->closing) {
        if (c->state == ST_READ_HEAD) {
            if (read_head(c, &req) <= 0) break;
            parsed = true;
        } else if (c->state != ST_READ_BODY) {
            break;
        }
        if (c->len < c->head_len + c->body_len) break;
        /* The body came in a later read: the head is parsed again, identically. */
        if (!parsed &&
            sl_http_parse_request(&req, "HTTP", (const char *)c->buf, c->head_len, max_head(c)) !=
                (int)c->head_len) {
            sl_http_conn_close(c);
            break;
        }
        dispatch(c, &req);
        parsed = false;
    }
    c->in_process = false;
}

static void on_pump(uv_idle_t *h)
{
    sl_http_server_t *s = sl_container_of(h, sl_http_server_t, pump);
    while (!sl_list_empty(&s->pending)) {
        sl_http_conn_t *c = sl_container_of(s->pending.next, sl_http_conn_t, pending_link);
        sl_list_remove(&c->pending_link);
        process(c);
    }
    uv_idle_stop(h);
}

/* Pipelined requests after an asynchronous answer wait for the next loop turn rather
 * than run inside the caller of sl_http_respond. */
static void schedule(sl_http_conn_t *c)
{
    sl_http_server_t *s = c->server;
    if (sl_list_linked(&c->pending_link)) return;
    sl_list_insert_tail(&s->pending, &c->pending_link);
    if (uv_idle_start(&s->pump, on_pump) != 0) sl_http_conn_close(c);
}

/* ---- reading ------------------------------------------------------------ */

static bool grow_buf(sl_http_conn_t *c, size_t cap)
{
    uint8_t *b = realloc(c->buf, cap);
    if (b == NULL) return false;
    c->buf = b;
    c->cap = cap;
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    sl_http_conn_t *c = h->data;
    size_t want;
    switch (c->state) {
    case ST_READ_BODY:
        /* The size is known (and bounded by the limits): one allocation. */
        want = c->head_len + c->body_len;
        if (c->cap < want) (void)grow_buf(c, want);
        break;
    case ST_STREAMING:
    case ST_DRAIN:
        c->len = 0; /* bytes read now are thrown away */
        want = READ_BUF_MIN;
        break;
    default: want = max_head(c); break;
    }
    if (c->len == c->cap && c->cap < want)
        (void)grow_buf(c, SL_MIN(want, SL_MAX(2 * c->cap, (size_t)READ_BUF_MIN)));
    /* No room leaves len 0: libuv then reports UV_ENOBUFS to on_read. */
    *out = uv_buf_init((char *)c->buf + c->len, (unsigned)SL_MIN(c->cap - c->len, (size_t)UINT32_MAX));
}

static void on_read_error(sl_http_conn_t *c, int err)
{
    if (err == UV_ENOBUFS && c->state == ST_HANDLING) {
        /* The buffer is full of the client's next requests: wait for the answer. */
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_paused = true;
        return;
    }
    bool idle_state = c->state == ST_READ_HEAD || c->state == ST_READ_BODY || c->state == ST_DRAIN;
    if (err == UV_EOF && idle_state && c->writes > 0) {
        /* A half-closed client still gets the answers already queued. */
        c->peer_eof = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (c->state != ST_DRAIN) enter_drain(c, false);
        return;
    }
    if (err != UV_EOF && err != UV_ECONNRESET)
        SL_DEBUG("http: client %" PRIu64 " %s read failed: %s", c->id, c->peer, uv_strerror(err));
    sl_http_conn_close(c);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    sl_http_conn_t *c = st->data;
    if (c->closing || n == 0) return;
    if (n < 0) {
        on_read_error(c, (int)n);
        return;
    }
    if (c->state == ST_DRAIN) return;
    if (c->state == ST_STREAMING) {
        /* A viewer has nothing to say; a little is tolerated, a flood is not. */
        c->junk += (size_t)n;
        if (c->junk > max_head(c)) {
            SL_WARN("http: client %" PRIu64 " %s sends data during a stream, closing", c->id, c->peer);
            sl_http_conn_close(c);
        }
        return;
    }
    c->len += (size_t)n;
    if (c->state == ST_HANDLING) return;
    arm_idle(c);
    process(c);
}

/* ---- accepting ------------------------------------------------------------ */

/* Accepts the pending connection only to close it (limit reached, out of memory):
 * leaving it in the backlog would stall the listener. */
static void refuse_connection(sl_http_server_t *s, uv_stream_t *ls)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t == NULL || uv_tcp_init(s->loop, t) != 0) {
        free(t);
        SL_ERROR("http: cannot refuse a connection: out of memory");
        return;
    }
    t->data = s;
    s->handles++;
    if (uv_accept(ls, (uv_stream_t *)t) == 0)
        SL_WARN("http: %zu connections open (limits.max_connections), refusing one", s->conn_count);
    uv_close((uv_handle_t *)t, on_refused_closed);
}

static void format_peer(sl_http_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    strcpy(c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (uv_ip6_name(a, ip, sizeof(ip)) == 0)
            snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (uv_ip4_name(a, ip, sizeof(ip)) == 0)
            snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    }
}

static void accept_connection(sl_http_server_t *s, uv_stream_t *ls)
{
    sl_http_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || uv_tcp_init(s->loop, &c->tcp) != 0) {
        free(c);
        refuse_connection(s, ls);
        return;
    }
    c->server = s;
    c->id = sl_next_client_id();
    c->tcp.data = c;
    c->timer.data = c;
    c->state = ST_READ_HEAD;
    sl_list_init(&c->pending_link);
    sl_list_insert_tail(&s->conns, &c->link);
    s->conn_count++;
    c->handles = 1;
    s->handles++;
    if (uv_timer_init(s->loop, &c->timer) != 0) {
        refuse_connection(s, ls);
        sl_http_conn_close(c);
        return;
    }
    c->handles = 2;
    s->handles++;
    int r = uv_accept(ls, (uv_stream_t *)&c->tcp);
    if (r == 0) r = uv_tcp_nodelay(&c->tcp, 1);
    if (r == 0) {
        format_peer(c);
        r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (r != 0) {
        SL_WARN("http: cannot accept a connection: %s", uv_strerror(r));
        sl_http_conn_close(c);
        return;
    }
    arm_idle(c);
    SL_DEBUG("http: client %" PRIu64 " connected from %s", c->id, c->peer);
}

static void on_connection(uv_stream_t *ls, int status)
{
    listener_t *l = sl_container_of((uv_tcp_t *)ls, listener_t, tcp);
    sl_http_server_t *s = l->server;
    if (s->closing) return;
    if (status < 0) {
        SL_WARN("http: accept failed: %s", uv_strerror(status));
        return;
    }
    if (s->conn_count >= s->cfg->limits.max_connections) refuse_connection(s, ls);
    else accept_connection(s, ls);
}

int sl_http_server_listen(sl_http_server_t *s, const sl_listen_addr_t *addr)
{
    if (s->closing) return SL_ERR_CLOSED;
    const char *host = addr->host[0] ? addr->host : "0.0.0.0";
    bool v6 = strchr(host, ':') != NULL;
    struct sockaddr_storage ss;
    int r = v6 ? uv_ip6_addr(host, addr->port, (struct sockaddr_in6 *)&ss)
               : uv_ip4_addr(host, addr->port, (struct sockaddr_in *)&ss);
    if (r != 0) {
        SL_ERROR("http: cannot listen on %s:%u: %s", host, (unsigned)addr->port, uv_strerror(r));
        return SL_ERR_IO;
    }
    listener_t *l = calloc(1, sizeof(*l));
    if (l == NULL) return SL_ERR_NOMEM;
    l->server = s;
    r = uv_tcp_init(s->loop, &l->tcp);
    if (r != 0) {
        free(l);
        SL_ERROR("http: cannot listen on %s:%u: %s", host, (unsigned)addr->port, uv_strerror(r));
        return SL_ERR_IO;
    }
    s->handles++;
    /* IPv6 listeners take IPv6 only, so "0.0.0.0" and "::" can be listed together. */
    r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&l->tcp, HTTP_BACKLOG, on_connection);
    if (r != 0) {
        SL_ERROR("http: cannot listen on %s:%u: %s", host, (unsigned)addr->port, uv_strerror(r));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return SL_ERR_IO;
    }
    sl_list_insert_tail(&s->listeners, &l->link);
    SL_INFO("http: listening on %s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)addr->port);
    return SL_OK;
}

void sl_http_server_close(sl_http_server_t *s, void (*done)(void *arg), void *arg)
{
    if (s->closing) return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &s->listeners) {
        listener_t *l = sl_container_of(pos, listener_t, link);
        sl_list_remove(&l->link);
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    }
    sl_list_foreach_safe(pos, tmp, &s->conns) {
        sl_http_conn_close(sl_container_of(pos, sl_http_conn_t, link));
    }
    /* The pump is always open, so done() always runs from a close callback. */
    uv_close((uv_handle_t *)&s->pump, on_pump_closed);
}
