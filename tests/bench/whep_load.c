/* whep_load: N WebRTC (WHEP) viewers of one stream from one process on one libuv
 * loop, for tests/bench/webrtc_cost.py; optionally a WHIP publisher in the same
 * process, to measure the latency the server adds from WHIP to WHEP.
 *
 * Each viewer does what a browser does, decoding aside: it POSTs an SDP offer
 * (BUNDLE, H.264 video recvonly, optionally Opus audio) over plain HTTP/1.1, sends
 * authenticated STUN Binding requests from its own UDP socket (nominating first,
 * then a consent check every 5 s), runs the DTLS client handshake, checks the
 * server's certificate against the answer's fingerprint, derives SRTP keys and
 * counts the packets and bytes it gets. Like a browser it sends a receiver report
 * every second and NACKs gaps (--drop PCT makes some: that share of the video
 * packets is ignored on arrival). Packets are not decrypted unless --decrypt: the
 * server's CPU is what is measured, so the client stays cheap. At the end every
 * session the server made is DELETEd.
 *
 * With --whip FILE a publisher first POSTs a sendonly offer to the stream's WHIP
 * endpoint and sends FILE (H.264 Annex-B, one slice per picture, as ffmpeg -f h264
 * writes it) at --fps, SRTP-protected, each frame's RTP timestamp taken from the
 * moment it is sent. The server maps the first timestamp it gets to 0 and keeps the
 * timeline, so a viewer knows from a marker packet's timestamp which frame it ends:
 * the latency is from sending that frame's last packet to receiving its marker
 * packet, on one monotonic clock.
 *
 * Loopback only: the URL and the answer's candidate must be 127.x.x.x addresses.
 * Every phase is bounded in time. Progress and the "steady start" / "steady end"
 * markers (where the benchmark samples the server's CPU) go to stderr, the report
 * (one JSON object) to stdout.
 */
#define _GNU_SOURCE /* memmem */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "protocols/rtp/rtcp.h"
#include "protocols/rtp/rtp.h"
#include "protocols/rtp/rtp_h264.h"
#include "protocols/rtp/sdp.h"
#include "protocols/webrtc/dtls.h"
#include "protocols/webrtc/ice.h"
#include "protocols/webrtc/nack.h"
#include "protocols/webrtc/srtp.h"
#include "protocols/webrtc/stun.h"

#define MAX_VIEWERS 5000
#define TICK_MS 10
#define STUN_RETRY_MS 250
#define CONSENT_MS 5000 /* browsers check consent every 5 s or so (RFC 7675) */
#define RR_MS 1000
#define DELETE_PARALLEL 64
#define DELETE_TIMEOUT_MS 5000
#define HTTP_MAX 65536
#define PT_VIDEO 102
#define PT_AUDIO 111
#define MAX_PACKET 1500
#define MAX_NACKS 64
#define FRAME_RING 4096       /* frames the publisher remembers the send time of */
#define LATENCY_LOOKBACK 512  /* of which a marker packet's frame is looked for */
#define MAX_FILE (64u << 20)
#define MAX_REASONS 32
#define PUBLISH_WARMUP_MS 1000 /* frames sent before viewers come, so the stream has a config */

typedef enum { ST_IDLE, ST_HTTP, ST_ICE, ST_DTLS, ST_LIVE, ST_DONE } state_t;
typedef enum { PH_PUBLISH, PH_RAMP, PH_STEADY, PH_DELETE, PH_CLOSE } phase_t;

typedef struct peer peer_t;
/* status 0: no HTTP answer (reason in body). The body is valid during the call. */
typedef void (*http_done_fn)(peer_t *p, int status, const char *body, size_t body_len);

struct peer {
    int index;
    bool publisher;
    state_t state;
    bool failed; /* ended by a failure, said in `why` */
    bool was_live;
    char why[160];
    uint64_t start_ms; /* loop time of the POST */

    uv_udp_t udp;
    bool udp_open;
    uint16_t local_port;
    struct sockaddr_in remote; /* the answer's candidate */

    /* HTTP exchange in flight, if http_done is set */
    uv_tcp_t tcp;
    bool tcp_open;
    uv_connect_t connect_req;
    uv_write_t write_req;
    http_done_fn http_done;
    sl_bytes_t request, response;
    char location[256]; /* of the session, once the server made one */

    char ufrag[SL_ICE_UFRAG_LEN + 1], pwd[SL_ICE_PWD_LEN + 1];
    char r_ufrag[SL_ICE_UFRAG_MAX + 1], r_pwd[SL_ICE_PWD_MAX + 1];
    char r_fingerprint[SL_DTLS_FINGERPRINT_LEN];
    uint8_t tid[SL_STUN_TID_LEN]; /* of the last request sent */
    uint64_t tie_breaker;
    uint64_t stun_sent_ms, next_consent_ms;
    uint32_t consent_sent, consent_ok;

    sl_dtls_t *dtls;
    sl_srtp_t *srtp;
    uint32_t ssrc; /* ours, in RTCP */

    uint64_t t_start_ns, t_connected_ns, t_first_rtp_ns;
    uint64_t packets, bytes, rtcp_in, decrypt_errors, send_errors;
    uint64_t packets0, bytes0; /* at the start of the steady window */
    uint64_t steady_packets, steady_bytes;
    bool steady_member; /* live when the steady window began */
    bool have_video;
    uint32_t video_ssrc;
    sl_rtcp_rx_stats_t rx;
    sl_nack_t nack;
    uint64_t nacks_sent, next_rr_ms, dropped;
};

typedef struct au {
    size_t off, len; /* in file_data: 4-byte length-prefixed NAL units */
    bool key;
} au_t;

typedef struct sent_frame {
    uint32_t rel_ts; /* RTP timestamp minus the first one sent */
    uint64_t sent_ns;
    /* Over the viewers that timed it: the first and last arrival, which tell the
     * server's own delay from the time its fan-out to every viewer takes. */
    uint32_t got;
    uint64_t first_ns, last_ns;
} sent_frame_t;

typedef struct u64_list {
    uint64_t *v;
    size_t n, cap;
} u64_list_t;

static struct {
    /* options */
    char host[64];
    uint16_t port;
    char whep_path[256], whip_path[256];
    char token[256];
    int viewers;
    int seconds;
    double ramp;
    bool audio, decrypt, nack;
    double drop; /* fraction of video packets ignored on arrival, as if lost */
    uint64_t rng;
    const char *whip_file;
    double fps;
    int connect_timeout_ms;

    uv_loop_t *loop;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    struct sockaddr_in http_addr;
    sl_dtls_ctx_t *dtls;
    peer_t *peers; /* viewers */
    peer_t pub;
    bool with_pub;
    phase_t phase;
    uint64_t phase_ms, ramp_start_ms, steady_end_ms;
    uint64_t steady_start_ns, steady_end_ns;
    double cpu0, cpu1;
    int started;
    int deletes_in_flight, deletes_sent, deletes_ok;
    sl_srtp_profile_t srtp_profile; /* the server's choice, the same for all */
    bool interrupted;

    /* publisher */
    sl_bytes_t file_data;
    au_t *aus;
    size_t au_count;
    sl_rtp_h264_packetizer_t packetizer;
    bool pub_sending;
    uint64_t pub_t0_ns, pub_frames, pub_packets, pub_plis, pub_nacks;
    uint64_t pub_t0_ms;
    uint32_t ts_base, last_rel_ts;
    sent_frame_t ring[FRAME_RING];
    uint64_t ring_count;

