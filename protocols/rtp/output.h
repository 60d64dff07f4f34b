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
 *
 * A stream may carry two audio tracks: the publisher's and the one the transcoder
 * derives from it in the other codec (sluice/transcode.h). Each has its own track
 * state, so the packets of one audio codec have their own SSRC and contiguous
 * sequence numbers whatever the other does: a player sending the shared packets as
 * they are shows no gap. A player tells them apart by the frame (its flag
 * SL_FRAME_DERIVED: sl_rtp_output_track_id), and on the wire by the SSRC and the
 * payload type (SL_RTP_OUTPUT_PT_DERIVED_AUDIO). A frame has packets only when its
 * codec is the one its track had when the output took it.
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
#define SL_RTP_OUTPUT_PT_DERIVED_AUDIO 98

/* The track states of an output. Video and the publisher's audio sit at their
 * sl_media_t, so a player may index them by its track's media. */
typedef enum sl_rtp_output_track_id {
    SL_RTP_TRACK_VIDEO = SL_MEDIA_VIDEO,
    SL_RTP_TRACK_AUDIO = SL_MEDIA_AUDIO,
    SL_RTP_TRACK_DERIVED_AUDIO, /* frames flagged SL_FRAME_DERIVED */
    SL_RTP_TRACK_COUNT
} sl_rtp_output_track_id_t;

typedef struct sl_rtp_output_track {
    uint8_t codec; /* sl_codec_t; SL_CODEC_NONE while the stream has no such track */
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
    sl_rtp_output_track_t track[SL_RTP_TRACK_COUNT]; /* by sl_rtp_output_track_id_t */
} sl_rtp_output_t;

/* The stream's output, made on first use; each call counts a user, to be matched by
 * sl_rtp_output_release. NULL when out of memory. A track is set up by the config
 * frames the output takes: the stream's current ones come first, as to any
 * subscriber, and a track whose config comes later (the transcoder's, once a player
 * wants it) starts then; a config of another codec than its track's starts the
 * track anew (new SSRC and sequence numbers). */
sl_rtp_output_t *sl_rtp_output_acquire(sl_server_t *srv, sl_stream_t *stream);
/* A user has gone; the last one frees the output (and may free the stream). */
void sl_rtp_output_release(sl_rtp_output_t *o);
/* Packetizes every frame logged since the last call. Players call it before taking
 * frames, so every frame they take has its packets (or none for a codec the
 * output does not carry). */
void sl_rtp_output_catch_up(sl_rtp_output_t *o);
/* The track state that packetizes frame f (borrowed): SL_RTP_TRACK_COUNT for data,
 * which has no RTP packets. */
sl_rtp_output_track_id_t sl_rtp_output_track_id(const sl_frame_t *f);

#endif
