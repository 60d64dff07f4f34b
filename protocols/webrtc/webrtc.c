/* The WebRTC module: one UDP socket for every session, demultiplexed as RFC 7983
 * says (first byte: STUN, DTLS or SRTP), and one tick driving every peer's timers
 * (DTLS retransmissions, reordering, NACKs, RTCP reports, consent). */
#include "protocols/webrtc/webrtc.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/webrtc/peer.h"
#include "protocols/webrtc/stun.h"
#include "sluice/log.h"

/* Period of the tick while sessions exist: DTLS retransmits are at least 50 ms
 * apart and NACKs at least 10 ms, so 20 ms keeps both close to their schedule. */
#define TICK_MS 20

void wr_send(wr_peer_t *p, const uint8_t *data, size_t len)
{
    if (p->m->stopping || p->addr.ss_family == 0) return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    /* EAGAIN: the socket buffer is full; the datagram is lost, as on the network. */
    if (uv_udp_try_send(&p->m->udp, &b, 1, (const struct sockaddr *)&p->addr) > 0) p->conn.bytes_out += len;
}

static void send_to(wr_module_t *m, const struct sockaddr *to, const uint8_t *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    (void)uv_udp_try_send(&m->udp, &b, 1, to);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One datagram at a time, handled before the next read: one buffer serves all,
     * with room for SRTP to work in place. */
    static char mem[65536];
    *buf = uv_buf_init(mem, sizeof(mem));
}

static void peer_name(const struct sockaddr *a, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
        /* The dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d: show them as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
            inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], ip, sizeof(ip));
            snprintf(out, len, "%s:%u", ip, ntohs(a6->sin6_port));
            return;
        }
        uv_ip6_name(a6, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(a6->sin6_port));
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
        uv_ip4_name(a4, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(a4->sin_port));
    }
}

static void on_stun(wr_module_t *m, const uint8_t *data, size_t len, const struct sockaddr *from)
{
    sl_bytes_t reply;
    sl_bytes_init(&reply);
    void *session = NULL;
    int rc = sl_ice_on_stun(m->ice, data, len, from, uv_now(m->srv->loop), &reply, &session);
    if (reply.len > 0) send_to(m, from, reply.data, reply.len);
    sl_bytes_free(&reply);
    if (rc != SL_OK || session == NULL) return;
    wr_peer_t *p = session;
    struct sockaddr_storage selected;
    if (sl_ice_selected_addr(m->ice, p->ufrag, &selected) != SL_OK) return;
    if (memcmp(&selected, &p->addr, sizeof(selected)) != 0) {
        p->addr = selected;
        peer_name((const struct sockaddr *)&selected, p->peer_name, sizeof(p->peer_name));
        SL_DEBUG("client %llu webrtc: ICE selected %s", (unsigned long long)p->id, p->peer_name);
    }
    if (p->state == WR_WAIT_ICE) p->state = WR_HANDSHAKE;
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
    wr_module_t *m = h->data;
    if (n <= 0 || from == NULL || m->stopping || (flags & UV_UDP_PARTIAL)) return;
    uint8_t *data = (uint8_t *)buf->base;
    size_t len = (size_t)n;
    wr_peer_t *p;
    switch (sl_webrtc_classify(data[0])) {
    case SL_WEBRTC_STUN: on_stun(m, data, len, from); break;
    case SL_WEBRTC_DTLS:
        if ((p = sl_ice_lookup_addr(m->ice, from)) == NULL) break;
        p->conn.bytes_in += len;
        wr_peer_on_dtls(p, data, len);
        break;
    case SL_WEBRTC_RTP:
        if ((p = sl_ice_lookup_addr(m->ice, from)) == NULL) break;
        p->conn.bytes_in += len;
        wr_peer_on_srtp(p, data, len);
        break;
    default: break; /* ZRTP, TURN channels, garbage: dropped */
    }
}

static void on_consent_expired(void *session, void *arg)
{
    wr_peer_close(session, "ICE consent expired (no STUN for 30 s)");
}