    u64_list_t latency_us; /* steady window only */
    u64_list_t first_us, last_us; /* per frame: to its first and its last viewer */
    uint64_t latency_unmatched;
} g;

static uint8_t rbuf[65536 + SL_SRTP_TAILROOM];

/* ---- small helpers ------------------------------------------------------------ */

static uint64_t rand64(void)
{
    uint64_t x = 0;
    if (RAND_bytes((uint8_t *)&x, sizeof(x)) != 1) x = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
    return x;
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void list_push(u64_list_t *l, uint64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint64_t *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL) return; /* a sample less */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const u64_list_t *sorted, double q)
{
    if (sorted->n == 0) return 0;
    size_t i = (size_t)(q * (double)(sorted->n - 1) + 0.5);
    return sorted->v[i];
}

static int appendf(sl_bytes_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int appendf(sl_bytes_t *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) return SL_ERR_TOO_BIG;
    return sl_bytes_append(out, line, (size_t)n);
}

/* xorshift64*: cheap enough to draw for every packet, in [0, 1). */
static double next_random(void)
{
    g.rng ^= g.rng >> 12;
    g.rng ^= g.rng << 25;
    g.rng ^= g.rng >> 27;
    return (double)((g.rng * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static bool loopback(const struct sockaddr_in *a) { return (ntohl(a->sin_addr.s_addr) >> 24) == 127; }

static void peer_end(peer_t *p, bool failure, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void on_answer(peer_t *p, int status, const char *body, size_t len);

/* ---- sending -------------------------------------------------------------------- */

static void udp_send(peer_t *p, const uint8_t *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    if (uv_udp_try_send(&p->udp, &b, 1, (const struct sockaddr *)&p->remote) < 0) p->send_errors++;
}

static void put_attr(uint8_t *msg, size_t *off, uint16_t type, const void *v, size_t len)
{
    sl_wr_be16(msg + *off, type);
    sl_wr_be16(msg + *off + 2, (uint16_t)len);
    memcpy(msg + *off + 4, v, len);
    size_t padded = (len + 3) & ~(size_t)3;
    memset(msg + *off + 4 + len, 0, padded - len);
    *off += 4 + padded;
}

/* A Binding request as a controlling browser sends it: USERNAME "<server>:<ours>",
 * PRIORITY, ICE-CONTROLLING, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY keyed
 * with the server's ice-pwd, FINGERPRINT. */
static void send_stun(peer_t *p, bool nominate, uint64_t now_ms)
{
    uint8_t msg[256];
    size_t off = SL_STUN_HEADER_LEN;
    if (RAND_bytes(p->tid, sizeof(p->tid)) != 1) return;
    sl_wr_be16(msg, SL_STUN_BINDING_REQUEST);
    sl_wr_be16(msg + 2, 0);
    sl_wr_be32(msg + 4, SL_STUN_MAGIC_COOKIE);
    memcpy(msg + 8, p->tid, sizeof(p->tid));
    char user[SL_ICE_UFRAG_MAX + SL_ICE_UFRAG_LEN + 2];
    int ulen = snprintf(user, sizeof(user), "%s:%s", p->r_ufrag, p->ufrag);
    put_attr(msg, &off, SL_STUN_ATTR_USERNAME, user, (size_t)ulen);
    uint8_t v[8];
    sl_wr_be32(v, 0x6e7f1eff); /* a peer-reflexive priority (RFC 8445 7.1.1), as Chrome sends */
    put_attr(msg, &off, SL_STUN_ATTR_PRIORITY, v, 4);
    sl_wr_be32(v, (uint32_t)(p->tie_breaker >> 32));
    sl_wr_be32(v + 4, (uint32_t)p->tie_breaker);
    put_attr(msg, &off, SL_STUN_ATTR_ICE_CONTROLLING, v, 8);
    if (nominate) put_attr(msg, &off, SL_STUN_ATTR_USE_CANDIDATE, v, 0);
    size_t mi = off;
    uint8_t mac[SL_STUN_INTEGRITY_LEN];
    if (sl_stun_integrity(msg, mi, (const uint8_t *)p->r_pwd, strlen(p->r_pwd), mac) != SL_OK) return;
    put_attr(msg, &off, SL_STUN_ATTR_MESSAGE_INTEGRITY, mac, sizeof(mac));
    size_t fp = off;
    sl_wr_be32(v, sl_stun_fingerprint(msg, fp));
    put_attr(msg, &off, SL_STUN_ATTR_FINGERPRINT, v, 4);
    sl_wr_be16(msg + 2, (uint16_t)(off - SL_STUN_HEADER_LEN));
    udp_send(p, msg, off);
    p->stun_sent_ms = now_ms;
}

static void flush_dtls(peer_t *p)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_dtls_take_output(p->dtls, &out) > 0) {
        size_t pos = 0, len;
        const uint8_t *d;
        while ((d = sl_rtp_next_packet(out.data, out.len, &pos, &len)) != NULL) udp_send(p, d, len);
    }
    sl_bytes_free(&out);
}

static void send_rtcp(peer_t *p, const sl_bytes_t *rtcp)
{
    uint8_t pkt[MAX_PACKET + SL_SRTP_TAILROOM];
    size_t len = rtcp->len;
    if (p->srtp == NULL || len > MAX_PACKET) return;
    memcpy(pkt, rtcp->data, len);
    if (sl_srtp_protect_rtcp(p->srtp, pkt, &len, sizeof(pkt)) == SL_OK) udp_send(p, pkt, len);
}

/* ---- HTTP (one request per connection, like a browser's fetch without reuse) ------- */

static void on_tcp_closed(uv_handle_t *h)
{
    peer_t *p = h->data;
    p->tcp_open = false;
}

static void http_finish(peer_t *p, int status, const char *body, size_t len)
{
    http_done_fn done = p->http_done;
    p->http_done = NULL;
    if (p->tcp_open && !uv_is_closing((uv_handle_t *)&p->tcp)) uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
    /* body may point into the response: keep it until done has run, which may start
     * the next exchange. */
    sl_bytes_t response = p->response;
    sl_bytes_init(&p->response);
    sl_bytes_free(&p->request);
    if (done != NULL) done(p, status, body, len);
    sl_bytes_free(&response);
}

static void http_fail(peer_t *p, const char *why) { http_finish(p, 0, why, strlen(why)); }

/* The answer is complete when the headers are and Content-Length bytes follow
 * (or at EOF). Returns whether it finished the exchange. */
static bool http_try_complete(peer_t *p, bool eof)
{
    const char *d = (const char *)p->response.data;
    size_t n = p->response.len;
    const char *end = n >= 4 ? memmem(d, n, "\r\n\r\n", 4) : NULL;
    if (end == NULL) {
        if (eof) http_fail(p, "HTTP answer cut short");
        return eof;
    }
    size_t head = (size_t)(end - d) + 4, clen = 0;
    bool have_len = false;
    char headers[8192];
    size_t hl = head < sizeof(headers) - 1 ? head : sizeof(headers) - 1;
    memcpy(headers, d, hl);
    headers[hl] = '\0';
    int status = 0;
    if (sscanf(headers, "HTTP/1.%*d %d", &status) != 1) {
        http_fail(p, "not an HTTP answer");
        return true;
    }
    char *save = NULL;
    for (char *line = strtok_r(headers, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            clen = strtoul(line + 15, NULL, 10);
            have_len = true;
        } else if (strncasecmp(line, "Location:", 9) == 0) {
            const char *v = line + 9;
            while (*v == ' ') v++;
            snprintf(p->location, sizeof(p->location), "%s", v);
        }
    }
    if (!eof && (!have_len || n - head < clen)) return false;
    size_t body = have_len && clen < n - head ? clen : n - head;
    http_finish(p, status, d + head, body);
    return true;
}

static void http_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char mem[65536];
    *buf = uv_buf_init(mem, sizeof(mem));
}

static void on_http_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    peer_t *p = s->data;
    if (p->http_done == NULL) return;
    if (n > 0) {
        if (p->response.len + (size_t)n > HTTP_MAX || sl_bytes_append(&p->response, buf->base, (size_t)n) != SL_OK) {
            http_fail(p, "HTTP answer too large");
            return;
        }
        (void)http_try_complete(p, false);
    } else if (n == UV_EOF) {
        (void)http_try_complete(p, true);
    } else if (n < 0) {
        http_fail(p, "HTTP connection error");
    }
}

