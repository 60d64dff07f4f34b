/* Feeds arbitrary bytes to the HTTP client's response parser three ways (all at
 * once, in pieces whose sizes come from the input, one byte at a time) and requires
 * the same outcome from each: same code, status, headers, body and bytes used.
 * A complete response must have its slices inside the parser's head, a body within
 * the limit and NUL-terminated. The input is also parsed as a URL, whose accepted
 * host and target must be free of anything that could break a request line.
 * The first byte picks the body limit, so small inputs reach the size checks. */
#include <stdlib.h>
#include <string.h>

#include "sluice/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    int rc;
    size_t used;
    int status, version_minor, header_count;
    int64_t content_length;
    size_t body_len;
    uint64_t body_sum;
} outcome_t;

static void check_slice(const sl_http_response_t *r, const char *p, size_t n)
{
    if (n > 0 && (p < r->head || p + n > r->head + r->head_len)) abort();
    if (memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL) abort();
}

static void check_complete(const sl_http_response_t *r, size_t max_body)
{
    if (r->status < 200 || r->status > 599 || (r->version_minor != 0 && r->version_minor != 1)) abort();
    if (r->header_count < 0 || r->header_count > SL_HTTP_CLIENT_MAX_HEADERS) abort();
    check_slice(r, r->reason, r->reason_len);
    for (int i = 0; i < r->header_count; i++) {
        if (r->headers[i].name_len == 0) abort();
        check_slice(r, r->headers[i].name, r->headers[i].name_len);
        check_slice(r, r->headers[i].value, r->headers[i].value_len);
    }
    if (r->body == NULL || r->body_len > max_body || r->body[r->body_len] != '\0') abort();
    if (!r->chunked && r->content_length >= 0 && r->status != 204 && r->status != 304 &&
        (uint64_t)r->content_length != r->body_len)
        abort();
}

static void finish(sl_http_response_t *r, int rc, size_t used, size_t max_body, outcome_t *o)
{
    if (rc == SL_ERR_AGAIN) rc = sl_http_response_eof(r);
    if (rc != SL_OK && rc != SL_ERR_PROTO && rc != SL_ERR_TOO_BIG && rc != SL_ERR_NOMEM) abort();
    memset(o, 0, sizeof(*o));
    o->rc = rc;
    if (rc != SL_OK) return;
    check_complete(r, max_body);
    o->used = used;
    o->status = r->status;
    o->version_minor = r->version_minor;
    o->header_count = r->header_count;
    o->content_length = r->content_length;
    o->body_len = r->body_len;
    for (size_t i = 0; i < r->body_len; i++) o->body_sum = o->body_sum * 31 + r->body[i];
}

/* Feeds data in pieces: sizes cycle through `sizes` (each 1..256), or one byte at a
 * time when sizes is NULL. */
static void feed(sl_http_response_t *r, const uint8_t *data, size_t size, size_t max_body,
                 const uint8_t *sizes, size_t nsizes, outcome_t *o)
{
    sl_http_response_init(r, max_body);
    size_t pos = 0, total = 0, k = 0;
    int rc = SL_ERR_AGAIN;
    while (rc == SL_ERR_AGAIN && pos < size) {
        size_t n = sizes ? (size_t)sizes[k++ % nsizes] + 1 : 1;
        n = SL_MIN(n, size - pos);
        size_t used = 0;
        rc = sl_http_response_feed(r, data + pos, n, &used);
        if (used > n) abort();
        if (rc == SL_ERR_AGAIN && used != n) abort();
        total += used;
        pos += n;
    }
    finish(r, rc, total, max_body, o);
    sl_http_response_free(r);
}

static void check_url(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) return;
    memcpy(s, data, size);
    s[size] = '\0';
    sl_http_url_t u;
    const char *why = NULL;
    int rc = sl_http_url_parse(&u, s, &why);
    if (rc == SL_OK) {
        if (why != NULL || u.host[0] == '\0' || u.target[0] != '/' || u.port == 0) abort();
        for (const char *p = u.host; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '/') abort();
        for (const char *p = u.target; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#') abort();
    } else if ((rc != SL_ERR_CONFIG && rc != SL_ERR_UNSUPPORTED) || why == NULL) {
        abort();
    }
    free(s);
}

static sl_http_response_t resp;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_url(data, size);
    if (size == 0) return 0;
    size_t max_body = data[0] < 128 ? SL_HTTP_CLIENT_MAX_BODY : (size_t)data[0] - 127;

    /* An exact-size copy, so any read past the end is caught. */
    uint8_t *buf = malloc(size);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);

    outcome_t whole, pieces, bytes;
    sl_http_response_init(&resp, max_body);
    size_t used = 0;
    int rc = sl_http_response_feed(&resp, buf, size, &used);
    finish(&resp, rc, used, max_body, &whole);
    sl_http_response_free(&resp);

    feed(&resp, buf, size, max_body, buf, SL_MIN(size, (size_t)16), &pieces);
    feed(&resp, buf, size, max_body, NULL, 0, &bytes);
    if (memcmp(&whole, &pieces, sizeof(whole)) != 0 || memcmp(&whole, &bytes, sizeof(whole)) != 0) abort();
    free(buf);
    return 0;
}
