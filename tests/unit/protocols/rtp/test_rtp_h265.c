/* H.265 RTP payload format (RFC 7798): packet layouts byte by byte, round trips
 * through the packetizer, sl_rtp_parse and the depacketizer, loss and hostile input.
 * Parameter sets are the real x265 ones of tests/unit/protocols/codec/test_h265.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "protocols/rtp/rtp_h265.h"

/* testsrc2 1280x720 30 fps: Main, level 3.1. */
static const char VPS_720[] = "40010c01ffff01600000030090000003000003005d959809";
static const char SPS_720[] = "42010101600000030090000003000003005da00280802d165959a4932bc05a0200"
                              "00030002000003003c10";
static const char PPS_720[] = "4401c172b46240";

#define PT 97
#define SSRC 0xcafe0001u
#define MAX_PACKETS 256
#define MAX_FRAMES 32

/* NAL unit headers: type, LayerId 0, TID 1. */
#define HDR(type) (uint8_t)((type) << 1), 0x01

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

/* A frame of generated NAL units: 2-byte headers hdrs[2i], hdrs[2i+1], then a
 * pattern, lens[i] bytes in all. */
static sl_frame_t *gen_frame(uint8_t flags, int64_t pts, const uint8_t *hdrs, const size_t *lens, int n)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    for (int i = 0; i < n; i++) {
        assert_int_equal(sl_bytes_put_be32(&b, (uint32_t)lens[i]), SL_OK);
        assert_int_equal(sl_bytes_append(&b, hdrs + 2 * i, 2), SL_OK);
        for (size_t j = 2; j < lens[i]; j++) assert_int_equal(sl_bytes_put_u8(&b, (uint8_t)(pts + i + j * 5)), SL_OK);
    }
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H265, flags, pts, pts, b.data, b.len);
    assert_non_null(f);
    sl_bytes_free(&b);
    return f;
}

/* The record of the 720p parameter sets, as a CONFIG frame. */
static sl_frame_t *config_frame(void)
{
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    sl_bytes_t rec;
    sl_bytes_init(&rec);
    assert_int_equal(sl_h265_build_config(vps.data, vps.len, sps.data, sps.len, pps.data, pps.len, &rec), SL_OK);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_CONFIG, 0, 0, rec.data, rec.len);
    assert_non_null(f);
    sl_bytes_free(&rec);
    return f;
}

typedef struct packets {
    sl_rtp_packet_t pkt[MAX_PACKETS];
    int count;
} packets_t;

static void pack_all(sl_rtp_h265_packetizer_t *p, sl_frame_t **f, int n, sl_bytes_t *out, packets_t *ps)
{
    for (int i = 0; i < n; i++) assert_int_equal(sl_rtp_h265_packetize(p, f[i], out), SL_OK);
    size_t pos = 0, len;
    const uint8_t *k;
    while ((k = sl_rtp_next_packet(out->data, out->len, &pos, &len)) != NULL) {
        assert_true(ps->count < MAX_PACKETS);
        assert_int_equal(sl_rtp_parse(k, len, &ps->pkt[ps->count++]), SL_OK);
    }
    assert_int_equal(pos, out->len);
}

typedef struct sink {
    sl_frame_t *f[MAX_FRAMES];
    int count;
} sink_t;

static int on_frame(void *arg, sl_frame_t *f)
{
    sink_t *s = arg;
    assert_true(s->count < MAX_FRAMES);
    s->f[s->count++] = sl_frame_ref(f);
    return 0;
}

static void sink_free(sink_t *s)
{
    for (int i = 0; i < s->count; i++) sl_frame_unref(s->f[i]);
    s->count = 0;
}

static void feed(sl_rtp_h265_depacketizer_t *d, const packets_t *ps, int skip, sink_t *s)
{
    for (int i = 0; i < ps->count; i++)
        if (i != skip) assert_int_equal(sl_rtp_h265_depacketize(d, &ps->pkt[i], on_frame, s), SL_OK);
}