static void on_http_write(uv_write_t *w, int status)
{
    peer_t *p = w->data;
    if (status < 0 && p->http_done != NULL) http_fail(p, "HTTP write failed");
}

static void on_http_connect(uv_connect_t *c, int status)
{
    peer_t *p = c->data;
    if (p->http_done == NULL) return;
    if (status < 0) {
        http_fail(p, "cannot connect to the HTTP port");
        return;
    }
    uv_buf_t b = uv_buf_init((char *)p->request.data, (unsigned)p->request.len);
    p->write_req.data = p;
    if (uv_write(&p->write_req, (uv_stream_t *)&p->tcp, &b, 1, on_http_write) != 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, http_alloc, on_http_read) != 0)
        http_fail(p, "HTTP write failed");
}

static void http_start(peer_t *p, const char *method, const char *path, const sl_bytes_t *body, http_done_fn done)
{
    sl_bytes_t *req = &p->request;
    sl_bytes_init(req);
    int rc = appendf(req, "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n", method, path, g.host, g.port);
    if (rc == SL_OK && g.token[0]) rc = appendf(req, "Authorization: Bearer %s\r\n", g.token);
    if (rc == SL_OK && body != NULL) rc = appendf(req, "Content-Type: application/sdp\r\n");
    if (rc == SL_OK) rc = appendf(req, "Content-Length: %zu\r\n\r\n", body != NULL ? body->len : 0);
    if (rc == SL_OK && body != NULL) rc = sl_bytes_append(req, body->data, body->len);
    p->http_done = done;
    sl_bytes_init(&p->response);
    if (rc != SL_OK) {
        http_fail(p, "out of memory");
        return;
    }
    uv_tcp_init(g.loop, &p->tcp);
    p->tcp.data = p;
    p->tcp_open = true;
    p->connect_req.data = p;
    if (uv_tcp_connect(&p->connect_req, &p->tcp, (const struct sockaddr *)&g.http_addr, on_http_connect) != 0)
        http_fail(p, "cannot connect to the HTTP port");
}

/* ---- offer and answer ----------------------------------------------------------- */

static int media_lines(sl_bytes_t *o, const peer_t *p, const char *type, const char *pts, const char *mid,
                       const char *dir)
{
    int rc = appendf(o, "m=%s %u UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 127.0.0.1\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
                     type, p->local_port, pts);
    if (rc == SL_OK)
        rc = appendf(o, "a=candidate:1 1 udp 2130706431 127.0.0.1 %u typ host generation 0\r\n"
                        "a=end-of-candidates\r\n", p->local_port);
    if (rc == SL_OK)
        rc = appendf(o, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\na=fingerprint:%s\r\n"
                        "a=setup:actpass\r\na=mid:%s\r\na=%s\r\na=rtcp-mux\r\n",
                     p->ufrag, p->pwd, sl_dtls_ctx_fingerprint(g.dtls), mid, dir);
    return rc;
}

/* An offer shaped like Chrome's: one BUNDLE, H.264 constrained baseline with RTX and
 * the usual feedback, Opus for audio. */
static int build_offer(const peer_t *p, sl_bytes_t *o)
{
    bool audio = g.audio && !p->publisher;
    int rc = appendf(o, "v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0%s\r\n"
                        "a=extmap-allow-mixed\r\na=msid-semantic: WMS%s\r\n",
                     rand64() >> 2, audio ? " 1" : "", p->publisher ? " whep_load" : "");
    if (rc == SL_OK) rc = media_lines(o, p, "video", "102 103", "0", p->publisher ? "sendonly" : "recvonly");
    if (rc == SL_OK && p->publisher) rc = appendf(o, "a=msid:whep_load video0\r\n");
    if (rc == SL_OK)
        rc = appendf(o, "a=rtcp-rsize\r\na=rtpmap:102 H264/90000\r\na=rtcp-fb:102 goog-remb\r\n"
                        "a=rtcp-fb:102 transport-cc\r\na=rtcp-fb:102 ccm fir\r\na=rtcp-fb:102 nack\r\n"
                        "a=rtcp-fb:102 nack pli\r\n"
                        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
                        "a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n");
    if (rc == SL_OK && p->publisher)
        rc = appendf(o, "a=ssrc:%u cname:whep_load\r\na=ssrc:%u msid:whep_load video0\r\n", p->ssrc, p->ssrc);
    if (rc == SL_OK && audio) {
        rc = media_lines(o, p, "audio", "111", "1", "recvonly");
        if (rc == SL_OK)
            rc = appendf(o, "a=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n"
                            "a=fmtp:111 minptime=10;useinbandfec=1\r\n");
    }
    return rc;
}

