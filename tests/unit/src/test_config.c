#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/config.h"
#include "sluice/log.h"

/* The repository root, found from this file's path so the test runs from any build
 * directory: __FILE__ ends in tests/unit/src/test_config.c. */
static void source_path(char *out, size_t cap, const char *rel)
{
    static const char suffix[] = "tests/unit/src/test_config.c";
    const char *self = __FILE__;
    size_t n = strlen(self), root = n - (sizeof(suffix) - 1);
    assert_true(n >= sizeof(suffix) - 1);
    assert_string_equal(&self[root], suffix);
    int w = snprintf(out, cap, "%.*s%s", (int)root, self, rel);
    assert_true(w > 0 && (size_t)w < cap);
}

static int parse(sl_config_t *cfg, const char *yaml, sl_config_errors_t *errs)
{
    sl_config_defaults(cfg);
    return sl_config_parse(cfg, "sluice.yaml", yaml, strlen(yaml), errs);
}

/* Asserts `yaml` fails with exactly the one message `expected`. */
static void expect_error(const char *yaml, const char *expected)
{
    sl_config_t cfg;
    sl_config_errors_t errs;
    assert_int_equal(parse(&cfg, yaml, &errs), SL_ERR_CONFIG);
    if (errs.count != 1) {
        for (int i = 0; i < errs.count; i++) print_error("  got: %s\n", errs.msg[i]);
    }
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.msg[0], expected);
}

static void expect_ok(const char *yaml, sl_config_t *cfg)
{
    sl_config_errors_t errs;
    int rc = parse(cfg, yaml, &errs);
    for (int i = 0; i < errs.count; i++) print_error("  unexpected: %s\n", errs.msg[i]);
    assert_int_equal(rc, SL_OK);
    assert_int_equal(errs.count, 0);
}

static void assert_listen_equal(const sl_listen_list_t *a, const sl_listen_list_t *b)
{
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        assert_string_equal(a->addr[i].host, b->addr[i].host);
        assert_int_equal(a->addr[i].port, b->addr[i].port);
    }
}

/* Field by field, as padding makes memcmp of two configs meaningless. */
static void assert_config_equal(const sl_config_t *a, const sl_config_t *b)
{
    assert_int_equal(a->log_level, b->log_level);
    assert_int_equal(a->rtmp.enabled, b->rtmp.enabled);
    assert_listen_equal(&a->rtmp.listen, &b->rtmp.listen);
    assert_int_equal(a->rtmp.chunk_size, b->rtmp.chunk_size);
    assert_int_equal(a->http.enabled, b->http.enabled);
    assert_listen_equal(&a->http.listen, &b->http.listen);
    assert_string_equal(a->http.cors_origin, b->http.cors_origin);
    assert_int_equal(a->rtsp.enabled, b->rtsp.enabled);
    assert_listen_equal(&a->rtsp.listen, &b->rtsp.listen);
    assert_int_equal(a->rtsp.udp_port_range.min, b->rtsp.udp_port_range.min);
    assert_int_equal(a->rtsp.udp_port_range.max, b->rtsp.udp_port_range.max);
    assert_int_equal(a->rtsp.session_timeout_ms, b->rtsp.session_timeout_ms);
    assert_string_equal(a->rtsp.user, b->rtsp.user);
    assert_string_equal(a->rtsp.password, b->rtsp.password);
    assert_int_equal(a->hls.enabled, b->hls.enabled);
    assert_int_equal(a->hls.segment_duration_ms, b->hls.segment_duration_ms);
    assert_int_equal(a->hls.playlist_length, b->hls.playlist_length);
    assert_int_equal(a->hls.on_demand, b->hls.on_demand);
    assert_int_equal(a->record.enabled, b->record.enabled);
    assert_string_equal(a->record.path, b->record.path);
    assert_string_equal(a->record.streams, b->record.streams);
    assert_int_equal(a->hub.gop_cache, b->hub.gop_cache);
    assert_int_equal(a->limits.max_connections, b->limits.max_connections);
    assert_int_equal(a->limits.viewer_queue_soft_ms, b->limits.viewer_queue_soft_ms);
    assert_int_equal(a->limits.viewer_queue_hard_ms, b->limits.viewer_queue_hard_ms);
    assert_int_equal(a->limits.viewer_queue_hard_bytes, b->limits.viewer_queue_hard_bytes);
    assert_int_equal(a->limits.rtmp_max_message_bytes, b->limits.rtmp_max_message_bytes);
    assert_int_equal(a->limits.http_max_header_bytes, b->limits.http_max_header_bytes);
    assert_int_equal(a->limits.http_max_body_bytes, b->limits.http_max_body_bytes);
    assert_int_equal(a->limits.handshake_timeout_ms, b->limits.handshake_timeout_ms);
    assert_int_equal(a->limits.idle_timeout_ms, b->limits.idle_timeout_ms);
}

