/* The outgoing HTTP/1.1 client: a URL parser and a response parser, both I/O-free,
 * and a one-shot POST on the libuv loop for hooks.
 *
 * The response parser keeps its own bounded copy of the head (header slices point
 * into it) and of the decoded body, so the caller can feed whatever the socket
 * gives, down to one byte at a time, and get the same answer. Like the request
 * parser it is strict where a lax reading could frame the body differently
 * (Content-Length conflicts, transfer codings, folded lines) and lenient where
 * servers differ harmlessly (bare LF, a status line without a reason).
 *
 * A request owns its handles (a timer for the whole exchange, the TCP handle) and a
 * pending name resolution; a reference count over them frees the request from the
 * last close callback. The user's callback runs when the outcome is known, not when
 * the handles are closed, so a resolver stuck in the thread pool cannot delay the
 * timeout.
 */
#include "sluice/http_client.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/log.h"

/* ---- Character classes (RFC 9110) ------------------------------------------ */

static bool is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Visible ASCII, SP, HTAB and obs-text: what a field value or reason may hold. */
static bool is_value_char(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static bool token_is(const char *tok, size_t tlen, const char *word)
{
    return tlen == strlen(word) && strncasecmp(tok, word, tlen) == 0;
}

/* ---- URL ------------------------------------------------------------------- */

static int url_fail(const char **why, int err, const char *text)
{
    *why = text;
    return err;
}

/* The port after ':' in [p, end): 1..65535 in decimal. */
static bool parse_port(const char *p, const char *end, uint16_t *port)
{
    if (p == end || end - p > 5) return false;
    unsigned v = 0;
    for (; p < end; p++) {
        if (!is_digit(*p)) return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

static int parse_ipv6_host(sl_http_url_t *u, const char *h, size_t n, const char **why)
{
    char text[INET6_ADDRSTRLEN];
    struct in6_addr a;
    if (n == 0 || n >= sizeof(text)) return url_fail(why, SL_ERR_CONFIG, "not a valid [IPv6] address");
    memcpy(text, h, n);
    text[n] = '\0';
    if (inet_pton(AF_INET6, text, &a) != 1)
        return url_fail(why, SL_ERR_CONFIG, "not a valid [IPv6] address (zone ids are not supported)");
    memcpy(u->host, text, n + 1);
    u->family = AF_INET6;
    return SL_OK;
}

/* A DNS name or an IPv4 literal. */
static int parse_name_host(sl_http_url_t *u, const char *h, size_t n, const char **why)
{
    if (n == 0) return url_fail(why, SL_ERR_CONFIG, "the URL has no host");
    if (n > SL_HTTP_URL_MAX_HOST) return url_fail(why, SL_ERR_CONFIG, "the host name is longer than 253 characters");
    bool numeric = true;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (!is_digit(ch) && ch != '.') numeric = false;
        if (!is_digit(ch) && !(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && ch != '-' &&
            ch != '.' && ch != '_')
            return url_fail(why, SL_ERR_CONFIG, "the host has characters a host name cannot have");
    }
    memcpy(u->host, h, n);
    u->host[n] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, u->host, &a) == 1) {
        u->family = AF_INET;
    } else if (numeric) {
        return url_fail(why, SL_ERR_CONFIG, "not a valid IPv4 address");
    } else {
        u->family = AF_UNSPEC;
    }
    return SL_OK;
}

/* host[:port] in [a, end), with the host possibly in brackets. */
static int parse_authority(sl_http_url_t *u, const char *a, const char *end, const char **why)
{
    if (memchr(a, '@', (size_t)(end - a)) != NULL)
        return url_fail(why, SL_ERR_CONFIG, "credentials (user@) in the URL are not supported");
    const char *after;
    int rc;
    if (a < end && *a == '[') {
        const char *close = memchr(a, ']', (size_t)(end - a));
        if (close == NULL) return url_fail(why, SL_ERR_CONFIG, "the [IPv6] address has no closing ]");
        rc = parse_ipv6_host(u, a + 1, (size_t)(close - a - 1), why);
        after = close + 1;
    } else {
        const char *colon = memchr(a, ':', (size_t)(end - a));
        after = colon ? colon : end;
        rc = parse_name_host(u, a, (size_t)(after - a), why);
    }
    if (rc != SL_OK) return rc;
    u->port = 80;
    if (after == end) return SL_OK;
    if (*after != ':' || !parse_port(after + 1, end, &u->port))
        return url_fail(why, SL_ERR_CONFIG, "the port must be a number from 1 to 65535");
    return SL_OK;
}

/* The path and query: sent as they are, so only visible ASCII is allowed. */
static int parse_target(sl_http_url_t *u, const char *t, const char **why)
{
    if (*t == '#') return url_fail(why, SL_ERR_CONFIG, "a #fragment has no meaning in a hook URL");
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch == '#') return url_fail(why, SL_ERR_CONFIG, "a #fragment has no meaning in a hook URL");
        if (ch <= 0x20 || ch >= 0x7f)
            return url_fail(why, SL_ERR_CONFIG, "the path has spaces or control or non-ASCII characters (percent-encode them)");
    }
    size_t lead = (n == 0 || t[0] == '?') ? 1 : 0; /* "" -> "/", "?q" -> "/?q" */
    if (lead + n > SL_HTTP_URL_MAX_TARGET)
        return url_fail(why, SL_ERR_CONFIG, "the path and query are longer than 2047 characters");
    if (lead) u->target[0] = '/';
    memcpy(u->target + lead, t, n + 1);
    return SL_OK;
}

