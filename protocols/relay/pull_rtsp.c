/* RTSP pulls: a camera's (or another server's) stream over the relay's RTSP client
 * (rtsp_client.h), RTP interleaved on the connection or on a UDP pair per track,
 * made into frames by one sl_rtp_ingest per track. One attempt's state; pull.c
 * runs the attempts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "protocols/relay/pull.h"
#include "protocols/relay/rtsp_client.h"
#include "protocols/rtp/ingest.h"
#include "sluice/log.h"

#define MAX_TRACKS SL_RTSP_CLIENT_MAX_TRACKS
/* Receiver reports to the camera, per track (RFC 3550 6.2). */
#define REPORT_INTERVAL_MS 5000
/* Over UDP, no packet this long after PLAY: the path drops them ("auto" then goes
 * over TCP, as MediaMTX and ffmpeg do). */
#define UDP_SILENCE_MS 3000
/* Tries at an even UDP port whose next one is free too. */
#define PORT_PAIR_TRIES 32
/* Asked of the kernel for each RTP socket (capped by net.core.rmem_max). */
#define UDP_RECV_BUFFER (4 << 20)

typedef struct udp_pair {
    uv_udp_t rtp, rtcp;
    bool open;
    struct sockaddr_storage server_rtcp; /* where our reports go */
} udp_pair_t;

struct pull_rtsp {
    pull_t *pull; /* NULL once the attempt ended: the UDP handles are closing */
    sl_rtsp_client_t client;
    bool udp;
    int handles;
    sl_rtp_ingest_t *in[MAX_TRACKS];
    udp_pair_t pair[MAX_TRACKS];
    uint32_t ssrc; /* ours, in receiver reports */
    bool ready;
    uint64_t ready_ms, last_packet_ms, last_keepalive_ms, last_report_ms;
};

static sl_bytes_t *out_of(pull_t *p) { return sl_relay_link_out(p->run->tcp); }

/* ---- media ------------------------------------------------------------------------ */

static int emit(void *arg, sl_frame_t *f) { return sl__pull_frame(arg, f); }

/* Every track taken was set up, so PLAY went out: media may come. */
static bool all_set_up(const pull_rtsp_t *r)
{
    int n = sl_rtsp_client_track_count(&r->client);
    for (int i = 0; i < n; i++)
        if (!sl_rtsp_client_track(&r->client, i)->setup) return false;
    return n > 0; /* PLAY follows the last SETUP's answer at once */
}

/* Playing: one ingest per track, the stream published, the SDP's codec configs
 * first so every output knows each track before its first frame. */
static void start_media(pull_t *p, pull_rtsp_t *r)
{
    const sl_rtsp_client_t *c = &r->client;
    int tracks = 0;
    for (int i = 0; i < sl_rtsp_client_track_count(c); i++) {
        const sl_rtsp_client_track_t *t = sl_rtsp_client_track(c, i);
        if (t->setup && sl_rtp_ingest_new(t->media, emit, p, &r->in[i]) == SL_OK) tracks++;
    }
    r->ready = true;
    r->ready_ms = r->last_keepalive_ms = r->last_report_ms = uv_now(p->relay->srv->loop);
    r->last_packet_ms = 0;
    if (tracks == 0) return;
    sl__pull_ready(p);
    for (int i = 0; i < MAX_TRACKS; i++) {
        sl_frame_t *config = r->in[i] != NULL ? sl_rtp_ingest_config(r->in[i]) : NULL;
        if (config != NULL && sl__pull_frame(p, config) != SL_OK) return;
    }
}

static void client_ready(void *arg)
{
    pull_t *p = arg;
    pull_rtsp_t *r = p->run->rtsp;
    if (!r->ready) start_media(p, r);
}

static int on_packet(pull_rtsp_t *r, int track, const uint8_t *data, size_t len)
{
    /* The camera starts sending on PLAY, so over UDP its first packets (the
     * keyframe a server sends first) often arrive before PLAY's answer. */
    if (!r->ready && all_set_up(r)) start_media(r->pull, r);
    r->last_packet_ms = uv_now(r->pull->relay->srv->loop);
    if (track < 0 || track >= MAX_TRACKS || r->in[track] == NULL) return SL_OK;
    return sl_rtp_ingest_packet(r->in[track], data, len, r->last_packet_ms);
}

static int client_rtp(void *arg, int track, const uint8_t *data, size_t len)
{
    pull_t *p = arg;
    return on_packet(p->run->rtsp, track, data, len);
}

static void client_rtcp(void *arg, int track, const uint8_t *data, size_t len)
{
    pull_t *p = arg;
    pull_rtsp_t *r = p->run->rtsp;
    if (track >= 0 && track < MAX_TRACKS && r->in[track] != NULL)
        sl_rtp_ingest_rtcp(r->in[track], data, len, uv_now(p->relay->srv->loop));
}

