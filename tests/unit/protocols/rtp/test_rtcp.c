/* RTCP: byte-exact SR/RR/SDES/BYE/PLI/NACK building and parsing back, a sender's
 * SR + SDES compound written out by hand, feedback and unknown packet types in a
 * compound, malformed packets, and receiver statistics against a worked example. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/rtp/rtcp.h"

static const sl_rtcp_sender_info_t SI = {
    .ntp = UINT64_C(0xe5f1234580000000), .rtp_ts = 0x00abcdef, .packet_count = 100, .octet_count = 16000};
static const sl_rtcp_report_block_t RB = {.ssrc = 0x55667788,
                                          .fraction_lost = 0x40,
                                          .cumulative_lost = -3,
                                          .highest_seq = 0x00010005,
                                          .jitter = 0x20,
                                          .lsr = 0x23458000,
                                          .dlsr = 0x00018000};
static const uint8_t RB_BYTES[] = {0x55, 0x66, 0x77, 0x88, 0x40, 0xff, 0xff, 0xfd, 0x00, 0x01, 0x00, 0x05,
                                   0x00, 0x00, 0x00, 0x20, 0x23, 0x45, 0x80, 0x00, 0x00, 0x01, 0x80, 0x00};

/* The only packet of data[0..len), which must be exactly one. */
static sl_rtcp_packet_t single(const uint8_t *data, size_t len)
{
    size_t pos = 0;
    sl_rtcp_packet_t p;
    assert_int_equal(sl_rtcp_next(data, len, &pos, &p), 1);
    assert_int_equal(pos, len);
    sl_rtcp_packet_t end;
    assert_int_equal(sl_rtcp_next(data, len, &pos, &end), 0);
    return p;
}

static void check_block(const sl_rtcp_report_block_t *b, const sl_rtcp_report_block_t *want)
{
    assert_int_equal(b->ssrc, want->ssrc);
    assert_int_equal(b->fraction_lost, want->fraction_lost);
    assert_int_equal(b->cumulative_lost, want->cumulative_lost);
    assert_int_equal(b->highest_seq, want->highest_seq);
    assert_int_equal(b->jitter, want->jitter);
    assert_int_equal(b->lsr, want->lsr);
    assert_int_equal(b->dlsr, want->dlsr);
}

static void test_sr(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtcp_build_sr(&out, 0x11223344, &SI, NULL), SL_OK);
    const uint8_t want[] = {0x80, 0xc8, 0x00, 0x06, 0x11, 0x22, 0x33, 0x44, 0xe5, 0xf1, 0x23, 0x45, 0x80, 0x00,
                            0x00, 0x00, 0x00, 0xab, 0xcd, 0xef, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x3e, 0x80};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    sl_rtcp_packet_t p = single(out.data, out.len);
    assert_int_equal(p.type, SL_RTCP_SR);
    assert_int_equal(p.count, 0);
    sl_rtcp_report_t r;
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_int_equal(r.ssrc, 0x11223344);
    assert_true(r.has_sender_info);
    assert_true(r.sender.ntp == SI.ntp);
    assert_int_equal(r.sender.rtp_ts, SI.rtp_ts);
    assert_int_equal(r.sender.packet_count, 100);
    assert_int_equal(r.sender.octet_count, 16000);
    assert_int_equal(r.block_count, 0);

    out.len = 0;
    assert_int_equal(sl_rtcp_build_sr(&out, 0x11223344, &SI, &RB), SL_OK);
    assert_int_equal(out.len, 52);
    const uint8_t head[] = {0x81, 0xc8, 0x00, 0x0c};
    assert_memory_equal(out.data, head, 4);
    assert_memory_equal(out.data + 4, want + 4, 24);
    assert_memory_equal(out.data + 28, RB_BYTES, 24);
    p = single(out.data, out.len);
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_int_equal(r.block_count, 1);
    check_block(&r.blocks[0], &RB);
    /* Cut one byte short of its block: too short for what its count says. */
    p.body_len -= 1;
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_ERR_PROTO);
    sl_bytes_free(&out);
}