int sl_http_url_parse(sl_http_url_t *u, const char *url, const char **why)
{
    const char *unused;
    if (why == NULL) why = &unused;
    *why = NULL;
    memset(u, 0, sizeof(*u));
    if (url == NULL || *url == '\0') return url_fail(why, SL_ERR_CONFIG, "the URL is empty");
    if (strncasecmp(url, "https://", 8) == 0)
        return url_fail(why, SL_ERR_UNSUPPORTED, "https:// is not supported (the hook client has no TLS): use http://");
    if (strncasecmp(url, "http://", 7) != 0) return url_fail(why, SL_ERR_CONFIG, "the URL must start with http://");
    const char *a = url + 7;
    const char *end = a + strcspn(a, "/?#");
    int rc = parse_authority(u, a, end, why);
    if (rc == SL_OK) rc = parse_target(u, end, why);
    if (rc != SL_OK) memset(u, 0, sizeof(*u));
    return rc;
}

/* ---- Response parser ---------------------------------------------------------- */

enum {
    ST_HEAD,
    ST_BODY_LENGTH, /* Content-Length bytes */
    ST_BODY_CLOSE,  /* everything until the connection closes */
    ST_CHUNK_SIZE,
    ST_CHUNK_DATA,
    ST_CHUNK_END, /* the CRLF after a chunk's data */
    ST_TRAILER,
    ST_DONE,
};

void sl_http_response_init(sl_http_response_t *r, size_t max_body)
{
    memset(r, 0, offsetof(sl_http_response_t, head));
    r->content_length = -1;
    r->max_body = max_body ? max_body : SL_HTTP_CLIENT_MAX_BODY;
    r->state = ST_HEAD;
    sl_bytes_init(&r->body_buf);
}

void sl_http_response_free(sl_http_response_t *r)
{
    sl_bytes_free(&r->body_buf);
    r->body = NULL;
    r->body_len = 0;
}

/* The end of the head (just past its empty line) in head[0..len), searching only
 * where a terminator can end at or after `from`; 0 when there is none yet. */
