/* The RTP packets of a live stream, made once and shared by every RTP player (RTSP
 * over TCP or UDP, WebRTC).
 *
 * An output is a hub subscriber attached to its stream (SL_OUTPUT_RTP) while anyone
 * plays it over RTP. It packetizes every frame of the stream in log order, so the
 * sequence numbers follow the stream, and caches each frame's packets on the frame
 * (SL_ENC_RTP, param 0): length-prefixed RTP packets with the track's payload type,
 * SSRC and sequence numbers, at most SL_RTP_DEFAULT_MTU bytes of payload, which
 * leaves room for SRTP. Players send them as they are (RTSP) or rewrite the header
 * per viewer (WebRTC: SSRC, payload type, sequence number).
 */
#ifndef SLUICE_PROTOCOLS_RTP_OUTPUT_H
#define SLUICE_PROTOCOLS_RTP_OUTPUT_H

#include "protocols/rtp/rtp_aac.h"
#include "protocols/rtp/rtp_h264.h"
#include "protocols/rtp/rtp_h265.h"
#include "protocols/rtp/rtp_opus.h"
#include "sluice/server.h"

/* Payload types of the shared packets: dynamic, the same for every player. */
#define SL_RTP_OUTPUT_PT_VIDEO 96
#define SL_RTP_OUTPUT_PT_AUDIO 97

typedef struct sl_rtp_output_track {
    uint8_t codec; /* sl_codec_t; SL_CODEC_NONE when the stream has no such track */
    uint8_t pt;
    uint32_t ssrc;
    uint32_t clock;
    union {
        sl_rtp_nal_packetizer_t nal;
        sl_rtp_aac_packer_t aac;
        sl_rtp_opus_packer_t opus;
    } p;
} sl_rtp_output_track_t;

typedef struct sl_rtp_output {
    sl_server_t *srv;
    sl_stream_t *stream;
    sl_subscriber_t sub;
    sl_deferred_t work;
    int users;
    sl_rtp_output_track_t track[2]; /* by media: SL_MEDIA_VIDEO, SL_MEDIA_AUDIO */
} sl_rtp_output_t;

/* The stream's output, made on first use from its current codec configs; each call
 * counts a user, to be matched by sl_rtp_output_release. NULL when out of memory. */
sl_rtp_output_t *sl_rtp_output_acquire(sl_server_t *srv, sl_stream_t *stream);
/* A user has gone; the last one frees the output (and may free the stream). */
void sl_rtp_output_release(sl_rtp_output_t *o);
/* Packetizes every frame logged since the last call. Players call it before taking
 * frames, so every frame they take has its packets (or none for a codec the
 * output does not carry). */
void sl_rtp_output_catch_up(sl_rtp_output_t *o);

#endif
