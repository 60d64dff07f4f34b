#include "protocols/relay/url.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longer input is refused before anything is scanned twice. */
#define URL_MAX_LEN 4096
/* A DNS name is at most 253 characters; an IPv6 literal at most 45. */
#define NAME_MAX_LEN 253
#define IPV6_MAX_LEN 45

/* The parts of "scheme://[userinfo@]host[:port]", as slices of the input. */
typedef struct authority {
    const char *userinfo; /* NULL without a '@' */
    size_t userinfo_len;
    const char *host; /* without brackets */
    size_t host_len;
    const char *hostport; /* host and port as written, brackets kept */
    size_t hostport_len;
    bool ipv6;
    uint16_t port;
} authority_t;

static bool refused_byte(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '\\' || c == '#'; }

/* The length of url, or SL_ERR_TOO_BIG / SL_ERR_PROTO (a refused byte). */
static int check_bytes(const char *url, size_t *len)
{
    size_t n = strnlen(url, URL_MAX_LEN + 1);
    if (n > URL_MAX_LEN) return SL_ERR_TOO_BIG;
    for (size_t i = 0; i < n; i++)
        if (refused_byte((unsigned char)url[i])) return SL_ERR_PROTO;
    *len = n;
    return SL_OK;
}

/* Checks the scheme ("rtmp://"); another scheme is unsupported, no scheme malformed. */
static int check_scheme(const char *url, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len >= n && strncasecmp(url, prefix, n) == 0) return SL_OK;
    return strstr(url, "://") != NULL ? SL_ERR_UNSUPPORTED : SL_ERR_PROTO;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) return SL_ERR_TOO_BIG;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return SL_OK;
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(set, s[i]) == NULL) return false;
    return true;
}

#define DIGITS "0123456789"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "-_."

/* inet_pton needs a NUL-terminated copy. */
static bool is_address(int family, const char *s, size_t n)
{
    char buf[IPV6_MAX_LEN + 1];
    unsigned char addr[16];
    if (n == 0 || n > IPV6_MAX_LEN) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(family, buf, addr) == 1;
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN || !all_of(s, n, NAME_CHARS)) return false;
    /* Only digits and dots is an IPv4 address or nothing: "999.1.1.1" is no name. */
    return !all_of(s, n, DIGITS ".") || is_address(AF_INET, s, n);
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5 || !all_of(s, n, DIGITS)) return SL_ERR_PROTO;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (unsigned)(s[i] - '0');
    if (v == 0 || v > UINT16_MAX) return SL_ERR_PROTO;
    *port = (uint16_t)v;
    return SL_OK;
}

/* Splits s[0..n) = "[userinfo@]host[:port]". */
static int parse_authority(const char *s, size_t n, uint16_t default_port, authority_t *a)
{
    memset(a, 0, sizeof(*a));
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] != '@') continue;
        a->userinfo = s;
        a->userinfo_len = i - 1;
        s += i;
        n -= i;
        break;
    }
    a->hostport = s;
    a->hostport_len = n;
    const char *port = NULL;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) return SL_ERR_PROTO;
        a->host = s + 1;
        a->host_len = (size_t)(close - s) - 1;
        a->ipv6 = true;
        if (!is_address(AF_INET6, a->host, a->host_len)) return SL_ERR_PROTO;
        size_t rest = n - (size_t)(close + 1 - s);
        if (rest > 0 && close[1] != ':') return SL_ERR_PROTO;
        if (rest > 0) port = close + 2;
    } else {
        const char *colon = memchr(s, ':', n);
        a->host = s;
        a->host_len = colon != NULL ? (size_t)(colon - s) : n;
        if (!valid_name(a->host, a->host_len)) return SL_ERR_PROTO;
        if (colon != NULL) port = colon + 1;
    }
    a->port = default_port;
    return port != NULL ? parse_port(port, (size_t)(s + n - port), &a->port) : SL_OK;
}

/* "scheme://" then the authority up to the first '/' (or the end): fills *a and
 * points *path at what follows (the '/' or the end). */
static int split_url(const char *url, size_t len, const char *scheme, uint16_t default_port,
                     authority_t *a, const char **path)
{
    int rc = check_scheme(url, len, scheme);
    if (rc != SL_OK) return rc;
    const char *start = url + strlen(scheme), *end = url + len;
    const char *slash = memchr(start, '/', (size_t)(end - start));
    *path = slash != NULL ? slash : end;
    return parse_authority(start, (size_t)(*path - start), default_port, a);
}

/* "host" or "[host]", then ":port" when with_port. */
static int write_host(char *dst, size_t cap, const authority_t *a, bool with_port, const char *scheme)
{
    const char *open = a->ipv6 ? "[" : "", *close = a->ipv6 ? "]" : "";
    int n = with_port ? snprintf(dst, cap, "%s%s%.*s%s:%u", scheme, open, (int)a->host_len, a->host, close, a->port)
                      : snprintf(dst, cap, "%s%.*s", scheme, (int)a->hostport_len, a->hostport);
    return n < 0 || (size_t)n >= cap ? SL_ERR_TOO_BIG : SL_OK;
}