static void assert_same_frame(const sl_frame_t *got, const sl_frame_t *want)
{
    assert_int_equal(got->codec, SL_CODEC_H265);
    assert_int_equal(got->flags, want->flags);
    assert_int_equal(got->pts, want->pts);
    assert_int_equal(got->dts, want->pts);
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->data, want->data, want->len);
}

static void test_single_and_ap_layout(void **state)
{
    sl_rtp_h265_packetizer_t p;
    sl_rtp_h265_packetizer_init(&p, PT, SSRC, 40, 1200);
    const uint8_t trail[] = {HDR(1)};
    const size_t len = 900;
    sl_frame_t *f = gen_frame(0, 4500, trail, &len, 1);
    sl_bytes_t out;
    sl_bytes_init(&out);
    packets_t ps = {.count = 0};
    pack_all(&p, &f, 1, &out, &ps);
    assert_int_equal(ps.count, 1);
    assert_true(ps.pkt[0].marker);
    assert_int_equal(ps.pkt[0].payload_type, PT);
    assert_int_equal(ps.pkt[0].seq, 40);
    assert_int_equal(ps.pkt[0].timestamp, 4500);
    assert_int_equal(ps.pkt[0].ssrc, SSRC);
    assert_int_equal(ps.pkt[0].payload_len, 900);
    assert_memory_equal(ps.pkt[0].payload, f->data + 4, 900);
    sl_frame_unref(f);

    /* AUD (dropped); then units with LayerId 32 / TID 3, LayerId 1 / TID 2 and one
     * with F set: the AP header has F, the lowest LayerId (1) and TID (2). */
    const uint8_t hdrs[] = {HDR(35), 0x03, 0x03, 0x02, 0x0a, 0x82, 0x0a};
    const size_t lens[] = {3, 5, 4, 2};
    f = gen_frame(0, 9000, hdrs, lens, 4);
    sl_bytes_free(&out);
    ps.count = 0;
    pack_all(&p, &f, 1, &out, &ps);
    assert_int_equal(ps.count, 1);
    const uint8_t want[] = {0xe0, 0x0a, 0, 5, 0x03, 0x03, 0, 0, 0, 0, 4, 0x02, 0x0a, 0, 0, 0, 2, 0x82, 0x0a};
    assert_int_equal(ps.pkt[0].payload_len, sizeof(want));
    /* Pattern bytes aside, the layout is exact. */
    uint8_t got[sizeof(want)];
    memcpy(got, ps.pkt[0].payload, sizeof(got));
    got[6] = got[7] = got[8] = got[13] = got[14] = 0;
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(ps.pkt[0].seq, 41);
    sl_frame_unref(f);
    sl_bytes_free(&out);
    sl_rtp_h265_packetizer_free(&p);
}

static void test_fu_layout(void **state)
{
    sl_rtp_h265_packetizer_t p;
    sl_rtp_h265_packetizer_init(&p, PT, SSRC, 65535, 1200);
    const uint8_t idr[] = {HDR(19)};
    const size_t len = 50000;
    sl_frame_t *f = gen_frame(0, 0, idr, &len, 1);
    sl_bytes_t out;
    sl_bytes_init(&out);
    packets_t ps = {.count = 0};
    pack_all(&p, &f, 1, &out, &ps);
    /* 49998 bytes after the header in 1197-byte pieces. */
    assert_int_equal(ps.count, 42);
    size_t off = 2;
    for (int i = 0; i < ps.count; i++) {
        const sl_rtp_packet_t *k = &ps.pkt[i];
        assert_int_equal(k->seq, (uint16_t)(65535 + i));
        assert_int_equal(k->marker, i == 41);
        assert_int_equal(k->payload_len, i < 41 ? 1200 : 3 + 49998 - 41 * 1197);
        assert_int_equal(k->payload[0], 49 << 1); /* PayloadHdr: type 49, LayerId 0 */
        assert_int_equal(k->payload[1], 0x01);    /* TID 1 */
        assert_int_equal(k->payload[2], i == 0 ? 0x93 : i == 41 ? 0x53 : 0x13);
        assert_memory_equal(k->payload + 3, f->data + 4 + off, k->payload_len - 3);
        off += k->payload_len - 3;
    }
    assert_int_equal(off, len);
    sl_frame_unref(f);
    sl_bytes_free(&out);
    sl_rtp_h265_packetizer_free(&p);
}

