/* H.264 helpers and the bit reader, against parameter sets taken from real x264
 * streams (ffmpeg -c:v libx264 ... -f h264) with the values ffprobe reports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "protocols/codec/bits.h"
#include "protocols/codec/h264.h"

/* testsrc2 1280x720 30 fps, -profile:v high: High, level 3.1. */
static const char SPS_720[] = "6764001facd9405005bb0110000003001000000303c0f1831960";
static const char PPS_720[] = "68ebe3cb22c0";
/* The avcC ffmpeg writes into MP4 for that stream (with the High profile extension). */
static const char AVCC_720[] = "0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f1831960"
                               "01000668ebe3cb22c0fdf8f800";
/* 1920x1080 25 fps High 4.0: coded as 1088 lines, cropped by 8. */
static const char SPS_1080[] = "67640028acd940780227e5c044000003000400000300c83c60c658";
/* 320x240 30 fps -profile:v baseline: Constrained Baseline (constraint_set0/1), 1.3. */
static const char SPS_240[] = "6742c00dd90141fb0110000003001000000303c0f142a480";
static const char PPS_240[] = "68cb83cb20";
/* 720x576 25 fps yuv422p interlaced: High 4:2:2, field coding (frame_mbs_only 0). */
static const char SPS_422I[] = "677a001ebcd940b424d8088000000300800000190f8a14cb";
/* 640x360 25 fps yuv444p: High 4:4:4 Predictive, cropped by 8 lines in 4:4:4 units. */
static const char SPS_444[] = "67f4001e919b281405ff1380880000030008000003019078b16cb0";
/* SPS_720 with seq_scaling_matrix_present_flag set and three lists inserted (an
 * explicit 4x4, a "use default" 4x4 and an explicit 8x8); ffmpeg decodes the stream
 * with it at 1280x720 30 fps. */
static const char SPS_SCALING[] =
    "6764001fad9470e0807c704040642020504c40a14844486318c6318c606e6318c6318c606e6318c6318c606e"
    "6318c6318c606e6318c6318c606e6318c6318c606e6319b280a00b760220000003002000000781e30632c0";

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

/* A tiny bit writer for crafted syntax. */
typedef struct bw {
    uint8_t data[64];
    size_t bits;
} bw_t;

static void bw_put(bw_t *w, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, w->bits++) {
        assert_true(w->bits / 8 < sizeof(w->data));
        if ((v >> i) & 1) w->data[w->bits / 8] |= (uint8_t)(0x80 >> (w->bits % 8));
    }
}

/* ue(v) for v < 2^32 - 1, so the code's value part fits 32 bits. */
static void bw_ue(bw_t *w, uint32_t v)
{
    assert_true(v < UINT32_MAX);
    uint64_t x = (uint64_t)v + 1;
    int n = 0;
    while ((x >> n) > 1) n++;
    bw_put(w, 0, n);
    bw_put(w, (uint32_t)x, n + 1);
}

static size_t bw_finish(bw_t *w)
{
    bw_put(w, 1, 1); /* rbsp_stop_one_bit */
    return (w->bits + 7) / 8;
}

static void test_bits_read_and_epb(void **state)
{
    const uint8_t d[] = {0x00, 0x00, 0x03, 0x01, 0xa5};
    sl_bits_t b;
    sl_bits_init(&b, d, sizeof(d), true);
    assert_int_equal(sl_bits_read(&b, 24), 0x000001);
    assert_int_equal(sl_bits_read(&b, 4), 0xa);
    assert_false(sl_bits_flag(&b));
    assert_true(sl_bits_flag(&b));
    assert_int_equal(sl_bits_read(&b, 2), 1);
    assert_false(b.err);
    assert_int_equal(sl_bits_read(&b, 1), 0);
    assert_true(b.err);
    assert_int_equal(sl_bits_read(&b, 0), 0); /* stays failed */

    sl_bits_init(&b, d, sizeof(d), false);
    assert_int_equal(sl_bits_read(&b, 32), 0x00000301);
    assert_false(b.err);
    /* Only a 0x03 after two zeros is dropped, and the zero count restarts after it. */
    const uint8_t e[] = {0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x03};
    sl_bits_init(&b, e, sizeof(e), true);
    assert_int_equal(sl_bits_read(&b, 32), 0x00030000);
    assert_int_equal(sl_bits_read(&b, 16), 0x0003);
    assert_false(b.err);
    sl_bits_init(&b, d, 4, true);
    assert_int_equal(sl_bits_read(&b, 33), 0);
    assert_true(b.err);
}

