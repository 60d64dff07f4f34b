/* RTP/RTCP over UDP: one port pair per track, taken from rtsp.udp_port_range.
 * Packets are accepted only from the session's client address, and sent with
 * uv_udp_try_send: a full socket buffer drops the packet, as UDP would anyway. */
#include <stdlib.h>
#include <string.h>

#include "protocols/rtsp/session.h"
#include "sluice/log.h"

struct rtsp_udp {
    rtsp_session_t *s; /* NULL once the track let go of the pair */
    rtsp_track_t *t;
    uv_udp_t rtp, rtcp;
    int open_handles;
    struct sockaddr_storage client[2]; /* RTP, RTCP */
    uint16_t port;
};

/* Where the next search for a free pair starts, so pairs are reused last. */
static uint16_t next_port;

static void on_udp_closed(uv_handle_t *h)
{
    rtsp_udp_t *u = h->data;
    if (--u->open_handles == 0) free(u);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char buf_mem[65536];
    *buf = uv_buf_init(buf_mem, sizeof(buf_mem));
}

static bool same_host(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family) return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
    rtsp_udp_t *u = h->data;
    if (u->s == NULL || n <= 0 || from == NULL || !same_host(from, &u->s->peer_addr)) return;
    u->s->last_activity_ms = uv_now(u->s->srv->loop);
    u->s->conn.bytes_in += (uint64_t)n;
    if (h == &u->rtp) {
        if (sl__rtsp_on_rtp(u->s, u->t, (const uint8_t *)buf->base, (size_t)n) != SL_OK)
            sl__rtsp_close(u->s, "bad RTP over UDP");
    } else {
        sl__rtsp_on_rtcp(u->s, u->t, (const uint8_t *)buf->base, (size_t)n);
    }
}

static int bind_pair(rtsp_udp_t *u, const struct sockaddr_storage *any, uint16_t port)
{
    struct sockaddr_storage a = *any;
    uv_udp_t *h[2] = {&u->rtp, &u->rtcp};
    for (int i = 0; i < 2; i++) {
        if (a.ss_family == AF_INET6) ((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)(port + i));
        else ((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)(port + i));
        int rc = uv_udp_bind(h[i], (const struct sockaddr *)&a, 0);
        if (rc != 0) return rc;
    }
    return 0;
}

static rtsp_udp_t *udp_new(uv_loop_t *loop)
{
    rtsp_udp_t *u = calloc(1, sizeof(*u));
    if (u == NULL) return NULL;
    uv_udp_init(loop, &u->rtp);
    uv_udp_init(loop, &u->rtcp);
    u->rtp.data = u->rtcp.data = u;
    u->open_handles = 2;
    return u;
}

static void udp_free(rtsp_udp_t *u)
{
    u->s = NULL;
    uv_close((uv_handle_t *)&u->rtp, on_udp_closed);
    uv_close((uv_handle_t *)&u->rtcp, on_udp_closed);
}

int sl__rtsp_udp_open(rtsp_session_t *s, rtsp_track_t *t, uint16_t client_rtp, uint16_t *server_rtp)
{
    const sl_port_range_t *range = &s->srv->cfg->rtsp.udp_port_range;
    struct sockaddr_storage any;
    memset(&any, 0, sizeof(any));
    any.ss_family = s->peer_addr.ss_family;
    unsigned pairs = (unsigned)(range->max - range->min + 1) / 2;
    if (next_port < range->min || next_port + 1 > range->max) next_port = range->min;
    sl__rtsp_udp_close(t);
    for (unsigned tries = 0; tries < pairs; tries++) {
        uint16_t port = next_port;
        next_port = (uint16_t)(port + 2 > range->max - 1 ? range->min : port + 2);
        rtsp_udp_t *u = udp_new(s->srv->loop);
        if (u == NULL) return SL_ERR_NOMEM;
        if (bind_pair(u, &any, port) != 0) {
            udp_free(u);
            continue;
        }
        u->s = s;
        u->t = t;
        u->port = port;
        for (int i = 0; i < 2; i++) {
            u->client[i] = s->peer_addr;
            uint16_t p = (uint16_t)(client_rtp + i);
            if (any.ss_family == AF_INET6) ((struct sockaddr_in6 *)&u->client[i])->sin6_port = htons(p);
            else ((struct sockaddr_in *)&u->client[i])->sin_port = htons(p);
        }
        if (uv_udp_recv_start(&u->rtp, on_alloc, on_recv) != 0 || uv_udp_recv_start(&u->rtcp, on_alloc, on_recv) != 0) {
            udp_free(u);
            return SL_ERR_IO;
        }
        t->udp = u;
        t->tcp = false;
        *server_rtp = port;
        return SL_OK;
    }
    SL_WARN("client %llu rtsp: no free UDP port pair in %u-%u", (unsigned long long)s->id, range->min, range->max);
    return SL_ERR_BUSY;
}

void sl__rtsp_udp_close(rtsp_track_t *t)
{
    if (t->udp == NULL) return;
    udp_free(t->udp);
    t->udp = NULL;
}

int sl__rtsp_udp_send(rtsp_track_t *t, bool rtcp, const uint8_t *data, size_t len)
{
    rtsp_udp_t *u = t->udp;
    if (u == NULL) return SL_ERR_CLOSED;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    /* A failed send loses the packet, as the network would: a full socket buffer
     * (EAGAIN), or ECONNREFUSED, which Linux reports on the next send after the
     * player's port answered with ICMP unreachable (a player closing its sockets
     * before its TEARDOWN). The session ends by TEARDOWN or its timeout. */
    int rc = uv_udp_try_send(rtcp ? &u->rtcp : &u->rtp, &b, 1, (const struct sockaddr *)&u->client[rtcp]);
    if (rc > 0 && u->s != NULL) u->s->conn.bytes_out += (uint64_t)rc;
    return SL_OK;
}
