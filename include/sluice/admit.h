/* Admission: whether a client may publish or play a stream, the same way for
 * every protocol. First the token of the app's auth rule (auth.publish or
 * auth.play: synchronous), then the on_publish / on_play hook when one is
 * configured (asynchronous: an HTTP POST to the operator's service). Also the hook
 * events that decide nothing (on_unpublish, on_stop, on_record).
 *
 * A protocol calls sl_admit when a client asks to publish or play. Without a hook
 * the answer is immediate; with one, the protocol holds the client until the
 * callback, and cancels the admission if the client goes first.
 */
#ifndef SLUICE_ADMIT_H
#define SLUICE_ADMIT_H

#include "sluice/server.h"
#include "sluice/token.h"

typedef struct sl_admit_req {
    sl_proto_t proto;
    sl_direction_t dir;
    uint64_t client_id;
    const char *key;    /* "app/name" */
    const char *query;  /* the URL query, "" when none: token=..&expires=.. */
    const char *bearer; /* an Authorization: Bearer token (WHIP/WHEP), or NULL */
    const char *remote; /* "ip:port" */
} sl_admit_req_t;

typedef struct sl_admission sl_admission_t;

/* The decision of a hook: SL_OK to go on, SL_ERR_AUTH refused (why says by whom,
 * a static string). */
typedef void (*sl_admit_cb)(void *arg, int rc, const char *why);

/* Decides for req (borrowed for the call only). SL_OK: allowed now. SL_ERR_AUTH:
 * refused now, *why says why (a static string for the client's error and the
 * log; the refusal is logged and counted here). SL_ERR_AGAIN: the hook decides;
 * cb(arg, ...) runs exactly once later unless sl_admit_cancel is called first,
 * and *pending is the handle. */
int sl_admit(sl_server_t *srv, const sl_admit_req_t *req, sl_admit_cb cb, void *arg, sl_admission_t **pending,
             const char **why) SL_MUST_CHECK;
/* The token check alone, for requests without a session (HLS): SL_OK or
 * SL_ERR_AUTH with *why, logged and counted. */
int sl_admit_token(sl_server_t *srv, const sl_admit_req_t *req, const char **why) SL_MUST_CHECK;
/* The client went away: cb will not run. */
void sl_admit_cancel(sl_admission_t *a);

/* Posts a hook event that decides nothing ("on_unpublish", "on_stop"), when its
 * URL is configured. */
void sl_hook_event(sl_server_t *srv, const char *event, const sl_admit_req_t *req);
/* Posts on_record for a finished recording of key in directory `path`. */
void sl_hook_record(sl_server_t *srv, const char *key, const char *path);

#endif
