/* H.264 RTP payload format (RFC 6184): packet layouts byte by byte, round trips
 * through the packetizer, sl_rtp_parse and the depacketizer, loss and hostile input.
 * Parameter sets are the real x264 ones of tests/unit/protocols/codec/test_h264.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "protocols/rtp/rtp_h264.h"

/* testsrc2 1280x720 30 fps, High 3.1, and the avcC ffmpeg writes for it. */
static const char SPS_720[] = "6764001facd9405005bb0110000003001000000303c0f1831960";
static const char PPS_720[] = "68ebe3cb22c0";
static const char AVCC_720[] = "0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f1831960"
                               "01000668ebe3cb22c0fdf8f800";
/* 320x240 30 fps Constrained Baseline 1.3. */
static const char SPS_240[] = "6742c00dd90141fb0110000003001000000303c0f142a480";
static const char PPS_240[] = "68cb83cb20";

#define PT 96
#define SSRC 0x11223344u
#define MAX_PACKETS 256
#define MAX_FRAMES 32

typedef struct hexbuf {
    uint8_t data[512];
    size_t len;
} hexbuf_t;

static hexbuf_t hex(const char *s)
{
    hexbuf_t h = {.len = 0};
    size_t n = strlen(s);
    assert_true(n % 2 == 0 && n / 2 <= sizeof(h.data));
    for (size_t i = 0; i < n; i += 2) {
        unsigned x;
        assert_int_equal(sscanf(s + i, "%2x", &x), 1);
        h.data[h.len++] = (uint8_t)x;
    }
    return h;
}

/* A NAL unit of `len` bytes: header byte, then a pattern from `seed`. */
static uint8_t *make_nal(uint8_t hdr, size_t len, uint8_t seed)
{
    uint8_t *n = malloc(len);
    assert_non_null(n);
    n[0] = hdr;
    for (size_t i = 1; i < len; i++) n[i] = (uint8_t)(seed + i * 7);
    return n;
}

static void put_nal(sl_bytes_t *b, const uint8_t *nal, size_t len)
{
    assert_int_equal(sl_bytes_put_be32(b, (uint32_t)len), SL_OK);
    assert_int_equal(sl_bytes_append(b, nal, len), SL_OK);
}

/* A frame of one generated NAL unit per (header, length) pair. */
static sl_frame_t *gen_frame(uint8_t flags, int64_t pts, const uint8_t *hdrs, const size_t *lens, int n)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    for (int i = 0; i < n; i++) {
        uint8_t *nal = make_nal(hdrs[i], lens[i], (uint8_t)(pts + i));
        put_nal(&b, nal, lens[i]);
        free(nal);
    }
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, flags, pts, pts, b.data, b.len);
    assert_non_null(f);
    sl_bytes_free(&b);
    return f;
}

static sl_frame_t *config_frame(const char *record)
{
    hexbuf_t rec = hex(record);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, rec.data, rec.len);
    assert_non_null(f);
    return f;
}

/* The packets of a length-prefixed list, parsed. */
typedef struct packets {
    sl_rtp_packet_t pkt[MAX_PACKETS];
    size_t len[MAX_PACKETS]; /* whole packet, header included */
    int count;
} packets_t;

static void parse_list(const sl_bytes_t *out, size_t from, packets_t *ps)
{
    size_t pos = from, n;
    const uint8_t *p;
    while ((p = sl_rtp_next_packet(out->data, out->len, &pos, &n)) != NULL) {
        assert_true(ps->count < MAX_PACKETS);
        assert_int_equal(sl_rtp_parse(p, n, &ps->pkt[ps->count]), SL_OK);
        ps->len[ps->count++] = n;
    }
    assert_int_equal(pos, out->len); /* the whole list was well formed */
}

/* Frames emitted by a depacketizer, referenced. */
typedef struct sink {
    sl_frame_t *f[MAX_FRAMES];
    int count;
    int fail; /* returned by emit when non-zero */
} sink_t;

static int on_frame(void *arg, sl_frame_t *f)
{
    sink_t *s = arg;
    assert_true(s->count < MAX_FRAMES);
    s->f[s->count++] = sl_frame_ref(f);
    return s->fail;
}

static void sink_free(sink_t *s)
{
    for (int i = 0; i < s->count; i++) sl_frame_unref(s->f[i]);
    s->count = 0;
}

/* Feeds every packet but the one at index `skip` (-1 for none). */
static void feed(sl_rtp_h264_depacketizer_t *d, const packets_t *ps, int skip, sink_t *s)
{
    for (int i = 0; i < ps->count; i++)
        if (i != skip) assert_int_equal(sl_rtp_h264_depacketize(d, &ps->pkt[i], on_frame, s), SL_OK);
}

static void assert_same_frame(const sl_frame_t *got, const sl_frame_t *want)
{
    assert_int_equal(got->media, SL_MEDIA_VIDEO);
    assert_int_equal(got->codec, SL_CODEC_H264);
    assert_int_equal(got->flags, want->flags);
    assert_int_equal(got->pts, want->pts);
    assert_int_equal(got->dts, want->pts);
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->data, want->data, want->len);
}