static bool copy_attr(char *out, size_t cap, const char *v)
{
    if (v == NULL || strlen(v) >= cap) return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

/* Takes the server's ICE credentials, fingerprint and a loopback UDP candidate from
 * the answer. Returns why it cannot be used, or NULL. */
static const char *read_answer(peer_t *p, const char *body, size_t len)
{
    sl_sdp_t *sdp = NULL;
    if (sl_sdp_parse(body, len, &sdp) != SL_OK) return "the answer is not valid SDP";
    const char *why = NULL;
    const sl_sdp_media_t *m = NULL;
    for (int i = 0; i < sdp->media_count && m == NULL; i++)
        if (sdp->media[i].port != 0) m = &sdp->media[i];
    if (m == NULL || strcmp(m->type, "video") != 0) {
        why = "the answer does not accept the video section";
        goto out;
    }
    const char *ufrag = sl_sdp_attr_get(m, "ice-ufrag"), *pwd = sl_sdp_attr_get(m, "ice-pwd");
    const char *fp = sl_sdp_attr_get(m, "fingerprint");
    if (ufrag == NULL) ufrag = sl_sdp_session_attr_get(sdp, "ice-ufrag");
    if (pwd == NULL) pwd = sl_sdp_session_attr_get(sdp, "ice-pwd");
    if (fp == NULL) fp = sl_sdp_session_attr_get(sdp, "fingerprint");
    if (!copy_attr(p->r_ufrag, sizeof(p->r_ufrag), ufrag) || !copy_attr(p->r_pwd, sizeof(p->r_pwd), pwd) ||
        !copy_attr(p->r_fingerprint, sizeof(p->r_fingerprint), fp)) {
        why = "the answer lacks ice-ufrag, ice-pwd or fingerprint";
        goto out;
    }
    why = "the answer has no 127.x.x.x UDP candidate";
    int pos = 0;
    const char *c;
    while ((c = sl_sdp_attr_next(m, "candidate", &pos)) != NULL) {
        char fnd[33], transport[16], addr[64], typ[16];
        unsigned comp, prio, port;
        if (sscanf(c, "%32s %u %15s %u %63s %u typ %15s", fnd, &comp, transport, &prio, addr, &port, typ) != 7 ||
            strcasecmp(transport, "udp") != 0 || port == 0 || port > 65535)
            continue;
        struct sockaddr_in a;
        if (uv_ip4_addr(addr, (int)port, &a) != 0 || !loopback(&a)) continue;
        p->remote = a;
        why = NULL;
        break;
    }
out:
    sl_sdp_free(sdp);
    return why;
}

/* ---- peer life ------------------------------------------------------------------ */

static void peer_release(peer_t *p)
{
    if (p->udp_open && !uv_is_closing((uv_handle_t *)&p->udp)) uv_close((uv_handle_t *)&p->udp, NULL);
    sl_dtls_free(p->dtls);
    p->dtls = NULL;
    sl_srtp_free(p->srtp);
    p->srtp = NULL;
}

static void peer_end(peer_t *p, bool failure, const char *fmt, ...)
{
    if (p->state == ST_DONE) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
    p->failed = failure;
    p->state = ST_DONE;
    /* A DELETE in flight finishes: the server answers it after closing DTLS. */
    if (p->http_done == on_answer) http_fail(p, "cancelled");
    peer_release(p);
    if (p->publisher) g.pub_sending = false;
    if (failure) fprintf(stderr, "whep_load: %s %d: %s\n", p->publisher ? "publisher" : "viewer", p->index, p->why);
}

static void on_connected(peer_t *p, uint64_t now_ms)
{
    if (sl_dtls_verify_fingerprint(p->dtls, p->r_fingerprint) != SL_OK) {
        peer_end(p, true, "the server's DTLS certificate does not match the answer's fingerprint");
        return;
    }
    sl_srtp_keys_t keys;
    int rc = sl_dtls_srtp_keys(p->dtls, &keys);
    if (rc == SL_OK) rc = sl_srtp_new(&keys, &p->srtp);
    if (rc == SL_OK) g.srtp_profile = keys.profile;
    if (rc != SL_OK) {
        peer_end(p, true, "no SRTP keys: %s", sl_strerror(rc));
        return;
    }
    p->state = ST_LIVE;
    p->was_live = true;
    p->t_connected_ns = uv_hrtime();
    p->next_consent_ms = now_ms + CONSENT_MS;
    p->next_rr_ms = now_ms + RR_MS;
    if (p->publisher) {
        g.pub_sending = true;
        g.pub_t0_ms = now_ms;
    }
}

static void on_stun(peer_t *p, const uint8_t *d, size_t len, uint64_t now_ms)
{
    sl_stun_msg_t m;
    if (sl_stun_parse(&m, d, len) != SL_OK || memcmp(m.tid, p->tid, sizeof(p->tid)) != 0) return;
    if (sl_stun_check_integrity(&m, (const uint8_t *)p->r_pwd, strlen(p->r_pwd)) != SL_OK) return;
    if (m.type == SL_STUN_BINDING_ERROR) {
        peer_end(p, true, "STUN error %d", m.error_code);
        return;
    }
    if (m.type != SL_STUN_BINDING_SUCCESS) return;
    if (p->state == ST_ICE) {
        p->state = ST_DTLS;
        p->dtls = sl_dtls_new(g.dtls, false);
        if (p->dtls == NULL) {
            peer_end(p, true, "out of memory");
            return;
        }
        flush_dtls(p);
    } else if (p->state == ST_LIVE) {
        p->consent_ok++;
    }
}

static void on_dtls(peer_t *p, const uint8_t *d, size_t len, uint64_t now_ms)
{
    if (p->dtls == NULL) return;
    int rc = sl_dtls_feed(p->dtls, d, len, NULL);
    flush_dtls(p);
    if (rc == SL_ERR_CLOSED) {
        /* After the steady window it answers our DELETE. */
        bool ours = g.phase >= PH_DELETE;
        peer_end(p, !ours, "closed by the server (DTLS close_notify)%s", p->was_live ? " while playing" : "");
        return;
    }
    if (rc != SL_OK) {
        peer_end(p, true, "DTLS handshake failed (%s)", sl_strerror(rc));
        return;
    }
    if (p->state == ST_DTLS && sl_dtls_handshake_done(p->dtls)) on_connected(p, now_ms);
}

static sent_frame_t *find_frame(uint32_t rel_ts)
{
    uint64_t n = g.ring_count < LATENCY_LOOKBACK ? g.ring_count : LATENCY_LOOKBACK;
    for (uint64_t i = 1; i <= n; i++) {
        sent_frame_t *f = &g.ring[(g.ring_count - i) % FRAME_RING];
        if (f->rel_ts == rel_ts) return f;
    }
    return NULL;
}

static void on_publisher_rtcp(peer_t *p, uint8_t *d, size_t len)
{
    if (sl_srtp_unprotect_rtcp(p->srtp, d, &len) != SL_OK) {
        p->decrypt_errors++;
        return;
    }
    size_t pos = 0;
    sl_rtcp_packet_t pkt;
    sl_rtcp_nack_t nack;
    uint32_t s, m;
    while (sl_rtcp_next(d, len, &pos, &pkt) == 1) {
        if (sl_rtcp_parse_pli(&pkt, &s, &m) == SL_OK) g.pub_plis++;
        else if (sl_rtcp_parse_nack(&pkt, &nack) == SL_OK) g.pub_nacks += nack.count;
    }
}

static void on_srtp(peer_t *p, uint8_t *d, size_t len, uint64_t now_ns, uint64_t now_ms)
{
    if (p->state != ST_LIVE || len < SL_RTP_HEADER_LEN) return;
    /* RFC 5761 4: RTCP packet types 192..223 sit where RTP payload types 64..95 would. */
    if (d[1] >= 192 && d[1] <= 223) {
        p->rtcp_in++;
        if (p->publisher) on_publisher_rtcp(p, d, len);
        else if (g.decrypt && sl_srtp_unprotect_rtcp(p->srtp, d, &len) != SL_OK) p->decrypt_errors++;
        return;
    }
    if (p->publisher) return;
    /* The header is not encrypted: counting needs no decryption. */
    bool marker = d[1] & 0x80;
    uint8_t pt = d[1] & 0x7f;
    uint16_t seq = (uint16_t)(d[2] << 8 | d[3]);
    uint32_t ts = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    uint32_t ssrc = (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11];
    size_t wire = len;
    /* Before decrypting: a packet lost on the way never reaches the replay check. */
    if (pt == PT_VIDEO && g.drop > 0 && next_random() < g.drop) {
        p->dropped++;
        return;
    }
    if (g.decrypt && sl_srtp_unprotect(p->srtp, d, &len) != SL_OK) {
        p->decrypt_errors++;
        return;
    }
    p->packets++;
    p->bytes += wire;
    if (p->t_first_rtp_ns == 0) p->t_first_rtp_ns = now_ns;
    if (pt != PT_VIDEO) return;
    if (!p->have_video || ssrc != p->video_ssrc) {
        p->have_video = true;
        p->video_ssrc = ssrc;
        sl_rtcp_rx_init(&p->rx);
        if (sl_nack_init(&p->nack, NULL) != SL_OK) p->have_video = false; /* cannot fail with defaults */
    }
    (void)sl_rtcp_rx_packet(&p->rx, seq, ts, (uint32_t)(now_ms * 90));
    sl_nack_verdict_t v = sl_nack_on_packet(&p->nack, seq, now_ms);
    /* Only fresh packets of frames sent while we play: the GOP cache we get on joining
     * and retransmissions say nothing about the server's delay. */
    if (!g.with_pub || !marker || v != SL_NACK_NEWEST || g.phase != PH_STEADY) return;
    sent_frame_t *f = find_frame(ts);
    if (f == NULL) {
        g.latency_unmatched++;
    } else if (f->sent_ns > p->t_connected_ns) {
        list_push(&g.latency_us, (now_ns - f->sent_ns) / 1000);
        if (f->got++ == 0) f->first_ns = now_ns;
        f->last_ns = now_ns;
    }
}

/* Moves a frame's first and last arrival into the per-frame lists. */
static void close_frame(sent_frame_t *f)
{
    if (f->got == 0) return;
    list_push(&g.first_us, (f->first_ns - f->sent_ns) / 1000);
    list_push(&g.last_us, (f->last_ns - f->sent_ns) / 1000);
    f->got = 0;
}

static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
    peer_t *p = h->data;
    if (n <= 0 || from == NULL || from->sa_family != AF_INET || p->state == ST_DONE) return;
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    if (a->sin_port != p->remote.sin_port || a->sin_addr.s_addr != p->remote.sin_addr.s_addr) return;
    uint8_t *d = (uint8_t *)buf->base;
    uint64_t now_ns = uv_hrtime(), now_ms = uv_now(g.loop);
    switch (sl_webrtc_classify(d[0])) {
    case SL_WEBRTC_STUN: on_stun(p, d, (size_t)n, now_ms); break;
    case SL_WEBRTC_DTLS: on_dtls(p, d, (size_t)n, now_ms); break;
    case SL_WEBRTC_RTP: on_srtp(p, d, (size_t)n, now_ns, now_ms); break;
    default: break;
    }
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* Datagrams are handled one by one before the next read, with room for SRTP. */
    *buf = uv_buf_init((char *)rbuf, sizeof(rbuf) - SL_SRTP_TAILROOM);
}

