#include "protocols/relay/link.h"

#include <stdio.h>
#include <stdlib.h>

struct sl_relay_link {
    uv_loop_t *loop;
    sl_conn_t *conn; /* NULL once closed */
    const sl_relay_link_ops_t *ops;
    void *arg;
    uint16_t port;
    int refs; /* the resolve in flight and the TCP handle each hold the link */
    bool closed, connected, writing, tcp_open, resolving;
    uv_getaddrinfo_t resolve;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write_req;
    sl_bytes_t out, inflight;
};

static void unref(sl_relay_link_t *l)
{
    if (--l->refs > 0) return;
    sl_bytes_free(&l->out);
    sl_bytes_free(&l->inflight);
    free(l);
}

static void on_tcp_closed(uv_handle_t *h) { unref(h->data); }

void sl_relay_link_close(sl_relay_link_t *l)
{
    if (l == NULL || l->closed) return;
    l->closed = true;
    l->conn = NULL;
    if (l->tcp_open) uv_close((uv_handle_t *)&l->tcp, on_tcp_closed);
    l->tcp_open = false;
    /* A resolve cannot be stopped once a worker runs it: on_resolved drops its
     * reference either way. */
    if (l->resolving) (void)uv_cancel((uv_req_t *)&l->resolve);
    unref(l);
}

/* Reports the end to the owner, once, and closes. */
static void go_down(sl_relay_link_t *l, const char *why)
{
    if (l->closed) return;
    const sl_relay_link_ops_t *ops = l->ops;
    void *arg = l->arg;
    sl_relay_link_close(l);
    ops->on_down(arg, why);
}

static void on_written(uv_write_t *req, int status)
{
    sl_relay_link_t *l = req->data;
    l->writing = false;
    l->inflight.len = 0;
    if (l->closed) return;
    if (status < 0) {
        go_down(l, uv_strerror(status));
        return;
    }
    if (sl_relay_link_flush(l) != SL_OK) go_down(l, "write failed");
}

int sl_relay_link_flush(sl_relay_link_t *l)
{
    if (l->closed || !l->connected || l->writing || l->out.len == 0) return SL_OK;
    sl_bytes_t t = l->inflight;
    l->inflight = l->out;
    l->out = t;
    l->out.len = 0;
    uv_buf_t b = uv_buf_init((char *)l->inflight.data, (unsigned)l->inflight.len);
    l->write_req.data = l;
    if (uv_write(&l->write_req, (uv_stream_t *)&l->tcp, &b, 1, on_written) != 0) return SL_ERR_IO;
    l->writing = true;
    l->conn->bytes_out += b.len;
    return SL_OK;
}

int sl_relay_link_peer(const sl_relay_link_t *l, struct sockaddr_storage *out)
{
    int len = sizeof(*out);
    if (!l->connected || l->closed) return SL_ERR_AGAIN;
    return uv_tcp_getpeername(&l->tcp, (struct sockaddr *)out, &len) == 0 ? SL_OK : SL_ERR_AGAIN;
}

sl_bytes_t *sl_relay_link_out(sl_relay_link_t *l) { return &l->out; }

size_t sl_relay_link_pending(const sl_relay_link_t *l) { return l->out.len + l->inflight.len; }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char mem[65536];
    *buf = uv_buf_init(mem, sizeof(mem));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sl_relay_link_t *l = s->data;
    if (n == 0 || l->closed) return;
    if (n < 0) {
        go_down(l, n == UV_EOF ? "the server closed the connection" : uv_strerror((int)n));
        return;
    }
    l->conn->bytes_in += (uint64_t)n;
    l->ops->on_data(l->arg, (const uint8_t *)buf->base, (size_t)n);
}

static void on_connected(uv_connect_t *req, int status)
{
    sl_relay_link_t *l = req->data;
    if (l->closed) return;
    if (status < 0) {
        go_down(l, uv_strerror(status));
        return;
    }
    if (uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read) != 0) {
        go_down(l, "cannot read from the connection");
        return;
    }
    (void)uv_tcp_nodelay(&l->tcp, 1);
    l->connected = true;
    l->ops->on_connected(l->arg);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sl_relay_link_t *l = req->data;
    l->resolving = false;
    bool was_closed = l->closed; /* unref below may free a closed link */
    if (was_closed || status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        unref(l); /* the resolve's reference; the owner's holds the link if open */
        if (!was_closed) go_down(l, status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    /* The TCP handle takes over the resolve's reference. */
    uv_tcp_init(l->loop, &l->tcp);
    l->tcp.data = l;
    l->tcp_open = true;
    l->connect.data = l;
    int rc = uv_tcp_connect(&l->connect, &l->tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc != 0) go_down(l, uv_strerror(rc));
}

sl_relay_link_t *sl_relay_link_open(uv_loop_t *loop, const char *host, uint16_t port, sl_conn_t *conn,
                                    const sl_relay_link_ops_t *ops, void *arg)
{
    sl_relay_link_t *l = calloc(1, sizeof(*l));
    if (l == NULL) return NULL;
    l->loop = loop;
    l->conn = conn;
    l->ops = ops;
    l->arg = arg;
    l->port = port;
    sl_bytes_init(&l->out);
    sl_bytes_init(&l->inflight);
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    l->resolve.data = l;
    l->refs = 2; /* the owner's, until close, and the resolve's */
    if (uv_getaddrinfo(loop, &l->resolve, on_resolved, host, service, &hints) != 0) {
        free(l);
        return NULL;
    }
    l->resolving = true;
    return l;
}