static void test_single_nal_packet(void **state)
{
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 0xfffe, 1200);
    const uint8_t hdr = 0x41;
    const size_t len = 500;
    sl_frame_t *f = gen_frame(0, 270007, &hdr, &len, 1);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    assert_int_equal(out.len, 2 + 12 + 500);
    const uint8_t head[] = {0x02, 0x00, 0x80, 0x80 | PT, 0xff, 0xfe, 0x00, 0x04, 0x1e, 0xb7, 0x11, 0x22, 0x33, 0x44};
    assert_memory_equal(out.data, head, sizeof(head));
    assert_memory_equal(out.data + 14, f->data + 4, 500);
    assert_int_equal(p.seq, 0xffff);

    /* The next frame continues the sequence across the wrap. */
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    assert_int_equal(p.seq, 0);
    assert_int_equal(out.data[514 + 4], 0xff);
    assert_int_equal(out.data[514 + 5], 0xff);

    sl_frame_unref(f);
    sl_bytes_free(&out);
    sl_rtp_h264_packetizer_free(&p);
}

static void test_stap_a_layout(void **state)
{
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 100, 1200);
    /* AUD (dropped), SEI with NRI 0, two slices with NRI 2 and 1. */
    const uint8_t hdrs[] = {0x09, 0x06, 0x41, 0x21};
    const size_t lens[] = {2, 5, 3, 4};
    sl_frame_t *f = gen_frame(0, 3000, hdrs, lens, 4);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    packets_t ps = {.count = 0};
    parse_list(&out, 0, &ps);
    assert_int_equal(ps.count, 1);
    assert_true(ps.pkt[0].marker);
    assert_int_equal(ps.pkt[0].seq, 100);
    assert_int_equal(ps.pkt[0].timestamp, 3000);
    const uint8_t *pl = ps.pkt[0].payload;
    assert_int_equal(ps.pkt[0].payload_len, 1 + 2 + 5 + 2 + 3 + 2 + 4);
    /* STAP-A header: F 0, the highest NRI (2), type 24. */
    assert_int_equal(pl[0], 0x58);
    assert_int_equal(pl[1], 0);
    assert_int_equal(pl[2], 5);
    assert_memory_equal(pl + 3, f->data + 4 + 2 + 4, 5);
    assert_int_equal(pl[8], 0);
    assert_int_equal(pl[9], 3);
    assert_int_equal(pl[10], 0x41);
    assert_int_equal(pl[13], 0);
    assert_int_equal(pl[14], 4);
    assert_int_equal(pl[15], 0x21);
    sl_frame_unref(f);

    /* A unit with the F bit set makes the STAP-A's F bit set. */
    const uint8_t hdrs2[] = {0x61, 0x81};
    const size_t lens2[] = {3, 3};
    f = gen_frame(0, 3000, hdrs2, lens2, 2);
    sl_bytes_free(&out);
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    assert_int_equal(out.data[14], 0x80 | 0x60 | 24);
    sl_frame_unref(f);
    sl_bytes_free(&out);
    sl_rtp_h264_packetizer_free(&p);
}

static void test_fu_a_layout(void **state)
{
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 7, 1200);
    const uint8_t hdr = 0x65;
    const size_t len = 50000;
    sl_frame_t *f = gen_frame(0, 90000, &hdr, &len, 1);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    packets_t ps = {.count = 0};
    parse_list(&out, 0, &ps);
    /* 49999 bytes after the header in 1198-byte pieces. */
    assert_int_equal(ps.count, 42);
    size_t off = 1;
    for (int i = 0; i < ps.count; i++) {
        const sl_rtp_packet_t *k = &ps.pkt[i];
        assert_int_equal(k->seq, 7 + i);
        assert_int_equal(k->timestamp, 90000);
        assert_int_equal(k->ssrc, SSRC);
        assert_int_equal(k->payload_type, PT);
        assert_int_equal(k->marker, i == 41);
        assert_int_equal(k->payload_len, i < 41 ? 1200 : 2 + 49999 - 41 * 1198);
        assert_int_equal(k->payload[0], 0x7c); /* FU indicator: NRI 3, type 28 */
        assert_int_equal(k->payload[1], i == 0 ? 0x85 : i == 41 ? 0x45 : 0x05);
        assert_memory_equal(k->payload + 2, f->data + 4 + off, k->payload_len - 2);
        off += k->payload_len - 2;
    }
    assert_int_equal(off, len);
    sl_frame_unref(f);
    sl_bytes_free(&out);
    sl_rtp_h264_packetizer_free(&p);
}

/* Packs frames one after the other into one list. */
static void pack_all(sl_rtp_h264_packetizer_t *p, sl_frame_t **f, int n, sl_bytes_t *out, packets_t *ps)
{
    for (int i = 0; i < n; i++) assert_int_equal(sl_rtp_h264_packetize(p, f[i], out), SL_OK);
    parse_list(out, 0, ps);
}