/* K0 (CRA, FU), P1 (FU), P2, P3, K4 (IDR_N_LP), P5. */
static void make_gop(sl_frame_t **f, packets_t *ps, sl_bytes_t *out, sl_frame_t *cfg)
{
    sl_rtp_h265_packetizer_t p;
    sl_rtp_h265_packetizer_init(&p, PT, SSRC, 300, 1200);
    assert_int_equal(sl_rtp_h265_packetizer_set_config(&p, cfg), SL_OK);
    const uint8_t cra[] = {HDR(21)}, idr[] = {HDR(20)}, trail[] = {HDR(1), HDR(0)};
    const size_t big = 3000, small = 100, two[] = {100, 50};
    f[0] = gen_frame(SL_FRAME_KEY, 0, cra, &big, 1);
    f[1] = gen_frame(0, 3000, trail, &big, 1);
    f[2] = gen_frame(0, 6000, trail, two, 2);
    f[3] = gen_frame(0, 9000, trail, &small, 1);
    f[4] = gen_frame(SL_FRAME_KEY, 12000, idr, &small, 1);
    f[5] = gen_frame(0, 15000, trail, &small, 1);
    pack_all(&p, f, 6, out, ps);
    /* AP of VPS/SPS/PPS + 3 FU, 3 FU, AP, 1, AP of VPS/SPS/PPS/IDR, 1 */
    assert_int_equal(ps->count, 11);
    sl_rtp_h265_packetizer_free(&p);
}

static void test_roundtrip_and_loss(void **state)
{
    sl_frame_t *cfg = config_frame();
    sl_frame_t *f[6];
    packets_t ps = {.count = 0};
    sl_bytes_t out;
    sl_bytes_init(&out);
    make_gop(f, &ps, &out, cfg);

    /* The parameter sets lead the keyframe in one AP. */
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    const uint8_t *pl = ps.pkt[0].payload;
    assert_int_equal(ps.pkt[0].payload_len, 2 + 6 + vps.len + sps.len + pps.len);
    assert_int_equal(pl[0], 48 << 1);
    assert_int_equal(pl[1], 0x01);
    assert_int_equal(pl[3], vps.len);
    assert_memory_equal(pl + 4, vps.data, vps.len);
    assert_int_equal(pl[5 + vps.len], sps.len);
    assert_memory_equal(pl + 6 + vps.len, sps.data, sps.len);
    assert_memory_equal(pl + 8 + vps.len + sps.len, pps.data, pps.len);
    assert_int_equal(ps.pkt[3].payload[2], 0x40 | 21);
    for (int i = 0; i < ps.count; i++) assert_int_equal(ps.pkt[i].seq, 300 + i);

    sl_rtp_h265_depacketizer_t d;
    sl_rtp_h265_depacketizer_init(&d);
    sink_t s = {.count = 0};
    feed(&d, &ps, -1, &s);
    assert_int_equal(s.count, 7);
    assert_int_equal(s.f[0]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[0]->codec, SL_CODEC_H265);
    assert_int_equal(s.f[0]->len, cfg->len);
    assert_memory_equal(s.f[0]->data, cfg->data, cfg->len);
    for (int i = 0; i < 6; i++) assert_same_frame(s.f[i + 1], f[i]);
    assert_int_equal(d.stats.frames, 6);
    assert_int_equal(d.stats.lost + d.stats.dropped + d.stats.skipped + d.stats.bad_packets, 0);
    sink_free(&s);
    sl_rtp_h265_depacketizer_free(&d);

    /* Without the middle fragment of P1: P1 dropped, P2 and P3 held back. */
    sl_rtp_h265_depacketizer_init(&d);
    feed(&d, &ps, 5, &s);
    assert_int_equal(s.count, 4);
    assert_same_frame(s.f[1], f[0]);
    assert_same_frame(s.f[2], f[4]);
    assert_same_frame(s.f[3], f[5]);
    assert_int_equal(d.stats.lost, 1);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 2);
    sink_free(&s);
    sl_rtp_h265_depacketizer_free(&d);

    for (int i = 0; i < 6; i++) sl_frame_unref(f[i]);
    sl_frame_unref(cfg);
    sl_bytes_free(&out);
}

