#include "protocols/codec/h264.h"

#include "protocols/codec/bits.h"

/* Sizes beyond this are refused: no real encoder emits them, and callers can then
 * multiply width by height without overflow. */
#define MAX_DIMENSION 16384

static int parse_ps_list(sl_reader_t *r, int count, int type, const uint8_t **ps, size_t *ps_len,
                         int *kept)
{
    if (count == 0) return SL_ERR_PROTO;
    *kept = 0;
    for (int i = 0; i < count; i++) {
        size_t n = sl_rd_be16(r);
        const uint8_t *nal = sl_rd_bytes(r, n);
        if (nal == NULL || n == 0 || sl_h264_nal_type(nal[0]) != type) return SL_ERR_PROTO;
        if (*kept < SL_H264_MAX_PS) {
            ps[*kept] = nal;
            ps_len[*kept] = n;
            (*kept)++;
        }
    }
    return SL_OK;
}

int sl_h264_parse_config(const uint8_t *rec, size_t len, sl_h264_config_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 7) return SL_ERR_PROTO; /* also keeps NULL + 0 out of the reader */
    sl_reader_t r;
    sl_reader_init(&r, rec, len);

    uint8_t version = sl_rd_u8(&r);
    out->profile = sl_rd_u8(&r);
    out->compat = sl_rd_u8(&r);
    out->level = sl_rd_u8(&r);
    out->nal_length_size = (uint8_t)((sl_rd_u8(&r) & 3) + 1);
    int nsps = sl_rd_u8(&r) & 0x1f;
    if (r.err || version != 1 || out->nal_length_size == 3) return SL_ERR_PROTO;
    int rc = parse_ps_list(&r, nsps, SL_H264_NAL_SPS, out->sps, out->sps_len, &out->sps_count);
    if (rc != SL_OK) return rc;
    int npps = sl_rd_u8(&r);
    if (r.err) return SL_ERR_PROTO;
    return parse_ps_list(&r, npps, SL_H264_NAL_PPS, out->pps, out->pps_len, &out->pps_count);
}

/* Profiles whose SPS carries chroma format, bit depths and scaling matrices. */
static bool has_chroma_info(int profile_idc)
{
    switch (profile_idc) {
    case 44: case 83: case 86: case 100: case 110: case 118: case 122:
    case 128: case 134: case 135: case 138: case 139: case 244:
        return true;
    default:
        return false;
    }
}