static size_t find_head_end(const char *head, size_t from, size_t len)
{
    for (size_t i = from; i + 1 < len; i++) {
        if (head[i] != '\n') continue;
        if (head[i + 1] == '\n') return i + 2;
        if (head[i + 1] == '\r' && i + 2 < len && head[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* The next line of head[*pos..len) without its CR LF (or bare LF); every line of a
 * complete head ends with LF. */
static void next_line(const char *head, size_t len, size_t *pos, const char **line, size_t *n)
{
    const char *s = head + *pos;
    const char *lf = memchr(s, '\n', len - *pos);
    size_t e = (size_t)(lf - head);
    *line = s;
    *n = (e > *pos && head[e - 1] == '\r') ? e - 1 - *pos : e - *pos;
    *pos = e + 1;
}

/* "HTTP/1.x NNN reason": a missing SP and reason after the code is tolerated. */
static int parse_status_line(sl_http_response_t *r, const char *s, size_t n)
{
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        return SL_ERR_PROTO;
    if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11])) return SL_ERR_PROTO;
    int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (status < 100 || status > 599) return SL_ERR_PROTO;
    const char *reason = s + n;
    if (n > 12) {
        if (s[12] != ' ') return SL_ERR_PROTO;
        reason = s + 13;
        for (const char *p = reason; p < s + n; p++)
            if (!is_value_char((unsigned char)*p)) return SL_ERR_PROTO;
    }
    r->version_minor = s[7] - '0';
    r->status = status;
    r->reason = reason;
    r->reason_len = (size_t)(s + n - reason);
    return SL_OK;
}

/* Splits "name: value" with the value's blanks trimmed; refuses folding, blanks
 * before the colon and control characters. */
static int split_field(const char *line, size_t n, sl_http_header_t *h)
{
    if (n == 0 || is_blank(line[0])) return SL_ERR_PROTO;
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line) return SL_ERR_PROTO;
    for (const char *p = line; p < colon; p++)
        if (!is_tchar((unsigned char)*p)) return SL_ERR_PROTO;
    const char *v = colon + 1, *end = line + n;
    for (const char *p = v; p < end; p++)
        if (!is_value_char((unsigned char)*p)) return SL_ERR_PROTO;
    while (v < end && is_blank(*v)) v++;
    while (end > v && is_blank(end[-1])) end--;
    h->name = line;
    h->name_len = (size_t)(colon - line);
    h->value = v;
    h->value_len = (size_t)(end - v);
    return SL_OK;
}

static int parse_content_length(sl_http_response_t *r, const char *v, size_t n)
{
    if (n == 0) return SL_ERR_PROTO;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(v[i])) return SL_ERR_PROTO;
        int d = v[i] - '0';
        if (x > (INT64_MAX - d) / 10) return SL_ERR_TOO_BIG;
        x = x * 10 + d;
    }
    if (r->content_length >= 0 && r->content_length != x) return SL_ERR_PROTO;
    r->content_length = x;
    return SL_OK;
}

/* Counts the codings of a Transfer-Encoding value into *chunked and *other. */
static void scan_transfer_encoding(const char *v, size_t n, int *chunked, int *other)
{
    const char *p = v, *end = v + n;
    for (;;) {
        while (p < end && (is_blank(*p) || *p == ',')) p++;
        if (p >= end) return;
        const char *tok = p;
        while (p < end && *p != ',') p++;
        const char *e = p;
        while (e > tok && is_blank(e[-1])) e--;
        if (token_is(tok, (size_t)(e - tok), "chunked")) (*chunked)++;
        else (*other)++;
    }
}

/* Finishes the body: NUL-terminates it for C-string consumers. */
static int complete(sl_http_response_t *r)
{
    int rc = sl_bytes_reserve(&r->body_buf, 1);
    if (rc != SL_OK) return rc;
    r->body_buf.data[r->body_buf.len] = '\0';
    r->body = r->body_buf.data;
    r->body_len = r->body_buf.len;
    r->state = ST_DONE;
    return SL_OK;
}

/* Chooses how the body is delimited once a head has been parsed (RFC 9112 6.3). */
static int start_body(sl_http_response_t *r)
{
    if (r->status < 200) {
        /* We never ask to switch protocols; other 1xx answers precede the real one. */
        if (r->status == 101) return SL_ERR_PROTO;
        r->head_len = 0;
        r->state = ST_HEAD;
        return SL_OK;
    }
    if (r->status == 204 || r->status == 304) return complete(r);
    if (r->chunked) {
        r->line_len = 0;
        r->state = ST_CHUNK_SIZE;
        return SL_OK;
    }
    if (r->content_length < 0) {
        r->state = ST_BODY_CLOSE;
        return SL_OK;
    }
    if ((uint64_t)r->content_length > r->max_body) return SL_ERR_TOO_BIG;
    int rc = sl_bytes_reserve(&r->body_buf, (size_t)r->content_length + 1);
    if (rc != SL_OK) return rc;
    r->remaining = (uint64_t)r->content_length;
    if (r->remaining == 0) return complete(r);
    r->state = ST_BODY_LENGTH;
    return SL_OK;
}

