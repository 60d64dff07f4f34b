#include "protocols/codec/h265.h"

#include "protocols/codec/bits.h"

/* Sizes beyond this are refused: no real encoder emits them, and callers can then
 * multiply width by height without overflow. */
#define MAX_DIMENSION 16384
/* Bounds on SPS syntax elements (H.265 7.4.3.2), which also bound the parse loops. */
#define MAX_SUB_LAYERS 7
#define MAX_ST_RPS 64
#define MAX_DELTA_POCS 32
#define MAX_LT_REF_PICS 32

/* Adds the units of one record array to a kept list, checking their types. */
static int parse_array(sl_reader_t *r, int type, const uint8_t **ps, size_t *ps_len, int *kept)
{
    int count = sl_rd_be16(r);
    for (int i = 0; i < count; i++) {
        size_t n = sl_rd_be16(r);
        const uint8_t *nal = sl_rd_bytes(r, n);
        if (nal == NULL || n < 2 || sl_h265_nal_type(nal[0]) != type) return SL_ERR_PROTO;
        if (ps != NULL && *kept < SL_H265_MAX_PS) {
            ps[*kept] = nal;
            ps_len[*kept] = n;
            (*kept)++;
        }
    }
    return r->err ? SL_ERR_PROTO : SL_OK;
}

static int parse_record_header(sl_reader_t *r, sl_h265_config_t *out)
{
    uint8_t version = sl_rd_u8(r);
    uint8_t b = sl_rd_u8(r);
    out->ptl.profile_space = b >> 6;
    out->ptl.tier = (b >> 5) & 1;
    out->ptl.profile_idc = b & 0x1f;
    out->ptl.compat_flags = sl_rd_be32(r);
    out->ptl.constraint_flags = (uint64_t)sl_rd_be32(r) << 16 | sl_rd_be16(r);
    out->ptl.level_idc = sl_rd_u8(r);
    (void)sl_rd_be16(r); /* min_spatial_segmentation_idc */
    (void)sl_rd_u8(r);   /* parallelismType */
    out->chroma_format_idc = sl_rd_u8(r) & 3;
    out->bit_depth_luma = (uint8_t)((sl_rd_u8(r) & 7) + 8);
    out->bit_depth_chroma = (uint8_t)((sl_rd_u8(r) & 7) + 8);
    (void)sl_rd_be16(r); /* avgFrameRate */
    b = sl_rd_u8(r);
    out->num_temporal_layers = (b >> 3) & 7;
    out->temporal_id_nested = (b >> 2) & 1;
    out->nal_length_size = (uint8_t)((b & 3) + 1);
    if (r->err || version != 1 || out->nal_length_size == 3) return SL_ERR_PROTO;
    return SL_OK;
}

int sl_h265_parse_config(const uint8_t *rec, size_t len, sl_h265_config_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 23) return SL_ERR_PROTO; /* also keeps NULL + 0 out of the reader */
    sl_reader_t r;
    sl_reader_init(&r, rec, len);
    int rc = parse_record_header(&r, out);
    if (rc != SL_OK) return rc;
    int arrays = sl_rd_u8(&r);
    for (int i = 0; i < arrays && rc == SL_OK; i++) {
        int type = sl_rd_u8(&r) & 0x3f;
        if (type == SL_H265_NAL_VPS) {
            rc = parse_array(&r, type, out->vps, out->vps_len, &out->vps_count);
        } else if (type == SL_H265_NAL_SPS) {
            rc = parse_array(&r, type, out->sps, out->sps_len, &out->sps_count);
        } else if (type == SL_H265_NAL_PPS) {
            rc = parse_array(&r, type, out->pps, out->pps_len, &out->pps_count);
        } else {
            rc = parse_array(&r, type, NULL, NULL, NULL);
        }
    }
    if (rc == SL_OK && (r.err || out->vps_count == 0 || out->sps_count == 0 || out->pps_count == 0))
        rc = SL_ERR_PROTO;
    return rc;
}

