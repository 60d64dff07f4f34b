/* RTSP requests (RFC 2326): OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, PAUSE,
 * TEARDOWN, GET_PARAMETER and SET_PARAMETER, with the status codes clients act on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "protocols/rtsp/session.h"
#include "sluice/auth.h"
#include "sluice/admit.h"
#include "sluice/log.h"

#define REALM "sluice"
/* How long a Digest nonce stays good; older ones are challenged again as stale. */
#define NONCE_MAX_AGE_S 300

/* The key of the stateless Digest nonces, made once per process. */
static uint8_t nonce_secret[SL_AUTH_SECRET_LEN];
static bool nonce_secret_made;

#define PUBLIC_METHODS "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

/* The path of an RTSP URL: "rtsp://host:port/live/cam/trackID=0" → "/live/cam/trackID=0". */
static const char *url_path(const char *target)
{
    if (strncmp(target, "rtsp://", 7) != 0 && strncmp(target, "rtsps://", 8) != 0) return target;
    const char *p = strchr(target + 7, '/');
    return p != NULL ? p : "/";
}

/* "/live/cam" (trailing slashes dropped) → key "live/cam"; false if not a valid key. */
static bool key_of(const char *path, char *key, size_t size)
{
    while (*path == '/') path++;
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/') n--;
    if (n == 0 || n >= size) return false;
    memcpy(key, path, n);
    key[n] = '\0';
    return sl_hub_key_valid(key);
}

static int respond(rtsp_session_t *s, const sl_http_request_t *req, int status)
{
    return sl__rtsp_respond(s, req, status, NULL, NULL, NULL, 0);
}

static int refuse(rtsp_session_t *s, const sl_http_request_t *req, int status, const char *why)
{
    SL_WARN("client %llu rtsp %s %s: %d %s: %s", (unsigned long long)s->id, req->method, req->path, status,
            sl_http_status_text(status), why);
    return respond(s, req, status);
}

int sl__rtsp_auth_init(void)
{
    if (nonce_secret_made) return SL_OK;
    nonce_secret_made = true;
    return sl_auth_secret_new(nonce_secret);
}

static int on_options(rtsp_session_t *s, const sl_http_request_t *req)
{
    return sl__rtsp_respond(s, req, 200, "Public: " PUBLIC_METHODS "\r\n", NULL, NULL, 0);
}

/* Keeps the CSeq and URL of a request answered later (the hook or a relay pull
 * decides), with sl__rtsp_respond_cseq. */
static void hold(rtsp_session_t *s, const sl_http_request_t *req)
{
    size_t n;
    const char *cseq = sl_http_header_get(req, "CSeq", &n);
    snprintf(s->pending_cseq, sizeof(s->pending_cseq), "%.*s", (int)SL_MIN(n, 16), cseq);
    snprintf(s->pending_path, sizeof(s->pending_path), "%s", req->path);
    s->held_play = strcmp(req->method, "PLAY") == 0;
}

/* Refuses the request held in pending_cseq. */
static int refuse_held(rtsp_session_t *s, int status, const char *why)
{
    SL_WARN("client %llu rtsp %s %s: %d %s: %s", (unsigned long long)s->id, s->held_play ? "PLAY" : "DESCRIBE",
            s->key, status, sl_http_status_text(status), why);
    return sl__rtsp_respond_cseq(s, s->pending_cseq, status, NULL, NULL, NULL, 0);
}

static int describe(rtsp_session_t *s, bool may_wait);
static int play(rtsp_session_t *s, bool may_wait);

/* The relay pull that the held DESCRIBE or PLAY waited for ended: it is answered
 * as if the stream had been looked up only now, and the requests after it go on. */
