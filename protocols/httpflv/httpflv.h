/* HTTP-FLV: GET /{app}/{name}.flv streams the live stream as FLV, chunked, from
 * the GOP cache on. */
#ifndef SLUICE_HTTPFLV_H
#define SLUICE_HTTPFLV_H

#include "sluice/server.h"

/* Registers the handler on the server's HTTP server. */
int sl_httpflv_start(sl_server_t *srv) SL_MUST_CHECK;

#endif
