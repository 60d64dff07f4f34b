/* The outgoing HTTP client: the URL parser, the incremental response parser (every
 * framing, every split point, malformed and oversize input) and sl_http_post
 * against a small libuv TCP server on 127.0.0.1 running on the same loop. Every
 * client test runs the loop until it is empty and closes it, so a handle left open
 * fails the test (uv_loop_close) and a leak shows under LSan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/http_client.h"
#include "sluice/log.h"

/* ---- URL ------------------------------------------------------------------ */

static void test_url_valid(void **state)
{
    sl_http_url_t u;
    const char *why = "unset";
    assert_int_equal(sl_http_url_parse(&u, "http://127.0.0.1:8080/hooks/on_publish?app=live&x=1", &why), SL_OK);
    assert_null(why);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_int_equal(u.family, AF_INET);
    assert_string_equal(u.target, "/hooks/on_publish?app=live&x=1");

    assert_int_equal(sl_http_url_parse(&u, "http://[::1]/", NULL), SL_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 80);
    assert_int_equal(u.family, AF_INET6);
    assert_string_equal(u.target, "/");

    assert_int_equal(sl_http_url_parse(&u, "HTTP://Hooks.Example-1.com:9", NULL), SL_OK);
    assert_string_equal(u.host, "Hooks.Example-1.com");
    assert_int_equal(u.port, 9);
    assert_int_equal(u.family, AF_UNSPEC);
    assert_string_equal(u.target, "/");

    assert_int_equal(sl_http_url_parse(&u, "http://hooks?token=a%20b", NULL), SL_OK);
    assert_string_equal(u.host, "hooks");
    assert_string_equal(u.target, "/?token=a%20b");

    assert_int_equal(sl_http_url_parse(&u, "http://[2001:db8::7]:65535/a", NULL), SL_OK);
    assert_string_equal(u.host, "2001:db8::7");
    assert_int_equal(u.port, 65535);
}

static void test_url_https_unsupported(void **state)
{
    sl_http_url_t u;
    const char *why = NULL;
    assert_int_equal(sl_http_url_parse(&u, "https://hooks.example.com/x", &why), SL_ERR_UNSUPPORTED);
    assert_non_null(why);
    assert_non_null(strstr(why, "https"));
    assert_int_equal(sl_http_url_parse(&u, "HTTPS://h/", NULL), SL_ERR_UNSUPPORTED);
}

static void test_url_invalid(void **state)
{
    static const char *bad[] = {
        "",
        "ftp://h/",
        "http:/h/",
        "h:80/",
        "http://",
        "http:///path",
        "http://:80/",
        "http://h:/",
        "http://h:0/",
        "http://h:65536/",
        "http://h:123456/",
        "http://h:8a/",
        "http://h:80:81/",
        "http://user:pw@h/",
        "http://h/a b",
        "http://h/a\r\nX-Injected: 1",
        "http://h/\x7f",
        "http://h/caf\xc3\xa9",
        "http://h/#frag",
        "http://h#frag",
        "http://[::1/",
        "http://[zz::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[]/",
        "http://[::1]x/",
        "http://999.1.1.1/",
        "http://1.2.3/",
        "http://ho st/",
        "http://h\x01/",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        sl_http_url_t u;
        const char *why = NULL;
        int rc = sl_http_url_parse(&u, bad[i], &why);
        if (rc != SL_ERR_CONFIG) fail_msg("\"%s\": %d", bad[i], rc);
        assert_non_null(why);
        assert_string_equal(u.host, "");
    }
    sl_http_url_t u;
    assert_int_equal(sl_http_url_parse(&u, NULL, NULL), SL_ERR_CONFIG);
}

static void test_url_limits(void **state)
{
    static char url[4096];
    sl_http_url_t u;
    /* A 253-character name passes, 254 does not. */
    memcpy(url, "http://", 7);
    memset(url + 7, 'a', 253);
    strcpy(url + 7 + 253, "/p");
    assert_int_equal(sl_http_url_parse(&u, url, NULL), SL_OK);
    memset(url + 7, 'a', 254);
    strcpy(url + 7 + 254, "/p");
    assert_int_equal(sl_http_url_parse(&u, url, NULL), SL_ERR_CONFIG);
    /* A target of exactly 2047 bytes passes, 2048 does not. */
    strcpy(url, "http://h/");
    memset(url + 9, 'p', 2046);
    url[9 + 2046] = '\0';
    assert_int_equal(sl_http_url_parse(&u, url, NULL), SL_OK);
    assert_int_equal(strlen(u.target), 2047);
    strcat(url, "p");
    assert_int_equal(sl_http_url_parse(&u, url, NULL), SL_ERR_CONFIG);
}