static void test_roundtrip_keyframe_with_config(void **state)
{
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 65530, 1200);
    sl_frame_t *cfg = config_frame(AVCC_720);
    /* Through packetize, a config frame is taken and sends nothing. */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtp_h264_packetize(&p, cfg, &out), SL_OK);
    assert_int_equal(out.len, 0);

    const uint8_t idr = 0x65, p_hdr[] = {0x41, 0x41, 0x41}, small = 0x01;
    const size_t idr_len = 50000, p_lens[] = {300, 200, 100}, small_len = 40;
    sl_frame_t *f[4];
    f[0] = gen_frame(SL_FRAME_KEY, 0, &idr, &idr_len, 1);
    f[1] = gen_frame(0, 3000, p_hdr, p_lens, 3); /* aggregated in one STAP-A */
    f[2] = gen_frame(0, 6000, &small, &small_len, 1);
    f[3] = gen_frame(0, 9000, p_hdr, (const size_t[]){1300, 900}, 2); /* FU-A, then single */
    packets_t ps = {.count = 0};
    pack_all(&p, f, 4, &out, &ps);

    /* Keyframe: STAP-A of SPS and PPS first, then 42 FU-A packets. */
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720);
    const uint8_t *pl = ps.pkt[0].payload;
    assert_int_equal(ps.pkt[0].payload_len, 1 + 2 + sps.len + 2 + pps.len);
    assert_int_equal(pl[0], 0x78);
    assert_int_equal(pl[2], sps.len);
    assert_memory_equal(pl + 3, sps.data, sps.len);
    assert_int_equal(pl[3 + sps.len + 1], pps.len);
    assert_memory_equal(pl + 5 + sps.len, pps.data, pps.len);
    assert_int_equal(ps.count, 1 + 42 + 1 + 1 + 2 + 1);
    int last_of[] = {42, 43, 44, 47};
    uint32_t ts_of[] = {0, 3000, 6000, 9000};
    for (int i = 0, fr = 0; i < ps.count; i++) {
        assert_int_equal(ps.pkt[i].seq, (uint16_t)(65530 + i));
        assert_int_equal(ps.pkt[i].timestamp, ts_of[fr]);
        assert_int_equal(ps.pkt[i].marker, i == last_of[fr]);
        assert_true(ps.pkt[i].payload_len <= 1200);
        if (i == last_of[fr]) fr++;
    }
    assert_int_equal(ps.pkt[43].payload[0] & 0x1f, 24);
    assert_int_equal(ps.pkt[44].payload[0], 0x01);
    assert_int_equal(ps.pkt[45].payload[1], 0x81);
    assert_int_equal(ps.pkt[46].payload[1], 0x41);
    assert_int_equal(ps.pkt[47].payload[0], 0x41);

    sl_rtp_h264_depacketizer_t d;
    sl_rtp_h264_depacketizer_init(&d);
    sink_t s = {.count = 0};
    feed(&d, &ps, -1, &s);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.f[0]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[0]->codec, SL_CODEC_H264);
    assert_int_equal(s.f[0]->pts, 0);
    assert_int_equal(s.f[0]->len, cfg->len);
    assert_memory_equal(s.f[0]->data, cfg->data, cfg->len);
    for (int i = 0; i < 4; i++) assert_same_frame(s.f[i + 1], f[i]);
    assert_int_equal(d.stats.packets, ps.count);
    assert_int_equal(d.stats.frames, 4);
    assert_int_equal(d.stats.configs, 1);
    assert_int_equal(d.stats.lost + d.stats.bad_packets + d.stats.dropped + d.stats.skipped, 0);

    for (int i = 0; i < 4; i++) sl_frame_unref(f[i]);
    sl_frame_unref(cfg);
    sink_free(&s);
    sl_bytes_free(&out);
    sl_rtp_h264_depacketizer_free(&d);
    sl_rtp_h264_packetizer_free(&p);
}