static void test_defaults(void **state)
{
    sl_config_t c;
    memset(&c, 0xA5, sizeof(c));
    sl_config_defaults(&c);
    assert_int_equal(c.log_level, SL_LOG_INFO);
    assert_true(c.rtmp.enabled);
    assert_int_equal(c.rtmp.listen.count, 1);
    assert_string_equal(c.rtmp.listen.addr[0].host, "0.0.0.0");
    assert_int_equal(c.rtmp.listen.addr[0].port, 1935);
    assert_int_equal(c.rtmp.chunk_size, 4096);
    assert_true(c.http.enabled);
    assert_int_equal(c.http.listen.count, 1);
    assert_string_equal(c.http.listen.addr[0].host, "0.0.0.0");
    assert_int_equal(c.http.listen.addr[0].port, 8080);
    assert_string_equal(c.http.cors_origin, "*");
    assert_true(c.rtsp.enabled);
    assert_int_equal(c.rtsp.listen.addr[0].port, 8554);
    assert_int_equal(c.rtsp.udp_port_range.min, 10000);
    assert_int_equal(c.rtsp.udp_port_range.max, 10999);
    assert_int_equal(c.rtsp.session_timeout_ms, 60000);
    assert_true(c.hls.enabled);
    assert_int_equal(c.hls.segment_duration_ms, 2000);
    assert_int_equal(c.hls.playlist_length, 6);
    assert_false(c.hls.on_demand);
    assert_false(c.record.enabled);
    assert_string_equal(c.record.path, "/var/lib/sluice/recordings");
    assert_string_equal(c.record.streams, "*");
    assert_int_equal(c.hub.gop_cache, 1);
    assert_int_equal(c.limits.max_connections, 1000);
    assert_int_equal(c.limits.viewer_queue_soft_ms, 3000);
    assert_int_equal(c.limits.viewer_queue_hard_ms, 10000);
    assert_int_equal(c.limits.viewer_queue_hard_bytes, 33554432);
    assert_int_equal(c.limits.rtmp_max_message_bytes, 8388608);
    assert_int_equal(c.limits.http_max_header_bytes, 16384);
    assert_int_equal(c.limits.http_max_body_bytes, 1048576);
    assert_int_equal(c.limits.handshake_timeout_ms, 10000);
    assert_int_equal(c.limits.idle_timeout_ms, 30000);
}

static void test_shipped_config_is_the_defaults(void **state)
{
    char path[4096];
    sl_config_t loaded, defaults;
    sl_config_errors_t errs;
    source_path(path, sizeof(path), "config/sluice.yaml");
    /* Start from values that differ, so keys missing from the file would show. */
    memset(&loaded, 0, sizeof(loaded));
    sl_config_defaults(&defaults);
    int rc = sl_config_load(&loaded, path, &errs);
    for (int i = 0; i < errs.count; i++) print_error("  %s\n", errs.msg[i]);
    assert_int_equal(rc, SL_OK);
    assert_int_equal(errs.count, 0);
    assert_config_equal(&loaded, &defaults);
}

static void test_every_key_round_trips(void **state)
{
    sl_config_t c;
    expect_ok("log_level: debug\n"
              "rtmp:\n"
              "  enabled: false\n"
              "  listen: \"127.0.0.1:1936\"\n"
              "  chunk_size: 65536\n"
              "http:\n"
              "  enabled: no\n"
              "  listen: [\"[::1]:8081\"]\n"
              "  cors_origin: \"https://example.org\"\n"
              "rtsp:\n"
              "  enabled: false\n"
              "  listen: \"127.0.0.1:1554\"\n"
              "  udp_port_range: \"20000-20001\"\n"
              "  session_timeout_ms: 5000\n"
              "  user: cam\n"
              "  password: \"s3cret pass\"\n"
              "hls:\n"
              "  enabled: false\n"
              "  segment_duration_ms: 60000\n"
              "  playlist_length: 2\n"
              "  on_demand: true\n"
              "record:\n"
              "  enabled: true\n"
              "  path: /srv/rec\n"
              "  streams: \"live/* studio/cam1\"\n"
              "hub:\n"
              "  gop_cache: 8\n"
              "limits:\n"
              "  max_connections: 1000000\n"
              "  viewer_queue_soft_ms: 100\n"
              "  viewer_queue_hard_ms: 600000\n"
              "  viewer_queue_hard_bytes: 65536\n"
              "  rtmp_max_message_bytes: 16777215\n"
              "  http_max_header_bytes: 1024\n"
              "  http_max_body_bytes: 67108864\n"
              "  handshake_timeout_ms: 100\n"
              "  idle_timeout_ms: 3600000\n",
              &c);
    assert_int_equal(c.log_level, SL_LOG_DEBUG);
    assert_false(c.rtmp.enabled);
    assert_int_equal(c.rtmp.listen.count, 1);
    assert_string_equal(c.rtmp.listen.addr[0].host, "127.0.0.1");
    assert_int_equal(c.rtmp.listen.addr[0].port, 1936);
    assert_int_equal(c.rtmp.chunk_size, 65536);
    assert_false(c.http.enabled);
    assert_int_equal(c.http.listen.count, 1);
    assert_string_equal(c.http.listen.addr[0].host, "::1");
    assert_int_equal(c.http.listen.addr[0].port, 8081);
    assert_string_equal(c.http.cors_origin, "https://example.org");
    assert_false(c.rtsp.enabled);
    assert_int_equal(c.rtsp.listen.addr[0].port, 1554);
    assert_int_equal(c.rtsp.udp_port_range.min, 20000);
    assert_int_equal(c.rtsp.udp_port_range.max, 20001);
    assert_int_equal(c.rtsp.session_timeout_ms, 5000);
    assert_string_equal(c.rtsp.user, "cam");
    assert_string_equal(c.rtsp.password, "s3cret pass");
    assert_false(c.hls.enabled);
    assert_int_equal(c.hls.segment_duration_ms, 60000);
    assert_int_equal(c.hls.playlist_length, 2);
    assert_true(c.hls.on_demand);
    assert_true(c.record.enabled);
    assert_string_equal(c.record.path, "/srv/rec");
    assert_string_equal(c.record.streams, "live/* studio/cam1");
    assert_int_equal(c.hub.gop_cache, 8);
    assert_int_equal(c.limits.max_connections, 1000000);
    assert_int_equal(c.limits.viewer_queue_soft_ms, 100);
    assert_int_equal(c.limits.viewer_queue_hard_ms, 600000);
    assert_int_equal(c.limits.viewer_queue_hard_bytes, 65536);
    assert_int_equal(c.limits.rtmp_max_message_bytes, 16777215);
    assert_int_equal(c.limits.http_max_header_bytes, 1024);
    assert_int_equal(c.limits.http_max_body_bytes, 67108864);
    assert_int_equal(c.limits.handshake_timeout_ms, 100);
    assert_int_equal(c.limits.idle_timeout_ms, 3600000);
}

