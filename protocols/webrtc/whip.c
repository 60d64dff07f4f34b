/* WHIP and WHEP signalling (RFC 9725) on the shared HTTP server.
 *
 *   POST    /{app}/{name}/whip       offer in, 201 + answer + Location out
 *   POST    /{app}/{name}/whep
 *   DELETE  /{app}/{name}/whip/{id}  ends the session (also /whep/{id})
 *   PATCH   /{app}/{name}/whip/{id}  405: sluice is ICE-lite and puts its only
 *                                    candidates in the answer; it needs no trickled
 *                                    candidates (a browser's checks reach it anyway)
 *                                    and does not do ICE restarts
 *   OPTIONS either                   CORS preflight, with the ICE servers as Link
 *                                    headers
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocols/relay/relay.h"
#include "protocols/webrtc/peer.h"
#include "sluice/admit.h"
#include "sluice/log.h"

typedef struct route {
    char key[SL_STREAM_KEY_MAX];
    bool publish;
    const char *session; /* the {id} of a session resource, NULL for the endpoint */
} route_t;

/* "/app/name/whip" or "/app/name/whip/ID" (and whep); false for other paths. */
static bool parse_route(const char *path, route_t *r)
{
    if (path[0] != '/') return false;
    const char *end = path + strlen(path);
    const char *last = strrchr(path, '/');
    r->session = NULL;
    if (strcmp(last, "/whip") != 0 && strcmp(last, "/whep") != 0) {
        r->session = last + 1;
        if (last == path) return false;
        end = last;
        const char *p = end - 1;
        while (p > path && *p != '/') p--;
        last = p;
        if (end - last != 5 || (strncmp(last, "/whip", 5) != 0 && strncmp(last, "/whep", 5) != 0)) return false;
    }
    r->publish = strncmp(last, "/whip", 5) == 0;
    size_t len = (size_t)(last - path - 1);
    if (last <= path + 1 || len >= sizeof(r->key)) return false;
    memcpy(r->key, path + 1, len);
    r->key[len] = '\0';
    return sl_hub_key_valid(r->key);
}

/* "Link: <url>; rel=\"ice-server\"\r\n" per configured ICE server. */
static int ice_server_links(const sl_config_t *cfg, sl_bytes_t *out)
{
    char list[sizeof(cfg->webrtc.ice_servers)];
    snprintf(list, sizeof(list), "%s", cfg->webrtc.ice_servers);
    char *save = NULL;
    int rc = SL_OK;
    for (char *url = strtok_r(list, " ", &save); url != NULL && rc == SL_OK; url = strtok_r(NULL, " ", &save)) {
        char line[600];
        int n = snprintf(line, sizeof(line), "Link: <%s>; rel=\"ice-server\"\r\n", url);
        if (n > 0 && (size_t)n < sizeof(line)) rc = sl_bytes_append(out, line, (size_t)n);
    }
    return rc;
}

/* The token of a WHIP/WHEP request comes as a Bearer header (RFC 9725 4.5) or in
 * the query; this is the header's, "" without one. */
static void bearer_of(const sl_http_request_t *req, char *bearer, size_t cap)
{
    size_t len;
    const char *h = sl_http_header_get(req, "Authorization", &len);
    bearer[0] = '\0';
    if (h != NULL && len > 7 && strncasecmp(h, "Bearer ", 7) == 0 && len - 7 < cap) {
        memcpy(bearer, h + 7, len - 7);
        bearer[len - 7] = '\0';
    }
}

/* The admission request of a WHIP/WHEP request (borrows query and bearer). */
static sl_admit_req_t admit_req(sl_http_conn_t *c, const route_t *r, uint64_t id, const char *query,
                                const char *bearer)
{
    return (sl_admit_req_t){.proto = SL_PROTO_WEBRTC, .dir = r->publish ? SL_DIR_PUBLISH : SL_DIR_PLAY,
                            .client_id = id, .key = r->key, .query = query, .bearer = bearer,
                            .remote = sl_http_conn_peer(c)};
}