static void on_answer(peer_t *p, int status, const char *body, size_t len)
{
    if (p->state != ST_HTTP) return;
    if (g.phase >= PH_DELETE) {
        peer_end(p, false, "stopped before it connected");
        return;
    }
    if (status != 201) {
        char first[120] = "";
        size_t n = strcspn(body, "\r\n");
        snprintf(first, sizeof(first), "%.*s", (int)(n < len ? n : len), body);
        if (status == 0) peer_end(p, true, "%s", first);
        else peer_end(p, true, "HTTP %d: %s", status, first);
        return;
    }
    const char *why = read_answer(p, body, len);
    if (why != NULL) {
        peer_end(p, true, "%s", why);
        return;
    }
    p->state = ST_ICE;
    send_stun(p, true, uv_now(g.loop));
}

static void peer_start(peer_t *p, uint64_t now_ms)
{
    p->state = ST_HTTP;
    p->start_ms = now_ms;
    p->t_start_ns = uv_hrtime();
    p->tie_breaker = rand64();
    p->ssrc = (uint32_t)rand64();
    if (sl_ice_gen_credentials(p->ufrag, p->pwd) != SL_OK) {
        peer_end(p, true, "no random credentials");
        return;
    }
    struct sockaddr_in local;
    uv_ip4_addr("127.0.0.1", 0, &local);
    uv_udp_init(g.loop, &p->udp);
    p->udp.data = p;
    p->udp_open = true;
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (uv_udp_bind(&p->udp, (const struct sockaddr *)&local, 0) != 0 ||
        uv_udp_getsockname(&p->udp, (struct sockaddr *)&bound, &blen) != 0 ||
        uv_udp_recv_start(&p->udp, udp_alloc, on_udp) != 0) {
        peer_end(p, true, "cannot open a UDP socket");
        return;
    }
    int size = 256 << 10;
    (void)uv_recv_buffer_size((uv_handle_t *)&p->udp, &size);
    p->local_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    sl_bytes_t offer;
    sl_bytes_init(&offer);
    if (build_offer(p, &offer) != SL_OK) {
        sl_bytes_free(&offer);
        peer_end(p, true, "cannot build the offer");
        return;
    }
    http_start(p, "POST", p->publisher ? g.whip_path : g.whep_path, &offer, on_answer);
    sl_bytes_free(&offer);
}

static void send_receiver_report(peer_t *p, uint64_t now_ms)
{
    p->next_rr_ms += RR_MS;
    if (!p->have_video) return;
    sl_rtcp_report_block_t rb;
    sl_rtcp_rx_report(&p->rx, p->video_ssrc, now_ms, &rb);
    sl_bytes_t rtcp;
    sl_bytes_init(&rtcp);
    if (sl_rtcp_build_rr_sdes(&rtcp, p->ssrc, &rb, "whep_load", 9) == SL_OK) send_rtcp(p, &rtcp);
    sl_bytes_free(&rtcp);
}

static void send_nacks(peer_t *p, uint64_t now_ms)
{
    uint16_t seqs[MAX_NACKS];
    int n = sl_nack_collect(&p->nack, now_ms, 0, seqs, MAX_NACKS);
    if (n <= 0) return;
    sl_bytes_t rtcp;
    sl_bytes_init(&rtcp);
    if (sl_rtcp_build_nack(&rtcp, p->ssrc, p->video_ssrc, seqs, (size_t)n) == SL_OK) send_rtcp(p, &rtcp);
    sl_bytes_free(&rtcp);
    p->nacks_sent += (uint64_t)n;
}

static void peer_tick(peer_t *p, uint64_t now_ms)
{
    if (p->state == ST_IDLE || p->state == ST_DONE) return;
    if (p->state != ST_LIVE) {
        if (now_ms - p->start_ms >= (uint64_t)g.connect_timeout_ms) {
            peer_end(p, true, "%s", p->state == ST_HTTP ? "timed out waiting for the HTTP answer"
                                   : p->state == ST_ICE ? "no STUN answer in time"
                                                        : "DTLS handshake timed out");
            return;
        }
        if (p->state == ST_ICE && now_ms - p->stun_sent_ms >= STUN_RETRY_MS) send_stun(p, true, now_ms);
        if (p->state == ST_DTLS && sl_dtls_timeout_ms(p->dtls) == 0) {
            if (sl_dtls_handle_timeout(p->dtls) != SL_OK) {
                peer_end(p, true, "DTLS: no answer to retransmissions");
                return;
            }
            flush_dtls(p);
        }
        return;
    }
    if (now_ms >= p->next_consent_ms) {
        p->next_consent_ms += CONSENT_MS;
        p->consent_sent++;
        send_stun(p, false, now_ms);
    }
    if (p->publisher) return;
    if (now_ms >= p->next_rr_ms) send_receiver_report(p, now_ms);
    if (g.nack && p->have_video) send_nacks(p, now_ms);
}

/* ---- the WHIP publisher ------------------------------------------------------------ */

static bool starts_au(int type, const uint8_t *nal, size_t len)
{
    /* A picture starts at an access unit delimiter, SEI or parameter set, or at a
     * slice whose first_mb_in_slice is 0 (ue(v) 0 is a single 1 bit). */
    if (type == 6 || type == 7 || type == 8 || type == 9) return true;
    return (type == 1 || type == 5) && len > 1 && (nal[1] & 0x80);
}

