/* Opus over RTP (RFC 7587). I/O-free.
 *
 * One Opus packet per RTP packet, always on a 48 kHz clock whatever the coded
 * bandwidth; the marker bit carries nothing here (RFC 7587 4.1 lets it flag the end
 * of discontinuous transmission, which neither side needs). No CONFIG frame is needed:
 * the SDP says everything there is to say, always with 2 channels in rtpmap:
 *   a=rtpmap:PT opus/48000/2
 * (WebRTC adds a=fmtp:PT minptime=10;useinbandfec=1).
 */
#ifndef SLUICE_PROTOCOLS_RTP_OPUS_H
#define SLUICE_PROTOCOLS_RTP_OPUS_H

#include "protocols/rtp/rtp.h"

#define SL_RTP_OPUS_RATE 48000

/* The codec config of an Opus track: an OpusHead (RFC 7845 5.1: version 1,
 * `channels`, no pre-skip, 48 kHz input, no gain, mapping family 0), so that every
 * output knows the stream has Opus before its first packet. */
#define SL_OPUS_HEAD_LEN 19
void sl_rtp_opus_head(uint8_t channels, uint8_t out[SL_OPUS_HEAD_LEN]);

typedef struct sl_rtp_opus_packer {
    uint8_t payload_type;
    uint32_t ssrc;
    uint16_t seq; /* of the next packet */
} sl_rtp_opus_packer_t;

void sl_rtp_opus_packer_init(sl_rtp_opus_packer_t *p, uint8_t payload_type, uint32_t ssrc, uint16_t first_seq);

/* Appends the length-prefixed RTP packet of one Opus frame (borrowed) to out, stamped
 * f->pts at 48 kHz. An Opus packet cannot be split, so there is no MTU: anything up to
 * what the 16-bit length prefix can carry goes out whole. A CONFIG frame (an OpusHead
 * from another protocol) produces nothing. SL_OK, SL_ERR_PROTO for an empty frame,
 * SL_ERR_TOO_BIG above 65523 bytes, SL_ERR_NOMEM (out unchanged). */
int sl_rtp_opus_packetize(sl_rtp_opus_packer_t *p, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;

/* Depacketizer: emit borrows each frame (it takes a reference to keep it) and returns
 * 0, or a negative error that push passes back. */
typedef struct sl_rtp_opus_depack {
    sl_rtp_clock_t clock;
    int (*emit)(void *arg, sl_frame_t *f);
    void *arg;
    uint64_t frames;
} sl_rtp_opus_depack_t;

void sl_rtp_opus_depack_init(sl_rtp_opus_depack_t *d, int (*emit)(void *arg, sl_frame_t *f), void *arg);

/* Feeds one parsed RTP packet (borrowed, in sequence order) and emits its Opus packet
 * as a frame with pts = dts on the hub clock. An empty payload is skipped. SL_OK,
 * SL_ERR_NOMEM, or the error emit returned. */
int sl_rtp_opus_depack_push(sl_rtp_opus_depack_t *d, const sl_rtp_packet_t *pkt) SL_MUST_CHECK;

#endif
