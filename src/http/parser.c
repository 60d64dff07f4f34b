/* The HTTP/1.x (and RTSP/1.0) request head parser: bytes in, sl_http_request_t out.
 *
 * It is strict where a lax reading would let two parsers disagree about where a
 * request ends (control characters, line folding, conflicting lengths, spaces around
 * the header name) and lenient where real clients differ harmlessly (bare LF line
 * ends, empty lines before the request line). It never reads past buf[len) nor past
 * max_head, whichever is smaller, so a head that never ends costs at most max_head.
 */
#include "sluice/http.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#define METHOD_MAX 15 /* sizeof(req->method) - 1 */

/* RFC 9110 token characters: what method and header names are made of. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Bytes allowed in a field value: visible ASCII, SP, HTAB and obs-text (UTF-8 from
 * some clients); every other control character is refused. */
static bool is_value_char(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Finds the next line in buf[*pos..limit). On success [*start, *end) is its content
 * without the CR LF (or bare LF) and *pos moves past the LF. Returns false when no
 * LF is there yet. */
static bool next_line(const char *buf, size_t limit, size_t *pos, size_t *start, size_t *end)
{
    if (*pos >= limit) return false; /* buf may be NULL when empty */
    const char *lf = memchr(buf + *pos, '\n', limit - *pos);
    if (lf == NULL) return false;
    size_t e = (size_t)(lf - buf);
    *start = *pos;
    *end = (e > *pos && buf[e - 1] == '\r') ? e - 1 : e;
    *pos = e + 1;
    return true;
}

/* The answer when no complete head is in the buffer: wait for more bytes unless the
 * head can no longer fit. */
static int incomplete(size_t len, size_t max_head)
{
    return (len >= max_head || len >= INT_MAX) ? SL_ERR_TOO_BIG : SL_ERR_AGAIN;
}

/* "<proto>/<digit>.<digit>" exactly. */
static int parse_version(sl_http_request_t *req, const char *proto, const char *p, size_t n)
{
    size_t plen = strlen(proto);
    if (n != plen + 4 || memcmp(p, proto, plen) != 0 || p[plen] != '/') return SL_ERR_PROTO;
    p += plen + 1;
    if (p[0] < '0' || p[0] > '9' || p[1] != '.' || p[2] < '0' || p[2] > '9') return SL_ERR_PROTO;
    req->version_major = p[0] - '0';
    req->version_minor = p[2] - '0';
    return SL_OK;
}

/* Splits the target at the first '?' into the NUL-terminated path and query. */
static int split_target(sl_http_request_t *req, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f) return SL_ERR_PROTO;
    const char *q = memchr(t, '?', n);
    size_t path_len = q ? (size_t)(q - t) : n;
    size_t query_len = q ? n - path_len - 1 : 0;
    if (path_len == 0) return SL_ERR_PROTO;
    if (path_len >= SL_HTTP_MAX_PATH || query_len >= SL_HTTP_MAX_PATH) return SL_ERR_TOO_BIG;
    memcpy(req->path, t, path_len);
    req->path[path_len] = '\0';
    if (q) memcpy(req->query, q + 1, query_len);
    req->query[query_len] = '\0';
    return SL_OK;
}

/* METHOD SP target SP PROTO/x.y, single spaces. */
static int parse_request_line(sl_http_request_t *req, const char *proto, const char *line, size_t n)
{
    const char *end = line + n;
    const char *sp1 = memchr(line, ' ', n);
    if (sp1 == NULL) return SL_ERR_PROTO;
    size_t mlen = (size_t)(sp1 - line);
    if (mlen == 0 || mlen > METHOD_MAX) return SL_ERR_PROTO;
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)line[i])) return SL_ERR_PROTO;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (sp2 == NULL || sp2 == target) return SL_ERR_PROTO;
    int r = parse_version(req, proto, sp2 + 1, (size_t)(end - sp2 - 1));
    if (r != SL_OK) return r;
    r = split_target(req, target, (size_t)(sp2 - target));
    if (r != SL_OK) return r;
    memcpy(req->method, line, mlen);
    req->method[mlen] = '\0';
    return SL_OK;
}

/* Walks a comma-separated list: sets [*tok, *tok + *tlen) to the next element with
 * blanks trimmed and returns true, or returns false at the end. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *tlen)
{
    while (*p < end && (is_blank(**p) || **p == ',')) (*p)++;
    if (*p >= end) return false;
    const char *s = *p;
    while (*p < end && **p != ',') (*p)++;
    const char *e = *p;
    while (e > s && is_blank(e[-1])) e--;
    *tok = s;
    *tlen = (size_t)(e - s);
    return true;
}

static bool token_is(const char *tok, size_t tlen, const char *word)
{
    return tlen == strlen(word) && strncasecmp(tok, word, tlen) == 0;
}

static bool header_is(const sl_http_header_t *h, const char *name)
{
    return token_is(h->name, h->name_len, name);
}

static int parse_content_length(sl_http_request_t *req, const char *v, size_t n)
{
    if (n == 0) return SL_ERR_PROTO;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return SL_ERR_PROTO;
        int d = v[i] - '0';
        if (x > (INT64_MAX - d) / 10) return SL_ERR_TOO_BIG;
        x = x * 10 + d;
    }
    /* Two different lengths would let a proxy and us split the stream differently. */
    if (req->content_length >= 0 && req->content_length != x) return SL_ERR_PROTO;
    req->content_length = x;
    return SL_OK;
}

