#include "protocols/relay/rtsp_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    ST_STARTING, /* OPTIONS, DESCRIBE, SETUP or PLAY outstanding */
    ST_PLAYING,  /* PLAY answered */
    ST_OVER,     /* err is set */
};

/* The kinds of request; the outstanding one decides what its response means. */
enum { REQ_NONE, REQ_OPTIONS, REQ_DESCRIBE, REQ_SETUP, REQ_PLAY, REQ_KEEPALIVE, REQ_TEARDOWN };

enum { AUTH_NONE, AUTH_BASIC, AUTH_DIGEST };

/* A Digest challenge with stale=true is answered again this many times for one
 * request, so a server that always says stale cannot keep us busy. */
#define MAX_STALE_RETRIES 3

/* Header lines of one message; the head is at most 16 KiB, and no server sends
 * anywhere near this many. */
#define MAX_HEADERS 64

#define RTSP_VERSION "RTSP/1.0"

/* A piece of the received head, not NUL-terminated. */
typedef struct slice {
    const char *p;
    size_t n;
} slice_t;

/* A parsed message head: a response's status line or a request line, then the
 * header lines, names and values trimmed. Slices point into the received bytes. */
typedef struct head {
    bool request;
    int status;
    slice_t reason;
    slice_t names[MAX_HEADERS], values[MAX_HEADERS];
    int count;
} head_t;

/* Small helpers. */

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
/* Bytes that may go into a request line or a header we write: no space, no
 * control character, nothing that could end a line. */
static bool is_graph(char ch) { return ch > 0x20 && ch < 0x7f; }

static slice_t trim(slice_t s)
{
    while (s.n > 0 && is_blank(s.p[0])) s.p++, s.n--;
    while (s.n > 0 && is_blank(s.p[s.n - 1])) s.n--;
    return s;
}

static bool slice_is(slice_t s, const char *text)
{
    return s.n == strlen(text) && strncasecmp(s.p, text, s.n) == 0;
}

static bool all_graph(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_graph(p[i])) return false;
    return true;
}

/* Decimal digits only, at most max. */
static bool parse_uint(slice_t s, uint32_t max, uint32_t *out)
{
    if (s.n == 0) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit(s.p[i])) return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > max) return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* 1 to 8 hexadecimal digits. */