static void test_bits_exp_golomb(void **state)
{
    /* 1 | 010 | 011 | 00100 | 00101 | 0001000 : ue 0,1,2,3; se(4) = -2; se(7) = 4 */
    bw_t w = {{0}, 0};
    bw_put(&w, 0x1, 1);
    bw_put(&w, 0x2, 3);
    bw_put(&w, 0x3, 3);
    bw_put(&w, 0x4, 5);
    bw_put(&w, 0x5, 5);
    bw_put(&w, 0x8, 7);
    sl_bits_t b;
    sl_bits_init(&b, w.data, (w.bits + 7) / 8, false);
    assert_int_equal(sl_bits_ue(&b), 0);
    assert_int_equal(sl_bits_ue(&b), 1);
    assert_int_equal(sl_bits_ue(&b), 2);
    assert_int_equal(sl_bits_ue(&b), 3);
    assert_int_equal(sl_bits_se(&b), -2);
    assert_int_equal(sl_bits_se(&b), 4);
    assert_false(b.err);

    /* The largest accepted value: 31 zeros, a one, 31 bits of ones. */
    bw_t big = {{0}, 0};
    bw_ue(&big, UINT32_MAX - 1);
    assert_int_equal(big.bits, 63);
    sl_bits_init(&b, big.data, 8, false);
    assert_int_equal(sl_bits_ue(&b), UINT32_MAX - 1);
    assert_false(b.err);
    sl_bits_init(&b, big.data, 8, false);
    assert_int_equal(sl_bits_se(&b), -(int32_t)(UINT32_MAX / 2));

    /* 32 leading zeros is refused, as is running out of input inside the code. */
    const uint8_t zeros[8] = {0, 0, 0, 0, 0x80, 0, 0, 0};
    sl_bits_init(&b, zeros, sizeof(zeros), false);
    assert_int_equal(sl_bits_ue(&b), 0);
    assert_true(b.err);
    const uint8_t cut[] = {0x00, 0x01};
    sl_bits_init(&b, cut, sizeof(cut), false);
    assert_int_equal(sl_bits_ue(&b), 0);
    assert_true(b.err);
}

static void check_sps(const char *sps_hex, int w, int h, int profile, int compat, int level, int cf,
                      bool interlaced, double fps)
{
    hexbuf_t sps = hex(sps_hex);
    sl_h264_sps_info_t info;
    assert_int_equal(sl_h264_parse_sps(sps.data, sps.len, &info), SL_OK);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    assert_int_equal(info.profile_idc, profile);
    assert_int_equal(info.compat, compat);
    assert_int_equal(info.level_idc, level);
    assert_int_equal(info.chroma_format_idc, cf);
    assert_int_equal(info.bit_depth_luma, 8);
    assert_int_equal(info.bit_depth_chroma, 8);
    assert_int_equal(info.interlaced, interlaced);
    assert_true(info.fps == fps);
}

static void test_sps_real(void **state)
{
    check_sps(SPS_720, 1280, 720, 100, 0, 31, 1, false, 30.0);
    check_sps(SPS_1080, 1920, 1080, 100, 0, 40, 1, false, 25.0);
    check_sps(SPS_240, 320, 240, 66, 0xc0, 13, 1, false, 30.0);
    check_sps(SPS_422I, 720, 576, 122, 0, 30, 2, true, 25.0);
    check_sps(SPS_444, 640, 360, 244, 0, 30, 3, false, 25.0);
    /* Reaching the VUI timing exactly proves the scaling lists were walked right. */
    check_sps(SPS_SCALING, 1280, 720, 100, 0, 31, 1, false, 30.0);
}

