/* MPEG-TS muxer (ISO/IEC 13818-1) for HLS segments: one program with at most one
 * video track (H.264 or H.265) and one audio track (AAC in ADTS).
 *
 * I/O-free: frames in, 188-byte transport packets appended to a caller's vector.
 * Frame timestamps are already in the 90 kHz clock of PTS/DTS, so they are written
 * as they are, modulo 2^33; nothing is shifted, and a demuxer reads back exactly the
 * values given (mod 2^33).
 *
 * Layout, as ffmpeg writes it: PAT on PID 0, PMT on PID 0x1000, video on 0x100
 * (stream_id 0xE0, PES length 0), audio on 0x101 (stream_id 0xC0, one PES per
 * access unit). The PCR is carried by the video PID, or the audio PID when there is
 * no video, in the first packet of every PES on it. H.265 gets the "HEVC"
 * registration descriptor in the PMT, as ffmpeg writes it.
 */
#ifndef SLUICE_PROTOCOLS_HLS_TS_MUX_H
#define SLUICE_PROTOCOLS_HLS_TS_MUX_H

#include <stdbool.h>

#include "protocols/codec/aac.h"
#include "sluice/frame.h"

#define SL_TS_PACKET_LEN 188

enum {
    SL_TS_PID_PAT = 0x0000,
    SL_TS_PID_PMT = 0x1000,
    SL_TS_PID_VIDEO = 0x0100,
    SL_TS_PID_AUDIO = 0x0101,
    SL_TS_PID_NULL = 0x1FFF,
};

enum {
    SL_TS_STREAM_AAC_ADTS = 0x0F,
    SL_TS_STREAM_H264 = 0x1B,
    SL_TS_STREAM_H265 = 0x24,
};

/* The PCR of a PES is its DTS minus this (0.1 s), clamped at 0 for a DTS in
 * [0, delay), so that a stream starting at 0 does not begin with a wrapped PCR. */
#define SL_TS_PCR_DELAY 9000

/* The MPEG-2 CRC-32 of PSI sections (polynomial 0x04C11DB7, initial value
 * 0xFFFFFFFF, no reflection, no final XOR). Over a whole section, CRC included,
 * it is 0. */
uint32_t sl_ts_crc32(const uint8_t *data, size_t len);

typedef struct sl_ts_muxer {
    uint8_t video, audio; /* sl_codec_t of each track, SL_CODEC_NONE when absent */
    uint8_t cc_pat, cc_pmt, cc_video, cc_audio; /* next continuity counters */
    bool video_ready, audio_ready;              /* the track's config arrived */
    sl_aac_config_t aac;
    sl_bytes_t ps;  /* parameter sets in Annex B, start codes included */
    sl_bytes_t pes; /* scratch: the PES being packetised, reused across frames */
} sl_ts_muxer_t;

/* Prepares a muxer (embedded in its owner) for the tracks present: video is
 * SL_CODEC_H264, SL_CODEC_H265 or SL_CODEC_NONE, audio SL_CODEC_AAC or SL_CODEC_NONE.
 * SL_OK, or SL_ERR_UNSUPPORTED for another codec or for no track at all (the muxer
 * then needs no sl_ts_muxer_free). */
int sl_ts_muxer_init(sl_ts_muxer_t *m, sl_codec_t video, sl_codec_t audio) SL_MUST_CHECK;
/* Releases the muxer's buffers. It can be init'ed again. */
void sl_ts_muxer_free(sl_ts_muxer_t *m);

/* Takes a CONFIG frame (only read; the muxer keeps copies of what it needs): the
 * video parameter sets (SPS/PPS, or VPS/SPS/PPS), inserted in Annex B before every
 * keyframe, or the AudioSpecificConfig for the ADTS headers. A later config replaces
 * the earlier one. SL_OK; SL_ERR_PROTO for a malformed record (the old config stays);
 * SL_ERR_UNSUPPORTED for a frame that is not a CONFIG of a track of the muxer or an
 * AAC config that ADTS cannot describe; SL_ERR_NOMEM. */
int sl_ts_muxer_set_config(sl_ts_muxer_t *m, const sl_frame_t *config) SL_MUST_CHECK;

/* Appends a PAT and a PMT packet to `out` (caller-owned). Called at the start of every
 * segment, so every segment is decodable on its own. SL_OK or SL_ERR_NOMEM (out is
 * then unchanged). */
int sl_ts_muxer_write_tables(sl_ts_muxer_t *m, sl_bytes_t *out) SL_MUST_CHECK;

/* Appends the frame (only read) as one PES in 188-byte packets to `out`
 * (caller-owned).
 * Video becomes Annex B: an access unit delimiter, then on a keyframe the parameter
 * sets (unless the frame carries its own SPS and PPS, and VPS for H.265), then the
 * frame's NAL units (its own delimiters dropped). PTS, plus DTS when it differs.
 * Audio becomes an ADTS header and the raw access unit, with its PTS.
 * A CONFIG frame is passed to sl_ts_muxer_set_config and writes nothing.
 * SL_OK; SL_ERR_AGAIN before the track's config arrived (the caller drops the
 * frame); SL_ERR_UNSUPPORTED for a data frame or a codec that is not a track of the
 * muxer; SL_ERR_PROTO for a payload that is not 4-byte length-prefixed NAL units or
 * an empty one; SL_ERR_TOO_BIG for an AAC frame over what ADTS can hold;
 * SL_ERR_NOMEM. On every error `out` and the muxer are unchanged. */
int sl_ts_muxer_write_frame(sl_ts_muxer_t *m, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;

#endif