static int respond_unauthorized(sl_http_conn_t *c, const char *why)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "401 Unauthorized: %s\n", why);
    return sl_http_respond_ex(c, 401, "text/plain", "WWW-Authenticate: Bearer\r\n", body, (size_t)n);
}

static int respond_options(wr_module_t *m, sl_http_conn_t *c)
{
    sl_bytes_t h;
    sl_bytes_init(&h);
    int rc = SL_OK;
    if (m->srv->cfg->http.cors_origin[0] != '\0') {
        static const char cors[] = "Access-Control-Allow-Methods: POST, DELETE, PATCH, OPTIONS\r\n"
                                   "Access-Control-Allow-Headers: *, Authorization\r\n"
                                   "Access-Control-Max-Age: 86400\r\n";
        rc = sl_bytes_append(&h, cors, sizeof(cors) - 1);
    }
    if (rc == SL_OK) rc = ice_server_links(m->srv->cfg, &h);
    if (rc == SL_OK) rc = sl_bytes_append(&h, "Accept-Post: application/sdp\r\n\0", 31);
    rc = rc == SL_OK ? sl_http_respond_ex(c, 204, NULL, (const char *)h.data, NULL, 0) : sl_http_respond_error(c, 503, NULL);
    sl_bytes_free(&h);
    return rc;
}

/* The profile of the source's video config, so the WHEP answer picks a matching
 * payload type: profile_idc of an AVC record, general_profile_idc of an HEVC one. */
static int source_profile(const sl_frame_t *vc)
{
    if (vc == NULL || vc->len < 2) return 0;
    return vc->codec == SL_CODEC_H264 ? vc->data[1] : vc->codec == SL_CODEC_H265 ? vc->data[1] & 0x1f : 0;
}

/* WHEP of a stream whose audio is not Opus: AAC is transcoded to Opus when
 * transcoding is built, and the want, for the viewer's life, is left in
 * *transcode. Otherwise the viewer gets video only, said once per stream. */
static void fit_audio(sl_server_t *srv, sl_stream_t *s, sl_webrtc_track_t *tracks, int n, sl_transcode_t **transcode)
{
    const sl_frame_t *ac = sl_stream_audio_config(s);
    if (ac != NULL && ac->codec == SL_CODEC_OPUS) return;
    for (int i = 0; i < n; i++) {
        if (tracks[i].media != SL_MEDIA_AUDIO || tracks[i].codec == SL_CODEC_NONE) continue;
        /* The section was negotiated as opus/48000/2: with the transcoder it stays. */
        if (ac != NULL && ac->codec == SL_CODEC_AAC && *transcode == NULL)
            *transcode = sl_transcode_want(srv, s, SL_CODEC_OPUS);
        if (*transcode != NULL) continue;
        tracks[i].codec = SL_CODEC_NONE;
        if (ac != NULL && sl_stream_note_once(s, SL_STREAM_NOTE_WHEP_AUDIO))
            SL_INFO("stream %s: its %s audio cannot go to WebRTC players (Opus only, no transcoding): "
                    "they get video only",
                    sl_stream_key(s), sl_codec_name(ac->codec));
    }
}

static bool any_media(const sl_webrtc_track_t *tracks, int n)
{
    for (int i = 0; i < n; i++)
        if (tracks[i].codec != SL_CODEC_NONE && tracks[i].media != SL_MEDIA_DATA) return true;
    return false;
}

static int respond_answer(wr_module_t *m, sl_http_conn_t *c, const route_t *r, wr_peer_t *p,
                          const sl_webrtc_offer_info_t *info)
{
    sl_bytes_t answer, h;
    sl_bytes_init(&answer);
    sl_bytes_init(&h);
    int rc = sl_webrtc_write_answer(info, p->tracks, p->track_count, p->ufrag, p->pwd,
                                    sl_dtls_ctx_fingerprint(m->dtls), m->candidate_ptrs, m->candidate_count,
                                    (uint16_t)m->srv->cfg->webrtc.udp_port, p->publish ? NULL : p->ssrcs, &answer);
    if (rc == SL_OK) {
        char line[SL_STREAM_KEY_MAX + 128];
        int n = snprintf(line, sizeof(line), "Location: /%s/%s/%s\r\nETag: \"%s\"\r\n", r->key,
                         p->publish ? "whip" : "whep", p->session_id, p->session_id);
        rc = sl_bytes_append(&h, line, (size_t)n);
        if (rc == SL_OK) rc = ice_server_links(m->srv->cfg, &h);
        if (rc == SL_OK) rc = sl_bytes_append(&h, "", 1);
    }
    if (rc == SL_OK) rc = sl_http_respond_ex(c, 201, "application/sdp", (const char *)h.data, answer.data, answer.len);
    sl_bytes_free(&answer);
    sl_bytes_free(&h);
    return rc;
}