/* ---- Response parser ---------------------------------------------------------- */

static sl_http_response_t resp;

static int teardown_resp(void **state)
{
    sl_http_response_free(&resp);
    return 0;
}

static int feed_text(const char *text, size_t max_body, size_t *used)
{
    sl_http_response_free(&resp);
    sl_http_response_init(&resp, max_body);
    return sl_http_response_feed(&resp, text, strlen(text), used);
}

static void assert_header(const char *name, const char *value)
{
    size_t n = 99;
    const char *v = sl_http_response_header(&resp, name, &n);
    assert_non_null(v);
    assert_int_equal(n, strlen(value));
    assert_memory_equal(v, value, n);
}

static void assert_body(const char *body)
{
    assert_non_null(resp.body);
    assert_int_equal(resp.body_len, strlen(body));
    assert_memory_equal(resp.body, body, resp.body_len);
    assert_int_equal(resp.body[resp.body_len], '\0');
}

static void test_resp_content_length_fields(void **state)
{
    const char *t = "HTTP/1.1 200 OK fine\r\n"
                    "Content-Type: application/json\r\n"
                    "X-Empty:\r\n"
                    "Content-Length:  13 \r\n"
                    "\r\n"
                    "{\"code\": 0 }\nNEXT";
    size_t used = 0;
    assert_int_equal(feed_text(t, 0, &used), SL_OK);
    assert_int_equal(used, strlen(t) - 4);
    assert_int_equal(resp.version_minor, 1);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.reason_len, 7);
    assert_memory_equal(resp.reason, "OK fine", 7);
    assert_int_equal(resp.header_count, 3);
    assert_int_equal(resp.headers[0].name_len, 12);
    assert_memory_equal(resp.headers[0].name, "Content-Type", 12);
    assert_header("content-type", "application/json");
    assert_header("X-EMPTY", "");
    assert_header("Content-Length", "13");
    assert_null(sl_http_response_header(&resp, "Server", NULL));
    assert_int_equal(resp.content_length, 13);
    assert_false(resp.chunked);
    assert_body("{\"code\": 0 }\n");
    /* Complete: more bytes are not taken, eof changes nothing. */
    assert_int_equal(sl_http_response_feed(&resp, "xyz", 3, &used), SL_OK);
    assert_int_equal(used, 0);
    assert_int_equal(sl_http_response_eof(&resp), SL_OK);
    assert_int_equal(resp.status, 200);
}

static void test_resp_http10_no_reason_bare_lf(void **state)
{
    size_t used;
    assert_int_equal(feed_text("HTTP/1.0 403\nContent-Length: 6\n\ndenied", 0, &used), SL_OK);
    assert_int_equal(resp.version_minor, 0);
    assert_int_equal(resp.status, 403);
    assert_int_equal(resp.reason_len, 0);
    assert_body("denied");
    assert_int_equal(feed_text("HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n", 0, &used), SL_OK);
    assert_int_equal(resp.status, 500);
    assert_int_equal(resp.reason_len, 0);
    assert_body("");
}

static void test_resp_chunked_extensions_trailers(void **state)
{
    const char *t = "HTTP/1.1 200 OK\r\n"
                    "Transfer-Encoding: Chunked\r\n"
                    "Content-Length: 999\r\n" /* ignored next to chunked */
                    "\r\n"
                    "5;name=value;flag\r\n"
                    "hello\r\n"
                    "1 \t; x=\"q\"\r\n"
                    " \r\n"
                    "00A\n"
                    "0123456789\n"
                    "0;last\r\n"
                    "Checksum: abc\r\n"
                    "X-Trailer:  two words \r\n"
                    "\r\n"
                    "EXTRA";
    size_t used;
    assert_int_equal(feed_text(t, 0, &used), SL_OK);
    assert_int_equal(used, strlen(t) - 5);
    assert_true(resp.chunked);
    assert_int_equal(resp.content_length, 999);
    assert_body("hello 0123456789");
    assert_int_equal(resp.header_count, 2);
}

static void test_resp_until_close(void **state)
{
    size_t used;
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ", 0, &used),
                     SL_ERR_AGAIN);
    assert_int_equal(used, 52);
    assert_int_equal(sl_http_response_feed(&resp, "it", 2, &used), SL_ERR_AGAIN);
    assert_int_equal(used, 2);
    assert_int_equal(sl_http_response_eof(&resp), SL_OK);
    assert_int_equal(resp.content_length, -1);
    assert_body("all of it");
    /* An empty body until close. */
    assert_int_equal(feed_text("HTTP/1.0 200 OK\r\n\r\n", 0, &used), SL_ERR_AGAIN);
    assert_int_equal(sl_http_response_eof(&resp), SL_OK);
    assert_body("");
}