static void on_pulled(sl_relay_wait_t *w, int status)
{
    rtsp_session_t *s = sl_container_of(w, rtsp_session_t, pull_wait);
    s->pulling = false;
    int rc;
    if (status == SL_OK) rc = s->held_play ? play(s, false) : describe(s, false);
    else if (status == SL_ERR_NOT_FOUND) rc = refuse_held(s, 404, "stream not found");
    else if (status == SL_ERR_TIMEOUT) rc = refuse_held(s, 504, "no origin answered in time");
    else rc = refuse_held(s, 503, sl_strerror(status));
    if (rc != SL_OK) sl__rtsp_close(s, sl_strerror(rc));
    else sl__rtsp_resume(s);
}

/* The held request's stream is not in the hub: it waits for the relay pull when a
 * relay.pull rule covers the key (later requests wait in `in`), else 404. */
static int wait_for_pull(rtsp_session_t *s)
{
    s->pull_wait.done = on_pulled;
    int rc = sl_relay_wait(s->srv, s->key, &s->pull_wait);
    if (rc == SL_ERR_NOT_FOUND) return refuse_held(s, 404, "stream not found");
    if (rc != SL_OK) return refuse_held(s, 503, sl_strerror(rc));
    s->pulling = true;
    SL_INFO("client %llu rtsp %s %s: waiting for the relay pull", (unsigned long long)s->id,
            s->held_play ? "PLAY" : "DESCRIBE", s->key);
    return SL_OK;
}

/* Answers the held DESCRIBE of s->key with the stream's SDP, or waits for a relay
 * pull to bring the stream when may_wait. */
static int describe(rtsp_session_t *s, bool may_wait)
{
    sl_stream_t *stream = sl_hub_find(s->srv->hub, s->key);
    if (stream == NULL) return may_wait ? wait_for_pull(s) : refuse_held(s, 404, "stream not found");
    sl_bytes_t sdp;
    sl_bytes_init(&sdp);
    int rc = sl__rtsp_tracks_from_stream(s, stream, &sdp);
    if (rc != SL_OK) {
        sl_bytes_free(&sdp);
        return refuse_held(s, rc == SL_ERR_AGAIN ? 404 : 415,
                           rc == SL_ERR_AGAIN ? "no codec config yet" : "codecs RTSP cannot carry");
    }
    s->state = RTSP_READY_PLAY;
    /* The player subscribes only at PLAY: until then the DESCRIBE keeps a pulled
     * stream from going idle. */
    sl_relay_touch(s->srv, s->key);
    char base[SL_HTTP_MAX_PATH + 32];
    snprintf(base, sizeof(base), "Content-Base: %s/\r\n", s->pending_path);
    rc = sl__rtsp_respond_cseq(s, s->pending_cseq, 200, base, "application/sdp", sdp.data, sdp.len);
    sl_bytes_free(&sdp);
    return rc;
}

static sl_admit_req_t admit_req(rtsp_session_t *s, sl_direction_t dir)
{
    return (sl_admit_req_t){.proto = SL_PROTO_RTSP, .dir = dir, .client_id = s->id, .key = s->key, .query = s->query,
                            .remote = s->peer};
}

/* The hook decided on the ANNOUNCE or DESCRIBE that waits. */
static void on_admitted(void *arg, int rc, const char *why)
{
    rtsp_session_t *s = arg;
    s->admission = NULL;
    if (rc != SL_OK) {
        SL_WARN("client %llu rtsp %s: %s", (unsigned long long)s->id, s->key, why);
        sl__rtsp_free_tracks(s);
        rc = sl__rtsp_respond_cseq(s, s->pending_cseq, 403, NULL, NULL, NULL, 0);
    } else if (s->admitting_publish) {
        s->state = RTSP_READY_RECORD;
        rc = sl__rtsp_respond_cseq(s, s->pending_cseq, 200, NULL, NULL, NULL, 0);
    } else {
        rc = describe(s, true);
    }
    if (rc != SL_OK) sl__rtsp_close(s, sl_strerror(rc));
    else sl__rtsp_resume(s);
}

/* Token, then hook. SL_OK when allowed now (the caller answers), SL_ERR_AGAIN
 * when the hook decides (the answer comes from on_admitted), or a refusal that
 * was answered. */
