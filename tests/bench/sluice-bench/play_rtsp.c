/* The RTSP player of sluice-bench: RTP interleaved on the RTSP connection (TCP),
 * driven by the relay's I/O-free RTSP client (OPTIONS, DESCRIBE, SETUP per track,
 * PLAY, then GET_PARAMETER keep-alives) and made into frames by one RTP ingest per
 * track, as the server's own RTSP pulls do (protocols/relay/pull_rtsp.c).
 *
 * No RTCP is sent: sluice keeps a playing session alive on any request from the
 * client (protocols/rtsp/session.c), and the keep-alives are requests.
 *
 * The stamp: the ingest's H.264 depacketizer keeps SEI NAL units out of the frames
 * it emits (protocols/rtp/rtp_h264.c), so the stamp is looked for in the RTP
 * packets themselves, as a single NAL unit packet or inside a STAP-A (a stamp is
 * far too small to be fragmented), and put back in front of the access unit it
 * came with. sluice marks the last packet of every access unit, so the frame the
 * ingest emits while being fed a packet is the one that packet completes.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "protocols/codec/h264.h"
#include "protocols/relay/rtsp_client.h"
#include "protocols/rtp/ingest.h"
#include "protocols/rtp/rtp.h"

#define MAX_TRACKS SL_RTSP_CLIENT_MAX_TRACKS
/* Each player reads into its own buffer, allocated with it: 16 kB holds most
 * frames of a 1-2 Mbps stream in one read, and the client keeps the rest of a
 * partial interleaved frame, so a bigger buffer would only cost memory (a
 * player is about 37 kB with it, the RTSP client's URLs taking most of the rest). */
#define READ_BUFFER (16 * 1024)
/* A stamp NAL with its 4-byte length: bench_stamp_write writes at most 64 bytes. */
#define STAMP_MAX 64
#define STAP_A 24

typedef struct rtsp_player {
    bench_player_t *p;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t keepalive;
    int open_handles;
    bool closing, playing, stalled;
    sl_rtsp_client_t client;
    sl_bytes_t out; /* requests the client made, sent after each feed */
    sl_rtp_ingest_t *ingest[MAX_TRACKS];
    bool video[MAX_TRACKS]; /* an H.264 track, whose packets may carry the stamp */
    /* The stamp of the access unit being received, as an AVCC NAL unit. */
    uint8_t stamp[STAMP_MAX];
    size_t stamp_len;
    sl_bytes_t au; /* the stamp followed by the ingest's frame, reused */
    uint8_t read_buf[READ_BUFFER];
} rtsp_player_t;

typedef struct write_req {
    uv_write_t req;
    uint8_t data[];
} write_req_t;

/* ---- closing -------------------------------------------------------------------- */

static void free_player(rtsp_player_t *r)
{
    sl_rtsp_client_free(&r->client);
    for (int i = 0; i < MAX_TRACKS; i++) sl_rtp_ingest_free(r->ingest[i]);
    sl_bytes_free(&r->out);
    sl_bytes_free(&r->au);
    free(r);
}

static void on_handle_closed(uv_handle_t *h)
{
    rtsp_player_t *r = h->data;
    if (--r->open_handles > 0) return;
    bench_player_t *p = r->p;
    p->proto_state = NULL;
    free_player(r);
    bench_player_closed(p);
}

/* Closes both handles; the last close callback frees the player and reports it
 * closed. Pending writes are cancelled by the close, their callbacks come first. */
static void close_player(rtsp_player_t *r)
{
    if (r->closing) return;
    r->closing = true;
    uv_close((uv_handle_t *)&r->keepalive, on_handle_closed);
    uv_close((uv_handle_t *)&r->tcp, on_handle_closed);
}

static void fail(rtsp_player_t *r, const char *message)
{
    if (r->closing) return;
    bench_player_failed(r->p, message);
    close_player(r);
}

/* ---- writing -------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    rtsp_player_t *r = req->handle->data;
    free(req);
    /* A stalled player keeps sending its keep-alives without reading: the server
     * may well have dropped it as too slow, which is no failure of the player. */
    if (status < 0 && status != UV_ECANCELED && !r->stalled) fail(r, "rtsp: write failed");
}

/* Sends what the client appended to r->out. Requests are a few hundred bytes and
 * rare (the handshake, a keep-alive every half session timeout): a copy each. */