/* profile_tier_level(1, max_sub_layers_minus1) (7.3.3): keeps the general part. */
static void parse_ptl(sl_bits_t *b, unsigned max_sub_layers_minus1, sl_h265_ptl_t *ptl)
{
    ptl->profile_space = (uint8_t)sl_bits_read(b, 2);
    ptl->tier = (uint8_t)sl_bits_read(b, 1);
    ptl->profile_idc = (uint8_t)sl_bits_read(b, 5);
    ptl->compat_flags = sl_bits_read(b, 32);
    ptl->constraint_flags = (uint64_t)sl_bits_read(b, 32) << 16;
    ptl->constraint_flags |= sl_bits_read(b, 16);
    ptl->level_idc = (uint8_t)sl_bits_read(b, 8);
    bool profile_present[MAX_SUB_LAYERS], level_present[MAX_SUB_LAYERS];
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        profile_present[i] = sl_bits_flag(b);
        level_present[i] = sl_bits_flag(b);
    }
    if (max_sub_layers_minus1 > 0) sl_bits_skip(b, 2 * (8 - max_sub_layers_minus1));
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        if (profile_present[i]) sl_bits_skip(b, 88);
        if (level_present[i]) sl_bits_skip(b, 8);
    }
}

/* The displayed size from the coded size and the conformance window (7.4.3.2.1). */
static int window_dimensions(sl_bits_t *b, sl_h265_sps_info_t *out, bool separate_planes)
{
    int64_t w = sl_bits_ue(b), h = sl_bits_ue(b);
    int64_t left = 0, right = 0, top = 0, bottom = 0;
    if (sl_bits_flag(b)) { /* conformance_window_flag */
        left = sl_bits_ue(b);
        right = sl_bits_ue(b);
        top = sl_bits_ue(b);
        bottom = sl_bits_ue(b);
    }
    if (b->err) return SL_ERR_PROTO;
    int cf = separate_planes ? 0 : out->chroma_format_idc;
    int64_t sub_w = cf == 1 || cf == 2 ? 2 : 1, sub_h = cf == 1 ? 2 : 1;
    w -= sub_w * (left + right);
    h -= sub_h * (top + bottom);
    if (w < 1 || w > MAX_DIMENSION || h < 1 || h > MAX_DIMENSION) return SL_ERR_PROTO;
    out->width = (int)w;
    out->height = (int)h;
    return SL_OK;
}

/* Skips scaling_list_data() (7.3.4). */
static void skip_scaling_list_data(sl_bits_t *b)
{
    for (int size_id = 0; size_id < 4; size_id++) {
        for (int matrix_id = 0; matrix_id < 6 && !b->err; matrix_id += size_id == 3 ? 3 : 1) {
            if (!sl_bits_flag(b)) { /* scaling_list_pred_mode_flag */
                if (sl_bits_ue(b) > (uint32_t)matrix_id) b->err = true;
                continue;
            }
            int coefs = size_id == 0 ? 16 : 64;
            if (size_id > 1) (void)sl_bits_se(b); /* scaling_list_dc_coef_minus8 */
            for (int i = 0; i < coefs && !b->err; i++) (void)sl_bits_se(b);
        }
    }
}

/* Skips st_ref_pic_set(idx) (7.3.7) as found in the SPS, recording its number of
 * delta POCs, which the size of a later predicted set depends on. */
static void skip_st_ref_pic_set(sl_bits_t *b, int idx, int *num_delta_pocs)
{
    int n = 0;
    if (idx != 0 && sl_bits_flag(b)) { /* inter_ref_pic_set_prediction_flag */
        sl_bits_skip(b, 1);            /* delta_rps_sign */
        (void)sl_bits_ue(b);           /* abs_delta_rps_minus1 */
        for (int j = 0; j <= num_delta_pocs[idx - 1] && !b->err; j++) {
            bool used = sl_bits_flag(b);
            if (used || sl_bits_flag(b)) n++; /* use_delta_flag when not used */
        }
    } else {
        uint32_t neg = sl_bits_ue(b), pos = sl_bits_ue(b);
        if (neg > 16 || pos > 16) b->err = true;
        n = b->err ? 0 : (int)(neg + pos);
        for (int i = 0; i < n && !b->err; i++) {
            (void)sl_bits_ue(b); /* delta_poc_sX_minus1 */
            sl_bits_skip(b, 1);  /* used_by_curr_pic_sX_flag */
        }
    }
    if (n > MAX_DELTA_POCS) b->err = true;
    num_delta_pocs[idx] = n;
}

