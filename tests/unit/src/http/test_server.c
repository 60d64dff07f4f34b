/* The HTTP server on a real libuv loop, driven by a client thread doing blocking
 * socket I/O. The loop runs in the test's thread; the client records what it saw
 * and the assertions run after both are done. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sluice/http.h"
#include "sluice/log.h"

#define BIG_BODY (1 << 20)
#define NRESP 4

typedef struct resp {
    int status;
    char head[4096];
    char body[8192];
    size_t body_len;
} resp_t;

typedef struct cli {
    int fd;
    int err; /* errno of the last failed recv, 0 on EOF */
    size_t len;
    char buf[1 << 16];
} cli_t;

typedef struct fx fx_t;
struct fx {
    uv_loop_t loop;
    sl_config_t cfg;
    sl_http_server_t *s;
    int port;
    bool v6;
    uv_async_t async;
    uv_timer_t poll, watchdog, later;
    pthread_t thread;
    void (*client)(fx_t *f);
    bool (*wait_for)(fx_t *f); /* checked on the loop before the server is closed */
    int poll_rounds;
    atomic_int go; /* the loop tells the client to carry on */
    bool signaled; /* the client has told the loop it is done (client thread only) */

    /* What the client saw. */
    resp_t r[NRESP];
    int nresp;
    bool eof;          /* the server closed the connection */
    bool refused_eof;  /* a connection over the limit was closed at once */
    char raw[16384];   /* everything read from a stream, head included */
    size_t raw_len;
    size_t big_bytes;
    long idle_ms;

    /* What the server side saw. */
    int requests;
    int done_calls;
    bool server_closing;
    sl_http_conn_t *conn;
    int step;
    int written[8];
    int nwritten;
    int busy_result;
    int second_respond;
    uint32_t shared_refs_after_respond;
    int on_close_calls;
    int async_closed;
    int ok_count;
    bool on_close_after_server_close;
    uint8_t *body;
    size_t body_len;
    char peer[64];
    uint64_t id;
    bool waited; /* wait_for became true before the deadline */
};

static char big[BIG_BODY];

/* ---- client side (its own thread) ---------------------------------------- */

static void cli_open(fx_t *f, cli_t *c)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (f->v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)f->port);
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)f->port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    c->len = 0;
    c->err = 0;
    if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0) c->err = errno;
}

static void cli_send(cli_t *c, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return;
        p += k;
        n -= (size_t)k;
    }
}

static void cli_sends(cli_t *c, const char *s) { cli_send(c, s, strlen(s)); }

/* Reads more bytes; false on EOF (err 0), error or timeout (err set). */
static bool cli_fill(cli_t *c)
{
    if (c->len == sizeof(c->buf)) return false;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n <= 0) {
        c->err = n == 0 ? 0 : errno;
        return false;
    }
    c->len += (size_t)n;
    return true;
}