static int admit(rtsp_session_t *s, const sl_http_request_t *req, bool publish)
{
    sl_admit_req_t ar = admit_req(s, publish ? SL_DIR_PUBLISH : SL_DIR_PLAY);
    const char *why = NULL;
    int rc = sl_admit(s->srv, &ar, on_admitted, s, &s->admission, &why);
    if (rc != SL_ERR_AGAIN) {
        if (rc == SL_ERR_AUTH) (void)respond(s, req, 401);
        return rc;
    }
    hold(s, req);
    s->admitting_publish = publish;
    return SL_ERR_AGAIN;
}

/* Admission first, then the stream: found, pulled from an origin, or 404. */
static int on_describe(rtsp_session_t *s, const sl_http_request_t *req)
{
    char key[SL_STREAM_KEY_MAX];
    if (s->state != RTSP_INIT && s->state != RTSP_READY_PLAY) return refuse(s, req, 455, "not valid now");
    if (!key_of(url_path(req->path), key, sizeof(key))) return refuse(s, req, 404, "not a stream name");
    memcpy(s->key, key, sizeof(key));
    snprintf(s->query, sizeof(s->query), "%s", req->query);
    int rc = admit(s, req, false);
    if (rc == SL_OK) {
        hold(s, req);
        return describe(s, true);
    }
    return rc == SL_ERR_AGAIN || rc == SL_ERR_AUTH ? SL_OK : rc;
}

static int on_announce(rtsp_session_t *s, const sl_http_request_t *req)
{
    char key[SL_STREAM_KEY_MAX];
    if (s->state != RTSP_INIT) return refuse(s, req, 455, "not valid now");
    if (!key_of(url_path(req->path), key, sizeof(key))) return refuse(s, req, 400, "not a stream name");
    size_t ct_len;
    const char *ct = sl_http_header_get(req, "Content-Type", &ct_len);
    if (ct == NULL || ct_len < 15 || strncasecmp(ct, "application/sdp", 15) != 0)
        return refuse(s, req, 415, "the body must be application/sdp");
    int rc = sl__rtsp_tracks_from_sdp(s, (const char *)req->body, req->body_len);
    if (rc != SL_OK) return refuse(s, req, rc == SL_ERR_UNSUPPORTED ? 415 : 400, "unusable SDP");
    memcpy(s->key, key, sizeof(key));
    snprintf(s->query, sizeof(s->query), "%s", req->query);
    rc = admit(s, req, true);
    if (rc == SL_ERR_AUTH) sl__rtsp_free_tracks(s);
    if (rc != SL_OK) return rc == SL_ERR_AGAIN || rc == SL_ERR_AUTH ? SL_OK : rc;
    s->state = RTSP_READY_RECORD;
    return respond(s, req, 200);
}

/* The track a SETUP URL names: the session's stream, then "/" and the track's
 * control (its last path segment when the control is an absolute URL). */
static rtsp_track_t *find_track(rtsp_session_t *s, const char *path)
{
    size_t n = strlen(path);
    for (int i = 0; i < s->track_count; i++) {
        const char *control = s->tracks[i].control;
        const char *tail = strrchr(control, '/') != NULL ? strrchr(control, '/') + 1 : control;
        size_t m = strlen(tail);
        if (m == 0 || m >= n || strcmp(path + n - m, tail) != 0 || path[n - m - 1] != '/') continue;
        char stream[SL_HTTP_MAX_PATH], key[SL_STREAM_KEY_MAX];
        snprintf(stream, sizeof(stream), "%.*s", (int)(n - m - 1), path);
        if (key_of(stream, key, sizeof(key)) && strcmp(key, s->key) == 0) return &s->tracks[i];
    }
    return NULL;
}

/* The track a request URL names. A client that got the stream's URL with a query
 * (a token) appends the track's control after the query, as ffmpeg does:
 * "/live/cam?token=x/streamid=0" is the control "streamid=0" of "/live/cam". */