static int refuse(sl_http_conn_t *c, const route_t *r, int status, const char *why)
{
    SL_WARN("client %llu webrtc %s %s %s: %d: %s", (unsigned long long)sl_http_conn_id(c), sl_http_conn_peer(c),
            r->publish ? "WHIP" : "WHEP", r->key, status, why);
    char body[256];
    snprintf(body, sizeof(body), "%d %s: %s\n", status, sl_http_status_text(status), why);
    return sl_http_respond_error(c, status, body);
}

/* An offer on its way to an answer: with an on_publish/on_play hook it waits for
 * the decision; a WHEP offer for a stream an origin may have (relay.pull) first
 * waits for the pull to bring it. */
typedef struct pending_offer {
    wr_module_t *m;
    sl_http_conn_t *c;
    route_t r;
    uint64_t id;
    sl_webrtc_track_t tracks[SL_WEBRTC_MAX_TRACKS];
    int n;
    sl_webrtc_offer_info_t info;
    /* WHEP of AAC: the transcoder to Opus, wanted when the offer was negotiated and
     * handed to the session with the answer. */
    sl_transcode_t *transcode;
    sl_admission_t *admission;
    sl_relay_wait_t pull;
    /* The offer, kept while the pull is awaited: it is negotiated against the
     * stream, which is not there yet. */
    char *sdp;
    size_t sdp_len;
    char query[SL_HTTP_MAX_PATH];
    char bearer[512];
} pending_offer_t;

static void offer_free(pending_offer_t *o)
{
    sl_transcode_release(o->transcode);
    free(o->sdp);
    free(o);
}

/* Ends the request with an error status; takes o. */
static int offer_refuse(pending_offer_t *o, int status, const char *why)
{
    int rc = refuse(o->c, &o->r, status, why);
    offer_free(o);
    return rc;
}

/* The session and its answer. The stream is looked at again: it may have changed
 * while a hook decided. */
static int answer_offer(pending_offer_t *o)
{
    sl_stream_t *stream = sl_hub_find(o->m->srv->hub, o->r.key);
    if (o->r.publish && stream != NULL) return refuse(o->c, &o->r, 409, "the stream already has a publisher");
    if (!o->r.publish && stream == NULL) return refuse(o->c, &o->r, 404, "no such stream");
    int rc;
    wr_peer_t *p = wr_peer_new(o->m, o->id, o->r.publish, o->r.key, o->tracks, o->n, &o->info, &rc);
    if (p == NULL) return refuse(o->c, &o->r, rc == SL_ERR_TOO_BIG ? 503 : 500, "cannot make a session");
    snprintf(p->query, sizeof(p->query), "%s", o->query);
    /* The session releases it when it ends, whichever way (wr_egress_stop). */
    p->transcode = o->transcode;
    o->transcode = NULL;
    rc = respond_answer(o->m, o->c, &o->r, p, &o->info);
    if (rc != SL_OK) {
        wr_peer_close(p, "the answer could not be sent");
        return rc;
    }
    SL_INFO("client %llu webrtc %s %s %s: session %s", (unsigned long long)p->id, sl_http_conn_peer(o->c),
            o->r.publish ? "WHIP" : "WHEP", o->r.key, p->session_id);
    return SL_OK;
}

static void on_admitted(void *arg, int rc, const char *why)
{
    pending_offer_t *o = arg;
    if (rc == SL_OK) (void)answer_offer(o);
    else (void)refuse(o->c, &o->r, 403, why);
    offer_free(o);
}

