/* One RTP track received from a sender (an RTSP publisher, an RTSP camera pulled by
 * the relay) made into hub frames. I/O-free: time is the caller's now_ms.
 *
 * A track is made from one SDP media section: its first payload type chooses the
 * depacketizer (H.264, H.265, AAC, Opus) and the codec config the SDP gives (sprop
 * parameter sets, the AAC config=) becomes a CONFIG frame the caller pushes before
 * any media. Packets go through a reorder buffer (128 packets, a gap held at most
 * 300 ms) before the depacketizer, and feed the receiver statistics
 * of the RTCP receiver reports sent back to the sender.
 */
#ifndef SLUICE_PROTOCOLS_RTP_INGEST_H
#define SLUICE_PROTOCOLS_RTP_INGEST_H

#include "protocols/rtp/sdp.h"
#include "sluice/buf.h"
#include "sluice/frame.h"

typedef struct sl_rtp_ingest sl_rtp_ingest_t;

/* Receives each frame the track completes, borrowed for the call (sl_frame_ref to
 * keep it). A non-zero return stops the packet being processed and is passed back by
 * the call that fed it; the track stays usable. It must not call back into the track. */
typedef int (*sl_rtp_ingest_emit_fn)(void *arg, sl_frame_t *f);

typedef struct sl_rtp_ingest_info {
    uint8_t media; /* SL_MEDIA_VIDEO or SL_MEDIA_AUDIO */
    uint8_t codec; /* sl_codec_t */
    uint8_t pt;    /* the payload type taken; packets of others are dropped */
    uint32_t clock; /* RTP clock rate, from a=rtpmap */
} sl_rtp_ingest_info_t;

/* A track for the first payload type of SDP media section sm (borrowed: nothing of
 * it is kept), emitting through emit(arg, frame). On SL_OK *out is a new track owned
 * by the caller (sl_rtp_ingest_free). SL_ERR_UNSUPPORTED for another codec, no clock
 * rate or no payload type; SL_ERR_PROTO for a bad AAC fmtp or sprop parameter sets
 * the depacketizer refuses (longer than SL_RTP_MAX_PS_LEN); SL_ERR_NOMEM. */
int sl_rtp_ingest_new(const sl_sdp_media_t *sm, sl_rtp_ingest_emit_fn emit, void *arg,
                      sl_rtp_ingest_t **out) SL_MUST_CHECK;
/* Frees the track and the packets still waiting in it, without emitting them. NULL
 * is ignored. */
void sl_rtp_ingest_free(sl_rtp_ingest_t *in);

/* What the track carries. Borrowed, valid as long as the track. */
const sl_rtp_ingest_info_t *sl_rtp_ingest_info(const sl_rtp_ingest_t *in);
/* The codec config the SDP gave (an AVC or HEVC decoder configuration record, the
 * AudioSpecificConfig, an OpusHead), or NULL when it gave none. Borrowed (not const,
 * so that sl_stream_push can take its reference), valid as long as the track. Push it into the stream before any frame: RTP brings configs
 * in-band only with the media, and outputs want to know every track at once. */
sl_frame_t *sl_rtp_ingest_config(const sl_rtp_ingest_t *in);

/* A packet data[0..len) (borrowed: copied when it must wait) as received, in any
 * order, at now_ms: reordered, then each packet now in order is depacketized and the
 * frames it completes emitted. A malformed packet, or one of another payload type, is
 * dropped: SL_OK. Returns emit's error or SL_ERR_NOMEM. */
int sl_rtp_ingest_packet(sl_rtp_ingest_t *in, const uint8_t *data, size_t len, uint64_t now_ms) SL_MUST_CHECK;
/* Releases the packets whose gap waited too long, skipping the gap (call from a
 * timer; sl_rtp_ingest_packet does it too). SL_OK, emit's error or SL_ERR_NOMEM. */
int sl_rtp_ingest_poll(sl_rtp_ingest_t *in, uint64_t now_ms) SL_MUST_CHECK;
/* The sender is gone: releases every waiting packet, skipping the gaps. SL_OK,
 * emit's error or SL_ERR_NOMEM. */
int sl_rtp_ingest_flush(sl_rtp_ingest_t *in) SL_MUST_CHECK;

/* An RTCP compound packet data[0..len) (borrowed) from the sender, received at
 * now_ms: its sender reports give the LSR and DLSR of our receiver reports. Anything
 * else in it, and malformed input, is ignored. */
void sl_rtp_ingest_rtcp(sl_rtp_ingest_t *in, const uint8_t *data, size_t len, uint64_t now_ms);
/* Appends an RR (one report block on the sender's source: loss, jitter, LSR/DLSR)
 * and an SDES CNAME, sent as our_ssrc, to out (caller-owned), and starts the next
 * interval of the fraction lost. SL_OK; SL_ERR_AGAIN before the first packet (there
 * is nothing to report on yet; out unchanged); SL_ERR_NOMEM. */
int sl_rtp_ingest_report(sl_rtp_ingest_t *in, uint32_t our_ssrc, uint64_t now_ms, sl_bytes_t *out) SL_MUST_CHECK;

#endif
