#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/http.h"

#define MAX_HEAD 16384

static sl_http_request_t req;

static int parse(const char *text) { return sl_http_parse_request(&req, "HTTP", text, strlen(text), MAX_HEAD); }

static void assert_header(const char *name, const char *value)
{
    size_t n = 0;
    const char *v = sl_http_header_get(&req, name, &n);
    assert_non_null(v);
    assert_int_equal(n, strlen(value));
    assert_memory_equal(v, value, n);
}

static void test_get_with_query(void **state)
{
    const char *t = "GET /live/cam.flv?token=abc&x=1 HTTP/1.1\r\n"
                    "Host: example.com:8080\r\n"
                    "User-Agent:   curl/8.0  \r\n"
                    "Accept: */*\r\n"
                    "\r\n"
                    "NEXT";
    assert_int_equal(parse(t), (int)strlen(t) - 4);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/live/cam.flv");
    assert_string_equal(req.query, "token=abc&x=1");
    assert_int_equal(req.version_major, 1);
    assert_int_equal(req.version_minor, 1);
    assert_int_equal(req.header_count, 3);
    assert_int_equal(req.headers[0].name_len, 4);
    assert_memory_equal(req.headers[0].name, "Host", 4);
    assert_header("host", "example.com:8080");
    assert_header("USER-AGENT", "curl/8.0");
    assert_header("Accept", "*/*");
    assert_null(sl_http_header_get(&req, "Cookie", NULL));
    assert_int_equal(req.content_length, -1);
    assert_false(req.chunked);
    assert_true(req.keep_alive);
    assert_null(req.body);
    assert_int_equal(req.body_len, 0);
}

static void test_no_query_and_empty_query(void **state)
{
    assert_true(parse("GET / HTTP/1.1\r\n\r\n") > 0);
    assert_string_equal(req.path, "/");
    assert_string_equal(req.query, "");
    assert_true(parse("GET /a? HTTP/1.1\r\n\r\n") > 0);
    assert_string_equal(req.path, "/a");
    assert_string_equal(req.query, "");
    assert_true(parse("GET /a?b?c HTTP/1.1\r\n\r\n") > 0);
    assert_string_equal(req.path, "/a");
    assert_string_equal(req.query, "b?c");
}

static void test_empty_header_value(void **state)
{
    assert_true(parse("GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank: \t \r\n\r\n") > 0);
    assert_header("X-Empty", "");
    assert_header("X-Blank", "");
}

static void test_keep_alive_rules(void **state)
{
    assert_true(parse("GET / HTTP/1.1\r\n\r\n") > 0);
    assert_true(req.keep_alive);
    assert_true(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") > 0);
    assert_false(req.keep_alive);
    assert_true(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n") > 0);
    assert_false(req.keep_alive);
    assert_true(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n") > 0);
    assert_true(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\n\r\n") > 0);
    assert_false(req.keep_alive);
    assert_int_equal(req.version_minor, 0);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
    assert_true(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: foo ,keep-alive\r\n\r\n") > 0);
    assert_true(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n") > 0);
    assert_false(req.keep_alive);
}

static void test_content_length(void **state)
{
    const char *t = "POST /live/cam/whip HTTP/1.1\r\nContent-Type: application/sdp\r\n"
                    "Content-Length: 1234\r\n\r\nv=0";
    assert_int_equal(parse(t), (int)strlen(t) - 3);
    assert_string_equal(req.method, "POST");
    assert_int_equal(req.content_length, 1234);
    assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") > 0);
    assert_int_equal(req.content_length, 0);
    /* The same value twice is harmless. */
    assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n") > 0);
    assert_int_equal(req.content_length, 7);
    assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n") > 0);
    assert_int_equal(req.content_length, INT64_MAX);
}

static void test_content_length_errors(void **state)
{
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n"), SL_ERR_TOO_BIG);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"), SL_ERR_TOO_BIG);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), SL_ERR_PROTO);
}

static void test_chunked(void **state)
{
    assert_true(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
    assert_true(req.chunked);
    assert_true(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n") > 0);
    assert_true(req.chunked);
    /* A final coding other than chunked cannot be framed. */
    assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), SL_ERR_PROTO);
}

static void test_rtsp(void **state)
{
    const char *t = "OPTIONS rtsp://h/a RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    assert_int_equal(sl_http_parse_request(&req, "RTSP", t, strlen(t), MAX_HEAD), (int)strlen(t));
    assert_string_equal(req.method, "OPTIONS");
    assert_string_equal(req.path, "rtsp://h/a");
    assert_int_equal(req.version_major, 1);
    assert_int_equal(req.version_minor, 0);
    assert_header("CSeq", "1");
    /* The protocol name must match the one asked for. */
    assert_int_equal(sl_http_parse_request(&req, "HTTP", t, strlen(t), MAX_HEAD), SL_ERR_PROTO);
    const char *h = "GET / HTTP/1.1\r\n\r\n";
    assert_int_equal(sl_http_parse_request(&req, "RTSP", h, strlen(h), MAX_HEAD), SL_ERR_PROTO);
}

static void test_lf_only(void **state)
{
    const char *t = "GET /x HTTP/1.1\nHost: a\nX-Y: z\n\nrest";
    assert_int_equal(parse(t), (int)strlen(t) - 4);
    assert_string_equal(req.path, "/x");
    assert_int_equal(req.header_count, 2);
    assert_header("Host", "a");
    assert_header("X-Y", "z");
    /* Mixed line ends too. */
    assert_int_equal(parse("GET / HTTP/1.1\nHost: a\r\n\n"), 25);
}

static void test_leading_empty_lines(void **state)
{
    const char *t = "\r\n\nGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(parse(t), (int)strlen(t));
    assert_string_equal(req.method, "GET");
    assert_int_equal(parse("\r\n"), SL_ERR_AGAIN);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", NULL, 0, MAX_HEAD), SL_ERR_AGAIN);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", NULL, 0, 0), SL_ERR_TOO_BIG);
}

