/* Tests for DCEP messages (protocols/webrtc/dcep.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protocols/webrtc/dcep.h"

/* What Chromium sends for createDataChannel("chat"): reliable, ordered, priority
 * 256 ("low" in the W3C API), no protocol. */
static const uint8_t CHROME_CHAT[] = {0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x04, 0x00, 0x00, 'c',  'h',  'a',  't'};

/* Unordered, at most 3 retransmissions, label "x", protocol "proto". */
static const uint8_t REXMIT_3[] = {0x03, 0x81, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
                                   0x01, 0x00, 0x05, 'x',  'p',  'r',  'o',  't',  'o'};

static void test_parse_chrome_open(void **state)
{
    (void)state;
    sl_dcep_open_t o;
    assert_int_equal(sl_dcep_parse_open(CHROME_CHAT, sizeof(CHROME_CHAT), &o), SL_OK);
    assert_int_equal(o.channel_type, SL_DCEP_RELIABLE);
    assert_int_equal(o.priority, 256);
    assert_int_equal(o.reliability, 0);
    assert_int_equal(o.label_len, 4);
    assert_ptr_equal(o.label, CHROME_CHAT + 12);
    assert_int_equal(o.protocol_len, 0);
    assert_null(o.protocol);
}

static void test_parse_partial_reliable(void **state)
{
    (void)state;
    sl_dcep_open_t o;
    assert_int_equal(sl_dcep_parse_open(REXMIT_3, sizeof(REXMIT_3), &o), SL_OK);
    assert_int_equal(o.channel_type, SL_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED);
    assert_int_equal(o.priority, 512);
    assert_int_equal(o.reliability, 3);
    assert_int_equal(o.label_len, 1);
    assert_memory_equal(o.label, "x", 1);
    assert_int_equal(o.protocol_len, 5);
    assert_memory_equal(o.protocol, "proto", 5);
}

static void test_write_open_exact(void **state)
{
    (void)state;
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_dcep_open_t o = {.channel_type = SL_DCEP_RELIABLE, .priority = 256, .label = (const uint8_t *)"chat",
                        .label_len = 4};
    assert_int_equal(sl_dcep_write_open(&o, &out), SL_OK);
    assert_int_equal(out.len, sizeof(CHROME_CHAT));
    assert_memory_equal(out.data, CHROME_CHAT, sizeof(CHROME_CHAT));
    sl_bytes_free(&out);

    o = (sl_dcep_open_t){.channel_type = SL_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED, .priority = 512,
                         .reliability = 3, .label = (const uint8_t *)"x", .label_len = 1,
                         .protocol = (const uint8_t *)"proto", .protocol_len = 5};
    assert_int_equal(sl_dcep_write_open(&o, &out), SL_OK);
    assert_int_equal(out.len, sizeof(REXMIT_3));
    assert_memory_equal(out.data, REXMIT_3, sizeof(REXMIT_3));
    sl_bytes_free(&out);

    /* No label, no protocol: the bare header. */
    o = (sl_dcep_open_t){.channel_type = SL_DCEP_PARTIAL_RELIABLE_TIMED, .reliability = 0x01020304};
    assert_int_equal(sl_dcep_write_open(&o, &out), SL_OK);
    static const uint8_t bare[] = {0x03, 0x02, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(out.len, sizeof(bare));
    assert_memory_equal(out.data, bare, sizeof(bare));
    sl_dcep_open_t back;
    assert_int_equal(sl_dcep_parse_open(out.data, out.len, &back), SL_OK);
    assert_int_equal(back.reliability, 0x01020304);
    assert_null(back.label);
    assert_int_equal(back.label_len, 0);
    sl_bytes_free(&out);
}

static void test_ack(void **state)
{
    (void)state;
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_dcep_write_ack(&out), SL_OK);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 0x02);
    assert_true(sl_dcep_is_ack(out.data, out.len));
    sl_bytes_free(&out);
    static const uint8_t ack_long[] = {0x02, 0x00};
    assert_false(sl_dcep_is_ack(ack_long, 2));
    assert_false(sl_dcep_is_ack(CHROME_CHAT, 1));
    assert_false(sl_dcep_is_ack(ack_long, 0));
    sl_dcep_open_t o;
    assert_int_equal(sl_dcep_parse_open(ack_long, 1, &o), SL_ERR_PROTO);
}

static void test_malformed_open(void **state)
{
    (void)state;
    sl_dcep_open_t o;
    uint8_t m[sizeof(REXMIT_3) + 1];
    /* Every truncation, the empty message included. */
    for (size_t n = 0; n < sizeof(REXMIT_3); n++)
        assert_int_equal(sl_dcep_parse_open(REXMIT_3, n, &o), SL_ERR_PROTO);
    /* A byte past the protocol. */
    memcpy(m, REXMIT_3, sizeof(REXMIT_3));
    m[sizeof(REXMIT_3)] = 0;
    assert_int_equal(sl_dcep_parse_open(m, sizeof(m), &o), SL_ERR_PROTO);
    /* Label length past the end, and lengths whose 16-bit sum would wrap. */
    memcpy(m, CHROME_CHAT, sizeof(CHROME_CHAT));
    m[9] = 5;
    assert_int_equal(sl_dcep_parse_open(m, sizeof(CHROME_CHAT), &o), SL_ERR_PROTO);
    sl_wr_be16(m + 8, 0xffff);
    sl_wr_be16(m + 10, 5);
    assert_int_equal(sl_dcep_parse_open(m, sizeof(CHROME_CHAT), &o), SL_ERR_PROTO);
    /* Not an OPEN. */
    memcpy(m, CHROME_CHAT, sizeof(CHROME_CHAT));
    m[0] = 0x04;
    assert_int_equal(sl_dcep_parse_open(m, sizeof(CHROME_CHAT), &o), SL_ERR_PROTO);
    /* A channel type RFC 8832 does not define, well-formed otherwise. */
    memcpy(m, CHROME_CHAT, sizeof(CHROME_CHAT));
    m[1] = 0x03;
    assert_int_equal(sl_dcep_parse_open(m, sizeof(CHROME_CHAT), &o), SL_ERR_UNSUPPORTED);
    assert_int_equal(o.label_len, 4);
    assert_memory_equal(o.label, "chat", 4);
    m[1] = 0x7f;
    assert_int_equal(sl_dcep_parse_open(m, sizeof(CHROME_CHAT), &o), SL_ERR_UNSUPPORTED);
    m[1] = 0x82;
    assert_int_equal(sl_dcep_parse_open(m, sizeof(CHROME_CHAT), &o), SL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_chrome_open), cmocka_unit_test(test_parse_partial_reliable),
        cmocka_unit_test(test_write_open_exact),  cmocka_unit_test(test_ack),
        cmocka_unit_test(test_malformed_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