static void test_rr(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtcp_build_rr(&out, 0x01020304, &RB), SL_OK);
    uint8_t want[32] = {0x81, 0xc9, 0x00, 0x07, 0x01, 0x02, 0x03, 0x04};
    memcpy(want + 8, RB_BYTES, 24);
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    sl_rtcp_packet_t p = single(out.data, out.len);
    sl_rtcp_report_t r;
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_false(r.has_sender_info);
    assert_int_equal(r.ssrc, 0x01020304);
    assert_int_equal(r.block_count, 1);
    check_block(&r.blocks[0], &RB);

    /* An empty RR (nothing received yet), and a cumulative loss beyond 24 bits. */
    out.len = 0;
    assert_int_equal(sl_rtcp_build_rr(&out, 0x01020304, NULL), SL_OK);
    const uint8_t empty[] = {0x80, 0xc9, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04};
    assert_int_equal(out.len, sizeof(empty));
    assert_memory_equal(out.data, empty, sizeof(empty));
    out.len = 0;
    sl_rtcp_report_block_t big = RB;
    big.cumulative_lost = -9000000;
    assert_int_equal(sl_rtcp_build_rr(&out, 1, &big), SL_OK);
    assert_int_equal(out.data[13], 0x80);
    assert_int_equal(out.data[14], 0x00);
    assert_int_equal(out.data[15], 0x00);
    p = single(out.data, out.len);
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_int_equal(r.blocks[0].cumulative_lost, -0x800000);
    big.cumulative_lost = 9000000;
    out.len = 0;
    assert_int_equal(sl_rtcp_build_rr(&out, 1, &big), SL_OK);
    p = single(out.data, out.len);
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_int_equal(r.blocks[0].cumulative_lost, 0x7fffff);
    /* Another type is not a report. */
    p.type = SL_RTCP_SDES;
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_ERR_PROTO);
    sl_bytes_free(&out);
}

static void test_sdes_bye(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtcp_build_sdes(&out, 0xaabbccdd, "abc", 3), SL_OK);
    const uint8_t want[] = {0x81, 0xca, 0x00, 0x03, 0xaa, 0xbb, 0xcc, 0xdd,
                            0x01, 0x03, 'a',  'b',  'c',  0x00, 0x00, 0x00};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    sl_rtcp_packet_t p = single(out.data, out.len);
    sl_rtcp_sdes_t sdes;
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_OK);
    assert_int_equal(sdes.count, 1);
    assert_int_equal(sdes.chunks[0].ssrc, 0xaabbccdd);
    assert_int_equal(sdes.chunks[0].cname_len, 3);
    assert_memory_equal(sdes.chunks[0].cname, "abc", 3);

    /* 2 + 6 bytes of item fill the words exactly: a whole word of nulls follows. */
    out.len = 0;
    assert_int_equal(sl_rtcp_build_sdes(&out, 1, "abcdef", 6), SL_OK);
    assert_int_equal(out.len, 20);
    assert_int_equal(out.data[3], 4);
    const uint8_t zeros[4] = {0};
    assert_memory_equal(out.data + 16, zeros, 4);
    char longest[256];
    memset(longest, 'x', sizeof(longest));
    assert_int_equal(sl_rtcp_build_sdes(&out, 1, longest, 256), SL_ERR_TOO_BIG);
    assert_int_equal(out.len, 20);
    out.len = 0;
    assert_int_equal(sl_rtcp_build_sdes(&out, 1, longest, 255), SL_OK);
    assert_int_equal(out.len, 268);
    p = single(out.data, out.len);
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_OK);
    assert_int_equal(sdes.chunks[0].cname_len, 255);

    out.len = 0;
    assert_int_equal(sl_rtcp_build_bye(&out, 0x01020304), SL_OK);
    const uint8_t bye[] = {0x81, 0xcb, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04};
    assert_int_equal(out.len, sizeof(bye));
    assert_memory_equal(out.data, bye, sizeof(bye));
    p = single(out.data, out.len);
    sl_rtcp_bye_t b;
    assert_int_equal(sl_rtcp_parse_bye(&p, &b), SL_OK);
    assert_int_equal(b.count, 1);
    assert_int_equal(b.ssrc[0], 0x01020304);
    assert_null(b.reason);
    sl_bytes_free(&out);

    /* A BYE of two sources with a reason, and SDES chunks with other items. */
    const uint8_t bye2[] = {0x82, 0xcb, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 2, 0x04, 'd', 'o', 'n', 'e', 0, 0, 0};
    p = single(bye2, sizeof(bye2));
    assert_int_equal(sl_rtcp_parse_bye(&p, &b), SL_OK);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.ssrc[1], 2);
    assert_int_equal(b.reason_len, 4);
    assert_memory_equal(b.reason, "done", 4);
    const uint8_t sdes2[] = {0x82, 0xca, 0x00, 0x06, 0, 0, 0, 7, 0x02, 0x01, 'n', 0x01, 0x02, 'h', 'i', 0x00,
                             0, 0, 0, 8, 0x06, 0x02, 't', 'x', 0x00, 0x00, 0x00, 0x00};
    p = single(sdes2, sizeof(sdes2));
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_OK);
    assert_int_equal(sdes.count, 2);
    assert_int_equal(sdes.chunks[0].ssrc, 7);
    assert_int_equal(sdes.chunks[0].cname_len, 2);
    assert_memory_equal(sdes.chunks[0].cname, "hi", 2);
    assert_int_equal(sdes.chunks[1].ssrc, 8);
    assert_null(sdes.chunks[1].cname);

    /* Truncated: an item running past the body, a chunk without its null item, a BYE
     * reason longer than what is left. */
    const uint8_t bad_item[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 7, 0x01, 0x09, 'a', 'b'};
    p = single(bad_item, sizeof(bad_item));
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_ERR_PROTO);
    const uint8_t unterminated[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 7, 0x01, 0x02, 'a', 'b'};
    p = single(unterminated, sizeof(unterminated));
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_ERR_PROTO);
    const uint8_t bad_bye[] = {0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 0x09, 'x', 'y', 'z'};
    p = single(bad_bye, sizeof(bad_bye));
    assert_int_equal(sl_rtcp_parse_bye(&p, &b), SL_ERR_PROTO);
    const uint8_t short_bye[] = {0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1};
    p = single(short_bye, sizeof(short_bye));
    assert_int_equal(sl_rtcp_parse_bye(&p, &b), SL_ERR_PROTO);
}