static void cli_consume(cli_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* One response framed by Content-Length (none: no body). Returns its status or -1. */
static int cli_response(cli_t *c, resp_t *r)
{
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        if (!cli_fill(c)) return -1;
    size_t hl = (size_t)(end - c->buf) + 4;
    size_t copy = SL_MIN(hl, sizeof(r->head) - 1);
    memcpy(r->head, c->buf, copy);
    r->head[copy] = '\0';
    r->status = atoi(c->buf + 9);
    size_t cl = 0;
    const char *p = strcasestr(r->head, "\r\nContent-Length: ");
    if (p) cl = strtoul(p + 18, NULL, 10);
    while (c->len < hl + cl)
        if (!cli_fill(c)) return -1;
    r->body_len = SL_MIN(cl, sizeof(r->body) - 1);
    memcpy(r->body, c->buf + hl, r->body_len);
    r->body[r->body_len] = '\0';
    cli_consume(c, hl + cl);
    return r->status;
}

static void cli_record(fx_t *f, cli_t *c)
{
    if (f->nresp < NRESP) cli_response(c, &f->r[f->nresp++]);
}

/* Waits for the server to close; true on EOF or reset with nothing more sent. */
static bool cli_closed(cli_t *c)
{
    while (cli_fill(c)) {}
    return c->err == 0 || c->err == ECONNRESET;
}

/* Once only: the loop closes the async handle when it hears it. */
static void signal_loop(fx_t *f)
{
    if (f->signaled) return;
    f->signaled = true;
    uv_async_send(&f->async);
}

static void *client_main(void *arg)
{
    fx_t *f = arg;
    f->client(f);
    signal_loop(f);
    return NULL;
}

/* ---- server side --------------------------------------------------------- */

static void stream_next(fx_t *f);

static void on_stream_written(void *arg, int status)
{
    fx_t *f = arg;
    if (f->nwritten < 8) f->written[f->nwritten++] = status;
    f->step++;
    stream_next(f);
}

/* Writes as a viewer does: a chunk the socket took at once is done (on_written is
 * not called); a queued one ends in on_written. Records a refusal as 1000 + error. */
static void stream_write(fx_t *f, sl_http_conn_t *c, uv_buf_t *b, unsigned n, void (*on_written)(void *, int))
{
    int r = sl_http_stream_write(c, b, n, on_written, f);
    if (r == SL_HTTP_WRITTEN) on_written(f, 0);
    else if (r != SL_HTTP_QUEUED && f->nwritten < 8) f->written[f->nwritten++] = 1000 + r;
}

static void stream_next(fx_t *f)
{
    static const char hello[] = "hello", ab[] = "ab", rest[] = "cdefghijklmnopq";
    uv_buf_t b[20];
    switch (f->step) {
    case 0:
        b[0] = uv_buf_init((char *)hello, 5);
        stream_write(f, f->conn, b, 1, on_stream_written);
        break;
    case 1: /* nothing to send: no chunk (it would end the stream), queued all the same */
        b[0] = uv_buf_init((char *)hello, 0);
        b[1] = uv_buf_init(NULL, 0);
        if (sl_http_stream_write(f->conn, b, 2, on_stream_written, f) != SL_HTTP_QUEUED) f->written[f->nwritten++] = -1;
        b[0] = uv_buf_init((char *)hello, 5);
        f->busy_result = sl_http_stream_write(f->conn, b, 1, on_stream_written, f);
        break;
    case 2:
        b[0] = uv_buf_init((char *)ab, 2);
        b[1] = uv_buf_init((char *)hello, 0);
        b[2] = uv_buf_init((char *)rest, 15);
        stream_write(f, f->conn, b, 3, on_stream_written);
        break;
    case 3: /* more buffers than fit the connection's iovec array on the stack */
        for (int i = 0; i < 20; i++) b[i] = uv_buf_init((char *)"x", 1);
        stream_write(f, f->conn, b, 20, on_stream_written);
        break;
    default:
        sl_http_stream_end(f->conn);
        break;
    }
}

static void on_stream_close(void *arg)
{
    fx_t *f = arg;
    f->on_close_calls++;
    f->on_close_after_server_close = f->server_closing;
    f->conn = NULL;
}

static void on_hold_written(void *arg, int status)
{
    fx_t *f = arg;
    if (f->nwritten < 8) f->written[f->nwritten++] = status;
}

static void on_written_close(void *arg, int status)
{
    fx_t *f = arg;
    if (f->nwritten < 8) f->written[f->nwritten++] = status;
    sl_http_conn_close(f->conn);
}

static void on_later(uv_timer_t *t)
{
    fx_t *f = t->data;
    f->second_respond = sl_http_respond(f->conn, 200, "text/plain", "async", 5);
    uv_close((uv_handle_t *)t, NULL);
}

/* The client left before the late answer: the answer must not be sent. */
static void on_async_close(void *arg)
{
    fx_t *f = arg;
    f->async_closed++;
    f->conn = NULL;
    if (!uv_is_closing((uv_handle_t *)&f->later)) uv_close((uv_handle_t *)&f->later, NULL);
}

static int start_stream(fx_t *f, sl_http_conn_t *c)
{
    int r = sl_http_stream_begin(c, 200, "video/x-flv", on_stream_close, f);
    if (r != SL_OK) return r;
    f->conn = c;
    return SL_OK;
}

static int test_handler(void *arg, sl_http_conn_t *c, const sl_http_request_t *req)
{
    fx_t *f = arg;
    const char *p = req->path;
    f->requests++;
    if (strcmp(p, "/hello") == 0) {
        snprintf(f->peer, sizeof(f->peer), "%s", sl_http_conn_peer(c));
        f->id = sl_http_conn_id(c);
        return sl_http_respond(c, 200, "text/plain", "hello", 5);
    }
    if (strcmp(p, "/echo") == 0) {
        free(f->body);
        f->body = malloc(req->body_len + 1);
        memcpy(f->body, req->body ? (const void *)req->body : "", req->body_len);
        f->body_len = req->body_len;
        char txt[32];
        int n = snprintf(txt, sizeof(txt), "%zu", req->body_len);
        return sl_http_respond(c, 200, "text/plain", txt, (size_t)n);
    }
    if (strcmp(p, "/stream") == 0) {
        int r = start_stream(f, c);
        if (r == SL_OK) stream_next(f);
        return r;
    }
    if (strcmp(p, "/hold") == 0) {
        static const char live[] = "live";
        uv_buf_t b = uv_buf_init((char *)live, 4);
        int r = start_stream(f, c);
        if (r != SL_OK) return r;
        stream_write(f, c, &b, 1, on_hold_written);
        return SL_OK;
    }
    if (strcmp(p, "/close-in-written") == 0) {
        /* An empty chunk is always queued, so on_written runs from the loop. */
        uv_buf_t b = uv_buf_init((char *)"x", 0);
        int r = start_stream(f, c);
        if (r == SL_OK) r = sl_http_stream_write(c, &b, 1, on_written_close, f) == SL_HTTP_QUEUED ? SL_OK : SL_ERR_IO;
        return r;
    }
    if (strcmp(p, "/async") == 0 || strcmp(p, "/async-slow") == 0) {
        f->conn = c;
        f->later.data = f;
        sl_http_conn_on_close(c, on_async_close, f);
        uv_timer_init(&f->loop, &f->later);
        uv_timer_start(&f->later, on_later, strcmp(p, "/async") == 0 ? 50 : 10000, 0);
        return SL_OK;
    }
    if (strcmp(p, "/big") == 0) return sl_http_respond(c, 200, "application/octet-stream", big, sizeof(big));
    if (strcmp(p, "/close") == 0) {
        sl_http_conn_close(c);
        return SL_OK;
    }
    if (strcmp(p, "/fail") == 0) return SL_ERR_NOMEM;
    if (strcmp(p, "/twice") == 0) {
        int r = sl_http_respond_error(c, 403, "go away");
        f->second_respond = sl_http_respond(c, 200, NULL, "x", 1);
        return r;
    }
    if (strcmp(p, "/location") == 0)
        return sl_http_respond_ex(c, 201, "application/sdp", "Location: /res/1\r\n", "v=0\r\n", 5);
    if (strcmp(p, "/shared") == 0) {
        /* The body goes by reference: the connection holds it until written. */
        sl_buf_t *b = sl_buf_from("segment", 7);
        int r = sl_http_respond_buf(c, 200, "video/mp2t", "Cache-Control: max-age=60\r\n", b);
        f->shared_refs_after_respond = b->refcnt;
        sl_buf_unref(b);
        return r;
    }
    if (strcmp(p, "/opt") == 0 && strcmp(req->method, "OPTIONS") == 0)
        return sl_http_respond(c, 200, "text/plain", "opt", 3);
    return SL_ERR_NOT_FOUND;
}

/* ---- harness -------------------------------------------------------------- */

static fx_t *fx_new(void)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->cfg.limits.max_connections = 100;
    f->cfg.limits.http_max_header_bytes = 16384;
    f->cfg.limits.http_max_body_bytes = 1048576;
    f->cfg.limits.idle_timeout_ms = 5000;
    strcpy(f->cfg.http.cors_origin, "*");
    return f;
}

