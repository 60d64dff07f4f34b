/* The Prometheus text format writer: exact bytes of families and samples, escaping,
 * number forms, name checks, and that a refused call leaves the output as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "sluice/prom.h"

/* Asserts that b holds exactly `expect`, then empties it. */
static void assert_text(sl_bytes_t *b, const char *expect)
{
    size_t n = strlen(expect);
    if (b->len != n || (n > 0 && memcmp(b->data, expect, n) != 0))
        fail_msg("got \"%.*s\", want \"%s\"", (int)b->len, b->len ? (const char *)b->data : "", expect);
    b->len = 0;
}

static void test_family(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_prom_family(&b, "sluice_bytes_in_total", SL_PROM_COUNTER, "Bytes received."), SL_OK);
    assert_text(&b, "# HELP sluice_bytes_in_total Bytes received.\n# TYPE sluice_bytes_in_total counter\n");
    assert_int_equal(sl_prom_family(&b, "sluice:streams", SL_PROM_GAUGE, NULL), SL_OK);
    assert_text(&b, "# TYPE sluice:streams gauge\n");
    /* Help escapes '\' and newline but not '"'. */
    assert_int_equal(sl_prom_family(&b, "x", SL_PROM_GAUGE, "a\\b\nc \"d\""), SL_OK);
    assert_text(&b, "# HELP x a\\\\b\\nc \"d\"\n# TYPE x gauge\n");
    assert_int_equal(sl_prom_family(&b, "x", SL_PROM_GAUGE, ""), SL_OK);
    assert_text(&b, "# HELP x \n# TYPE x gauge\n");

    /* Refusals leave what was there. */
    assert_int_equal(sl_bytes_append(&b, "keep\n", 5), SL_OK);
    assert_int_equal(sl_prom_family(&b, "1x", SL_PROM_GAUGE, "h"), SL_ERR_PROTO);
    assert_int_equal(sl_prom_family(&b, "", SL_PROM_GAUGE, "h"), SL_ERR_PROTO);
    assert_int_equal(sl_prom_family(&b, "a-b", SL_PROM_COUNTER, "h"), SL_ERR_PROTO);
    assert_int_equal(sl_prom_family(&b, "x", (sl_prom_type_t)7, "h"), SL_ERR_PROTO);
    assert_text(&b, "keep\n");
    sl_bytes_free(&b);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const metric_ok[] = {"a", "_", ":", "a:b_c9", "A_Z", "sluice_x_total"};
    static const char *const metric_bad[] = {"", "9a", "a b", "a-b", "a.b", "a{", "é", "a\n"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(metric_ok); i++) assert_true(sl_prom_metric_name_valid(metric_ok[i]));
    for (size_t i = 0; i < SL_ARRAY_SIZE(metric_bad); i++) assert_false(sl_prom_metric_name_valid(metric_bad[i]));
    static const char *const label_ok[] = {"a", "_", "_a", "a__b", "stream", "A9"};
    static const char *const label_bad[] = {"", "__", "__name__", "a:b", "9", "a b", "a=", "a\""};
    for (size_t i = 0; i < SL_ARRAY_SIZE(label_ok); i++) assert_true(sl_prom_label_name_valid(label_ok[i]));
    for (size_t i = 0; i < SL_ARRAY_SIZE(label_bad); i++) assert_false(sl_prom_label_name_valid(label_bad[i]));
}

static void test_sample_labels(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_prom_sample_u64(&b, "up", NULL, 0, 1), SL_OK);
    assert_text(&b, "up 1\n");
    sl_prom_label_t two[] = {{"stream", "live/cam1"}, {"protocol", "rtmp"}};
    assert_int_equal(sl_prom_sample_u64(&b, "sluice_bytes_in_total", two, 2, 1234567), SL_OK);
    assert_text(&b, "sluice_bytes_in_total{stream=\"live/cam1\",protocol=\"rtmp\"} 1234567\n");
    /* Escapes in values; NULL and empty values. */
    sl_prom_label_t esc[] = {{"v", "a\\b\"c\nd"}, {"e", ""}, {"n", NULL}};
    assert_int_equal(sl_prom_sample(&b, "m", esc, 3, 2.5), SL_OK);
    assert_text(&b, "m{v=\"a\\\\b\\\"c\\nd\",e=\"\",n=\"\"} 2.5\n");
    /* Other bytes pass as they are when they are UTF-8: tab, CR, '{', '}', ',', '='. */
    sl_prom_label_t raw[] = {{"ua", "x\t\r{},= \xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xa5"}};
    assert_int_equal(sl_prom_sample_u64(&b, "m", raw, 1, 0), SL_OK);
    assert_text(&b, "m{ua=\"x\t\r{},= \xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xa5\"} 0\n");
    sl_bytes_free(&b);
}