/* What the Connection and Transfer-Encoding headers said, folded over all of them. */
typedef struct head_flags {
    bool conn_close, conn_keep_alive, te_seen;
} head_flags_t;

static void scan_connection(head_flags_t *f, const char *v, size_t n)
{
    const char *p = v, *tok;
    size_t tlen;
    while (next_token(&p, v + n, &tok, &tlen)) {
        if (token_is(tok, tlen, "close")) f->conn_close = true;
        else if (token_is(tok, tlen, "keep-alive")) f->conn_keep_alive = true;
    }
}

/* Only the final transfer coding decides whether the body is chunked. */
static void scan_transfer_encoding(sl_http_request_t *req, head_flags_t *f, const char *v, size_t n)
{
    const char *p = v, *tok, *last = NULL;
    size_t tlen, last_len = 0;
    while (next_token(&p, v + n, &tok, &tlen)) {
        last = tok;
        last_len = tlen;
    }
    f->te_seen = true;
    req->chunked = last != NULL && token_is(last, last_len, "chunked");
}

static int parse_header_line(sl_http_request_t *req, head_flags_t *f, const char *line, size_t n)
{
    /* Obsolete line folding: refused rather than guessed at (RFC 9112 5.2). */
    if (is_blank(line[0])) return SL_ERR_PROTO;
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line) return SL_ERR_PROTO;
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < name_len; i++)
        if (!is_tchar((unsigned char)line[i])) return SL_ERR_PROTO;
    const char *v = colon + 1, *end = line + n;
    for (const char *p = v; p < end; p++)
        if (!is_value_char((unsigned char)*p)) return SL_ERR_PROTO;
    while (v < end && is_blank(*v)) v++;
    while (end > v && is_blank(end[-1])) end--;
    if (req->header_count >= SL_HTTP_MAX_HEADERS) return SL_ERR_TOO_BIG;

    sl_http_header_t *h = &req->headers[req->header_count++];
    h->name = line;
    h->name_len = name_len;
    h->value = v;
    h->value_len = (size_t)(end - v);
    if (header_is(h, "Content-Length")) return parse_content_length(req, h->value, h->value_len);
    if (header_is(h, "Transfer-Encoding")) scan_transfer_encoding(req, f, h->value, h->value_len);
    else if (header_is(h, "Connection")) scan_connection(f, h->value, h->value_len);
    return SL_OK;
}

static void request_reset(sl_http_request_t *req)
{
    req->method[0] = '\0';
    req->path[0] = '\0';
    req->query[0] = '\0';
    req->version_major = req->version_minor = 0;
    req->header_count = 0;
    req->content_length = -1;
    req->chunked = false;
    req->keep_alive = false;
    req->body = NULL;
    req->body_len = 0;
}

int sl_http_parse_request(sl_http_request_t *req, const char *proto, const char *buf, size_t len,
                          size_t max_head)
{
    size_t limit = SL_MIN(SL_MIN(len, max_head), (size_t)INT_MAX);
    size_t pos = 0, start, end;
    head_flags_t flags = {0};
    request_reset(req);

    /* Empty lines before the request line are ignored (RFC 9112 2.2): some clients
     * send a stray CRLF after a POST body. */
    do {
        if (!next_line(buf, limit, &pos, &start, &end)) return incomplete(len, max_head);
    } while (end == start);
    int r = parse_request_line(req, proto, buf + start, end - start);
    if (r != SL_OK) return r;

    for (;;) {
        if (!next_line(buf, limit, &pos, &start, &end)) return incomplete(len, max_head);
        if (end == start) break;
        r = parse_header_line(req, &flags, buf + start, end - start);
        if (r != SL_OK) return r;
    }
    /* A coding other than chunked last leaves the body length unknowable (RFC 9112
     * 6.3): such a request cannot be framed. */
    if (flags.te_seen && !req->chunked) return SL_ERR_PROTO;
    bool persistent_default = req->version_major > 1 || (req->version_major == 1 && req->version_minor >= 1);
    req->keep_alive = !flags.conn_close && (persistent_default || flags.conn_keep_alive);
    return (int)pos;
}

const char *sl_http_header_get(const sl_http_request_t *req, const char *name, size_t *len)
{
    for (int i = 0; i < req->header_count; i++) {
        const sl_http_header_t *h = &req->headers[i];
        if (header_is(h, name)) {
            if (len) *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

const char *sl_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 453: return "Not Enough Bandwidth";
    case 454: return "Session Not Found";
    case 455: return "Method Not Valid in This State";
    case 459: return "Aggregate Operation Not Allowed";
    case 461: return "Unsupported Transport";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
