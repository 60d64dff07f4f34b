/* RTSP framing: pipelined requests, a request split at every byte, '$' interleaved
 * packets between requests, Content-Length bodies, and the errors the server turns
 * into 400/413 (malformed head, head or body over the limit, chunked bodies). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/rtsp/framing.h"

#define MAX_HEAD 4096
#define MAX_BODY 1024

static const char OPTIONS[] = "OPTIONS rtsp://127.0.0.1:8554/live/cam RTSP/1.0\r\n"
                              "CSeq: 1\r\n"
                              "User-Agent: test\r\n"
                              "\r\n";
static const char DESCRIBE[] = "DESCRIBE rtsp://127.0.0.1:8554/live/cam RTSP/1.0\r\n"
                               "CSeq: 2\r\n"
                               "Accept: application/sdp\r\n"
                               "\r\n";
static const char SDP[] = "v=0\r\n"
                          "o=- 0 0 IN IP4 127.0.0.1\r\n"
                          "s=No Name\r\n"
                          "t=0 0\r\n"
                          "m=video 0 RTP/AVP 96\r\n"
                          "a=rtpmap:96 H264/90000\r\n"
                          "a=control:streamid=0\r\n";

/* The CSeq value of a parsed request as a string (they are short). */
static const char *cseq(const sl_rtsp_unit_t *u)
{
    static char v[32];
    size_t n = 0;
    const char *p = sl_http_header_get(&u->req, "CSeq", &n);
    assert_non_null(p);
    assert_true(n < sizeof(v));
    memcpy(v, p, n);
    v[n] = '\0';
    return v;
}

/* An exact-size heap copy, so ASan catches a read past the end. */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, p, n);
    return b;
}

static void test_empty_needs_more(void **state)
{
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)"", 0, MAX_HEAD, MAX_BODY, &u), 0);
}

static void test_pipelined_requests(void **state)
{
    size_t a = strlen(OPTIONS), b = strlen(DESCRIBE);
    uint8_t *buf = malloc(a + b);
    assert_non_null(buf);
    memcpy(buf, OPTIONS, a);
    memcpy(buf + a, DESCRIBE, b);
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit(buf, a + b, MAX_HEAD, MAX_BODY, &u), (int)a);
    assert_false(u.is_data);
    assert_string_equal(u.req.method, "OPTIONS");
    assert_string_equal(u.req.path, "rtsp://127.0.0.1:8554/live/cam");
    assert_int_equal(u.req.version_major, 1);
    assert_int_equal(u.req.version_minor, 0);
    assert_string_equal(cseq(&u), "1");
    assert_int_equal(u.req.body_len, 0);
    assert_int_equal(sl_rtsp_next_unit(buf + a, b, MAX_HEAD, MAX_BODY, &u), (int)b);
    assert_false(u.is_data);
    assert_string_equal(u.req.method, "DESCRIBE");
    assert_string_equal(cseq(&u), "2");
    free(buf);
}

/* Every proper prefix of a request is incomplete (0), never an error; the whole of
 * it is one unit. */
static void test_split_at_every_byte(void **state)
{
    size_t n = strlen(DESCRIBE);
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = dup_bytes(DESCRIBE, i);
        sl_rtsp_unit_t u;
        int rc = sl_rtsp_next_unit(buf, i, MAX_HEAD, MAX_BODY, &u);
        free(buf);
        if (rc != 0) fail_msg("prefix of %zu bytes gave %d", i, rc);
    }
    uint8_t *buf = dup_bytes(DESCRIBE, n);
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit(buf, n, MAX_HEAD, MAX_BODY, &u), (int)n);
    assert_string_equal(u.req.method, "DESCRIBE");
    free(buf);
}

static size_t put_packet(uint8_t *p, uint8_t channel, const uint8_t *data, uint16_t len)
{
    p[0] = '$';
    p[1] = channel;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    if (len > 0) memcpy(p + 4, data, len);
    return 4 + (size_t)len;
}

