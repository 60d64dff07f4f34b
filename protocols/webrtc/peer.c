/* One WebRTC peer connection: ICE has bound its address (webrtc.c), then the DTLS
 * handshake (we are the server, a=setup:passive), the check of the browser's
 * certificate against its SDP fingerprint, SRTP keys, and then media (ingest.c or
 * egress.c) and the data channel. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "protocols/relay/relay.h"
#include "protocols/webrtc/peer.h"
#include "sluice/admit.h"
#include "sluice/log.h"

static int random_bytes(void *out, size_t len) { return RAND_bytes(out, (int)len) == 1 ? SL_OK : SL_ERR_IO; }

static int make_session_id(char out[WR_SESSION_ID_LEN + 1])
{
    uint8_t r[WR_SESSION_ID_LEN / 2];
    if (random_bytes(r, sizeof(r)) != SL_OK) return SL_ERR_IO;
    for (size_t i = 0; i < sizeof(r); i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
    return SL_OK;
}

static void close_conn(sl_conn_t *c, const char *reason) { wr_peer_close(sl_container_of(c, wr_peer_t, conn), reason); }

static const sl_webrtc_track_t *data_track(const wr_peer_t *p)
{
    for (int i = 0; i < p->track_count; i++)
        if (p->tracks[i].media == SL_MEDIA_DATA && sl_webrtc_track_accepted(&p->tracks[i])) return &p->tracks[i];
    return NULL;
}

wr_peer_t *wr_peer_new(wr_module_t *m, uint64_t id, bool publish, const char *key, const sl_webrtc_track_t *tracks,
                       int n, const sl_webrtc_offer_info_t *info, int *err)
{
    wr_peer_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        *err = SL_ERR_NOMEM;
        return NULL;
    }
    p->m = m;
    p->id = id;
    p->publish = publish;
    snprintf(p->key, sizeof(p->key), "%s", key);
    memcpy(p->tracks, tracks, (size_t)n * sizeof(tracks[0]));
    p->track_count = n;
    snprintf(p->remote_fingerprint, sizeof(p->remote_fingerprint), "%s", info->fingerprint);
    snprintf(p->peer_name, sizeof(p->peer_name), "(no ICE yet)");
    p->created_ms = uv_now(m->srv->loop);
    sl_list_init(&p->flush.link);
    sl_list_init(&p->link);
    int rc = sl_ice_gen_credentials(p->ufrag, p->pwd);
    if (rc == SL_OK) rc = make_session_id(p->session_id);
    if (rc == SL_OK) rc = random_bytes(p->ssrcs, sizeof(p->ssrcs));
    if (rc == SL_OK && (p->dtls = sl_dtls_new(m->dtls, true)) == NULL) rc = SL_ERR_NOMEM;
    if (rc == SL_OK) rc = sl_ice_add(m->ice, p->ufrag, p->pwd, info->ice_ufrag, p, p->created_ms);
    if (rc != SL_OK) {
        sl_dtls_free(p->dtls);
        free(p);
        *err = rc;
        return NULL;
    }
    const sl_webrtc_track_t *dt = data_track(p);
    p->sctp_port = dt != NULL ? dt->sctp_port : 0;
    sl_list_insert_tail(&m->peers, &p->link);
    sl_conn_init(&p->conn, p->id, SL_PROTO_WEBRTC, p->peer_name, p->key, close_conn);
    if (!sl_server_add_conn(m->srv, &p->conn)) {
        wr_peer_close(p, "too many WebRTC sessions (limits.max_connections)");
        *err = SL_ERR_TOO_BIG;
        return NULL;
    }
    wr_module_wake(m);
    return p;
}

wr_peer_t *wr_peer_find(wr_module_t *m, const char *session_id)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &m->peers) {
        wr_peer_t *p = sl_container_of(pos, wr_peer_t, link);
        if (strcmp(p->session_id, session_id) == 0) return p;
    }
    return NULL;
}

/* Sends the datagrams DTLS has ready. */
static void send_dtls_output(wr_peer_t *p)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_dtls_take_output(p->dtls, &out) > 0) {
        size_t pos = 0, len;
        const uint8_t *d;
        while ((d = sl_rtp_next_packet(out.data, out.len, &pos, &len)) != NULL) wr_send(p, d, len);
    }
    sl_bytes_free(&out);
}