/* The client left while the hook was deciding or while the pull was awaited;
 * cancelling what is not pending does nothing. */
static void on_close_pending(void *arg)
{
    pending_offer_t *o = arg;
    sl_admit_cancel(o->admission);
    sl_relay_wait_cancel(&o->pull);
    offer_free(o);
}

static int negotiate(pending_offer_t *o, sl_stream_t *stream, const uint8_t *sdp, size_t len)
{
    sl_sdp_t *offer = NULL;
    if (sl_sdp_parse((const char *)sdp, len, &offer) != SL_OK)
        return refuse(o->c, &o->r, 400, "the offer is not valid SDP");
    const sl_frame_t *vc = stream != NULL ? sl_stream_video_config(stream) : NULL;
    sl_codec_t video = o->r.publish ? SL_CODEC_H264 : vc != NULL ? (sl_codec_t)vc->codec : SL_CODEC_NONE;
    const char *reason = NULL;
    int rc = sl_webrtc_negotiate(offer, o->r.publish, video, source_profile(vc), o->tracks, &o->n, &o->info, &reason);
    sl_sdp_free(offer);
    if (rc == SL_OK && !o->r.publish) fit_audio(o->m->srv, stream, o->tracks, o->n, &o->transcode);
    if (rc == SL_OK && !any_media(o->tracks, o->n)) {
        rc = SL_ERR_UNSUPPORTED;
        reason = "no audio or video track sluice can send to this offer";
    }
    if (rc == SL_OK) return SL_OK;
    (void)refuse(o->c, &o->r, rc == SL_ERR_PROTO ? 400 : 406, reason != NULL ? reason : sl_strerror(rc));
    return rc;
}

/* The offer against the stream, then the hook, then the answer; takes o. */
static int offer_stream(pending_offer_t *o, sl_stream_t *stream, const uint8_t *sdp, size_t len)
{
    if (negotiate(o, stream, sdp, len) != SL_OK) {
        offer_free(o);
        return SL_OK;
    }
    sl_admit_req_t ar = admit_req(o->c, &o->r, o->id, o->query, o->bearer);
    const char *why = NULL;
    int rc = sl_admit(o->m->srv, &ar, on_admitted, o, &o->admission, &why);
    if (rc == SL_ERR_AGAIN) {
        sl_http_conn_on_close(o->c, on_close_pending, o);
        return SL_OK;
    }
    rc = rc == SL_OK ? answer_offer(o) : refuse(o->c, &o->r, 403, why);
    offer_free(o);
    return rc;
}

/* The pull is over: the request goes on as if it had just come, with its kept
 * offer. */
static void on_pulled(sl_relay_wait_t *w, int status)
{
    pending_offer_t *o = sl_container_of(w, pending_offer_t, pull);
    sl_stream_t *stream = status == SL_OK ? sl_hub_find(o->m->srv->hub, o->r.key) : NULL;
    if (stream != NULL) (void)offer_stream(o, stream, (const uint8_t *)o->sdp, o->sdp_len);
    else if (status == SL_ERR_TIMEOUT) (void)offer_refuse(o, 504, "no origin answered in time");
    else if (status == SL_OK || status == SL_ERR_NOT_FOUND) (void)offer_refuse(o, 404, "no such stream");
    else (void)offer_refuse(o, 503, sl_strerror(status));
}

/* A WHEP offer for a stream the hub does not have: it waits when a relay.pull rule
 * covers the stream (an edge server), and is refused otherwise. Takes o. */