static int parse_head(sl_http_response_t *r)
{
    size_t pos = 0, n;
    const char *line;
    int te_chunked = 0, te_other = 0;
    bool te_seen = false;
    r->header_count = 0;
    r->content_length = -1;
    r->chunked = false;

    next_line(r->head, r->head_len, &pos, &line, &n);
    int rc = parse_status_line(r, line, n);
    if (rc != SL_OK) return rc;
    for (;;) {
        next_line(r->head, r->head_len, &pos, &line, &n);
        if (n == 0) break;
        if (r->header_count >= SL_HTTP_CLIENT_MAX_HEADERS) return SL_ERR_TOO_BIG;
        sl_http_header_t *h = &r->headers[r->header_count];
        rc = split_field(line, n, h);
        if (rc != SL_OK) return rc;
        r->header_count++;
        if (token_is(h->name, h->name_len, "Content-Length")) {
            rc = parse_content_length(r, h->value, h->value_len);
            if (rc != SL_OK) return rc;
        } else if (token_is(h->name, h->name_len, "Transfer-Encoding")) {
            te_seen = true;
            scan_transfer_encoding(h->value, h->value_len, &te_chunked, &te_other);
        }
    }
    /* We send no TE header, so anything but one "chunked" coding cannot be decoded
     * and leaves the body's end unknowable. With chunked, Content-Length is ignored
     * (RFC 9112 6.3), which is safe here: the connection is not reused. */
    if (te_seen && (te_chunked != 1 || te_other != 0)) return SL_ERR_PROTO;
    r->chunked = te_seen;
    return start_body(r);
}

static int step_head(sl_http_response_t *r, const uint8_t **p, const uint8_t *end)
{
    size_t old = r->head_len;
    size_t n = SL_MIN((size_t)(end - *p), sizeof(r->head) - old);
    memcpy(r->head + old, *p, n);
    size_t e = find_head_end(r->head, old >= 2 ? old - 2 : 0, old + n);
    if (e == 0) {
        *p += n;
        r->head_len = old + n;
        return r->head_len == sizeof(r->head) ? SL_ERR_TOO_BIG : SL_OK;
    }
    *p += e - old;
    r->head_len = e;
    return parse_head(r);
}

static int append_body(sl_http_response_t *r, const uint8_t *p, size_t n)
{
    if (n > r->max_body - r->body_buf.len) return SL_ERR_TOO_BIG;
    return sl_bytes_append(&r->body_buf, p, n);
}

/* Collects one line into r->line; 1 when it is complete (without CR LF), 0 when the
 * input ran out first. */
static int read_line(sl_http_response_t *r, const uint8_t **p, const uint8_t *end)
{
    while (*p < end) {
        uint8_t ch = *(*p)++;
        if (ch == '\n') {
            if (r->line_len > 0 && r->line[r->line_len - 1] == '\r') r->line_len--;
            return 1;
        }
        if (r->line_len == sizeof(r->line)) return SL_ERR_TOO_BIG;
        r->line[r->line_len++] = (char)ch;
    }
    return 0;
}

/* chunk-size [BWS] [; extensions]: the extensions are checked for control
 * characters and otherwise ignored. */
static int parse_chunk_size(const char *s, size_t n, uint64_t *size)
{
    size_t i = 0;
    uint64_t v = 0;
    for (; i < n && hex_value(s[i]) >= 0; i++) {
        if (v >> 60) return SL_ERR_TOO_BIG;
        v = v << 4 | (uint64_t)hex_value(s[i]);
    }
    if (i == 0) return SL_ERR_PROTO;
    while (i < n && is_blank(s[i])) i++;
    if (i < n && s[i] != ';') return SL_ERR_PROTO;
    for (; i < n; i++)
        if (!is_value_char((unsigned char)s[i])) return SL_ERR_PROTO;
    *size = v;
    return SL_OK;
}

