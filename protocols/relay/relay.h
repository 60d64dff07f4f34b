/* Cluster relay: streams pushed to other servers (relay.push). See docs/relay.md.
 * Each push appears in the API as an RTMP client playing the stream (its remote
 * address is the target's). */
#ifndef SLUICE_PROTOCOLS_RELAY_RELAY_H
#define SLUICE_PROTOCOLS_RELAY_RELAY_H

#include "sluice/server.h"

/* Follows published streams and pushes those the rules match. A no-op without
 * rules. */
int sl_relay_start(sl_server_t *srv) SL_MUST_CHECK;
/* Stops every push (server shutdown), before the hub goes. */
void sl_relay_stop(sl_server_t *srv);

#endif