static void test_sps_truncated(void **state)
{
    const char *all[] = {SPS_720, SPS_1080, SPS_240, SPS_422I, SPS_444, SPS_SCALING};
    for (size_t k = 0; k < SL_ARRAY_SIZE(all); k++) {
        hexbuf_t sps = hex(all[k]);
        sl_h264_sps_info_t full, info;
        assert_int_equal(sl_h264_parse_sps(sps.data, sps.len, &full), SL_OK);
        bool lenient_seen = false;
        for (size_t len = 0; len < sps.len; len++) {
            int rc = sl_h264_parse_sps(sps.data, len, &info);
            if (len <= 5) assert_int_equal(rc, SL_ERR_PROTO);
            if (rc == SL_OK) {
                /* Cut inside the VUI: the size is known, the frame rate only when the
                 * cut is after the timing info. */
                assert_int_equal(info.width, full.width);
                assert_int_equal(info.height, full.height);
                assert_true(info.fps == 0 || info.fps == full.fps);
                lenient_seen |= info.fps == 0;
            } else {
                assert_int_equal(rc, SL_ERR_PROTO);
            }
        }
        assert_true(lenient_seen);
    }
}

/* A Baseline SPS with the given size fields, written bit by bit. */
static size_t craft_sps(uint8_t *out, uint32_t width_mbs_minus1, uint32_t height_minus1, bool crop,
                        uint32_t crop_bottom)
{
    bw_t w = {{0}, 0};
    bw_put(&w, 0x67, 8);
    bw_put(&w, 66, 8);
    bw_put(&w, 0, 8);
    bw_put(&w, 30, 8);
    bw_ue(&w, 0); /* seq_parameter_set_id */
    bw_ue(&w, 0); /* log2_max_frame_num_minus4 */
    bw_ue(&w, 2); /* pic_order_cnt_type */
    bw_ue(&w, 1); /* max_num_ref_frames */
    bw_put(&w, 0, 1);
    bw_ue(&w, width_mbs_minus1);
    bw_ue(&w, height_minus1);
    bw_put(&w, 1, 1); /* frame_mbs_only_flag */
    bw_put(&w, 1, 1); /* direct_8x8_inference_flag */
    bw_put(&w, crop, 1);
    if (crop) {
        bw_ue(&w, 0);
        bw_ue(&w, 0);
        bw_ue(&w, 0);
        bw_ue(&w, crop_bottom);
    }
    bw_put(&w, 0, 1); /* vui_parameters_present_flag */
    size_t n = bw_finish(&w);
    memcpy(out, w.data, n);
    return n;
}

static void test_sps_crafted(void **state)
{
    uint8_t sps[64];
    sl_h264_sps_info_t info;
    size_t n = craft_sps(sps, 19, 14, true, 4);
    assert_int_equal(sl_h264_parse_sps(sps, n, &info), SL_OK);
    assert_int_equal(info.width, 320);
    assert_int_equal(info.height, 232);
    assert_true(info.fps == 0);
    /* 1024 macroblocks = 16384 pixels is the limit. */
    n = craft_sps(sps, 1023, 1023, false, 0);
    assert_int_equal(sl_h264_parse_sps(sps, n, &info), SL_OK);
    assert_int_equal(info.width, 16384);
    n = craft_sps(sps, 1024, 10, false, 0);
    assert_int_equal(sl_h264_parse_sps(sps, n, &info), SL_ERR_PROTO);
    /* ue values near 2^32 must not overflow into a plausible size. */
    n = craft_sps(sps, UINT32_MAX - 1, 10, false, 0);
    assert_int_equal(sl_h264_parse_sps(sps, n, &info), SL_ERR_PROTO);
    /* Cropping everything away, or more than everything. */
    n = craft_sps(sps, 19, 14, true, 120);
    assert_int_equal(sl_h264_parse_sps(sps, n, &info), SL_ERR_PROTO);
    n = craft_sps(sps, 19, 14, true, UINT32_MAX - 1);
    assert_int_equal(sl_h264_parse_sps(sps, n, &info), SL_ERR_PROTO);

    /* 32 leading zero bits where seq_parameter_set_id starts. */
    const uint8_t zeros[] = {0x67, 66, 0, 30, 0, 0, 0, 0, 0x80};
    assert_int_equal(sl_h264_parse_sps(zeros, sizeof(zeros), &info), SL_ERR_PROTO);
    /* Not an SPS. */
    hexbuf_t pps = hex(PPS_720);
    assert_int_equal(sl_h264_parse_sps(pps.data, pps.len, &info), SL_ERR_PROTO);
}