static void client_error(void *arg, int status, const char *reason)
{
    pull_t *p = arg;
    if (status == 401) sl__pull_refused(p, "RTSP 401 %s: wrong or missing credentials", reason);
    else if (status != 0) sl__pull_refused(p, "RTSP %d %s", status, reason);
    else sl__pull_refused(p, "RTSP: %s", reason);
}

/* ---- UDP ---------------------------------------------------------------------------- */

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char mem[65536];
    *buf = uv_buf_init(mem, sizeof(mem));
}

static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags)
{
    pull_rtsp_t *r = h->data;
    if (n <= 0 || r->pull == NULL) return;
    int track = -1;
    bool rtcp = false;
    for (int i = 0; i < MAX_TRACKS && track < 0; i++) {
        if (h == &r->pair[i].rtp) track = i;
        else if (h == &r->pair[i].rtcp) track = i, rtcp = true;
    }
    pull_t *p = r->pull;
    p->conn.bytes_in += (uint64_t)n;
    if (rtcp) {
        client_rtcp(p, track, (const uint8_t *)buf->base, (size_t)n);
        return;
    }
    int rc = on_packet(r, track, (const uint8_t *)buf->base, (size_t)n);
    if (rc == SL_ERR_BUSY && p->stream == NULL) sl__pull_superseded(p);
    else if (rc != SL_OK) sl__pull_failed(p, rc, sl_strerror(rc));
}