static void test_partial_keeps_other_values(void **state)
{
    sl_config_t c, d;
    expect_ok("rtmp:\n  chunk_size: 128\n", &c);
    sl_config_defaults(&d);
    d.rtmp.chunk_size = 128;
    assert_config_equal(&c, &d);

    /* Text is loaded over what the caller holds, not over the defaults. */
    sl_config_errors_t errs;
    c.hub.gop_cache = 5;
    const char *y = "rtmp:\n  enabled: off\n";
    assert_int_equal(sl_config_parse(&c, "x", y, strlen(y), &errs), SL_OK);
    assert_int_equal(c.hub.gop_cache, 5);
    assert_false(c.rtmp.enabled);
}

static void test_empty_documents_are_defaults(void **state)
{
    static const char *const empties[] = {
        "", "\n", "# only a comment\n", "---\n", "---\n...\n", "~\n", "null\n",
        "rtmp:\n", "rtmp: ~\nhttp:\n  # nothing\n",
    };
    sl_config_t c, d;
    sl_config_defaults(&d);
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        expect_ok(empties[i], &c);
        assert_config_equal(&c, &d);
    }
    /* A NULL text of length 0 is an empty file too. */
    sl_config_errors_t errs;
    assert_int_equal(sl_config_parse(&c, "x", NULL, 0, &errs), SL_OK);
}

static void test_bool_spellings(void **state)
{
    static const struct { const char *text; bool value; } cases[] = {
        { "true", true }, { "True", true }, { "yes", true }, { "on", true }, { "ON", true },
        { "false", false }, { "FALSE", false }, { "no", false }, { "off", false },
        { "\"false\"", false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char y[64];
        sl_config_t c;
        snprintf(y, sizeof(y), "rtmp:\n  enabled: %s\n", cases[i].text);
        expect_ok(y, &c);
        assert_int_equal(c.rtmp.enabled, cases[i].value);
    }
    expect_error("rtmp:\n  enabled: 1\n",
                 "sluice.yaml:2:12: rtmp.enabled: expected true or false, got '1'");
}

static void test_unknown_keys(void **state)
{
    expect_error("log_level: info\nrtmpp:\n  enabled: true\n",
                 "sluice.yaml:2:1: unknown key 'rtmpp'");
    expect_error("rtmp:\n  enabled: true\n  chunksize: 4096\n",
                 "sluice.yaml:3:3: unknown key 'rtmp.chunksize'");
    /* Keys are nested, never dotted. */
    expect_error("rtmp.chunk_size: 4096\n", "sluice.yaml:1:1: unknown key 'rtmp.chunk_size'");
    /* A hostile key is cut and its control bytes hidden. */
    expect_error("\"a\\tbcdefghijklmnopqrstuvwxyz0123456789\": 1\n",
                 "sluice.yaml:1:1: unknown key 'a?bcdefghijklmnopqrstuvwxyz01234...'");
    expect_error("[a, b]: 1\n", "sluice.yaml:1:1: expected a key name, got a sequence");
}

static void test_wrong_types(void **state)
{
    expect_error("rtmp:\n  chunk_size: abc\n",
                 "sluice.yaml:2:15: rtmp.chunk_size: expected an integer from 128 to 65536, "
                 "got 'abc'");
    expect_error("rtmp:\n  enabled:\n    x: 1\n",
                 "sluice.yaml:3:5: rtmp.enabled: expected true or false, got a mapping");
    expect_error("log_level: [info]\n",
                 "sluice.yaml:1:12: log_level: expected error, warn, info or debug, got a "
                 "sequence");
    expect_error("log_level: verbose\n",
                 "sluice.yaml:1:12: log_level: expected error, warn, info or debug, got "
                 "'verbose'");
    expect_error("hub:\n  gop_cache: {a: 1}\n",
                 "sluice.yaml:2:14: hub.gop_cache: expected an integer from 0 to 8, got a "
                 "mapping");
    expect_error("rtmp: 5\n", "sluice.yaml:1:7: rtmp: expected a mapping, got '5'");
    expect_error("rtmp: [1]\n", "sluice.yaml:1:7: rtmp: expected a mapping, got a sequence");
    expect_error("- a\n- b\n",
                 "sluice.yaml:1:1: expected a mapping of keys at the top level, got a "
                 "sequence");
    expect_error("hello\n",
                 "sluice.yaml:1:1: expected a mapping of keys at the top level, got 'hello'");
    expect_error("http:\n  cors_origin: [a]\n",
                 "sluice.yaml:2:16: http.cors_origin: expected a string (\"\" for an empty "
                 "one), got a sequence");
    expect_error("http:\n  cors_origin:\n",
                 "sluice.yaml:2:15: http.cors_origin: expected a string (\"\" for an empty "
                 "one), got null");
}

static void test_port_range(void **state)
{
    const char *why = ": rtsp.udp_port_range: expected \"MIN-MAX\" with 1024 <= MIN < MAX <= 65535 "
                      "and MIN even, got ";
    char want[256];
    const char *bad[] = {"\"10001-10999\"", "\"999-2000\"", "\"2000-70000\"", "\"3000-3000\"",
                         "\"3000\"", "\"a-b\"", "\"-2000\"", "[1, 2]"};
    const char *shown[] = {"'10001-10999'", "'999-2000'", "'2000-70000'", "'3000-3000'",
                           "'3000'", "'a-b'", "'-2000'", "a sequence"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "rtsp:\n  udp_port_range: %s\n", bad[i]);
        snprintf(want, sizeof(want), "sluice.yaml:2:19%s%s", why, shown[i]);
        expect_error(yaml, want);
    }
}