/* Reads the VUI up to the timing info (E.2.1); the frame rate or 0. */
static double parse_vui_fps(sl_bits_t *b)
{
    if (sl_bits_flag(b)) { /* aspect_ratio_info_present_flag */
        if (sl_bits_read(b, 8) == 255) sl_bits_skip(b, 32); /* EXTENDED_SAR */
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
    sl_bits_skip(b, 3);    /* neutral_chroma, field_seq, frame_field_info_present */
    if (sl_bits_flag(b)) { /* default_display_window_flag */
        for (int i = 0; i < 4; i++) (void)sl_bits_ue(b);
    }
    if (!sl_bits_flag(b)) return 0;
    uint32_t units = sl_bits_read(b, 32), scale = sl_bits_read(b, 32);
    if (b->err || units == 0) return 0;
    return (double)scale / units;
}

/* Walks the SPS from after log2_max_pic_order_cnt_lsb_minus4 to the VUI; the frame
 * rate or 0. */
static double parse_tail_fps(sl_bits_t *b, unsigned max_sub_layers_minus1, unsigned log2_max_poc_lsb)
{
    bool ordering_info_all = sl_bits_flag(b);
    for (unsigned i = ordering_info_all ? 0 : max_sub_layers_minus1; i <= max_sub_layers_minus1; i++) {
        for (int k = 0; k < 3; k++) (void)sl_bits_ue(b); /* dec buffering, reorder, latency */
    }
    for (int k = 0; k < 6; k++) (void)sl_bits_ue(b); /* block sizes and depths */
    if (sl_bits_flag(b) && sl_bits_flag(b)) skip_scaling_list_data(b);
    sl_bits_skip(b, 2);    /* amp_enabled_flag, sample_adaptive_offset_enabled_flag */
    if (sl_bits_flag(b)) { /* pcm_enabled_flag */
        sl_bits_skip(b, 8);
        (void)sl_bits_ue(b);
        (void)sl_bits_ue(b);
        sl_bits_skip(b, 1);
    }
    uint32_t sets = sl_bits_ue(b);
    if (sets > MAX_ST_RPS) return 0;
    int num_delta_pocs[MAX_ST_RPS];
    for (int i = 0; i < (int)sets && !b->err; i++) skip_st_ref_pic_set(b, i, num_delta_pocs);
    if (sl_bits_flag(b)) { /* long_term_ref_pics_present_flag */
        uint32_t lt = sl_bits_ue(b);
        if (lt > MAX_LT_REF_PICS) return 0;
        sl_bits_skip(b, lt * (log2_max_poc_lsb + 1));
    }
    sl_bits_skip(b, 2); /* sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag */
    if (b->err || !sl_bits_flag(b)) return 0;
    return parse_vui_fps(b);
}

int sl_h265_parse_sps(const uint8_t *nal, size_t len, sl_h265_sps_info_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 3 || sl_h265_nal_type(nal[0]) != SL_H265_NAL_SPS) return SL_ERR_PROTO;
    sl_bits_t b;
    sl_bits_init(&b, nal + 2, len - 2, true);
    sl_bits_skip(&b, 4); /* sps_video_parameter_set_id */
    unsigned msl = sl_bits_read(&b, 3);
    out->temporal_id_nesting = sl_bits_flag(&b);
    if (msl + 1 > MAX_SUB_LAYERS) return SL_ERR_PROTO;
    out->max_sub_layers = (int)msl + 1;
    parse_ptl(&b, msl, &out->ptl);
    if (sl_bits_ue(&b) > 15) return SL_ERR_PROTO; /* sps_seq_parameter_set_id */
    uint32_t format = sl_bits_ue(&b);
    if (format > 3) return SL_ERR_PROTO;
    out->chroma_format_idc = (int)format;
    bool separate_planes = out->chroma_format_idc == 3 && sl_bits_flag(&b);
    int rc = window_dimensions(&b, out, separate_planes);
    if (rc != SL_OK) return rc;
    uint32_t luma = sl_bits_ue(&b), chroma = sl_bits_ue(&b);
    uint32_t log2_max_poc_lsb_minus4 = sl_bits_ue(&b);
    if (b.err || luma > 8 || chroma > 8 || log2_max_poc_lsb_minus4 > 12) return SL_ERR_PROTO;
    out->bit_depth_luma = 8 + (int)luma;
    out->bit_depth_chroma = 8 + (int)chroma;
    out->fps = parse_tail_fps(&b, msl, log2_max_poc_lsb_minus4 + 4);
    return SL_OK;
}

/* Writes one single-unit array of the record: complete, type, count 1, length, unit. */
static uint8_t *put_array(uint8_t *p, int type, const uint8_t *nal, size_t len)
{
    *p++ = (uint8_t)(0x80 | type);
    sl_wr_be16(p, 1);
    sl_wr_be16(p + 2, (uint16_t)len);
    memcpy(p + 4, nal, len);
    return p + 4 + len;
}