/* Splits the path after "rtmp://host[:port]/" into app and name, at the last '/'
 * before the query, so a '/' inside the query stays in the name. */
static int split_app_name(const char *path, size_t n, sl_rtmp_url_t *out)
{
    const char *q = memchr(path, '?', n);
    size_t before_query = q != NULL ? (size_t)(q - path) : n;
    const char *slash = NULL;
    for (size_t i = before_query; i > 0; i--) {
        if (path[i - 1] == '/') {
            slash = path + i - 1;
            break;
        }
    }
    size_t app_len = slash != NULL ? (size_t)(slash - path) : n;
    if (app_len == 0) return SL_ERR_PROTO;
    int rc = copy_part(out->app, sizeof(out->app), path, app_len);
    if (rc != SL_OK || slash == NULL) return rc;
    return copy_part(out->name, sizeof(out->name), slash + 1, (size_t)(path + n - slash - 1));
}

static int rtmp_parse(const char *url, sl_rtmp_url_t *out)
{
    size_t len;
    int rc = check_bytes(url, &len);
    if (rc != SL_OK) return rc;
    authority_t a;
    const char *path;
    rc = split_url(url, len, "rtmp://", SL_RTMP_DEFAULT_PORT, &a, &path);
    if (rc != SL_OK) return rc;
    if (a.userinfo != NULL || *path != '/') return SL_ERR_PROTO;
    rc = copy_part(out->host, sizeof(out->host), a.host, a.host_len);
    if (rc != SL_OK) return rc;
    out->port = a.port;
    rc = split_app_name(path + 1, (size_t)(url + len - path - 1), out);
    if (rc != SL_OK) return rc;
    char hostport[SL_URL_TC_URL_MAX];
    rc = write_host(hostport, sizeof(hostport), &a, true, "rtmp://");
    if (rc != SL_OK) return rc;
    int n = snprintf(out->tc_url, sizeof(out->tc_url), "%s/%s", hostport, out->app);
    return n < 0 || (size_t)n >= sizeof(out->tc_url) ? SL_ERR_TOO_BIG : SL_OK;
}

int sl_rtmp_url_parse(const char *url, sl_rtmp_url_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rtmp_parse(url, out);
    if (rc != SL_OK) memset(out, 0, sizeof(*out));
    return rc;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into dst. A decoded NUL could not be passed on as a C
 * string, so it is refused like a broken escape. */
static int decode_part(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3) return SL_ERR_PROTO;
            int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
            if (h < 0 || l < 0 || (h | l) == 0) return SL_ERR_PROTO;
            c = h << 4 | l;
            i += 2;
        }
        if (o + 1 >= cap) return SL_ERR_TOO_BIG;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return SL_OK;
}

static int decode_userinfo(const authority_t *a, sl_rtsp_url_t *out)
{
    if (a->userinfo == NULL) return SL_OK;
    const char *colon = memchr(a->userinfo, ':', a->userinfo_len);
    size_t user_len = colon != NULL ? (size_t)(colon - a->userinfo) : a->userinfo_len;
    int rc = decode_part(out->user, sizeof(out->user), a->userinfo, user_len);
    if (rc != SL_OK || colon == NULL) return rc;
    return decode_part(out->pass, sizeof(out->pass), colon + 1, a->userinfo_len - user_len - 1);
}

static int rtsp_parse(const char *url, sl_rtsp_url_t *out)
{
    size_t len;
    int rc = check_bytes(url, &len);
    if (rc != SL_OK) return rc;
    authority_t a;
    const char *path;
    rc = split_url(url, len, "rtsp://", SL_RTSP_DEFAULT_PORT, &a, &path);
    if (rc == SL_OK) rc = decode_userinfo(&a, out);
    if (rc == SL_OK) rc = copy_part(out->host, sizeof(out->host), a.host, a.host_len);
    if (rc != SL_OK) return rc;
    out->port = a.port;
    size_t path_len = (size_t)(url + len - path);
    rc = path_len > 0 ? copy_part(out->path, sizeof(out->path), path, path_len)
                      : copy_part(out->path, sizeof(out->path), "/", 1);
    if (rc != SL_OK) return rc;
    char hostport[SL_URL_REQUEST_MAX];
    rc = write_host(hostport, sizeof(hostport), &a, false, "rtsp://");
    if (rc != SL_OK) return rc;
    int n = snprintf(out->request_url, sizeof(out->request_url), "%s%s", hostport, out->path);
    return n < 0 || (size_t)n >= sizeof(out->request_url) ? SL_ERR_TOO_BIG : SL_OK;
}

int sl_rtsp_url_parse(const char *url, sl_rtsp_url_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rtsp_parse(url, out);
    if (rc != SL_OK) memset(out, 0, sizeof(*out));
    return rc;
}