static void test_grouping_respects_mtu(void **state)
{
    /* 30 units of 1..90 bytes at the smallest mtu: every packet within 64 bytes, and
     * the frame comes back whole. */
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 0, 0);
    assert_int_equal(p.mtu, SL_RTP_MIN_MTU);
    uint8_t hdrs[30];
    size_t lens[30];
    for (int i = 0; i < 30; i++) {
        hdrs[i] = i == 0 ? 0x65 : 0x41;
        lens[i] = (size_t)(1 + i * 3);
    }
    sl_frame_t *cfg = config_frame(AVCC_720);
    assert_int_equal(sl_rtp_h264_packetizer_set_config(&p, cfg), SL_OK);
    sl_frame_t *f = gen_frame(SL_FRAME_KEY, 0, hdrs, lens, 30);
    sl_bytes_t out;
    sl_bytes_init(&out);
    packets_t ps = {.count = 0};
    pack_all(&p, &f, 1, &out, &ps);
    int singles = 0, staps = 0, fus = 0;
    for (int i = 0; i < ps.count; i++) {
        assert_true(ps.pkt[i].payload_len <= SL_RTP_MIN_MTU);
        int t = ps.pkt[i].payload[0] & 0x1f;
        singles += t < 24;
        staps += t == 24;
        fus += t == 28;
    }
    assert_true(singles > 0 && staps > 0 && fus > 0);

    sl_rtp_h264_depacketizer_t d;
    sl_rtp_h264_depacketizer_init(&d);
    sink_t s = {.count = 0};
    feed(&d, &ps, -1, &s);
    assert_int_equal(s.count, 2);
    assert_same_frame(s.f[1], f);

    sl_frame_unref(f);
    sl_frame_unref(cfg);
    sink_free(&s);
    sl_bytes_free(&out);
    sl_rtp_h264_depacketizer_free(&d);
    sl_rtp_h264_packetizer_free(&p);

    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 0, 100000);
    assert_int_equal(p.mtu, SL_RTP_MAX_MTU);
    sl_rtp_h264_packetizer_free(&p);
}

/* K0 (STAP-A of SPS and PPS, 3 FU-A), P1 (3 FU-A), P2, P3, K4 (one STAP-A of SPS,
 * PPS and IDR), P5: packets 0-3, 4-6, 7, 8, 9, 10. */
static void make_gop(sl_frame_t **f, packets_t *ps, sl_bytes_t *out)
{
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 1000, 1200);
    sl_frame_t *cfg = config_frame(AVCC_720);
    assert_int_equal(sl_rtp_h264_packetizer_set_config(&p, cfg), SL_OK);
    sl_frame_unref(cfg);
    const uint8_t idr = 0x65, sl = 0x41;
    const size_t big = 3000, small = 100;
    f[0] = gen_frame(SL_FRAME_KEY, 0, &idr, &big, 1);
    f[1] = gen_frame(0, 3000, &sl, &big, 1);
    f[2] = gen_frame(0, 6000, &sl, &small, 1);
    f[3] = gen_frame(0, 9000, &sl, &small, 1);
    f[4] = gen_frame(SL_FRAME_KEY, 12000, &idr, &small, 1);
    f[5] = gen_frame(0, 15000, &sl, &small, 1);
    pack_all(&p, f, 6, out, ps);
    assert_int_equal(ps->count, 11);
    sl_rtp_h264_packetizer_free(&p);
}

static void test_loss_of_a_fragment(void **state)
{
    sl_frame_t *f[6];
    packets_t ps = {.count = 0};
    sl_bytes_t out;
    sl_bytes_init(&out);
    make_gop(f, &ps, &out);

    sl_rtp_h264_depacketizer_t d;
    sl_rtp_h264_depacketizer_init(&d);
    sink_t s = {.count = 0};
    feed(&d, &ps, 5, &s); /* the middle fragment of P1 */
    assert_int_equal(s.count, 4);
    assert_int_equal(s.f[0]->flags, SL_FRAME_CONFIG);
    assert_same_frame(s.f[1], f[0]);
    assert_same_frame(s.f[2], f[4]);
    assert_same_frame(s.f[3], f[5]);
    assert_int_equal(d.stats.lost, 1);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 2);
    assert_int_equal(d.stats.frames, 3);
    assert_int_equal(d.stats.bad_packets, 0);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);

    /* The first fragment instead: the rest of P1 arrives without a start. */
    sl_rtp_h264_depacketizer_init(&d);
    feed(&d, &ps, 4, &s);
    assert_int_equal(s.count, 4);
    assert_same_frame(s.f[2], f[4]);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 2);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);

    /* The whole of P2: P3 after the gap cannot be trusted either. */
    sl_rtp_h264_depacketizer_init(&d);
    feed(&d, &ps, 7, &s);
    assert_int_equal(s.count, 5);
    assert_same_frame(s.f[2], f[1]);
    assert_same_frame(s.f[3], f[4]);
    assert_int_equal(d.stats.lost, 1);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 0);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);

    /* Joining mid-stream: P frames wait for the keyframe. */
    sl_rtp_h264_depacketizer_init(&d);
    for (int i = 4; i < ps.count; i++)
        assert_int_equal(sl_rtp_h264_depacketize(&d, &ps.pkt[i], on_frame, &s), SL_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.f[0]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[1]->pts, 12000 - 3000); /* the clock starts at the first packet */
    assert_int_equal(d.stats.skipped, 3);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);

    for (int i = 0; i < 6; i++) sl_frame_unref(f[i]);
    sl_bytes_free(&out);
}