static int on_chunk_size_line(sl_http_response_t *r)
{
    uint64_t size;
    int rc = parse_chunk_size(r->line, r->line_len, &size);
    if (rc != SL_OK) return rc;
    r->line_len = 0;
    if (size == 0) {
        r->trailer_len = 0;
        r->state = ST_TRAILER;
        return SL_OK;
    }
    if (size > r->max_body - r->body_buf.len) return SL_ERR_TOO_BIG;
    r->remaining = size;
    r->state = ST_CHUNK_DATA;
    return SL_OK;
}

/* Trailer fields are checked for syntax and dropped: hooks have no use for them. */
static int on_trailer_line(sl_http_response_t *r)
{
    if (r->line_len == 0) return complete(r);
    r->trailer_len += r->line_len + 2;
    if (r->trailer_len > SL_HTTP_CLIENT_MAX_HEAD) return SL_ERR_TOO_BIG;
    sl_http_header_t h;
    int rc = split_field(r->line, r->line_len, &h);
    r->line_len = 0;
    return rc;
}

static int step_line_state(sl_http_response_t *r, const uint8_t **p, const uint8_t *end)
{
    int got = read_line(r, p, end);
    if (got <= 0) return got;
    switch (r->state) {
    case ST_CHUNK_SIZE: return on_chunk_size_line(r);
    case ST_CHUNK_END:
        if (r->line_len != 0) return SL_ERR_PROTO;
        r->state = ST_CHUNK_SIZE;
        return SL_OK;
    default: return on_trailer_line(r);
    }
}

/* Moves up to `remaining` bytes into the body (Content-Length body or chunk data). */
static int step_counted(sl_http_response_t *r, const uint8_t **p, const uint8_t *end)
{
    size_t n = (size_t)SL_MIN((uint64_t)(end - *p), r->remaining);
    int rc = append_body(r, *p, n);
    if (rc != SL_OK) return rc;
    *p += n;
    r->remaining -= n;
    if (r->remaining > 0) return SL_OK;
    if (r->state == ST_BODY_LENGTH) return complete(r);
    r->line_len = 0;
    r->state = ST_CHUNK_END;
    return SL_OK;
}

/* Consumes some of [*p, end) in the current state. */
static int step(sl_http_response_t *r, const uint8_t **p, const uint8_t *end)
{
    switch (r->state) {
    case ST_HEAD: return step_head(r, p, end);
    case ST_BODY_LENGTH:
    case ST_CHUNK_DATA: return step_counted(r, p, end);
    case ST_BODY_CLOSE: {
        int rc = append_body(r, *p, (size_t)(end - *p));
        if (rc == SL_OK) *p = end;
        return rc;
    }
    default: return step_line_state(r, p, end);
    }
}

int sl_http_response_feed(sl_http_response_t *r, const void *data, size_t len, size_t *used)
{
    const uint8_t *start = data, *p = start, *end = len > 0 ? start + len : start;
    int rc = SL_OK;
    if (used) *used = 0;
    if (r->err) return r->err;
    while (r->state != ST_DONE) {
        if (p == end) {
            rc = SL_ERR_AGAIN;
            break;
        }
        rc = step(r, &p, end);
        if (rc != SL_OK) {
            r->err = rc;
            break;
        }
    }
    if (used) *used = (size_t)(p - start);
    return rc;
}

int sl_http_response_eof(sl_http_response_t *r)
{
    if (r->err) return r->err;
    if (r->state == ST_DONE) return SL_OK;
    int rc = r->state == ST_BODY_CLOSE ? complete(r) : SL_ERR_PROTO;
    if (rc != SL_OK) r->err = rc;
    return rc;
}