static void add_nal(const uint8_t *nal, size_t len, bool *cur_vcl, au_t *cur)
{
    int type = nal[0] & 0x1f;
    if (*cur_vcl && starts_au(type, nal, len)) {
        void *aus = realloc(g.aus, (g.au_count + 1) * sizeof(*g.aus));
        if (aus == NULL) return;
        g.aus = aus;
        g.aus[g.au_count++] = *cur;
        *cur = (au_t){.off = g.file_data.len};
        *cur_vcl = false;
    }
    if (type == 9) return; /* the packetizer would drop it anyway */
    if (sl_bytes_put_be32(&g.file_data, (uint32_t)len) != SL_OK || sl_bytes_append(&g.file_data, nal, len) != SL_OK)
        return;
    cur->len = g.file_data.len - cur->off;
    if (type == 5) cur->key = true;
    if (type == 1 || type == 5) *cur_vcl = true;
}

/* Splits an Annex-B file into access units of 4-byte length-prefixed NAL units. */
static int load_annexb(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return SL_ERR_IO;
    uint8_t *raw = malloc(MAX_FILE);
    size_t n = raw != NULL ? fread(raw, 1, MAX_FILE, f) : 0;
    fclose(f);
    if (raw == NULL) return SL_ERR_NOMEM;
    au_t cur = {0};
    bool cur_vcl = false;
    size_t i = 0, start = SIZE_MAX;
    while (i + 3 <= n) {
        if (raw[i] == 0 && raw[i + 1] == 0 && raw[i + 2] == 1) {
            if (start != SIZE_MAX) {
                size_t end = i;
                while (end > start && raw[end - 1] == 0) end--; /* 4-byte start code, trailing zeros */
                if (end > start) add_nal(raw + start, end - start, &cur_vcl, &cur);
            }
            i += 3;
            start = i;
        } else {
            i++;
        }
    }
    if (start != SIZE_MAX && n > start) add_nal(raw + start, n - start, &cur_vcl, &cur);
    if (cur_vcl) {
        void *aus = realloc(g.aus, (g.au_count + 1) * sizeof(*g.aus));
        if (aus != NULL) {
            g.aus = aus;
            g.aus[g.au_count++] = cur;
        }
    }
    free(raw);
    return g.au_count > 0 && g.aus[0].key ? SL_OK : SL_ERR_PROTO;
}

static void send_frame(uint64_t index)
{
    const au_t *au = &g.aus[index % g.au_count];
    uint64_t now_ns = uv_hrtime();
    /* The server maps the first timestamp to 0: so do we, to look frames up by it. */
    if (index == 0) g.pub_t0_ns = now_ns;
    uint32_t rel = (uint32_t)((now_ns - g.pub_t0_ns) * 9 / 100000); /* 90 kHz */
    if (index > 0 && (int32_t)(rel - g.last_rel_ts) <= 0) rel = g.last_rel_ts + 1;
    g.last_rel_ts = rel;
    int64_t pts = (int64_t)(uint32_t)(g.ts_base + rel);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, au->key ? SL_FRAME_KEY : 0, pts, pts,
                                     g.file_data.data + au->off, au->len);
    if (f == NULL) return;
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_rtp_h264_packetize(&g.packetizer, f, &out) == SL_OK) {
        size_t pos = 0, len;
        const uint8_t *d;
        uint8_t pkt[MAX_PACKET + SL_SRTP_TAILROOM];
        while ((d = sl_rtp_next_packet(out.data, out.len, &pos, &len)) != NULL) {
            size_t plen = len;
            if (len > MAX_PACKET) continue;
            memcpy(pkt, d, len);
            if (sl_srtp_protect(g.pub.srtp, pkt, &plen, sizeof(pkt)) != SL_OK) continue;
            udp_send(&g.pub, pkt, plen);
            g.pub_packets++;
        }
        close_frame(&g.ring[g.ring_count % FRAME_RING]);
        g.ring[g.ring_count % FRAME_RING] = (sent_frame_t){.rel_ts = rel, .sent_ns = uv_hrtime()};
        g.ring_count++;
        g.pub_frames++;
    }
    sl_bytes_free(&out);
    sl_frame_unref(f);
}

static void publish_due(uint64_t now_ms)
{
    if (!g.pub_sending) return;
    uint64_t due = (uint64_t)((double)(now_ms - g.pub_t0_ms) * g.fps / 1000.0) + 1;
    /* After a stall, skip ahead rather than burst: a camera does not send the past. */
    if (due > g.pub_frames + 5) g.pub_frames = due - 1;
    while (g.pub_frames < due && g.pub_sending) send_frame(g.pub_frames);
}

/* ---- phases -------------------------------------------------------------------- */

static void close_everything(void);

static int pending_viewers(void)
{
    int n = 0;
    for (int i = 0; i < g.viewers; i++)
        if (g.peers[i].state != ST_LIVE && g.peers[i].state != ST_DONE) n++;
    return n;
}

static int count_state(state_t s)
{
    int n = 0;
    for (int i = 0; i < g.viewers; i++) n += g.peers[i].state == s;
    return n;
}

static void set_phase(phase_t ph, uint64_t now_ms)
{
    g.phase = ph;
    g.phase_ms = now_ms;
}

static void start_steady(uint64_t now_ms)
{
    for (int i = 0; i < g.viewers; i++) {
        peer_t *p = &g.peers[i];
        p->packets0 = p->packets;
        p->bytes0 = p->bytes;
        p->steady_member = p->state == ST_LIVE;
    }
    g.steady_start_ns = uv_hrtime();
    g.cpu0 = cpu_self();
    g.steady_end_ms = now_ms + (uint64_t)g.seconds * 1000;
    set_phase(PH_STEADY, now_ms);
    fprintf(stderr, "whep_load: steady start: %d live, %d failed\n", count_state(ST_LIVE), count_state(ST_DONE));
}

static void end_steady(uint64_t now_ms)
{
    g.steady_end_ns = uv_hrtime();
    g.cpu1 = cpu_self();
    if (g.steady_start_ns == 0) g.cpu0 = g.cpu1; /* interrupted before the window */
    for (size_t i = 0; i < FRAME_RING; i++) close_frame(&g.ring[i]);
    for (int i = 0; i < g.viewers; i++) {
        peer_t *p = &g.peers[i];
        p->steady_packets = p->packets - p->packets0;
        p->steady_bytes = p->bytes - p->bytes0;
    }
    fprintf(stderr, "whep_load: steady end: %d live\n", count_state(ST_LIVE));
    set_phase(PH_DELETE, now_ms);
}

static void on_deleted(peer_t *p, int status, const char *body, size_t len)
{
    g.deletes_in_flight--;
    if (status == 200) g.deletes_ok++;
}

/* DELETEs every session the server made (a 201), a few at a time. Returns true
 * when none is left to send or waiting for its answer. */
static bool run_deletes(void)
{
    bool busy = false;
    /* Viewers first: the publisher leaving would end the stream under them. */
    for (int i = 0; i <= g.viewers; i++) {
        peer_t *p = i < g.viewers ? &g.peers[i] : &g.pub;
        if (p == &g.pub && (busy || !g.with_pub)) break;
        if (p->location[0] == '\0') continue;
        busy = true;
        if (p->http_done != NULL || p->tcp_open || g.deletes_in_flight >= DELETE_PARALLEL) continue;
        char path[256];
        snprintf(path, sizeof(path), "%s", p->location);
        p->location[0] = '\0';
        g.deletes_sent++;
        g.deletes_in_flight++;
        http_start(p, "DELETE", path, NULL, on_deleted);
    }
    return !busy && g.deletes_in_flight == 0;
}