static void test_late_and_duplicate_packets(void **state)
{
    sl_frame_t *f[6];
    packets_t ps = {.count = 0};
    sl_bytes_t out;
    sl_bytes_init(&out);
    make_gop(f, &ps, &out);
    sl_rtp_h264_depacketizer_t d;
    sl_rtp_h264_depacketizer_init(&d);
    sink_t s = {.count = 0};
    for (int i = 0; i < ps.count; i++) {
        assert_int_equal(sl_rtp_h264_depacketize(&d, &ps.pkt[i], on_frame, &s), SL_OK);
        /* Every packet again, and an older one: both ignored. */
        assert_int_equal(sl_rtp_h264_depacketize(&d, &ps.pkt[i], on_frame, &s), SL_OK);
        assert_int_equal(sl_rtp_h264_depacketize(&d, &ps.pkt[i / 2], on_frame, &s), SL_OK);
    }
    assert_int_equal(s.count, 7);
    for (int i = 0; i < 6; i++) assert_same_frame(s.f[i + 1], f[i]);
    assert_int_equal(d.stats.late, 2 * ps.count);
    assert_int_equal(d.stats.lost + d.stats.dropped, 0);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);

    /* A sender restart far back in sequence numbers is a gap, not late packets: the
     * access unit after it is dropped and the stream resumes at the next keyframe. */
    sl_rtp_h264_depacketizer_init(&d);
    feed(&d, &ps, -1, &s);
    for (int i = 0; i < ps.count; i++) ps.pkt[i].seq = (uint16_t)(ps.pkt[i].seq - 20000);
    feed(&d, &ps, -1, &s);
    assert_int_equal(s.count, 7 + 2);
    assert_same_frame(s.f[7], f[4]);
    assert_int_equal(d.stats.late, 0);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 3);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);

    for (int i = 0; i < 6; i++) sl_frame_unref(f[i]);
    sl_bytes_free(&out);
}

/* A packet by hand: marker, seq, ts and a payload. */
static sl_rtp_packet_t mk(bool marker, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len)
{
    sl_rtp_packet_t k = {.marker = marker, .payload_type = PT, .seq = seq, .timestamp = ts, .ssrc = SSRC,
                         .payload = payload, .payload_len = len};
    return k;
}

/* A depacketizer that has the 720p config and a first keyframe behind it. */
static void start_stream(sl_rtp_h264_depacketizer_t *d, sink_t *s, uint16_t *seq)
{
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720);
    sl_rtp_h264_depacketizer_init(d);
    assert_int_equal(sl_rtp_h264_depacketizer_set_sprop(d, sps.data, sps.len, pps.data, pps.len), SL_OK);
    const uint8_t idr[] = {0x65, 1, 2, 3};
    sl_rtp_packet_t k = mk(true, (*seq)++, 0, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_depacketize(d, &k, on_frame, s), SL_OK);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->f[1]->flags, SL_FRAME_KEY);
}

/* Feeds one damaged access unit (its packets at ts), then an intact P frame and an
 * intact keyframe: only the keyframe may come out, after the damaged one is
 * counted. */
static void check_damaged(const uint8_t *const *payload, const size_t *len, int n, uint64_t bad, uint64_t too_big)
{
    sl_rtp_h264_depacketizer_t d;
    sink_t s = {.count = 0};
    uint16_t seq = 10;
    start_stream(&d, &s, &seq);
    d.max_au = 2000;
    for (int i = 0; i < n; i++) {
        sl_rtp_packet_t k = mk(i == n - 1, seq++, 3000, payload[i], len[i]);
        assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    }
    const uint8_t pf[] = {0x41, 9, 9}, kf[] = {0x65, 8, 8};
    sl_rtp_packet_t k = mk(true, seq++, 6000, pf, sizeof(pf));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, seq++, 9000, kf, sizeof(kf));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.f[2]->flags, SL_FRAME_KEY);
    assert_int_equal(s.f[2]->pts, 9000);
    const uint8_t want[] = {0, 0, 0, 3, 0x65, 8, 8};
    assert_int_equal(s.f[2]->len, sizeof(want));
    assert_memory_equal(s.f[2]->data, want, sizeof(want));
    assert_int_equal(d.stats.bad_packets, bad);
    assert_int_equal(d.stats.too_big, too_big);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 1);
    assert_int_equal(d.stats.lost, 0);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);
}

