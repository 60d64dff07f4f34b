/* H.264 helpers: the AVCDecoderConfigurationRecord, SPS fields for logs and the API,
 * IDR detection, and NAL unit framing (AVCC length prefixes, Annex B start codes).
 *
 * I/O-free and safe on hostile input: every function bounds its reads by the length it
 * is given and returns SL_ERR_PROTO on malformed data.
 *
 * The NAL framing helpers (sl_avcc_split, sl_annexb_split) are codec-neutral and are
 * used for H.265 too.
 */
#ifndef SLUICE_CODEC_H264_H
#define SLUICE_CODEC_H264_H

#include <stdbool.h>

#include "sluice/buf.h"

/* At most this many SPS and PPS are kept from a configuration record. */
#define SL_H264_MAX_PS 4

enum sl_h264_nal_type {
    SL_H264_NAL_SLICE = 1,
    SL_H264_NAL_IDR = 5,
    SL_H264_NAL_SEI = 6,
    SL_H264_NAL_SPS = 7,
    SL_H264_NAL_PPS = 8,
    SL_H264_NAL_AUD = 9,
};

static inline int sl_h264_nal_type(uint8_t header) { return header & 0x1f; }

typedef struct sl_h264_config {
    uint8_t profile, compat, level; /* profile_idc, constraint flags, level_idc */
    uint8_t nal_length_size;        /* 1, 2 or 4 */
    /* Parameter sets (NAL units with their header byte) are slices of the record
     * passed in, not copies. */
    const uint8_t *sps[SL_H264_MAX_PS];
    size_t sps_len[SL_H264_MAX_PS];
    int sps_count;
    const uint8_t *pps[SL_H264_MAX_PS];
    size_t pps_len[SL_H264_MAX_PS];
    int pps_count;
} sl_h264_config_t;

/* Parses an AVCDecoderConfigurationRecord (ISO 14496-15). `out` borrows from rec:
 * keep rec alive while using the parameter set pointers. Needs at least one SPS and
 * one PPS; beyond SL_H264_MAX_PS of a kind the extra ones are checked and skipped.
 * Bytes after the PPS (the High profile extension) are ignored.
 * SL_OK, or SL_ERR_PROTO when malformed. */
int sl_h264_parse_config(const uint8_t *rec, size_t len, sl_h264_config_t *out) SL_MUST_CHECK;

typedef struct sl_h264_sps_info {
    int width, height; /* displayed size, after frame cropping */
    int profile_idc, compat, level_idc;
    int chroma_format_idc; /* 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 */
    int bit_depth_luma, bit_depth_chroma;
    bool interlaced; /* frame_mbs_only_flag == 0 */
    double fps;      /* from VUI timing info (time_scale / 2 / num_units_in_tick), or 0 */
} sl_h264_sps_info_t;

/* Parses an SPS NAL unit (header byte included, emulation prevention bytes in place).
 * Only the fields above are kept. A truncated or malformed VUI is tolerated (fps 0),
 * as decoders do, since the size is known before it. SL_OK, or SL_ERR_PROTO when
 * malformed or when the size is outside 1..16384. */
int sl_h264_parse_sps(const uint8_t *nal, size_t len, sl_h264_sps_info_t *out) SL_MUST_CHECK;

/* Appends an AVCDecoderConfigurationRecord for one SPS and one PPS (NAL units with
 * header byte, borrowed) to `out` (caller-owned), with 4-byte NAL lengths and, for
 * High profiles, the chroma format and bit depth extension. SL_OK, SL_ERR_PROTO when
 * the SPS does not parse or either unit has the wrong type, SL_ERR_NOMEM. */
int sl_h264_build_config(const uint8_t *sps, size_t sps_len, const uint8_t *pps, size_t pps_len,
                         sl_bytes_t *out) SL_MUST_CHECK;

/* "Baseline", "Main", "High", ... for a profile_idc; "Unknown" otherwise. Static. */
const char *sl_h264_profile_name(int profile_idc);

/* True when the AVCC payload (4-byte length-prefixed NAL units) holds an IDR slice.
 * False when it holds none or when any length is malformed; never reads past len. */
bool sl_h264_avcc_has_idr(const uint8_t *data, size_t len);

/* Converts an Annex B access unit to 4-byte length-prefixed NAL units appended to
 * `out` (caller-owned), dropping access unit delimiters and, unless keep_ps, SPS and
 * PPS (they belong in the configuration record). SL_OK or SL_ERR_NOMEM (out is then
 * unchanged). */
int sl_h264_annexb_to_avcc(const uint8_t *data, size_t len, bool keep_ps, sl_bytes_t *out) SL_MUST_CHECK;

/* Called with each NAL unit (borrowed from the input). Returning non-zero stops the
 * walk, and the split function returns that value. */
typedef int (*sl_nal_cb)(void *opaque, const uint8_t *nal, size_t len);

/* Walks 4-byte big-endian length-prefixed NAL units. Returns 0 when the whole input
 * was well formed and walked, the callback's non-zero value if it stopped the walk, or
 * SL_ERR_PROTO at the first zero or overlong length or trailing partial prefix (the
 * callback has then seen the units before it). */
int sl_avcc_split(const uint8_t *data, size_t len, sl_nal_cb cb, void *opaque);

/* Walks Annex B NAL units separated by 00 00 01 or 00 00 00 01 start codes. Bytes
 * before the first start code and trailing zero bytes of each unit are dropped, empty
 * units are skipped. Returns 0 or the callback's non-zero value. */
int sl_annexb_split(const uint8_t *data, size_t len, sl_nal_cb cb, void *opaque);

/* Internal, shared with h265.c: appends the Annex B units whose type (type_of(first
 * header byte), below 64) is not in drop_mask as 4-byte length-prefixed units. */
int sl__annexb_to_avcc(const uint8_t *data, size_t len, int (*type_of)(uint8_t), uint64_t drop_mask,
                       sl_bytes_t *out) SL_MUST_CHECK;

#endif
