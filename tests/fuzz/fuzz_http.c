/* Parses arbitrary bytes as request heads, as the HTTP server and RTSP do: each
 * accepted head must lie inside the input and within max_head, its slices inside
 * the head, its strings within their arrays, and re-parsing exactly the head must
 * give the same length (the server parses a head twice when its body comes later)
 * while any shorter prefix must ask for more bytes. Pipelined heads that follow are
 * parsed too. */
#include <stdlib.h>
#include <string.h>

#include "sluice/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_http_request_t req, again;

static void check_slice(const char *p, size_t n, const char *head, size_t head_len)
{
    if (p < head || p + n > head + head_len) abort();
    if (memchr(p, '\r', n) != NULL || memchr(p, '\n', n) != NULL) abort();
}

static void check_request(const char *buf, size_t len, size_t max_head, int n)
{
    if ((size_t)n > len || (size_t)n > max_head) abort();
    size_t mlen = strnlen(req.method, sizeof(req.method));
    if (mlen == 0 || mlen >= sizeof(req.method)) abort();
    if (strnlen(req.path, SL_HTTP_MAX_PATH) >= SL_HTTP_MAX_PATH || req.path[0] == '\0') abort();
    if (strnlen(req.query, SL_HTTP_MAX_PATH) >= SL_HTTP_MAX_PATH) abort();
    if (req.version_major < 0 || req.version_major > 9 || req.version_minor < 0 || req.version_minor > 9)
        abort();
    if (req.header_count < 0 || req.header_count > SL_HTTP_MAX_HEADERS) abort();
    if (req.content_length < -1) abort();
    for (int i = 0; i < req.header_count; i++) {
        const sl_http_header_t *h = &req.headers[i];
        if (h->name_len == 0) abort();
        check_slice(h->name, h->name_len, buf, (size_t)n);
        check_slice(h->value, h->value_len, buf, (size_t)n);
        size_t vlen;
        if (sl_http_header_get(&req, "content-length", &vlen) == NULL && req.content_length != -1) abort();
    }
    if (req.body != NULL || req.body_len != 0) abort();
}

/* Parses buf and the heads pipelined behind it; returns after the first failure. */
static void parse_all(const char *proto, const char *buf, size_t len, size_t max_head)
{
    for (int round = 0; round < 4 && len > 0; round++) {
        int n = sl_http_parse_request(&req, proto, buf, len, max_head);
        if (n < 0) {
            if (n != SL_ERR_AGAIN && n != SL_ERR_PROTO && n != SL_ERR_TOO_BIG) abort();
            if (n == SL_ERR_AGAIN && len >= max_head) abort();
            return;
        }
        if (n == 0) abort();
        check_request(buf, len, max_head, n);
        if (sl_http_parse_request(&again, proto, buf, (size_t)n, max_head) != n) abort();
        if (strcmp(again.path, req.path) != 0 || again.header_count != req.header_count ||
            again.content_length != req.content_length || again.keep_alive != req.keep_alive)
            abort();
        if (sl_http_parse_request(&again, proto, buf, (size_t)n - 1, max_head) != SL_ERR_AGAIN) abort();
        buf += n;
        len -= (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    parse_all("HTTP", buf, size, 16384);
    parse_all("RTSP", buf, size, 16384);
    /* A small limit reaches the size checks with small inputs. */
    if (size > 0) parse_all("HTTP", buf, size, (size_t)(unsigned char)buf[0] + 1);
    free(buf);
    return 0;
}