static void test_hostile_packets(void **state)
{
    const uint8_t fu_start[] = {0x7c, 0x81, 1, 2}, fu_mid[] = {0x7c, 0x01, 3}, fu_end[] = {0x7c, 0x41, 4};
    const uint8_t single[] = {0x41, 5, 6};
    /* FU-A without a start. */
    check_damaged((const uint8_t *[]){fu_mid, fu_end}, (size_t[]){3, 3}, 2, 1, 0);
    /* FU-A started twice. */
    check_damaged((const uint8_t *[]){fu_start, fu_start, fu_end}, (size_t[]){4, 4, 3}, 3, 1, 0);
    /* An FU-A left open by a single NAL unit packet, or by the marker. */
    check_damaged((const uint8_t *[]){fu_start, single}, (size_t[]){4, 3}, 2, 1, 0);
    check_damaged((const uint8_t *[]){fu_start, fu_mid}, (size_t[]){4, 3}, 2, 0, 0);
    /* An FU-A with no FU header, or carrying a STAP-A or reserved type. */
    const uint8_t fu_short[] = {0x7c}, fu_stap[] = {0x7c, 0xd8, 1}, fu_zero[] = {0x7c, 0xc0, 1};
    check_damaged((const uint8_t *[]){fu_short}, (size_t[]){1}, 1, 1, 0);
    check_damaged((const uint8_t *[]){fu_stap}, (size_t[]){3}, 1, 1, 0);
    check_damaged((const uint8_t *[]){fu_zero}, (size_t[]){3}, 1, 1, 0);
    /* STAP-A: empty, a zero-length unit, a length past the end, a trailing byte, a
     * nested FU-A. */
    const uint8_t stap_empty[] = {0x78}, stap_zero[] = {0x78, 0, 1, 0x41, 0, 0},
                  stap_long[] = {0x78, 0, 2, 0x41, 1, 0, 9, 0x41}, stap_trail[] = {0x78, 0, 1, 0x41, 0},
                  stap_nested[] = {0x78, 0, 3, 0x7c, 0x85, 1};
    check_damaged((const uint8_t *[]){stap_empty}, (size_t[]){1}, 1, 1, 0);
    check_damaged((const uint8_t *[]){stap_zero}, (size_t[]){sizeof(stap_zero)}, 1, 1, 0);
    check_damaged((const uint8_t *[]){stap_long}, (size_t[]){sizeof(stap_long)}, 1, 1, 0);
    check_damaged((const uint8_t *[]){stap_trail}, (size_t[]){sizeof(stap_trail)}, 1, 1, 0);
    check_damaged((const uint8_t *[]){stap_nested}, (size_t[]){sizeof(stap_nested)}, 1, 1, 0);
    /* Reserved and interleaved-mode types; an empty payload. */
    const uint8_t t0[] = {0x00, 1}, t25[] = {0x19, 0, 1, 0x41}, t26[] = {0x1a, 1}, t29[] = {0x1d, 0x81, 1},
                  t30[] = {0x1e, 1}, t31[] = {0x1f, 1};
    const uint8_t *types[] = {t0, t25, t26, t29, t30, t31};
    for (size_t i = 0; i < SL_ARRAY_SIZE(types); i++)
        check_damaged((const uint8_t *[]){types[i]}, (size_t[]){2}, 1, 1, 0);
    check_damaged((const uint8_t *[]){single, single}, (size_t[]){0, 3}, 2, 1, 0);
    /* An access unit over max_au (2000 bytes here), in fragments or in units. */
    uint8_t big[1200];
    memset(big, 0x55, sizeof(big));
    big[0] = 0x7c;
    big[1] = 0x81;
    uint8_t big_mid[1200], big_end[1200];
    memcpy(big_mid, big, sizeof(big));
    big_mid[1] = 0x01;
    memcpy(big_end, big, sizeof(big));
    big_end[1] = 0x41;
    check_damaged((const uint8_t *[]){big, big_mid, big_end}, (size_t[]){1200, 1200, 1200}, 3, 0, 1);
    big[0] = 0x41;
    check_damaged((const uint8_t *[]){big, big}, (size_t[]){1200, 1200}, 2, 0, 1);
}

static void test_strip_and_boundaries(void **state)
{
    sl_rtp_h264_depacketizer_t d;
    sink_t s = {.count = 0};
    uint16_t seq = 0;
    start_stream(&d, &s, &seq);
    /* AUD, SEI, filler, SPS and PPS stay out of the frame; a whole NAL unit in one
     * FU-A (start and end set) is taken; the frame ends at the timestamp change, not
     * only at a marker. */
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720);
    uint8_t stap[128] = {0x78};
    size_t n = 1;
    const uint8_t aud[] = {0x09, 0xf0}, sei[] = {0x06, 5, 1, 0x80}, fill[] = {0x0c, 0xff, 0xff};
    const uint8_t *units[] = {aud, sps.data, pps.data, sei, fill};
    const size_t lens[] = {2, sps.len, pps.len, 4, 3};
    for (int i = 0; i < 5; i++) {
        sl_wr_be16(stap + n, (uint16_t)lens[i]);
        memcpy(stap + n + 2, units[i], lens[i]);
        n += 2 + lens[i];
    }
    const uint8_t fu_whole[] = {0x5c, 0xc1, 7, 7}, slice[] = {0x41, 1};
    sl_rtp_packet_t k = mk(false, seq++, 3000, stap, n);
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(false, seq++, 3000, fu_whole, sizeof(fu_whole));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 2);
    k = mk(false, seq++, 6000, slice, sizeof(slice));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    /* The repeated, unchanged parameter sets make no new config. */
    assert_int_equal(s.count, 3);
    const uint8_t want[] = {0, 0, 0, 3, 0x41, 7, 7};
    assert_int_equal(s.f[2]->flags, 0);
    assert_int_equal(s.f[2]->pts, 3000);
    assert_int_equal(s.f[2]->len, sizeof(want));
    assert_memory_equal(s.f[2]->data, want, sizeof(want));
    assert_int_equal(d.stats.configs, 1);

    /* A unit of only stripped types makes no frame at all. */
    k = mk(true, seq++, 6000, aud, sizeof(aud));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 4); /* the slice of 6000 */
    k = mk(true, seq++, 9000, sei, sizeof(sei));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 4);
    assert_int_equal(d.stats.frames, 3);
    assert_int_equal(d.stats.bad_packets + d.stats.dropped + d.stats.skipped, 0);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);
}