static sl_rtp_packet_t mk(bool marker, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len)
{
    sl_rtp_packet_t k = {.marker = marker, .payload_type = PT, .seq = seq, .timestamp = ts, .ssrc = SSRC,
                         .payload = payload, .payload_len = len};
    return k;
}

static void start_stream(sl_rtp_h265_depacketizer_t *d, sink_t *s, uint16_t *seq)
{
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    sl_rtp_h265_depacketizer_init(d);
    assert_int_equal(
        sl_rtp_h265_depacketizer_set_sprop(d, vps.data, vps.len, sps.data, sps.len, pps.data, pps.len), SL_OK);
    const uint8_t idr[] = {HDR(19), 1, 2};
    sl_rtp_packet_t k = mk(true, (*seq)++, 0, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h265_depacketize(d, &k, on_frame, s), SL_OK);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->f[1]->flags, SL_FRAME_KEY);
}

/* One damaged access unit, then a P frame (held back) and a keyframe (emitted). */
static void check_damaged(const uint8_t *const *payload, const size_t *len, int n, uint64_t bad)
{
    sl_rtp_h265_depacketizer_t d;
    sink_t s = {.count = 0};
    uint16_t seq = 1;
    start_stream(&d, &s, &seq);
    for (int i = 0; i < n; i++) {
        sl_rtp_packet_t k = mk(i == n - 1, seq++, 3000, payload[i], len[i]);
        assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    }
    const uint8_t pf[] = {HDR(1), 9}, kf[] = {HDR(21), 8};
    sl_rtp_packet_t k = mk(true, seq++, 6000, pf, sizeof(pf));
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, seq++, 9000, kf, sizeof(kf));
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 3);
    const uint8_t want[] = {0, 0, 0, 3, HDR(21), 8};
    assert_int_equal(s.f[2]->flags, SL_FRAME_KEY);
    assert_int_equal(s.f[2]->len, sizeof(want));
    assert_memory_equal(s.f[2]->data, want, sizeof(want));
    assert_int_equal(d.stats.bad_packets, bad);
    assert_int_equal(d.stats.dropped, 1);
    assert_int_equal(d.stats.skipped, 1);
    sink_free(&s);
    sl_rtp_h265_depacketizer_free(&d);
}