static void test_resp_interim_and_no_body(void **state)
{
    size_t used;
    assert_int_equal(feed_text("HTTP/1.1 100 Continue\r\n\r\n"
                               "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                               "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                               0, &used),
                     SL_OK);
    assert_int_equal(resp.status, 201);
    assert_int_equal(resp.header_count, 1);
    assert_header("Content-Length", "2");
    assert_body("ok");
    /* 204 and 304 have no body whatever the headers say. */
    assert_int_equal(feed_text("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nabcde", 0, &used), SL_OK);
    assert_int_equal(used, 46);
    assert_body("");
    assert_int_equal(feed_text("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, &used), SL_OK);
    assert_body("");
    /* Never asked for an upgrade. */
    assert_int_equal(feed_text("HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, &used), SL_ERR_PROTO);
}

static void test_resp_malformed_status_lines(void **state)
{
    static const char *bad[] = {
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1\t200 OK\r\n\r\n",
        "HTTP/1.1 200\tOK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",
        "HTTP/1.1 200 OK\r\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "\r\n\r\n",
        "\n\n",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        size_t used;
        int rc = feed_text(bad[i], 0, &used);
        if (rc != SL_ERR_PROTO) fail_msg("case %zu: %d", i, rc);
        /* Sticky. */
        assert_int_equal(sl_http_response_feed(&resp, "x", 1, &used), SL_ERR_PROTO);
        assert_int_equal(sl_http_response_eof(&resp), SL_ERR_PROTO);
    }
}

static void test_resp_malformed_headers_and_framing(void **state)
{
    static const char *bad[] = {
        "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: 1\r\n  continued\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded: t\r\n\r\n",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        size_t used;
        int rc = feed_text(bad[i], 0, &used);
        if (rc != SL_ERR_PROTO) fail_msg("case %zu: %d", i, rc);
    }
}

static void test_resp_truncated(void **state)
{
    static const char *cut[] = {
        "",
        "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cut); i++) {
        size_t used;
        assert_int_equal(feed_text(cut[i], 0, &used), SL_ERR_AGAIN);
        assert_int_equal(used, strlen(cut[i]));
        assert_int_equal(sl_http_response_eof(&resp), SL_ERR_PROTO);
        assert_int_equal(sl_http_response_eof(&resp), SL_ERR_PROTO);
    }
}

static char *make_text(const char *head, char fill, size_t n, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *t = malloc(hl + n + tl + 1);
    assert_non_null(t);
    memcpy(t, head, hl);
    memset(t + hl, fill, n);
    memcpy(t + hl + n, tail, tl + 1);
    return t;
}

static void test_resp_oversize(void **state)
{
    size_t used;
    /* A body at the limit passes; one byte more is refused as soon as it is announced. */
    char *t = make_text("HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n", 'b', 65536, "");
    assert_int_equal(feed_text(t, 0, &used), SL_OK);
    assert_int_equal(resp.body_len, 65536);
    free(t);
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\n", 0, &used), SL_ERR_TOO_BIG);
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, &used),
                     SL_ERR_TOO_BIG);
    /* A custom limit. */
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 10, &used), SL_ERR_TOO_BIG);
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 10, &used), SL_OK);

    /* Chunked: the chunk that would cross the limit is refused by its size line. */
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", 10, &used),
                     SL_ERR_TOO_BIG);
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n", 0, &used),
                     SL_ERR_TOO_BIG);
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n",
                               10, &used),
                     SL_OK);
    assert_body("abcdefghij");

    /* Until close. */
    assert_int_equal(feed_text("HTTP/1.1 200 OK\r\n\r\n0123456789", 10, &used), SL_ERR_AGAIN);
    assert_int_equal(sl_http_response_feed(&resp, "x", 1, &used), SL_ERR_TOO_BIG);
    assert_int_equal(sl_http_response_eof(&resp), SL_ERR_TOO_BIG);

    /* A head that does not end within SL_HTTP_CLIENT_MAX_HEAD. */
    t = make_text("HTTP/1.1 200 OK\r\nX: ", 'v', SL_HTTP_CLIENT_MAX_HEAD, "\r\n\r\n");
    assert_int_equal(feed_text(t, 0, &used), SL_ERR_TOO_BIG);
    free(t);
    /* A head of exactly SL_HTTP_CLIENT_MAX_HEAD bytes passes. */
    size_t fill = SL_HTTP_CLIENT_MAX_HEAD - strlen("HTTP/1.1 200 OK\r\nX: \r\nContent-Length: 0\r\n\r\n");
    t = make_text("HTTP/1.1 200 OK\r\nX: ", 'v', fill, "\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(feed_text(t, 0, &used), SL_OK);
    assert_int_equal(used, SL_HTTP_CLIENT_MAX_HEAD);
    free(t);

    /* Too many headers. */
    static char many[4096];
    strcpy(many, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < SL_HTTP_CLIENT_MAX_HEADERS; i++) strcat(many, "A: b\r\n");
    strcat(many, "Content-Length: 0\r\n\r\n");
    assert_int_equal(feed_text(many, 0, &used), SL_ERR_TOO_BIG);
    strcpy(many + strlen(many) - strlen("A: b\r\nContent-Length: 0\r\n\r\n"), "Content-Length: 0\r\n\r\n");
    assert_int_equal(feed_text(many, 0, &used), SL_OK);
    assert_int_equal(resp.header_count, SL_HTTP_CLIENT_MAX_HEADERS);

    /* A chunk-size line or a trailer line over SL_HTTP_CLIENT_MAX_LINE. */
    t = make_text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", 'e', SL_HTTP_CLIENT_MAX_LINE, "\r\n");
    assert_int_equal(feed_text(t, 0, &used), SL_ERR_TOO_BIG);
    free(t);
    t = make_text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ", 't', SL_HTTP_CLIENT_MAX_LINE, "\r\n\r\n");
    assert_int_equal(feed_text(t, 0, &used), SL_ERR_TOO_BIG);
    free(t);
    /* Many short trailer lines add up to the head limit. */
    static char trailers[16384];
    strcpy(trailers, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    for (int i = 0; i < 1000; i++) strcat(trailers, "T: 0123456\r\n");
    strcat(trailers, "\r\n");
    assert_int_equal(feed_text(trailers, 0, &used), SL_ERR_TOO_BIG);
}

/* What a parse ended in, to compare ways of feeding the same bytes. */
typedef struct outcome {
    int rc;
    size_t used;
    int status, header_count;
    size_t body_len;
    uint8_t body[256];
    size_t reason_len;
} outcome_t;

static void capture(const sl_http_response_t *r, int rc, size_t used, outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->rc = rc;
    o->used = used;
    if (rc != SL_OK) return;
    o->status = r->status;
    o->header_count = r->header_count;
    o->body_len = r->body_len;
    o->reason_len = r->reason_len;
    memcpy(o->body, r->body, SL_MIN(r->body_len, sizeof(o->body)));
}

/* Feeds text in pieces of the given sizes (the last piece takes the rest), then
 * signals the end of the stream when still incomplete. */
static void feed_pieces(const char *text, size_t len, const size_t *cuts, size_t ncuts, outcome_t *o)
{
    sl_http_response_t *r = malloc(sizeof(*r));
    assert_non_null(r);
    sl_http_response_init(r, 0);
    size_t pos = 0, total = 0;
    int rc = SL_ERR_AGAIN;
    for (size_t i = 0; i <= ncuts && rc == SL_ERR_AGAIN; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t used = 0;
        rc = sl_http_response_feed(r, text + pos, end - pos, &used);
        if (rc == SL_ERR_AGAIN) assert_int_equal(used, end - pos);
        total += used;
        pos = end;
    }
    if (rc == SL_ERR_AGAIN) rc = sl_http_response_eof(r);
    capture(r, rc, rc == SL_OK ? total : 0, o);
    sl_http_response_free(r);
    free(r);
}

static void assert_same(const outcome_t *a, const outcome_t *b, const char *what, size_t at)
{
    if (memcmp(a, b, sizeof(*a)) != 0)
        fail_msg("%s at %zu: rc %d/%d status %d/%d body %zu/%zu used %zu/%zu", what, at, a->rc, b->rc,
                 a->status, b->status, a->body_len, b->body_len, a->used, b->used);
}

static void test_resp_split_at_every_byte(void **state)
{
    static const char *texts[] = {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"code\":0}\nTAIL",
        "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nstre\r\n5\r\nam no\r\n0\r\nA: b\r\n\r\nX",
        "HTTP/1.0 200 OK\nServer: t\n\nuntil the end",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 204 No Content\r\n\r\nleft",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",
    };
    for (size_t t = 0; t < SL_ARRAY_SIZE(texts); t++) {
        const char *text = texts[t];
        size_t len = strlen(text);
        outcome_t whole, other;
        feed_pieces(text, len, NULL, 0, &whole);
        for (size_t k = 0; k <= len; k++) {
            feed_pieces(text, len, &k, 1, &other);
            assert_same(&whole, &other, texts[t], k);
        }
        size_t *cuts = malloc(len * sizeof(*cuts));
        assert_non_null(cuts);
        for (size_t k = 0; k < len; k++) cuts[k] = k + 1;
        feed_pieces(text, len, cuts, len, &other);
        assert_same(&whole, &other, "byte by byte", t);
        free(cuts);
    }
}

static void test_resp_split_expected_outcomes(void **state)
{
    /* The outcomes the split test compares against, pinned here. */
    outcome_t o;
    const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcTAIL";
    feed_pieces(a, strlen(a), NULL, 0, &o);
    assert_int_equal(o.rc, SL_OK);
    assert_int_equal(o.used, strlen(a) - 4);
    const char *b = "HTTP/1.0 200 OK\nServer: t\n\nuntil the end";
    feed_pieces(b, strlen(b), NULL, 0, &o);
    assert_int_equal(o.rc, SL_OK);
    assert_int_equal(o.body_len, 13);
    assert_memory_equal(o.body, "until the end", 13);
    const char *c = "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n";
    feed_pieces(c, strlen(c), NULL, 0, &o);
    assert_int_equal(o.rc, SL_ERR_TOO_BIG);
}

/* ---- Client against an in-process server ----------------------------------- */

enum srv_mode {
    SRV_ANSWER,  /* answers each complete request with `answer` */
    SRV_SILENT,  /* reads and never answers */
    SRV_HANGUP,  /* closes each connection at once */
    SRV_PAIR,    /* answers only once two requests are in, by path */
    SRV_DRIBBLE, /* answers in two writes 30 ms apart */
};

#define MAX_CONNS 8

typedef struct srv srv_t;

typedef struct srv_conn {
    uv_tcp_t tcp;
    uv_timer_t pause;
    uv_write_t w1, w2;
    srv_t *s;
    int open_handles;
    bool closing, complete;
    char req[8192];
    size_t len;
} srv_conn_t;

struct srv {
    uv_tcp_t listener;
    int port;
    enum srv_mode mode;
    const char *answer;
    int accepted, requests;
    char last_req[8192];
    size_t last_len;
    srv_conn_t *conns[MAX_CONNS];
};

typedef struct call {
    int n;
    int status;
    char body[256];
    size_t len;
    uint64_t at_ns;
} call_t;

typedef struct fx {
    uv_loop_t loop;
    srv_t srv;
    bool srv_running;
    uv_timer_t watchdog, action;
    call_t calls[3];
    int expected, finished;
    uint64_t start_ns;
    sl_http_client_req_t *req;
} fx_t;

static fx_t *cur; /* the fixture of the running test, for callbacks */

static void conn_handle_closed(uv_handle_t *h)
{
    srv_conn_t *c = h->data;
    if (--c->open_handles > 0) return;
    for (int i = 0; i < MAX_CONNS; i++)
        if (c->s->conns[i] == c) c->s->conns[i] = NULL;
    free(c);
}

static void conn_close(srv_conn_t *c)
{
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->pause, conn_handle_closed);
}