static void test_integers(void **state)
{
    sl_config_t c;
    expect_error("rtmp:\n  chunk_size: 100\n",
                 "sluice.yaml:2:15: rtmp.chunk_size: expected an integer from 128 to 65536, "
                 "got '100'");
    expect_error("rtmp:\n  chunk_size: 65537\n",
                 "sluice.yaml:2:15: rtmp.chunk_size: expected an integer from 128 to 65536, "
                 "got '65537'");
    expect_error("hub:\n  gop_cache: -1\n",
                 "sluice.yaml:2:14: hub.gop_cache: expected an integer from 0 to 8, got '-1'");
    expect_error("hub:\n  gop_cache: +1\n",
                 "sluice.yaml:2:14: hub.gop_cache: expected an integer from 0 to 8, got '+1'");
    expect_error("limits:\n  max_connections: 4294967297\n",
                 "sluice.yaml:2:20: limits.max_connections: expected an integer from 1 to "
                 "1000000, got '4294967297'");
    expect_error("limits:\n  max_connections: 99999999999999999999999\n",
                 "sluice.yaml:2:20: limits.max_connections: expected an integer from 1 to "
                 "1000000, got '99999999999999999999999'");
    expect_error("limits:\n  max_connections: 0x10\n",
                 "sluice.yaml:2:20: limits.max_connections: expected an integer from 1 to "
                 "1000000, got '0x10'");
    expect_error("limits:\n  max_connections: 1_000\n",
                 "sluice.yaml:2:20: limits.max_connections: expected an integer from 1 to "
                 "1000000, got '1_000'");
    expect_error("limits:\n  max_connections: \"\"\n",
                 "sluice.yaml:2:20: limits.max_connections: expected an integer from 1 to "
                 "1000000, got ''");
    expect_ok("hub:\n  gop_cache: 0\nrtmp:\n  chunk_size: \"128\"\n", &c);
    assert_int_equal(c.hub.gop_cache, 0);
    assert_int_equal(c.rtmp.chunk_size, 128);
}

static void test_strings(void **state)
{
    sl_config_t c;
    expect_ok("http:\n  cors_origin: \"\"\n", &c);
    assert_string_equal(c.http.cors_origin, "");
    char y[300];
    char longest[128];
    memset(longest, 'a', 127);
    longest[127] = '\0';
    snprintf(y, sizeof(y), "http:\n  cors_origin: %s\n", longest);
    expect_ok(y, &c);
    assert_string_equal(c.http.cors_origin, longest);
    snprintf(y, sizeof(y), "http:\n  cors_origin: %sb\n", longest);
    expect_error(y, "sluice.yaml:2:16: http.cors_origin: longer than 127 bytes");
    expect_error("http:\n  cors_origin: \"a\\r\\nSet-Cookie: x\"\n",
                 "sluice.yaml:2:16: http.cors_origin: control characters are not allowed");
    expect_error("http:\n  cors_origin: \"a\\0b\"\n",
                 "sluice.yaml:2:16: http.cors_origin: control characters are not allowed");
}

static void test_listen_forms(void **state)
{
    sl_config_t c;
    expect_ok("rtmp:\n  listen: \"192.168.1.2:1935\"\n", &c);
    assert_int_equal(c.rtmp.listen.count, 1);
    assert_string_equal(c.rtmp.listen.addr[0].host, "192.168.1.2");
    assert_int_equal(c.rtmp.listen.addr[0].port, 1935);

    expect_ok("rtmp:\n  listen:\n    - \"0.0.0.0:1935\"\n    - \"[::]:1935\"\n", &c);
    assert_int_equal(c.rtmp.listen.count, 2);
    assert_string_equal(c.rtmp.listen.addr[0].host, "0.0.0.0");
    assert_int_equal(c.rtmp.listen.addr[0].port, 1935);
    assert_string_equal(c.rtmp.listen.addr[1].host, "::");
    assert_int_equal(c.rtmp.listen.addr[1].port, 1935);
    /* The other list keeps its default. */
    assert_int_equal(c.http.listen.count, 1);
    assert_int_equal(c.http.listen.addr[0].port, 8080);

    expect_ok("http:\n  listen: [\":80\", \"[fe80::1]:443\"]\n", &c);
    assert_int_equal(c.http.listen.count, 2);
    assert_string_equal(c.http.listen.addr[0].host, "0.0.0.0");
    assert_int_equal(c.http.listen.addr[0].port, 80);
    assert_string_equal(c.http.listen.addr[1].host, "fe80::1");
    assert_int_equal(c.http.listen.addr[1].port, 443);

    expect_ok("http:\n  listen: [':1', ':2', ':3', ':4', ':5', ':6', ':7', ':8']\n", &c);
    assert_int_equal(c.http.listen.count, SL_CONFIG_MAX_LISTEN);
    assert_int_equal(c.http.listen.addr[7].port, 8);
}

static void test_listen_errors(void **state)
{
    expect_error("rtmp:\n  listen: \"1.2.3.4\"\n",
                 "sluice.yaml:2:11: rtmp.listen: '1.2.3.4': expected host:port, [IPv6]:port "
                 "or :port");
    expect_error("rtmp:\n  listen: \"[::1]\"\n",
                 "sluice.yaml:2:11: rtmp.listen: '[::1]': expected a port after ']', as in "
                 "[::1]:1935");
    expect_error("rtmp:\n  listen: \"host:99999\"\n",
                 "sluice.yaml:2:11: rtmp.listen: 'host:99999': the port must be a number "
                 "from 1 to 65535");
    expect_error("http:\n  listen:\n    - \":8080\"\n    - \"example.com:80\"\n",
                 "sluice.yaml:4:7: http.listen: 'example.com:80': the host must be an IPv4 "
                 "address or a bracketed IPv6 address (names are not resolved)");
    expect_error("rtmp:\n  listen: \"::1:1935\"\n",
                 "sluice.yaml:2:11: rtmp.listen: '::1:1935': an IPv6 address must be in "
                 "brackets, as in [::1]:1935");
    expect_error("rtmp:\n  listen: []\n",
                 "sluice.yaml:2:11: rtmp.listen: expected 1 to 8 addresses, got none");
    expect_error("rtmp:\n  listen: {a: 1}\n",
                 "sluice.yaml:2:11: rtmp.listen: expected an address or a list of addresses, "
                 "got a mapping");
    expect_error("rtmp:\n  listen: [[':1']]\n",
                 "sluice.yaml:2:12: rtmp.listen: expected an address \"host:port\", got a "
                 "sequence");
    expect_error("rtmp:\n  listen: [':1', ':1']\n",
                 "sluice.yaml:2:18: rtmp.listen: ':1' is listed twice");
    expect_error("rtmp:\n  listen: [':1', ':2', ':3', ':4', ':5', ':6', ':7', ':8', ':9', "
                 "':10']\n",
                 "sluice.yaml:2:60: rtmp.listen: at most 8 addresses");
}

