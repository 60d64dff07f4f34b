/* WebRTC data channels (RFC 8831, 8832): one SCTP association per peer connection,
 * carried in DTLS application records, on usrsctp. Callers never see usrsctp.
 *
 * usrsctp runs without threads: sl_sctp_input feeds it received packets and
 * sl_sctp_tick drives its timers, both on the caller's thread, and nothing
 * happens between calls. Both WebRTC peers "connect" (SCTP simultaneous open) on
 * their a=sctp-port, 5000 in practice; the association starts once DTLS is up.
 *
 * Re-entrancy. usrsctp's own callbacks only queue work; the ops below are called
 * after usrsctp has returned, from sl_sctp_new (send only), sl_sctp_input,
 * sl_sctp_tick, sl_sctp_send, sl_sctp_open_channel and sl_sctp_close_channel. From
 * inside any op the caller may call every function here, on this association or
 * another, sl_sctp_free included: a nested call queues its work and the outermost
 * one runs it, and an association freed inside its own op is destroyed when that
 * op returns (no op of it is called after sl_sctp_free). The work of any
 * association may be run by a call on another one, e.g. a viewer's packets sent
 * while the publisher's message that caused them is being delivered.
 *
 * Messages arrive whole: partial deliveries are assembled up to
 * SL_SCTP_MAX_MESSAGE bytes; a longer message is dropped.
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_SCTP_H
#define SLUICE_PROTOCOLS_WEBRTC_SCTP_H

#include <stdbool.h>

#include "sluice/common.h"

#define SL_SCTP_PORT 5000           /* the a=sctp-port every browser uses */
#define SL_SCTP_MAX_MESSAGE 65536   /* our a=max-message-size, both ways */
#define SL_SCTP_MAX_STREAMS 1024    /* streams (channels) each way, as browsers ask */
/* The largest SCTP packet, as libwebrtc picks it: the IPv6 minimum MTU 1280 less
 * IPv6 (40), UDP (8), a DTLS 1.2 AES-GCM record's overhead (37) and a TURN
 * channel header (4), so no path drops or fragments it. */
#define SL_SCTP_MTU 1191

typedef struct sl_sctp sl_sctp_t;

/* What an association tells its owner. arg is the one given to sl_sctp_new. Only
 * send is required; any other may be NULL. Pointers passed in are borrowed for the
 * duration of the call. */
typedef struct sl_sctp_ops {
    /* An SCTP packet to send as one DTLS application record. */
    void (*send)(void *arg, const uint8_t *pkt, size_t len);
    /* The association is established: sl_sctp_send and sl_sctp_open_channel work. */
    void (*on_up)(void *arg);
    /* The peer opened channel sid with a DATA_CHANNEL_OPEN, already answered with an
     * ACK. label is NUL-terminated (cut at a NUL byte of the label, if any). */
    void (*on_open)(void *arg, uint16_t sid, const char *label);
    /* The peer acknowledged a channel opened by sl_sctp_open_channel. */
    void (*on_acked)(void *arg, uint16_t sid);
    /* A whole message on stream sid: text (PPID 51/56) or binary (53/57); len 0 for
     * the empty ones. Messages on streams opened without DCEP ("negotiated"
     * channels) are delivered too. */
    void (*on_message)(void *arg, uint16_t sid, bool binary, const uint8_t *data, size_t len);
    /* The peer closed channel sid (reset its stream); we reset ours in answer. */
    void (*on_channel_closed)(void *arg, uint16_t sid);
    /* The association ended (ABORT, SHUTDOWN, lost, or could not start). Sends fail
     * with SL_ERR_CLOSED from then on; the owner frees it. Called once. */
    void (*on_closed)(void *arg);
} sl_sctp_ops_t;