static void conn_written(uv_write_t *w, int status)
{
    srv_conn_t *c = w->handle->data;
    if (w == &c->w2 || c->s->mode != SRV_DRIBBLE) conn_close(c);
}

static void conn_write(srv_conn_t *c, uv_write_t *w, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    assert_int_equal(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, conn_written), 0);
}

static void conn_pause_done(uv_timer_t *t)
{
    srv_conn_t *c = t->data;
    size_t half = strlen(c->s->answer) / 2;
    conn_write(c, &c->w2, c->s->answer + half, strlen(c->s->answer) - half);
}

static const char *answer_by_path(const srv_conn_t *c)
{
    if (strncmp(c->req, "POST /a ", 8) == 0)
        return "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nfirst!\n";
    return "HTTP/1.1 403 Forbidden\r\nContent-Length: 8\r\n\r\nsecond!\n";
}

static void conn_answer(srv_conn_t *c)
{
    srv_t *s = c->s;
    if (s->mode == SRV_ANSWER) {
        conn_write(c, &c->w1, s->answer, strlen(s->answer));
    } else if (s->mode == SRV_DRIBBLE) {
        conn_write(c, &c->w1, s->answer, strlen(s->answer) / 2);
        assert_int_equal(uv_timer_start(&c->pause, conn_pause_done, 30, 0), 0);
    } else if (s->mode == SRV_PAIR && s->requests == 2) {
        for (int i = 0; i < MAX_CONNS; i++) {
            srv_conn_t *o = s->conns[i];
            if (o != NULL && o->complete && !o->closing) {
                const char *a = answer_by_path(o);
                conn_write(o, &o->w1, a, strlen(a));
            }
        }
    }
}

