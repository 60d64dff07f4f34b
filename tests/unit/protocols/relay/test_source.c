#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "protocols/relay/source.h"

static void test_rtsp_with_options(void **state)
{
    sl_source_spec_t s;
    const char *why = NULL;
    assert_int_equal(sl_source_spec_parse("cams/door rtsp://u:p@10.0.0.5/stream1 transport=udp always_on", &s, &why),
                     SL_OK);
    assert_string_equal(s.key, "cams/door");
    assert_string_equal(s.url, "rtsp://u:p@10.0.0.5/stream1");
    assert_true(s.rtsp);
    assert_int_equal(s.transport, SL_SOURCE_UDP);
    assert_true(s.always_on);
}

static void test_defaults(void **state)
{
    sl_source_spec_t s;
    const char *why = NULL;
    /* Runs of spaces separate words like one. */
    assert_int_equal(sl_source_spec_parse("cams/yard   rtsp://10.0.0.7/live", &s, &why), SL_OK);
    assert_int_equal(s.transport, SL_SOURCE_AUTO);
    assert_false(s.always_on);
    assert_int_equal(sl_source_spec_parse("live/remote rtmp://origin:1936/live/cam", &s, &why), SL_OK);
    assert_false(s.rtsp);
    assert_string_equal(s.url, "rtmp://origin:1936/live/cam");
}

static void expect_refused(const char *entry, const char *reason)
{
    sl_source_spec_t s;
    const char *why = NULL;
    memset(&s, 'x', sizeof(s));
    assert_int_equal(sl_source_spec_parse(entry, &s, &why), SL_ERR_PROTO);
    assert_string_equal(why, reason);
    /* Nothing of a refused entry is kept. */
    assert_string_equal(s.key, "");
    assert_false(s.always_on);
}

static void test_refused(void **state)
{
    expect_refused("", "expected \"KEY URL [transport=tcp|udp|auto] [always_on]\"");
    expect_refused("cams/door", "expected \"KEY URL [transport=tcp|udp|auto] [always_on]\"");
    expect_refused("door rtsp://h/x", "the stream key is not \"app/name\"");
    expect_refused("cams/../x rtsp://h/x", "the stream key is not \"app/name\"");
    expect_refused("cams/door http://h/x", "the URL is not rtsp://host/path or rtmp://host/app/name");
    expect_refused("cams/door rtsp://h:0/x", "the URL is not rtsp://host/path or rtmp://host/app/name");
    expect_refused("cams/door rtmp://h/live", "an rtmp:// source names its stream: rtmp://host/app/name");
    expect_refused("cams/door rtsp://h/x transport=quic", "transport is tcp, udp or auto");
    expect_refused("cams/door rtsp://h/x transport=tcp transport=udp",
                   "unknown or repeated option (transport=tcp|udp|auto, always_on)");
    expect_refused("cams/door rtsp://h/x always_on always_on",
                   "unknown or repeated option (transport=tcp|udp|auto, always_on)");
    expect_refused("cams/door rtsp://h/x on_demand", "unknown or repeated option (transport=tcp|udp|auto, always_on)");
    expect_refused("cams/door rtmp://h/live/cam transport=tcp", "transport= applies to rtsp:// sources only");
    char long_entry[SL_CONFIG_SOURCE_MAX + 8];
    memset(long_entry, 'a', sizeof(long_entry) - 1);
    long_entry[sizeof(long_entry) - 1] = '\0';
    memcpy(long_entry, "cams/door rtsp://h/", 19);
    expect_refused(long_entry, "expected \"KEY URL [transport=tcp|udp|auto] [always_on]\"");
}

static void test_transport_names(void **state)
{
    sl_source_transport_t t;
    assert_string_equal(sl_source_transport_name(SL_SOURCE_AUTO), "auto");
    assert_string_equal(sl_source_transport_name(SL_SOURCE_TCP), "tcp");
    assert_string_equal(sl_source_transport_name(SL_SOURCE_UDP), "udp");
    assert_int_equal(sl_source_transport_parse("udp", &t), SL_OK);
    assert_int_equal(t, SL_SOURCE_UDP);
    assert_int_equal(sl_source_transport_parse("UDP", &t), SL_ERR_PROTO);
    assert_int_equal(sl_source_transport_parse("", &t), SL_ERR_PROTO);
}

static void expect_redacted(const char *url, const char *shown)
{
    char out[SL_CONFIG_SOURCE_MAX];
    sl_source_url_redact(url, out, sizeof(out));
    assert_string_equal(out, shown);
}

static void test_redact(void **state)
{
    expect_redacted("rtsp://admin:secret@10.0.0.5/s1", "rtsp://admin:***@10.0.0.5/s1");
    /* The userinfo ends at the last '@' before the path, as the URL parser reads it. */
    expect_redacted("rtsp://admin:p@ss@10.0.0.5:554/s1?x=@", "rtsp://admin:***@10.0.0.5:554/s1?x=@");
    expect_redacted("rtsp://admin@10.0.0.5/s1", "rtsp://admin@10.0.0.5/s1");
    expect_redacted("rtsp://10.0.0.5/a@b", "rtsp://10.0.0.5/a@b");
    expect_redacted("rtmp://origin/live/cam", "rtmp://origin/live/cam");
    expect_redacted("rtsp://u:p@[::1]:8554/x", "rtsp://u:***@[::1]:8554/x");
    /* Cut to the buffer, still terminated. */
    char small[12];
    sl_source_url_redact("rtsp://admin:secret@10.0.0.5/s1", small, sizeof(small));
    assert_string_equal(small, "rtsp://admi");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtsp_with_options), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refused),           cmocka_unit_test(test_transport_names),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