static void test_hostile_packets(void **state)
{
    const uint8_t fu_start[] = {HDR(49), 0x81, 1}, fu_mid[] = {HDR(49), 0x01, 2}, fu_end[] = {HDR(49), 0x41, 3};
    check_damaged((const uint8_t *[]){fu_mid, fu_end}, (size_t[]){3, 3}, 2, 1);
    check_damaged((const uint8_t *[]){fu_start, fu_start, fu_end}, (size_t[]){3, 3, 3}, 3, 1);
    check_damaged((const uint8_t *[]){fu_start, fu_mid}, (size_t[]){3, 3}, 2, 0);
    /* An FU with no FU header, or carrying an AP, FU or PACI type. */
    const uint8_t fu_short[] = {HDR(49)}, fu_ap[] = {HDR(49), 0xc0 | 48, 1}, fu_fu[] = {HDR(49), 0xc0 | 49, 1},
                  fu_paci[] = {HDR(49), 0xc0 | 50, 1};
    check_damaged((const uint8_t *[]){fu_short}, (size_t[]){2}, 1, 1);
    check_damaged((const uint8_t *[]){fu_ap}, (size_t[]){3}, 1, 1);
    check_damaged((const uint8_t *[]){fu_fu}, (size_t[]){3}, 1, 1);
    check_damaged((const uint8_t *[]){fu_paci}, (size_t[]){3}, 1, 1);
    /* APs: empty, a zero-length unit, a unit shorter than its header, a length past
     * the end, a nested AP. */
    const uint8_t ap_empty[] = {HDR(48)}, ap_zero[] = {HDR(48), 0, 0}, ap_one[] = {HDR(48), 0, 1, 0x02},
                  ap_long[] = {HDR(48), 0, 3, HDR(1)}, ap_nested[] = {HDR(48), 0, 2, HDR(48)};
    check_damaged((const uint8_t *[]){ap_empty}, (size_t[]){2}, 1, 1);
    check_damaged((const uint8_t *[]){ap_zero}, (size_t[]){4}, 1, 1);
    check_damaged((const uint8_t *[]){ap_one}, (size_t[]){5}, 1, 1);
    check_damaged((const uint8_t *[]){ap_long}, (size_t[]){6}, 1, 1);
    check_damaged((const uint8_t *[]){ap_nested}, (size_t[]){6}, 1, 1);
    /* PACI and unspecified types; a payload shorter than the NAL header. */
    for (int t = 50; t < 64; t++) {
        const uint8_t u[] = {HDR(t), 1};
        check_damaged((const uint8_t *[]){u}, (size_t[]){3}, 1, 1);
    }
    const uint8_t one[] = {0x02};
    check_damaged((const uint8_t *[]){one}, (size_t[]){1}, 1, 1);
}

static void test_keyframe_types_and_strip(void **state)
{
    sl_rtp_h265_depacketizer_t d;
    sink_t s = {.count = 0};
    uint16_t seq = 1;
    start_stream(&d, &s, &seq);
    /* IRAP types 16..23 are keyframes; 0..15 are not. SEI, AUD and filler stay out of
     * the frame. */
    for (int t = 0; t < 24; t++) {
        const uint8_t ap[] = {HDR(48), 0, 3, HDR(39), 1, 0, 3, HDR(t), 7, 0, 2, HDR(35), 0, 2, HDR(38),
                              0, 3, HDR(40), 2};
        sl_rtp_packet_t k = mk(true, seq++, (uint32_t)(t + 1) * 3000, ap, sizeof(ap));
        assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
        assert_int_equal(s.count, t + 3);
        const sl_frame_t *f = s.f[t + 2];
        const uint8_t want[] = {0, 0, 0, 3, HDR(t), 7};
        assert_int_equal(f->flags, t >= 16 ? SL_FRAME_KEY : 0);
        assert_int_equal(f->pts, (t + 1) * 3000);
        assert_int_equal(f->len, sizeof(want));
        assert_memory_equal(f->data, want, sizeof(want));
    }
    assert_int_equal(d.stats.configs, 1);
    sink_free(&s);
    sl_rtp_h265_depacketizer_free(&d);
}