static void test_config_parse(void **state)
{
    hexbuf_t rec = hex(AVCC_720);
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720);
    sl_h264_config_t cfg;
    assert_int_equal(sl_h264_parse_config(rec.data, rec.len, &cfg), SL_OK);
    assert_int_equal(cfg.profile, 100);
    assert_int_equal(cfg.compat, 0);
    assert_int_equal(cfg.level, 31);
    assert_int_equal(cfg.nal_length_size, 4);
    assert_int_equal(cfg.sps_count, 1);
    assert_int_equal(cfg.pps_count, 1);
    assert_ptr_equal(cfg.sps[0], rec.data + 8); /* a slice, not a copy */
    assert_int_equal(cfg.sps_len[0], sps.len);
    assert_memory_equal(cfg.sps[0], sps.data, sps.len);
    assert_int_equal(cfg.pps_len[0], pps.len);
    assert_memory_equal(cfg.pps[0], pps.data, pps.len);

    /* Every cut before the end of the last PPS fails; the extension is optional. */
    size_t pps_end = 8 + sps.len + 3 + pps.len;
    for (size_t len = 0; len < pps_end; len++) {
        assert_int_equal(sl_h264_parse_config(rec.data, len, &cfg), SL_ERR_PROTO);
    }
    assert_int_equal(sl_h264_parse_config(rec.data, pps_end, &cfg), SL_OK);
}

static void test_config_malformed(void **state)
{
    hexbuf_t rec = hex(AVCC_720);
    sl_h264_config_t cfg;
    hexbuf_t bad = rec;
    bad.data[0] = 0; /* configurationVersion */
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    bad = rec;
    bad.data[4] = 0xfe; /* 3-byte NAL lengths do not exist */
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    bad = rec;
    bad.data[5] = 0xe0; /* no SPS */
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    bad = rec;
    bad.data[8 + 26] = 0; /* no PPS */
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    bad = rec;
    bad.data[8] = 0x68; /* a PPS where the SPS belongs */
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    bad = rec;
    bad.data[7] = 0xff; /* SPS length past the end */
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    bad = rec;
    bad.data[6] = 0xff;
    assert_int_equal(sl_h264_parse_config(bad.data, bad.len, &cfg), SL_ERR_PROTO);
    const uint8_t zero_len[] = {1, 66, 0, 30, 0xff, 0xe1, 0, 0, 1, 0, 1, 0x68};
    assert_int_equal(sl_h264_parse_config(zero_len, sizeof(zero_len), &cfg), SL_ERR_PROTO);

    /* Six SPS: the first SL_H264_MAX_PS are kept, the rest checked and skipped. */
    uint8_t many[64] = {1, 66, 0, 30, 0xfd, 0xe6};
    size_t n = 6;
    for (int i = 0; i < 6; i++) {
        many[n++] = 0;
        many[n++] = 2;
        many[n++] = 0x67;
        many[n++] = (uint8_t)i;
    }
    many[n++] = 1;
    many[n++] = 0;
    many[n++] = 1;
    many[n++] = 0x68;
    assert_int_equal(sl_h264_parse_config(many, n, &cfg), SL_OK);
    assert_int_equal(cfg.nal_length_size, 2);
    assert_int_equal(cfg.sps_count, SL_H264_MAX_PS);
    assert_int_equal(cfg.sps[3][1], 3);
    assert_int_equal(cfg.pps_count, 1);
    many[n - 1] = 0x67; /* the PPS is now the wrong type */
    assert_int_equal(sl_h264_parse_config(many, n, &cfg), SL_ERR_PROTO);
}