static void test_listen_addr_parse(void **state)
{
    sl_listen_addr_t a;
    assert_int_equal(sl_listen_addr_parse(&a, "10.0.0.1:1"), SL_OK);
    assert_string_equal(a.host, "10.0.0.1");
    assert_int_equal(a.port, 1);
    assert_int_equal(sl_listen_addr_parse(&a, ":65535"), SL_OK);
    assert_string_equal(a.host, "0.0.0.0");
    assert_int_equal(a.port, 65535);
    assert_int_equal(sl_listen_addr_parse(&a, "[2001:db8::2]:1935"), SL_OK);
    assert_string_equal(a.host, "2001:db8::2");
    assert_int_equal(a.port, 1935);

    static const char *const bad[] = {
        "", ":", ":0", ":65536", ":-1", ":+80", ":80x", ":123456", "1.2.3.4",
        "1.2.3:80", "1.2.3.4.5:80", "localhost:80", "[::1]", "[::1]80", "[::1:80",
        "[]:80", "[1.2.3.4]:80", "[fe80::1%eth0]:80", "::1:80", " 1.2.3.4:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&a, 0x5A, sizeof(a));
        if (sl_listen_addr_parse(&a, bad[i]) != SL_ERR_CONFIG) fail_msg("accepted '%s'", bad[i]);
    }
    char huge[200];
    memset(huge, '1', sizeof(huge));
    huge[0] = '[';
    strcpy(huge + sizeof(huge) - 5, "]:80");
    assert_int_equal(sl_listen_addr_parse(&a, huge), SL_ERR_CONFIG);
}

static void test_syntax_errors(void **state)
{
    expect_error("rtmp:\n  chunk_size: \"4096\n",
                 "sluice.yaml:3:1: syntax error: found unexpected end of stream while "
                 "scanning a quoted scalar");
    expect_error("rtmp:\n  enabled: true\n chunk_size: 4096\n",
                 "sluice.yaml:3:2: syntax error: did not find expected key while parsing a "
                 "block mapping");
    /* Over-indented, the line continues the plain scalar above it; what was read
     * before the syntax error is still reported. */
    sl_config_t c;
    sl_config_errors_t errs;
    assert_int_equal(parse(&c, "rtmp:\n  enabled: true\n    chunk_size: 4096\n", &errs),
                     SL_ERR_CONFIG);
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.msg[0], "sluice.yaml:2:12: rtmp.enabled: expected true or false, "
                                     "got 'true chunk_size'");
    assert_string_equal(errs.msg[1], "sluice.yaml:3:15: syntax error: mapping values are not "
                                     "allowed in this context");
    /* Reader errors carry a byte offset, placed on its line and column. */
    expect_error("rtmp:\n  enabled: \xff\n",
                 "sluice.yaml:2:12: syntax error: invalid leading UTF-8 octet");
    expect_error("rtmp: {}\n---\nhttp: {}\n",
                 "sluice.yaml:2:1: only one YAML document is allowed");
}

static void test_deep_nesting_stops(void **state)
{
    char y[128] = "x: ";
    memset(y + 3, '[', 40);
    memset(y + 43, ']', 40);
    strcpy(y + 83, "\n");
    sl_config_t c;
    sl_config_errors_t errs;
    assert_int_equal(parse(&c, y, &errs), SL_ERR_CONFIG);
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.msg[0], "sluice.yaml:1:1: unknown key 'x'");
    assert_string_equal(errs.msg[1], "sluice.yaml:1:36: nested deeper than 32 levels");
}

static void test_duplicates_and_aliases(void **state)
{
    expect_error("rtmp:\n  chunk_size: 4096\n  chunk_size: 8192\n",
                 "sluice.yaml:3:3: duplicate key 'rtmp.chunk_size' (first at line 2)");
    expect_error("rtmp:\n  enabled: true\nhttp: {}\nrtmp:\n  enabled: false\n",
                 "sluice.yaml:4:1: duplicate key 'rtmp' (first at line 1)");
    expect_error("rtmp:\n  chunk_size: &a 4096\nhttp:\n  listen: *a\n",
                 "sluice.yaml:4:11: http.listen: aliases are not supported");
    /* A self-referencing anchor must not make the walk loop. */
    expect_error("rtmp: &a {rtmp: *a}\n", "sluice.yaml:1:11: unknown key 'rtmp.rtmp'");
}

static void test_cross_field(void **state)
{
    expect_error("limits:\n  viewer_queue_soft_ms: 10000\n",
                 "sluice.yaml:2:3: limits.viewer_queue_soft_ms (10000) must be less than "
                 "limits.viewer_queue_hard_ms (10000)");
    expect_error("limits:\n  viewer_queue_hard_ms: 2000\n",
                 "sluice.yaml:2:3: limits.viewer_queue_soft_ms (3000) must be less than "
                 "limits.viewer_queue_hard_ms (2000)");
    /* A rejected value is not compared with its default standing in. */
    expect_error("limits:\n  viewer_queue_soft_ms: x\n  viewer_queue_hard_ms: 2000\n",
                 "sluice.yaml:2:25: limits.viewer_queue_soft_ms: expected an integer from 100 "
                 "to 600000, got 'x'");
}