static void test_config_from_stream_and_change(void **state)
{
    sl_rtp_h264_depacketizer_t d;
    sl_rtp_h264_depacketizer_init(&d);
    sink_t s = {.count = 0};
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720), sps2 = hex(SPS_240), pps2 = hex(PPS_240);
    const uint8_t idr[] = {0x65, 1}, pf[] = {0x41, 2};
    uint16_t seq = 500;
    /* A keyframe before any parameter set is held back. */
    sl_rtp_packet_t k = mk(true, seq++, 100, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 0);
    assert_int_equal(d.stats.skipped, 1);
    /* SPS, PPS and IDR as single NAL unit packets of one access unit. */
    const uint8_t *units[] = {sps.data, pps.data, idr, pf};
    const size_t lens[] = {sps.len, pps.len, 2, 2};
    for (int i = 0; i < 4; i++) {
        k = mk(i == 2 || i == 3, seq++, i < 3 ? 3100 : 6100, units[i], lens[i]);
        assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    }
    assert_int_equal(s.count, 3);
    hexbuf_t rec = hex(AVCC_720);
    assert_int_equal(s.f[0]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[0]->pts, 3000);
    assert_int_equal(s.f[0]->len, rec.len);
    assert_memory_equal(s.f[0]->data, rec.data, rec.len);
    assert_int_equal(s.f[1]->flags, SL_FRAME_KEY);
    assert_int_equal(s.f[2]->flags, 0);

    /* New parameter sets mid-stream: a second config before the frame. */
    const uint8_t *units2[] = {sps2.data, pps2.data, idr};
    const size_t lens2[] = {sps2.len, pps2.len, 2};
    for (int i = 0; i < 3; i++) {
        k = mk(i == 2, seq++, 9100, units2[i], lens2[i]);
        assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    }
    assert_int_equal(s.count, 5);
    sl_bytes_t want;
    sl_bytes_init(&want);
    assert_int_equal(sl_h264_build_config(sps2.data, sps2.len, pps2.data, pps2.len, &want), SL_OK);
    assert_int_equal(s.f[3]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[3]->len, want.len);
    assert_memory_equal(s.f[3]->data, want.data, want.len);
    assert_int_equal(s.f[4]->flags, SL_FRAME_KEY);
    assert_int_equal(s.f[4]->pts, 9000);
    sl_bytes_free(&want);

    /* An SPS that does not parse: counted, and media held back until a good one. */
    const uint8_t bad_sps[] = {0x67, 0xff};
    k = mk(false, seq++, 12100, bad_sps, sizeof(bad_sps));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, seq++, 12100, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 5);
    assert_int_equal(d.stats.config_errors, 1);
    k = mk(false, seq++, 15100, sps2.data, sps2.len);
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, seq++, 15100, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 7);
    assert_int_equal(s.f[5]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[6]->flags, SL_FRAME_KEY);
    assert_int_equal(d.stats.configs, 3);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);
}

static void test_sprop(void **state)
{
    sl_rtp_h264_depacketizer_t d;
    sl_rtp_h264_depacketizer_init(&d);
    hexbuf_t sps = hex(SPS_240), pps = hex(PPS_240);
    /* Wrong types, empty or oversized units are refused and change nothing. */
    assert_int_equal(sl_rtp_h264_depacketizer_set_sprop(&d, pps.data, pps.len, pps.data, pps.len), SL_ERR_PROTO);
    assert_int_equal(sl_rtp_h264_depacketizer_set_sprop(&d, sps.data, sps.len, sps.data, sps.len), SL_ERR_PROTO);
    assert_int_equal(sl_rtp_h264_depacketizer_set_sprop(&d, sps.data, sps.len, NULL, 0), SL_ERR_PROTO);
    static uint8_t huge[SL_RTP_MAX_PS_LEN + 1] = {0x67};
    assert_int_equal(sl_rtp_h264_depacketizer_set_sprop(&d, huge, sizeof(huge), pps.data, pps.len), SL_ERR_PROTO);
    assert_int_equal(d.ps_len[0] + d.ps_len[1], 0);
    assert_int_equal(sl_rtp_h264_depacketizer_set_sprop(&d, sps.data, sps.len, pps.data, pps.len), SL_OK);

    sink_t s = {.count = 0};
    const uint8_t idr[] = {0x65, 1};
    sl_rtp_packet_t k = mk(true, 1, 0, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 2);
    sl_bytes_t want;
    sl_bytes_init(&want);
    assert_int_equal(sl_h264_build_config(sps.data, sps.len, pps.data, pps.len, &want), SL_OK);
    assert_int_equal(s.f[0]->len, want.len);
    assert_memory_equal(s.f[0]->data, want.data, want.len);
    sl_bytes_free(&want);

    /* The same parameter sets in-band later make no new config; an in-band SPS over
     * SL_RTP_MAX_PS_LEN is a bad packet. */
    k = mk(false, 2, 3000, sps.data, sps.len);
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, 3, 3000, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 3);
    k = mk(true, 4, 6000, huge, sizeof(huge));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(d.stats.bad_packets, 1);
    assert_int_equal(d.stats.configs, 1);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);
}