static void progress(uint64_t now_ms)
{
    static uint64_t last;
    if (now_ms - last < 1000) return;
    last = now_ms;
    fprintf(stderr, "whep_load: started %d, live %d, connecting %d, ended %d\n", g.started, count_state(ST_LIVE),
            pending_viewers() - count_state(ST_IDLE), count_state(ST_DONE));
}

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_now(g.loop);
    uint64_t in_phase = now - g.phase_ms;
    switch (g.phase) {
    case PH_PUBLISH:
        if (g.pub.state == ST_DONE || in_phase > (uint64_t)g.connect_timeout_ms + PUBLISH_WARMUP_MS) {
            if (g.pub.state != ST_DONE) peer_end(&g.pub, true, "publisher not live in time");
            set_phase(PH_DELETE, now);
        } else if (g.pub_sending && now - g.pub_t0_ms >= PUBLISH_WARMUP_MS) {
            set_phase(PH_RAMP, now);
            g.ramp_start_ms = now;
        }
        break;
    case PH_RAMP: {
        int target = g.ramp > 0 ? (int)((double)(now - g.ramp_start_ms) * g.ramp / 1000.0) + 1 : g.viewers;
        while (g.started < g.viewers && g.started < target) {
            g.peers[g.started].index = g.started;
            peer_start(&g.peers[g.started], now);
            g.started++;
        }
        progress(now);
        if (g.started == g.viewers && pending_viewers() == 0) start_steady(now);
        else if (g.with_pub && g.pub.state == ST_DONE) set_phase(PH_DELETE, now);
        break;
    }
    case PH_STEADY:
        if (now >= g.steady_end_ms || g.interrupted) end_steady(now);
        break;
    case PH_DELETE:
        if (run_deletes() || in_phase >= DELETE_TIMEOUT_MS) {
            set_phase(PH_CLOSE, now);
            close_everything();
            return;
        }
        break;
    case PH_CLOSE: return;
    }
    if (g.interrupted && g.phase < PH_STEADY) {
        if (g.phase == PH_RAMP) start_steady(now);
        end_steady(now);
    }
    if (g.with_pub) peer_tick(&g.pub, now);
    for (int i = 0; i < g.started; i++) peer_tick(&g.peers[i], now);
    /* Last, so the time we spend above does not delay the packets' trip back. */
    if (g.with_pub) publish_due(now);
}

static void on_signal(uv_signal_t *s, int signum) { g.interrupted = true; }

static void close_everything(void)
{
    uv_timer_stop(&g.tick);
    uv_close((uv_handle_t *)&g.tick, NULL);
    uv_close((uv_handle_t *)&g.sigint, NULL);
    uv_close((uv_handle_t *)&g.sigterm, NULL);
    for (int i = 0; i <= g.viewers; i++) {
        peer_t *p = i < g.viewers ? &g.peers[i] : &g.pub;
        if (p->http_done != NULL) http_fail(p, "cancelled");
        if (p->tcp_open && !uv_is_closing((uv_handle_t *)&p->tcp)) uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
        peer_release(p);
    }
}

/* ---- report -------------------------------------------------------------------- */