/* A request is complete once its head and Content-Length bytes are in. */
static bool request_complete(const srv_conn_t *c)
{
    const char *end = strstr(c->req, "\r\n\r\n");
    const char *cl = strstr(c->req, "Content-Length: ");
    if (end == NULL || cl == NULL) return false;
    size_t body = strtoul(cl + 16, NULL, 10);
    return c->len >= (size_t)(end + 4 - c->req) + body;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    srv_conn_t *c = h->data;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof(c->req) - 1 - c->len));
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    srv_conn_t *c = st->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    c->req[c->len] = '\0';
    if (c->complete || !request_complete(c)) return;
    c->complete = true;
    c->s->requests++;
    memcpy(c->s->last_req, c->req, c->len + 1);
    c->s->last_len = c->len;
    conn_answer(c);
}

static void srv_on_connection(uv_stream_t *l, int status)
{
    srv_t *s = l->data;
    assert_int_equal(status, 0);
    srv_conn_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->s = s;
    assert_int_equal(uv_tcp_init(l->loop, &c->tcp), 0);
    assert_int_equal(uv_timer_init(l->loop, &c->pause), 0);
    c->tcp.data = c->pause.data = c;
    c->open_handles = 2;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    s->accepted++;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i] == NULL) {
            s->conns[i] = c;
            break;
        }
    }
    if (s->mode == SRV_HANGUP) conn_close(c);
    else assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read), 0);
}