static void test_sample_utf8(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    /* Each ill-formed byte becomes U+FFFD (EF BF BD); the rest is kept. */
    static const struct {
        const char *in, *out;
    } v[] = {
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},                             /* never valid */
        {"\x80", "\xef\xbf\xbd"},                                        /* lone continuation */
        {"\xc3", "\xef\xbf\xbd"},                                        /* truncated at the end */
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},                        /* truncated 3-byte */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                        /* overlong '/' */
        {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},        /* overlong 3-byte */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},        /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
        {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},                        /* U+10FFFF itself */
        {"\xed\x9f\xbf", "\xed\x9f\xbf"},                                /* U+D7FF */
        {"\xc3\"", "\xef\xbf\xbd\\\""},                                  /* a cut sequence before a quote */
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(v); i++) {
        sl_prom_label_t l = {"l", v[i].in};
        assert_int_equal(sl_prom_sample_u64(&b, "m", &l, 1, 1), SL_OK);
        char want[64];
        snprintf(want, sizeof(want), "m{l=\"%s\"} 1\n", v[i].out);
        assert_text(&b, want);
    }
    /* And in help. */
    assert_int_equal(sl_prom_family(&b, "m", SL_PROM_GAUGE, "\xfe\n"), SL_OK);
    assert_text(&b, "# HELP m \xef\xbf\xbd\\n\n# TYPE m gauge\n");
    sl_bytes_free(&b);
}

static void test_values(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    static const struct {
        double v;
        const char *text;
    } v[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1.0, "1"},
        {-3.0, "-3"},
        {1e6, "1000000"},
        {1e15, "1000000000000000"},
        {9007199254740991.0, "9007199254740991"}, /* 2^53 - 1 */
        {9007199254740992.0, "9007199254740992"}, /* 2^53: shortest form is exact */
        {1e16, "1e+16"},
        {0.1, "0.1"},
        {2.5, "2.5"},
        {-0.001, "-0.001"},
        {1.0 / 3.0, "0.3333333333333333"},
        {123456.789, "123456.789"},
        {1e-7, "1e-07"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {NAN, "NaN"},
        {-NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(v); i++) {
        assert_int_equal(sl_prom_sample(&b, "g", NULL, 0, v[i].v), SL_OK);
        char want[64];
        snprintf(want, sizeof(want), "g %s\n", v[i].text);
        assert_text(&b, want);
    }
    assert_int_equal(sl_prom_sample_u64(&b, "c", NULL, 0, UINT64_MAX), SL_OK);
    assert_text(&b, "c 18446744073709551615\n");
    assert_int_equal(sl_prom_sample_u64(&b, "c", NULL, 0, (1ull << 53) + 1), SL_OK);
    assert_text(&b, "c 9007199254740993\n");
    sl_bytes_free(&b);
}

static void test_sample_refused(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_bytes_append(&b, "keep\n", 5), SL_OK);
    sl_prom_label_t dup[] = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
    assert_int_equal(sl_prom_sample(&b, "m", dup, 3, 1), SL_ERR_PROTO);
    sl_prom_label_t reserved[] = {{"__name__", "x"}};
    assert_int_equal(sl_prom_sample_u64(&b, "m", reserved, 1, 1), SL_ERR_PROTO);
    sl_prom_label_t bad[] = {{"ok", "1"}, {"no-dash", "2"}};
    assert_int_equal(sl_prom_sample_u64(&b, "m", bad, 2, 1), SL_ERR_PROTO);
    sl_prom_label_t empty[] = {{"", "1"}};
    assert_int_equal(sl_prom_sample_u64(&b, "m", empty, 1, 1), SL_ERR_PROTO);
    sl_prom_label_t fine[] = {{"a", "1"}};
    assert_int_equal(sl_prom_sample_u64(&b, "m m", fine, 1, 1), SL_ERR_PROTO);
    assert_int_equal(sl_prom_sample(&b, "", NULL, 0, 1), SL_ERR_PROTO);
    assert_text(&b, "keep\n");
    sl_bytes_free(&b);
}

/* A whole exposition as /metrics would answer it. */
static void test_exposition(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    sl_prom_label_t s1[] = {{"stream", "live/a"}}, s2[] = {{"stream", "live/\"b\""}};
    assert_int_equal(sl_prom_family(&b, "sluice_streams", SL_PROM_GAUGE, "Live streams."), SL_OK);
    assert_int_equal(sl_prom_sample_u64(&b, "sluice_streams", NULL, 0, 2), SL_OK);
    assert_int_equal(sl_prom_family(&b, "sluice_viewers", SL_PROM_GAUGE, "Viewers per stream."), SL_OK);
    assert_int_equal(sl_prom_sample_u64(&b, "sluice_viewers", s1, 1, 3), SL_OK);
    assert_int_equal(sl_prom_sample_u64(&b, "sluice_viewers", s2, 1, 0), SL_OK);
    assert_int_equal(sl_prom_family(&b, "sluice_uptime_seconds", SL_PROM_COUNTER, "Seconds since start."),
                     SL_OK);
    assert_int_equal(sl_prom_sample(&b, "sluice_uptime_seconds", NULL, 0, 12.25), SL_OK);
    assert_text(&b, "# HELP sluice_streams Live streams.\n"
                    "# TYPE sluice_streams gauge\n"
                    "sluice_streams 2\n"
                    "# HELP sluice_viewers Viewers per stream.\n"
                    "# TYPE sluice_viewers gauge\n"
                    "sluice_viewers{stream=\"live/a\"} 3\n"
                    "sluice_viewers{stream=\"live/\\\"b\\\"\"} 0\n"
                    "# HELP sluice_uptime_seconds Seconds since start.\n"
                    "# TYPE sluice_uptime_seconds counter\n"
                    "sluice_uptime_seconds 12.25\n");
    sl_bytes_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family),        cmocka_unit_test(test_names),
        cmocka_unit_test(test_sample_labels), cmocka_unit_test(test_sample_utf8),
        cmocka_unit_test(test_values),        cmocka_unit_test(test_sample_refused),
        cmocka_unit_test(test_exposition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
