/* H.265 helpers: the HEVCDecoderConfigurationRecord, SPS fields for logs and the API,
 * IRAP detection and Annex B conversion. The NAL framing helpers (sl_avcc_split,
 * sl_annexb_split) are in h264.h.
 *
 * I/O-free and safe on hostile input: every function bounds its reads by the length it
 * is given and returns SL_ERR_PROTO on malformed data.
 */
#ifndef SLUICE_CODEC_H265_H
#define SLUICE_CODEC_H265_H

#include "protocols/codec/h264.h"

/* At most this many VPS, SPS and PPS are kept from a configuration record. */
#define SL_H265_MAX_PS 4

enum sl_h265_nal_type {
    SL_H265_NAL_BLA_W_LP = 16, /* first IRAP type */
    SL_H265_NAL_IDR_W_RADL = 19,
    SL_H265_NAL_IDR_N_LP = 20,
    SL_H265_NAL_CRA = 21,
    SL_H265_NAL_RSV_IRAP_23 = 23, /* last IRAP type (22 and 23 are reserved IRAP) */
    SL_H265_NAL_VPS = 32,
    SL_H265_NAL_SPS = 33,
    SL_H265_NAL_PPS = 34,
    SL_H265_NAL_AUD = 35,
    SL_H265_NAL_SEI_PREFIX = 39,
    SL_H265_NAL_SEI_SUFFIX = 40,
};

/* The type from the first byte of the 2-byte NAL unit header. */
static inline int sl_h265_nal_type(uint8_t header) { return (header >> 1) & 0x3f; }

/* The general profile_tier_level fields, as in the SPS and the record. */
typedef struct sl_h265_ptl {
    uint8_t profile_space, tier, profile_idc, level_idc;
    uint32_t compat_flags;     /* general_profile_compatibility_flags */
    uint64_t constraint_flags; /* the 48 bits from general_progressive_source_flag on */
} sl_h265_ptl_t;

typedef struct sl_h265_config {
    sl_h265_ptl_t ptl;
    uint8_t chroma_format_idc, bit_depth_luma, bit_depth_chroma;
    uint8_t num_temporal_layers, temporal_id_nested;
    uint8_t nal_length_size; /* 1, 2 or 4 */
    /* Parameter sets (NAL units with their 2-byte header) are slices of the record
     * passed in, not copies. */
    const uint8_t *vps[SL_H265_MAX_PS];
    size_t vps_len[SL_H265_MAX_PS];
    int vps_count;
    const uint8_t *sps[SL_H265_MAX_PS];
    size_t sps_len[SL_H265_MAX_PS];
    int sps_count;
    const uint8_t *pps[SL_H265_MAX_PS];
    size_t pps_len[SL_H265_MAX_PS];
    int pps_count;
} sl_h265_config_t;

/* Parses an HEVCDecoderConfigurationRecord (ISO 14496-15). `out` borrows from rec:
 * keep rec alive while using the parameter set pointers. Arrays of other NAL types
 * (SEI) are checked and skipped. Needs at least one VPS, SPS and PPS; beyond
 * SL_H265_MAX_PS of a kind the extra ones are checked and skipped.
 * SL_OK, or SL_ERR_PROTO when malformed. */
int sl_h265_parse_config(const uint8_t *rec, size_t len, sl_h265_config_t *out) SL_MUST_CHECK;

typedef struct sl_h265_sps_info {
    int width, height; /* displayed size, after the conformance window */
    sl_h265_ptl_t ptl;
    int chroma_format_idc; /* 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 */
    int bit_depth_luma, bit_depth_chroma;
    int max_sub_layers; /* sps_max_sub_layers_minus1 + 1 */
    bool temporal_id_nesting;
    double fps; /* from VUI timing info (time_scale / num_units_in_tick), or 0 */
} sl_h265_sps_info_t;

/* Parses an SPS NAL unit (2-byte header included, emulation prevention bytes in
 * place). A truncated or malformed VUI is tolerated (fps 0), since the size is known
 * before it. SL_OK, or SL_ERR_PROTO when malformed or when the size is outside
 * 1..16384. */
int sl_h265_parse_sps(const uint8_t *nal, size_t len, sl_h265_sps_info_t *out) SL_MUST_CHECK;

/* Appends an HEVCDecoderConfigurationRecord for one VPS, SPS and PPS (NAL units with
 * header, borrowed) to `out` (caller-owned), with 4-byte NAL lengths and the arrays
 * marked complete. SL_OK, SL_ERR_PROTO when the SPS does not parse or a unit has the
 * wrong type, SL_ERR_NOMEM. */
int sl_h265_build_config(const uint8_t *vps, size_t vps_len, const uint8_t *sps, size_t sps_len,
                         const uint8_t *pps, size_t pps_len, sl_bytes_t *out) SL_MUST_CHECK;

/* "Main", "Main 10", "Main Still Picture", "Rext", ... for a general_profile_idc;
 * "Unknown" otherwise. Static. */
const char *sl_h265_profile_name(int profile_idc);

/* True when the AVCC payload (4-byte length-prefixed NAL units) holds an IRAP picture
 * (NAL types 16..23: BLA, IDR, CRA). False when it holds none or when any length is
 * malformed; never reads past len. */
bool sl_h265_avcc_has_irap(const uint8_t *data, size_t len);

/* Converts an Annex B access unit to 4-byte length-prefixed NAL units appended to
 * `out` (caller-owned), dropping access unit delimiters and, unless keep_ps, VPS, SPS
 * and PPS. SL_OK or SL_ERR_NOMEM (out is then unchanged). */
int sl_h265_annexb_to_avcc(const uint8_t *data, size_t len, bool keep_ps, sl_bytes_t *out) SL_MUST_CHECK;

#endif