/* A '$' packet, a request, then two '$' packets, one of them empty, in one buffer. */
static void test_interleaved_between_requests(void **state)
{
    uint8_t rtp[300], rtcp[8] = {0x81, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof(rtp); i++) rtp[i] = (uint8_t)(i * 7);
    rtp[0] = '$'; /* payload bytes that look like a header must not confuse it */
    size_t req = strlen(OPTIONS);
    uint8_t *buf = malloc(4 + sizeof(rtp) + req + 4 + sizeof(rtcp) + 4);
    assert_non_null(buf);
    size_t len = put_packet(buf, 0, rtp, sizeof(rtp));
    memcpy(buf + len, OPTIONS, req);
    len += req;
    len += put_packet(buf + len, 1, rtcp, sizeof(rtcp));
    len += put_packet(buf + len, 3, NULL, 0);

    sl_rtsp_unit_t u;
    size_t pos = 0;
    int n = sl_rtsp_next_unit(buf + pos, len - pos, MAX_HEAD, MAX_BODY, &u);
    assert_int_equal(n, 4 + sizeof(rtp));
    assert_true(u.is_data);
    assert_int_equal(u.channel, 0);
    assert_ptr_equal(u.data, buf + 4);
    assert_int_equal(u.len, sizeof(rtp));
    assert_memory_equal(u.data, rtp, sizeof(rtp));
    pos += (size_t)n;

    n = sl_rtsp_next_unit(buf + pos, len - pos, MAX_HEAD, MAX_BODY, &u);
    assert_int_equal(n, req);
    assert_false(u.is_data);
    assert_string_equal(u.req.method, "OPTIONS");
    pos += (size_t)n;

    n = sl_rtsp_next_unit(buf + pos, len - pos, MAX_HEAD, MAX_BODY, &u);
    assert_int_equal(n, 4 + sizeof(rtcp));
    assert_true(u.is_data);
    assert_int_equal(u.channel, 1);
    assert_ptr_equal(u.data, buf + pos + 4);
    assert_int_equal(u.len, sizeof(rtcp));
    assert_memory_equal(u.data, rtcp, sizeof(rtcp));
    pos += (size_t)n;

    n = sl_rtsp_next_unit(buf + pos, len - pos, MAX_HEAD, MAX_BODY, &u);
    assert_int_equal(n, 4);
    assert_true(u.is_data);
    assert_int_equal(u.channel, 3);
    assert_int_equal(u.len, 0);
    pos += (size_t)n;
    assert_int_equal(pos, len);
    free(buf);
}

/* A '$' packet is incomplete until its header and every payload byte are in. */
static void test_interleaved_incomplete(void **state)
{
    uint8_t payload[1000];
    memset(payload, 0xab, sizeof(payload));
    uint8_t *full = malloc(4 + sizeof(payload));
    assert_non_null(full);
    size_t len = put_packet(full, 2, payload, sizeof(payload));
    for (size_t i = 0; i < len; i++) {
        uint8_t *buf = dup_bytes(full, i);
        sl_rtsp_unit_t u;
        int rc = sl_rtsp_next_unit(buf, i, MAX_HEAD, MAX_BODY, &u);
        free(buf);
        if (rc != 0) fail_msg("packet prefix of %zu bytes gave %d", i, rc);
    }
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit(full, len, MAX_HEAD, MAX_BODY, &u), (int)len);
    assert_int_equal(u.len, sizeof(payload));
    /* The largest length a header can state (65535) is accepted whatever max_body says. */
    uint8_t *big = calloc(1, 4 + 65535);
    assert_non_null(big);
    big[0] = '$';
    big[2] = 0xff;
    big[3] = 0xff;
    assert_int_equal(sl_rtsp_next_unit(big, 4 + 65535, MAX_HEAD, MAX_BODY, &u), 4 + 65535);
    assert_int_equal(u.len, 65535);
    assert_int_equal(sl_rtsp_next_unit(big, 4 + 65534, MAX_HEAD, MAX_BODY, &u), 0);
    free(big);
    free(full);
}

static size_t announce(char *out, size_t size, const char *body)
{
    int n = snprintf(out, size,
                     "ANNOUNCE rtsp://127.0.0.1:8554/live/cam RTSP/1.0\r\n"
                     "Content-Type: application/sdp\r\n"
                     "CSeq: 3\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n%s",
                     strlen(body), body);
    assert_true(n > 0 && (size_t)n < size);
    return (size_t)n;
}

/* The unit ends after Content-Length body bytes: incomplete before, and a request
 * after the body is the next unit. */
static void test_body_with_content_length(void **state)
{
    char text[1024];
    size_t len = announce(text, sizeof(text), SDP);
    size_t body_at = len - strlen(SDP);
    for (size_t i = 0; i < len; i++) {
        uint8_t *buf = dup_bytes(text, i);
        sl_rtsp_unit_t u;
        int rc = sl_rtsp_next_unit(buf, i, MAX_HEAD, MAX_BODY, &u);
        free(buf);
        if (rc != 0) fail_msg("ANNOUNCE prefix of %zu bytes (head ends at %zu) gave %d", i, body_at, rc);
    }
    size_t next = strlen(OPTIONS);
    uint8_t *buf = malloc(len + next);
    assert_non_null(buf);
    memcpy(buf, text, len);
    memcpy(buf + len, OPTIONS, next);
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit(buf, len + next, MAX_HEAD, MAX_BODY, &u), (int)len);
    assert_false(u.is_data);
    assert_string_equal(u.req.method, "ANNOUNCE");
    assert_int_equal(u.req.content_length, strlen(SDP));
    assert_ptr_equal(u.req.body, buf + body_at);
    assert_int_equal(u.req.body_len, strlen(SDP));
    assert_memory_equal(u.req.body, SDP, strlen(SDP));
    assert_int_equal(sl_rtsp_next_unit(buf + len, next, MAX_HEAD, MAX_BODY, &u), (int)next);
    assert_string_equal(u.req.method, "OPTIONS");
    free(buf);
}