static void on_tick(uv_timer_t *t)
{
    wr_module_t *m = t->data;
    uint64_t now = uv_now(m->srv->loop);
    sl_sctp_tick((uint32_t)(now - m->last_sctp_tick_ms));
    m->last_sctp_tick_ms = now;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &m->peers) wr_peer_tick(sl_container_of(pos, wr_peer_t, link), now);
    /* Consent is counted in seconds; the sweep walks the whole session table. */
    if (now - m->last_sweep_ms >= 1000) {
        m->last_sweep_ms = now;
        (void)sl_ice_sweep_expired(m->ice, now, on_consent_expired, m);
    }
    if (sl_list_empty(&m->peers)) uv_timer_stop(&m->tick);
}

void wr_module_wake(wr_module_t *m)
{
    if (uv_is_active((uv_handle_t *)&m->tick) || m->stopping) return;
    m->last_sctp_tick_ms = uv_now(m->srv->loop);
    uv_timer_start(&m->tick, on_tick, TICK_MS, TICK_MS);
}

/* ---- candidates ------------------------------------------------------------ */

static void add_candidate(wr_module_t *m, const char *ip)
{
    if (m->candidate_count == SL_WEBRTC_MAX_CANDIDATES) return;
    for (int i = 0; i < m->candidate_count; i++)
        if (strcmp(m->candidates[i], ip) == 0) return;
    snprintf(m->candidates[m->candidate_count], sizeof(m->candidates[0]), "%s", ip);
    m->candidate_ptrs[m->candidate_count] = m->candidates[m->candidate_count];
    m->candidate_count++;
}

/* A configured candidate: an IP literal as is, a name resolved now (every address). */
static int add_configured(wr_module_t *m, const char *name)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        SL_ERROR("webrtc.candidates: cannot resolve %s: %s", name, gai_strerror(rc));
        return SL_ERR_CONFIG;
    }
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        if (a->ai_family == AF_INET) uv_ip4_name((struct sockaddr_in *)a->ai_addr, ip, sizeof(ip));
        else if (a->ai_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, ip, sizeof(ip));
        else continue;
        add_candidate(m, ip);
    }
    freeaddrinfo(res);
    return SL_OK;
}

/* Without configured candidates: the host's addresses, IPv4 first; link-local
 * IPv6 needs a zone a candidate cannot carry, so it is left out. Loopback only
 * when there is nothing else (a machine without a network, a test namespace). */
static void add_interfaces(wr_module_t *m)
{
    uv_interface_address_t *ifs = NULL;
    int n = 0;
    if (uv_interface_addresses(&ifs, &n) != 0) n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            char ip[INET6_ADDRSTRLEN];
            if (ifs[i].is_internal) continue;
            if (pass == 0 && ifs[i].address.address4.sin_family == AF_INET) {
                uv_ip4_name(&ifs[i].address.address4, ip, sizeof(ip));
                add_candidate(m, ip);
            } else if (pass == 1 && ifs[i].address.address6.sin6_family == AF_INET6 &&
                       !IN6_IS_ADDR_LINKLOCAL(&ifs[i].address.address6.sin6_addr)) {
                uv_ip6_name(&ifs[i].address.address6, ip, sizeof(ip));
                add_candidate(m, ip);
            }
        }
    }
    uv_free_interface_addresses(ifs, n);
    if (m->candidate_count == 0) add_candidate(m, "127.0.0.1");
}

static int gather_candidates(wr_module_t *m, const char *configured)
{
    char list[sizeof(m->srv->cfg->webrtc.candidates)];
    snprintf(list, sizeof(list), "%s", configured);
    char *save = NULL;
    for (char *name = strtok_r(list, " ", &save); name != NULL; name = strtok_r(NULL, " ", &save)) {
        int rc = add_configured(m, name);
        if (rc != SL_OK) return rc;
    }
    if (m->candidate_count == 0) add_interfaces(m);
    return SL_OK;
}