static void test_all_errors_reported(void **state)
{
    sl_config_t c, before;
    sl_config_errors_t errs;
    const char *y = "log_level: loud\n"
                    "rtmp:\n"
                    "  chunk_size: 100\n"
                    "  bogus: 1\n"
                    "  listen: [\"example.com:1935\", \"[::]:1935\"]\n"
                    "hub:\n"
                    "  gop_cache: 9\n"
                    "limits:\n"
                    "  viewer_queue_soft_ms: 20000\n";
    sl_config_defaults(&c);
    c.rtmp.chunk_size = 777;
    before = c;
    assert_int_equal(sl_config_parse(&c, "f.yaml", y, strlen(y), &errs), SL_ERR_CONFIG);
    assert_int_equal(errs.count, 6);
    assert_string_equal(errs.msg[0], "f.yaml:1:12: log_level: expected error, warn, info or "
                                     "debug, got 'loud'");
    assert_string_equal(errs.msg[1], "f.yaml:3:15: rtmp.chunk_size: expected an integer from "
                                     "128 to 65536, got '100'");
    assert_string_equal(errs.msg[2], "f.yaml:4:3: unknown key 'rtmp.bogus'");
    assert_string_equal(errs.msg[3], "f.yaml:5:12: rtmp.listen: 'example.com:1935': the host "
                                     "must be an IPv4 address or a bracketed IPv6 address "
                                     "(names are not resolved)");
    assert_string_equal(errs.msg[4], "f.yaml:7:14: hub.gop_cache: expected an integer from 0 "
                                     "to 8, got '9'");
    assert_string_equal(errs.msg[5], "f.yaml:9:3: limits.viewer_queue_soft_ms (20000) must be "
                                     "less than limits.viewer_queue_hard_ms (10000)");
    /* On error the caller's configuration is left as it was. */
    assert_config_equal(&c, &before);
}

static void test_error_overflow(void **state)
{
    char y[2048] = "";
    for (int i = 0; i < 40; i++) {
        char line[32];
        snprintf(line, sizeof(line), "k%d: 1\n", i);
        strcat(y, line);
    }
    sl_config_t c;
    sl_config_errors_t errs;
    assert_int_equal(parse(&c, y, &errs), SL_ERR_CONFIG);
    assert_int_equal(errs.count, SL_CONFIG_MAX_ERRORS);
    assert_string_equal(errs.msg[0], "sluice.yaml:1:1: unknown key 'k0'");
    assert_string_equal(errs.msg[SL_CONFIG_MAX_ERRORS - 2],
                        "sluice.yaml:15:1: unknown key 'k14'");
    assert_string_equal(errs.msg[SL_CONFIG_MAX_ERRORS - 1],
                        "sluice.yaml: more errors follow, not shown");
}

static void test_load(void **state)
{
    sl_config_t c;
    sl_config_errors_t errs;
    sl_config_defaults(&c);
    assert_int_equal(sl_config_load(&c, "/nonexistent/sluice.yaml", &errs), SL_ERR_IO);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.msg[0], "/nonexistent/sluice.yaml: cannot open: No such file or "
                                     "directory");

    char path[] = "/tmp/sluice_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("rtmp:\n  chunk_size: 1\n", f);
    fclose(f);
    assert_int_equal(sl_config_load(&c, path, &errs), SL_ERR_CONFIG);
    assert_int_equal(errs.count, 1);
    char expected[256];
    snprintf(expected, sizeof(expected),
             "%s:2:15: rtmp.chunk_size: expected an integer from 128 to 65536, got '1'", path);
    assert_string_equal(errs.msg[0], expected);

    /* Over the size cap: one error, no parse. */
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1024 * 1024 / 16 + 1; i++) fputs("# padding line.\n", f);
    fclose(f);
    assert_int_equal(sl_config_load(&c, path, &errs), SL_ERR_CONFIG);
    assert_int_equal(errs.count, 1);
    snprintf(expected, sizeof(expected), "%s: larger than 1048576 bytes", path);
    assert_string_equal(errs.msg[0], expected);
    unlink(path);
}

/* relay.push: a list of rules "PATTERN rtmp://host/app ...", kept as written. */
static void test_relay_push_valid(void **state)
{
    sl_config_t c;
    expect_ok("relay:\n"
              "  push:\n"
              "    - \"live/* rtmp://10.0.0.2/live rtmp://edge.example.org:1936/live\"\n"
              "    - \"studio/cam1 rtmp://[::1]/app/inst/renamed?token=x\"\n"
              "  retry_max_ms: 5000\n",
              &c);
    assert_int_equal(c.relay.push.count, 2);
    assert_string_equal(c.relay.push.rule[0], "live/* rtmp://10.0.0.2/live rtmp://edge.example.org:1936/live");
    assert_string_equal(c.relay.push.rule[1], "studio/cam1 rtmp://[::1]/app/inst/renamed?token=x");
    assert_int_equal(c.relay.retry_max_ms, 5000);

    /* Flow style, the scheme in capitals, and every rule the limit allows. */
    char y[4096] = "relay:\n  push: [";
    for (int i = 0; i < SL_CONFIG_MAX_RULES; i++) {
        char rule[64];
        snprintf(rule, sizeof(rule), "%s\"app%d/* RTMP://127.0.0.1:%d/live\"", i ? ", " : "", i, 2000 + i);
        strcat(y, rule);
    }
    strcat(y, "]\n");
    expect_ok(y, &c);
    assert_int_equal(c.relay.push.count, SL_CONFIG_MAX_RULES);
    assert_string_equal(c.relay.push.rule[0], "app0/* RTMP://127.0.0.1:2000/live");
    assert_string_equal(c.relay.push.rule[15], "app15/* RTMP://127.0.0.1:2015/live");

    /* The longest rule: 1023 bytes, a long glob padding it out. */
    char rule[SL_CONFIG_RULE_MAX], yaml[SL_CONFIG_RULE_MAX + 64];
    static const char target[] = " rtmp://h/live";
    size_t n = SL_CONFIG_RULE_MAX - 1 - strlen(target);
    memset(rule, 'a', n);
    strcpy(rule + n, target);
    snprintf(yaml, sizeof(yaml), "relay:\n  push: [\"%s\"]\n", rule);
    expect_ok(yaml, &c);
    assert_int_equal(c.relay.push.count, 1);
    assert_int_equal(strlen(c.relay.push.rule[0]), SL_CONFIG_RULE_MAX - 1);
    assert_string_equal(c.relay.push.rule[0], rule);
}