static void fx_free(fx_t *f)
{
    free(f->body);
    free(f);
}

static int free_port(bool v6)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    ss.ss_family = v6 ? AF_INET6 : AF_INET;
    if (v6) ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
    else ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    close(fd);
    return ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

static void on_done(void *arg)
{
    fx_t *f = arg;
    f->done_calls++;
    f->s = NULL;
}

static void close_server(fx_t *f)
{
    f->server_closing = true;
    sl_http_server_close(f->s, on_done, f);
}

static void on_poll(uv_timer_t *t)
{
    fx_t *f = t->data;
    bool ok = f->wait_for(f);
    if (!ok && ++f->poll_rounds < 1000) return;
    f->waited = ok;
    uv_close((uv_handle_t *)t, NULL);
    atomic_store(&f->go, 1);
    close_server(f);
}

static void on_client_done(uv_async_t *a)
{
    fx_t *f = a->data;
    uv_close((uv_handle_t *)a, NULL);
    if (f->wait_for == NULL) {
        close_server(f);
        return;
    }
    f->poll.data = f;
    uv_timer_init(&f->loop, &f->poll);
    uv_timer_start(&f->poll, on_poll, 5, 5);
}

static void on_watchdog(uv_timer_t *t)
{
    fprintf(stderr, "test_server: the loop hangs\n");
    abort();
}

/* Starts the server, runs the client thread against it, and returns once the
 * client is done, the server closed and every handle gone. */
