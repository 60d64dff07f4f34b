/* AAC helpers: the AudioSpecificConfig (ISO 14496-3 1.6.2.1) carried by audio CONFIG
 * frames, and ADTS headers for MPEG-TS/HLS output and ADTS ingest.
 *
 * I/O-free and safe on hostile input.
 */
#ifndef SLUICE_CODEC_AAC_H
#define SLUICE_CODEC_AAC_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/common.h"

enum sl_aac_object_type {
    SL_AAC_MAIN = 1,
    SL_AAC_LC = 2,
    SL_AAC_SSR = 3,
    SL_AAC_LTP = 4,
    SL_AAC_SBR = 5, /* HE-AAC */
    SL_AAC_PS = 29, /* HE-AAC v2 */
};

typedef struct sl_aac_config {
    /* The core coder: with explicit SBR/PS signalling (object type 5 or 29) this is the
     * underlying type (LC) at the core rate, which is what ADTS and decoders need. */
    int object_type;
    int sample_rate;
    int sample_rate_index; /* 0..12, or 15 for a rate outside the table */
    int channels;          /* 0: defined by a program config element in the stream */
    /* 5 (SBR) or 29 (PS) with the output rate when explicitly signalled, else 0. */
    int ext_object_type;
    int ext_sample_rate;
} sl_aac_config_t;

/* Parses an AudioSpecificConfig: object type (with the escape for 32..95), sampling
 * frequency index or explicit 24-bit frequency (mapped to its table index when it is
 * a table rate), channel configuration, and the explicit SBR/PS extension. Bytes after
 * that (GASpecificConfig, backward-compatible extensions) are ignored.
 * SL_OK, or SL_ERR_PROTO when truncated, using reserved values, or nesting SBR/PS. */
int sl_aac_parse_config(const uint8_t *asc, size_t len, sl_aac_config_t *out) SL_MUST_CHECK;

/* Writes the 2-byte AudioSpecificConfig of cfg's core coder into out. SL_OK, or
 * SL_ERR_UNSUPPORTED when it cannot be written in 2 bytes (object type 31 or more,
 * sample rate index 13 or more, channel count without a configuration). */
int sl_aac_build_config(const sl_aac_config_t *cfg, uint8_t out[2]) SL_MUST_CHECK;

#define SL_AAC_ADTS_HEADER_LEN 7

/* Writes the 7-byte ADTS header (no CRC) for one raw access unit of frame_len bytes.
 * SL_OK, SL_ERR_UNSUPPORTED when ADTS cannot describe cfg (object type above 4, rate
 * index above 12, more than 8 channels), SL_ERR_TOO_BIG when the frame with its header
 * exceeds 8191 bytes. */
int sl_aac_adts_header(const sl_aac_config_t *cfg, size_t frame_len, uint8_t out[SL_AAC_ADTS_HEADER_LEN]) SL_MUST_CHECK;

/* Parses the ADTS header at data: cfg, header_len (7, or 9 with CRC) and frame_len
 * (the whole frame, header included; the caller checks it has that many bytes).
 * SL_OK, SL_ERR_AGAIN when fewer than header_len bytes are given, SL_ERR_PROTO when
 * it is not an ADTS header, SL_ERR_UNSUPPORTED for frames of several raw blocks. */
int sl_aac_parse_adts(const uint8_t *data, size_t len, sl_aac_config_t *cfg, size_t *header_len,
                      size_t *frame_len) SL_MUST_CHECK;

#endif
