/* Fuzzes the codec helpers. The first byte selects the parser, the rest is its input.
 * Where a parser accepts the input, the matching builder runs on the result and the
 * output must parse back to the same values, so the fuzzer checks consistency as well
 * as memory safety. */
#include <stdlib.h>
#include <string.h>

#include "protocols/codec/aac.h"
#include "protocols/codec/h264.h"
#include "protocols/codec/h265.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum target {
    T_H264_CONFIG,
    T_H264_SPS,
    T_H265_CONFIG,
    T_H265_SPS,
    T_AAC_ASC,
    T_ADTS,
    T_ANNEXB,
    T_AVCC,
    T_COUNT
};

#define CHECK(x) \
    do {         \
        if (!(x)) abort(); \
    } while (0)

static void check_size(int w, int h)
{
    CHECK(w >= 1 && w <= 16384 && h >= 1 && h <= 16384);
}

static void fuzz_h264_sps(const uint8_t *d, size_t n)
{
    sl_h264_sps_info_t info;
    if (sl_h264_parse_sps(d, n, &info) != SL_OK) return;
    check_size(info.width, info.height);
    CHECK(info.fps >= 0);
    CHECK(sl_h264_profile_name(info.profile_idc) != NULL);
}

static void fuzz_h264_config(const uint8_t *d, size_t n)
{
    sl_h264_config_t cfg;
    if (sl_h264_parse_config(d, n, &cfg) != SL_OK) return;
    CHECK(cfg.sps_count >= 1 && cfg.pps_count >= 1);
    for (int i = 0; i < cfg.sps_count; i++) {
        CHECK(cfg.sps[i] >= d && cfg.sps[i] + cfg.sps_len[i] <= d + n);
        fuzz_h264_sps(cfg.sps[i], cfg.sps_len[i]);
    }
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_h264_build_config(cfg.sps[0], cfg.sps_len[0], cfg.pps[0], cfg.pps_len[0], &out) == SL_OK) {
        sl_h264_config_t back;
        CHECK(sl_h264_parse_config(out.data, out.len, &back) == SL_OK);
        CHECK(back.sps_len[0] == cfg.sps_len[0] && back.pps_len[0] == cfg.pps_len[0]);
        CHECK(memcmp(back.sps[0], cfg.sps[0], cfg.sps_len[0]) == 0);
        CHECK(memcmp(back.pps[0], cfg.pps[0], cfg.pps_len[0]) == 0);
    }
    sl_bytes_free(&out);
}

static void fuzz_h265_sps(const uint8_t *d, size_t n)
{
    sl_h265_sps_info_t info;
    if (sl_h265_parse_sps(d, n, &info) != SL_OK) return;
    check_size(info.width, info.height);
    CHECK(info.fps >= 0);
    CHECK(info.max_sub_layers >= 1 && info.max_sub_layers <= 7);
}

static void fuzz_h265_config(const uint8_t *d, size_t n)
{
    sl_h265_config_t cfg;
    if (sl_h265_parse_config(d, n, &cfg) != SL_OK) return;
    CHECK(cfg.vps_count >= 1 && cfg.sps_count >= 1 && cfg.pps_count >= 1);
    for (int i = 0; i < cfg.sps_count; i++) fuzz_h265_sps(cfg.sps[i], cfg.sps_len[i]);
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_h265_build_config(cfg.vps[0], cfg.vps_len[0], cfg.sps[0], cfg.sps_len[0], cfg.pps[0],
                             cfg.pps_len[0], &out) == SL_OK) {
        sl_h265_config_t back;
        sl_h265_sps_info_t info;
        CHECK(sl_h265_parse_config(out.data, out.len, &back) == SL_OK);
        CHECK(sl_h265_parse_sps(cfg.sps[0], cfg.sps_len[0], &info) == SL_OK);
        CHECK(back.ptl.profile_idc == info.ptl.profile_idc && back.ptl.level_idc == info.ptl.level_idc);
        CHECK(back.ptl.compat_flags == info.ptl.compat_flags);
        CHECK(back.ptl.constraint_flags == info.ptl.constraint_flags);
        CHECK(back.sps_len[0] == cfg.sps_len[0]);
        CHECK(memcmp(back.sps[0], cfg.sps[0], cfg.sps_len[0]) == 0);
    }
    sl_bytes_free(&out);
}