static void fx_run(fx_t *f, void (*client)(fx_t *f))
{
    f->s = sl_http_server_new(&f->loop, &f->cfg);
    assert_non_null(f->s);
    assert_int_equal(sl_http_server_add_handler(f->s, test_handler, f), SL_OK);
    f->port = free_port(f->v6);
    sl_listen_addr_t a;
    strcpy(a.host, f->v6 ? "::1" : "127.0.0.1");
    a.port = (uint16_t)f->port;
    assert_int_equal(sl_http_server_listen(f->s, &a), SL_OK);
    f->async.data = f;
    assert_int_equal(uv_async_init(&f->loop, &f->async, on_client_done), 0);
    uv_timer_init(&f->loop, &f->watchdog);
    uv_timer_start(&f->watchdog, on_watchdog, 20000, 0);
    uv_unref((uv_handle_t *)&f->watchdog);
    f->client = client;
    assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(f->thread, NULL);
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void assert_has(const char *head, const char *line)
{
    if (strstr(head, line) == NULL) fail_msg("missing \"%s\" in:\n%s", line, head);
}

static void assert_lacks(const char *head, const char *line)
{
    if (strstr(head, line) != NULL) fail_msg("unexpected \"%s\" in:\n%s", line, head);
}

/* ---- tests -------------------------------------------------------------------- */

static void client_get_hello(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    cli_record(f, c);
    close(c->fd);
    free(c);
}

static void test_get_200(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_get_hello);
    resp_t *r = &f->r[0];
    assert_int_equal(r->status, 200);
    assert_true(strncmp(r->head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_has(r->head, "\r\nServer: sluice/" SLUICE_VERSION "\r\n");
    assert_has(r->head, "\r\nContent-Type: text/plain\r\n");
    assert_has(r->head, "\r\nContent-Length: 5\r\n");
    assert_has(r->head, "\r\nConnection: keep-alive\r\n");
    assert_has(r->head, "\r\nAccess-Control-Allow-Origin: *\r\n");
    assert_has(r->head, "\r\nAccess-Control-Expose-Headers: *\r\n");
    assert_has(r->head, "\r\nDate: ");
    assert_string_equal(r->body, "hello");
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:");
    assert_true(strncmp(f->peer, want, strlen(want)) == 0);
    assert_true(f->id > 0);
    fx_free(f);
}

static void test_get_ipv6_no_cors(void **state)
{
    fx_t *f = fx_new();
    f->v6 = true;
    f->cfg.http.cors_origin[0] = '\0';
    fx_run(f, client_get_hello);
    assert_int_equal(f->r[0].status, 200);
    assert_lacks(f->r[0].head, "Access-Control");
    assert_true(strncmp(f->peer, "[::1]:", 6) == 0);
    fx_free(f);
}

static void client_keep_alive(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    cli_record(f, c);
    cli_sends(c, "GET /nothing HTTP/1.1\r\n\r\n");
    cli_record(f, c);
    cli_sends(c, "HEAD /hello HTTP/1.1\r\n\r\n");
    /* No body may follow a HEAD answer: the next response must start right after. */
    cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    resp_t *r = &f->r[f->nresp++];
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL && cli_fill(c)) {}
    if (end) {
        size_t hl = (size_t)(end - c->buf) + 4;
        memcpy(r->head, c->buf, hl);
        r->status = atoi(c->buf + 9);
        cli_consume(c, hl);
    }
    cli_record(f, c);
    close(c->fd);
    free(c);
}

static void test_keep_alive(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_keep_alive);
    assert_int_equal(f->nresp, 4);
    assert_int_equal(f->r[0].status, 200);
    assert_string_equal(f->r[0].body, "hello");
    assert_int_equal(f->r[1].status, 404);
    assert_string_equal(f->r[1].body, "404 Not Found\n");
    assert_has(f->r[1].head, "\r\nContent-Type: text/plain\r\n");
    assert_has(f->r[1].head, "\r\nServer: sluice/");
    assert_int_equal(f->r[2].status, 200);
    assert_has(f->r[2].head, "\r\nContent-Length: 5\r\n");
    assert_int_equal(f->r[3].status, 200);
    assert_string_equal(f->r[3].body, "hello");
    assert_int_equal(f->requests, 4);
    fx_free(f);
}

static void client_pipelined(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /hello HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                 "GET /missing HTTP/1.1\r\n\r\n");
    cli_record(f, c);
    cli_record(f, c);
    cli_record(f, c);
    close(c->fd);
    free(c);
}

static void test_pipelined(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_pipelined);
    assert_int_equal(f->r[0].status, 200);
    assert_string_equal(f->r[0].body, "hello");
    assert_int_equal(f->r[1].status, 200);
    assert_string_equal(f->r[1].body, "3");
    assert_int_equal(f->r[2].status, 404);
    assert_int_equal(f->body_len, 3);
    assert_memory_equal(f->body, "abc", 3);
    fx_free(f);
}

static void client_async_pipelined(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /async HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    cli_record(f, c);
    cli_record(f, c);
    close(c->fd);
    free(c);
}

static void test_async_then_pipelined(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_async_pipelined);
    assert_int_equal(f->second_respond, SL_OK);
    assert_int_equal(f->r[0].status, 200);
    assert_string_equal(f->r[0].body, "async");
    assert_int_equal(f->r[1].status, 200);
    assert_string_equal(f->r[1].body, "hello");
    assert_int_equal(f->async_closed, 0);
    fx_free(f);
}

/* While a handler works, the next requests fill the read buffer: reading pauses,
 * then resumes with the answer, and every request is served in order. */