/* A body of exactly max_body bytes is taken; one byte more is too big, at once,
 * before the body arrives. */
static void test_body_limit(void **state)
{
    char *body = malloc(MAX_BODY + 2);
    assert_non_null(body);
    memset(body, 'x', MAX_BODY + 1);
    body[MAX_BODY] = '\0';
    char text[MAX_BODY + 512];
    size_t len = announce(text, sizeof(text), body);
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, len, MAX_HEAD, MAX_BODY, &u), (int)len);
    assert_int_equal(u.req.body_len, MAX_BODY);

    body[MAX_BODY] = 'x';
    body[MAX_BODY + 1] = '\0';
    len = announce(text, sizeof(text), body);
    size_t head = len - (MAX_BODY + 1);
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, head, MAX_HEAD, MAX_BODY, &u), SL_ERR_TOO_BIG);
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, len, MAX_HEAD, MAX_BODY, &u), SL_ERR_TOO_BIG);
    free(body);
}

static void test_head_limit(void **state)
{
    /* A header line longer than the limit: too big once max_head bytes are in, even
     * without the blank line; before that it may still end in time. */
    size_t len = MAX_HEAD + 100;
    char *text = malloc(len);
    assert_non_null(text);
    const char *start = "OPTIONS rtsp://127.0.0.1/live/cam RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ";
    memcpy(text, start, strlen(start));
    memset(text + strlen(start), 'a', len - strlen(start));
    sl_rtsp_unit_t u;
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, 100, MAX_HEAD, MAX_BODY, &u), 0);
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, len, MAX_HEAD, MAX_BODY, &u), SL_ERR_TOO_BIG);
    /* A complete head over the limit is too big as well. */
    memcpy(text + len - 4, "\r\n\r\n", 4);
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, len, MAX_HEAD, MAX_BODY, &u), SL_ERR_TOO_BIG);
    /* The same complete head is fine with a larger limit. */
    assert_int_equal(sl_rtsp_next_unit((const uint8_t *)text, len, 2 * MAX_HEAD, MAX_BODY, &u), (int)len);
    free(text);
}

static void expect_error(const char *text, int want)
{
    uint8_t *buf = dup_bytes(text, strlen(text));
    sl_rtsp_unit_t u;
    int rc = sl_rtsp_next_unit(buf, strlen(text), MAX_HEAD, MAX_BODY, &u);
    free(buf);
    if (rc != want) fail_msg("%d instead of %d for %.60s", rc, want, text);
}

static void test_malformed_heads(void **state)
{
    /* Not RTSP at all. */
    expect_error("\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03garbage\r\n\r\n", SL_ERR_PROTO);
    /* An HTTP request on the RTSP port. */
    expect_error("GET /live/cam HTTP/1.1\r\nHost: x\r\n\r\n", SL_ERR_PROTO);
    /* No version. */
    expect_error("OPTIONS rtsp://127.0.0.1/live/cam\r\nCSeq: 1\r\n\r\n", SL_ERR_PROTO);
    /* A header line without a colon. */
    expect_error("OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n", SL_ERR_PROTO);
    /* A Content-Length that is not a number. */
    expect_error("ANNOUNCE rtsp://h/live/cam RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ten\r\n\r\n", SL_ERR_PROTO);
}

/* RTSP has no chunked bodies: refused, not waited for. */
static void test_chunked_refused(void **state)
{
    const char *text = "ANNOUNCE rtsp://127.0.0.1/live/cam RTSP/1.0\r\n"
                       "CSeq: 1\r\n"
                       "Content-Type: application/sdp\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "\r\n"
                       "5\r\nhello\r\n0\r\n\r\n";
    uint8_t *buf = dup_bytes(text, strlen(text));
    sl_rtsp_unit_t u;
    int rc = sl_rtsp_next_unit(buf, strlen(text), MAX_HEAD, MAX_BODY, &u);
    free(buf);
    assert_true(rc < 0);
    assert_int_equal(rc, SL_ERR_PROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_needs_more),
        cmocka_unit_test(test_pipelined_requests),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_interleaved_between_requests),
        cmocka_unit_test(test_interleaved_incomplete),
        cmocka_unit_test(test_body_with_content_length),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_malformed_heads),
        cmocka_unit_test(test_chunked_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
