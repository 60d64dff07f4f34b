/* RFC 7587 Opus packetizer and depacketizer: byte-exact packets, 48 kHz timestamps
 * both ways, the 32-bit wrap, CONFIG and empty frames. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/rtp/rtp_opus.h"

#define MAX_FRAMES 8

typedef struct sink {
    int count;
    sl_frame_t *frames[MAX_FRAMES];
    int result;
} sink_t;

static int collect(void *arg, sl_frame_t *f)
{
    sink_t *s = arg;
    assert_true(s->count < MAX_FRAMES);
    s->frames[s->count++] = sl_frame_ref(f);
    return s->result;
}

static void sink_free(sink_t *s)
{
    for (int i = 0; i < s->count; i++) sl_frame_unref(s->frames[i]);
    s->count = 0;
}

static sl_frame_t *opus_frame(uint8_t flags, int64_t pts, const uint8_t *data, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, flags, pts, pts, data, len);
    assert_non_null(f);
    return f;
}

/* A 20 ms CELT fullband stereo packet's first bytes (TOC 0xfc: config 31, stereo, 1 frame). */
static const uint8_t OPUS_PKT[] = {0xfc, 0xff, 0xfe, 0x1b, 0x85, 0x21};

static void test_packetize(void **state)
{
    sl_rtp_opus_packer_t pk;
    sl_rtp_opus_packer_init(&pk, 111, 0xcafebabe, 0xffff);
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_frame_t *f = opus_frame(0, 1800, OPUS_PKT, sizeof(OPUS_PKT)); /* 20 ms: RTP 960 */
    assert_int_equal(sl_rtp_opus_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    const uint8_t want[] = {0x00, 0x12, 0x80, 0x6f, 0xff, 0xff, 0x00, 0x00, 0x03, 0xc0,
                            0xca, 0xfe, 0xba, 0xbe, 0xfc, 0xff, 0xfe, 0x1b, 0x85, 0x21};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    assert_int_equal(pk.seq, 0);

    /* CONFIG frames (an OpusHead from elsewhere) send nothing; empty frames are errors. */
    f = opus_frame(SL_FRAME_CONFIG, 0, (const uint8_t *)"OpusHead", 8);
    assert_int_equal(sl_rtp_opus_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    f = opus_frame(0, 0, OPUS_PKT, 0);
    assert_int_equal(sl_rtp_opus_packetize(&pk, f, &out), SL_ERR_PROTO);
    sl_frame_unref(f);
    static uint8_t big[65524];
    f = opus_frame(0, 0, big, sizeof(big));
    assert_int_equal(sl_rtp_opus_packetize(&pk, f, &out), SL_ERR_TOO_BIG);
    sl_frame_unref(f);
    f = opus_frame(0, 0, big, sizeof(big) - 1); /* the largest that fits the prefix */
    assert_int_equal(sl_rtp_opus_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    assert_int_equal(out.len, sizeof(want) + 2 + 65535);
    assert_int_equal(out.data[sizeof(want)], 0xff);
    assert_int_equal(out.data[sizeof(want) + 1], 0xff);
    assert_int_equal(pk.seq, 1);
    sl_bytes_free(&out);
}

static void test_round_trip(void **state)
{
    sl_rtp_opus_packer_t pk;
    sl_rtp_opus_packer_init(&pk, 111, 1, 100);
    sl_bytes_t out;
    sl_bytes_init(&out);
    /* 20 ms, 20 ms, then a 60 ms packet: hub 0, 1800, 3600, 9000. */
    const int64_t pts[] = {5000 * 1800, 5001 * 1800, 5002 * 1800, 5005 * 1800};
    for (size_t i = 0; i < SL_ARRAY_SIZE(pts); i++) {
        sl_frame_t *f = opus_frame(0, pts[i], OPUS_PKT, i + 1);
        assert_int_equal(sl_rtp_opus_packetize(&pk, f, &out), SL_OK);
        sl_frame_unref(f);
    }
    sink_t s = {0};
    sl_rtp_opus_depack_t d;
    sl_rtp_opus_depack_init(&d, collect, &s);
    size_t pos = 0, n;
    const uint8_t *pkt;
    uint32_t want_ts = 5000 * 960;
    while ((pkt = sl_rtp_next_packet(out.data, out.len, &pos, &n)) != NULL) {
        sl_rtp_packet_t p;
        assert_int_equal(sl_rtp_parse(pkt, n, &p), SL_OK);
        assert_false(p.marker);
        assert_int_equal(p.payload_type, 111);
        assert_int_equal(p.timestamp, want_ts);
        want_ts += p.seq == 102 ? 3 * 960 : 960;
        assert_int_equal(sl_rtp_opus_depack_push(&d, &p), SL_OK);
    }
    assert_int_equal(s.count, 4);
    assert_int_equal(d.frames, 4);
    const int64_t hub[] = {0, 1800, 3600, 9000};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s.frames[i]->media, SL_MEDIA_AUDIO);
        assert_int_equal(s.frames[i]->codec, SL_CODEC_OPUS);
        assert_int_equal(s.frames[i]->flags, 0);
        assert_int_equal(s.frames[i]->pts, hub[i]);
        assert_int_equal(s.frames[i]->dts, hub[i]);
        assert_int_equal(s.frames[i]->len, i + 1);
        assert_memory_equal(s.frames[i]->data, OPUS_PKT, i + 1);
    }
    sink_free(&s);
    sl_bytes_free(&out);
}

static void test_depack_wrap_and_empty(void **state)
{
    sink_t s = {0};
    sl_rtp_opus_depack_t d;
    sl_rtp_opus_depack_init(&d, collect, &s);
    /* RTP 2^32 - 960, then 0 and 960 after the wrap; an empty payload is skipped. */
    const uint32_t ts[] = {0xfffffc40, 0, 0, 960};
    for (int i = 0; i < 4; i++) {
        uint8_t pkt[13];
        sl_rtp_write_header(pkt, i == 0, 111, (uint16_t)(7 + i), ts[i], 5);
        pkt[12] = (uint8_t)i;
        sl_rtp_packet_t p;
        assert_int_equal(sl_rtp_parse(pkt, i == 1 ? 12 : 13, &p), SL_OK);
        assert_int_equal(sl_rtp_opus_depack_push(&d, &p), SL_OK);
    }
    assert_int_equal(s.count, 3);
    assert_int_equal(s.frames[0]->pts, 0);
    assert_int_equal(s.frames[1]->pts, 1800);
    assert_int_equal(s.frames[1]->data[0], 2);
    assert_int_equal(s.frames[2]->pts, 3600);
    sink_free(&s);

    /* An error from emit comes back. */
    s.result = SL_ERR_IO;
    uint8_t pkt[13];
    sl_rtp_write_header(pkt, false, 111, 11, 1920, 5);
    pkt[12] = 0xfc;
    sl_rtp_packet_t p;
    assert_int_equal(sl_rtp_parse(pkt, sizeof(pkt), &p), SL_OK);
    assert_int_equal(sl_rtp_opus_depack_push(&d, &p), SL_ERR_IO);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.frames[0]->pts, 5400);
    sink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packetize),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_depack_wrap_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