static void srv_start(fx_t *f, enum srv_mode mode, const char *answer)
{
    srv_t *s = &f->srv;
    s->mode = mode;
    s->answer = answer;
    struct sockaddr_in a;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
    assert_int_equal(uv_tcp_init(&f->loop, &s->listener), 0);
    s->listener.data = s;
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, srv_on_connection), 0);
    struct sockaddr_storage ss;
    int n = sizeof(ss);
    assert_int_equal(uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &n), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    f->srv_running = true;
}

static void srv_stop(fx_t *f)
{
    if (!f->srv_running) return;
    f->srv_running = false;
    uv_close((uv_handle_t *)&f->srv.listener, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        if (f->srv.conns[i] != NULL) conn_close(f->srv.conns[i]);
}

static void watchdog_fired(uv_timer_t *t) { fail_msg("the test did not finish within 5 s"); }

static int setup_fx(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->watchdog), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->action), 0);
    assert_int_equal(uv_timer_start(&f->watchdog, watchdog_fired, 5000, 0), 0);
    uv_unref((uv_handle_t *)&f->watchdog);
    f->action.data = f;
    f->start_ns = uv_hrtime();
    cur = f;
    *state = f;
    return 0;
}

/* Closes what the test left open, runs the loop dry and checks it closes. */
static int teardown_fx(void **state)
{
    fx_t *f = *state;
    srv_stop(f);
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    uv_close((uv_handle_t *)&f->action, NULL);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    cur = NULL;
    return 0;
}

static void on_done(void *arg, int status, const uint8_t *body, size_t len)
{
    call_t *c = arg;
    c->n++;
    c->status = status;
    c->at_ns = uv_hrtime();
    c->len = len;
    if (status > 0) {
        assert_non_null(body);
        assert_int_equal(body[len], '\0');
        memcpy(c->body, body, SL_MIN(len, sizeof(c->body) - 1));
    } else {
        assert_null(body);
        assert_int_equal(len, 0);
    }
    /* Once every expected answer is in, the server goes and the loop can end. */
    if (++cur->finished == cur->expected) srv_stop(cur);
}

static void post(fx_t *f, const char *path, const char *body, uint32_t timeout_ms, call_t *c)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->srv.port, path);
    assert_int_equal(sl_http_post(&f->loop, url, NULL, body, strlen(body), timeout_ms, on_done, c, &f->req), SL_OK);
    assert_non_null(f->req);
}

static void run(fx_t *f) { assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0); }

static double ms_since(const fx_t *f, const call_t *c) { return (double)(c->at_ns - f->start_ns) / 1e6; }