static void send_out(rtsp_player_t *r)
{
    if (r->out.len == 0 || r->closing) return;
    write_req_t *w = malloc(sizeof(*w) + r->out.len);
    if (w == NULL) {
        fail(r, "rtsp: out of memory");
        return;
    }
    memcpy(w->data, r->out.data, r->out.len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)r->out.len);
    r->out.len = 0;
    if (uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, on_written) != 0) {
        free(w);
        fail(r, "rtsp: write failed");
    }
}

/* ---- the stamp ------------------------------------------------------------------ */

/* Keeps an SEI NAL unit that may be the stamp (the caller tells when it is one). */
static void keep_sei(rtsp_player_t *r, const uint8_t *nal, size_t len)
{
    if (len == 0 || sl_h264_nal_type(nal[0]) != SL_H264_NAL_SEI || len + 4 > STAMP_MAX) return;
    sl_wr_be32(r->stamp, (uint32_t)len);
    memcpy(r->stamp + 4, nal, len);
    uint64_t send_us;
    uint32_t number;
    if (bench_stamp_find(r->stamp, len + 4, true, &send_us, &number)) r->stamp_len = len + 4;
}

/* Looks for the stamp in a video RTP packet: a single SEI NAL unit, or one
 * aggregated in a STAP-A (RFC 6184 5.7.1: 2-byte sizes before each unit). */
static void find_stamp(rtsp_player_t *r, const uint8_t *data, size_t len)
{
    sl_rtp_packet_t pkt;
    if (sl_rtp_parse(data, len, &pkt) != SL_OK || pkt.payload_len == 0) return;
    int type = sl_h264_nal_type(pkt.payload[0]);
    if (type == SL_H264_NAL_SEI) {
        keep_sei(r, pkt.payload, pkt.payload_len);
        return;
    }
    if (type != STAP_A) return;
    sl_reader_t rd;
    sl_reader_init(&rd, pkt.payload + 1, pkt.payload_len - 1);
    for (int i = 0; i < 64 && sl_reader_left(&rd) >= 2; i++) {
        size_t n = sl_rd_be16(&rd);
        const uint8_t *nal = sl_rd_bytes(&rd, n);
        if (nal == NULL) return;
        keep_sei(r, nal, n);
    }
}

/* ---- media ---------------------------------------------------------------------- */

static void on_video(rtsp_player_t *r, const sl_frame_t *f)
{
    const uint8_t *au = f->data;
    size_t len = f->len;
    if (r->stamp_len > 0) {
        r->au.len = 0;
        if (sl_bytes_append(&r->au, r->stamp, r->stamp_len) == SL_OK &&
            sl_bytes_append(&r->au, f->data, f->len) == SL_OK) {
            au = r->au.data;
            len = r->au.len;
        }
        r->stamp_len = 0;
    }
    if (bench_player_video(r->p, au, len, true, (f->flags & SL_FRAME_KEY) != 0)) {
        r->stalled = true;
        uv_read_stop((uv_stream_t *)&r->tcp);
    }
}

static int on_frame(void *arg, sl_frame_t *f)
{
    rtsp_player_t *r = arg;
    if (r->stalled || (f->flags & SL_FRAME_CONFIG)) return SL_OK;
    if (f->media == SL_MEDIA_VIDEO) on_video(r, f);
    else if (f->media == SL_MEDIA_AUDIO) bench_player_audio(r->p);
    return SL_OK;
}

/* ---- the RTSP client ------------------------------------------------------------ */

static void on_keepalive(uv_timer_t *t)
{
    rtsp_player_t *r = t->data;
    if (sl_rtsp_client_keepalive(&r->client, &r->out) != SL_OK) return;
    send_out(r);
}

static void client_ready(void *arg)
{
    rtsp_player_t *r = arg;
    for (int i = 0; i < sl_rtsp_client_track_count(&r->client); i++) {
        const sl_rtsp_client_track_t *t = sl_rtsp_client_track(&r->client, i);
        if (!t->setup || sl_rtp_ingest_new(t->media, on_frame, r, &r->ingest[i]) != SL_OK) continue;
        const sl_rtp_ingest_info_t *info = sl_rtp_ingest_info(r->ingest[i]);
        r->video[i] = info->media == SL_MEDIA_VIDEO && info->codec == SL_CODEC_H264;
    }
    r->playing = true;
    bench_player_connected(r->p);
    uint64_t every = sl_rtsp_client_keepalive_ms(&r->client);
    uv_timer_start(&r->keepalive, on_keepalive, every, every);
}