static void client_floods_during_async(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    char pad[1001];
    memset(pad, 'p', 1000);
    pad[1000] = '\0';
    char *reqs = malloc(41 * 1100);
    size_t n = (size_t)sprintf(reqs, "GET /async HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 40; i++) n += (size_t)sprintf(reqs + n, "GET /hello HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
    cli_send(c, reqs, n);
    free(reqs);
    resp_t r;
    if (cli_response(c, &r) == 200 && strcmp(r.body, "async") == 0) f->ok_count++;
    for (int i = 0; i < 40; i++)
        if (cli_response(c, &r) == 200 && strcmp(r.body, "hello") == 0) f->ok_count++;
    close(c->fd);
    free(c);
}

static void test_read_pauses_while_handling(void **state)
{
    fx_t *f = fx_new();
    f->cfg.limits.http_max_header_bytes = 4096;
    fx_run(f, client_floods_during_async);
    assert_int_equal(f->ok_count, 41);
    assert_int_equal(f->requests, 41);
    fx_free(f);
}

static void client_leaves_early(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /async-slow HTTP/1.1\r\n\r\n");
    usleep(50000);
    close(c->fd);
    free(c);
}

static bool async_closed(fx_t *f) { return f->async_closed > 0; }

static void test_async_client_leaves(void **state)
{
    fx_t *f = fx_new();
    f->wait_for = async_closed;
    fx_run(f, client_leaves_early);
    assert_true(f->waited);
    assert_int_equal(f->async_closed, 1);
    assert_int_equal(f->second_respond, 0);
    fx_free(f);
}

/* Sends one request and records the answer and whether the server then closed. */
static const char *one_request;

static void client_one(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, one_request);
    cli_record(f, c);
    f->eof = cli_closed(c);
    close(c->fd);
    free(c);
}

static fx_t *run_one(const char *request)
{
    fx_t *f = fx_new();
    f->cfg.limits.idle_timeout_ms = 1000;
    one_request = request;
    fx_run(f, client_one);
    return f;
}

static void expect_refused(const char *request, int status, const char *body)
{
    fx_t *f = run_one(request);
    assert_int_equal(f->r[0].status, status);
    assert_string_equal(f->r[0].body, body);
    assert_has(f->r[0].head, "\r\nConnection: close\r\n");
    assert_has(f->r[0].head, "\r\nAccess-Control-Allow-Origin: *\r\n");
    assert_true(f->eof);
    assert_int_equal(f->requests, 0);
    fx_free(f);
}

