/* WebRTC data channels: the Data Channel Establishment Protocol (RFC 8832) and the
 * SCTP payload protocol identifiers of RFC 8831 8. I/O-free: bytes in, structures
 * out, and the reverse.
 *
 * A channel is opened by sending DATA_CHANNEL_OPEN on the SCTP stream it will use
 * (PPID 50); the peer answers DATA_CHANNEL_ACK on the same stream. Messages then go
 * on that stream with PPID 51 (UTF-8 text) or 53 (binary); an empty message, which
 * SCTP cannot carry, is sent as one byte with PPID 56 or 57.
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_DCEP_H
#define SLUICE_PROTOCOLS_WEBRTC_DCEP_H

#include <stdbool.h>

#include "sluice/buf.h"

/* SCTP payload protocol identifiers (RFC 8831 8, IANA "SCTP Payload Protocol
 * Identifiers"). 52 and 54, the deprecated partial ones, are not used. */
#define SL_DCEP_PPID_CONTROL 50
#define SL_DCEP_PPID_STRING 51
#define SL_DCEP_PPID_BINARY 53
#define SL_DCEP_PPID_STRING_EMPTY 56
#define SL_DCEP_PPID_BINARY_EMPTY 57

/* Message types (RFC 8832 8.2.1). */
#define SL_DCEP_MSG_ACK 0x02
#define SL_DCEP_MSG_OPEN 0x03

#define SL_DCEP_OPEN_HEADER 12 /* DATA_CHANNEL_OPEN without label and protocol */

/* Channel types (RFC 8832 5.1): the high bit makes a channel unordered, the low
 * bits pick the reliability; the reliability parameter is then a number of
 * retransmissions or a lifetime in milliseconds. */
typedef enum sl_dcep_channel_type {
    SL_DCEP_RELIABLE = 0x00,
    SL_DCEP_PARTIAL_RELIABLE_REXMIT = 0x01,
    SL_DCEP_PARTIAL_RELIABLE_TIMED = 0x02,
    SL_DCEP_RELIABLE_UNORDERED = 0x80,
    SL_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81,
    SL_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82,
} sl_dcep_channel_type_t;

#define SL_DCEP_UNORDERED 0x80
#define SL_DCEP_RELIABILITY_MASK 0x7f

/* A DATA_CHANNEL_OPEN. label and protocol are UTF-8 byte strings, not
 * NUL-terminated; when parsed they point into the parsed input. */
typedef struct sl_dcep_open {
    uint8_t channel_type; /* sl_dcep_channel_type_t */
    uint16_t priority;
    uint32_t reliability;
    const uint8_t *label;
    uint16_t label_len;
    const uint8_t *protocol;
    uint16_t protocol_len;
} sl_dcep_open_t;

/* Parses a DATA_CHANNEL_OPEN message data[0..len) (borrowed). On SL_OK *out is
 * filled and its label and protocol point into data (NULL when their length is 0).
 * SL_ERR_PROTO when it is not an OPEN, is shorter than its header, or its label and
 * protocol lengths do not add up to exactly the bytes that follow;
 * SL_ERR_UNSUPPORTED for a channel type RFC 8832 does not define. */
int sl_dcep_parse_open(const uint8_t *data, size_t len, sl_dcep_open_t *out) SL_MUST_CHECK;

/* Appends the DATA_CHANNEL_OPEN of *open (borrowed; label and protocol may be NULL
 * when their length is 0) to out (caller-owned). SL_OK or SL_ERR_NOMEM (out then
 * keeps its old content). */
int sl_dcep_write_open(const sl_dcep_open_t *open, sl_bytes_t *out) SL_MUST_CHECK;

/* Appends a DATA_CHANNEL_ACK (one byte, 0x02) to out (caller-owned). SL_OK or
 * SL_ERR_NOMEM. */
int sl_dcep_write_ack(sl_bytes_t *out) SL_MUST_CHECK;

/* Whether data[0..len) (borrowed) is a DATA_CHANNEL_ACK: exactly the byte 0x02. */
bool sl_dcep_is_ack(const uint8_t *data, size_t len);

#endif