/* No value, null and [] are all "no rules", and replace rules the caller held. */
static void test_relay_push_empty(void **state)
{
    static const char *const empties[] = {
        "relay:\n  push:\n", "relay:\n  push: ~\n", "relay:\n  push: null\n", "relay:\n  push: []\n",
    };
    sl_config_errors_t errs;
    for (size_t i = 0; i < SL_ARRAY_SIZE(empties); i++) {
        sl_config_t c;
        sl_config_defaults(&c);
        c.relay.push.count = 1;
        strcpy(c.relay.push.rule[0], "live/* rtmp://h/live");
        assert_int_equal(sl_config_parse(&c, "x", empties[i], strlen(empties[i]), &errs), SL_OK);
        assert_int_equal(errs.count, 0);
        assert_int_equal(c.relay.push.count, 0);
    }
    sl_config_t d;
    sl_config_defaults(&d);
    assert_int_equal(d.relay.push.count, 0);
    assert_int_equal(d.relay.retry_max_ms, 30000);
}

static void test_relay_push_not_a_list(void **state)
{
    expect_error("relay:\n  push: \"live/* rtmp://h/live\"\n",
                 "sluice.yaml:2:9: relay.push: expected a list of strings, got 'live/* rtmp://h/live'");
    expect_error("relay:\n  push: {live: rtmp://h/live}\n",
                 "sluice.yaml:2:9: relay.push: expected a list of strings, got a mapping");
    expect_error("relay:\n  push: 5\n", "sluice.yaml:2:9: relay.push: expected a list of strings, got '5'");
    /* The rest of the file is still read after a rejected list. */
    sl_config_t c;
    sl_config_errors_t errs;
    assert_int_equal(parse(&c, "relay:\n  push: {a: [1, 2]}\n  retry_max_ms: 1\n", &errs), SL_ERR_CONFIG);
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.msg[0], "sluice.yaml:2:9: relay.push: expected a list of strings, got a mapping");
    assert_string_equal(errs.msg[1], "sluice.yaml:3:17: relay.retry_max_ms: expected an integer from 1000 to "
                                     "600000, got '1'");
}

static void test_relay_push_item_not_a_string(void **state)
{
    expect_error("relay:\n  push:\n    - [\"live/* rtmp://h/live\"]\n",
                 "sluice.yaml:3:7: relay.push: expected a string of at most 1023 bytes, got a sequence");
    expect_error("relay:\n  push:\n    - \"live/* rtmp://h/live\"\n    - {a: 1}\n",
                 "sluice.yaml:4:7: relay.push: expected a string of at most 1023 bytes, got a mapping");
    expect_error("relay:\n  push: [\"live/* rtmp://h/live\\nx\"]\n",
                 "sluice.yaml:2:10: relay.push: expected a string of at most 1023 bytes, got "
                 "'live/* rtmp://h/live?x'");
    /* A number is a scalar, so a string, but not a rule. */
    expect_error("relay:\n  push: [5]\n",
                 "sluice.yaml:2:3: relay.push[0]: expected \"PATTERN rtmp://host/app ...\", got \"5\"");
}

static void test_relay_push_too_many(void **state)
{
    char y[4096] = "relay:\n  push:\n";
    for (int i = 0; i < SL_CONFIG_MAX_RULES + 1; i++) strcat(y, "    - \"live/* rtmp://h/live\"\n");
    /* The 17th rule is on line 19. */
    expect_error(y, "sluice.yaml:19:7: relay.push: at most 16 rules");
    /* Nothing of a rejected list is kept. */
    sl_config_t c;
    sl_config_errors_t errs;
    sl_config_defaults(&c);
    assert_int_equal(sl_config_parse(&c, "x", y, strlen(y), &errs), SL_ERR_CONFIG);
    assert_int_equal(c.relay.push.count, 0);
}

static void test_relay_push_overlong(void **state)
{
    char rule[SL_CONFIG_RULE_MAX + 1], yaml[SL_CONFIG_RULE_MAX + 64];
    strcpy(rule, "live/* rtmp://h/live/");
    size_t n = strlen(rule);
    memset(rule + n, 'b', SL_CONFIG_RULE_MAX - n);
    rule[SL_CONFIG_RULE_MAX] = '\0'; /* 1024 bytes: one too many */
    snprintf(yaml, sizeof(yaml), "relay:\n  push:\n    - \"%s\"\n", rule);
    expect_error(yaml, "sluice.yaml:3:7: relay.push: expected a string of at most 1023 bytes, got "
                       "'live/* rtmp://h/live/bbbbbbbbbbb...'");
}

static void test_relay_push_without_targets(void **state)
{
    expect_error("relay:\n  push: [\"live/*\"]\n",
                 "sluice.yaml:2:3: relay.push[0]: expected \"PATTERN rtmp://host/app ...\", got \"live/*\"");
    expect_error("relay:\n  push: [\"\"]\n",
                 "sluice.yaml:2:3: relay.push[0]: expected \"PATTERN rtmp://host/app ...\", got \"\"");
    expect_error("relay:\n  push: [\"   \"]\n",
                 "sluice.yaml:2:3: relay.push[0]: expected \"PATTERN rtmp://host/app ...\", got \"   \"");
    expect_error("relay:\n  push:\n    - \"live/* rtmp://h/live\"\n    - \"studio/*  \"\n",
                 "sluice.yaml:2:3: relay.push[1]: expected \"PATTERN rtmp://host/app ...\", got \"studio/*  \"");
}