static int wait_pull(pending_offer_t *o, const sl_http_request_t *req)
{
    sl_sdp_t *offer = NULL;
    /* Nothing is pulled for an offer that would be refused anyway. */
    if (sl_sdp_parse((const char *)req->body, req->body_len, &offer) != SL_OK)
        return offer_refuse(o, 400, "the offer is not valid SDP");
    sl_sdp_free(offer);
    o->sdp = malloc(req->body_len);
    if (o->sdp == NULL) return offer_refuse(o, 503, "out of memory");
    memcpy(o->sdp, req->body, req->body_len);
    o->sdp_len = req->body_len;
    o->pull.done = on_pulled;
    int rc = sl_relay_wait(o->m->srv, o->r.key, &o->pull);
    if (rc == SL_ERR_NOT_FOUND) return offer_refuse(o, 404, "no such stream");
    if (rc != SL_OK) return offer_refuse(o, 503, sl_strerror(rc));
    sl_http_conn_on_close(o->c, on_close_pending, o);
    SL_INFO("client %llu webrtc %s WHEP %s: waiting for the relay pull", (unsigned long long)sl_http_conn_id(o->c),
            sl_http_conn_peer(o->c), o->r.key);
    return SL_OK;
}

/* POST: the token first (nothing about the stream is told without it), then the
 * stream, the offer, and the hook. */
static int handle_offer(wr_module_t *m, sl_http_conn_t *c, const sl_http_request_t *req, const route_t *r)
{
    size_t ct_len;
    const char *ct = sl_http_header_get(req, "Content-Type", &ct_len);
    char bearer[512];
    bearer_of(req, bearer, sizeof(bearer));
    uint64_t id = sl_next_client_id();
    sl_admit_req_t ar = admit_req(c, r, id, req->query, bearer);
    const char *why = NULL;
    if (sl_admit_token(m->srv, &ar, &why) != SL_OK) return respond_unauthorized(c, why);
    if (ct == NULL || ct_len < 15 || strncasecmp(ct, "application/sdp", 15) != 0)
        return refuse(c, r, 415, "the offer must be Content-Type: application/sdp");
    sl_stream_t *stream = sl_hub_find(m->srv->hub, r->key);
    if (r->publish && stream != NULL) return refuse(c, r, 409, "the stream already has a publisher");

    pending_offer_t *o = calloc(1, sizeof(*o));
    if (o == NULL) return sl_http_respond_error(c, 503, NULL);
    *o = (pending_offer_t){.m = m, .c = c, .r = *r, .id = id};
    snprintf(o->query, sizeof(o->query), "%s", req->query);
    snprintf(o->bearer, sizeof(o->bearer), "%s", bearer);
    if (!r->publish && stream == NULL) return wait_pull(o, req);
    return offer_stream(o, stream, req->body, req->body_len);
}

static int handle_session(wr_module_t *m, sl_http_conn_t *c, const sl_http_request_t *req, const route_t *r)
{
    if (strcmp(req->method, "PATCH") == 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: DELETE, OPTIONS\r\n",
                                  "405 Method Not Allowed: no trickle ICE or ICE restart\n", 54);
    if (strcmp(req->method, "DELETE") != 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: DELETE, OPTIONS\r\n", "405 Method Not Allowed\n", 23);
    char bearer[512];
    bearer_of(req, bearer, sizeof(bearer));
    sl_admit_req_t ar = admit_req(c, r, sl_http_conn_id(c), req->query, bearer);
    const char *why = NULL;
    if (sl_admit_token(m->srv, &ar, &why) != SL_OK) return respond_unauthorized(c, why);
    wr_peer_t *p = wr_peer_find(m, r->session);
    if (p == NULL || p->publish != r->publish || strcmp(p->key, r->key) != 0)
        return sl_http_respond_error(c, 404, "404 Not Found: no such session\n");
    wr_peer_close(p, "ended by DELETE");
    return sl_http_respond(c, 200, NULL, NULL, 0);
}

static int handle(void *arg, sl_http_conn_t *c, const sl_http_request_t *req)
{
    wr_module_t *m = arg;
    route_t r;
    if (!parse_route(req->path, &r)) return SL_ERR_NOT_FOUND;
    if (strcmp(req->method, "OPTIONS") == 0) return respond_options(m, c);
    if (r.session != NULL) return handle_session(m, c, req, &r);
    if (strcmp(req->method, "POST") != 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: POST, OPTIONS\r\n", "405 Method Not Allowed\n", 23);
    return handle_offer(m, c, req, &r);
}

int wr_whip_start(wr_module_t *m) { return sl_http_server_add_handler(m->srv->http, handle, m); }
