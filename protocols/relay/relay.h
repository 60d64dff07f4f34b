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

/* What the API shows of a relay session. */
typedef struct sl_relay_info {
    uint64_t id;          /* its client id */
    const char *kind;     /* "push" */
    const char *stream;   /* the local stream key */
    const char *target;   /* the URL of the rule */
    const char *state;    /* "waiting" (backoff), "connecting", "live" */
    uint32_t retries;     /* connection attempts that failed */
    uint64_t bytes_out;
    const char *last_error; /* why the last attempt ended, or NULL */
} sl_relay_info_t;
/* Calls fn for every relay session. */
void sl_relay_foreach(sl_server_t *srv, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg);

#endif
