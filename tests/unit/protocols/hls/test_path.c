#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/hls/path.h"

/* 2026-11-21T10:00:00.123Z */
#define NOW_MS INT64_C(1795255200123)

/* ---- helpers ---- */

static void assert_route(const char *path, const char *want_key, int want_kind, uint64_t want_seq)
{
    char key[256];
    int kind = -1;
    uint64_t seq = 99;
    int rc = sl_hls_route(path, key, sizeof(key), &kind, &seq);
    if (rc != SL_OK) fail_msg("%s: %s", path, sl_strerror(rc));
    assert_string_equal(key, want_key);
    assert_int_equal(kind, want_kind);
    assert_int_equal(seq, want_seq);
}

static void assert_route_error(const char *path, int want)
{
    char key[256];
    memset(key, 'x', sizeof(key));
    int kind = -1;
    uint64_t seq = 99;
    int rc = sl_hls_route(path, key, sizeof(key), &kind, &seq);
    if (rc != want) fail_msg("%s: got %s, want %s", path, sl_strerror(rc), sl_strerror(want));
    assert_string_equal(key, "");
    assert_int_equal(kind, 0);
    assert_int_equal(seq, 0);
}

static void assert_dir(const char *root, const char *key, const char *want)
{
    char out[512];
    assert_int_equal(sl_hls_record_dir(root, key, NOW_MS, out, sizeof(out)), SL_OK);
    assert_string_equal(out, want);
}

static void assert_dir_error(const char *root, const char *key, int64_t ms, int want)
{
    char out[512];
    memset(out, 'x', sizeof(out));
    int rc = sl_hls_record_dir(root, key, ms, out, sizeof(out));
    if (rc != want) fail_msg("%s + %s: got %s", root, key, sl_strerror(rc));
    assert_string_equal(out, "");
}

/* ---- routes ---- */

static void test_route_good(void **state)
{
    (void)state;
    assert_route("/live/cam/index.m3u8", "live/cam", SL_HLS_PLAYLIST, 0);
    assert_route("/live/cam/0.ts", "live/cam", SL_HLS_SEGMENT, 0);
    assert_route("/live/cam/1234.ts", "live/cam", SL_HLS_SEGMENT, 1234);
    assert_route("/live/cam/000042.ts", "live/cam", SL_HLS_SEGMENT, 42);
    assert_route("/live/cam/18446744073709551615.ts", "live/cam", SL_HLS_SEGMENT, UINT64_MAX);
    assert_route("/live/a/b/c/7.ts", "live/a/b/c", SL_HLS_SEGMENT, 7);
    assert_route("/Live-1/cam_2.hd~x+y=z@host,v2/index.m3u8", "Live-1/cam_2.hd~x+y=z@host,v2",
                 SL_HLS_PLAYLIST, 0);
    assert_route("/a/b./index.m3u8", "a/b.", SL_HLS_PLAYLIST, 0);
}

static void test_route_traversal_refused(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/live/../index.m3u8",
        "/../live/cam/index.m3u8",
        "/live/cam/../index.m3u8",
        "/live/cam/../0.ts",
        "/live/cam/..",
        "/live/cam/.",
        "/live/./cam/index.m3u8",
        "/./live/cam/index.m3u8",
        "/live/a..b/index.m3u8",
        "/live/cam../index.m3u8",
        "/live/.hidden/index.m3u8",
        "/live/cam/.ts",
        "/live/cam/..ts",
        "/live//cam/index.m3u8",
        "//live/cam/index.m3u8",
        "//index.m3u8",
        "/live/cam//index.m3u8",
        "live/cam/index.m3u8",
        "",
        "../live/cam/index.m3u8",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(paths); i++) assert_route_error(paths[i], SL_ERR_PROTO);
}

static void test_route_encodings_and_characters_refused(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/live/%2e%2e/index.m3u8",
        "/live/%2E%2E/index.m3u8",
        "/live/cam%2f..%2f../index.m3u8",
        "/live/cam/%30.ts",
        "/live/cam/index%2em3u8",
        "/live\\..\\etc/cam/index.m3u8",
        "/live/cam\\index.m3u8",
        "/live/c\001am/index.m3u8",
        "/live/cam\x1f/index.m3u8",
        "/live/cam\x7f/index.m3u8",
        "/live/cam\t/index.m3u8",
        "/live/cam /index.m3u8",
        "/live/caf\xc3\xa9/index.m3u8",
        "/live/cam\xff/0.ts",
        "/live/cam?x=1/index.m3u8",
        "/live/cam#x/index.m3u8",
        "/live/cam;x/index.m3u8",
        "/live/c:am/index.m3u8",
        "/live/cam/index.m3u8\n",
        "/live/cam/1.ts\r",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(paths); i++) assert_route_error(paths[i], SL_ERR_PROTO);
}

static void test_route_numbers_refused(void **state)
{
    (void)state;
    assert_route_error("/live/cam/18446744073709551616.ts", SL_ERR_PROTO);
    assert_route_error("/live/cam/99999999999999999999.ts", SL_ERR_PROTO);
    /* 21 digits, even with a small value. */
    assert_route_error("/live/cam/000000000000000000001.ts", SL_ERR_PROTO);
}