/* Skips one scaling_list() (7.3.2.1.1.1); only its length matters here. */
static void skip_scaling_list(sl_bits_t *b, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size && !b->err; j++) {
        if (next != 0) {
            int32_t delta = sl_bits_se(b);
            if (delta < -128 || delta > 127) {
                b->err = true;
                return;
            }
            next = (last + delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

static void parse_chroma_info(sl_bits_t *b, sl_h264_sps_info_t *out, bool *separate_planes)
{
    uint32_t format = sl_bits_ue(b);
    if (format > 3) b->err = true;
    out->chroma_format_idc = (int)SL_MIN(format, 3);
    if (format == 3) *separate_planes = sl_bits_flag(b);
    uint32_t luma = sl_bits_ue(b), chroma = sl_bits_ue(b);
    /* Out of range is an error; the values stay in range so nothing overflows. */
    if (luma > 6 || chroma > 6) b->err = true;
    out->bit_depth_luma = 8 + (int)SL_MIN(luma, 6);
    out->bit_depth_chroma = 8 + (int)SL_MIN(chroma, 6);
    sl_bits_skip(b, 1); /* qpprime_y_zero_transform_bypass_flag */
    if (sl_bits_flag(b)) { /* seq_scaling_matrix_present_flag */
        int lists = out->chroma_format_idc == 3 ? 12 : 8;
        for (int i = 0; i < lists && !b->err; i++) {
            if (sl_bits_flag(b)) skip_scaling_list(b, i < 6 ? 16 : 64);
        }
    }
}

static void skip_poc_info(sl_bits_t *b)
{
    uint32_t type = sl_bits_ue(b);
    if (type == 0) {
        if (sl_bits_ue(b) > 12) b->err = true; /* log2_max_pic_order_cnt_lsb_minus4 */
    } else if (type == 1) {
        sl_bits_skip(b, 1); /* delta_pic_order_always_zero_flag */
        (void)sl_bits_se(b); /* offset_for_non_ref_pic */
        (void)sl_bits_se(b); /* offset_for_top_to_bottom_field */
        uint32_t cycle = sl_bits_ue(b);
        if (cycle > 255) b->err = true;
        for (uint32_t i = 0; i < cycle && !b->err; i++) (void)sl_bits_se(b);
    } else if (type > 2) {
        b->err = true;
    }
}

/* Reads the VUI up to the timing info; the frame rate or 0. */
static double parse_vui_fps(sl_bits_t *b)
{
    if (sl_bits_flag(b)) { /* aspect_ratio_info_present_flag */
        if (sl_bits_read(b, 8) == 255) sl_bits_skip(b, 32); /* Extended_SAR */
    }
    if (sl_bits_flag(b)) sl_bits_skip(b, 1); /* overscan */
    if (sl_bits_flag(b)) {                   /* video_signal_type_present_flag */
        sl_bits_skip(b, 4);
        if (sl_bits_flag(b)) sl_bits_skip(b, 24); /* colour description */
    }
    if (sl_bits_flag(b)) { /* chroma_loc_info_present_flag */
        (void)sl_bits_ue(b);
        (void)sl_bits_ue(b);
    }
    if (!sl_bits_flag(b)) return 0;
    uint32_t units = sl_bits_read(b, 32), scale = sl_bits_read(b, 32);
    if (b->err || units == 0) return 0;
    /* Two ticks per frame: num_units_in_tick counts fields. */
    return (double)scale / (2.0 * units);
}

/* The displayed size from the coded size in macroblocks and the cropping (7.4.2.1.1). */
static int crop_dimensions(sl_bits_t *b, sl_h264_sps_info_t *out, bool separate_planes,
                           uint32_t width_mbs, uint32_t height_units, bool frame_mbs_only)
{
    int64_t crop_x = 1, crop_y = frame_mbs_only ? 1 : 2;
    if (!separate_planes && out->chroma_format_idc != 0) {
        crop_x *= out->chroma_format_idc == 3 ? 1 : 2;
        crop_y *= out->chroma_format_idc == 1 ? 2 : 1;
    }
    int64_t left = 0, right = 0, top = 0, bottom = 0;
    if (sl_bits_flag(b)) { /* frame_cropping_flag */
        left = sl_bits_ue(b);
        right = sl_bits_ue(b);
        top = sl_bits_ue(b);
        bottom = sl_bits_ue(b);
    }
    if (b->err) return SL_ERR_PROTO;
    int64_t w = ((int64_t)width_mbs + 1) * 16 - crop_x * (left + right);
    int64_t h = ((int64_t)height_units + 1) * 16 * (frame_mbs_only ? 1 : 2) - crop_y * (top + bottom);
    if (w < 1 || w > MAX_DIMENSION || h < 1 || h > MAX_DIMENSION) return SL_ERR_PROTO;
    out->width = (int)w;
    out->height = (int)h;
    return SL_OK;
}

int sl_h264_parse_sps(const uint8_t *nal, size_t len, sl_h264_sps_info_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 4 || sl_h264_nal_type(nal[0]) != SL_H264_NAL_SPS) return SL_ERR_PROTO;
    sl_bits_t b;
    sl_bits_init(&b, nal + 1, len - 1, true);
    out->profile_idc = (int)sl_bits_read(&b, 8);
    out->compat = (int)sl_bits_read(&b, 8);
    out->level_idc = (int)sl_bits_read(&b, 8);
    if (sl_bits_ue(&b) > 31) return SL_ERR_PROTO; /* seq_parameter_set_id */
    out->chroma_format_idc = 1;
    out->bit_depth_luma = out->bit_depth_chroma = 8;
    bool separate_planes = false;
    if (has_chroma_info(out->profile_idc)) parse_chroma_info(&b, out, &separate_planes);
    if (sl_bits_ue(&b) > 12) return SL_ERR_PROTO; /* log2_max_frame_num_minus4 */
    skip_poc_info(&b);
    (void)sl_bits_ue(&b); /* max_num_ref_frames */
    sl_bits_skip(&b, 1);  /* gaps_in_frame_num_value_allowed_flag */
    uint32_t width_mbs = sl_bits_ue(&b), height_units = sl_bits_ue(&b);
    bool frame_mbs_only = sl_bits_flag(&b);
    if (!frame_mbs_only) sl_bits_skip(&b, 1); /* mb_adaptive_frame_field_flag */
    sl_bits_skip(&b, 1);                      /* direct_8x8_inference_flag */
    if (b.err) return SL_ERR_PROTO;
    out->interlaced = !frame_mbs_only;
    int rc = crop_dimensions(&b, out, separate_planes, width_mbs, height_units, frame_mbs_only);
    if (rc != SL_OK) return rc;
    if (sl_bits_flag(&b)) out->fps = parse_vui_fps(&b);
    return SL_OK;
}

/* Profiles whose configuration record carries the chroma/bit depth extension. */
static bool record_has_extension(int profile_idc)
{
    return profile_idc != 66 && profile_idc != 77 && profile_idc != 88;
}

int sl_h264_build_config(const uint8_t *sps, size_t sps_len, const uint8_t *pps, size_t pps_len,
                         sl_bytes_t *out)
{
    sl_h264_sps_info_t info;
    if (sl_h264_parse_sps(sps, sps_len, &info) != SL_OK) return SL_ERR_PROTO;
    if (sps_len > 0xffff || pps_len == 0 || pps_len > 0xffff ||
        sl_h264_nal_type(pps[0]) != SL_H264_NAL_PPS)
        return SL_ERR_PROTO;
    bool ext = record_has_extension(info.profile_idc);
    size_t total = 11 + sps_len + pps_len + (ext ? 4 : 0);
    if (sl_bytes_reserve(out, total) != SL_OK) return SL_ERR_NOMEM;

    /* Written in place after one reservation, so a failure leaves out unchanged. */
    uint8_t *p = out->data + out->len;
    *p++ = 1; /* configurationVersion */
    *p++ = (uint8_t)info.profile_idc;
    *p++ = (uint8_t)info.compat;
    *p++ = (uint8_t)info.level_idc;
    *p++ = 0xfc | 3; /* lengthSizeMinusOne: sluice frames use 4-byte lengths */
    *p++ = 0xe0 | 1; /* one SPS */
    sl_wr_be16(p, (uint16_t)sps_len);
    memcpy(p + 2, sps, sps_len);
    p += 2 + sps_len;
    *p++ = 1; /* one PPS */
    sl_wr_be16(p, (uint16_t)pps_len);
    memcpy(p + 2, pps, pps_len);
    p += 2 + pps_len;
    if (ext) {
        *p++ = (uint8_t)(0xfc | info.chroma_format_idc);
        *p++ = (uint8_t)(0xf8 | (info.bit_depth_luma - 8));
        *p++ = (uint8_t)(0xf8 | (info.bit_depth_chroma - 8));
        *p++ = 0; /* numOfSequenceParameterSetExt */
    }
    out->len += total;
    return SL_OK;
}

const char *sl_h264_profile_name(int profile_idc)
{
    switch (profile_idc) {
    case 44: return "CAVLC 4:4:4 Intra";
    case 66: return "Baseline";
    case 77: return "Main";
    case 83: return "Scalable Baseline";
    case 86: return "Scalable High";
    case 88: return "Extended";
    case 100: return "High";
    case 110: return "High 10";
    case 118: return "Multiview High";
    case 122: return "High 4:2:2";
    case 128: return "Stereo High";
    case 244: return "High 4:4:4 Predictive";
    default: return "Unknown";
    }
}

static int find_idr(void *opaque, const uint8_t *nal, size_t len)
{
    if (sl_h264_nal_type(nal[0]) == SL_H264_NAL_IDR) *(bool *)opaque = true;
    return 0;
}

bool sl_h264_avcc_has_idr(const uint8_t *data, size_t len)
{
    bool found = false;
    return sl_avcc_split(data, len, find_idr, &found) == 0 && found;
}

typedef struct to_avcc {
    sl_bytes_t *out;
    int (*type_of)(uint8_t);
    uint64_t drop_mask;
} to_avcc_t;

static int append_avcc(void *opaque, const uint8_t *nal, size_t len)
{
    to_avcc_t *ctx = opaque;
    if (ctx->drop_mask & UINT64_C(1) << ctx->type_of(nal[0])) return 0;
    if (len > UINT32_MAX || sl_bytes_reserve(ctx->out, 4 + len) != SL_OK) return SL_ERR_NOMEM;
    sl_wr_be32(ctx->out->data + ctx->out->len, (uint32_t)len);
    memcpy(ctx->out->data + ctx->out->len + 4, nal, len);
    ctx->out->len += 4 + len;
    return 0;
}

int sl__annexb_to_avcc(const uint8_t *data, size_t len, int (*type_of)(uint8_t), uint64_t drop_mask,
                       sl_bytes_t *out)
{
    size_t old_len = out->len;
    to_avcc_t ctx = {out, type_of, drop_mask};
    int rc = sl_annexb_split(data, len, append_avcc, &ctx);
    if (rc != 0) out->len = old_len;
    return rc;
}

int sl_h264_annexb_to_avcc(const uint8_t *data, size_t len, bool keep_ps, sl_bytes_t *out)
{
    uint64_t drop = UINT64_C(1) << SL_H264_NAL_AUD;
    if (!keep_ps) drop |= UINT64_C(1) << SL_H264_NAL_SPS | UINT64_C(1) << SL_H264_NAL_PPS;
    return sl__annexb_to_avcc(data, len, sl_h264_nal_type, drop, out);
}

int sl_avcc_split(const uint8_t *data, size_t len, sl_nal_cb cb, void *opaque)
{
    if (len == 0) return 0; /* data may be NULL, and NULL + 0 is undefined */
    sl_reader_t r;
    sl_reader_init(&r, data, len);
    while (sl_reader_left(&r) > 0) {
        uint32_t n = sl_rd_be32(&r);
        const uint8_t *nal = sl_rd_bytes(&r, n);
        if (nal == NULL || n == 0) return SL_ERR_PROTO;
        int rc = cb(opaque, nal, n);
        if (rc != 0) return rc;
    }
    return 0;
}

/* Offset of the next 00 00 01 at or after `from`, or len. */
static size_t find_start_code(const uint8_t *d, size_t len, size_t from)
{
    for (size_t i = from; i + 2 < len; i++) {
        if (d[i + 2] > 1) {
            i += 2; /* no start code can begin at i, i + 1 or i + 2 */
        } else if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
            return i;
        }
    }
    return len;
}

int sl_annexb_split(const uint8_t *data, size_t len, sl_nal_cb cb, void *opaque)
{
    size_t sc = find_start_code(data, len, 0);
    while (sc < len) {
        size_t begin = sc + 3;
        size_t next = find_start_code(data, len, begin);
        size_t end = next;
        /* Drops the first zero of a 4-byte start code and trailing_zero_8bits. */
        while (end > begin && data[end - 1] == 0) end--;
        if (end > begin) {
            int rc = cb(opaque, data + begin, end - begin);
            if (rc != 0) return rc;
        }
        sc = next;
    }
    return 0;
}