static rtsp_track_t *track_of_request(rtsp_session_t *s, const sl_http_request_t *req)
{
    const char *tail = strrchr(req->query, '/');
    if (tail == NULL) return find_track(s, url_path(req->path));
    char path[2 * SL_HTTP_MAX_PATH];
    snprintf(path, sizeof(path), "%s%s", url_path(req->path), tail);
    return find_track(s, path);
}

/* Whether another track of the session already uses interleaved channel c or c + 1. */
static bool channel_taken(const rtsp_session_t *s, const rtsp_track_t *t, unsigned c)
{
    for (int i = 0; i < s->track_count; i++) {
        const rtsp_track_t *o = &s->tracks[i];
        if (o != t && o->setup && o->tcp && (o->channel == c || o->channel == c + 1 || (unsigned)o->channel + 1 == c))
            return true;
    }
    return false;
}

static bool transport_param(const char *transport, size_t len, const char *name, unsigned *a, unsigned *b)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", (int)SL_MIN(len, sizeof(buf) - 1), transport);
    for (char *save = NULL, *p = strtok_r(buf, ";", &save); p != NULL; p = strtok_r(NULL, ";", &save)) {
        while (*p == ' ') p++;
        size_t k = strlen(name);
        if (strncmp(p, name, k) == 0 && p[k] == '=') {
            *b = 0;
            int got = sscanf(p + k + 1, "%u-%u", a, b);
            if (got >= 1 && got < 2) *b = *a + 1;
            return got >= 1;
        }
    }
    return false;
}

static bool transport_has(const char *transport, size_t len, const char *word)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", (int)SL_MIN(len, sizeof(buf) - 1), transport);
    return strstr(buf, word) != NULL;
}

static void new_session_id(rtsp_session_t *s)
{
    if (s->session_id[0]) return;
    uint8_t r[8];
    if (RAND_bytes(r, sizeof(r)) != 1) memcpy(r, &s->id, sizeof(r));
    for (int i = 0; i < 8; i++) snprintf(s->session_id + 2 * i, 3, "%02X", r[i]);
}

static int on_setup(rtsp_session_t *s, const sl_http_request_t *req)
{
    if (s->state != RTSP_READY_PLAY && s->state != RTSP_READY_RECORD) return refuse(s, req, 455, "DESCRIBE or ANNOUNCE first");
    rtsp_track_t *t = track_of_request(s, req);
    if (t == NULL) return refuse(s, req, 404, "no such track");
    size_t len;
    const char *transport = sl_http_header_get(req, "Transport", &len);
    if (transport == NULL) return refuse(s, req, 461, "no Transport header");
    char reply[256];
    unsigned a, b;
    if (len >= 11 && strncmp(transport, "RTP/AVP/TCP", 11) == 0) {
        if (!transport_param(transport, len, "interleaved", &a, &b)) {
            a = (unsigned)(t - s->tracks) * 2;
            b = a + 1;
        }
        if (a > 254 || b != a + 1) return refuse(s, req, 461, "bad interleaved channels");
        if (channel_taken(s, t, a)) return refuse(s, req, 461, "interleaved channels already in use");
        t->tcp = true;
        t->channel = (uint8_t)a;
        snprintf(reply, sizeof(reply), "Transport: RTP/AVP/TCP;unicast;interleaved=%u-%u\r\n", a, a + 1);
    } else if (len >= 7 && strncmp(transport, "RTP/AVP", 7) == 0 && !transport_has(transport, len, "multicast")) {
        if (!transport_param(transport, len, "client_port", &a, &b) || a == 0 || a > 65534)
            return refuse(s, req, 461, "no client_port");
        uint16_t server_rtp;
        if (sl__rtsp_udp_open(s, t, (uint16_t)a, &server_rtp) != SL_OK) return refuse(s, req, 500, "no free UDP port pair");
        snprintf(reply, sizeof(reply), "Transport: RTP/AVP;unicast;client_port=%u-%u;server_port=%u-%u\r\n", a, a + 1,
                 server_rtp, server_rtp + 1);
    } else {
        return refuse(s, req, 461, "unsupported transport");
    }
    t->setup = true;
    new_session_id(s);
    return sl__rtsp_respond(s, req, 200, reply, NULL, NULL, 0);
}

