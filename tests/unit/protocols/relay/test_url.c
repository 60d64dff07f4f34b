#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/relay/url.h"

static void rtmp_ok(const char *url, const char *host, uint16_t port, const char *app, const char *name,
                    const char *tc_url)
{
    sl_rtmp_url_t u;
    memset(&u, 0x55, sizeof(u));
    assert_int_equal(sl_rtmp_url_parse(url, &u), SL_OK);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_string_equal(u.app, app);
    assert_string_equal(u.name, name);
    assert_string_equal(u.tc_url, tc_url);
}

static void rtmp_fails(const char *url, int want)
{
    sl_rtmp_url_t u;
    memset(&u, 0x55, sizeof(u));
    assert_int_equal(sl_rtmp_url_parse(url, &u), want);
    /* Nothing half-parsed is left behind. */
    assert_string_equal(u.host, "");
    assert_string_equal(u.app, "");
    assert_int_equal(u.port, 0);
}

static void test_rtmp_basic(void **state)
{
    (void)state;
    rtmp_ok("rtmp://example.com/live/key", "example.com", 1935, "live", "key", "rtmp://example.com:1935/live");
    rtmp_ok("RTMP://Example.COM:19350/live/key", "Example.COM", 19350, "live", "key",
            "rtmp://Example.COM:19350/live");
    rtmp_ok("rtmp://10.0.0.1/live/key", "10.0.0.1", 1935, "live", "key", "rtmp://10.0.0.1:1935/live");
    rtmp_ok("rtmp://my_host-1.lan:1/a/b", "my_host-1.lan", 1, "a", "b", "rtmp://my_host-1.lan:1/a");
}

static void test_rtmp_app_instance_and_query(void **state)
{
    (void)state;
    /* app is everything up to the last '/'; the query stays with the name. */
    rtmp_ok("rtmp://h/live/inst/key?token=abc&x=1", "h", 1935, "live/inst", "key?token=abc&x=1",
            "rtmp://h:1935/live/inst");
    /* A '/' in the query does not move the split. */
    rtmp_ok("rtmp://h/live/key?sig=a/b/c", "h", 1935, "live", "key?sig=a/b/c", "rtmp://h:1935/live");
    /* No name: the caller supplies it. */
    rtmp_ok("rtmp://h/live", "h", 1935, "live", "", "rtmp://h:1935/live");
    rtmp_ok("rtmp://h/live/", "h", 1935, "live", "", "rtmp://h:1935/live");
    /* A query without a name stays in the app, as OBS would send it in connect. */
    rtmp_ok("rtmp://h/live?vhost=v", "h", 1935, "live?vhost=v", "", "rtmp://h:1935/live?vhost=v");
}

static void test_rtmp_ipv6(void **state)
{
    (void)state;
    rtmp_ok("rtmp://[::1]/live/key", "::1", 1935, "live", "key", "rtmp://[::1]:1935/live");
    rtmp_ok("rtmp://[2001:db8::7]:1936/live/key", "2001:db8::7", 1936, "live", "key",
            "rtmp://[2001:db8::7]:1936/live");
    rtmp_fails("rtmp://[::1/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://[::g]/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://[::1]x/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://[]/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://::1/live/key", SL_ERR_PROTO);
}

static void test_rtmp_malformed(void **state)
{
    (void)state;
    rtmp_fails("", SL_ERR_PROTO);
    rtmp_fails("rtmp:/", SL_ERR_PROTO);
    rtmp_fails("example.com/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmps://h/live/key", SL_ERR_UNSUPPORTED);
    rtmp_fails("http://h/live/key", SL_ERR_UNSUPPORTED);
    rtmp_fails("rtmp://", SL_ERR_PROTO);
    rtmp_fails("rtmp:///live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h", SL_ERR_PROTO);
    rtmp_fails("rtmp://h/", SL_ERR_PROTO);
    rtmp_fails("rtmp://h//key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h:/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h:0/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h:65536/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h:123456/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h:12a/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h:-1/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://user:pw@h/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h/live/key with space", SL_ERR_PROTO);
    rtmp_fails("rtmp://h/live/key\r\nX: y", SL_ERR_PROTO);
    rtmp_fails("rtmp://h/live/key#frag", SL_ERR_PROTO);
    rtmp_fails("rtmp://h\\x/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h!/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://999.1.1.1/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://1.2.3/live/key", SL_ERR_PROTO);
    rtmp_fails("rtmp://h/live/k\x7f", SL_ERR_PROTO);
}

/* A string of n copies of c, NUL-terminated, owned by the caller. */
static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t p = strlen(prefix), s = strlen(suffix);
    char *b = malloc(p + n + s + 1);
    assert_non_null(b);
    memcpy(b, prefix, p);
    memset(b + p, c, n);
    memcpy(b + p + n, suffix, s + 1);
    return b;
}