static void test_post_200_with_body(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_ANSWER, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"code\": 0}\n");
    f->expected = 1;
    const char *body = "{\"action\":\"on_publish\",\"stream\":\"live/cam\"}";
    post(f, "/hooks/on_publish?x=1", body, 2000, &f->calls[0]);
    assert_int_equal(f->calls[0].n, 0); /* never from inside sl_http_post */
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, 200);
    assert_int_equal(f->calls[0].len, 12);
    assert_string_equal(f->calls[0].body, "{\"code\": 0}\n");

    char expect[512];
    snprintf(expect, sizeof(expect),
             "POST /hooks/on_publish?x=1 HTTP/1.1\r\n"
             "Host: 127.0.0.1:%d\r\n"
             "Content-Type: application/json\r\n"
             "Content-Length: %zu\r\n"
             "Connection: close\r\n"
             "User-Agent: sluice/" SLUICE_VERSION "\r\n"
             "\r\n%s",
             f->srv.port, strlen(body), body);
    assert_string_equal(f->srv.last_req, expect);
    assert_int_equal(f->srv.accepted, 1);
}

static void test_post_403_deny(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_ANSWER, "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndenied\r\n0\r\n\r\n");
    f->expected = 1;
    post(f, "/", "{}", 2000, &f->calls[0]);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, 403);
    assert_string_equal(f->calls[0].body, "denied");
}

static void test_post_answer_in_pieces_until_close(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_DRIBBLE, "HTTP/1.0 500 Internal Server Error\r\nServer: x\r\n\r\nboom, until close");
    f->expected = 1;
    post(f, "/", "{}", 2000, &f->calls[0]);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, 500);
    assert_string_equal(f->calls[0].body, "boom, until close");
    assert_true(ms_since(f, &f->calls[0]) >= 25);
}

static void test_post_timeout(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_SILENT, NULL);
    f->expected = 1;
    post(f, "/", "{}", 300, &f->calls[0]);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, SL_ERR_TIMEOUT);
    assert_int_equal(f->srv.requests, 1); /* it did get the request */
    double ms = ms_since(f, &f->calls[0]);
    if (ms < 299 || ms > 300 + 250) fail_msg("timeout after %.1f ms", ms);
}

static void test_post_refused(void **state)
{
    fx_t *f = *state;
    /* A port that was just free: bind, note, close. */
    srv_start(f, SRV_ANSWER, "unused");
    srv_stop(f);
    run(f);
    f->expected = 1;
    post(f, "/", "{}", 2000, &f->calls[0]);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, SL_ERR_IO);
    assert_true(ms_since(f, &f->calls[0]) < 1000);
}

static void test_post_hangup_malformed_toobig_cut(void **state)
{
    static const struct {
        enum srv_mode mode;
        const char *answer;
        int expect;
    } cases[] = {
        {SRV_HANGUP, NULL, SL_ERR_IO},
        {SRV_ANSWER, "HTTP/1.1 2OO OK\r\n\r\n", SL_ERR_PROTO},
        {SRV_ANSWER, "SSH-2.0-OpenSSH_9.2\r\n", SL_ERR_PROTO},
        {SRV_ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n", SL_ERR_TOO_BIG},
        {SRV_ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", SL_ERR_PROTO},
        {SRV_ANSWER, "HTTP/1.1 200 OK\r\n", SL_ERR_PROTO},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        fx_t *f = *state;
        srv_start(f, cases[i].mode, cases[i].answer);
        f->expected = 1;
        post(f, "/", "{}", 2000, &f->calls[0]);
        run(f);
        if (f->calls[0].n != 1 || f->calls[0].status != cases[i].expect)
            fail_msg("case %zu: %d calls, status %d", i, f->calls[0].n, f->calls[0].status);
        assert_int_equal(teardown_fx(state), 0);
        assert_int_equal(setup_fx(state), 0);
    }
}

static void cancel_now(uv_timer_t *t)
{
    fx_t *f = t->data;
    sl_http_client_cancel(f->req);
    /* The callback ran inside the cancel. */
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, SL_ERR_CLOSED);
}

static void test_cancel_in_flight(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_SILENT, NULL);
    f->expected = 1;
    post(f, "/", "{}", 2000, &f->calls[0]);
    assert_int_equal(uv_timer_start(&f->action, cancel_now, 100, 0), 0);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, SL_ERR_CLOSED);
    assert_int_equal(f->srv.requests, 1);
    assert_true(ms_since(f, &f->calls[0]) < 1000);
}

static void test_cancel_before_start(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_SILENT, NULL);
    f->expected = 1;
    post(f, "/", "{}", 2000, &f->calls[0]);
    sl_http_client_cancel(f->req);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, SL_ERR_CLOSED);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->srv.accepted, 0);
    sl_http_client_cancel(NULL);
}