static bool parse_hex32(slice_t s, uint32_t *out)
{
    if (s.n == 0 || s.n > 8) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        int d = is_digit(ch) ? ch - '0' : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

/* "a" or "a-b", both at most max; b is a + 1 when absent (which may be max + 1),
 * as RTCP goes beside RTP. */
static bool parse_pair(slice_t s, uint32_t max, uint32_t *a, uint32_t *b)
{
    const char *dash = memchr(s.p, '-', s.n);
    if (dash == NULL) {
        if (!parse_uint(s, max, a)) return false;
        *b = *a + 1;
        return true;
    }
    slice_t first = {s.p, (size_t)(dash - s.p)}, second = {dash + 1, s.n - first.n - 1};
    return parse_uint(first, max, a) && parse_uint(second, max, b);
}

/* Splits the next item off *rest at `sep`, trimmed. False when nothing is left. */
static bool next_item(slice_t *rest, char sep, slice_t *item)
{
    if (rest->n == 0) return false;
    const char *end = memchr(rest->p, sep, rest->n);
    size_t n = end != NULL ? (size_t)(end - rest->p) : rest->n;
    *item = trim((slice_t){rest->p, n});
    rest->p += end != NULL ? n + 1 : n;
    rest->n -= end != NULL ? n + 1 : n;
    return true;
}

/* A "key=value" parameter: true when its key is `key` (case-insensitive), with the
 * value in *value. */
static bool param_is(slice_t param, const char *key, slice_t *value)
{
    const char *eq = memchr(param.p, '=', param.n);
    if (eq == NULL) return false;
    size_t k = (size_t)(eq - param.p);
    *value = trim((slice_t){eq + 1, param.n - k - 1});
    return slice_is(trim((slice_t){param.p, k}), key);
}

static int put_fmt(sl_bytes_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put_fmt(sl_bytes_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sl_bytes_reserve(b, (size_t)n + 1) != SL_OK) return SL_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SL_OK;
}

/* Ending the client. */

/* Ends the client with err (non-zero) and returns it. */
static int over(sl_rtsp_client_t *c, int err)
{
    c->state = ST_OVER;
    c->err = err;
    c->pending = REQ_NONE;
    return err;
}

/* Ends the client with err and tells the glue why. */
static int fail(sl_rtsp_client_t *c, int err, int status, slice_t reason)
{
    char text[SL_RTSP_CLIENT_REASON_MAX];
    size_t n = SL_MIN(reason.n, sizeof(text) - 1);
    memcpy(text, reason.p, n);
    text[n] = '\0';
    over(c, err);
    if (c->ops->on_error != NULL) c->ops->on_error(c->arg, status, text);
    return err;
}

static int fail_text(sl_rtsp_client_t *c, int err, const char *reason)
{
    return fail(c, err, 0, (slice_t){reason, strlen(reason)});
}

/* A final refusal of the server: what the relay should make of its status. */
static int refused(sl_rtsp_client_t *c, const head_t *h)
{
    int err = SL_ERR_CLOSED;
    if (h->status == 404) err = SL_ERR_NOT_FOUND;
    else if (h->status == 401 || h->status == 403) err = SL_ERR_AUTH;
    else if (h->status == 461) err = SL_ERR_UNSUPPORTED;
    return fail(c, err, h->status, h->reason);
}

/* Message heads. */

static const slice_t *header(const head_t *h, const char *name)
{
    for (int i = 0; i < h->count; i++)
        if (slice_is(h->names[i], name)) return &h->values[i];
    return NULL;
}

/* "RTSP/d.d NNN[ reason]". */
static int parse_status_line(slice_t line, head_t *h)
{
    const char *p = line.p;
    if (line.n < 12 || !is_digit(p[5]) || p[6] != '.' || !is_digit(p[7]) || p[8] != ' ' || !is_digit(p[9]) ||
        !is_digit(p[10]) || !is_digit(p[11]) || (line.n > 12 && p[12] != ' '))
        return SL_ERR_PROTO;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (h->status < 100) return SL_ERR_PROTO;
    h->reason = line.n > 12 ? trim((slice_t){p + 13, line.n - 13}) : (slice_t){p + 12, 0};
    return SL_OK;
}

/* "METHOD uri RTSP/d.d": only its shape matters, it is refused anyway. */
static int parse_request_line(slice_t line, head_t *h)
{
    slice_t rest = line, method, uri, version;
    if (!next_item(&rest, ' ', &method) || !next_item(&rest, ' ', &uri) || !next_item(&rest, ' ', &version) ||
        rest.n != 0 || method.n == 0 || uri.n == 0 || version.n < 5 || strncmp(version.p, "RTSP/", 5) != 0)
        return SL_ERR_PROTO;
    h->request = true;
    return SL_OK;
}

static int parse_header_line(slice_t line, head_t *h)
{
    const char *colon = memchr(line.p, ':', line.n);
    /* A leading blank would be an obsolete folded line; nobody sends those to a
     * client and they cannot be taken for a header of their own. */
    if (colon == NULL || colon == line.p || is_blank(line.p[0])) return SL_ERR_PROTO;
    if (h->count == MAX_HEADERS) return SL_ERR_TOO_BIG;
    slice_t name = trim((slice_t){line.p, (size_t)(colon - line.p)});
    h->names[h->count] = name;
    h->values[h->count] = trim((slice_t){colon + 1, line.n - (size_t)(colon - line.p) - 1});
    h->count++;
    return SL_OK;
}

/* Control characters other than a tab have no place in a head; refusing them keeps
 * every value we echo or hand on printable. */
static bool clean_line(slice_t line)
{
    for (size_t i = 0; i < line.n; i++) {
        unsigned char ch = (unsigned char)line.p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return false;
    }
    return true;
}

/* Parses the head p[0..len), which ends with its blank line. */
static int parse_head(const char *p, size_t len, head_t *h)
{
    memset(h, 0, sizeof(*h));
    slice_t rest = {p, len}, line;
    bool first = true;
    while (rest.n > 0) {
        const char *lf = memchr(rest.p, '\n', rest.n);
        line = (slice_t){rest.p, lf != NULL ? (size_t)(lf - rest.p) : rest.n};
        size_t step = lf != NULL ? line.n + 1 : line.n;
        rest.p += step;
        rest.n -= step;
        if (line.n > 0 && line.p[line.n - 1] == '\r') line.n--;
        if (line.n == 0) break;
        if (!clean_line(line)) return SL_ERR_PROTO;
        int rc;
        if (first) rc = line.n >= 5 && strncmp(line.p, "RTSP/", 5) == 0 ? parse_status_line(line, h)
                                                                        : parse_request_line(line, h);
        else rc = parse_header_line(line, h);
        if (rc != SL_OK) return rc;
        first = false;
    }
    return first ? SL_ERR_PROTO : SL_OK;
}

/* The body's length from Content-Length, 0 without one. */
static int body_length(const head_t *h, size_t *len)
{
    const slice_t *v = header(h, "Content-Length");
    uint32_t n = 0;
    *len = 0;
    if (v == NULL) return SL_OK;
    if (v->n == 0) return SL_ERR_PROTO;
    for (size_t i = 0; i < v->n; i++)
        if (!is_digit(v->p[i])) return SL_ERR_PROTO;
    if (!parse_uint(*v, SL_RTSP_CLIENT_MAX_BODY, &n)) return SL_ERR_TOO_BIG;
    *len = n;
    return SL_OK;
}

/* Requests. */

static bool has_session(const sl_rtsp_client_t *c) { return c->session[0] != '\0'; }

/* The Authorization value for method on url into c->auth, when a challenge came. */
static int build_authorization(sl_rtsp_client_t *c, const char *method, const char *url)
{
    c->auth.len = 0;
    if (c->auth_scheme == AUTH_BASIC) return sl_basic_authorization(c->url.user, c->url.pass, &c->auth);
    if (c->auth_scheme != AUTH_DIGEST) return SL_OK;
    return sl_digest_authorization(&c->challenge, method, url, c->url.user, c->url.pass, c->cnonce, ++c->nc,
                                   &c->auth);
}

static const char *method_of(const sl_rtsp_client_t *c, int kind)
{
    switch (kind) {
    case REQ_OPTIONS: return "OPTIONS";
    case REQ_DESCRIBE: return "DESCRIBE";
    case REQ_SETUP: return "SETUP";
    case REQ_PLAY: return "PLAY";
    case REQ_KEEPALIVE: return c->get_parameter ? "GET_PARAMETER" : "OPTIONS";
    default: return "TEARDOWN";
    }
}

static const char *url_of(const sl_rtsp_client_t *c, int kind, int track)
{
    switch (kind) {
    case REQ_OPTIONS:
    case REQ_DESCRIBE: return c->url.request_url;
    case REQ_SETUP: return c->tracks[track].url;
    default: return c->aggregate;
    }
}

/* The headers particular to a kind of request. */
static int put_request_headers(sl_rtsp_client_t *c, int kind, int track)
{
    const sl_rtsp_client_track_t *t = &c->tracks[track];
    switch (kind) {
    case REQ_DESCRIBE: return put_fmt(&c->req, "Accept: application/sdp\r\n");
    case REQ_PLAY: return put_fmt(&c->req, "Range: npt=0.000-\r\n");
    case REQ_SETUP:
        if (c->transport == SL_RTSP_CLIENT_TCP)
            return put_fmt(&c->req, "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n", 2 * track,
                           2 * track + 1);
        return put_fmt(&c->req, "Transport: RTP/AVP;unicast;client_port=%u-%u\r\n", (unsigned)t->client_port,
                       (unsigned)t->client_port + 1);
    default: return SL_OK;
    }
}

/* Builds a request in c->req and appends it whole to c->out: it becomes the
 * outstanding one. A retry after a 401 is a new request with a new CSeq. */
static int send_request(sl_rtsp_client_t *c, int kind, int track)
{
    const char *method = method_of(c, kind), *url = url_of(c, kind, track);
    int rc = build_authorization(c, method, url);
    if (rc != SL_OK) return rc;
    uint32_t cseq = c->cseq + 1;
    c->req.len = 0;
    rc = put_fmt(&c->req, "%s %s " RTSP_VERSION "\r\nCSeq: %u\r\nUser-Agent: sluice\r\n", method, url,
                 (unsigned)cseq);
    if (rc == SL_OK && has_session(c)) rc = put_fmt(&c->req, "Session: %s\r\n", c->session);
    if (rc == SL_OK && c->auth_scheme != AUTH_NONE)
        rc = put_fmt(&c->req, "Authorization: %.*s\r\n", (int)c->auth.len, (const char *)c->auth.data);
    if (rc == SL_OK) rc = put_request_headers(c, kind, track);
    if (rc == SL_OK) rc = put_fmt(&c->req, "\r\n");
    if (rc == SL_OK) rc = sl_bytes_append(c->out, c->req.data, c->req.len);
    if (rc != SL_OK) return rc;
    c->cseq = cseq;
    c->pending = (uint8_t)kind;
    c->pending_track = (uint8_t)track;
    return SL_OK;
}

/* A request that is not a retry: the count of 401s starts again. */
static int start_request(sl_rtsp_client_t *c, int kind, int track)
{
    c->unauthorized = 0;
    return send_request(c, kind, track);
}

/* SETUP of the next track not set up, or PLAY once all are. */
static int setup_next(sl_rtsp_client_t *c)
{
    int i = 0;
    while (i < c->track_count && c->tracks[i].setup) i++;
    if (i == c->track_count) return start_request(c, REQ_PLAY, 0);
    sl_rtsp_client_track_t *t = &c->tracks[i];
    if (c->transport == SL_RTSP_CLIENT_UDP) {
        uint16_t port = 0;
        int rc = c->ops->udp_port(c->arg, i, &port);
        if (rc != SL_OK) return over(c, rc);
        if (port == 0 || port == UINT16_MAX) return over(c, SL_ERR_CONFIG);
        t->client_port = port;
    }
    return start_request(c, REQ_SETUP, i);
}

/* Authentication. */

/* A value "<scheme>[ params]". */
static bool scheme_is(slice_t value, const char *scheme)
{
    size_t n = strlen(scheme);
    return value.n >= n && strncasecmp(value.p, scheme, n) == 0 && (value.n == n || is_blank(value.p[n]));
}

static int ensure_cnonce(sl_rtsp_client_t *c)
{
    if (c->cnonce[0] != '\0') return SL_OK;
    uint8_t bytes[SL_AUTH_SECRET_LEN];
    int rc = sl_auth_secret_new(bytes);
    if (rc != SL_OK) return rc;
    for (int i = 0; i < 8; i++) snprintf(c->cnonce + 2 * i, 3, "%02x", bytes[i]);
    return SL_OK;
}

/* SL_OK when we can answer challenge d with our credentials: MD5, qop absent or
 * offering auth, realm and nonce present, credentials without control bytes. */
static int try_digest(sl_rtsp_client_t *c, const sl_digest_t *d)
{
    c->auth.len = 0;
    return sl_digest_authorization(d, "OPTIONS", c->url.request_url, c->url.user, c->url.pass, c->cnonce, 1,
                                   &c->auth);
}

/* Adopts the best challenge of a 401's WWW-Authenticate headers: the first Digest
 * one we can answer, else Basic. SL_OK with *stale telling whether the Digest
 * challenge said its nonce was stale; SL_ERR_AUTH when none fits. */
static int adopt_challenge(sl_rtsp_client_t *c, const head_t *h, bool *stale)
{
    int rc = ensure_cnonce(c);
    if (rc != SL_OK) return rc;
    bool basic = false;
    sl_digest_t d;
    *stale = false;
    for (int i = 0; i < h->count; i++) {
        slice_t v = h->values[i];
        if (!slice_is(h->names[i], "WWW-Authenticate")) continue;
        if (scheme_is(v, "Basic")) basic = true;
        if (!scheme_is(v, "Digest") || sl_digest_parse(v.p, v.n, &d) != SL_OK) continue;
        rc = try_digest(c, &d);
        if (rc == SL_ERR_NOMEM) return rc;
        if (rc != SL_OK) continue;
        c->challenge = d;
        c->auth_scheme = AUTH_DIGEST;
        c->nc = 0;
        *stale = d.stale;
        return SL_OK;
    }
    c->auth.len = 0;
    if (!basic) return SL_ERR_AUTH;
    rc = sl_basic_authorization(c->url.user, c->url.pass, &c->auth);
    if (rc != SL_OK) return rc == SL_ERR_NOMEM ? rc : SL_ERR_AUTH;
    c->auth_scheme = AUTH_BASIC;
    return SL_OK;
}

/* A 401 to a request of the exchange: answer it once, and again only for a stale
 * Digest nonce. */
static int unauthorized(sl_rtsp_client_t *c, const head_t *h, int kind)
{
    if (c->url.user[0] == '\0') return refused(c, h);
    c->unauthorized++;
    bool stale;
    int rc = adopt_challenge(c, h, &stale);
    if (rc == SL_ERR_AUTH) return refused(c, h);
    if (rc != SL_OK) return rc;
    if (c->unauthorized > 1 && !(stale && c->unauthorized <= 1 + MAX_STALE_RETRIES)) return refused(c, h);
    return send_request(c, kind, c->pending_track);
}

/* URLs. */

static bool usable_url(const char *p, size_t n)
{
    return n > 7 && n < SL_RTSP_CLIENT_URL_MAX && strncasecmp(p, "rtsp://", 7) == 0 && all_graph(p, n);
}

/* The base for controls: Content-Base, else Content-Location, else the request
 * URL. A header that is not a whole rtsp:// URL is passed over. */
static void pick_base(sl_rtsp_client_t *c, const head_t *h)
{
    static const char *const names[] = {"Content-Base", "Content-Location"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(names); i++) {
        const slice_t *v = header(h, names[i]);
        if (v == NULL || !usable_url(v->p, v->n)) continue;
        memcpy(c->base, v->p, v->n);
        c->base[v->n] = '\0';
        return;
    }
    snprintf(c->base, sizeof(c->base), "%s", c->url.request_url);
}

/* Resolves an a=control (NULL when absent) against the base into out. */
static int resolve(const sl_rtsp_client_t *c, const char *control, char out[SL_RTSP_CLIENT_URL_MAX])
{
    int n;
    if (control == NULL || control[0] == '\0' || strcmp(control, "*") == 0) {
        n = snprintf(out, SL_RTSP_CLIENT_URL_MAX, "%s", c->base);
    } else {
        if (!all_graph(control, strlen(control))) return SL_ERR_PROTO;
        size_t base_len = strlen(c->base);
        bool absolute = strncasecmp(control, "rtsp://", 7) == 0;
        bool slash = base_len > 0 && c->base[base_len - 1] == '/';
        const char *sep = slash || control[0] == '?' ? "" : "/";
        n = absolute ? snprintf(out, SL_RTSP_CLIENT_URL_MAX, "%s", control)
                     : snprintf(out, SL_RTSP_CLIENT_URL_MAX, "%s%s%s", c->base, sep, control);
    }
    return n < 0 || n >= SL_RTSP_CLIENT_URL_MAX ? SL_ERR_TOO_BIG : SL_OK;
}

/* Responses. */

static bool success(const head_t *h) { return h->status >= 200 && h->status < 300; }

/* Whether a comma-separated method list holds `method` (methods are
 * case-sensitive). */
static bool lists_method(slice_t list, const char *method)
{
    slice_t item;
    while (next_item(&list, ',', &item))
        if (item.n == strlen(method) && memcmp(item.p, method, item.n) == 0) return true;
    return false;
}

/* Some cameras answer OPTIONS with 404 or 501 and serve DESCRIBE all the same. */
static int on_options(sl_rtsp_client_t *c, const head_t *h)
{
    const slice_t *public = header(h, "Public");
    if (success(h) && public != NULL) c->get_parameter = lists_method(*public, "GET_PARAMETER");
    return start_request(c, REQ_DESCRIBE, 0);
}

/* The media sections whose first payload type has a codec sluice takes. */
static int pick_tracks(sl_rtsp_client_t *c)
{
    for (int i = 0; i < c->sdp->media_count && c->track_count < SL_RTSP_CLIENT_MAX_TRACKS; i++) {
        const sl_sdp_media_t *m = &c->sdp->media[i];
        if (m->pt_count == 0) continue;
        const sl_sdp_rtpmap_t *map = sl_sdp_rtpmap_get(m, m->pts[0]);
        sl_codec_t codec = map != NULL ? sl_sdp_codec_of(map) : SL_CODEC_NONE;
        if (codec == SL_CODEC_NONE || map->clock == 0) continue;
        int n = c->track_count;
        sl_rtsp_client_track_t *t = &c->tracks[n];
        *t = (sl_rtsp_client_track_t){.media = m, .pt = map->pt, .codec = codec, .clock = map->clock};
        t->rtp_channel = (uint8_t)(2 * n);
        t->rtcp_channel = (uint8_t)(2 * n + 1);
        int rc = resolve(c, m->control, t->url);
        if (rc != SL_OK) return rc;
        c->track_count++;
    }
    return SL_OK;
}

static int on_describe(sl_rtsp_client_t *c, const head_t *h, const uint8_t *body, size_t len)
{
    if (!success(h)) return refused(c, h);
    if (len == 0) return fail_text(c, SL_ERR_PROTO, "DESCRIBE answered without a body");
    sl_sdp_free(c->sdp);
    c->sdp = NULL;
    int rc = sl_sdp_parse((const char *)body, len, &c->sdp);
    if (rc == SL_ERR_NOMEM) return rc;
    if (rc != SL_OK) return fail_text(c, rc, "SDP not usable");
    pick_base(c, h);
    rc = resolve(c, c->sdp->control, c->aggregate);
    if (rc == SL_OK) rc = pick_tracks(c);
    if (rc != SL_OK) return fail_text(c, rc, "control URL not usable");
    if (c->track_count == 0) return fail_text(c, SL_ERR_UNSUPPORTED, "no track of a codec sluice takes");
    return setup_next(c);
}

/* "id[;timeout=N]": the first SETUP's Session is the one we keep. */
static int read_session(sl_rtsp_client_t *c, const head_t *h)
{
    const slice_t *v = header(h, "Session");
    if (v == NULL || has_session(c)) return SL_OK;
    slice_t rest = *v, id, param, value;
    if (!next_item(&rest, ';', &id) || id.n == 0 || !all_graph(id.p, id.n)) return SL_ERR_PROTO;
    if (id.n >= sizeof(c->session)) return SL_ERR_TOO_BIG;
    memcpy(c->session, id.p, id.n);
    c->session[id.n] = '\0';
    uint32_t timeout;
    while (next_item(&rest, ';', &param))
        if (param_is(param, "timeout", &value) && parse_uint(value, UINT32_MAX, &timeout) && timeout > 0)
            c->timeout_s = SL_MIN(timeout, (uint32_t)SL_RTSP_CLIENT_TIMEOUT_MAX);
    return SL_OK;
}

/* One parameter of the Transport reply. Values that do not parse are passed over:
 * the track keeps what we asked for. */
static void read_transport_param(sl_rtsp_client_t *c, sl_rtsp_client_track_t *t, slice_t param)
{
    slice_t v;
    uint32_t a, b;
    if (c->transport == SL_RTSP_CLIENT_TCP && param_is(param, "interleaved", &v) && parse_pair(v, 255, &a, &b) &&
        b <= 255 && b != a) {
        t->rtp_channel = (uint8_t)a;
        t->rtcp_channel = (uint8_t)b;
    } else if (c->transport == SL_RTSP_CLIENT_UDP && param_is(param, "server_port", &v) &&
               parse_pair(v, UINT16_MAX, &a, &b) && a > 0) {
        /* 0 for an RTCP port we cannot tell. */
        t->server_port = (uint16_t)a;
        t->server_rtcp_port = (uint16_t)(b <= UINT16_MAX ? b : 0);
    } else if (param_is(param, "ssrc", &v) && parse_hex32(v, &a)) {
        t->ssrc = a;
        t->has_ssrc = true;
    }
}

/* The first transport of the reply's Transport header. */
static void read_transport(sl_rtsp_client_t *c, const head_t *h, sl_rtsp_client_track_t *t)
{
    const slice_t *v = header(h, "Transport");
    if (v == NULL) return;
    slice_t rest = *v, spec, param;
    if (!next_item(&rest, ',', &spec)) return;
    while (next_item(&spec, ';', &param)) read_transport_param(c, t, param);
}

static int on_setup(sl_rtsp_client_t *c, const head_t *h)
{
    if (!success(h)) return refused(c, h);
    int rc = read_session(c, h);
    if (rc != SL_OK) return fail_text(c, rc, "Session not usable");
    sl_rtsp_client_track_t *t = &c->tracks[c->pending_track];
    read_transport(c, h, t);
    t->setup = true;
    return setup_next(c);
}

static int on_play(sl_rtsp_client_t *c, const head_t *h)
{
    if (!success(h)) return refused(c, h);
    c->state = ST_PLAYING;
    if (c->ops->on_ready != NULL) c->ops->on_ready(c->arg);
    return SL_OK;
}

/* A keep-alive's answer changes nothing, except that a new challenge is taken up
 * so the next requests pass. */
static int on_keepalive(sl_rtsp_client_t *c, const head_t *h)
{
    bool stale;
    if (h->status != 401 || c->url.user[0] == '\0') return SL_OK;
    int rc = adopt_challenge(c, h, &stale);
    return rc == SL_ERR_NOMEM ? rc : SL_OK;
}

static int on_response(sl_rtsp_client_t *c, const head_t *h, const uint8_t *body, size_t len)
{
    /* 1xx are provisional; with nothing outstanding a response is a stray. */
    if (h->status < 200 || c->pending == REQ_NONE) return SL_OK;
    const slice_t *cseq = header(h, "CSeq");
    uint32_t n;
    if (cseq != NULL && (!parse_uint(*cseq, UINT32_MAX, &n) || n != c->cseq)) return SL_OK;
    int kind = c->pending;
    c->pending = REQ_NONE;
    if (kind == REQ_KEEPALIVE) return on_keepalive(c, h);
    if (h->status == 401) return unauthorized(c, h, kind);
    switch (kind) {
    case REQ_OPTIONS: return on_options(c, h);
    case REQ_DESCRIBE: return on_describe(c, h, body, len);
    case REQ_SETUP: return on_setup(c, h);
    case REQ_PLAY: return on_play(c, h);
    default: return SL_OK;
    }
}

/* A request of the server: refused with its CSeq, ignored without one. */
static int on_request(sl_rtsp_client_t *c, const head_t *h)
{
    const slice_t *cseq = header(h, "CSeq");
    uint32_t n;
    if (cseq == NULL || !parse_uint(*cseq, UINT32_MAX, &n)) return SL_OK;
    c->req.len = 0;
    int rc = put_fmt(&c->req, RTSP_VERSION " 501 Not Implemented\r\nCSeq: %u\r\n\r\n", (unsigned)n);
    return rc == SL_OK ? sl_bytes_append(c->out, c->req.data, c->req.len) : rc;
}

/* Units of the stream: interleaved frames and messages. */

static int on_interleaved(sl_rtsp_client_t *c, uint8_t channel, const uint8_t *data, size_t len)
{
    if (c->transport != SL_RTSP_CLIENT_TCP) return SL_OK;
    for (int i = 0; i < c->track_count; i++) {
        const sl_rtsp_client_track_t *t = &c->tracks[i];
        if (!t->setup) continue;
        if (channel == t->rtp_channel) {
            int rc = c->ops->on_rtp != NULL ? c->ops->on_rtp(c->arg, i, data, len) : SL_OK;
            return rc != SL_OK ? over(c, rc) : SL_OK;
        }
        if (channel == t->rtcp_channel) {
            if (c->ops->on_rtcp != NULL) c->ops->on_rtcp(c->arg, i, data, len);
            return SL_OK;
        }
    }
    return SL_OK;
}

/* Finds the end of the head at p[0..len): its length in *head_len, or 0 when the
 * blank line has not come yet. Resumes where the last search stopped. */
static int find_head(sl_rtsp_client_t *c, const uint8_t *p, size_t len, size_t *head_len)
{
    size_t limit = SL_MIN(len, (size_t)SL_RTSP_CLIENT_MAX_HEAD);
    *head_len = 0;
    for (size_t i = c->scanned; i < limit; i++) {
        if (p[i] != '\n') continue;
        size_t j = i + 1;
        if (j < len && p[j] == '\r') j++;
        if (j < len && p[j] == '\n') {
            *head_len = j + 1;
            return *head_len > SL_RTSP_CLIENT_MAX_HEAD ? SL_ERR_TOO_BIG : SL_OK;
        }
    }
    if (len >= SL_RTSP_CLIENT_MAX_HEAD) return SL_ERR_TOO_BIG;
    /* A blank line may start in the last two bytes searched. */
    c->scanned = len > 2 ? len - 2 : 0;
    return SL_OK;
}

/* A message at p[0..len): its size in *used once it is whole, else 0. */
static int take_message(sl_rtsp_client_t *c, const uint8_t *p, size_t len, size_t *used)
{
    *used = 0;
    if (c->head_len == 0) {
        int rc = find_head(c, p, len, &c->head_len);
        if (rc != SL_OK || c->head_len == 0) return rc;
    } else if (len < c->unit_size) {
        return SL_OK; /* the head is known: wait for the rest of the body */
    }
    head_t h;
    size_t head_len = c->head_len, body_len;
    int rc = parse_head((const char *)p, head_len, &h);
    if (rc == SL_OK) rc = body_length(&h, &body_len);
    if (rc != SL_OK) return rc;
    c->unit_size = head_len + body_len;
    if (len < c->unit_size) return SL_OK;
    *used = c->unit_size;
    c->scanned = c->head_len = c->unit_size = 0;
    return h.request ? on_request(c, &h) : on_response(c, &h, p + head_len, body_len);
}

/* An interleaved frame at p[0..len): its size in *used once it is whole, else 0. */
static int take_interleaved(sl_rtsp_client_t *c, const uint8_t *p, size_t len, size_t *used)
{
    *used = 0;
    if (len < 4) return SL_OK;
    size_t size = 4 + (size_t)(p[2] << 8 | p[3]);
    if (len < size) return SL_OK;
    *used = size;
    return on_interleaved(c, p[1], p + 4, size - 4);
}

/* Takes every whole unit of p[0..len); *used is where the first partial one starts. */
static int take_units(sl_rtsp_client_t *c, const uint8_t *p, size_t len, size_t *used)
{
    size_t off = 0;
    int rc = SL_OK;
    while (rc == SL_OK && c->err == SL_OK && off < len) {
        /* Line endings between messages, which some servers send, start no unit. */
        if (c->head_len == 0 && c->scanned == 0 && (p[off] == '\r' || p[off] == '\n')) {
            off++;
            continue;
        }
        size_t n;
        rc = p[off] == '$' ? take_interleaved(c, p + off, len - off, &n) : take_message(c, p + off, len - off, &n);
        if (n == 0) break;
        off += n;
    }
    *used = off;
    return rc;
}

/* Public functions. */

static bool usable_cnonce(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < SL_RTSP_CLIENT_CNONCE_MAX && all_graph(s, n) && strpbrk(s, "\"\\") == NULL;
}

int sl_rtsp_client_init(sl_rtsp_client_t *c, const sl_rtsp_client_cfg_t *cfg, const sl_rtsp_client_ops_t *ops,
                        void *arg, sl_bytes_t *out)
{
    static const sl_rtsp_client_ops_t no_ops;
    memset(c, 0, sizeof(*c));
    c->ops = ops != NULL ? ops : &no_ops;
    c->arg = arg;
    c->transport = (uint8_t)cfg->transport;
    c->url = *cfg->url;
    c->timeout_s = SL_RTSP_CLIENT_TIMEOUT_S;
    sl_bytes_init(&c->req);
    sl_bytes_init(&c->auth);
    sl_bytes_init(&c->in);
    /* The URL may come from anywhere: make sure its strings end inside the arrays. */
    c->url.user[sizeof(c->url.user) - 1] = '\0';
    c->url.pass[sizeof(c->url.pass) - 1] = '\0';
    c->url.request_url[sizeof(c->url.request_url) - 1] = '\0';
    bool udp = cfg->transport == SL_RTSP_CLIENT_UDP;
    if ((!udp && cfg->transport != SL_RTSP_CLIENT_TCP) || (udp && c->ops->udp_port == NULL) ||
        !usable_url(c->url.request_url, strlen(c->url.request_url)) ||
        (cfg->cnonce != NULL && !usable_cnonce(cfg->cnonce)))
        return over(c, SL_ERR_CONFIG);
    if (cfg->cnonce != NULL) snprintf(c->cnonce, sizeof(c->cnonce), "%s", cfg->cnonce);
    c->state = ST_STARTING;
    c->out = out;
    int rc = start_request(c, REQ_OPTIONS, 0);
    c->out = NULL;
    return rc != SL_OK ? over(c, rc) : SL_OK;
}

int sl_rtsp_client_feed(sl_rtsp_client_t *c, const uint8_t *data, size_t len, sl_bytes_t *out)
{
    if (c->err != SL_OK || len == 0) return c->err;
    c->out = out;
    /* Whole units are taken straight from data; only a partial one is kept. */
    bool buffered = c->in.len > 0;
    const uint8_t *p = data;
    int rc = SL_OK;
    if (buffered) {
        rc = sl_bytes_append(&c->in, data, len);
        p = c->in.data;
        len = c->in.len;
    }
    size_t used = 0;
    if (rc == SL_OK) rc = take_units(c, p, len, &used);
    if (rc == SL_OK && c->err == SL_OK && buffered) {
        memmove(c->in.data, c->in.data + used, len - used);
        c->in.len = len - used;
    } else if (rc == SL_OK && c->err == SL_OK && used < len) {
        rc = sl_bytes_append(&c->in, data + used, len - used);
    }
    c->out = NULL;
    /* A refusal already set err and told the glue; anything else ends it here. */
    if (rc != SL_OK && c->err == SL_OK) fail_text(c, rc, sl_strerror(rc));
    return c->err;
}

int sl_rtsp_client_track_count(const sl_rtsp_client_t *c) { return c->track_count; }

const sl_rtsp_client_track_t *sl_rtsp_client_track(const sl_rtsp_client_t *c, int i)
{
    return i >= 0 && i < c->track_count ? &c->tracks[i] : NULL;
}

const sl_sdp_t *sl_rtsp_client_sdp(const sl_rtsp_client_t *c) { return c->sdp; }

int sl_rtsp_client_keepalive(sl_rtsp_client_t *c, sl_bytes_t *out)
{
    if (c->err != SL_OK) return c->err;
    if (c->state != ST_PLAYING) return SL_ERR_AGAIN;
    c->out = out;
    int rc = start_request(c, REQ_KEEPALIVE, 0);
    c->out = NULL;
    return rc;
}

uint32_t sl_rtsp_client_keepalive_ms(const sl_rtsp_client_t *c) { return c->timeout_s * 500u; }

int sl_rtsp_client_send_rtcp(sl_rtsp_client_t *c, int track, const uint8_t *data, size_t len, sl_bytes_t *out)
{
    if (c->err != SL_OK) return c->err;
    if (c->transport != SL_RTSP_CLIENT_TCP) return SL_ERR_UNSUPPORTED;
    if (track < 0 || track >= c->track_count) return SL_ERR_NOT_FOUND;
    if (!c->tracks[track].setup) return SL_ERR_AGAIN;
    if (len > UINT16_MAX) return SL_ERR_TOO_BIG;
    int rc = sl_bytes_reserve(out, 4 + len);
    if (rc != SL_OK) return rc;
    uint8_t hdr[4] = {'$', c->tracks[track].rtcp_channel};
    sl_wr_be16(hdr + 2, (uint16_t)len);
    rc = sl_bytes_append(out, hdr, sizeof(hdr));
    return rc == SL_OK ? sl_bytes_append(out, data, len) : rc;
}

int sl_rtsp_client_teardown(sl_rtsp_client_t *c, sl_bytes_t *out)
{
    int rc = SL_OK;
    if (has_session(c) && !c->teardown_sent) {
        c->teardown_sent = true;
        c->out = out;
        rc = start_request(c, REQ_TEARDOWN, 0);
        c->out = NULL;
    }
    if (c->err == SL_OK) over(c, SL_ERR_CLOSED);
    return rc;
}

void sl_rtsp_client_free(sl_rtsp_client_t *c)
{
    sl_sdp_free(c->sdp);
    c->sdp = NULL;
    c->track_count = 0;
    sl_bytes_free(&c->req);
    sl_bytes_free(&c->auth);
    sl_bytes_free(&c->in);
}
