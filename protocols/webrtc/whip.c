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

#include "protocols/webrtc/peer.h"
#include "sluice/auth.h"
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
static void ice_server_links(const sl_config_t *cfg, sl_bytes_t *out)
{
    char list[sizeof(cfg->webrtc.ice_servers)];
    snprintf(list, sizeof(list), "%s", cfg->webrtc.ice_servers);
    char *save = NULL;
    for (char *url = strtok_r(list, " ", &save); url != NULL; url = strtok_r(NULL, " ", &save)) {
        char line[600];
        int n = snprintf(line, sizeof(line), "Link: <%s>; rel=\"ice-server\"\r\n", url);
        if (n > 0 && (size_t)n < sizeof(line)) (void)sl_bytes_append(out, line, (size_t)n);
    }
}

/* webrtc.token as a Bearer token, or as ?token= for clients that cannot set
 * headers. Compared in constant time. */
static bool authorized(const sl_config_t *cfg, const sl_http_request_t *req)
{
    if (cfg->webrtc.token[0] == '\0') return true;
    char given[sizeof(cfg->webrtc.token) + 1] = "";
    size_t len;
    const char *h = sl_http_header_get(req, "Authorization", &len);
    if (h != NULL && len > 7 && strncasecmp(h, "Bearer ", 7) == 0 && len - 7 < sizeof(given)) {
        memcpy(given, h + 7, len - 7);
        given[len - 7] = '\0';
    } else {
        const char *q = strstr(req->query, "token=");
        if (q != NULL && (q == req->query || q[-1] == '&')) {
            q += 6;
            size_t n = strcspn(q, "&");
            if (n < sizeof(given)) {
                memcpy(given, q, n);
                given[n] = '\0';
            }
        }
    }
    return given[0] != '\0' && sl_auth_equal(given, cfg->webrtc.token);
}

static int respond_unauthorized(sl_http_conn_t *c, const route_t *r)
{
    SL_WARN("client %llu webrtc %s: %s refused: wrong or missing token", (unsigned long long)sl_http_conn_id(c),
            sl_http_conn_peer(c), r->key);
    return sl_http_respond_ex(c, 401, "text/plain", "WWW-Authenticate: Bearer\r\n", "401 Unauthorized: bearer token\n",
                              31);
}

static int respond_options(wr_module_t *m, sl_http_conn_t *c)
{
    sl_bytes_t h;
    sl_bytes_init(&h);
    if (m->srv->cfg->http.cors_origin[0] != '\0') {
        static const char cors[] = "Access-Control-Allow-Methods: POST, DELETE, PATCH, OPTIONS\r\n"
                                   "Access-Control-Allow-Headers: *, Authorization\r\n"
                                   "Access-Control-Max-Age: 86400\r\n";
        (void)sl_bytes_append(&h, cors, sizeof(cors) - 1);
    }
    ice_server_links(m->srv->cfg, &h);
    (void)sl_bytes_append(&h, "Accept-Post: application/sdp\r\n", 30);
    (void)sl_bytes_append(&h, "", 1);
    int rc = sl_http_respond_ex(c, 204, NULL, h.data != NULL ? (const char *)h.data : NULL, NULL, 0);
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

/* WHEP of a stream whose audio is not Opus: video only, said once per stream. */
static void drop_foreign_audio(sl_stream_t *s, sl_webrtc_track_t *tracks, int n)
{
    const sl_frame_t *ac = sl_stream_audio_config(s);
    if (ac != NULL && ac->codec == SL_CODEC_OPUS) return;
    for (int i = 0; i < n; i++) {
        if (tracks[i].media != SL_MEDIA_AUDIO || tracks[i].codec == SL_CODEC_NONE) continue;
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
        ice_server_links(m->srv->cfg, &h);
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

static int handle_offer(wr_module_t *m, sl_http_conn_t *c, const sl_http_request_t *req, const route_t *r)
{
    size_t ct_len;
    const char *ct = sl_http_header_get(req, "Content-Type", &ct_len);
    if (ct == NULL || ct_len < 15 || strncasecmp(ct, "application/sdp", 15) != 0)
        return refuse(c, r, 415, "the offer must be Content-Type: application/sdp");
    sl_stream_t *stream = sl_hub_find(m->srv->hub, r->key);
    if (r->publish && stream != NULL) return refuse(c, r, 409, "the stream already has a publisher");
    if (!r->publish && stream == NULL) return refuse(c, r, 404, "no such stream");

    sl_sdp_t *offer = NULL;
    if (sl_sdp_parse((const char *)req->body, req->body_len, &offer) != SL_OK)
        return refuse(c, r, 400, "the offer is not valid SDP");
    sl_webrtc_track_t tracks[SL_WEBRTC_MAX_TRACKS];
    int n = 0;
    sl_webrtc_offer_info_t *info = malloc(sizeof(*info));
    if (info == NULL) {
        sl_sdp_free(offer);
        return sl_http_respond_error(c, 503, NULL);
    }
    const sl_frame_t *vc = stream != NULL ? sl_stream_video_config(stream) : NULL;
    sl_codec_t video = r->publish ? SL_CODEC_H264 : vc != NULL ? (sl_codec_t)vc->codec : SL_CODEC_NONE;
    const char *reason = NULL;
    int rc = sl_webrtc_negotiate(offer, r->publish, video, source_profile(vc), tracks, &n, info, &reason);
    sl_sdp_free(offer);
    if (rc == SL_OK && !r->publish) drop_foreign_audio(stream, tracks, n);
    if (rc == SL_OK && !any_media(tracks, n)) {
        rc = SL_ERR_UNSUPPORTED;
        reason = "no audio or video track sluice can send to this offer";
    }
    int status;
    if (rc != SL_OK) {
        status = refuse(c, r, rc == SL_ERR_PROTO ? 400 : 406, reason != NULL ? reason : sl_strerror(rc));
    } else {
        wr_peer_t *p = wr_peer_new(m, r->publish, r->key, tracks, n, info, &rc);
        if (p == NULL)
            status = refuse(c, r, rc == SL_ERR_TOO_BIG ? 503 : 500, "cannot make a session");
        else if ((status = respond_answer(m, c, r, p, info)) != SL_OK)
            wr_peer_close(p, "the answer could not be sent");
        else
            SL_INFO("client %llu webrtc %s %s %s: session %s", (unsigned long long)p->id,
                    sl_http_conn_peer(c), r->publish ? "WHIP" : "WHEP", r->key, p->session_id);
    }
    free(info);
    return status;
}

static int handle_session(wr_module_t *m, sl_http_conn_t *c, const sl_http_request_t *req, const route_t *r)
{
    if (strcmp(req->method, "PATCH") == 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: DELETE, OPTIONS\r\n",
                                  "405 Method Not Allowed: no trickle ICE or ICE restart\n", 54);
    if (strcmp(req->method, "DELETE") != 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: DELETE, OPTIONS\r\n", "405 Method Not Allowed\n", 23);
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
    if (!authorized(m->srv->cfg, req)) return respond_unauthorized(c, &r);
    if (r.session != NULL) return handle_session(m, c, req, &r);
    if (strcmp(req->method, "POST") != 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: POST, OPTIONS\r\n", "405 Method Not Allowed\n", 23);
    return handle_offer(m, c, req, &r);
}

int wr_whip_start(wr_module_t *m) { return sl_http_server_add_handler(m->srv->http, handle, m); }
