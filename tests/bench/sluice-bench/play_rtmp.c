/* The RTMP player of sluice-bench: one TCP connection driven by the relay's I/O-free
 * RTMP client in play mode (protocols/relay/rtmp_client.h), which answers the
 * server (handshake, acknowledgements, pings) and hands over frames. A player only
 * counts what it gets, so that a thousand of them cost far less than the server
 * that feeds them. */
#include <stdlib.h>

#include "bench.h"
#include "protocols/relay/rtmp_client.h"

typedef struct rtmp_player {
    bench_player_t *p;
    uv_tcp_t tcp;
    uv_connect_t connect;
    sl_rtmp_client_t client;
    sl_bytes_t out; /* what the client wants sent, written at once */
    bool closing;
} rtmp_player_t;

/* Every read is consumed before the next one (the client keeps what it needs of
 * a partial message), so the players share one buffer: it stays in the cache,
 * where 64 KiB per player would not. */
static char read_buffer[64 * 1024];

static void on_closed(uv_handle_t *h)
{
    rtmp_player_t *r = h->data;
    bench_player_t *p = r->p;
    sl_rtmp_client_free(&r->client);
    sl_bytes_free(&r->out);
    p->proto_state = NULL;
    free(r);
    bench_player_closed(p);
}

static void close_player(rtmp_player_t *r)
{
    if (r->closing) return;
    r->closing = true;
    uv_close((uv_handle_t *)&r->tcp, on_closed);
}

static void fail(rtmp_player_t *r, const char *why)
{
    bench_player_failed(r->p, why);
    close_player(r);
}

/* Sends what the client appended to out. */
static void send_out(rtmp_player_t *r)
{
    if (r->out.len == 0 || r->closing) return;
    int rc = bench_write((uv_stream_t *)&r->tcp, r->out.data, r->out.len);
    r->out.len = 0;
    if (rc != 0) fail(r, uv_strerror(rc));
}

/* ---- the client's callbacks ------------------------------------------------------ */

static void on_ready(void *arg)
{
    rtmp_player_t *r = arg;
    bench_player_connected(r->p);
}

static int on_frame(void *arg, sl_frame_t *f)
{
    rtmp_player_t *r = arg;
    if (f->flags & SL_FRAME_CONFIG) return 0;
    if (f->media == SL_MEDIA_AUDIO) {
        bench_player_audio(r->p);
    } else if (f->media == SL_MEDIA_VIDEO) {
        /* A stalled player keeps the connection and reads nothing more. */
        if (bench_player_video(r->p, f->data, f->len, true, f->flags & SL_FRAME_KEY))
            (void)uv_read_stop((uv_stream_t *)&r->tcp);
    }
    return 0;
}

static void on_error(void *arg, const char *code, const char *description)
{
    rtmp_player_t *r = arg;
    fail(r, code[0] != '\0' ? code : "refused by the server");
}

static void on_end(void *arg)
{
    rtmp_player_t *r = arg;
    fail(r, "the stream ended");
}

static const sl_rtmp_client_ops_t client_ops = {
    .on_ready = on_ready, .on_frame = on_frame, .on_error = on_error, .on_end = on_end};

/* ---- the socket ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    *buf = uv_buf_init(read_buffer, sizeof(read_buffer));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    rtmp_player_t *r = s->data;
    if (n == 0 || r->closing) return;
    if (n < 0) {
        fail(r, n == UV_EOF ? "the server closed the connection" : uv_strerror((int)n));
        return;
    }
    bench_player_bytes(r->p, (size_t)n);
    int rc = sl_rtmp_client_feed(&r->client, (const uint8_t *)buf->base, (size_t)n, &r->out);
    /* The client's replies go out even when it is over: the server may want them. */
    send_out(r);
    if (rc != SL_OK) fail(r, sl_strerror(rc));
}

static void on_connect(uv_connect_t *req, int status)
{
    rtmp_player_t *r = req->data;
    if (r->closing) return;
    if (status < 0) {
        fail(r, uv_strerror(status));
        return;
    }
    (void)uv_tcp_nodelay(&r->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read);
    if (rc != 0) {
        fail(r, uv_strerror(rc));
        return;
    }
    send_out(r); /* C0C1 */
}

/* ---- the module --------------------------------------------------------------------- */

static int rtmp_start(bench_player_t *p)
{
    sl_rtmp_url_t url;
    struct sockaddr_in addr;
    if (sl_rtmp_url_parse(p->url, &url) != SL_OK || uv_ip4_addr(url.host, url.port, &addr) != 0) return SL_ERR_PROTO;
    rtmp_player_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    r->p = p;
    sl_bytes_init(&r->out);
    sl_rtmp_client_cfg_t cfg = {.mode = SL_RTMP_CLIENT_PLAY, .url = &url};
    int rc = sl_rtmp_client_init(&r->client, &cfg, &client_ops, r, &r->out);
    if (rc == SL_OK) rc = uv_tcp_init(p->loop, &r->tcp) == 0 ? SL_OK : SL_ERR_IO;
    if (rc != SL_OK) {
        sl_rtmp_client_free(&r->client);
        sl_bytes_free(&r->out);
        free(r);
        return rc;
    }
    r->tcp.data = r;
    r->connect.data = r;
    p->proto_state = r;
    rc = uv_tcp_connect(&r->connect, &r->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc != 0) fail(r, uv_strerror(rc));
    return SL_OK;
}

static void rtmp_stop(bench_player_t *p)
{
    if (p->proto_state != NULL) close_player(p->proto_state);
}

const bench_proto_t bench_proto_rtmp = {.name = "rtmp", .start = rtmp_start, .stop = rtmp_stop};