const char *sl_http_response_header(const sl_http_response_t *r, const char *name, size_t *len)
{
    for (int i = 0; i < r->header_count; i++) {
        const sl_http_header_t *h = &r->headers[i];
        if (token_is(h->name, h->name_len, name)) {
            if (len) *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

/* ---- Client ------------------------------------------------------------------ */

#define MAX_ADDRS 8
#define READ_SIZE 16384

struct sl_http_client_req {
    uv_loop_t *loop;
    uv_timer_t timer; /* first a zero tick that starts the work, then the deadline */
    uv_tcp_t tcp;
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_write_t write;
    sl_http_client_cb cb;
    void *arg;
    uint32_t timeout_ms;
    uint64_t posted_at;
    /* One for the unfinished request, one per open handle, one for a resolution
     * in the thread pool; the last one frees. */
    unsigned refs;
    bool started, finished, tcp_open, resolving;
    int last_uv_err; /* the latest connect failure, for the log line */
    int naddrs, next_addr;
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t received;
    sl_http_url_t url;
    char authority[SL_HTTP_URL_MAX_HOST + 9]; /* the Host header: "[::1]:8080", "example.com" */
    sl_bytes_t out;
    sl_http_response_t resp;
    char rbuf[READ_SIZE];
};

static void req_unref(sl_http_client_req_t *r)
{
    if (--r->refs > 0) return;
    sl_bytes_free(&r->out);
    sl_http_response_free(&r->resp);
    free(r);
}

static void on_handle_closed(uv_handle_t *h) { req_unref(h->data); }

/* Ends the request with its outcome: closes what is open, calls the user once, and
 * drops the request's own reference (the close callbacks drop the rest). */
static void finish(sl_http_client_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(sl_http_client_req_t *r, int status, const char *fmt, ...)
{
    if (r->finished) return;
    r->finished = true;
    uv_close((uv_handle_t *)&r->timer, on_handle_closed);
    if (r->tcp_open && !uv_is_closing((uv_handle_t *)&r->tcp))
        uv_close((uv_handle_t *)&r->tcp, on_handle_closed);
    /* A resolution that already runs cannot be stopped; its callback drops its
     * reference whenever it comes. */
    if (r->resolving) (void)uv_cancel((uv_req_t *)&r->gai);

    if (status < 0 && status != SL_ERR_CLOSED) {
        char cause[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cause, sizeof(cause), fmt, ap);
        va_end(ap);
        SL_WARN("http client: POST http://%s%s: %s", r->authority, r->url.target, cause);
    } else if (status > 0) {
        SL_DEBUG("http client: POST http://%s%s: %d in %llu ms", r->authority, r->url.target, status,
                 (unsigned long long)(uv_now(r->loop) - r->posted_at));
    }
    if (status > 0) r->cb(r->arg, status, r->resp.body, r->resp.body_len);
    else r->cb(r->arg, status, NULL, 0);
    req_unref(r);
}

static void connect_next(sl_http_client_req_t *r);

/* A failed connection attempt's handle is closed; try the next address. */
static void on_attempt_closed(uv_handle_t *h)
{
    sl_http_client_req_t *r = h->data;
    r->tcp_open = false;
    if (!r->finished) connect_next(r);
    req_unref(r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sl_http_client_req_t *r = h->data;
    *buf = uv_buf_init(r->rbuf, sizeof(r->rbuf));
}

static const char *parse_failure(int rc)
{
    switch (rc) {
    case SL_ERR_TOO_BIG: return "the answer is over the size limits";
    case SL_ERR_NOMEM: return "out of memory";
    default: return "malformed answer";
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    sl_http_client_req_t *r = s->data;
    if (r->finished || nread == 0) return;
    if (nread > 0) {
        r->received += (size_t)nread;
        int rc = sl_http_response_feed(&r->resp, buf->base, (size_t)nread, NULL);
        if (rc == SL_OK) finish(r, r->resp.status, "answered");
        else if (rc != SL_ERR_AGAIN) finish(r, rc, "%s", parse_failure(rc));
        return;
    }
    if (nread != UV_EOF) {
        finish(r, SL_ERR_IO, "connection lost: %s", uv_strerror((int)nread));
    } else if (r->received == 0) {
        finish(r, SL_ERR_IO, "the server closed the connection without answering");
    } else {
        int rc = sl_http_response_eof(&r->resp);
        if (rc == SL_OK) finish(r, r->resp.status, "answered");
        else finish(r, rc, "%s", rc == SL_ERR_PROTO ? "the answer was cut short" : parse_failure(rc));
    }
}

static void on_written(uv_write_t *w, int status)
{
    sl_http_client_req_t *r = w->handle->data;
    /* A server may answer (403) and close before reading all of a request: once an
     * answer has started, the read side decides. */
    if (r->finished || status == 0 || r->received > 0) return;
    finish(r, SL_ERR_IO, "cannot send the request: %s", uv_strerror(status));
}

static void on_connected(uv_connect_t *c, int status)
{
    sl_http_client_req_t *r = c->handle->data;
    if (r->finished) return;
    if (status < 0) {
        r->last_uv_err = status;
        uv_close((uv_handle_t *)&r->tcp, on_attempt_closed);
        return;
    }
    /* Small request, small answer: do not let Nagle hold either back. */
    (void)uv_tcp_nodelay(&r->tcp, 1);
    uv_buf_t b = uv_buf_init((char *)r->out.data, (unsigned)r->out.len);
    int e = uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read);
    if (e == 0) e = uv_write(&r->write, (uv_stream_t *)&r->tcp, &b, 1, on_written);
    if (e != 0) finish(r, SL_ERR_IO, "cannot send the request: %s", uv_strerror(e));
}

/* Starts a connection to the next address, or fails when none is left. */
static void connect_next(sl_http_client_req_t *r)
{
    while (r->next_addr < r->naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[r->next_addr++];
        int e = uv_tcp_init(r->loop, &r->tcp);
        if (e != 0) {
            r->last_uv_err = e;
            continue;
        }
        r->tcp.data = r;
        r->tcp_open = true;
        r->refs++;
        e = uv_tcp_connect(&r->connect, &r->tcp, sa, on_connected);
        if (e == 0) return;
        r->last_uv_err = e;
        uv_close((uv_handle_t *)&r->tcp, on_attempt_closed);
        return;
    }
    if (r->last_uv_err != 0)
        finish(r, SL_ERR_IO, "cannot connect: %s", uv_strerror(r->last_uv_err));
    else
        finish(r, SL_ERR_IO, "the host name has no IPv4 or IPv6 address");
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    sl_http_client_req_t *r = g->data;
    r->resolving = false;
    if (!r->finished && status < 0) {
        finish(r, SL_ERR_IO, "cannot resolve %s: %s", r->url.host, uv_strerror(status));
    } else if (!r->finished) {
        for (const struct addrinfo *ai = res; ai != NULL && r->naddrs < MAX_ADDRS; ai = ai->ai_next) {
            if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                ai->ai_addrlen > sizeof(r->addrs[0]))
                continue;
            memcpy(&r->addrs[r->naddrs++], ai->ai_addr, ai->ai_addrlen);
        }
        connect_next(r);
    }
    uv_freeaddrinfo(res);
    req_unref(r);
}

/* Resolves the host (a literal needs no resolver) and starts connecting. */
static void begin(sl_http_client_req_t *r)
{
    if (r->url.family == AF_INET || r->url.family == AF_INET6) {
        int e = r->url.family == AF_INET
                    ? uv_ip4_addr(r->url.host, r->url.port, (struct sockaddr_in *)&r->addrs[0])
                    : uv_ip6_addr(r->url.host, r->url.port, (struct sockaddr_in6 *)&r->addrs[0]);
        if (e != 0) {
            finish(r, SL_ERR_IO, "bad address %s: %s", r->url.host, uv_strerror(e));
            return;
        }
        r->naddrs = 1;
        connect_next(r);
        return;
    }
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)r->url.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV;
    r->gai.data = r;
    int e = uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->url.host, service, &hints);
    if (e != 0) {
        finish(r, SL_ERR_IO, "cannot resolve %s: %s", r->url.host, uv_strerror(e));
        return;
    }
    r->resolving = true;
    r->refs++;
}

static void on_timer(uv_timer_t *t)
{
    sl_http_client_req_t *r = t->data;
    if (r->started) {
        finish(r, SL_ERR_TIMEOUT, "no complete answer within %u ms", r->timeout_ms);
        return;
    }
    /* The first tick: the deadline counts from sl_http_post. */
    r->started = true;
    uint64_t spent = uv_now(r->loop) - r->posted_at;
    uint64_t left = spent < r->timeout_ms ? r->timeout_ms - spent : 0;
    if (uv_timer_start(&r->timer, on_timer, left, 0) != 0) {
        finish(r, SL_ERR_IO, "cannot start the timer");
        return;
    }
    begin(r);
}

static int put_str(sl_bytes_t *v, const char *s) { return sl_bytes_append(v, s, strlen(s)); }

static int build_request(sl_http_client_req_t *r, const char *content_type, const void *body, size_t len)
{
    char length[32];
    snprintf(length, sizeof(length), "%zu", len);
    const char *parts[] = {
        "POST ", r->url.target, " HTTP/1.1\r\nHost: ", r->authority,
        "\r\nContent-Type: ", content_type, "\r\nContent-Length: ", length,
        "\r\nConnection: close\r\nUser-Agent: sluice/" SLUICE_VERSION "\r\n\r\n",
    };
    int rc = sl_bytes_reserve(&r->out, 256 + strlen(r->url.target) + strlen(content_type) + len);
    for (size_t i = 0; rc == SL_OK && i < SL_ARRAY_SIZE(parts); i++) rc = put_str(&r->out, parts[i]);
    if (rc == SL_OK && len > 0) rc = sl_bytes_append(&r->out, body, len);
    return rc;
}

static void format_authority(sl_http_client_req_t *r)
{
    const char *open = r->url.family == AF_INET6 ? "[" : "";
    const char *close = r->url.family == AF_INET6 ? "]" : "";
    if (r->url.port == 80)
        snprintf(r->authority, sizeof(r->authority), "%s%s%s", open, r->url.host, close);
    else
        snprintf(r->authority, sizeof(r->authority), "%s%s%s:%u", open, r->url.host, close,
                 (unsigned)r->url.port);
}

static bool valid_content_type(const char *s)
{
    if (*s == '\0') return false;
    for (; *s; s++)
        if (!is_value_char((unsigned char)*s)) return false;
    return true;
}

int sl_http_post(uv_loop_t *loop, const char *url, const char *content_type, const void *body,
                 size_t len, uint32_t timeout_ms, sl_http_client_cb cb, void *arg,
                 sl_http_client_req_t **out)
{
    if (out) *out = NULL;
    if (content_type == NULL) content_type = "application/json";
    if (!valid_content_type(content_type)) return SL_ERR_CONFIG;
    sl_http_client_req_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    sl_bytes_init(&r->out);
    sl_http_response_init(&r->resp, SL_HTTP_CLIENT_MAX_BODY);
    int rc = sl_http_url_parse(&r->url, url, NULL);
    if (rc != SL_OK) goto fail;
    format_authority(r);
    rc = build_request(r, content_type, body, len);
    if (rc != SL_OK) goto fail;

    r->loop = loop;
    r->cb = cb;
    r->arg = arg;
    r->timeout_ms = timeout_ms ? timeout_ms : SL_HTTP_CLIENT_DEFAULT_TIMEOUT_MS;
    r->posted_at = uv_now(loop);
    if (uv_timer_init(loop, &r->timer) != 0) {
        rc = SL_ERR_IO;
        goto fail;
    }
    r->timer.data = r;
    r->refs = 2; /* the unfinished request and the timer */
    /* The work starts on the next loop turn, so that every outcome, even an
     * immediate one, reaches cb from the loop and never from inside this call. */
    if (uv_timer_start(&r->timer, on_timer, 0, 0) != 0) {
        r->refs = 1;
        uv_close((uv_handle_t *)&r->timer, on_handle_closed);
        return SL_ERR_IO;
    }
    if (out) *out = r;
    return SL_OK;

fail:
    sl_bytes_free(&r->out);
    sl_http_response_free(&r->resp);
    free(r);
    return rc;
}

void sl_http_client_cancel(sl_http_client_req_t *r)
{
    if (r == NULL || r->finished) return;
    finish(r, SL_ERR_CLOSED, "cancelled");
}