static bool is_unit(const uint8_t *nal, size_t len, int type)
{
    return len >= 2 && len <= 0xffff && sl_h265_nal_type(nal[0]) == type;
}

int sl_h265_build_config(const uint8_t *vps, size_t vps_len, const uint8_t *sps, size_t sps_len,
                         const uint8_t *pps, size_t pps_len, sl_bytes_t *out)
{
    sl_h265_sps_info_t info;
    if (sl_h265_parse_sps(sps, sps_len, &info) != SL_OK) return SL_ERR_PROTO;
    if (!is_unit(vps, vps_len, SL_H265_NAL_VPS) || !is_unit(sps, sps_len, SL_H265_NAL_SPS) ||
        !is_unit(pps, pps_len, SL_H265_NAL_PPS))
        return SL_ERR_PROTO;
    size_t total = 23 + 3 * 5 + vps_len + sps_len + pps_len;
    if (sl_bytes_reserve(out, total) != SL_OK) return SL_ERR_NOMEM;

    /* Written in place after one reservation, so a failure leaves out unchanged. */
    const sl_h265_ptl_t *ptl = &info.ptl;
    uint8_t *p = out->data + out->len;
    *p++ = 1; /* configurationVersion */
    *p++ = (uint8_t)(ptl->profile_space << 6 | ptl->tier << 5 | ptl->profile_idc);
    sl_wr_be32(p, ptl->compat_flags);
    sl_wr_be32(p + 4, (uint32_t)(ptl->constraint_flags >> 16));
    sl_wr_be16(p + 8, (uint16_t)ptl->constraint_flags);
    p += 10;
    *p++ = ptl->level_idc;
    sl_wr_be16(p, 0xf000); /* min_spatial_segmentation_idc 0: no guarantee */
    p += 2;
    *p++ = 0xfc; /* parallelismType 0: unknown */
    *p++ = (uint8_t)(0xfc | info.chroma_format_idc);
    *p++ = (uint8_t)(0xf8 | (info.bit_depth_luma - 8));
    *p++ = (uint8_t)(0xf8 | (info.bit_depth_chroma - 8));
    sl_wr_be16(p, 0); /* avgFrameRate unspecified */
    p += 2;
    /* constantFrameRate 0, numTemporalLayers, temporalIdNested, 4-byte lengths. */
    *p++ = (uint8_t)(info.max_sub_layers << 3 | info.temporal_id_nesting << 2 | 3);
    *p++ = 3; /* numOfArrays */
    p = put_array(p, SL_H265_NAL_VPS, vps, vps_len);
    p = put_array(p, SL_H265_NAL_SPS, sps, sps_len);
    put_array(p, SL_H265_NAL_PPS, pps, pps_len);
    out->len += total;
    return SL_OK;
}

const char *sl_h265_profile_name(int profile_idc)
{
    switch (profile_idc) {
    case 1: return "Main";
    case 2: return "Main 10";
    case 3: return "Main Still Picture";
    case 4: return "Rext";
    case 5: return "High Throughput";
    case 6: return "Multiview Main";
    case 7: return "Scalable Main";
    case 8: return "3D Main";
    case 9: return "Screen Extended";
    case 10: return "Scalable Rext";
    case 11: return "High Throughput Screen Extended";
    default: return "Unknown";
    }
}

static int find_irap(void *opaque, const uint8_t *nal, size_t len)
{
    int type = sl_h265_nal_type(nal[0]);
    if (type >= SL_H265_NAL_BLA_W_LP && type <= SL_H265_NAL_RSV_IRAP_23) *(bool *)opaque = true;
    return 0;
}

bool sl_h265_avcc_has_irap(const uint8_t *data, size_t len)
{
    bool found = false;
    return sl_avcc_split(data, len, find_irap, &found) == 0 && found;
}

int sl_h265_annexb_to_avcc(const uint8_t *data, size_t len, bool keep_ps, sl_bytes_t *out)
{
    uint64_t drop = UINT64_C(1) << SL_H265_NAL_AUD;
    if (!keep_ps) {
        drop |= UINT64_C(1) << SL_H265_NAL_VPS | UINT64_C(1) << SL_H265_NAL_SPS |
                UINT64_C(1) << SL_H265_NAL_PPS;
    }
    return sl__annexb_to_avcc(data, len, sl_h265_nal_type, drop, out);
}