static void test_rtmp_bounds(void **state)
{
    (void)state;
    /* A 253-character name is the longest a host may be. */
    char *u = repeat("rtmp://", 'a', 253, "/live/key");
    sl_rtmp_url_t url;
    assert_int_equal(sl_rtmp_url_parse(u, &url), SL_OK);
    assert_int_equal(strlen(url.host), 253);
    free(u);
    u = repeat("rtmp://", 'a', 254, "/live/key");
    rtmp_fails(u, SL_ERR_PROTO);
    free(u);
    /* The app and the name fill their arrays exactly, then overflow. */
    u = repeat("rtmp://h/", 'a', SL_URL_APP_MAX - 1, "/key");
    assert_int_equal(sl_rtmp_url_parse(u, &url), SL_OK);
    assert_int_equal(strlen(url.app), SL_URL_APP_MAX - 1);
    assert_int_equal(strlen(url.tc_url), strlen("rtmp://h:1935/") + SL_URL_APP_MAX - 1);
    free(u);
    u = repeat("rtmp://h/", 'a', SL_URL_APP_MAX, "/key");
    rtmp_fails(u, SL_ERR_TOO_BIG);
    free(u);
    u = repeat("rtmp://h/live/", 'k', SL_URL_NAME_MAX - 1, "");
    assert_int_equal(sl_rtmp_url_parse(u, &url), SL_OK);
    free(u);
    u = repeat("rtmp://h/live/", 'k', SL_URL_NAME_MAX, "");
    rtmp_fails(u, SL_ERR_TOO_BIG);
    free(u);
    /* Absurdly long input is refused as a whole. */
    u = repeat("rtmp://h/live/", 'k', 1 << 20, "");
    rtmp_fails(u, SL_ERR_TOO_BIG);
    free(u);
}

static void test_rtsp_credentials(void **state)
{
    (void)state;
    sl_rtsp_url_t u;
    assert_int_equal(sl_rtsp_url_parse("rtsp://admin:p%40ss%3Aw0rd@192.168.1.10:8554/Streaming/Channels/101?a=1", &u),
                     SL_OK);
    assert_string_equal(u.user, "admin");
    assert_string_equal(u.pass, "p@ss:w0rd");
    assert_string_equal(u.host, "192.168.1.10");
    assert_int_equal(u.port, 8554);
    assert_string_equal(u.path, "/Streaming/Channels/101?a=1");
    assert_string_equal(u.request_url, "rtsp://192.168.1.10:8554/Streaming/Channels/101?a=1");

    /* An unencoded '@' in the password: the last '@' before the path ends the userinfo. */
    assert_int_equal(sl_rtsp_url_parse("RTSP://us%65r:a@b@cam/x", &u), SL_OK);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "a@b");
    assert_string_equal(u.host, "cam");
    assert_int_equal(u.port, 554);
    assert_string_equal(u.request_url, "rtsp://cam/x");

    /* A user without a password, an empty user with one. */
    assert_int_equal(sl_rtsp_url_parse("rtsp://bob@cam/x", &u), SL_OK);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.pass, "");
    assert_int_equal(sl_rtsp_url_parse("rtsp://:secret@cam/x", &u), SL_OK);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "secret");
}

static void test_rtsp_shapes(void **state)
{
    (void)state;
    sl_rtsp_url_t u;
    assert_int_equal(sl_rtsp_url_parse("rtsp://cam", &u), SL_OK);
    assert_string_equal(u.user, "");
    assert_string_equal(u.path, "/");
    assert_string_equal(u.request_url, "rtsp://cam/");
    assert_int_equal(sl_rtsp_url_parse("rtsp://u:p@[fe80::1]:10554/live.sdp", &u), SL_OK);
    assert_string_equal(u.host, "fe80::1");
    assert_int_equal(u.port, 10554);
    assert_string_equal(u.request_url, "rtsp://[fe80::1]:10554/live.sdp");
    /* A '@' in the path belongs to the path. */
    assert_int_equal(sl_rtsp_url_parse("rtsp://cam/a@b", &u), SL_OK);
    assert_string_equal(u.user, "");
    assert_string_equal(u.host, "cam");
    assert_string_equal(u.path, "/a@b");
}

static void rtsp_fails(const char *url, int want)
{
    sl_rtsp_url_t u;
    memset(&u, 0x55, sizeof(u));
    assert_int_equal(sl_rtsp_url_parse(url, &u), want);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "");
    assert_string_equal(u.host, "");
}

static void test_rtsp_malformed(void **state)
{
    (void)state;
    rtsp_fails("rtsps://cam/x", SL_ERR_UNSUPPORTED);
    rtsp_fails("rtmp://cam/x", SL_ERR_UNSUPPORTED);
    rtsp_fails("cam/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://", SL_ERR_PROTO);
    rtsp_fails("rtsp://u:p@/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://u:p%4@cam/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://u:p%@cam/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://u:p%zz@cam/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://u:p%00@cam/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://cam:99999/x", SL_ERR_PROTO);
    rtsp_fails("rtsp://cam?x", SL_ERR_PROTO);
    rtsp_fails("rtsp://u:p w@cam/x", SL_ERR_PROTO);
    char *u = repeat("rtsp://", 'u', SL_URL_USER_MAX, ":p@cam/x");
    rtsp_fails(u, SL_ERR_TOO_BIG);
    free(u);
    u = repeat("rtsp://cam/", 'p', SL_URL_PATH_MAX, "");
    rtsp_fails(u, SL_ERR_TOO_BIG);
    free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtmp_basic),
        cmocka_unit_test(test_rtmp_app_instance_and_query),
        cmocka_unit_test(test_rtmp_ipv6),
        cmocka_unit_test(test_rtmp_malformed),
        cmocka_unit_test(test_rtmp_bounds),
        cmocka_unit_test(test_rtsp_credentials),
        cmocka_unit_test(test_rtsp_shapes),
        cmocka_unit_test(test_rtsp_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
