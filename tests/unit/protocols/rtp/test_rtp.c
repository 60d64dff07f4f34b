/* RTP packet headers, length-prefixed packet lists and the RTP <-> hub clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protocols/rtp/rtp.h"

static void test_write_header_bytes(void **state)
{
    uint8_t h[SL_RTP_HEADER_LEN];
    sl_rtp_write_header(h, true, 96, 0xfffe, 0x01020304, 0xa1b2c3d4);
    const uint8_t want[] = {0x80, 0xe0, 0xff, 0xfe, 1, 2, 3, 4, 0xa1, 0xb2, 0xc3, 0xd4};
    assert_memory_equal(h, want, sizeof(want));
    /* The payload type keeps to its 7 bits and never sets the marker. */
    sl_rtp_write_header(h, false, 0xff, 0, 0, 0);
    assert_int_equal(h[1], 0x7f);
}

static void test_parse_plain(void **state)
{
    uint8_t pkt[SL_RTP_HEADER_LEN + 3];
    sl_rtp_write_header(pkt, true, 111, 4242, 0xdeadbeef, 7);
    pkt[12] = 'a';
    pkt[13] = 'b';
    pkt[14] = 'c';
    sl_rtp_packet_t p;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_OK);
    assert_true(p.marker);
    assert_int_equal(p.payload_type, 111);
    assert_int_equal(p.seq, 4242);
    assert_int_equal(p.timestamp, 0xdeadbeef);
    assert_int_equal(p.ssrc, 7);
    assert_ptr_equal(p.payload, pkt + 12);
    assert_int_equal(p.payload_len, 3);

    /* A bare header is a packet with an empty payload. */
    assert_int_equal(sl_rtp_parse(pkt, SL_RTP_HEADER_LEN, &p), SL_OK);
    assert_int_equal(p.payload_len, 0);
    assert_false(sl_rtp_parse(pkt, 0, &p) == SL_OK);
}

static void test_parse_csrc_extension_padding(void **state)
{
    /* Two CSRCs, a one-word extension (RFC 8285 one-byte form), 2 payload bytes and 3
     * bytes of padding. */
    const uint8_t pkt[] = {
        0xb2, 0x60, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0, 5, /* V=2 P X CC=2, pt 96 */
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, /* CSRCs */
        0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00, /* extension */
        0x55, 0x66,                                     /* payload */
        0x00, 0x00, 0x03,                               /* padding */
    };
    sl_rtp_packet_t p;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_OK);
    assert_false(p.marker);
    assert_int_equal(p.payload_type, 96);
    assert_int_equal(p.seq, 1);
    assert_int_equal(p.timestamp, 9);
    assert_int_equal(p.ssrc, 5);
    assert_ptr_equal(p.payload, pkt + 28);
    assert_int_equal(p.payload_len, 2);

    /* Padding that takes the whole payload leaves it empty. */
    uint8_t all_pad[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
    assert_int_equal(sl_rtp_parse(all_pad, sizeof(all_pad), &p), SL_OK);
    assert_int_equal(p.payload_len, 0);
}

static void test_parse_malformed(void **state)
{
    uint8_t pkt[SL_RTP_HEADER_LEN + 4];
    sl_rtp_packet_t p;
    /* Truncated headers. */
    sl_rtp_write_header(pkt, false, 96, 1, 2, 3);
    for (size_t len = 0; len < SL_RTP_HEADER_LEN; len++) assert_int_equal(sl_rtp_parse(pkt, len, &p), SL_ERR_PROTO);
    /* Versions other than 2. */
    for (int v = 0; v < 4; v++) {
        if (v == 2) continue;
        pkt[0] = (uint8_t)(v << 6);
        assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_ERR_PROTO);
    }
    /* CSRCs past the end: two announced, one there. */
    pkt[0] = 0x82;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_ERR_PROTO);
    /* An extension header cut short, or whose length runs past the end. */
    pkt[0] = 0x90;
    assert_int_equal(sl_rtp_parse(pkt, SL_RTP_HEADER_LEN + 2, &p), SL_ERR_PROTO);
    const uint8_t ext_len[] = {0xbe, 0xde, 0x00, 0x01};
    memcpy(pkt + 12, ext_len, 4);
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_ERR_PROTO);
    /* Padding count 0, larger than the payload, or with no payload byte to hold it. */
    pkt[0] = 0xa0;
    pkt[15] = 0;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_ERR_PROTO);
    pkt[15] = 5;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_ERR_PROTO);
    pkt[15] = 4;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_OK);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(sl_rtp_parse(pkt, SL_RTP_HEADER_LEN, &p), SL_ERR_PROTO);
}

