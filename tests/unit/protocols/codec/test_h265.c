/* H.265 helpers against parameter sets taken from real x265 streams (ffmpeg -c:v
 * libx265 ... -f hevc) with the values ffprobe reports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "protocols/codec/h265.h"

/* testsrc2 1280x720 30 fps: Main, level 3.1 (93). */
static const char VPS_720[] = "40010c01ffff01600000030090000003000003005d959809";
static const char SPS_720[] = "42010101600000030090000003000003005da00280802d165959a4932bc05a0200"
                              "00030002000003003c10";
static const char PPS_720[] = "4401c172b46240";
/* The hvcC ffmpeg writes into MP4 for that stream, up to and including the PPS array
 * (it has a fourth array, an SEI, after it). */
static const char HVCC_720_HEAD[] = "0101600000009000000000005df000fcfdf8f800000f04";
/* 650x366 30 fps: coded 656x368, cropped by the conformance window; level 2.1 (63). */
static const char SPS_650[] = "42010101600000030090000003000003003fa005220171c9596566924caf0168"
                              "08000003000800000300f040";
/* 1920x1080 60 fps yuv420p10le with temporal-layers: Main 10, level 4.1 (123), two
 * sub-layers (profile_tier_level with sub-layer flags), temporal nesting off. */
static const char VPS_10[] = "40010c02ffff02200000030090000003000003007b00009598acc048";
static const char SPS_10[] = "42010202200000030090000003000003007b0000a003c08010e4d965662b34926578"
                             "0b4040000003004000000f02";
/* 1280x720 30 fps with a custom --scaling-list: scaling_list_data() with explicit,
 * predicted and DC entries before the VUI. */
static const char SPS_SCALING[] =
    "42010101600000030090000003000003005da00280802d165959a493e10d3abab591425a75756b22841323666d"
    "886db14db6c636db639b6db639b6db18db6c536d886d99b23445092646ccdb10db629b6d8c6db6c736db6c736db6"
    "31b6d8a6db10db3364688a10a646ccdb10db629b6d8c6db6c736db6c736db631b6d8a6db10db3364688a104991b3"
    "36c436d8a6db631b6db1cdb6db1cdb6d8c6db629b6c436ccd91a22842991b336c436d8a6db631b6db1cdb6db1cdb"
    "6d8c6db629b6c436ccd91a8412646ccdb10db629b6d8c6db6c736db6c736db631b6d8a6db10db3364695e02d0100"
    "00030001000003001e08";
/* SPS_720 with four short-term reference picture sets inserted (the third predicted
 * from the second) and two long-term pictures; ffmpeg parses it and decodes the stream
 * at 1280x720 30 fps. */
static const char SPS_RPS[] = "42010101600000030090000003000003005da00280802d165959a4932293e84bed8a"
                              "892044456c0e0af0168080000003008000000f04";

/* An SPS start for crafted cases: NAL header, vps id 0 with one sub-layer, and
 * profile_tier_level for Main, level 3.1. */
#define PTL_HEAD 0x42, 0x01, 0x01, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d

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

static void check_sps(const char *sps_hex, int w, int h, int profile, int level, int bit_depth,
                      int sub_layers, bool nesting, double fps)
{
    hexbuf_t sps = hex(sps_hex);
    sl_h265_sps_info_t info;
    assert_int_equal(sl_h265_parse_sps(sps.data, sps.len, &info), SL_OK);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    assert_int_equal(info.ptl.profile_space, 0);
    assert_int_equal(info.ptl.tier, 0);
    assert_int_equal(info.ptl.profile_idc, profile);
    assert_int_equal(info.ptl.level_idc, level);
    /* Main is also Main 10 compatible (flags 1 and 2); Main 10 only itself. */
    assert_int_equal(info.ptl.compat_flags, profile == 1 ? 0x60000000 : 0x20000000);
    assert_int_equal(info.ptl.constraint_flags, 0x900000000000); /* progressive, frame only */
    assert_int_equal(info.chroma_format_idc, 1);
    assert_int_equal(info.bit_depth_luma, bit_depth);
    assert_int_equal(info.bit_depth_chroma, bit_depth);
    assert_int_equal(info.max_sub_layers, sub_layers);
    assert_int_equal(info.temporal_id_nesting, nesting);
    assert_true(info.fps == fps);
}