/* A sender's report in the shape GStreamer's rtpbin sends every few seconds, written
 * out by hand: SR without blocks, then SDES with a CNAME like rtpbin's. */
static const uint8_t CAPTURED_SR_SDES[] = {
    0x80, 0xc8, 0x00, 0x06, 0x6b, 0x8b, 0x45, 0x67, /* SR, SSRC */
    0xe8, 0x55, 0x1d, 0x27, 0x4c, 0xcc, 0xcc, 0xcd, /* NTP 3897892135.3 s */
    0x2f, 0x1a, 0x70, 0x20,                         /* RTP timestamp */
    0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0x93, 0xe0, /* 300 packets, 300000 octets */
    0x81, 0xca, 0x00, 0x09, 0x6b, 0x8b, 0x45, 0x67, /* SDES, SSRC */
    0x01, 0x1c, 'u',  's',  'e',  'r',  '3',  '1',  '2',  '9',  '4',  '4',  '7',  '0', '3', '5',
    '@',  'h',  'o',  's',  't',  '-',  '8',  'd',  '0',  'c',  '0',  'e',  '7',  'f', 0x00, 0x00,
};

static void test_captured_compound(void **state)
{
    size_t pos = 0;
    sl_rtcp_packet_t p;
    assert_int_equal(sl_rtcp_next(CAPTURED_SR_SDES, sizeof(CAPTURED_SR_SDES), &pos, &p), 1);
    assert_int_equal(pos, 28);
    sl_rtcp_report_t r;
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_int_equal(r.ssrc, 0x6b8b4567);
    assert_true(r.sender.ntp == UINT64_C(0xe8551d274ccccccd));
    assert_int_equal(r.sender.rtp_ts, 0x2f1a7020);
    assert_int_equal(r.sender.packet_count, 300);
    assert_int_equal(r.sender.octet_count, 300000);
    assert_int_equal(sl_rtcp_next(CAPTURED_SR_SDES, sizeof(CAPTURED_SR_SDES), &pos, &p), 1);
    assert_int_equal(p.type, SL_RTCP_SDES);
    sl_rtcp_sdes_t sdes;
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_OK);
    assert_int_equal(sdes.chunks[0].cname_len, 28);
    assert_memory_equal(sdes.chunks[0].cname, "user3129447035@host-8d0c0e7f", 28);
    assert_int_equal(sl_rtcp_next(CAPTURED_SR_SDES, sizeof(CAPTURED_SR_SDES), &pos, &p), 0);

    /* Our builder writes the very same bytes. */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtcp_build_sr_sdes(&out, 0x6b8b4567, &r.sender, NULL, "user3129447035@host-8d0c0e7f", 28),
                     SL_OK);
    assert_int_equal(out.len, sizeof(CAPTURED_SR_SDES));
    assert_memory_equal(out.data, CAPTURED_SR_SDES, out.len);
    /* The RR compound, and a failing one leaves the vector as it was. */
    out.len = 0;
    assert_int_equal(sl_rtcp_build_rr_sdes(&out, 9, &RB, "c", 1), SL_OK);
    assert_int_equal(out.len, 32 + 12);
    assert_int_equal(out.data[32 + 1], SL_RTCP_SDES);
    char longest[256] = {0};
    assert_int_equal(sl_rtcp_build_rr_sdes(&out, 9, &RB, longest, 256), SL_ERR_TOO_BIG);
    assert_int_equal(sl_rtcp_build_sr_sdes(&out, 9, &SI, NULL, longest, 256), SL_ERR_TOO_BIG);
    assert_int_equal(out.len, 44);
    sl_bytes_free(&out);
}

