/* H.265 over RTP (RFC 7798): single NAL unit packets, aggregation packets (type 48)
 * and fragmentation units (type 49), without DONL fields (sprop-max-don-diff 0, one
 * RTP stream). I/O-free.
 *
 * It works as the H.264 payload format in rtp_h264.h, whose core it shares: the same
 * packetizer and depacketizer types, behaviour, bounds and counters, with 2-byte NAL
 * unit headers; VPS, SPS and PPS as the parameter sets (sent before IRAP frames, kept
 * for the HEVCDecoderConfigurationRecord); IRAP pictures (NAL types 16..23) as
 * keyframes; AUD, prefix and suffix SEI and filler data kept out of frames. As with
 * H.264, frames out of the depacketizer have dts = pts.
 */
#ifndef SLUICE_PROTOCOLS_RTP_H265_H
#define SLUICE_PROTOCOLS_RTP_H265_H

#include "protocols/codec/h265.h"
#include "protocols/rtp/rtp_h264.h"

typedef sl_rtp_nal_packetizer_t sl_rtp_h265_packetizer_t;
typedef sl_rtp_nal_depacketizer_t sl_rtp_h265_depacketizer_t;

/* As sl_rtp_h264_packetizer_init. */
void sl_rtp_h265_packetizer_init(sl_rtp_h265_packetizer_t *p, uint8_t pt, uint32_t ssrc,
                                 uint16_t first_seq, size_t mtu);
/* Releases the stored parameter sets; the packetizer can be init'ed again. */
void sl_rtp_h265_packetizer_free(sl_rtp_h265_packetizer_t *p);
/* Keeps the VPS, SPS and PPS (up to SL_H265_MAX_PS of each) of an
 * HEVCDecoderConfigurationRecord (config->data, borrowed: copied) to send before
 * IRAP frames. SL_OK; SL_ERR_PROTO when the record does not parse; SL_ERR_NOMEM. On
 * error the previous parameter sets stay. */
int sl_rtp_h265_packetizer_set_config(sl_rtp_h265_packetizer_t *p, const sl_frame_t *config) SL_MUST_CHECK;
/* As sl_rtp_h264_packetize: appends the frame's length-prefixed packets (borrowed
 * frame, caller-owned out); on error neither out nor p->seq changes. */
int sl_rtp_h265_packetize(sl_rtp_h265_packetizer_t *p, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;

/* Prepares a depacketizer (embedded in its owner). It waits for the parameter sets
 * and an IRAP picture before emitting media. */
void sl_rtp_h265_depacketizer_init(sl_rtp_h265_depacketizer_t *d);
/* Releases the access unit buffer; the depacketizer can be init'ed again. */
void sl_rtp_h265_depacketizer_free(sl_rtp_h265_depacketizer_t *d);
/* Sets the parameter sets from the SDP (sprop-vps, sprop-sps, sprop-pps, decoded; NAL
 * units with their 2-byte header, borrowed: copied). SL_OK, or SL_ERR_PROTO for a unit
 * of the wrong type, shorter than its header or longer than SL_RTP_MAX_PS_LEN
 * (nothing is changed then). */
int sl_rtp_h265_depacketizer_set_sprop(sl_rtp_h265_depacketizer_t *d, const uint8_t *vps, size_t vps_len,
                                       const uint8_t *sps, size_t sps_len, const uint8_t *pps,
                                       size_t pps_len) SL_MUST_CHECK;
/* As sl_rtp_h264_depacketize, with an HEVCDecoderConfigurationRecord in the CONFIG
 * frame and SL_FRAME_KEY on access units holding an IRAP picture. SL_OK,
 * SL_ERR_NOMEM, or emit's non-zero return. */
int sl_rtp_h265_depacketize(sl_rtp_h265_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit,
                            void *arg) SL_MUST_CHECK;

#endif