static void test_cancel_while_resolving(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_SILENT, NULL);
    f->expected = 1;
    char url[64];
    snprintf(url, sizeof(url), "http://localhost:%d/", f->srv.port);
    assert_int_equal(sl_http_post(&f->loop, url, NULL, "{}", 2, 2000, on_done, &f->calls[0], &f->req), SL_OK);
    /* Due in the same loop turn as the request's first tick and started after it,
     * so it runs right after the resolution was handed to the thread pool. */
    assert_int_equal(uv_timer_start(&f->action, cancel_now, 0, 0), 0);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, SL_ERR_CLOSED);
}

static void test_post_by_name(void **state)
{
    fx_t *f = *state;
    srv_start(f, SRV_ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    f->expected = 1;
    char url[64];
    snprintf(url, sizeof(url), "http://localhost:%d/by/name", f->srv.port);
    assert_int_equal(sl_http_post(&f->loop, url, "text/plain; charset=utf-8", "x", 1, 2000, on_done, &f->calls[0], NULL),
                     SL_OK);
    run(f);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, 200);
    assert_string_equal(f->calls[0].body, "ok");
    char host[64];
    snprintf(host, sizeof(host), "\r\nHost: localhost:%d\r\n", f->srv.port);
    assert_non_null(strstr(f->srv.last_req, host));
    assert_non_null(strstr(f->srv.last_req, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
}

static void test_two_requests_at_once(void **state)
{
    fx_t *f = *state;
    /* The server answers neither until both are in: they must be in flight together. */
    srv_start(f, SRV_PAIR, NULL);
    f->expected = 2;
    post(f, "/a", "{\"n\":1}", 2000, &f->calls[0]);
    post(f, "/b", "{\"n\":2}", 2000, &f->calls[1]);
    run(f);
    assert_int_equal(f->srv.accepted, 2);
    assert_int_equal(f->calls[0].n, 1);
    assert_int_equal(f->calls[0].status, 200);
    assert_string_equal(f->calls[0].body, "first!\n");
    assert_int_equal(f->calls[1].n, 1);
    assert_int_equal(f->calls[1].status, 403);
    assert_string_equal(f->calls[1].body, "second!\n");
}

static void test_post_refuses_bad_arguments(void **state)
{
    fx_t *f = *state;
    sl_http_client_req_t *r = (sl_http_client_req_t *)1;
    assert_int_equal(sl_http_post(&f->loop, "https://h/", NULL, "", 0, 0, on_done, &f->calls[0], &r),
                     SL_ERR_UNSUPPORTED);
    assert_null(r);
    assert_int_equal(sl_http_post(&f->loop, "http://h/a b", NULL, "", 0, 0, on_done, &f->calls[0], &r), SL_ERR_CONFIG);
    assert_int_equal(sl_http_post(&f->loop, "http://h/", "text/plain\r\nX: y", "", 0, 0, on_done, &f->calls[0], &r),
                     SL_ERR_CONFIG);
    run(f);
    assert_int_equal(f->calls[0].n, 0);
}

int main(void)
{
    sl_log_set_level(SL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_valid),
        cmocka_unit_test(test_url_https_unsupported),
        cmocka_unit_test(test_url_invalid),
        cmocka_unit_test(test_url_limits),
        cmocka_unit_test_teardown(test_resp_content_length_fields, teardown_resp),
        cmocka_unit_test_teardown(test_resp_http10_no_reason_bare_lf, teardown_resp),
        cmocka_unit_test_teardown(test_resp_chunked_extensions_trailers, teardown_resp),
        cmocka_unit_test_teardown(test_resp_until_close, teardown_resp),
        cmocka_unit_test_teardown(test_resp_interim_and_no_body, teardown_resp),
        cmocka_unit_test_teardown(test_resp_malformed_status_lines, teardown_resp),
        cmocka_unit_test_teardown(test_resp_malformed_headers_and_framing, teardown_resp),
        cmocka_unit_test_teardown(test_resp_truncated, teardown_resp),
        cmocka_unit_test_teardown(test_resp_oversize, teardown_resp),
        cmocka_unit_test(test_resp_split_at_every_byte),
        cmocka_unit_test(test_resp_split_expected_outcomes),
        cmocka_unit_test_setup_teardown(test_post_200_with_body, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_403_deny, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_answer_in_pieces_until_close, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_timeout, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_refused, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_hangup_malformed_toobig_cut, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_cancel_in_flight, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_cancel_before_start, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_cancel_while_resolving, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_by_name, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_two_requests_at_once, setup_fx, teardown_fx),
        cmocka_unit_test_setup_teardown(test_post_refuses_bad_arguments, setup_fx, teardown_fx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
