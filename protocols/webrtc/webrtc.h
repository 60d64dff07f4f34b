/* WebRTC: WHIP publishers and WHEP players (RFC 9725) on the HTTP listener, media
 * on one UDP port (webrtc.udp_port). See docs/webrtc.md. */
#ifndef SLUICE_PROTOCOLS_WEBRTC_WEBRTC_H
#define SLUICE_PROTOCOLS_WEBRTC_WEBRTC_H

#include "sluice/server.h"

/* Binds the UDP port and adds the WHIP/WHEP handlers to the HTTP server (after
 * start_http). A no-op when webrtc.enabled is false or HTTP is off. The module
 * closes with the server's listeners. SL_ERR_IO when the port cannot be bound,
 * SL_ERR_CONFIG for a certificate or candidate that does not work. */
int sl_webrtc_start(sl_server_t *srv) SL_MUST_CHECK;

#endif