void wr_peer_close(wr_peer_t *p, const char *reason)
{
    if (p->closing) return;
    p->closing = true;
    SL_INFO("client %llu webrtc %s %s %s: closed: %s", (unsigned long long)p->id, p->peer_name,
            p->publish ? "WHIP" : "WHEP", p->key, reason);
    if (p->conn.role != SL_ROLE_NONE) {
        sl_admit_req_t req = {.proto = SL_PROTO_WEBRTC, .dir = p->publish ? SL_DIR_PUBLISH : SL_DIR_PLAY,
                              .client_id = p->id, .key = p->key, .query = p->query, .remote = p->peer_name};
        sl_hook_event(p->m->srv, p->publish ? "on_unpublish" : "on_stop", &req);
    }
    if (p->publish) wr_ingest_stop(p);
    else wr_egress_stop(p);
    if (p->sctp != NULL) sl_sctp_free(p->sctp);
    if (p->dtls != NULL && sl_dtls_handshake_done(p->dtls)) {
        /* Tell the browser at once rather than leave it to time out. */
        sl_dtls_close(p->dtls);
        send_dtls_output(p);
    }
    sl_dtls_free(p->dtls);
    sl_srtp_free(p->srtp);
    (void)sl_ice_remove(p->m->ice, p->ufrag);
    sl_list_remove(&p->link);
    sl_server_remove_conn(p->m->srv, &p->conn);
    free(p);
}

/* ---- data channel ------------------------------------------------------------ */

static void sctp_send(void *arg, const uint8_t *pkt, size_t len)
{
    wr_peer_t *p = arg;
    if (p->dtls != NULL && sl_dtls_write(p->dtls, pkt, len) == SL_OK) send_dtls_output(p);
}

static void sctp_on_open(void *arg, uint16_t sid, const char *label)
{
    wr_peer_t *p = arg;
    SL_INFO("client %llu webrtc %s: data channel \"%s\" open", (unsigned long long)p->id, p->key, label);
    p->channel_open = true;
    p->channel_sid = sid;
}

/* A publisher's messages go to the channels of the stream's WHEP viewers (chat,
 * captions, metadata); viewers' messages go nowhere. */
static void sctp_on_message(void *arg, uint16_t sid, bool binary, const uint8_t *data, size_t len)
{
    wr_peer_t *p = arg;
    if (!p->publish) return;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &p->m->peers) {
        wr_peer_t *v = sl_container_of(pos, wr_peer_t, link);
        if (v->publish || !v->channel_open || v->closing || strcmp(v->key, p->key) != 0) continue;
        /* A viewer whose channel is full (or not up yet) misses the message. */
        if (sl_sctp_send(v->sctp, v->channel_sid, binary, data, len) != SL_OK)
            SL_DEBUG("client %llu webrtc %s: data channel message dropped", (unsigned long long)v->id, v->key);
    }
}

static void sctp_on_closed(void *arg)
{
    wr_peer_t *p = arg;
    p->channel_open = false;
}

static const sl_sctp_ops_t sctp_ops = {
    .send = sctp_send, .on_open = sctp_on_open, .on_message = sctp_on_message, .on_closed = sctp_on_closed};

/* ---- DTLS ---------------------------------------------------------------------- */

/* The handshake is done: the browser's certificate must be the one its SDP named,
 * or anyone who saw the answer could have taken the session. Returns why the
 * session cannot go on, or NULL. */
static const char *on_handshake_done(wr_peer_t *p)
{
    if (sl_dtls_verify_fingerprint(p->dtls, p->remote_fingerprint) != SL_OK)
        return "DTLS certificate does not match the offer's fingerprint";
    sl_srtp_keys_t keys;
    int rc = sl_dtls_srtp_keys(p->dtls, &keys);
    if (rc == SL_OK) rc = sl_srtp_new(&keys, &p->srtp);
    OPENSSL_cleanse(&keys, sizeof(keys));
    if (rc != SL_OK) return "no SRTP profile in common";
    p->state = WR_CONNECTED;
    p->conn.role = p->publish ? SL_ROLE_PUBLISHER : SL_ROLE_PLAYER;
    SL_INFO("client %llu webrtc %s %s %s: connected after %llu ms", (unsigned long long)p->id, p->peer_name,
            p->publish ? "WHIP" : "WHEP", p->key, (unsigned long long)(uv_now(p->m->srv->loop) - p->created_ms));
    if (p->sctp_port != 0 && sl_sctp_new(SL_SCTP_PORT, p->sctp_port, false, &sctp_ops, p, &p->sctp) != SL_OK)
        SL_WARN("client %llu webrtc %s: data channel not available", (unsigned long long)p->id, p->key);
    if (p->publish) return wr_ingest_start(p);
    return wr_egress_start(p);
}

