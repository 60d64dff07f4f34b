/* HLS: every live stream as /{app}/{name}/index.m3u8 and /{app}/{name}/{seq}.ts,
 * muxed once per stream into MPEG-TS segments held in memory (a bounded window),
 * and optionally recorded to disk. */
#ifndef SLUICE_HLS_H
#define SLUICE_HLS_H

#include "sluice/server.h"

/* Follows the hub's streams and registers the HTTP handler. */
int sl_hls_start(sl_server_t *srv) SL_MUST_CHECK;
/* Finishes every stream's segment and recording, answers waiting requests; called
 * on shutdown once the sessions are closed (their streams unpublished). */
void sl_hls_stop(sl_server_t *srv);

#endif