static void test_config_build(void **state)
{
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720), want = hex(AVCC_720);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_h264_build_config(sps.data, sps.len, pps.data, pps.len, &out), SL_OK);
    /* Byte for byte what ffmpeg's MP4 muxer writes. */
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);
    sl_bytes_free(&out);

    /* Baseline: no extension; round trip through the parser. */
    hexbuf_t sps2 = hex(SPS_240), pps2 = hex(PPS_240);
    assert_int_equal(sl_h264_build_config(sps2.data, sps2.len, pps2.data, pps2.len, &out), SL_OK);
    assert_int_equal(out.len, 11 + sps2.len + pps2.len);
    const uint8_t head[] = {1, 66, 0xc0, 13, 0xff, 0xe1, 0, (uint8_t)sps2.len};
    assert_memory_equal(out.data, head, sizeof(head));
    sl_h264_config_t cfg;
    assert_int_equal(sl_h264_parse_config(out.data, out.len, &cfg), SL_OK);
    assert_int_equal(cfg.sps_count, 1);
    assert_memory_equal(cfg.sps[0], sps2.data, sps2.len);
    assert_memory_equal(cfg.pps[0], pps2.data, pps2.len);

    /* 4:4:4 extension bytes carry the chroma format. */
    sl_bytes_free(&out);
    hexbuf_t sps3 = hex(SPS_444);
    assert_int_equal(sl_h264_build_config(sps3.data, sps3.len, pps2.data, pps2.len, &out), SL_OK);
    const uint8_t ext[] = {0xff, 0xf8, 0xf8, 0x00};
    assert_memory_equal(out.data + out.len - 4, ext, 4);

    /* Wrong types leave out untouched. */
    size_t before = out.len;
    assert_int_equal(sl_h264_build_config(pps2.data, pps2.len, pps2.data, pps2.len, &out), SL_ERR_PROTO);
    assert_int_equal(sl_h264_build_config(sps2.data, sps2.len, sps2.data, sps2.len, &out), SL_ERR_PROTO);
    assert_int_equal(sl_h264_build_config(sps2.data, sps2.len, pps2.data, 0, &out), SL_ERR_PROTO);
    assert_int_equal(out.len, before);
    sl_bytes_free(&out);
}

static void test_profile_names(void **state)
{
    assert_string_equal(sl_h264_profile_name(66), "Baseline");
    assert_string_equal(sl_h264_profile_name(77), "Main");
    assert_string_equal(sl_h264_profile_name(100), "High");
    assert_string_equal(sl_h264_profile_name(110), "High 10");
    assert_string_equal(sl_h264_profile_name(122), "High 4:2:2");
    assert_string_equal(sl_h264_profile_name(244), "High 4:4:4 Predictive");
    assert_string_equal(sl_h264_profile_name(0), "Unknown");
}

static void test_has_idr(void **state)
{
    const uint8_t idr[] = {0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 0x88, 0x84};
    const uint8_t non_idr[] = {0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x41, 0x9a, 0x02};
    assert_true(sl_h264_avcc_has_idr(idr, sizeof(idr)));
    assert_false(sl_h264_avcc_has_idr(non_idr, sizeof(non_idr)));
    assert_false(sl_h264_avcc_has_idr(idr, 0));
    /* Every truncation is malformed, even the ones where the IDR header is readable. */
    for (size_t len = 1; len < sizeof(idr); len++) assert_false(sl_h264_avcc_has_idr(idr, len));
    /* A length past the end, a zero length, trailing bytes. */
    const uint8_t overlong[] = {0, 0, 0, 3, 0x65, 0x88, 0x84, 0, 0, 0, 9, 0x41};
    assert_false(sl_h264_avcc_has_idr(overlong, sizeof(overlong)));
    const uint8_t zero[] = {0, 0, 0, 0, 0, 0, 0, 1, 0x65};
    assert_false(sl_h264_avcc_has_idr(zero, sizeof(zero)));
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x65};
    assert_false(sl_h264_avcc_has_idr(huge, sizeof(huge)));
    const uint8_t trailing[] = {0, 0, 0, 1, 0x65, 0, 0};
    assert_false(sl_h264_avcc_has_idr(trailing, sizeof(trailing)));
}

typedef struct collected {
    int count;
    size_t len[8];
    uint8_t first[8];
    int stop_at; /* 1-based unit to stop at, 0: never */
} collected_t;

static int collect(void *opaque, const uint8_t *nal, size_t len)
{
    collected_t *c = opaque;
    assert_true(c->count < 8);
    c->len[c->count] = len;
    c->first[c->count] = nal[0];
    c->count++;
    return c->count == c->stop_at ? 42 : 0;
}