static void test_sps_real(void **state)
{
    check_sps(SPS_720, 1280, 720, 1, 93, 8, 1, true, 30.0);
    check_sps(SPS_650, 650, 366, 1, 63, 8, 1, true, 30.0);
    check_sps(SPS_10, 1920, 1080, 2, 123, 10, 2, false, 60.0);
    /* Reaching the VUI timing exactly proves the syntax before it was walked right. */
    check_sps(SPS_SCALING, 1280, 720, 1, 93, 8, 1, true, 30.0);
    check_sps(SPS_RPS, 1280, 720, 1, 93, 8, 1, true, 30.0);
}

static void test_sps_truncated(void **state)
{
    const char *all[] = {SPS_720, SPS_650, SPS_10, SPS_SCALING, SPS_RPS};
    for (size_t k = 0; k < SL_ARRAY_SIZE(all); k++) {
        hexbuf_t sps = hex(all[k]);
        sl_h265_sps_info_t full, info;
        assert_int_equal(sl_h265_parse_sps(sps.data, sps.len, &full), SL_OK);
        bool lenient_seen = false;
        for (size_t len = 0; len < sps.len; len++) {
            int rc = sl_h265_parse_sps(sps.data, len, &info);
            if (len <= 16) assert_int_equal(rc, SL_ERR_PROTO); /* inside profile_tier_level */
            if (rc == SL_OK) {
                /* Cut after the size: known, the frame rate only when after the VUI
                 * timing. */
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

static void test_sps_malformed(void **state)
{
    sl_h265_sps_info_t info;
    hexbuf_t sps = hex(SPS_720);
    hexbuf_t bad = sps;
    bad.data[0] = 0x40; /* a VPS header */
    assert_int_equal(sl_h265_parse_sps(bad.data, bad.len, &info), SL_ERR_PROTO);
    bad = sps;
    bad.data[2] = 0x0f; /* sps_max_sub_layers_minus1 = 7 */
    assert_int_equal(sl_h265_parse_sps(bad.data, bad.len, &info), SL_ERR_PROTO);
    /* After PTL_HEAD: sps id ue(0), chroma_format_idc ue(1), then 32 zero bits, an
     * impossible ue, for the width. */
    const uint8_t zeros[] = {PTL_HEAD, 0xa0, 0x00, 0x00, 0x00, 0x0f, 0xff, 0xff, 0xc0};
    assert_int_equal(sl_h265_parse_sps(zeros, sizeof(zeros), &info), SL_ERR_PROTO);
    /* Width ue(16386), height ue(8), no window, bit depths ue(0), poc lsb ue(4). */
    const uint8_t wide[] = {PTL_HEAD, 0xa0, 0x00, 0x20, 0x01, 0x89, 0x65, 0x80};
    assert_int_equal(sl_h265_parse_sps(wide, sizeof(wide), &info), SL_ERR_PROTO);
    /* The same with a width of 16384 parses (16384x8); the rest is cut short. */
    const uint8_t limit[] = {PTL_HEAD, 0xa0, 0x00, 0x20, 0x00, 0x89, 0x65, 0x80};
    assert_int_equal(sl_h265_parse_sps(limit, sizeof(limit), &info), SL_OK);
    assert_int_equal(info.width, 16384);
    assert_int_equal(info.height, 8);
    assert_int_equal(info.ptl.profile_idc, 1);
    assert_int_equal(info.ptl.level_idc, 93);
    assert_true(info.fps == 0);
}

/* The hvcC of the 720p stream: ffmpeg's header and arrays, with its 2294-byte x265
 * SEI replaced by a short one. */
static size_t real_record(uint8_t *out)
{
    hexbuf_t head = hex(HVCC_720_HEAD), vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    size_t n = 0;
    memcpy(out, head.data, head.len);
    n += head.len;
    const hexbuf_t *ps[] = {&vps, &sps, &pps};
    for (int i = 0; i < 3; i++) {
        out[n++] = (uint8_t)(0xa0 + i);
        out[n++] = 0;
        out[n++] = 1;
        out[n++] = 0;
        out[n++] = (uint8_t)ps[i]->len;
        memcpy(out + n, ps[i]->data, ps[i]->len);
        n += ps[i]->len;
    }
    const uint8_t sei[] = {0x27, 0, 1, 0, 5, 0x4e, 0x01, 0x05, 0x01, 0x80};
    memcpy(out + n, sei, sizeof(sei));
    return n + sizeof(sei);
}

static void test_config_parse(void **state)
{
    uint8_t rec[256];
    size_t len = real_record(rec);
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    sl_h265_config_t cfg;
    assert_int_equal(sl_h265_parse_config(rec, len, &cfg), SL_OK);
    assert_int_equal(cfg.ptl.profile_idc, 1);
    assert_int_equal(cfg.ptl.tier, 0);
    assert_int_equal(cfg.ptl.level_idc, 93);
    assert_int_equal(cfg.ptl.compat_flags, 0x60000000);
    assert_int_equal(cfg.ptl.constraint_flags, 0x900000000000);
    assert_int_equal(cfg.chroma_format_idc, 1);
    assert_int_equal(cfg.bit_depth_luma, 8);
    assert_int_equal(cfg.bit_depth_chroma, 8);
    assert_int_equal(cfg.num_temporal_layers, 1);
    assert_int_equal(cfg.temporal_id_nested, 1);
    assert_int_equal(cfg.nal_length_size, 4);
    assert_int_equal(cfg.vps_count, 1);
    assert_int_equal(cfg.sps_count, 1);
    assert_int_equal(cfg.pps_count, 1);
    assert_ptr_equal(cfg.vps[0], rec + 28); /* a slice, not a copy */
    assert_int_equal(cfg.vps_len[0], vps.len);
    assert_memory_equal(cfg.vps[0], vps.data, vps.len);
    assert_memory_equal(cfg.sps[0], sps.data, sps.len);
    assert_memory_equal(cfg.pps[0], pps.data, pps.len);

    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(sl_h265_parse_config(rec, cut, &cfg), SL_ERR_PROTO);
    }
}

static void test_config_malformed(void **state)
{
    uint8_t rec[256], bad[256];
    size_t len = real_record(rec);
    sl_h265_config_t cfg;
    memcpy(bad, rec, len);
    bad[0] = 0; /* configurationVersion */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    memcpy(bad, rec, len);
    bad[21] = 0x0e; /* 3-byte NAL lengths */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    memcpy(bad, rec, len);
    bad[22] = 2; /* only the VPS and SPS arrays: no PPS */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    memcpy(bad, rec, len);
    bad[25] = 0; /* zero VPS in the VPS array */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    memcpy(bad, rec, len);
    bad[23] = 0xa1; /* the VPS array claims SPS units */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    memcpy(bad, rec, len);
    bad[26] = 0xff; /* VPS length past the end */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    memcpy(bad, rec, len);
    bad[len - 6] = 0xff; /* SEI length past the end */
    assert_int_equal(sl_h265_parse_config(bad, len, &cfg), SL_ERR_PROTO);
    /* A unit of one byte cannot hold the 2-byte header. */
    memcpy(bad, rec, len);
    bad[len - 6] = 1;
    assert_int_equal(sl_h265_parse_config(bad, len - 4, &cfg), SL_ERR_PROTO);
}

static void test_config_build(void **state)
{
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    uint8_t rec[256];
    size_t rec_len = real_record(rec);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_h265_build_config(vps.data, vps.len, sps.data, sps.len, pps.data, pps.len, &out),
                     SL_OK);
    /* Byte for byte ffmpeg's record, but for its fourth (SEI) array. */
    assert_int_equal(out.len, rec_len - 10);
    assert_memory_equal(out.data, rec, 22);
    assert_int_equal(out.data[22], 3);
    assert_memory_equal(out.data + 23, rec + 23, out.len - 23);

    /* Main 10 with two temporal layers, round trip through the parser. */
    sl_bytes_free(&out);
    hexbuf_t vps10 = hex(VPS_10), sps10 = hex(SPS_10);
    assert_int_equal(
        sl_h265_build_config(vps10.data, vps10.len, sps10.data, sps10.len, pps.data, pps.len, &out),
        SL_OK);
    sl_h265_config_t cfg;
    assert_int_equal(sl_h265_parse_config(out.data, out.len, &cfg), SL_OK);
    assert_int_equal(cfg.ptl.profile_idc, 2);
    assert_int_equal(cfg.ptl.level_idc, 123);
    assert_int_equal(cfg.ptl.compat_flags, 0x20000000);
    assert_int_equal(cfg.bit_depth_luma, 10);
    assert_int_equal(cfg.bit_depth_chroma, 10);
    assert_int_equal(cfg.num_temporal_layers, 2);
    assert_int_equal(cfg.temporal_id_nested, 0);
    assert_int_equal(cfg.sps_len[0], sps10.len);
    assert_memory_equal(cfg.sps[0], sps10.data, sps10.len);

    /* Wrong or missing units leave out untouched. */
    size_t before = out.len;
    assert_int_equal(sl_h265_build_config(sps.data, sps.len, sps.data, sps.len, pps.data, pps.len, &out),
                     SL_ERR_PROTO);
    assert_int_equal(sl_h265_build_config(vps.data, vps.len, sps.data, sps.len, vps.data, vps.len, &out),
                     SL_ERR_PROTO);
    assert_int_equal(sl_h265_build_config(vps.data, vps.len, pps.data, pps.len, pps.data, pps.len, &out),
                     SL_ERR_PROTO);
    assert_int_equal(sl_h265_build_config(vps.data, 1, sps.data, sps.len, pps.data, pps.len, &out),
                     SL_ERR_PROTO);
    assert_int_equal(out.len, before);
    sl_bytes_free(&out);
}

static void test_profile_names(void **state)
{
    assert_string_equal(sl_h265_profile_name(1), "Main");
    assert_string_equal(sl_h265_profile_name(2), "Main 10");
    assert_string_equal(sl_h265_profile_name(3), "Main Still Picture");
    assert_string_equal(sl_h265_profile_name(4), "Rext");
    assert_string_equal(sl_h265_profile_name(0), "Unknown");
    assert_string_equal(sl_h265_profile_name(99), "Unknown");
}

static void test_has_irap(void **state)
{
    /* Types from the first header byte: 0x26 = IDR_W_RADL (19), 0x28 = IDR_N_LP (20),
     * 0x2a = CRA (21), 0x20 = BLA_W_LP (16), 0x02 = TRAIL_R (1), 0x46 = AUD (35). */
    const uint8_t irap_types[] = {0x20, 0x26, 0x28, 0x2a, 0x2e};
    for (size_t i = 0; i < sizeof(irap_types); i++) {
        const uint8_t d[] = {0, 0, 0, 3, 0x46, 0x01, 0x50, 0, 0, 0, 3, irap_types[i], 0x01, 0xaf};
        assert_true(sl_h265_avcc_has_irap(d, sizeof(d)));
        for (size_t len = 1; len < sizeof(d); len++) assert_false(sl_h265_avcc_has_irap(d, len));
    }
    const uint8_t not_irap[] = {0x02, 0x1e, 0x30, 0x40, 0x4e}; /* TRAIL_R, RASL_R, 24, VPS, SEI */
    for (size_t i = 0; i < sizeof(not_irap); i++) {
        const uint8_t d[] = {0, 0, 0, 3, not_irap[i], 0x01, 0xaf};
        assert_false(sl_h265_avcc_has_irap(d, sizeof(d)));
    }
    const uint8_t overlong[] = {0, 0, 0, 3, 0x26, 0x01, 0xaf, 0, 0, 0, 8, 0x02, 0x01};
    assert_false(sl_h265_avcc_has_irap(overlong, sizeof(overlong)));
    assert_false(sl_h265_avcc_has_irap(NULL, 0));
}

static void test_annexb_to_avcc(void **state)
{
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    uint8_t in[256];
    size_t n = 0;
    const uint8_t aud[] = {0, 0, 0, 1, 0x46, 0x01, 0x50};
    memcpy(in, aud, sizeof(aud));
    n += sizeof(aud);
    const hexbuf_t *ps[] = {&vps, &sps, &pps};
    for (int i = 0; i < 3; i++) {
        memcpy(in + n, "\x00\x00\x00\x01", 4);
        n += 4;
        memcpy(in + n, ps[i]->data, ps[i]->len);
        n += ps[i]->len;
    }
    const uint8_t idr[] = {0, 0, 1, 0x28, 0x01, 0xaf, 0x08, 0x46};
    memcpy(in + n, idr, sizeof(idr));
    n += sizeof(idr);

    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_h265_annexb_to_avcc(in, n, false, &out), SL_OK);
    const uint8_t want[] = {0, 0, 0, 5, 0x28, 0x01, 0xaf, 0x08, 0x46};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    assert_true(sl_h265_avcc_has_irap(out.data, out.len));
    sl_bytes_free(&out);

    assert_int_equal(sl_h265_annexb_to_avcc(in, n, true, &out), SL_OK);
    assert_int_equal(out.len, 12 + vps.len + sps.len + pps.len + sizeof(want));
    assert_int_equal(out.data[3], vps.len);
    assert_memory_equal(out.data + 4, vps.data, vps.len);
    assert_memory_equal(out.data + out.len - sizeof(want), want, sizeof(want));
    sl_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sps_real),
        cmocka_unit_test(test_sps_truncated),
        cmocka_unit_test(test_sps_malformed),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_config_malformed),
        cmocka_unit_test(test_config_build),
        cmocka_unit_test(test_profile_names),
        cmocka_unit_test(test_has_irap),
        cmocka_unit_test(test_annexb_to_avcc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