static void test_compound_walk(void **state)
{
    /* RR, APP "TEST", an unknown type 210, a REMB-like PSFB (FMT 15), a padded PLI last. */
    const uint8_t pkt[] = {
        0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1,                                   /* RR */
        0x81, 0xcc, 0x00, 0x03, 0, 0, 0, 1, 'T', 'E', 'S', 'T', 1, 2, 3, 4,   /* APP subtype 1 */
        0x80, 0xd2, 0x00, 0x00,                                               /* type 210 */
        0x8f, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B',   /* PSFB 15 */
        0xa1, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4,           /* PLI + 4 pad */
    };
    size_t pos = 0;
    sl_rtcp_packet_t p;
    const uint8_t types[] = {SL_RTCP_RR, SL_RTCP_APP, 210, SL_RTCP_PSFB, SL_RTCP_PSFB};
    const uint8_t counts[] = {0, 1, 0, 15, 1};
    const size_t lens[] = {4, 12, 0, 12, 8};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sl_rtcp_next(pkt, sizeof(pkt), &pos, &p), 1);
        assert_int_equal(p.type, types[i]);
        assert_int_equal(p.count, counts[i]);
        assert_int_equal(p.body_len, lens[i]);
        uint32_t sender, media;
        assert_int_equal(sl_rtcp_parse_pli(&p, &sender, &media), i == 4 ? SL_OK : SL_ERR_PROTO);
        if (i == 4) {
            assert_int_equal(sender, 1);
            assert_int_equal(media, 2);
        }
        if (i == 3) {
            sl_rtcp_fb_t fb;
            assert_int_equal(sl_rtcp_parse_fb(&p, &fb), SL_OK);
            assert_int_equal(fb.fmt, 15);
            assert_int_equal(fb.fci_len, 4);
            assert_memory_equal(fb.fci, "REMB", 4);
        }
    }
    assert_int_equal(pos, sizeof(pkt));
    assert_int_equal(sl_rtcp_next(pkt, sizeof(pkt), &pos, &p), 0);
    assert_int_equal(sl_rtcp_next(NULL, 0, &(size_t){0}, &p), 0);

    /* Malformed: version 1, a length past the end, padding of 0 or past the body, a
     * header cut short. */
    const uint8_t v1[] = {0x40, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
    const uint8_t past[] = {0x80, 0xc9, 0x00, 0x02, 0, 0, 0, 1};
    const uint8_t pad0[] = {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0};
    const uint8_t pad9[] = {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 9};
    const uint8_t pad_empty[] = {0xa0, 0xc9, 0x00, 0x00};
    const uint8_t cut[] = {0x80, 0xc9, 0x00};
    const struct {
        const uint8_t *d;
        size_t n;
    } bad[] = {{v1, sizeof(v1)},     {past, sizeof(past)},           {pad0, sizeof(pad0)},
               {pad9, sizeof(pad9)}, {pad_empty, sizeof(pad_empty)}, {cut, sizeof(cut)}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        pos = 0;
        assert_int_equal(sl_rtcp_next(bad[i].d, bad[i].n, &pos, &p), SL_ERR_PROTO);
    }
}