static int client_rtp(void *arg, int track, const uint8_t *data, size_t len)
{
    rtsp_player_t *r = arg;
    if (r->stalled || track < 0 || track >= MAX_TRACKS || r->ingest[track] == NULL) return SL_OK;
    if (r->video[track]) find_stamp(r, data, len);
    return sl_rtp_ingest_packet(r->ingest[track], data, len, uv_now(r->p->loop));
}

/* No on_error: the feed's return value names the failure. */
static const sl_rtsp_client_ops_t client_ops = {.on_ready = client_ready, .on_rtp = client_rtp};

/* A short fixed message per kind of failure, so the report counts them together. */
static const char *feed_error(int rc)
{
    switch (rc) {
    case SL_ERR_NOT_FOUND: return "rtsp: 404 not found";
    case SL_ERR_AUTH: return "rtsp: refused (401/403)";
    case SL_ERR_CLOSED: return "rtsp: request refused";
    case SL_ERR_UNSUPPORTED: return "rtsp: no usable track";
    case SL_ERR_TOO_BIG: return "rtsp: message too big";
    case SL_ERR_NOMEM: return "rtsp: out of memory";
    default: return "rtsp: protocol error";
    }
}

/* ---- the connection ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rtsp_player_t *r = h->data;
    *buf = uv_buf_init((char *)r->read_buf, sizeof(r->read_buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    rtsp_player_t *r = s->data;
    if (n == 0 || r->closing) return;
    if (n < 0) {
        fail(r, n == UV_EOF ? "rtsp: closed by the server" : "rtsp: read error");
        return;
    }
    bench_player_bytes(r->p, (size_t)n);
    int rc = sl_rtsp_client_feed(&r->client, (const uint8_t *)buf->base, (size_t)n, &r->out);
    send_out(r);
    if (rc != SL_OK) fail(r, feed_error(rc));
}

static void on_connect(uv_connect_t *req, int status)
{
    rtsp_player_t *r = req->handle->data;
    if (r->closing) return;
    if (status < 0) {
        fail(r, status == UV_ECONNREFUSED ? "rtsp: connection refused" : "rtsp: connect failed");
        return;
    }
    if (uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read) != 0) {
        fail(r, "rtsp: read error");
        return;
    }
    send_out(r); /* OPTIONS, made by sl_rtsp_client_init */
}

/* Loopback targets only: the host must be an IPv4 address of 127.0.0.0/8. */
static int loopback_addr(const sl_rtsp_url_t *url, struct sockaddr_in *addr)
{
    if (uv_ip4_addr(url->host, url->port, addr) != 0) return SL_ERR_CONFIG;
    return (ntohl(addr->sin_addr.s_addr) >> 24) == 127 ? SL_OK : SL_ERR_CONFIG;
}

static int rtsp_start(bench_player_t *p)
{
    sl_rtsp_url_t url;
    struct sockaddr_in addr;
    if (sl_rtsp_url_parse(p->url, &url) != SL_OK || loopback_addr(&url, &addr) != SL_OK) return SL_ERR_CONFIG;
    rtsp_player_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    r->p = p;
    sl_bytes_init(&r->out);
    sl_bytes_init(&r->au);
    sl_rtsp_client_cfg_t cfg = {.url = &url, .transport = SL_RTSP_CLIENT_TCP};
    int rc = sl_rtsp_client_init(&r->client, &cfg, &client_ops, r, &r->out);
    if (rc != SL_OK) {
        free_player(r);
        return rc;
    }
    uv_tcp_init(p->loop, &r->tcp);
    uv_timer_init(p->loop, &r->keepalive);
    r->tcp.data = r->keepalive.data = r;
    r->open_handles = 2;
    p->proto_state = r;
    if (uv_tcp_connect(&r->connect, &r->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
        fail(r, "rtsp: connect failed");
    return SL_OK;
}

/* TEARDOWN is sent when the socket takes it at once: it frees the server's session
 * before the close tells it anyway. */
static void rtsp_stop(bench_player_t *p)
{
    rtsp_player_t *r = p->proto_state;
    if (r == NULL || r->closing) return;
    if (r->playing && sl_rtsp_client_teardown(&r->client, &r->out) == SL_OK && r->out.len > 0) {
        uv_buf_t b = uv_buf_init((char *)r->out.data, (unsigned)r->out.len);
        (void)uv_try_write((uv_stream_t *)&r->tcp, &b, 1);
    }
    close_player(r);
}

const bench_proto_t bench_proto_rtsp = {.name = "rtsp", .start = rtsp_start, .stop = rtsp_stop};