/* relay.pull: rules like push's, and the two timeouts. */
static void test_relay_pull(void **state)
{
    static sl_config_t c;
    expect_ok("relay:\n"
              "  pull: [\"live/* rtmp://10.0.0.1/live rtmp://10.0.0.2:1936/live\"]\n"
              "  pull_timeout_ms: 5000\n"
              "  idle_timeout_ms: 60000\n",
              &c);
    assert_int_equal(c.relay.pull.count, 1);
    assert_string_equal(c.relay.pull.rule[0], "live/* rtmp://10.0.0.1/live rtmp://10.0.0.2:1936/live");
    assert_int_equal(c.relay.pull_timeout_ms, 5000);
    assert_int_equal(c.relay.idle_timeout_ms, 60000);
    sl_config_defaults(&c);
    assert_int_equal(c.relay.pull.count, 0);
    assert_int_equal(c.relay.pull_timeout_ms, 10000);
    assert_int_equal(c.relay.idle_timeout_ms, 10000);
    expect_error("relay:\n  pull: [\"live/* rtsp://h/live\"]\n",
                 "sluice.yaml:2:3: relay.pull[0]: \"rtsp://h/live\" is not an rtmp:// URL");
    expect_error("relay:\n  pull: [\"live/*\"]\n",
                 "sluice.yaml:2:3: relay.pull[0]: expected \"PATTERN rtmp://host/app ...\", got \"live/*\"");
    expect_error("relay:\n  pull_timeout_ms: 500\n",
                 "sluice.yaml:2:20: relay.pull_timeout_ms: expected an integer from 1000 to 120000, got '500'");
    expect_error("relay:\n  idle_timeout_ms: 0\n",
                 "sluice.yaml:2:20: relay.idle_timeout_ms: expected an integer from 1000 to 3600000, got '0'");
}

/* relay.sources: "KEY URL [options]", many of them, each key once. */
static void test_relay_sources(void **state)
{
    static sl_config_t c;
    expect_ok("relay:\n"
              "  sources:\n"
              "    - \"cams/door rtsp://admin:secret@10.0.0.5/stream1 transport=tcp\"\n"
              "    - \"cams/yard rtsp://10.0.0.7/live always_on\"\n"
              "    - \"live/remote rtmp://origin/live/cam\"\n",
              &c);
    assert_int_equal(c.relay.sources.count, 3);
    assert_string_equal(c.relay.sources.rule[0], "cams/door rtsp://admin:secret@10.0.0.5/stream1 transport=tcp");
    assert_string_equal(c.relay.sources.rule[2], "live/remote rtmp://origin/live/cam");
    expect_error("relay:\n  sources: [\"door rtsp://h/x\"]\n",
                 "sluice.yaml:2:3: relay.sources[0]: the stream key is not \"app/name\"");
    expect_error("relay:\n  sources: [\"cams/a rtsp://h/x\", \"cams/a rtsp://h/y\"]\n",
                 "sluice.yaml:2:3: relay.sources[1]: cams/a is already relay.sources[0]");
    expect_error("relay:\n  sources: [\"cams/a rtsp://h/x transport=quic\"]\n",
                 "sluice.yaml:2:3: relay.sources[0]: transport is tcp, udp or auto");
}

/* A thousand cameras fit; one more does not. */
static void test_relay_sources_many(void **state)
{
    static char y[SL_CONFIG_MAX_SOURCES * 48 + 64];
    static sl_config_t c;
    strcpy(y, "relay:\n  sources:\n");
    size_t n = strlen(y);
    for (int i = 0; i < SL_CONFIG_MAX_SOURCES; i++)
        n += (size_t)sprintf(y + n, "    - \"cams/c%d rtsp://10.0.%d.%d/s\"\n", i, i / 250, i % 250);
    expect_ok(y, &c);
    assert_int_equal(c.relay.sources.count, SL_CONFIG_MAX_SOURCES);
    assert_string_equal(c.relay.sources.rule[1023], "cams/c1023 rtsp://10.0.4.23/s");
    strcat(y, "    - \"cams/extra rtsp://h/s\"\n");
    expect_error(y, "sluice.yaml:1027:7: relay.sources: at most 1024 sources");
}

static void test_relay_push_bad_target(void **state)
{
    static const char *const bad[] = {
        "http://h/live", "rtmps://h/live", "rtmpt://h/live", "rtsp://h/live", "h/live", "rtmp://h",
        "rtmp://h/", "rtmp:///live", "rtmp://h:0/live", "rtmp://h:65536/live", "rtmp://user@h/live",
        "rtmp://h/live#x",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        char yaml[256], want[256];
        snprintf(yaml, sizeof(yaml), "relay:\n  push: [\"live/* rtmp://ok/live %s\"]\n", bad[i]);
        snprintf(want, sizeof(want), "sluice.yaml:2:3: relay.push[0]: \"%s\" is not an rtmp:// URL", bad[i]);
        expect_error(yaml, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_shipped_config_is_the_defaults),
        cmocka_unit_test(test_every_key_round_trips),
        cmocka_unit_test(test_partial_keeps_other_values),
        cmocka_unit_test(test_empty_documents_are_defaults),
        cmocka_unit_test(test_bool_spellings),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_port_range),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_listen_addr_parse),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_deep_nesting_stops),
        cmocka_unit_test(test_duplicates_and_aliases),
        cmocka_unit_test(test_cross_field),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_error_overflow),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_relay_push_valid),
        cmocka_unit_test(test_relay_push_empty),
        cmocka_unit_test(test_relay_push_not_a_list),
        cmocka_unit_test(test_relay_push_item_not_a_string),
        cmocka_unit_test(test_relay_push_too_many),
        cmocka_unit_test(test_relay_push_overlong),
        cmocka_unit_test(test_relay_push_without_targets),
        cmocka_unit_test(test_relay_push_bad_target),
        cmocka_unit_test(test_relay_pull),
        cmocka_unit_test(test_relay_sources),
        cmocka_unit_test(test_relay_sources_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
