/* Internal to protocols/rtsp: what a track needs from an SDP media description. */
#ifndef SLUICE_RTSP_MEDIA_H
#define SLUICE_RTSP_MEDIA_H

#include "protocols/rtp/rtp_aac.h"
#include "protocols/rtsp/session.h"

typedef struct rtsp_sdp_media {
    /* Parameter sets from sprop-*: [0] VPS (H.265), [1] SPS, [2] PPS. */
    uint8_t ps[3][512];
    size_t ps_len[3];
    sl_rtp_aac_params_t aac; /* AAC: from a=fmtp and the clock of a=rtpmap */
} rtsp_sdp_media_t;

/* A publisher's track: its depacketizer, fed through a reorder buffer. */
int sl__rtsp_media_in_new(rtsp_session_t *s, rtsp_track_t *t, const rtsp_sdp_media_t *m);

#endif