static void test_nack_pli(void **state)
{
    /* PID 100 with BLP 0x8005: 100, 101, 103 and 116. */
    const uint8_t nack[] = {0x81, 0xcd, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0a,
                            0x12, 0x34, 0x56, 0x78, 0x00, 0x64, 0x80, 0x05};
    sl_rtcp_packet_t p = single(nack, sizeof(nack));
    sl_rtcp_nack_t n;
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_OK);
    assert_int_equal(n.sender_ssrc, 10);
    assert_int_equal(n.media_ssrc, 0x12345678);
    assert_int_equal(n.count, 4);
    assert_false(n.truncated);
    const uint16_t lost[] = {100, 101, 103, 116};
    assert_memory_equal(n.seq, lost, sizeof(lost));
    uint32_t sender, media;
    assert_int_equal(sl_rtcp_parse_pli(&p, &sender, &media), SL_ERR_PROTO);

    sl_bytes_t out;
    sl_bytes_init(&out);
    const uint16_t seqs[] = {100, 101, 103, 116, 200};
    assert_int_equal(sl_rtcp_build_nack(&out, 10, 0x12345678, seqs, 5), SL_OK);
    const uint8_t want[] = {0x81, 0xcd, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0a, 0x12, 0x34,
                            0x56, 0x78, 0x00, 0x64, 0x80, 0x05, 0x00, 0xc8, 0x00, 0x00};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    p = single(out.data, out.len);
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_OK);
    assert_int_equal(n.count, 5);
    assert_memory_equal(n.seq, seqs, sizeof(seqs));
    /* Across the wrap: 65535, 0, 1 share one entry. */
    out.len = 0;
    const uint16_t wrap[] = {65535, 0, 1};
    assert_int_equal(sl_rtcp_build_nack(&out, 1, 2, wrap, 3), SL_OK);
    const uint8_t wrap_fci[] = {0xff, 0xff, 0x00, 0x03};
    assert_int_equal(out.len, 16);
    assert_memory_equal(out.data + 12, wrap_fci, 4);
    assert_int_equal(sl_rtcp_build_nack(&out, 1, 2, wrap, 0), SL_ERR_TOO_BIG);
    assert_int_equal(out.len, 16);

    /* 16 full entries are 272 numbers: the first 256 are kept. */
    uint8_t many[12 + 16 * 4] = {0x81, 0xcd, 0x00, 18};
    for (int i = 0; i < 16; i++) {
        sl_wr_be16(many + 12 + 4 * i, (uint16_t)(i * 17));
        sl_wr_be16(many + 14 + 4 * i, 0xffff);
    }
    p = single(many, sizeof(many));
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_OK);
    assert_int_equal(n.count, SL_RTCP_MAX_NACK);
    assert_true(n.truncated);
    for (int i = 0; i < SL_RTCP_MAX_NACK; i++) assert_int_equal(n.seq[i], i);

    /* Not a NACK: no FCI, another FMT, a PSFB. */
    const uint8_t empty[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
    p = single(empty, sizeof(empty));
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_ERR_PROTO);
    const uint8_t fmt3[] = {0x83, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0};
    p = single(fmt3, sizeof(fmt3));
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_ERR_PROTO);
    const uint8_t short_fb[] = {0x81, 0xcd, 0x00, 0x01, 0, 0, 0, 1};
    p = single(short_fb, sizeof(short_fb));
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_ERR_PROTO);
    sl_rtcp_fb_t fb;
    assert_int_equal(sl_rtcp_parse_fb(&p, &fb), SL_ERR_PROTO);

    out.len = 0;
    assert_int_equal(sl_rtcp_build_pli(&out, 0x0a0b0c0d, 0x01020304), SL_OK);
    const uint8_t pli[] = {0x81, 0xce, 0x00, 0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04};
    assert_int_equal(out.len, sizeof(pli));
    assert_memory_equal(out.data, pli, sizeof(pli));
    p = single(out.data, out.len);
    assert_int_equal(sl_rtcp_parse_pli(&p, &sender, &media), SL_OK);
    assert_int_equal(sender, 0x0a0b0c0d);
    assert_int_equal(media, 0x01020304);
    assert_int_equal(sl_rtcp_parse_nack(&p, &n), SL_ERR_PROTO);
    sl_bytes_free(&out);
}

static void test_ntp(void **state)
{
    /* 2023-01-01T00:00:00.5Z: 1672531200 s Unix, 3881520000 s NTP, half a second. */
    assert_true(sl_rtcp_ntp_from_unix_us(UINT64_C(1672531200500000)) ==
                (UINT64_C(3881520000) << 32 | UINT64_C(0x80000000)));
    assert_true(sl_rtcp_ntp_from_unix_us(0) == UINT64_C(2208988800) << 32);
}

