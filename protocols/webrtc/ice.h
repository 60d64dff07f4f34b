/* The ICE-lite agent core (RFC 8445 2.5, 8.2): all WebRTC sessions on one UDP port,
 * no sockets, no timers; the caller passes datagrams and the time in.
 *
 * Each session is registered under its local ufrag (from our SDP answer) with its
 * local password. A browser's Binding request names the session in USERNAME
 * "<local ufrag>:<remote ufrag>"; once the request authenticates, its source
 * transport address is bound to the session so that DTLS and SRTP datagrams from
 * it are routed by address.
 *
 * Rules, chosen here:
 * - Failed authentication is answered with silence, not 401: unknown ufrag, wrong
 *   remote ufrag, missing USERNAME or MESSAGE-INTEGRITY, bad MAC. A
 *   browser only ever uses the credentials of our own answer, so a 401 would help
 *   no legitimate peer, while answering unauthenticated packets would make the
 *   port a reflector and tell scanners which ufrags exist. Malformed messages
 *   (a missing or wrong FINGERPRINT included: RFC 8445 7.1 requires it), responses
 *   and indications are dropped too (a lite agent sends no requests).
 * - An authenticated request without PRIORITY gets 400, one with unknown
 *   comprehension-required attributes 420, one with ICE-CONTROLLED 487 (a lite agent
 *   is always controlled and cannot switch roles); all carry MESSAGE-INTEGRITY.
 * - Selected address: the source of the latest authenticated request with
 *   USE-CANDIDATE. Until the first nomination, the source of the latest
 *   authenticated request. After nomination, checks from other addresses are
 *   answered but move nothing. An address belongs to one session: when another
 *   session authenticates from it (a tab reloaded behind the same NAT binding), it
 *   moves to that session, which the first one then lacks.
 * - Consent (RFC 7675): the session's consent time is set when it is added and
 *   refreshed by each success answered on its selected address (any address before
 *   a selection). A session whose consent is consent_timeout_ms old or older
 *   expires.
 */
#ifndef SLUICE_WEBRTC_ICE_H
#define SLUICE_WEBRTC_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sluice/buf.h"

#define SL_ICE_UFRAG_LEN 8 /* generated ufrags (RFC 8839: at least 4 ice-chars) */
#define SL_ICE_PWD_LEN 24  /* generated passwords (at least 22 ice-chars) */
#define SL_ICE_UFRAG_MAX 32
#define SL_ICE_PWD_MAX 64
#define SL_ICE_REMOTE_UFRAG_MAX 64
#define SL_ICE_DEFAULT_CONSENT_MS 30000 /* RFC 7675 5.1 */

typedef struct sl_ice sl_ice_t;

typedef struct sl_ice_config {
    uint32_t max_sessions;       /* 1 .. 1 << 20 */
    uint64_t consent_timeout_ms; /* 0 means SL_ICE_DEFAULT_CONSENT_MS */
} sl_ice_config_t;

/* Fills ufrag with SL_ICE_UFRAG_LEN and pwd with SL_ICE_PWD_LEN random ice-chars
 * (ALPHA / DIGIT / "+" / "/") from RAND_bytes, NUL-terminated. SL_ERR_IO when the
 * random generator fails. */
int sl_ice_gen_credentials(char ufrag[SL_ICE_UFRAG_LEN + 1], char pwd[SL_ICE_PWD_LEN + 1]) SL_MUST_CHECK;

/* A new agent with room for cfg->max_sessions sessions; the caller owns it and frees
 * it with sl_ice_free. NULL when out of memory, when the random hash seed cannot be
 * drawn, or for a max_sessions out of range. */
sl_ice_t *sl_ice_new(const sl_ice_config_t *cfg);
/* Frees the agent; the session pointers it held are the caller's. NULL is ignored. */
void sl_ice_free(sl_ice_t *ice);

/* Registers a session: local_ufrag and local_pwd (4..SL_ICE_UFRAG_MAX and
 * 22..SL_ICE_PWD_MAX ice-chars) and, when not NULL, the remote ufrag from the
 * peer's SDP (up to SL_ICE_REMOTE_UFRAG_MAX bytes), which requests must then carry.
 * The strings are copied. session is the caller's opaque pointer, handed back by
 * lookups; it is not owned. Consent starts at now_ms.
 * SL_ERR_PROTO for bad credentials, SL_ERR_BUSY when local_ufrag is taken,
 * SL_ERR_TOO_BIG when the table is full. */
int sl_ice_add(sl_ice_t *ice, const char *local_ufrag, const char *local_pwd, const char *remote_ufrag,
               void *session, uint64_t now_ms) SL_MUST_CHECK;

/* Forgets the session registered under local_ufrag and its address.
 * SL_ERR_NOT_FOUND when there is none. */
int sl_ice_remove(sl_ice_t *ice, const char *local_ufrag);

/* Handles one STUN datagram pkt[0..len) from `from` (AF_INET or AF_INET6) at now_ms,
 * following the rules at the top of this file. Whatever is appended to reply (when
 * reply->len grew) is to be sent back to `from`, whatever the return value.
 * Returns SL_OK when a Binding success was appended; *session_out (may be NULL) is
 * then the session's pointer, and NULL otherwise. Other results, nothing appended:
 * SL_ERR_PROTO (malformed, not a request, not Binding), SL_ERR_AUTH (silently
 * refused), SL_ERR_UNSUPPORTED (unknown address family), SL_ERR_NOMEM. With an
 * error answer appended (400, 420, 487): SL_ERR_PROTO. */
int sl_ice_on_stun(sl_ice_t *ice, const uint8_t *pkt, size_t len, const struct sockaddr *from, uint64_t now_ms,
                   sl_bytes_t *reply, void **session_out) SL_MUST_CHECK;

/* The session whose selected address is `from`, for DTLS and SRTP datagrams; NULL
 * when none. The pointer is the caller's, as given to sl_ice_add. */
void *sl_ice_lookup_addr(const sl_ice_t *ice, const struct sockaddr *from);

/* The selected address of the session under local_ufrag, copied to *out: SL_OK,
 * SL_ERR_NOT_FOUND when no such session or no address yet. */
int sl_ice_selected_addr(const sl_ice_t *ice, const char *local_ufrag, struct sockaddr_storage *out) SL_MUST_CHECK;

/* Calls expired(session, arg) for each session whose consent is at least the
 * timeout old at now_ms, and returns how many. The callback may call sl_ice_remove for
 * that session (and only that one); a session not removed is reported again by the
 * next sweep. */
size_t sl_ice_sweep_expired(sl_ice_t *ice, uint64_t now_ms, void (*expired)(void *session, void *arg), void *arg);

/* Number of registered sessions. */
size_t sl_ice_count(const sl_ice_t *ice);

#endif
