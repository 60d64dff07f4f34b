/* RTSP: publish (ANNOUNCE + RECORD) and play (DESCRIBE + PLAY) at
 * rtsp://host:8554/{app}/{name}, RTP over TCP (interleaved) or UDP. */
#ifndef SLUICE_RTSP_H
#define SLUICE_RTSP_H

#include "sluice/server.h"

/* Listens on every rtsp.listen address; sessions register with the server. */
int sl_rtsp_start(sl_server_t *srv) SL_MUST_CHECK;

#endif
