/* DTLS 1.2 for WebRTC (RFC 5763/5764, RFC 8827) over OpenSSL. I/O-free.
 *
 * One context is made at start-up: the server's certificate (a self-signed ECDSA
 * P-256 one generated on the spot, or one loaded from PEM files), its fingerprint
 * for the SDP a=fingerprint line, and the SSL_CTX. Each peer connection then gets an
 * endpoint that takes datagrams from the socket layer (sl_dtls_feed) and gives back
 * the datagrams to send (sl_dtls_take_output). Nothing here touches a socket or a
 * clock: the caller arms a timer from sl_dtls_timeout_ms and calls
 * sl_dtls_handle_timeout when it fires, so lost flights are retransmitted.
 *
 * Datagram lists (output datagrams, application data records) are stored back to
 * back, each preceded by its length as 2 big-endian bytes: the same
 * "length-prefixed packets" format as protocols/rtp/rtp.h, so sl_rtp_next_packet
 * walks them.
 *
 * Peers use self-signed certificates, so no chain is verified: the handshake
 * accepts any certificate, and the caller must compare the peer's with the
 * a=fingerprint of its SDP (sl_dtls_verify_fingerprint) before trusting the keys.
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_DTLS_H
#define SLUICE_PROTOCOLS_WEBRTC_DTLS_H

#include <stdbool.h>

#include "protocols/webrtc/srtp.h"
#include "sluice/buf.h"

/* Largest datagram we send: fits a 1280-byte IPv6 path with room for tunnels. */
#define SL_DTLS_MTU 1200
/* "sha-256 " and 32 hex pairs joined by ':', with the terminating NUL. */
#define SL_DTLS_FINGERPRINT_LEN 104
/* Largest application record (sl_dtls_write). */
#define SL_DTLS_MAX_APP_DATA 16384

typedef struct sl_dtls_ctx sl_dtls_ctx_t;
typedef struct sl_dtls sl_dtls_t;

/* Makes the process-wide context and stores it in *out, owned by the caller
 * (sl_dtls_ctx_free, after every endpoint made from it). With both paths NULL it
 * generates a self-signed ECDSA P-256 certificate (CN "sluice", random serial,
 * valid for 30 days); otherwise it loads the PEM certificate and private key at
 * those paths. SL_ERR_CONFIG for unreadable or mismatched files, SL_ERR_NOMEM. */
int sl_dtls_ctx_new(const char *cert_path, const char *key_path, sl_dtls_ctx_t **out) SL_MUST_CHECK;
void sl_dtls_ctx_free(sl_dtls_ctx_t *ctx);
/* Our certificate's fingerprint as the SDP wants it: "sha-256 AB:CD:...". The
 * string is owned by ctx. */
const char *sl_dtls_ctx_fingerprint(const sl_dtls_ctx_t *ctx);
/* Initial retransmission timeout of new endpoints' handshakes (default 1000 ms),
 * at least SL_DTLS_MIN_RETRANSMIT_MS (OpenSSL counts a timer with less than 15 ms
 * left as expired, so a shorter one would resend at once) and at most 60 s; it
 * doubles on each retransmission up to 60 s. */
#define SL_DTLS_MIN_RETRANSMIT_MS 50
void sl_dtls_ctx_set_retransmit_ms(sl_dtls_ctx_t *ctx, unsigned ms);

/* True when a datagram's first byte says DTLS (RFC 7983: 20..63), which is how the
 * shared UDP socket tells DTLS from STUN and SRTP. */
bool sl_dtls_is_dtls(const uint8_t *data, size_t len);

/* A new endpoint, owned by the caller (sl_dtls_free), borrowing ctx. server=true
 * waits for a ClientHello (a=setup:passive, sluice's role); server=false starts a
 * handshake at once, so its ClientHello is ready in sl_dtls_take_output. NULL when
 * out of memory. */
sl_dtls_t *sl_dtls_new(sl_dtls_ctx_t *ctx, bool server);
/* Frees an endpoint without sending anything: call sl_dtls_close and send its
 * output first to tell the peer. NULL is ignored. */
void sl_dtls_free(sl_dtls_t *d);

/* Processes one received datagram (borrowed). Handshake progress is queued for
 * sl_dtls_take_output; decrypted application records (SCTP packets for data
 * channels) are appended to app_out as length-prefixed records (NULL discards
 * them). Returns SL_OK (also for what is dropped silently: a datagram that cannot
 * be a DTLS record, forged or duplicate records), SL_ERR_PROTO when the handshake
 * failed (the endpoint is then dead; an alert may wait in the output),
 * SL_ERR_CLOSED when the peer closed, SL_ERR_NOMEM. */
int sl_dtls_feed(sl_dtls_t *d, const uint8_t *datagram, size_t len, sl_bytes_t *app_out) SL_MUST_CHECK;
/* Moves the datagrams waiting to be sent to the end of out, length-prefixed, in
 * order. Each is at most SL_DTLS_MTU bytes during the handshake. Returns the
 * number of datagrams moved, or SL_ERR_NOMEM (nothing moved). */
int sl_dtls_take_output(sl_dtls_t *d, sl_bytes_t *out) SL_MUST_CHECK;

bool sl_dtls_handshake_done(const sl_dtls_t *d);
/* Milliseconds until sl_dtls_handle_timeout must be called (0: now), or -1 when no
 * retransmission timer runs (no handshake in flight). */
int sl_dtls_timeout_ms(sl_dtls_t *d);
/* Retransmits the last flight if its timer expired (output queued). SL_ERR_PROTO
 * when too many retransmissions went unanswered: the handshake failed. */
int sl_dtls_handle_timeout(sl_dtls_t *d) SL_MUST_CHECK;

/* Encrypts one application record (data[0..len) is borrowed) into the output.
 * SL_ERR_AGAIN before the handshake is done, SL_ERR_TOO_BIG past
 * SL_DTLS_MAX_APP_DATA, SL_ERR_CLOSED after a close, SL_ERR_PROTO on failure. */
int sl_dtls_write(sl_dtls_t *d, const void *data, size_t len) SL_MUST_CHECK;
/* Queues a close_notify alert (when the handshake completed) to be taken with
 * sl_dtls_take_output; the endpoint accepts nothing afterwards. */
void sl_dtls_close(sl_dtls_t *d);

/* The SRTP profile negotiated by use_srtp and the keys exported from the
 * handshake (RFC 5764 4.2), "local" being ours for our role. SL_ERR_AGAIN before
 * the handshake is done, SL_ERR_UNSUPPORTED when the peer negotiated no SRTP. */
int sl_dtls_srtp_keys(sl_dtls_t *d, sl_srtp_keys_t *keys) SL_MUST_CHECK;
/* The peer certificate's SHA-256 fingerprint, formatted like
 * sl_dtls_ctx_fingerprint, into out. SL_ERR_AGAIN when no certificate was
 * received yet. */
int sl_dtls_peer_fingerprint(sl_dtls_t *d, char out[SL_DTLS_FINGERPRINT_LEN]) SL_MUST_CHECK;
/* Compares the peer's certificate with an SDP a=fingerprint value ("sha-256
 * AB:CD:..."; hash names of RFC 8122, hex in either case). SL_OK on a match,
 * SL_ERR_AUTH on a mismatch, SL_ERR_PROTO for a malformed value,
 * SL_ERR_UNSUPPORTED for an unknown hash, SL_ERR_AGAIN with no peer certificate. */
int sl_dtls_verify_fingerprint(sl_dtls_t *d, const char *sdp_fingerprint) SL_MUST_CHECK;

#endif
