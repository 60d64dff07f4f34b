/* RTMP: the listener of publishers and players (rtmp://host:1935/{app}/{name}). */
#ifndef SLUICE_RTMP_H
#define SLUICE_RTMP_H

#include "sluice/server.h"

/* Listens on every rtmp.listen address of the server's config. Listeners and
 * sessions register with the server, which closes them on shutdown. */
int sl_rtmp_start(sl_server_t *srv) SL_MUST_CHECK;

#endif