static void test_annexb_split(void **state)
{
    /* Leading garbage, a 4-byte start code, a 3-byte one, an empty unit, trailing
     * zeros before the next 4-byte start code and at the end. */
    const uint8_t d[] = {0xaa, 0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0x00, 0x00, 0x01, 0x68, 0xce,
                         0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x06, 0x05, 0x00, 0x00, 0x00, 0x00,
                         0x01, 0x65, 0x88, 0x00, 0x80, 0x00, 0x00};
    collected_t c = {0};
    assert_int_equal(sl_annexb_split(d, sizeof(d), collect, &c), 0);
    assert_int_equal(c.count, 4);
    const size_t lens[] = {2, 2, 2, 4};
    const uint8_t firsts[] = {0x67, 0x68, 0x06, 0x65};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.len[i], lens[i]);
        assert_int_equal(c.first[i], firsts[i]);
    }
    /* The callback's value stops the walk and is returned. */
    collected_t s = {.stop_at = 2};
    assert_int_equal(sl_annexb_split(d, sizeof(d), collect, &s), 42);
    assert_int_equal(s.count, 2);
    /* No start code, only start codes, nothing. */
    collected_t none = {0};
    const uint8_t raw[] = {0x65, 0x88, 0x00, 0x00, 0x02};
    assert_int_equal(sl_annexb_split(raw, sizeof(raw), collect, &none), 0);
    const uint8_t codes[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal(sl_annexb_split(codes, sizeof(codes), collect, &none), 0);
    assert_int_equal(sl_annexb_split(NULL, 0, collect, &none), 0);
    assert_int_equal(none.count, 0);
    /* A start code as the last bytes: no unit after it. */
    const uint8_t tail[] = {0x00, 0x00, 0x01, 0x09, 0x10, 0x00, 0x00, 0x01};
    collected_t t = {0};
    assert_int_equal(sl_annexb_split(tail, sizeof(tail), collect, &t), 0);
    assert_int_equal(t.count, 1);
    assert_int_equal(t.len[0], 2);
}

static void test_avcc_split(void **state)
{
    const uint8_t d[] = {0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 1, 0x06, 0, 0, 0, 3, 0x65, 1, 2};
    collected_t c = {0};
    assert_int_equal(sl_avcc_split(d, sizeof(d), collect, &c), 0);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.len[2], 3);
    collected_t t = {0};
    assert_int_equal(sl_avcc_split(d, sizeof(d) - 1, collect, &t), SL_ERR_PROTO);
    assert_int_equal(t.count, 2); /* saw the units before the bad one */
}

static void test_annexb_to_avcc(void **state)
{
    hexbuf_t sps = hex(SPS_240), pps = hex(PPS_240);
    uint8_t in[128];
    size_t n = 0;
    const uint8_t aud[] = {0, 0, 0, 1, 0x09, 0xf0};
    memcpy(in + n, aud, sizeof(aud));
    n += sizeof(aud);
    memcpy(in + n, "\x00\x00\x00\x01", 4);
    n += 4;
    memcpy(in + n, sps.data, sps.len);
    n += sps.len;
    memcpy(in + n, "\x00\x00\x01", 3);
    n += 3;
    memcpy(in + n, pps.data, pps.len);
    n += pps.len;
    const uint8_t idr[] = {0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x03, 0x01};
    memcpy(in + n, idr, sizeof(idr));
    n += sizeof(idr);

    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_h264_annexb_to_avcc(in, n, false, &out), SL_OK);
    const uint8_t want[] = {0, 0, 0, 6, 0x65, 0x88, 0x84, 0x00, 0x03, 0x01};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    assert_true(sl_h264_avcc_has_idr(out.data, out.len));
    sl_bytes_free(&out);

    assert_int_equal(sl_h264_annexb_to_avcc(in, n, true, &out), SL_OK);
    assert_int_equal(out.len, 4 + sps.len + 4 + pps.len + sizeof(want));
    assert_int_equal(out.data[3], sps.len);
    assert_memory_equal(out.data + 4, sps.data, sps.len);
    assert_memory_equal(out.data + out.len - sizeof(want), want, sizeof(want));
    collected_t c = {0};
    assert_int_equal(sl_avcc_split(out.data, out.len, collect, &c), 0);
    assert_int_equal(c.count, 3);
    sl_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits_read_and_epb),
        cmocka_unit_test(test_bits_exp_golomb),
        cmocka_unit_test(test_sps_real),
        cmocka_unit_test(test_sps_truncated),
        cmocka_unit_test(test_sps_crafted),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_config_malformed),
        cmocka_unit_test(test_config_build),
        cmocka_unit_test(test_profile_names),
        cmocka_unit_test(test_has_idr),
        cmocka_unit_test(test_annexb_split),
        cmocka_unit_test(test_avcc_split),
        cmocka_unit_test(test_annexb_to_avcc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
