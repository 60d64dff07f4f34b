/* SRTP and SRTCP (RFC 3711, RFC 7714) for WebRTC sessions, over libsrtp2. I/O-free.
 *
 * A session is a pair of libsrtp contexts made from the keys a DTLS handshake
 * exported (RFC 5764): outbound packets are protected with our key, inbound ones
 * unprotected with the peer's. Any SSRC is accepted in both directions, so a
 * session serves every track of a peer connection.
 *
 * Packets are protected in place: the buffer must have SL_SRTP_TAILROOM bytes of
 * room past the packet for the authentication tag (and the SRTCP index).
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_SRTP_H
#define SLUICE_PROTOCOLS_WEBRTC_SRTP_H

#include <stdbool.h>

#include "sluice/common.h"

/* DTLS-SRTP protection profiles we offer, numbered as in the IANA registry. */
typedef enum sl_srtp_profile {
    SL_SRTP_AES128_CM_SHA1_80 = 0x0001,
    SL_SRTP_AEAD_AES_128_GCM = 0x0007,
} sl_srtp_profile_t;

#define SL_SRTP_KEY_LEN 16      /* master key, both profiles */
#define SL_SRTP_MAX_SALT_LEN 14 /* master salt: 14 for AES-CM, 12 for AES-GCM */
/* Bytes srtp_protect_rtcp may append: libsrtp's SRTP_MAX_TRAILER_LEN + 4. */
#define SL_SRTP_TAILROOM 148
/* Largest packet accepted: a UDP datagram. */
#define SL_SRTP_MAX_PACKET 65535

/* The negotiated profile and master keys of one side pair. "local" protects what
 * we send, "remote" unprotects what the peer sends. */
typedef struct sl_srtp_keys {
    sl_srtp_profile_t profile;
    size_t salt_len;
    uint8_t local_key[SL_SRTP_KEY_LEN];
    uint8_t local_salt[SL_SRTP_MAX_SALT_LEN];
    uint8_t remote_key[SL_SRTP_KEY_LEN];
    uint8_t remote_salt[SL_SRTP_MAX_SALT_LEN];
} sl_srtp_keys_t;

typedef struct sl_srtp sl_srtp_t;

/* The master salt length of a profile, 0 for one we do not support. */
size_t sl_srtp_salt_len(sl_srtp_profile_t profile);

/* Makes a session from `keys` (copied; the caller may wipe them afterwards) and
 * stores it in *out, owned by the caller (sl_srtp_free). Initialises libsrtp on
 * first use. SL_ERR_UNSUPPORTED for an unknown profile or a salt length that does
 * not match it, SL_ERR_NOMEM. */
int sl_srtp_new(const sl_srtp_keys_t *keys, sl_srtp_t **out) SL_MUST_CHECK;
/* Frees a session and wipes its keys. NULL is ignored. */
void sl_srtp_free(sl_srtp_t *s);

/* Protects the RTP packet pkt[0..*len) in place; *len becomes the SRTP length.
 * cap is the size of the buffer at pkt and must be at least *len +
 * SL_SRTP_TAILROOM (SL_ERR_TOO_BIG otherwise). SL_ERR_PROTO for a packet libsrtp
 * refuses (too short, or an index it already used). */
int sl_srtp_protect(sl_srtp_t *s, uint8_t *pkt, size_t *len, size_t cap) SL_MUST_CHECK;
/* The same for an RTCP compound packet. */
int sl_srtp_protect_rtcp(sl_srtp_t *s, uint8_t *pkt, size_t *len, size_t cap) SL_MUST_CHECK;

/* Authenticates and decrypts the SRTP packet pkt[0..*len) from the peer in place;
 * *len becomes the RTP length. SL_ERR_PROTO for a malformed, forged, tampered or
 * replayed packet (drop it), SL_ERR_TOO_BIG past SL_SRTP_MAX_PACKET. */
int sl_srtp_unprotect(sl_srtp_t *s, uint8_t *pkt, size_t *len) SL_MUST_CHECK;
/* The same for an SRTCP packet. */
int sl_srtp_unprotect_rtcp(sl_srtp_t *s, uint8_t *pkt, size_t *len) SL_MUST_CHECK;

#endif
