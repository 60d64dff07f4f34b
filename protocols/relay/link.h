/* One TCP connection of a relay session to another server: resolve (without
 * blocking the loop), connect, one write at a time, reads handed to the owner.
 * A link is made per attempt and frees itself once closed, so a session can start
 * its next attempt at once, without waiting for the old handles to close. */
#ifndef SLUICE_RELAY_LINK_H
#define SLUICE_RELAY_LINK_H

#include <uv.h>

#include "sluice/buf.h"
#include "sluice/server.h"

typedef struct sl_relay_link sl_relay_link_t;

/* Called from the loop only, never from inside a call into the link. */
typedef struct sl_relay_link_ops {
    void (*on_connected)(void *arg);
    void (*on_data)(void *arg, const uint8_t *data, size_t len);
    /* The resolve, the connection or a write failed, or the server closed: `why` is
     * a static string. The link is closed and freed already: forget the pointer. */
    void (*on_down)(void *arg, const char *why);
} sl_relay_link_ops_t;

/* Starts resolving host and connecting to port. Bytes read and written are added
 * to conn's counters. NULL when out of memory or the resolve cannot start. */
sl_relay_link_t *sl_relay_link_open(uv_loop_t *loop, const char *host, uint16_t port, sl_conn_t *conn,
                                    const sl_relay_link_ops_t *ops, void *arg);
/* Where the owner appends bytes to send; they go with the next sl_relay_link_flush. */
sl_bytes_t *sl_relay_link_out(sl_relay_link_t *l);
/* Sends what was appended, once connected and when no write is in flight (else
 * later, by itself). SL_OK or SL_ERR_IO (the owner then closes the link). */
int sl_relay_link_flush(sl_relay_link_t *l) SL_MUST_CHECK;
/* Bytes appended or being written, not yet sent: the owner's backpressure. */
size_t sl_relay_link_pending(const sl_relay_link_t *l);
/* The server's address once connected: SL_OK, or SL_ERR_AGAIN before. */
int sl_relay_link_peer(const sl_relay_link_t *l, struct sockaddr_storage *out) SL_MUST_CHECK;
/* Ends the connection: no callback comes after this; the link frees itself. */
void sl_relay_link_close(sl_relay_link_t *l);

#endif