void wr_peer_on_dtls(wr_peer_t *p, const uint8_t *data, size_t len)
{
    sl_bytes_t app;
    sl_bytes_init(&app);
    int rc = sl_dtls_feed(p->dtls, data, len, &app);
    send_dtls_output(p);
    if (rc == SL_ERR_CLOSED) {
        sl_bytes_free(&app);
        wr_peer_close(p, "the browser closed the DTLS session");
        return;
    }
    if (rc != SL_OK) {
        sl_bytes_free(&app);
        wr_peer_close(p, rc == SL_ERR_PROTO ? "DTLS handshake failed" : sl_strerror(rc));
        return;
    }
    const char *why = NULL;
    if (p->state != WR_CONNECTED && sl_dtls_handshake_done(p->dtls) && (why = on_handshake_done(p)) != NULL) {
        sl_bytes_free(&app);
        wr_peer_close(p, why);
        return;
    }
    if (p->sctp != NULL) {
        size_t pos = 0, n;
        const uint8_t *rec;
        while ((rec = sl_rtp_next_packet(app.data, app.len, &pos, &n)) != NULL && !p->closing) sl_sctp_input(p->sctp, rec, n);
    }
    sl_bytes_free(&app);
}

/* ---- SRTP and RTCP --------------------------------------------------------------- */

void wr_peer_send_protected(wr_peer_t *p, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    if (p->srtp == NULL) return;
    int rc = rtcp ? sl_srtp_protect_rtcp(p->srtp, pkt, &len, cap) : sl_srtp_protect(p->srtp, pkt, &len, cap);
    if (rc == SL_OK) wr_send(p, pkt, len);
}

void wr_peer_send_rtcp(wr_peer_t *p, const sl_bytes_t *rtcp)
{
    uint8_t pkt[WR_MAX_PACKET + SL_SRTP_TAILROOM];
    if (rtcp->len > WR_MAX_PACKET) return;
    memcpy(pkt, rtcp->data, rtcp->len);
    wr_peer_send_protected(p, pkt, rtcp->len, sizeof(pkt), true);
}

/* RFC 5761 4: RTCP packet types 192..223 sit where RTP payload types 64..95 would. */
static bool is_rtcp(const uint8_t *data, size_t len) { return len >= 2 && data[1] >= 192 && data[1] <= 223; }

void wr_peer_on_srtp(wr_peer_t *p, uint8_t *data, size_t len)
{
    if (p->state != WR_CONNECTED || p->srtp == NULL) return;
    if (!is_rtcp(data, len)) {
        /* Forged, replayed or damaged packets fail here and are dropped. */
        if (p->publish && sl_srtp_unprotect(p->srtp, data, &len) == SL_OK) wr_ingest_on_rtp(p, data, len);
        return;
    }
    if (sl_srtp_unprotect_rtcp(p->srtp, data, &len) != SL_OK) return;
    size_t pos = 0;
    sl_rtcp_packet_t pkt;
    while (!p->closing && sl_rtcp_next(data, len, &pos, &pkt) == 1) {
        if (p->publish) wr_ingest_on_rtcp(p, &pkt);
        else wr_egress_on_rtcp(p, &pkt);
    }
}

void wr_peer_tick(wr_peer_t *p, uint64_t now_ms)
{
    if (p->state != WR_CONNECTED) {
        /* A WHEP player still connecting is a viewer of a pulled stream already:
         * the pull must not go idle before it subscribes. */
        if (!p->publish) sl_relay_touch(p->m->srv, p->key);
        uint64_t limit = p->m->srv->cfg->limits.handshake_timeout_ms;
        if (now_ms - p->created_ms >= limit) {
            wr_peer_close(p, p->state == WR_WAIT_ICE ? "no ICE connectivity check in time" : "DTLS handshake timed out");
            return;
        }
        if (p->state == WR_HANDSHAKE && sl_dtls_timeout_ms(p->dtls) == 0) {
            if (sl_dtls_handle_timeout(p->dtls) != SL_OK) {
                wr_peer_close(p, "DTLS handshake: no answer to retransmissions");
                return;
            }
            send_dtls_output(p);
        }
        return;
    }
    if (p->publish) wr_ingest_tick(p, now_ms);
    else wr_egress_tick(p, now_ms);
}