static void test_next_packet(void **state)
{
    const uint8_t list[] = {0, 3, 'a', 'b', 'c', 0, 1, 'd', 0, 2, 'e'};
    size_t pos = 0, n = 0;
    const uint8_t *p = sl_rtp_next_packet(list, sizeof(list), &pos, &n);
    assert_ptr_equal(p, list + 2);
    assert_int_equal(n, 3);
    assert_int_equal(pos, 5);
    p = sl_rtp_next_packet(list, sizeof(list), &pos, &n);
    assert_ptr_equal(p, list + 7);
    assert_int_equal(n, 1);
    assert_int_equal(pos, 8);
    /* The third one claims 2 bytes and has 1: the walk ends there, pos unchanged. */
    assert_null(sl_rtp_next_packet(list, sizeof(list), &pos, &n));
    assert_int_equal(pos, 8);
    /* A lone length byte, a zero length, an empty list. */
    pos = 0;
    assert_null(sl_rtp_next_packet(list, 1, &pos, &n));
    const uint8_t zero[] = {0, 0, 'x'};
    assert_null(sl_rtp_next_packet(zero, sizeof(zero), &pos, &n));
    assert_null(sl_rtp_next_packet(NULL, 0, &pos, &n));
    /* Exactly at the end. */
    pos = 0;
    assert_non_null(sl_rtp_next_packet(list, 5, &pos, &n));
    assert_null(sl_rtp_next_packet(list, 5, &pos, &n));
}

static void test_clock_video(void **state)
{
    sl_rtp_clock_t c;
    sl_rtp_clock_init(&c, 90000);
    /* The first packet is 0 on the hub clock, whatever its RTP timestamp. */
    assert_int_equal(sl_rtp_clock_to_hub(&c, 123456), 0);
    assert_int_equal(sl_rtp_clock_to_hub(&c, 123456 + 3000), 3000);
    /* Going back (B-frames in presentation order) is negative relative motion. */
    assert_int_equal(sl_rtp_clock_to_hub(&c, 123456 + 1500), 1500);
    assert_int_equal(sl_rtp_clock_to_hub(&c, 123456 - 1000), -1000);

    /* Across the 32-bit wrap, and around it several times. */
    sl_rtp_clock_init(&c, 90000);
    assert_int_equal(sl_rtp_clock_to_hub(&c, 0xffffff00u), 0);
    assert_int_equal(sl_rtp_clock_to_hub(&c, 0x100), 0x200);
    int64_t want = 0x200;
    uint32_t ts = 0x100;
    for (int i = 0; i < 5; i++) {
        ts += 0x7fff0000u;
        want += 0x7fff0000;
        assert_int_equal(sl_rtp_clock_to_hub(&c, ts), want);
    }
    assert_true(want > (INT64_C(1) << 32));
}

static void test_clock_audio(void **state)
{
    sl_rtp_clock_t c;
    sl_rtp_clock_init(&c, 48000);
    assert_int_equal(sl_rtp_clock_to_hub(&c, 1000), 0);
    assert_int_equal(sl_rtp_clock_to_hub(&c, 1000 + 960), 1800); /* 20 ms */
    assert_int_equal(sl_rtp_clock_to_hub(&c, 1000 + 48000), 90000);
    /* Absolute conversion: one hour of 1024-sample AAC frames at 44.1 kHz lands
     * exactly, where summing truncated deltas would drift. */
    sl_rtp_clock_init(&c, 44100);
    int64_t hub = 0;
    uint32_t ts = 0;
    for (int i = 0; i <= 155039; i++, ts += 1024) hub = sl_rtp_clock_to_hub(&c, ts);
    assert_int_equal(hub, (int64_t)155039 * 1024 * 90000 / 44100);
}

static void test_ts_from_hub(void **state)
{
    assert_int_equal(sl_rtp_ts_from_hub(0, 90000), 0);
    assert_int_equal(sl_rtp_ts_from_hub(123456789, 90000), 123456789);
    /* Truncated to 32 bits, negative values wrap. */
    assert_int_equal(sl_rtp_ts_from_hub((INT64_C(1) << 32) + 5, 90000), 5);
    assert_int_equal(sl_rtp_ts_from_hub(-1, 90000), 0xffffffffu);
    assert_int_equal(sl_rtp_ts_from_hub(90000, 48000), 48000);
    assert_int_equal(sl_rtp_ts_from_hub(1800, 48000), 960);
    assert_int_equal(sl_rtp_ts_from_hub(90000 * 3600, 8000), 8000 * 3600);

    /* Round trip through the clock for video is exact from the first timestamp. */
    sl_rtp_clock_t c;
    sl_rtp_clock_init(&c, 90000);
    int64_t base = (INT64_C(1) << 32) - 4500;
    assert_int_equal(sl_rtp_clock_to_hub(&c, sl_rtp_ts_from_hub(base, 90000)), 0);
    for (int64_t t = 3000; t < 30000; t += 3000)
        assert_int_equal(sl_rtp_clock_to_hub(&c, sl_rtp_ts_from_hub(base + t, 90000)), t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_header_bytes),
        cmocka_unit_test(test_parse_plain),
        cmocka_unit_test(test_parse_csrc_extension_padding),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_next_packet),
        cmocka_unit_test(test_clock_video),
        cmocka_unit_test(test_clock_audio),
        cmocka_unit_test(test_ts_from_hub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