/* ---- start and stop ----------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    wr_module_t *m = h->data;
    if (--m->open_handles > 0) return;
    sl_ice_free(m->ice);
    sl_dtls_ctx_free(m->dtls);
    if (sl_sctp_global_shutdown() != SL_OK) SL_WARN("webrtc: the SCTP stack was still in use at exit");
    free(m);
}

/* Server shutdown: listeners close first, then sessions (each closes itself, with
 * nothing more sent), then the handles finish closing and the module goes. */
static void close_module(sl_conn_t *c, const char *reason)
{
    wr_module_t *m = sl_container_of(c, wr_module_t, listener);
    m->stopping = true;
    sl_server_remove_listener(m->srv, c);
    m->srv->webrtc = NULL;
    uv_close((uv_handle_t *)&m->udp, on_handle_closed);
    uv_close((uv_handle_t *)&m->tick, on_handle_closed);
}

/* Dual-stack [::] when the host has IPv6, else 0.0.0.0. */
static int bind_udp(wr_module_t *m, uint16_t port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    uv_ip6_addr("::", port, &a6);
    int rc = uv_udp_bind(&m->udp, (const struct sockaddr *)&a6, 0);
    if (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL) {
        uv_ip4_addr("0.0.0.0", port, &a4);
        rc = uv_udp_bind(&m->udp, (const struct sockaddr *)&a4, 0);
    }
    if (rc != 0) {
        SL_ERROR("webrtc: cannot bind UDP port %u: %s", port, uv_strerror(rc));
        return SL_ERR_IO;
    }
    /* Many viewers' packets leave in bursts: a larger send buffer absorbs them. */
    int size = 4 << 20;
    (void)uv_send_buffer_size((uv_handle_t *)&m->udp, &size);
    size = 4 << 20;
    (void)uv_recv_buffer_size((uv_handle_t *)&m->udp, &size);
    return uv_udp_recv_start(&m->udp, on_alloc, on_recv) == 0 ? SL_OK : SL_ERR_IO;
}

static int module_init(wr_module_t *m, sl_server_t *srv)
{
    const sl_config_t *cfg = srv->cfg;
    sl_ice_config_t ice_cfg = {.max_sessions = cfg->limits.max_connections};
    m->ice = sl_ice_new(&ice_cfg);
    if (m->ice == NULL) return SL_ERR_NOMEM;
    const char *cert = cfg->webrtc.cert_file[0] ? cfg->webrtc.cert_file : NULL;
    const char *key = cfg->webrtc.key_file[0] ? cfg->webrtc.key_file : NULL;
    int rc = sl_dtls_ctx_new(cert, key, &m->dtls);
    if (rc != SL_OK) {
        SL_ERROR("webrtc: DTLS certificate: %s", cert ? "cannot load webrtc.cert_file/key_file" : sl_strerror(rc));
        return rc;
    }
    rc = gather_candidates(m, cfg->webrtc.candidates);
    if (rc != SL_OK) return rc;
    rc = bind_udp(m, (uint16_t)cfg->webrtc.udp_port);
    if (rc != SL_OK) return rc;
    char list[SL_WEBRTC_MAX_CANDIDATES * 64] = "";
    for (int i = 0; i < m->candidate_count; i++) {
        strcat(list, i ? " " : "");
        strcat(list, m->candidates[i]);
    }
    SL_INFO("webrtc: UDP port %u, candidates %s, %s", (unsigned)cfg->webrtc.udp_port, list,
            sl_dtls_ctx_fingerprint(m->dtls));
    return wr_whip_start(m);
}

int sl_webrtc_start(sl_server_t *srv)
{
    if (!srv->cfg->webrtc.enabled || srv->http == NULL) return SL_OK;
    wr_module_t *m = calloc(1, sizeof(*m));
    if (m == NULL) return SL_ERR_NOMEM;
    m->srv = srv;
    sl_list_init(&m->peers);
    uv_udp_init(srv->loop, &m->udp);
    uv_timer_init(srv->loop, &m->tick);
    m->udp.data = m->tick.data = m;
    m->open_handles = 2;
    m->listener.close = close_module;
    srv->webrtc = m;
    sl_server_add_listener(srv, &m->listener);
    /* On failure the server stops, which closes the module like any listener. */
    return module_init(m, srv);
}