static void fuzz_aac_asc(const uint8_t *d, size_t n)
{
    sl_aac_config_t cfg, back;
    if (sl_aac_parse_config(d, n, &cfg) != SL_OK) return;
    CHECK(cfg.sample_rate > 0 && cfg.channels >= 0);
    uint8_t asc[2];
    if (sl_aac_build_config(&cfg, asc) == SL_OK) {
        CHECK(sl_aac_parse_config(asc, 2, &back) == SL_OK);
        CHECK(back.object_type == cfg.object_type && back.sample_rate == cfg.sample_rate);
        CHECK(back.channels == cfg.channels);
    }
    uint8_t adts[SL_AAC_ADTS_HEADER_LEN];
    size_t hlen, flen;
    if (sl_aac_adts_header(&cfg, n, adts) == SL_OK) {
        CHECK(sl_aac_parse_adts(adts, sizeof(adts), &back, &hlen, &flen) == SL_OK);
        CHECK(hlen == 7 && flen == n + 7 && back.sample_rate == cfg.sample_rate);
    }
}

static void fuzz_adts(const uint8_t *d, size_t n)
{
    sl_aac_config_t cfg, back;
    size_t hlen, flen;
    if (sl_aac_parse_adts(d, n, &cfg, &hlen, &flen) != SL_OK) return;
    CHECK(hlen <= n && flen > hlen);
    uint8_t adts[SL_AAC_ADTS_HEADER_LEN];
    CHECK(sl_aac_adts_header(&cfg, flen - 7, adts) == SL_OK);
    CHECK(sl_aac_parse_adts(adts, sizeof(adts), &back, &hlen, &flen) == SL_OK);
    CHECK(back.object_type == cfg.object_type && back.sample_rate_index == cfg.sample_rate_index);
    CHECK(back.channels == cfg.channels);
}

typedef struct counter {
    const uint8_t *begin, *end;
    size_t units, bytes;
} counter_t;

static int count_unit(void *opaque, const uint8_t *nal, size_t len)
{
    counter_t *c = opaque;
    CHECK(len > 0 && nal >= c->begin && nal + len <= c->end);
    c->units++;
    c->bytes += len;
    return 0;
}

static void fuzz_annexb(const uint8_t *d, size_t n)
{
    counter_t in = {d, d + n, 0, 0};
    CHECK(sl_annexb_split(d, n, count_unit, &in) == 0);
    sl_bytes_t out;
    sl_bytes_init(&out);
    /* Keeping parameter sets, H.265 only drops AUDs, so what remains of the input must
     * come out as exactly that many well-formed AVCC units. */
    CHECK(sl_h265_annexb_to_avcc(d, n, true, &out) == SL_OK);
    counter_t avcc = {out.data, out.data ? out.data + out.len : NULL, 0, 0};
    CHECK(sl_avcc_split(out.data, out.len, count_unit, &avcc) == 0);
    CHECK(avcc.units <= in.units && avcc.bytes + 4 * avcc.units == out.len);
    (void)sl_h265_avcc_has_irap(out.data, out.len);
    sl_bytes_free(&out);
    CHECK(sl_h264_annexb_to_avcc(d, n, false, &out) == SL_OK);
    counter_t avcc264 = {out.data, out.data ? out.data + out.len : NULL, 0, 0};
    CHECK(sl_avcc_split(out.data, out.len, count_unit, &avcc264) == 0);
    CHECK(avcc264.units <= in.units && avcc264.bytes + 4 * avcc264.units == out.len);
    (void)sl_h264_avcc_has_idr(out.data, out.len);
    sl_bytes_free(&out);
}

static void fuzz_avcc(const uint8_t *d, size_t n)
{
    counter_t c = {d, d + n, 0, 0};
    bool ok = sl_avcc_split(d, n, count_unit, &c) == 0;
    CHECK(!ok || c.bytes + 4 * c.units == n);
    bool idr = sl_h264_avcc_has_idr(d, n), irap = sl_h265_avcc_has_irap(d, n);
    CHECK(ok || (!idr && !irap));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % T_COUNT) {
    case T_H264_CONFIG: fuzz_h264_config(d, n); break;
    case T_H264_SPS: fuzz_h264_sps(d, n); break;
    case T_H265_CONFIG: fuzz_h265_config(d, n); break;
    case T_H265_SPS: fuzz_h265_sps(d, n); break;
    case T_AAC_ASC: fuzz_aac_asc(d, n); break;
    case T_ADTS: fuzz_adts(d, n); break;
    case T_ANNEXB: fuzz_annexb(d, n); break;
    case T_AVCC: fuzz_avcc(d, n); break;
    }
    return 0;
}