static void test_garbage_400(void **state)
{
    expect_refused("\x16\x03\x01 garbage\r\n\r\n", 400, "400 Bad Request\n");
    expect_refused("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400, "400 Bad Request\n");
}

static void test_version_505(void **state)
{
    expect_refused("GET /hello HTTP/2.0\r\n\r\n", 505, "505 HTTP Version Not Supported\n");
}

static void test_chunked_411(void **state)
{
    expect_refused("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 411,
                   "411 Length Required\n");
}

static void test_big_body_413(void **state)
{
    expect_refused("POST /echo HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413, "413 Content Too Large\n");
}

/* The client goes on uploading after the refusal and reads only later: it still
 * gets the 413, then an orderly close. */
static void client_uploads_anyway(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n");
    char chunk[16384];
    memset(chunk, 'u', sizeof(chunk));
    for (int i = 0; i < 8; i++) cli_send(c, chunk, sizeof(chunk));
    usleep(200000);
    cli_record(f, c);
    f->eof = cli_closed(c);
    close(c->fd);
    free(c);
}

static void test_refusal_survives_unread_upload(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_uploads_anyway);
    assert_int_equal(f->r[0].status, 413);
    assert_string_equal(f->r[0].body, "413 Content Too Large\n");
    assert_true(f->eof);
    fx_free(f);
}

static char *big_header_request(size_t n)
{
    char *req = malloc(n + 64);
    size_t k = (size_t)sprintf(req, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(req + k, 'a', n);
    strcpy(req + k + n, "\r\n\r\n");
    return req;
}

static void test_big_header_431(void **state)
{
    char *req = big_header_request(20000);
    expect_refused(req, 431, "431 Request Header Fields Too Large\n");
    free(req);
    /* Just under the limit is fine. */
    req = big_header_request(16000);
    fx_t *f = run_one(req);
    assert_int_equal(f->r[0].status, 200);
    fx_free(f);
    free(req);
}

static void test_long_uri_414(void **state)
{
    char req[4000];
    size_t k = (size_t)sprintf(req, "GET /");
    memset(req + k, 'p', 3000);
    strcpy(req + k + 3000, " HTTP/1.1\r\n\r\n");
    expect_refused(req, 414, "414 URI Too Long\n");
    /* A long query is one too. */
    k = (size_t)sprintf(req, "GET /a?");
    memset(req + k, 'q', 2100);
    strcpy(req + k + 2100, " HTTP/1.1\r\n\r\n");
    expect_refused(req, 414, "414 URI Too Long\n");
}

static void test_http10_closes(void **state)
{
    fx_t *f = run_one("GET /hello HTTP/1.0\r\n\r\n");
    assert_int_equal(f->r[0].status, 200);
    assert_string_equal(f->r[0].body, "hello");
    assert_has(f->r[0].head, "\r\nConnection: close\r\n");
    assert_true(f->eof);
    fx_free(f);
    f = run_one("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 200);
    assert_has(f->r[0].head, "\r\nConnection: close\r\n");
    assert_true(f->eof);
    fx_free(f);
}

static void test_handler_errors(void **state)
{
    fx_t *f = run_one("GET /fail HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 500);
    assert_string_equal(f->r[0].body, "500 Internal Server Error\n");
    fx_free(f);
    f = run_one("GET /twice HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 403);
    assert_string_equal(f->r[0].body, "go away\n");
    assert_int_equal(f->second_respond, SL_ERR_BUSY);
    fx_free(f);
    /* Closed inside the handler: nothing is sent. */
    f = run_one("GET /close HTTP/1.1\r\n\r\n");
    assert_int_equal(f->r[0].status, 0);
    assert_true(f->eof);
    fx_free(f);
}

static void test_extra_headers(void **state)
{
    fx_t *f = run_one("POST /location HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 201);
    assert_has(f->r[0].head, "\r\nLocation: /res/1\r\n");
    assert_has(f->r[0].head, "\r\nContent-Type: application/sdp\r\n");
    assert_string_equal(f->r[0].body, "v=0\r\n");
    fx_free(f);
}

static void test_shared_body(void **state)
{
    fx_t *f = run_one("GET /shared HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 200);
    assert_int_equal(f->shared_refs_after_respond, 2);
    assert_has(f->r[0].head, "\r\nContent-Length: 7\r\n");
    assert_has(f->r[0].head, "\r\nCache-Control: max-age=60\r\n");
    assert_string_equal(f->r[0].body, "segment");
    fx_free(f);
}

static void test_options(void **state)
{
    fx_t *f = run_one("OPTIONS /live/x/whip HTTP/1.1\r\nOrigin: http://a\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 204);
    assert_has(f->r[0].head, "\r\nAccess-Control-Allow-Origin: *\r\n");
    assert_has(f->r[0].head, "\r\nAccess-Control-Allow-Methods: GET, POST, DELETE, PATCH, OPTIONS\r\n");
    assert_has(f->r[0].head, "\r\nAccess-Control-Allow-Headers: *");
    assert_has(f->r[0].head, "\r\nAccess-Control-Max-Age: 86400\r\n");
    assert_lacks(f->r[0].head, "Content-Length");
    assert_int_equal(f->requests, 1);
    fx_free(f);
    /* A handler sees OPTIONS first. */
    f = run_one("OPTIONS /opt HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->r[0].status, 200);
    assert_string_equal(f->r[0].body, "opt");
    fx_free(f);
}

static char post_body[200000];

static void client_post(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    char head[128];
    snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof(post_body));
    cli_sends(c, head);
    /* The body trickles in, in pieces. */
    size_t sent = 0, piece = 70001;
    while (sent < sizeof(post_body)) {
        size_t n = SL_MIN(piece, sizeof(post_body) - sent);
        usleep(20000);
        cli_send(c, post_body + sent, n);
        sent += n;
    }
    cli_record(f, c);
    /* With Expect: 100-continue the server invites the body first. */
    cli_sends(c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    cli_record(f, c);
    cli_sends(c, "wxyz");
    cli_record(f, c);
    close(c->fd);
    free(c);
}

static void test_post_body_whole(void **state)
{
    for (size_t i = 0; i < sizeof(post_body); i++) post_body[i] = (char)(i * 7 + i / 251);
    fx_t *f = fx_new();
    fx_run(f, client_post);
    assert_int_equal(f->r[0].status, 200);
    assert_string_equal(f->r[0].body, "200000");
    assert_int_equal(f->r[1].status, 100);
    assert_string_equal(f->r[1].head, "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(f->r[2].status, 200);
    assert_string_equal(f->r[2].body, "4");
    assert_int_equal(f->body_len, 4);
    assert_memory_equal(f->body, "wxyz", 4);
    assert_int_equal(f->requests, 2);
    fx_free(f);
}

/* Reads a whole stream until the server closes. */
static void client_stream(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, one_request);
    f->eof = cli_closed(c);
    f->raw_len = SL_MIN(c->len, sizeof(f->raw) - 1);
    memcpy(f->raw, c->buf, f->raw_len);
    f->raw[f->raw_len] = '\0';
    close(c->fd);
    free(c);
}

static const char *stream_body(fx_t *f)
{
    const char *end = strstr(f->raw, "\r\n\r\n");
    assert_non_null(end);
    return end + 4;
}

static void test_stream(void **state)
{
    fx_t *f = fx_new();
    one_request = "GET /stream HTTP/1.1\r\n\r\n";
    fx_run(f, client_stream);
    assert_true(f->eof);
    assert_true(strncmp(f->raw, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_has(f->raw, "\r\nContent-Type: video/x-flv\r\n");
    assert_has(f->raw, "\r\nTransfer-Encoding: chunked\r\n");
    assert_has(f->raw, "\r\nCache-Control: no-cache\r\n");
    assert_has(f->raw, "\r\nConnection: close\r\n");
    assert_has(f->raw, "\r\nAccess-Control-Allow-Origin: *\r\n");
    assert_lacks(f->raw, "Content-Length");
    assert_string_equal(stream_body(f), "5\r\nhello\r\n"
                                        "11\r\nabcdefghijklmnopq\r\n"
                                        "14\r\nxxxxxxxxxxxxxxxxxxxx\r\n"
                                        "0\r\n\r\n");
    assert_int_equal(f->busy_result, SL_ERR_BUSY);
    assert_int_equal(f->nwritten, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(f->written[i], 0);
    assert_int_equal(f->on_close_calls, 1);
    assert_false(f->on_close_after_server_close);
    fx_free(f);
}

static void test_stream_http10_and_head(void **state)
{
    /* HTTP/1.0 has no chunked coding: raw bytes, the close ends them. */
    fx_t *f = fx_new();
    one_request = "GET /stream HTTP/1.0\r\n\r\n";
    fx_run(f, client_stream);
    assert_true(f->eof);
    assert_lacks(f->raw, "Transfer-Encoding");
    assert_string_equal(stream_body(f), "helloabcdefghijklmnopqxxxxxxxxxxxxxxxxxxxx");
    assert_int_equal(f->on_close_calls, 1);
    fx_free(f);
    /* HEAD: the head only, then on_close. */
    f = fx_new();
    one_request = "HEAD /hold HTTP/1.1\r\n\r\n";
    fx_run(f, client_stream);
    assert_true(f->eof);
    assert_has(f->raw, "\r\nTransfer-Encoding: chunked\r\n");
    assert_string_equal(stream_body(f), "");
    assert_int_equal(f->on_close_calls, 1);
    assert_int_equal(f->written[0], 1000 + SL_ERR_CLOSED);
    fx_free(f);
}

static void client_leaves_stream(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /hold HTTP/1.1\r\n\r\n");
    while (memmem(c->buf, c->len, "4\r\nlive\r\n", 9) == NULL && cli_fill(c)) {}
    f->raw_len = c->len;
    close(c->fd);
    free(c);
}

static bool stream_closed(fx_t *f) { return f->on_close_calls > 0; }

static void test_client_leaves_stream(void **state)
{
    fx_t *f = fx_new();
    f->wait_for = stream_closed;
    fx_run(f, client_leaves_stream);
    assert_true(f->waited);
    assert_int_equal(f->on_close_calls, 1);
    assert_false(f->on_close_after_server_close);
    assert_int_equal(f->nwritten, 1);
    assert_int_equal(f->written[0], 0);
    fx_free(f);
}

static void client_junk_during_stream(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /hold HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    char junk[4096];
    memset(junk, 'j', sizeof(junk));
    for (int i = 0; i < 8; i++) cli_send(c, junk, sizeof(junk));
    f->eof = cli_closed(c);
    close(c->fd);
    free(c);
}

static void test_junk_during_stream(void **state)
{
    fx_t *f = fx_new();
    f->cfg.limits.http_max_header_bytes = 8192;
    fx_run(f, client_junk_during_stream);
    assert_true(f->eof);
    assert_int_equal(f->on_close_calls, 1);
    assert_false(f->on_close_after_server_close);
    assert_int_equal(f->requests, 1);
    fx_free(f);
}

static void client_close_in_written(fx_t *f)
{
    one_request = "GET /close-in-written HTTP/1.1\r\n\r\n";
    client_stream(f);
}

static void test_close_inside_on_written(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_close_in_written);
    assert_true(f->eof);
    assert_int_equal(f->on_close_calls, 1);
    assert_int_equal(f->nwritten, 1);
    assert_int_equal(f->written[0], 0);
    fx_free(f);
}

static void client_server_closes_stream(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    cli_sends(c, "GET /hold HTTP/1.1\r\n\r\n");
    while (memmem(c->buf, c->len, "4\r\nlive\r\n", 9) == NULL && cli_fill(c)) {}
    /* Let the loop close the server while the stream is open. */
    signal_loop(f);
    f->eof = cli_closed(c);
    close(c->fd);
    free(c);
}

static void test_server_close_with_stream(void **state)
{
    fx_t *f = fx_new();
    fx_run(f, client_server_closes_stream);
    assert_true(f->eof);
    assert_int_equal(f->on_close_calls, 1);
    assert_true(f->on_close_after_server_close);
    assert_int_equal(f->done_calls, 1);
    fx_free(f);
}

static void client_never_reads(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    cli_open(f, c);
    int rcv = 65536;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    char reqs[32 * 24 + 1] = "";
    for (int i = 0; i < 32; i++) strcat(reqs, "GET /big HTTP/1.1\r\n\r\n");
    cli_sends(c, reqs);
    signal_loop(f);
    while (!atomic_load(&f->go)) usleep(1000);
    while (cli_fill(c)) {
        f->big_bytes += c->len;
        c->len = 0;
    }
    f->eof = c->err == 0 || c->err == ECONNRESET;
    close(c->fd);
    free(c);
}

static bool no_connections(fx_t *f) { return sl_http_server_conn_count(f->s) == 0; }

static void test_write_queue_bounded(void **state)
{
    fx_t *f = fx_new();
    f->wait_for = no_connections;
    fx_run(f, client_never_reads);
    assert_true(f->waited);
    assert_true(f->eof);
    assert_true(f->requests < 32);
    assert_true(f->big_bytes < (size_t)32 * BIG_BODY);
    fx_free(f);
}

static void client_idle(fx_t *f)
{
    cli_t *c = malloc(sizeof(*c));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cli_open(f, c);
    cli_sends(c, "GET /hello HTTP/1.1\r\n"); /* and nothing more */
    f->eof = cli_closed(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    f->idle_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    f->raw_len = c->len;
    close(c->fd);
    free(c);
}

static void test_idle_timeout(void **state)
{
    fx_t *f = fx_new();
    f->cfg.limits.idle_timeout_ms = 200;
    fx_run(f, client_idle);
    assert_true(f->eof);
    assert_int_equal(f->raw_len, 0);
    assert_true(f->idle_ms >= 150);
    assert_true(f->idle_ms < 3000);
    fx_free(f);
}

static void client_max_conns(fx_t *f)
{
    cli_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    cli_open(f, a);
    cli_sends(a, "GET /hello HTTP/1.1\r\n\r\n");
    cli_record(f, a);
    cli_open(f, b);
    cli_sends(b, "GET /hello HTTP/1.1\r\n\r\n");
    f->refused_eof = cli_closed(b) && b->len == 0;
    cli_sends(a, "GET /hello HTTP/1.1\r\n\r\n");
    cli_record(f, a);
    close(a->fd);
    close(b->fd);
    free(a);
    free(b);
}

static void test_max_connections(void **state)
{
    fx_t *f = fx_new();
    f->cfg.limits.max_connections = 1;
    fx_run(f, client_max_conns);
    assert_true(f->refused_eof);
    assert_int_equal(f->r[0].status, 200);
    assert_int_equal(f->r[1].status, 200);
    assert_int_equal(f->requests, 2);
    fx_free(f);
}

static void on_listen_fail_done(void *arg) { (*(int *)arg)++; }

static void test_listen_failure(void **state)
{
    uv_loop_t loop;
    sl_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(uv_loop_init(&loop), 0);
    sl_http_server_t *s = sl_http_server_new(&loop, &cfg);
    assert_non_null(s);
    /* A port someone else listens on. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    sl_listen_addr_t addr;
    strcpy(addr.host, "127.0.0.1");
    addr.port = ntohs(a.sin_port);
    assert_int_equal(sl_http_server_listen(s, &addr), SL_ERR_IO);
    strcpy(addr.host, "not-an-address");
    assert_int_equal(sl_http_server_listen(s, &addr), SL_ERR_IO);
    int done = 0;
    sl_http_server_close(s, on_listen_fail_done, &done);
    assert_int_equal(done, 0); /* only from a close callback */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(done, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fd);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_200),
        cmocka_unit_test(test_get_ipv6_no_cors),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_async_then_pipelined),
        cmocka_unit_test(test_async_client_leaves),
        cmocka_unit_test(test_read_pauses_while_handling),
        cmocka_unit_test(test_garbage_400),
        cmocka_unit_test(test_version_505),
        cmocka_unit_test(test_chunked_411),
        cmocka_unit_test(test_big_body_413),
        cmocka_unit_test(test_refusal_survives_unread_upload),
        cmocka_unit_test(test_big_header_431),
        cmocka_unit_test(test_long_uri_414),
        cmocka_unit_test(test_http10_closes),
        cmocka_unit_test(test_handler_errors),
        cmocka_unit_test(test_extra_headers),
        cmocka_unit_test(test_shared_body),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_post_body_whole),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stream_http10_and_head),
        cmocka_unit_test(test_client_leaves_stream),
        cmocka_unit_test(test_junk_during_stream),
        cmocka_unit_test(test_close_inside_on_written),
        cmocka_unit_test(test_server_close_with_stream),
        cmocka_unit_test(test_write_queue_bounded),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_listen_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