/* Creates an association and starts it: binds local_port and connects to
 * remote_port (the peer's a=sctp-port). dtls_client tells our DTLS role: RFC 8832 6
 * gives the DTLS client even stream ids and the server odd ones for the channels
 * it opens. ops (copied) and arg (borrowed, passed to every op) must be valid until
 * sl_sctp_free. The first SCTP packet (INIT) goes out through ops->send before this
 * returns, once *out is set. Initialises usrsctp on first use. On SL_OK *out is
 * owned by the caller (sl_sctp_free); SL_ERR_NOMEM, or SL_ERR_IO when usrsctp
 * refuses the socket. */
int sl_sctp_new(uint16_t local_port, uint16_t remote_port, bool dtls_client, const sl_sctp_ops_t *ops, void *arg,
                sl_sctp_t **out) SL_MUST_CHECK;

/* Feeds one decrypted DTLS application record (borrowed), an SCTP packet. Malformed
 * packets are dropped by usrsctp (CRC32c and state checks). Runs the ops. */
void sl_sctp_input(sl_sctp_t *s, const uint8_t *pkt, size_t len);

/* Sends one message on stream sid: data[0..len) (borrowed, copied) as text (PPID
 * 51) or binary (53); len 0 sends the empty message (56, 57). Channels opened with
 * DCEP keep their ordering and reliability; others are ordered and reliable.
 * SL_OK; SL_ERR_AGAIN before the association is up or while its send buffer is
 * full (the message was not taken); SL_ERR_TOO_BIG past SL_SCTP_MAX_MESSAGE;
 * SL_ERR_CLOSED after it ended, or on a channel being closed; SL_ERR_PROTO for a
 * sid past SL_SCTP_MAX_STREAMS; SL_ERR_IO for another usrsctp refusal. */
int sl_sctp_send(sl_sctp_t *s, uint16_t sid, bool binary, const void *data, size_t len) SL_MUST_CHECK;

/* Opens a reliable ordered channel labelled label (borrowed, NUL-terminated, at
 * most 65535 bytes) on the lowest free stream id of our parity, sending the
 * DATA_CHANNEL_OPEN; ops->on_acked tells when the peer answered. Messages may be
 * sent on it at once. On SL_OK *sid is the stream id. SL_ERR_AGAIN before the
 * association is up; SL_ERR_BUSY when every stream of our parity is in use;
 * SL_ERR_TOO_BIG for a longer label; SL_ERR_CLOSED; SL_ERR_NOMEM; SL_ERR_IO. */
int sl_sctp_open_channel(sl_sctp_t *s, const char *label, uint16_t *sid) SL_MUST_CHECK;

/* Closes channel sid (RFC 8831 6.7: resets our outgoing stream; the peer resets
 * its own in answer, after which the id may be reused). SL_OK, also for a channel
 * already closing; SL_ERR_PROTO for a sid past SL_SCTP_MAX_STREAMS; SL_ERR_CLOSED
 * after the association ended; SL_ERR_IO when usrsctp refuses. */
int sl_sctp_close_channel(sl_sctp_t *s, uint16_t sid) SL_MUST_CHECK;

/* Whether the association is established and has not ended. */
bool sl_sctp_is_up(const sl_sctp_t *s);

/* Advances usrsctp's clock by elapsed_ms for every association of the process and
 * runs what fell due (retransmissions, delayed acknowledgements, heartbeats), then
 * the ops. Call it every 10 to 100 ms with the real time elapsed. */
void sl_sctp_tick(uint32_t elapsed_ms);

/* Ends the association at once and frees it: usrsctp aborts it without sending
 * anything (the peer learns of the end from DTLS close_notify or ICE), no op is
 * called afterwards. Safe from inside an op, its own included (see the top of this
 * file). NULL is ignored. */
void sl_sctp_free(sl_sctp_t *s);

/* Shuts usrsctp down (usrsctp_finish) at process exit, so leak checkers stay
 * quiet, after every association was freed; it runs usrsctp's timers until the
 * freed sockets are gone. SL_OK, also when usrsctp was never started;
 * SL_ERR_BUSY when an association is still alive or usrsctp would not finish.
 * usrsctp starts again on the next sl_sctp_new. */
int sl_sctp_global_shutdown(void) SL_MUST_CHECK;

#endif