static void test_rx_stats(void **state)
{
    sl_rtcp_rx_stats_t s;
    sl_rtcp_rx_init(&s);
    sl_rtcp_report_block_t rb;
    sl_rtcp_rx_report(&s, 1, 0, &rb);
    assert_int_equal(rb.highest_seq, 0);
    assert_int_equal(sl_rtcp_rx_expected(&s), 0);

    /* 20 ms packets at 8 kHz arriving 0 or 10 ticks off; 102 lost, 105 late by 200. */
    const struct {
        uint16_t seq;
        uint32_t ts, arrival;
    } pk[] = {{100, 0, 1000},   {101, 160, 1170}, {103, 480, 1480}, {104, 640, 1650}, {106, 960, 1960},
              {105, 800, 2000}, {107, 1120, 2120}, {109, 1440, 2440}, {110, 1600, 2600}};
    /* J*16 after each: 0 10 19 28 36 234 | 419 393 368 (J += (|D| - J) / 16). */
    for (int i = 0; i < 6; i++) assert_true(sl_rtcp_rx_packet(&s, pk[i].seq, pk[i].ts, pk[i].arrival));
    assert_int_equal(s.jitter, 234);
    assert_int_equal(sl_rtcp_rx_expected(&s), 7);
    assert_int_equal(sl_rtcp_rx_lost(&s), 1);
    sl_rtcp_rx_sr(&s, UINT64_C(0xe5f1234580000000), 10000);
    sl_rtcp_rx_report(&s, 0xabcdef01, 11500, &rb);
    sl_rtcp_report_block_t want = {.ssrc = 0xabcdef01,
                                   .fraction_lost = 36, /* 1 of 7: 256 / 7 */
                                   .cumulative_lost = 1,
                                   .highest_seq = 106,
                                   .jitter = 14,
                                   .lsr = 0x23458000,
                                   .dlsr = 98304}; /* 1.5 s */
    check_block(&rb, &want);

    for (int i = 6; i < 9; i++) assert_true(sl_rtcp_rx_packet(&s, pk[i].seq, pk[i].ts, pk[i].arrival));
    assert_int_equal(s.jitter, 368);
    sl_rtcp_rx_report(&s, 0xabcdef01, 12000, &rb);
    want.fraction_lost = 64; /* 1 of 4 this interval */
    want.cumulative_lost = 2;
    want.highest_seq = 110;
    want.jitter = 23;
    want.dlsr = 131072;
    check_block(&rb, &want);
    /* Nothing new: no loss in an empty interval. */
    sl_rtcp_rx_report(&s, 0xabcdef01, 12000, &rb);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.cumulative_lost, 2);
}

static void test_rx_wrap_restart_duplicates(void **state)
{
    sl_rtcp_rx_stats_t s;
    sl_rtcp_rx_init(&s);
    sl_rtcp_report_block_t rb;
    const uint16_t seqs[] = {65534, 65535, 0, 1, 1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(seqs); i++) assert_true(sl_rtcp_rx_packet(&s, seqs[i], 0, 0));
    assert_int_equal(sl_rtcp_rx_expected(&s), 4);
    assert_int_equal(sl_rtcp_rx_lost(&s), -1);
    sl_rtcp_rx_report(&s, 1, 0, &rb);
    assert_int_equal(rb.highest_seq, 65537);
    assert_int_equal(rb.cumulative_lost, -1);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.lsr, 0);
    assert_int_equal(rb.dlsr, 0);
    /* A wild jump is ignored until the next packet follows it: a restart there. */
    assert_false(sl_rtcp_rx_packet(&s, 40000, 0, 0));
    assert_int_equal(sl_rtcp_rx_expected(&s), 4);
    assert_true(sl_rtcp_rx_packet(&s, 40001, 0, 0));
    assert_int_equal(sl_rtcp_rx_expected(&s), 1);
    assert_int_equal(sl_rtcp_rx_lost(&s), 0);
    /* A jump under 3000 is loss. */
    assert_true(sl_rtcp_rx_packet(&s, 42000, 0, 0));
    assert_int_equal(sl_rtcp_rx_expected(&s), 2000);
    assert_int_equal(sl_rtcp_rx_lost(&s), 1998);
    /* 99 back is a late packet, 100 back a wild one (A.1's MAX_MISORDER). */
    assert_true(sl_rtcp_rx_packet(&s, 41901, 0, 0));
    assert_int_equal(sl_rtcp_rx_expected(&s), 2000);
    assert_false(sl_rtcp_rx_packet(&s, 41900, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sr),
        cmocka_unit_test(test_rr),
        cmocka_unit_test(test_sdes_bye),
        cmocka_unit_test(test_captured_compound),
        cmocka_unit_test(test_compound_walk),
        cmocka_unit_test(test_nack_pli),
        cmocka_unit_test(test_ntp),
        cmocka_unit_test(test_rx_stats),
        cmocka_unit_test(test_rx_wrap_restart_duplicates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
