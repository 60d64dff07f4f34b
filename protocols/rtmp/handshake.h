/* The RTMP handshake, both sides, without I/O.
 *
 * C0/S0 is the version byte (3). C1/S1/C2/S2 are 1536 bytes each:
 * time(4) | version-or-zero(4) | 1528 random.
 *
 * Simple form: the peer's version field is zero; S1 is zeros and random, S2 echoes
 * C1. Complex (digest) form, as ffmpeg, librtmp and OBS send it: C1 carries an
 * HMAC-SHA256 digest at an offset given by one of two layouts ("digest first" at
 * bytes 8..11, "key first" at bytes 772..775). The server answers with its own
 * digest in S1, in the same layout, and an S2 signed with a key derived from the
 * client's digest; players such as ffmpeg refuse to play without them. A C1 that
 * claims a version but carries no valid digest gets the simple answer.
 *
 * The state is fixed-size and holds no heap memory: embed it in the session and
 * drop it when the handshake is complete.
 */
#ifndef SLUICE_RTMP_HANDSHAKE_H
#define SLUICE_RTMP_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/common.h"

#define SL_RTMP_HANDSHAKE_VERSION 3
#define SL_RTMP_HANDSHAKE_SIZE 1536

/* How the peer did the handshake, for the session's log line. */
typedef enum {
    SL_RTMP_HS_SIMPLE,   /* peer's version field was zero: no digest */
    SL_RTMP_HS_COMPLEX,  /* peer sent a digest and it verified */
    SL_RTMP_HS_FALLBACK, /* peer claimed a version but no digest verified */
} sl_rtmp_hs_mode_t;

/* Private state: use the functions below. */
typedef struct sl_rtmp_handshake {
    uint8_t role;  /* server or client */
    uint8_t phase; /* what is being received */
    uint8_t mode;  /* sl_rtmp_hs_mode_t, known once C1 (server) or S1 (client) is in */
    int error;     /* sticky: the error that ended the handshake, else SL_OK */
    size_t have;   /* bytes of the current phase received so far */
    /* Server: C1 as received. Client: S1 as received, then the C2 to send. */
    uint8_t block[SL_RTMP_HANDSHAKE_SIZE];
} sl_rtmp_handshake_t;

/* Prepares a server-side handshake that waits for C0C1. */
void sl_rtmp_handshake_init_server(sl_rtmp_handshake_t *hs);

/* Prepares a client-side handshake and appends C0C1 (a digest C1, as Flash Player
 * sends) to out, which the caller sends. Returns SL_OK, or SL_ERR_NOMEM when out
 * cannot grow or OpenSSL fails (out is then unchanged). */
int sl_rtmp_handshake_init_client(sl_rtmp_handshake_t *hs, sl_bytes_t *out) SL_MUST_CHECK;

/* Feeds received bytes, split anywhere. data is only read. *consumed is set to the
 * bytes used; what follows them belongs to the chunk stream. Bytes to send are
 * appended to out: S0S1S2 on the server once C0C1 is in (even while the call still
 * returns SL_ERR_AGAIN, waiting for C2), C2 on the client once S0S1S2 is in.
 * Returns SL_ERR_AGAIN while more bytes are needed, SL_OK once the handshake is
 * complete (and on every later call, consuming nothing), SL_ERR_PROTO for a
 * version byte other than 3, SL_ERR_UNSUPPORTED for the RTMPE versions (6, 8, 9),
 * SL_ERR_NOMEM. An error is final: later calls return it again. */
int sl_rtmp_handshake_feed(sl_rtmp_handshake_t *hs, const uint8_t *data, size_t len, size_t *consumed,
                           sl_bytes_t *out) SL_MUST_CHECK;

/* The peer used the digest form and it verified. On a client, false means the
 * server's S1 carried no valid digest (the handshake still completes). */
bool sl_rtmp_handshake_is_complex(const sl_rtmp_handshake_t *hs);

/* How the peer did the handshake; meaningful once C1 (server) or S1 (client) is in. */
sl_rtmp_hs_mode_t sl_rtmp_handshake_mode(const sl_rtmp_handshake_t *hs);

#endif
