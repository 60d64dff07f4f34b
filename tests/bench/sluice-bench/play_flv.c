/* The HTTP-FLV player of sluice-bench: GET /app/name.flv over HTTP/1.1, as players
 * ask it, a 200 expected, then the body (chunked, or raw until the close) through
 * the server's own FLV demuxer and tag parser. */
#define _GNU_SOURCE /* strcasestr, memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "protocols/flv/flv.h"
#include "sluice/http_client.h"

#define HEAD_MAX 2048
#define MAX_TAG_BYTES (8u << 20)
#define CHUNK_SIZE_MAX (64u << 20)

typedef enum { CHUNK_SIZE, CHUNK_EXT, CHUNK_DATA, CHUNK_CRLF, CHUNK_END } chunk_state_t;

typedef struct flv_player {
    bench_player_t *p;
    uv_tcp_t tcp;
    uv_connect_t connect;
    char *request; /* sent once connected, then freed */
    bool closing, in_body, chunked;
    size_t head_len;
    char head[HEAD_MAX + 1];
    chunk_state_t chunk_state;
    uint64_t chunk_left;
    sl_flv_demuxer_t demux;
} flv_player_t;

/* Shared by every player: each read is consumed before the next (the demuxer copies
 * a partial tag), and one buffer stays in the cache. */
static char read_buffer[64 * 1024];

static void on_closed(uv_handle_t *h)
{
    flv_player_t *f = h->data;
    bench_player_t *p = f->p;
    sl_flv_demuxer_free(&f->demux);
    free(f->request);
    p->proto_state = NULL;
    free(f);
    bench_player_closed(p);
}

static void close_player(flv_player_t *f)
{
    if (f->closing) return;
    f->closing = true;
    uv_close((uv_handle_t *)&f->tcp, on_closed);
}

static void fail(flv_player_t *f, const char *why)
{
    bench_player_failed(f->p, why);
    close_player(f);
}

/* ---- FLV tags ------------------------------------------------------------------- */

static void count_frame(flv_player_t *f, const sl_frame_t *frame)
{
    if (frame->media == SL_MEDIA_AUDIO) {
        bench_player_audio(f->p);
    } else if (frame->media == SL_MEDIA_VIDEO) {
        /* A stalled player keeps the connection and reads nothing more. */
        if (bench_player_video(f->p, frame->data, frame->len, true, frame->flags & SL_FRAME_KEY))
            (void)uv_read_stop((uv_stream_t *)&f->tcp);
    }
}

static int on_tag(void *arg, uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body, size_t len)
{
    flv_player_t *f = arg;
    sl_frame_t *frame = NULL;
    int rc = sl_flv_tag_to_frame(tag_type, ts_ms, buf, body, len, &frame);
    if (rc == SL_ERR_UNSUPPORTED) return SL_OK; /* a codec frames cannot carry: not ours to judge */
    if (rc != SL_OK || frame == NULL) return rc;
    if (!(frame->flags & SL_FRAME_CONFIG)) count_frame(f, frame);
    sl_frame_unref(frame);
    return SL_OK;
}

static int demux(flv_player_t *f, const uint8_t *data, size_t len)
{
    return len == 0 ? SL_OK : sl_flv_demuxer_feed(&f->demux, data, len, on_tag, f);
}

/* ---- the body: HTTP/1.1 chunks ------------------------------------------------------ */

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One byte of a chunk-size line ("1a2b;ext\r\n"): SL_OK or SL_ERR_PROTO. */
static int size_line_byte(flv_player_t *f, uint8_t c)
{
    if (c == '\n') {
        f->chunk_state = f->chunk_left == 0 ? CHUNK_END : CHUNK_DATA;
        return SL_OK;
    }
    if (f->chunk_state == CHUNK_EXT || c == '\r') return SL_OK;
    if (c == ';') {
        f->chunk_state = CHUNK_EXT;
        return SL_OK;
    }
    int d = hex_digit(c);
    if (d < 0 || f->chunk_left > CHUNK_SIZE_MAX) return SL_ERR_PROTO;
    f->chunk_left = f->chunk_left * 16 + (uint64_t)d;
    return SL_OK;
}

/* Takes the chunk framing off data and hands the rest to the demuxer. */
static int dechunk(flv_player_t *f, const uint8_t *data, size_t len)
{
    size_t i = 0;
    int rc = SL_OK;
    while (i < len && rc == SL_OK && f->chunk_state != CHUNK_END) {
        if (f->chunk_state == CHUNK_DATA) {
            size_t take = (size_t)SL_MIN((uint64_t)(len - i), f->chunk_left);
            rc = demux(f, data + i, take);
            i += take;
            f->chunk_left -= take;
            if (f->chunk_left == 0) f->chunk_state = CHUNK_CRLF;
        } else if (f->chunk_state == CHUNK_CRLF) {
            /* "\r\n" after the data; the size line starts at the next byte after '\n'. */
            if (data[i++] == '\n') f->chunk_state = CHUNK_SIZE;
        } else {
            rc = size_line_byte(f, data[i++]);
        }
    }
    return rc;
}