static void print_stats(const char *name, u64_list_t *l, double scale, bool total)
{
    qsort(l->v, l->n, sizeof(uint64_t), cmp_u64);
    uint64_t sum = 0;
    for (size_t i = 0; i < l->n; i++) sum += l->v[i];
    printf("\"%s\":{\"n\":%zu,\"min\":%.3f,\"median\":%.3f,\"p95\":%.3f,\"max\":%.3f", name, l->n,
           l->n ? (double)l->v[0] * scale : 0.0, (double)pct(l, 0.5) * scale, (double)pct(l, 0.95) * scale,
           l->n ? (double)l->v[l->n - 1] * scale : 0.0);
    if (total) printf(",\"total\":%" PRIu64, sum);
    printf("}");
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void report(void)
{
    const char *reasons[MAX_REASONS];
    int counts[MAX_REASONS], nr = 0, connected = 0, failed = 0, dropped = 0, never = 0;
    u64_list_t connect = {0}, first = {0}, packets = {0}, bytes = {0};
    uint64_t lost = 0, discarded = 0, recovered = 0, nacks = 0, rtcp = 0, decrypt_errors = 0, consent_sent = 0, consent_ok = 0, send_errors = 0;
    int zero_media = 0;
    for (int i = 0; i < g.viewers; i++) {
        peer_t *p = &g.peers[i];
        if (p->was_live) {
            connected++;
            list_push(&connect, (p->t_connected_ns - p->t_start_ns) / 1000);
            if (p->t_first_rtp_ns) list_push(&first, (p->t_first_rtp_ns - p->t_start_ns) / 1000);
        }
        if (p->state == ST_IDLE) never++;
        if (p->failed) {
            failed++;
            if (p->was_live) dropped++;
            int k = 0;
            while (k < nr && strcmp(reasons[k], p->why) != 0) k++;
            if (k == nr && nr < MAX_REASONS) {
                reasons[nr] = p->why;
                counts[nr++] = 0;
            }
            if (k < nr) counts[k]++;
        }
        if (p->steady_member) {
            list_push(&packets, p->steady_packets);
            list_push(&bytes, p->steady_bytes);
            if (p->steady_packets == 0) zero_media++;
        }
        /* From the NACK tracker rather than the RTCP counters, which ignore a packet
         * arriving 100 or more behind, as retransmissions after the GOP burst of a
         * join do: what was given up on, or is still missing. */
        if (p->have_video) lost += p->nack.stats.lost + p->nack.count;
        nacks += p->nacks_sent;
        discarded += p->dropped;
        if (p->have_video) recovered += p->nack.stats.recovered;
        rtcp += p->rtcp_in;
        decrypt_errors += p->decrypt_errors;
        consent_sent += p->consent_sent;
        consent_ok += p->consent_ok;
        send_errors += p->send_errors;
    }
    double steady = g.steady_end_ns > g.steady_start_ns ? (double)(g.steady_end_ns - g.steady_start_ns) / 1e9 : 0;
    printf("{\"url\":\"http://%s:%u%s\",\"viewers\":%d,\"connected\":%d,\"failed\":%d,\"dropped_while_playing\":%d,"
           "\"never_started\":%d,\"failures\":{",
           g.host, g.port, g.whep_path, g.viewers, connected, failed, dropped, never);
    for (int k = 0; k < nr; k++) {
        if (k) putchar(',');
        print_json_string(reasons[k]);
        printf(":%d", counts[k]);
    }
    printf("},");
    print_stats("connect_ms", &connect, 1e-3, false);
    putchar(',');
    print_stats("first_packet_ms", &first, 1e-3, false);
    printf(",\"steady_seconds\":%.3f,\"steady_viewers\":%zu,\"steady_viewers_without_media\":%d,", steady,
           packets.n, zero_media);
    print_stats("packets", &packets, 1, true);
    putchar(',');
    print_stats("bytes", &bytes, 1, true);
    printf(",\"lost\":%" PRIu64 ",\"dropped_on_purpose\":%" PRIu64 ",\"recovered\":%" PRIu64
           ",\"nacks_sent\":%" PRIu64 ",\"rtcp_received\":%" PRIu64
           ",\"decrypt_errors\":%" PRIu64 ",\"consent_checks\":%" PRIu64 ",\"consent_answers\":%" PRIu64
           ",\"send_errors\":%" PRIu64 ",\"decrypt\":%s,\"client_cpu_seconds\":%.3f"
           ",\"deletes_sent\":%d,\"deletes_ok\":%d,\"srtp_profile\":\"%s\"",
           lost, discarded, recovered, nacks, rtcp, decrypt_errors, consent_sent, consent_ok, send_errors, g.decrypt ? "true" : "false",
           g.cpu1 - g.cpu0, g.deletes_sent, g.deletes_ok,
           g.srtp_profile == SL_SRTP_AEAD_AES_128_GCM    ? "AEAD_AES_128_GCM"
           : g.srtp_profile == SL_SRTP_AES128_CM_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
                                                         : "none");
    if (g.with_pub) {
        printf(",");
        print_stats("latency_ms", &g.latency_us, 1e-3, false);
        putchar(',');
        print_stats("frame_to_first_viewer_ms", &g.first_us, 1e-3, false);
        putchar(',');
        print_stats("frame_to_last_viewer_ms", &g.last_us, 1e-3, false);
        printf(",\"latency_unmatched\":%" PRIu64 ",\"publisher\":{\"live\":%s,\"error\":", g.latency_unmatched,
               g.pub.was_live ? "true" : "false");
        print_json_string(g.pub.failed ? g.pub.why : "");
        printf(",\"frames\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"plis_received\":%" PRIu64
               ",\"nacked_packets\":%" PRIu64 "}",
               g.pub_frames, g.pub_packets, g.pub_plis, g.pub_nacks);
    }
    printf("}\n");
    free(connect.v);
    free(first.v);
    free(packets.v);
    free(bytes.v);
}

/* ---- options ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: whep_load --url http://127.0.0.1:PORT/APP/NAME/whep [--viewers N] [--seconds S]\n"
            "                 [--ramp VIEWERS_PER_S] [--audio] [--decrypt] [--no-nack] [--drop PCT] [--token T]\n"
            "                 [--connect-timeout S] [--whip FILE.h264 [--fps F]]\n"
            "  --viewers N        WHEP viewers, 0..%d (default 10)\n"
            "  --seconds S        steady window once every viewer is connected or failed (default 10)\n"
            "  --ramp R           viewers started per second, 0 = all at once (default 50)\n"
            "  --audio            offer an Opus section too\n"
            "  --decrypt          SRTP-decrypt every packet (default: count only)\n"
            "  --no-nack          do not NACK lost packets\n"
            "  --drop PCT         ignore PCT %% of the video packets as if lost (0..50), to make NACKs\n"
            "  --whip FILE        publish FILE (H.264 Annex-B) with WHIP to the same stream first and\n"
            "                     measure each frame's WHIP->WHEP latency (--fps, default 30)\n",
            MAX_VIEWERS);
}

static bool parse_url(const char *url)
{
    char path[256];
    unsigned port;
    if (sscanf(url, "http://%63[^:/]:%u%255s", g.host, &port, path) != 3 || port == 0 || port > 65535) return false;
    if (uv_ip4_addr(g.host, (int)port, &g.http_addr) != 0 || !loopback(&g.http_addr)) return false;
    g.port = (uint16_t)port;
    size_t n = strlen(path);
    if (n < 6 || strcmp(path + n - 5, "/whep") != 0) return false;
    snprintf(g.whep_path, sizeof(g.whep_path), "%s", path);
    snprintf(g.whip_path, sizeof(g.whip_path), "%.*s/whip", (int)(n - 5), path);
    return true;
}

static int parse_args(int argc, char **argv)
{
    const char *url = NULL;
    g.viewers = 10;
    g.seconds = 10;
    g.ramp = 50;
    g.nack = true;
    g.fps = 30;
    g.connect_timeout_ms = 20000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--url") == 0 && v) url = v;
        else if (strcmp(a, "--viewers") == 0 && v) g.viewers = atoi(v);
        else if (strcmp(a, "--seconds") == 0 && v) g.seconds = atoi(v);
        else if (strcmp(a, "--ramp") == 0 && v) g.ramp = atof(v);
        else if (strcmp(a, "--token") == 0 && v) snprintf(g.token, sizeof(g.token), "%s", v);
        else if (strcmp(a, "--connect-timeout") == 0 && v) g.connect_timeout_ms = atoi(v) * 1000;
        else if (strcmp(a, "--whip") == 0 && v) g.whip_file = v;
        else if (strcmp(a, "--fps") == 0 && v) g.fps = atof(v);
        else if (strcmp(a, "--drop") == 0 && v) g.drop = atof(v) / 100;
        else {
            takes = false;
            if (strcmp(a, "--audio") == 0) g.audio = true;
            else if (strcmp(a, "--decrypt") == 0) g.decrypt = true;
            else if (strcmp(a, "--no-nack") == 0) g.nack = false;
            else return SL_ERR_PROTO;
        }
        if (takes) i++;
    }
    if (url == NULL || !parse_url(url)) {
        fprintf(stderr, "whep_load: --url must be http://127.x.x.x:PORT/APP/NAME/whep\n");
        return SL_ERR_PROTO;
    }
    if (g.viewers < 0 || g.viewers > MAX_VIEWERS || g.seconds < 1 || g.seconds > 3600 || g.ramp < 0 ||
        g.fps <= 0 || g.fps > 240 || g.drop < 0 || g.drop > 0.5 || g.connect_timeout_ms < 1000 || g.connect_timeout_ms > 120000)
        return SL_ERR_PROTO;
    return SL_OK;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != SL_OK) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g.rng = rand64() | 1;
    /* One UDP socket per viewer, and an HTTP one while it signals. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* A last resort against any phase overrunning its bound. */
    double ramp_s = g.ramp > 0 ? g.viewers / g.ramp : 0;
    alarm((unsigned)(ramp_s + g.connect_timeout_ms / 1000.0 * 2 + g.seconds + 60));

    int rc = sl_dtls_ctx_new(NULL, NULL, &g.dtls);
    if (rc != SL_OK) {
        fprintf(stderr, "whep_load: DTLS context: %s\n", sl_strerror(rc));
        return 1;
    }
    g.with_pub = g.whip_file != NULL;
    sl_bytes_init(&g.file_data);
    if (g.with_pub && (rc = load_annexb(g.whip_file)) != SL_OK) {
        fprintf(stderr, "whep_load: %s: not an H.264 Annex-B file starting with a keyframe (%s)\n", g.whip_file,
                sl_strerror(rc));
        return 1;
    }
    g.peers = calloc((size_t)g.viewers + 1, sizeof(*g.peers));
    if (g.peers == NULL) return 1;
    g.loop = uv_default_loop();
    uv_timer_init(g.loop, &g.tick);
    uv_signal_init(g.loop, &g.sigint);
    uv_signal_init(g.loop, &g.sigterm);
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uint64_t now = uv_now(g.loop);
    if (g.with_pub) {
        g.pub.publisher = true;
        g.ts_base = (uint32_t)rand64();
        sl_rtp_h264_packetizer_init(&g.packetizer, PT_VIDEO, 0, (uint16_t)rand64(), SL_RTP_DEFAULT_MTU);
        set_phase(PH_PUBLISH, now);
        peer_start(&g.pub, now);
        g.packetizer.ssrc = g.pub.ssrc;
    } else {
        set_phase(PH_RAMP, now);
        g.ramp_start_ms = now;
    }
    uv_timer_start(&g.tick, on_tick, TICK_MS, TICK_MS);
    uv_run(g.loop, UV_RUN_DEFAULT);
    report();
    (void)uv_loop_close(g.loop);
    sl_rtp_h264_packetizer_free(&g.packetizer);
    sl_bytes_free(&g.file_data);
    free(g.aus);
    free(g.peers);
    free(g.latency_us.v);
    free(g.first_us.v);
    free(g.last_us.v);
    sl_dtls_ctx_free(g.dtls);
    return g.with_pub && !g.pub.was_live ? 1 : 0;
}