static void test_sprop_and_config_errors(void **state)
{
    sl_rtp_h265_depacketizer_t d;
    sl_rtp_h265_depacketizer_init(&d);
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    /* Out of order, short, or missing units are refused and change nothing. */
    assert_int_equal(sl_rtp_h265_depacketizer_set_sprop(&d, sps.data, sps.len, vps.data, vps.len, pps.data, pps.len),
                     SL_ERR_PROTO);
    assert_int_equal(sl_rtp_h265_depacketizer_set_sprop(&d, vps.data, 1, sps.data, sps.len, pps.data, pps.len),
                     SL_ERR_PROTO);
    assert_int_equal(sl_rtp_h265_depacketizer_set_sprop(&d, vps.data, vps.len, sps.data, sps.len, NULL, 0),
                     SL_ERR_PROTO);
    assert_int_equal(d.ps_len[0] + d.ps_len[1] + d.ps_len[2], 0);

    /* In-band VPS and SPS without a PPS: no config, so the keyframe is held back. */
    sink_t s = {.count = 0};
    const uint8_t idr[] = {HDR(19), 1};
    sl_rtp_packet_t k = mk(false, 1, 0, vps.data, vps.len);
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(false, 2, 0, sps.data, sps.len);
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, 3, 0, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 0);
    assert_int_equal(d.stats.skipped, 1);
    /* The PPS arrives fragmented (S and E in one FU): config, then the keyframe. */
    uint8_t fu[64] = {HDR(49), 0xc0 | 34};
    memcpy(fu + 3, pps.data + 2, pps.len - 2);
    k = mk(false, 4, 3000, fu, 3 + pps.len - 2);
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    k = mk(true, 5, 3000, idr, sizeof(idr));
    assert_int_equal(sl_rtp_h265_depacketize(&d, &k, on_frame, &s), SL_OK);
    assert_int_equal(s.count, 2);
    sl_frame_t *cfg = config_frame();
    assert_int_equal(s.f[0]->flags, SL_FRAME_CONFIG);
    assert_int_equal(s.f[0]->len, cfg->len);
    assert_memory_equal(s.f[0]->data, cfg->data, cfg->len);
    const uint8_t want[] = {0, 0, 0, 3, HDR(19), 1};
    assert_int_equal(s.f[1]->len, sizeof(want));
    assert_memory_equal(s.f[1]->data, want, sizeof(want));
    sl_frame_unref(cfg);
    sink_free(&s);
    sl_rtp_h265_depacketizer_free(&d);
}

static void test_packetizer_config_and_errors(void **state)
{
    sl_rtp_h265_packetizer_t p;
    sl_rtp_h265_packetizer_init(&p, PT, SSRC, 5, 1200);
    sl_frame_t *cfg = config_frame();
    sl_bytes_t out;
    sl_bytes_init(&out);
    /* A config frame through packetize is taken and sends nothing. */
    assert_int_equal(sl_rtp_h265_packetize(&p, cfg, &out), SL_OK);
    assert_int_equal(out.len, 0);
    hexbuf_t vps = hex(VPS_720);
    assert_int_equal(p.ps.len, 4 * 3 + cfg->len - 38);
    assert_memory_equal(p.ps.data + 4, vps.data, vps.len);
    /* A broken record keeps what was there. */
    sl_frame_t *bad = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_CONFIG, 0, 0, cfg->data, 30);
    assert_int_equal(sl_rtp_h265_packetizer_set_config(&p, bad), SL_ERR_PROTO);
    assert_int_equal(p.ps.len, 4 * 3 + cfg->len - 38);
    sl_frame_unref(bad);
    /* A 1-byte unit has no room for its 2-byte header. */
    const uint8_t short_unit[] = {0, 0, 0, 3, HDR(1), 5, 0, 0, 0, 1, 0x02};
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H265, 0, 0, 0, short_unit, sizeof(short_unit));
    assert_int_equal(sl_rtp_h265_packetize(&p, f, &out), SL_ERR_PROTO);
    assert_int_equal(out.len, 0);
    assert_int_equal(p.seq, 5);
    sl_frame_unref(f);
    sl_frame_unref(cfg);
    sl_bytes_free(&out);
    sl_rtp_h265_packetizer_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_and_ap_layout),
        cmocka_unit_test(test_fu_layout),
        cmocka_unit_test(test_roundtrip_and_loss),
        cmocka_unit_test(test_hostile_packets),
        cmocka_unit_test(test_keyframe_types_and_strip),
        cmocka_unit_test(test_sprop_and_config_errors),
        cmocka_unit_test(test_packetizer_config_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