static void test_every_prefix_is_again(void **state)
{
    const char *t = "POST /live/cam/whip?a=b HTTP/1.1\r\nHost: h\r\nContent-Type: application/sdp\r\n"
                    "Content-Length: 3\r\nConnection: keep-alive\r\n\r\n";
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sl_http_parse_request(&req, "HTTP", t, i, MAX_HEAD), SL_ERR_AGAIN);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", t, n, MAX_HEAD), (int)n);
    const char *lf = "GET / HTTP/1.0\nA: b\n\n";
    for (size_t i = 0; i < strlen(lf); i++)
        assert_int_equal(sl_http_parse_request(&req, "HTTP", lf, i, MAX_HEAD), SL_ERR_AGAIN);
}

static void test_bad_request_lines(void **state)
{
    static const char *const bad[] = {
        "GET\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / \r\n\r\n",
        " / HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET /  HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GETTINGTOOLONGXX / HTTP/1.1\r\n\r\n", /* 16 characters */
        "GE(T / HTTP/1.1\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTPS/1.1\r\n\r\n",
        "GET / HTTP/1\r\n\r\n",
        "GET / HTTP/1.1.\r\n\r\n",
        "GET / HTTP/11.1\r\n\r\n",
        "GET / HTTP/a.1\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET / HTTP/1,1\r\n\r\n",
        "GET ?q HTTP/1.1\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
        "GET\t/ HTTP/1.1\r\n\r\n",
        "GET /\r HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\r\n\r\n",
        "\x16\x03\x01\x02\x05\x01\xfc\x03\x03 / HTTP/1.1\r\n\r\n", /* a TLS hello */
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        int r = parse(bad[i]);
        if (r != SL_ERR_PROTO) fail_msg("case %zu: got %d", i, r);
    }
    /* 15 characters is the longest method. */
    assert_true(parse("GETTINGTOOLONGX / HTTP/1.1\r\n\r\n") > 0);
    assert_string_equal(req.method, "GETTINGTOOLONGX");
}

static void test_bad_headers(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        "GET / HTTP/1.1\r\n: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\001b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        int r = parse(bad[i]);
        if (r != SL_ERR_PROTO) fail_msg("case %zu: got %d", i, r);
    }
    /* NUL inside a header, given with its real length. */
    const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
    assert_int_equal(sl_http_parse_request(&req, "HTTP", nul, sizeof(nul) - 1, MAX_HEAD), SL_ERR_PROTO);
    /* Tabs and UTF-8 are fine in values. */
    assert_true(parse("GET / HTTP/1.1\r\nX-Name:\tJos\xc3\xa9\tA\r\n\r\n") > 0);
    assert_header("X-Name", "Jos\xc3\xa9\tA");
}