static void test_emit_error_and_timestamps(void **state)
{
    sl_rtp_h264_depacketizer_t d;
    sink_t s = {.count = 0};
    uint16_t seq = 0;
    start_stream(&d, &s, &seq);
    /* The callback's error comes back, and the depacketizer goes on after it. */
    s.fail = -42;
    const uint8_t pf[] = {0x41, 1};
    sl_rtp_packet_t k = mk(true, seq++, 3000, pf, sizeof(pf));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), -42);
    s.fail = 0;
    /* RTP timestamps wrap; the hub clock goes on. */
    k = mk(true, seq++, 0xfffff000u, pf, sizeof(pf));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, seq++, 0x1000, pf, sizeof(pf));
    assert_int_equal(sl_rtp_h264_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.f[3]->pts, -0x1000);
    assert_int_equal(s.f[4]->pts, 0x1000);
    assert_int_equal(s.f[4]->dts, 0x1000);
    sink_free(&s);
    sl_rtp_h264_depacketizer_free(&d);
}

static void test_packetize_errors(void **state)
{
    sl_rtp_h264_packetizer_t p;
    sl_rtp_h264_packetizer_init(&p, PT, SSRC, 9, 1200);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_bytes_append(&out, "xy", 2), SL_OK);
    /* A zero length after a good unit, a length past the end, a trailing byte. */
    const uint8_t zero[] = {0, 0, 0, 1, 0x41, 0, 0, 0, 0};
    const uint8_t past[] = {0, 0, 0, 1, 0x41, 0, 0, 0, 9, 0x41};
    const uint8_t trail[] = {0, 0, 0, 1, 0x41, 0};
    const uint8_t *bad[] = {zero, past, trail};
    const size_t bad_len[] = {sizeof(zero), sizeof(past), sizeof(trail)};
    for (int i = 0; i < 3; i++) {
        sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, 0, 0, 0, bad[i], bad_len[i]);
        assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_ERR_PROTO);
        assert_int_equal(out.len, 2);
        assert_int_equal(p.seq, 9);
        sl_frame_unref(f);
    }
    /* A bad record keeps the old parameter sets; none means a bare keyframe. */
    sl_frame_t *cfg = config_frame("0164001fffe1");
    assert_int_equal(sl_rtp_h264_packetizer_set_config(&p, cfg), SL_ERR_PROTO);
    assert_int_equal(sl_rtp_h264_packetize(&p, cfg, &out), SL_ERR_PROTO);
    sl_frame_unref(cfg);
    const uint8_t idr[] = {0, 0, 0, 2, 0x65, 1, 0, 0, 0, 2, 0x09, 0xf0};
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 0, 0, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    assert_int_equal(out.len, 2 + 2 + 12 + 2);
    assert_int_equal(out.data[4 + 1], 0x80 | PT);
    assert_int_equal(out.data[16], 0x65);
    sl_frame_unref(f);
    /* A frame with nothing to send (an AUD only) sends nothing. */
    f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, 0, 0, 0, idr + 6, 6);
    assert_int_equal(sl_rtp_h264_packetize(&p, f, &out), SL_OK);
    assert_int_equal(out.len, 18);
    assert_int_equal(p.seq, 10);
    sl_frame_unref(f);
    sl_bytes_free(&out);
    sl_rtp_h264_packetizer_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_nal_packet),
        cmocka_unit_test(test_stap_a_layout),
        cmocka_unit_test(test_fu_a_layout),
        cmocka_unit_test(test_roundtrip_keyframe_with_config),
        cmocka_unit_test(test_grouping_respects_mtu),
        cmocka_unit_test(test_loss_of_a_fragment),
        cmocka_unit_test(test_late_and_duplicate_packets),
        cmocka_unit_test(test_hostile_packets),
        cmocka_unit_test(test_strip_and_boundaries),
        cmocka_unit_test(test_config_from_stream_and_change),
        cmocka_unit_test(test_sprop),
        cmocka_unit_test(test_emit_error_and_timestamps),
        cmocka_unit_test(test_packetize_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