static int body(flv_player_t *f, const uint8_t *data, size_t len)
{
    if (!f->chunked) return demux(f, data, len);
    int rc = dechunk(f, data, len);
    return rc == SL_OK && f->chunk_state == CHUNK_END ? SL_ERR_CLOSED : rc;
}

/* ---- the response head ------------------------------------------------------------- */

/* Once the head is complete: checks it, then hands what followed to the body. */
static void head_done(flv_player_t *f, size_t head_end)
{
    int status = 0;
    if (sscanf(f->head, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        char why[32];
        snprintf(why, sizeof(why), "HTTP %d", status);
        fail(f, why);
        return;
    }
    const char *te = strcasestr(f->head, "\r\ntransfer-encoding:");
    f->chunked = te != NULL && te < f->head + head_end && strcasestr(te, "chunked") != NULL;
    f->chunk_state = CHUNK_SIZE;
    f->in_body = true;
    bench_player_connected(f->p);
    int rc = body(f, (const uint8_t *)f->head + head_end, f->head_len - head_end);
    if (rc != SL_OK) fail(f, rc == SL_ERR_CLOSED ? "the stream ended" : sl_strerror(rc));
}

static void head_bytes(flv_player_t *f, const uint8_t *data, size_t len)
{
    size_t take = SL_MIN(len, (size_t)HEAD_MAX - f->head_len);
    memcpy(f->head + f->head_len, data, take);
    f->head_len += take;
    f->head[f->head_len] = '\0';
    const char *end = memmem(f->head, f->head_len, "\r\n\r\n", 4);
    if (end != NULL) {
        size_t head_end = (size_t)(end - f->head) + 4;
        head_done(f, head_end);
        if (!f->closing && take < len) {
            int rc = body(f, data + take, len - take);
            if (rc != SL_OK) fail(f, rc == SL_ERR_CLOSED ? "the stream ended" : sl_strerror(rc));
        }
    } else if (f->head_len == HEAD_MAX) {
        fail(f, "response head too long");
    }
}

/* ---- the socket ------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    *buf = uv_buf_init(read_buffer, sizeof(read_buffer));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    flv_player_t *f = s->data;
    if (n == 0 || f->closing) return;
    if (n < 0) {
        fail(f, n == UV_EOF ? "the server closed the connection" : uv_strerror((int)n));
        return;
    }
    bench_player_bytes(f->p, (size_t)n);
    if (!f->in_body) {
        head_bytes(f, (const uint8_t *)buf->base, (size_t)n);
        return;
    }
    int rc = body(f, (const uint8_t *)buf->base, (size_t)n);
    if (rc != SL_OK) fail(f, rc == SL_ERR_CLOSED ? "the stream ended" : sl_strerror(rc));
}

static void on_connect(uv_connect_t *req, int status)
{
    flv_player_t *f = req->data;
    if (f->closing) return;
    if (status < 0) {
        fail(f, uv_strerror(status));
        return;
    }
    (void)uv_tcp_nodelay(&f->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&f->tcp, on_alloc, on_read);
    if (rc == 0) rc = bench_write((uv_stream_t *)&f->tcp, (const uint8_t *)f->request, strlen(f->request));
    free(f->request);
    f->request = NULL;
    if (rc != 0) fail(f, uv_strerror(rc));
}

/* ---- the module ------------------------------------------------------------------- */

static char *request_of(const sl_http_url_t *u)
{
    const char *fmt = "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: sluice-bench\r\nAccept: */*\r\n\r\n";
    int n = snprintf(NULL, 0, fmt, u->target, u->host, u->port);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (s != NULL) snprintf(s, (size_t)n + 1, fmt, u->target, u->host, u->port);
    return s;
}

static int flv_start(bench_player_t *p)
{
    sl_http_url_t url;
    struct sockaddr_in addr;
    if (sl_http_url_parse(&url, p->url, NULL) != SL_OK || uv_ip4_addr(url.host, url.port, &addr) != 0)
        return SL_ERR_PROTO;
    flv_player_t *f = calloc(1, sizeof(*f));
    if (f == NULL) return SL_ERR_NOMEM;
    f->p = p;
    f->request = request_of(&url);
    if (f->request == NULL || uv_tcp_init(p->loop, &f->tcp) != 0) {
        free(f->request);
        free(f);
        return SL_ERR_NOMEM;
    }
    sl_flv_demuxer_init(&f->demux, MAX_TAG_BYTES);
    f->tcp.data = f;
    f->connect.data = f;
    p->proto_state = f;
    int rc = uv_tcp_connect(&f->connect, &f->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc != 0) fail(f, uv_strerror(rc));
    return SL_OK;
}

static void flv_stop(bench_player_t *p)
{
    if (p->proto_state != NULL) close_player(p->proto_state);
}

const bench_proto_t bench_proto_flv = {.name = "flv", .start = flv_start, .stop = flv_stop};