/* A socket bound to `port` (0: any) of the family of `server`, or -1. */
static int bind_udp(const struct sockaddr_storage *server, uint16_t port, uint16_t *bound)
{
    struct sockaddr_storage a;
    memset(&a, 0, sizeof(a));
    a.ss_family = server->ss_family;
    socklen_t len = server->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (server->ss_family == AF_INET6) ((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
    else ((struct sockaddr_in *)&a)->sin_port = htons(port);
    int fd = socket(server->ss_family, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, len) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
                                           : ((struct sockaddr_in *)&a)->sin_port);
    return fd;
}

/* An even port for RTP and the next for RTCP (RFC 3550 11), as cameras expect. */
static int open_pair(pull_rtsp_t *r, udp_pair_t *u, const struct sockaddr_storage *server, uint16_t *rtp_port)
{
    for (int i = 0; i < PORT_PAIR_TRIES; i++) {
        uint16_t a, b;
        int fa = bind_udp(server, 0, &a);
        if (fa < 0) return SL_ERR_IO;
        int fb = a % 2 == 0 && a < 65535 ? bind_udp(server, (uint16_t)(a + 1), &b) : -1;
        if (fb < 0) {
            close(fa);
            continue;
        }
        uv_loop_t *loop = r->pull->relay->srv->loop;
        uv_udp_init(loop, &u->rtp);
        uv_udp_init(loop, &u->rtcp);
        u->rtp.data = u->rtcp.data = r;
        u->open = true;
        r->handles += 2;
        /* The camera's first keyframe comes in one burst: the default buffer
         * (about 200 kB) overflowed on it in half the test runs. */
        int rcvbuf = UDP_RECV_BUFFER;
        (void)setsockopt(fa, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (uv_udp_open(&u->rtp, fa) != 0 || uv_udp_open(&u->rtcp, fb) != 0 ||
            uv_udp_recv_start(&u->rtp, on_udp_alloc, on_udp) != 0 ||
            uv_udp_recv_start(&u->rtcp, on_udp_alloc, on_udp) != 0)
            return SL_ERR_IO; /* the handles own the sockets now: closed with them */
        *rtp_port = a;
        return SL_OK;
    }
    return SL_ERR_IO;
}

static int client_udp_port(void *arg, int track, uint16_t *client_rtp_port)
{
    pull_t *p = arg;
    pull_rtsp_t *r = p->run->rtsp;
    struct sockaddr_storage server;
    if (track < 0 || track >= MAX_TRACKS || sl_relay_link_peer(p->run->tcp, &server) != SL_OK) return SL_ERR_IO;
    int rc = open_pair(r, &r->pair[track], &server, client_rtp_port);
    if (rc == SL_OK) r->pair[track].server_rtcp = server;
    return rc;
}

static const sl_rtsp_client_ops_t client_ops = {.udp_port = client_udp_port, .on_ready = client_ready,
                                                .on_rtp = client_rtp, .on_rtcp = client_rtcp,
                                                .on_error = client_error};

/* ---- the attempt -------------------------------------------------------------------- */

int sl__pull_rtsp_connected(pull_t *p)
{
    sl_rtsp_url_t url;
    if (sl_rtsp_url_parse(sl__pull_url(p), &url) != SL_OK) return SL_ERR_PROTO;
    pull_rtsp_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    r->pull = p;
    r->udp = !p->use_tcp;
    if (RAND_bytes((uint8_t *)&r->ssrc, sizeof(r->ssrc)) != 1) r->ssrc = (uint32_t)p->conn.id;
    p->run->rtsp = r;
    sl_rtsp_client_cfg_t cfg = {.url = &url, .transport = r->udp ? SL_RTSP_CLIENT_UDP : SL_RTSP_CLIENT_TCP};
    return sl_rtsp_client_init(&r->client, &cfg, &client_ops, p, out_of(p));
}

int sl__pull_rtsp_data(pull_t *p, const uint8_t *data, size_t len)
{
    return sl_rtsp_client_feed(&p->run->rtsp->client, data, len, out_of(p));
}

/* Receiver reports keep the camera's session alive on UDP and tell it our loss. */
static void send_reports(pull_t *p, pull_rtsp_t *r, uint64_t now)
{
    r->last_report_ms = now;
    for (int i = 0; i < MAX_TRACKS; i++) {
        if (r->in[i] == NULL) continue;
        sl_bytes_t rtcp;
        sl_bytes_init(&rtcp);
        if (sl_rtp_ingest_report(r->in[i], r->ssrc, now, &rtcp) == SL_OK) {
            const sl_rtsp_client_track_t *t = sl_rtsp_client_track(&r->client, i);
            if (!r->udp) {
                if (sl_rtsp_client_send_rtcp(&r->client, i, rtcp.data, rtcp.len, out_of(p)) != SL_OK)
                    SL_DEBUG("relay pull %s: receiver report of track %d not sent", p->key, i);
            } else if (r->pair[i].open && t->server_rtcp_port != 0) {
                struct sockaddr_storage to = r->pair[i].server_rtcp;
                if (to.ss_family == AF_INET6) ((struct sockaddr_in6 *)&to)->sin6_port = htons(t->server_rtcp_port);
                else ((struct sockaddr_in *)&to)->sin_port = htons(t->server_rtcp_port);
                uv_buf_t b = uv_buf_init((char *)rtcp.data, (unsigned)rtcp.len);
                (void)uv_udp_try_send(&r->pair[i].rtcp, &b, 1, (const struct sockaddr *)&to);
            }
        }
        sl_bytes_free(&rtcp);
    }
}

int sl__pull_rtsp_tick(pull_t *p, uint64_t now)
{
    pull_rtsp_t *r = p->run->rtsp;
    if (!r->ready) return SL_OK;
    if (r->udp && r->last_packet_ms == 0 && now - r->ready_ms >= UDP_SILENCE_MS) {
        sl__pull_refused(p, "no RTP over UDP in %u ms", UDP_SILENCE_MS);
        return SL_ERR_UNSUPPORTED;
    }
    for (int i = 0; i < MAX_TRACKS; i++)
        if (r->in[i] != NULL && sl_rtp_ingest_poll(r->in[i], now) != SL_OK) return SL_ERR_NOMEM;
    int rc = SL_OK;
    if (now - r->last_keepalive_ms >= sl_rtsp_client_keepalive_ms(&r->client)) {
        r->last_keepalive_ms = now;
        rc = sl_rtsp_client_keepalive(&r->client, out_of(p));
    }
    if (rc == SL_OK && now - r->last_report_ms >= REPORT_INTERVAL_MS) send_reports(p, r, now);
    return rc == SL_OK ? sl_relay_link_flush(p->run->tcp) : rc;
}

static void on_udp_closed(uv_handle_t *h)
{
    pull_rtsp_t *r = h->data;
    if (--r->handles == 0) free(r);
}

void sl__pull_rtsp_end(pull_t *p)
{
    pull_rtsp_t *r = p->run->rtsp;
    p->run->rtsp = NULL;
    /* TEARDOWN frees the camera's session now rather than at its timeout. */
    if (p->run->tcp != NULL && sl_rtsp_client_teardown(&r->client, out_of(p)) == SL_OK &&
        sl_relay_link_flush(p->run->tcp) != SL_OK)
        SL_DEBUG("relay pull %s: TEARDOWN not sent", p->key);
    sl_rtsp_client_free(&r->client);
    for (int i = 0; i < MAX_TRACKS; i++) sl_rtp_ingest_free(r->in[i]);
    r->pull = NULL;
    for (int i = 0; i < MAX_TRACKS; i++) {
        if (!r->pair[i].open) continue;
        uv_close((uv_handle_t *)&r->pair[i].rtp, on_udp_closed);
        uv_close((uv_handle_t *)&r->pair[i].rtcp, on_udp_closed);
    }
    if (r->handles == 0) free(r);
}