static void test_route_not_found(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/",
        "/index.m3u8",
        "/live/index.m3u8",
        "/live/7.ts",
        "/live/cam",
        "/live/cam/",
        "/live/cam/index.m3u",
        "/live/cam/index.m3u8x",
        "/live/cam/playlist.m3u8",
        "/live/cam/x.ts",
        "/live/cam/1x.ts",
        "/live/cam/-1.ts",
        "/live/cam/+1.ts",
        "/live/cam/1.mp4",
        "/live/cam/1.ts.bak",
        "/live/cam/ts",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(paths); i++) assert_route_error(paths[i], SL_ERR_NOT_FOUND);
}

static void test_route_key_size(void **state)
{
    (void)state;
    char key[9];
    int kind;
    uint64_t seq;
    /* "live/cam" is 8 characters: fits 9 with its NUL, not 8. */
    assert_int_equal(sl_hls_route("/live/cam/1.ts", key, sizeof(key), &kind, &seq), SL_OK);
    assert_string_equal(key, "live/cam");
    assert_int_equal(sl_hls_route("/live/cam/1.ts", key, 8, &kind, &seq), SL_ERR_PROTO);
    assert_string_equal(key, "");
    assert_int_equal(sl_hls_route("/live/cam/1.ts", key, 0, &kind, &seq), SL_ERR_PROTO);
    assert_int_equal(kind, 0);

    char path[600] = "/live/";
    memset(path + 6, 'a', 300);
    strcpy(path + 306, "/index.m3u8");
    char big[256];
    assert_int_equal(sl_hls_route(path, big, sizeof(big), &kind, &seq), SL_ERR_PROTO);
}

/* ---- keys and record directories ---- */

static void test_key_safe(void **state)
{
    (void)state;
    assert_true(sl_hls_key_safe("live/cam"));
    assert_true(sl_hls_key_safe("live/a/b"));
    assert_false(sl_hls_key_safe("live"));
    assert_false(sl_hls_key_safe(""));
    assert_false(sl_hls_key_safe("/live/cam"));
    assert_false(sl_hls_key_safe("live/cam/"));
    assert_false(sl_hls_key_safe("live//cam"));
    assert_false(sl_hls_key_safe("live/.."));
    assert_false(sl_hls_key_safe("live/a..b"));
    assert_false(sl_hls_key_safe("live/%2e%2e"));
}

static void test_record_dir_good(void **state)
{
    (void)state;
    assert_dir("/var/lib/sluice/rec", "live/cam", "/var/lib/sluice/rec/live/cam/20261121-100000");
    assert_dir("/var/lib/sluice/rec///", "live/cam", "/var/lib/sluice/rec/live/cam/20261121-100000");
    assert_dir("/", "live/cam", "/live/cam/20261121-100000");
    assert_dir("rec", "live/a/b", "rec/live/a/b/20261121-100000");

    char out[64];
    assert_int_equal(sl_hls_record_dir("r", "a/b", 0, out, sizeof(out)), SL_OK);
    assert_string_equal(out, "r/a/b/19700101-000000");
    assert_int_equal(sl_hls_record_dir("r", "a/b", 253402300799999, out, sizeof(out)), SL_OK);
    assert_string_equal(out, "r/a/b/99991231-235959");
}

static void test_record_dir_refused(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "../x",       "live/../../etc", "live/..",   "live/.",      "live",
        "/live/cam",  "live/cam/",      "live//cam", "live/%2e%2e", "live\\..\\x/cam",
        "live/c\nam", "live/caf\xc3\xa9", "",        "live/.ssh",   "live/cam name",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(keys); i++)
        assert_dir_error("/rec", keys[i], NOW_MS, SL_ERR_PROTO);
    assert_dir_error("", "live/cam", NOW_MS, SL_ERR_PROTO);
    assert_dir_error("/rec", "live/cam", -1, SL_ERR_PROTO);
    assert_dir_error("/rec", "live/cam", 253402300800000, SL_ERR_PROTO);
    assert_dir_error("/rec", "live/cam", INT64_MAX, SL_ERR_PROTO);
}

static void test_record_dir_too_big(void **state)
{
    (void)state;
    char out[32];
    /* "/rec/live/cam/20261121-100000" is 29 characters. */
    assert_int_equal(sl_hls_record_dir("/rec", "live/cam", NOW_MS, out, 30), SL_OK);
    memset(out, 'x', sizeof(out));
    assert_int_equal(sl_hls_record_dir("/rec", "live/cam", NOW_MS, out, 29), SL_ERR_TOO_BIG);
    assert_string_equal(out, "");
    assert_int_equal(sl_hls_record_dir("/rec", "live/cam", NOW_MS, out, 4), SL_ERR_TOO_BIG);
    assert_string_equal(out, "");
    assert_int_equal(sl_hls_record_dir("/rec", "live/cam", NOW_MS, out, 0), SL_ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_good),
        cmocka_unit_test(test_route_traversal_refused),
        cmocka_unit_test(test_route_encodings_and_characters_refused),
        cmocka_unit_test(test_route_numbers_refused),
        cmocka_unit_test(test_route_not_found),
        cmocka_unit_test(test_route_key_size),
        cmocka_unit_test(test_key_safe),
        cmocka_unit_test(test_record_dir_good),
        cmocka_unit_test(test_record_dir_refused),
        cmocka_unit_test(test_record_dir_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