static bool any_track_setup(const rtsp_session_t *s)
{
    for (int i = 0; i < s->track_count; i++)
        if (s->tracks[i].setup) return true;
    return false;
}

/* PLAY, RECORD and PAUSE act on the whole session: a track URL is refused. */
static bool names_a_track(rtsp_session_t *s, const sl_http_request_t *req)
{
    return s->track_count > 1 && track_of_request(s, req) != NULL;
}

/* Starts the held PLAY. The stream may have gone since DESCRIBE (its publisher left,
 * or its relay pull stopped): it then waits for the relay pull when may_wait. */
static int play(rtsp_session_t *s, bool may_wait)
{
    int rc = sl__rtsp_start_play(s);
    if (rc == SL_ERR_NOT_FOUND) return may_wait ? wait_for_pull(s) : refuse_held(s, 404, "stream not found");
    if (rc != SL_OK) return refuse_held(s, 500, sl_strerror(rc));
    SL_INFO("client %llu rtsp play %s", (unsigned long long)s->id, s->key);
    return sl__rtsp_respond_cseq(s, s->pending_cseq, 200, "Range: npt=0.000-\r\n", NULL, NULL, 0);
}

static int on_play(rtsp_session_t *s, const sl_http_request_t *req)
{
    if (names_a_track(s, req)) return refuse(s, req, 459, "aggregate control only");
    if (s->state == RTSP_PLAYING) return respond(s, req, 200);
    if (s->state != RTSP_READY_PLAY || !any_track_setup(s)) return refuse(s, req, 455, "SETUP first");
    hold(s, req);
    return play(s, true);
}

static int on_record(rtsp_session_t *s, const sl_http_request_t *req)
{
    if (names_a_track(s, req)) return refuse(s, req, 459, "aggregate control only");
    if (s->state == RTSP_RECORDING) return respond(s, req, 200);
    if (s->state != RTSP_READY_RECORD || !any_track_setup(s)) return refuse(s, req, 455, "SETUP first");
    int rc = sl__rtsp_start_publish(s);
    if (rc == SL_ERR_BUSY) return refuse(s, req, 403, "stream is already being published");
    if (rc != SL_OK) return refuse(s, req, 500, sl_strerror(rc));
    SL_INFO("client %llu rtsp publish %s", (unsigned long long)s->id, s->key);
    return respond(s, req, 200);
}

static int on_pause(rtsp_session_t *s, const sl_http_request_t *req)
{
    if (names_a_track(s, req)) return refuse(s, req, 459, "aggregate control only");
    if (s->state == RTSP_PLAYING) {
        sl__rtsp_stop_media(s);
        s->state = RTSP_READY_PLAY;
    }
    return respond(s, req, 200);
}

static int on_teardown(rtsp_session_t *s, const sl_http_request_t *req)
{
    sl__rtsp_stop_media(s);
    int rc = respond(s, req, 200);
    sl__rtsp_free_tracks(s);
    s->state = RTSP_INIT;
    s->session_id[0] = '\0';
    return rc;
}

static uint64_t now_s(const rtsp_session_t *s) { return uv_now(s->srv->loop) / 1000; }