static void test_errors_are_early(void **state)
{
    /* A bad request line is refused before the head is complete. */
    assert_int_equal(parse("GET/ HTTP/1.1\r\nHost: a\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse("GET / HTTP/1.1\r\nbad line\r\nHost"), SL_ERR_PROTO);
}

static void test_too_many_headers(void **state)
{
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < SL_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
    memcpy(buf + n, "\r\n", 3);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", buf, n + 2, MAX_HEAD), (int)(n + 2));
    assert_int_equal(req.header_count, SL_HTTP_MAX_HEADERS);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
    assert_int_equal(sl_http_parse_request(&req, "HTTP", buf, n, MAX_HEAD), SL_ERR_TOO_BIG);
}

static void test_head_too_big(void **state)
{
    const char *t = "GET / HTTP/1.1\r\nHost: abcdefgh\r\n\r\n"; /* 34 bytes */
    size_t n = strlen(t);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", t, n, n), (int)n);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", t, n, n - 1), SL_ERR_TOO_BIG);
    /* Still incomplete, but already as long as the limit. */
    assert_int_equal(sl_http_parse_request(&req, "HTTP", t, 20, 20), SL_ERR_TOO_BIG);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", t, 20, 21), SL_ERR_AGAIN);
    /* A 20 KB header against the default 16 KB. */
    size_t big = 20000;
    char *b = malloc(big + 64);
    assert_non_null(b);
    size_t k = (size_t)sprintf(b, "GET / HTTP/1.1\r\nX-Big: ");
    memset(b + k, 'a', big);
    memcpy(b + k + big, "\r\n\r\n", 4);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", b, k + big + 4, MAX_HEAD), SL_ERR_TOO_BIG);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", b, MAX_HEAD, MAX_HEAD), SL_ERR_TOO_BIG);
    assert_int_equal(sl_http_parse_request(&req, "HTTP", b, MAX_HEAD - 1, MAX_HEAD), SL_ERR_AGAIN);
    free(b);
}

static void test_path_too_long(void **state)
{
    char *b = malloc(2 * SL_HTTP_MAX_PATH + 64);
    assert_non_null(b);
    /* SL_HTTP_MAX_PATH - 1 characters fit. */
    b[0] = '/';
    memset(b + 1, 'p', SL_HTTP_MAX_PATH - 2);
    strcpy(b + SL_HTTP_MAX_PATH - 1, " HTTP/1.1\r\n\r\n");
    char line[2 * SL_HTTP_MAX_PATH + 80];
    snprintf(line, sizeof(line), "GET %s", b);
    assert_true(parse(line) > 0);
    assert_int_equal(strlen(req.path), SL_HTTP_MAX_PATH - 1);
    /* One more does not. */
    b[SL_HTTP_MAX_PATH - 1] = 'p';
    strcpy(b + SL_HTTP_MAX_PATH, " HTTP/1.1\r\n\r\n");
    snprintf(line, sizeof(line), "GET %s", b);
    assert_int_equal(parse(line), SL_ERR_TOO_BIG);
    /* The same for the query. */
    memset(b, 'q', SL_HTTP_MAX_PATH);
    b[SL_HTTP_MAX_PATH] = '\0';
    snprintf(line, sizeof(line), "GET /?%s HTTP/1.1\r\n\r\n", b);
    assert_int_equal(parse(line), SL_ERR_TOO_BIG);
    b[SL_HTTP_MAX_PATH - 1] = '\0';
    snprintf(line, sizeof(line), "GET /?%s HTTP/1.1\r\n\r\n", b);
    assert_true(parse(line) > 0);
    assert_int_equal(strlen(req.query), SL_HTTP_MAX_PATH - 1);
    free(b);
}

static void test_versions(void **state)
{
    /* Parsed; the server answers 505. */
    assert_true(parse("GET / HTTP/2.0\r\n\r\n") > 0);
    assert_int_equal(req.version_major, 2);
    assert_int_equal(req.version_minor, 0);
    assert_true(parse("GET / HTTP/0.9\r\n\r\n") > 0);
    assert_int_equal(req.version_major, 0);
    assert_int_equal(req.version_minor, 9);
    assert_false(req.keep_alive);
}

static void test_status_text(void **state)
{
    static const struct { int code; const char *text; } t[] = {
        {200, "OK"}, {201, "Created"}, {204, "No Content"}, {206, "Partial Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"},
        {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {409, "Conflict"},
        {411, "Length Required"}, {413, "Content Too Large"}, {414, "URI Too Long"},
        {415, "Unsupported Media Type"}, {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
        {501, "Not Implemented"}, {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"}, {299, "Unknown"}, {0, "Unknown"}, {-1, "Unknown"},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(t); i++) assert_string_equal(sl_http_status_text(t[i].code), t[i].text);
}

static void test_reparse_resets(void **state)
{
    assert_true(parse("POST /a?b HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
    assert_true(parse("GET /c HTTP/1.1\r\n\r\n") > 0);
    assert_int_equal(req.content_length, -1);
    assert_false(req.chunked);
    assert_string_equal(req.query, "");
    assert_int_equal(req.header_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_query),
        cmocka_unit_test(test_no_query_and_empty_query),
        cmocka_unit_test(test_empty_header_value),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_content_length_errors),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_rtsp),
        cmocka_unit_test(test_lf_only),
        cmocka_unit_test(test_leading_empty_lines),
        cmocka_unit_test(test_every_prefix_is_again),
        cmocka_unit_test(test_bad_request_lines),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_errors_are_early),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_head_too_big),
        cmocka_unit_test(test_path_too_long),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_reparse_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
