/* Cluster relay: streams pushed to other servers (relay.push) and streams pulled
 * from origins when a player asks for them (relay.pull). See docs/relay.md.
 * Each push appears in the API as an RTMP client playing the stream, each pull as a
 * client publishing it (their remote address is the other server's). */
#ifndef SLUICE_PROTOCOLS_RELAY_RELAY_H
#define SLUICE_PROTOCOLS_RELAY_RELAY_H

#include "protocols/relay/source.h"
#include "sluice/server.h"

/* Follows published streams and pushes those the rules match; starts the
 * always-on sources. */
int sl_relay_start(sl_server_t *srv) SL_MUST_CHECK;
/* Stops every push and pull (server shutdown), before the hub goes. */
void sl_relay_stop(sl_server_t *srv);

/* A player asking for a stream the hub does not have: when a relay.pull rule covers
 * it, the player waits for the pull instead of failing at once. Embedded in the
 * player's session. */
typedef struct sl_relay_wait sl_relay_wait_t;
struct sl_relay_wait {
    /* Called once, from the loop, never from inside sl_relay_wait:
     *   SL_OK            the stream is in the hub with its codec configs and a
     *                    keyframe: look it up or subscribe again now;
     *   SL_ERR_NOT_FOUND no origin has the stream;
     *   SL_ERR_TIMEOUT   relay.pull_timeout_ms passed first;
     *   SL_ERR_CLOSED    the server is shutting down.
     * The wait is over when it is called: no cancel needed. */
    void (*done)(sl_relay_wait_t *w, int status);
    /* Private. */
    sl_list_t link;
    uint64_t deadline_ms;
};

/* Waits for `key` (a valid stream key the hub does not have), starting its pull if
 * none runs: SL_OK, and w->done will be called (w must stay put until then or until
 * sl_relay_wait_cancel). SL_ERR_NOT_FOUND, at once and without calling done, when no
 * relay.pull rule matches key; SL_ERR_NOMEM. */
int sl_relay_wait(sl_server_t *srv, const char *key, sl_relay_wait_t *w) SL_MUST_CHECK;
/* The player went away before done: done will not be called. Idempotent, and safe
 * on a wait whose done was called and on a zeroed one that never waited. */
void sl_relay_wait_cancel(sl_relay_wait_t *w);
/* A player that holds no hub subscription while it plays (HLS: each request is on
 * its own) fetched part of `key`: keeps the stream's pull from going idle. */
void sl_relay_touch(sl_server_t *srv, const char *key);

/* What the API shows of a relay session. */
typedef struct sl_relay_info {
    uint64_t id;          /* its client id */
    const char *kind;     /* "push" or "pull" */
    const char *stream;   /* the local stream key */
    const char *target;   /* push: the URL of the rule; pull: the origin of the
                           * current (or last) attempt, credentials left out */
    const char *state;    /* "waiting" (backoff), "connecting", "live" */
    uint32_t retries;     /* connection attempts that failed */
    uint64_t bytes_in, bytes_out;
    const char *last_error; /* why the last attempt ended, or NULL */
} sl_relay_info_t;
/* Calls fn for every relay session. */
void sl_relay_foreach(sl_server_t *srv, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg);

/* Sources: streams pulled from cameras or servers (relay.sources, POST
 * /api/v1/pulls), idle until watched unless always on. */
typedef struct sl_source_info {
    uint64_t id;            /* also its client id while it runs */
    const char *stream;
    const char *url;        /* password replaced by "***" */
    const char *transport;  /* "auto", "tcp", "udp"; NULL for rtmp:// */
    bool on_demand;
    const char *state;      /* "idle", "connecting", "live", "waiting" */
    uint32_t retries;
    uint64_t bytes_in;
    const char *last_error; /* or NULL */
} sl_source_info_t;
/* Adds a source; an always-on one starts at once. SL_ERR_BUSY when its key is a
 * source already, SL_ERR_NOMEM. A pull of a rule running for that key stops. */
int sl_relay_add_source(sl_server_t *srv, const sl_source_spec_t *spec, uint64_t *id) SL_MUST_CHECK;
/* Stops and forgets a source: its stream ends. SL_ERR_NOT_FOUND for another id. */
int sl_relay_remove_source(sl_server_t *srv, uint64_t id) SL_MUST_CHECK;
void sl_relay_foreach_source(sl_server_t *srv, void (*fn)(const sl_source_info_t *info, void *arg), void *arg);

#endif