/* Checks the request's credentials against rtsp.user and rtsp.password. */
static bool authorized(rtsp_session_t *s, const sl_http_request_t *req, bool *stale)
{
    const sl_config_t *cfg = s->srv->cfg;
    *stale = false;
    if (cfg->rtsp.user[0] == '\0') return true;
    size_t len;
    const char *v = sl_http_header_get(req, "Authorization", &len);
    if (v == NULL) return false;
    if (len > 6 && strncasecmp(v, "Basic ", 6) == 0) {
        sl_basic_creds_t c;
        return sl_basic_parse(v, len, &c) == SL_OK && sl_auth_equal(c.user, cfg->rtsp.user) &&
               sl_auth_equal(c.password, cfg->rtsp.password);
    }
    static sl_digest_t d;
    return sl_digest_parse(v, len, &d) == SL_OK &&
           sl_digest_nonce_check(nonce_secret, d.nonce, now_s(s), NONCE_MAX_AGE_S, stale) == SL_OK &&
           sl_digest_verify(&d, req->method, NULL, cfg->rtsp.user, REALM, cfg->rtsp.password) == SL_OK;
}

/* 401 with a fresh Digest challenge, and Basic for clients without Digest. */
static int challenge(rtsp_session_t *s, const sl_http_request_t *req, bool stale)
{
    char nonce[SL_DIGEST_NONCE_LEN + 1];
    sl_bytes_t h;
    sl_bytes_init(&h);
    int rc = sl_digest_nonce_new(nonce_secret, now_s(s), nonce);
    rc = rc != SL_OK ? rc : sl_bytes_append(&h, "WWW-Authenticate: ", 18);
    rc = rc != SL_OK ? rc : sl_digest_challenge(REALM, nonce, false, stale, &h);
    rc = rc != SL_OK ? rc : sl_bytes_append(&h, "\r\nWWW-Authenticate: ", 20);
    rc = rc != SL_OK ? rc : sl_basic_challenge(REALM, &h);
    rc = rc != SL_OK ? rc : sl_bytes_append(&h, "\r\n", 3); /* with the NUL */
    if (rc == SL_OK) {
        SL_WARN("client %llu rtsp %s %s: 401 Unauthorized%s", (unsigned long long)s->id, req->method, req->path,
                sl_http_header_get(req, "Authorization", &(size_t){0}) != NULL ? ": wrong credentials" : "");
        rc = sl__rtsp_respond(s, req, 401, (const char *)h.data, NULL, NULL, 0);
    }
    sl_bytes_free(&h);
    return rc;
}

/* A request naming another session than ours gets 454. */
static bool session_matches(const rtsp_session_t *s, const sl_http_request_t *req)
{
    size_t len;
    const char *id = sl_http_header_get(req, "Session", &len);
    if (id == NULL || !s->session_id[0]) return true;
    size_t n = strlen(s->session_id);
    return len >= n && strncmp(id, s->session_id, n) == 0 && (len == n || id[n] == ';');
}

int sl__rtsp_on_request(rtsp_session_t *s, const sl_http_request_t *req)
{
    const char *m = req->method;
    SL_DEBUG("client %llu rtsp %s %s", (unsigned long long)s->id, m, req->path);
    if (sl_http_header_get(req, "CSeq", &(size_t){0}) == NULL) return refuse(s, req, 400, "no CSeq");
    if (strcmp(m, "OPTIONS") == 0) return on_options(s, req);
    bool stale;
    if (!authorized(s, req, &stale)) return challenge(s, req, stale);
    if (!session_matches(s, req)) return refuse(s, req, 454, "unknown session");
    if (strcmp(m, "DESCRIBE") == 0) return on_describe(s, req);
    if (strcmp(m, "ANNOUNCE") == 0) return on_announce(s, req);
    if (strcmp(m, "SETUP") == 0) return on_setup(s, req);
    if (strcmp(m, "PLAY") == 0) return on_play(s, req);
    if (strcmp(m, "RECORD") == 0) return on_record(s, req);
    if (strcmp(m, "PAUSE") == 0) return on_pause(s, req);
    if (strcmp(m, "TEARDOWN") == 0) return on_teardown(s, req);
    if (strcmp(m, "GET_PARAMETER") == 0 || strcmp(m, "SET_PARAMETER") == 0) return respond(s, req, 200);
    return sl__rtsp_respond(s, req, 501, "Public: " PUBLIC_METHODS "\r\n", NULL, NULL, 0);
}
