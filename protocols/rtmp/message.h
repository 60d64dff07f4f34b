/* RTMP message types, protocol control messages (types 1, 2, 3, 5, 6) and user
 * control messages (type 4): encoders that append whole chunked messages, and parsers
 * of received bodies. I/O-free.
 *
 * Every encoder writes on chunk stream 2, message stream 0, timestamp 0, as a single
 * chunk: the bodies are at most 6 bytes, smaller than any chunk size a session uses
 * (the spec's default is 128). Each returns SL_OK or SL_ERR_NOMEM (out unchanged),
 * or SL_ERR_PROTO for a value the message cannot carry.
 */
#ifndef SLUICE_RTMP_MESSAGE_H
#define SLUICE_RTMP_MESSAGE_H

#include <stdbool.h>

#include "sluice/buf.h"

enum sl_rtmp_msg_type {
    SL_RTMP_MSG_SET_CHUNK_SIZE = 1,
    SL_RTMP_MSG_ABORT = 2,
    SL_RTMP_MSG_ACK = 3,
    SL_RTMP_MSG_USER_CONTROL = 4,
    SL_RTMP_MSG_WINDOW_ACK_SIZE = 5,
    SL_RTMP_MSG_SET_PEER_BANDWIDTH = 6,
    SL_RTMP_MSG_AUDIO = 8,
    SL_RTMP_MSG_VIDEO = 9,
    SL_RTMP_MSG_DATA_AMF3 = 15,
    SL_RTMP_MSG_SHARED_OBJECT_AMF3 = 16,
    SL_RTMP_MSG_COMMAND_AMF3 = 17,
    SL_RTMP_MSG_DATA_AMF0 = 18,
    SL_RTMP_MSG_SHARED_OBJECT_AMF0 = 19,
    SL_RTMP_MSG_COMMAND_AMF0 = 20,
    SL_RTMP_MSG_AGGREGATE = 22,
};

/* User control event types (the first 2 bytes of a type 4 body). */
enum sl_rtmp_uc_event {
    SL_RTMP_UC_STREAM_BEGIN = 0,
    SL_RTMP_UC_STREAM_EOF = 1,
    SL_RTMP_UC_STREAM_DRY = 2,
    SL_RTMP_UC_SET_BUFFER_LENGTH = 3, /* stream id, then buffer length in ms */
    SL_RTMP_UC_STREAM_IS_RECORDED = 4,
    SL_RTMP_UC_PING_REQUEST = 6,
    SL_RTMP_UC_PING_RESPONSE = 7,
};

/* Limit types of Set Peer Bandwidth. */
enum sl_rtmp_bw_limit {
    SL_RTMP_BW_HARD = 0,
    SL_RTMP_BW_SOFT = 1,
    SL_RTMP_BW_DYNAMIC = 2,
};

/* The chunk stream id for protocol control and user control messages. */
#define SL_RTMP_CSID_CONTROL 2

/* RTMP's 32-bit millisecond timestamps, unwrapped to 64 bits: each message moves
 * the clock by the signed 32-bit difference from the previous one. Zero it to
 * start a new stream. */
typedef struct sl_rtmp_clock {
    bool started;
    uint32_t last;
    int64_t ms;
} sl_rtmp_clock_t;

static inline int64_t sl_rtmp_clock_unwrap(sl_rtmp_clock_t *c, uint32_t ts)
{
    c->ms = c->started ? c->ms + (int32_t)(ts - c->last) : (int64_t)ts;
    c->started = true;
    c->last = ts;
    return c->ms;
}

/* Set Chunk Size: size must be 1..SL_RTMP_MAX_CHUNK_SIZE, the range our reader and
 * every sane peer accept. */
int sl_rtmp_write_set_chunk_size(sl_bytes_t *out, uint32_t size) SL_MUST_CHECK;
/* Abort Message: the peer drops its partial message on chunk stream csid. */
int sl_rtmp_write_abort(sl_bytes_t *out, uint32_t csid) SL_MUST_CHECK;
/* Acknowledgement: seq is the byte count received so far, modulo 2^32. */
int sl_rtmp_write_ack(sl_bytes_t *out, uint32_t seq) SL_MUST_CHECK;
int sl_rtmp_write_window_ack_size(sl_bytes_t *out, uint32_t size) SL_MUST_CHECK;
/* limit_type is an sl_rtmp_bw_limit (0..2). */
int sl_rtmp_write_set_peer_bandwidth(sl_bytes_t *out, uint32_t size, uint8_t limit_type) SL_MUST_CHECK;

/* User control events with one 4-byte value. */
int sl_rtmp_write_stream_begin(sl_bytes_t *out, uint32_t stream_id) SL_MUST_CHECK;
int sl_rtmp_write_stream_eof(sl_bytes_t *out, uint32_t stream_id) SL_MUST_CHECK;
int sl_rtmp_write_stream_is_recorded(sl_bytes_t *out, uint32_t stream_id) SL_MUST_CHECK;
int sl_rtmp_write_ping_request(sl_bytes_t *out, uint32_t timestamp) SL_MUST_CHECK;
int sl_rtmp_write_ping_response(sl_bytes_t *out, uint32_t timestamp) SL_MUST_CHECK;

/* The value of a received Set Chunk Size (31 bits, the reserved top bit cleared),
 * Abort (csid), Acknowledgement (sequence) or Window Acknowledgement Size body: the
 * first 4 bytes, big-endian; extra bytes are ignored. SL_ERR_PROTO when shorter,
 * SL_ERR_UNSUPPORTED for another type. */
int sl_rtmp_control_parse(uint8_t type, const uint8_t *body, size_t len, uint32_t *value) SL_MUST_CHECK;

/* A received Set Peer Bandwidth body: window size and limit type. SL_ERR_PROTO when
 * shorter than 5 bytes or the limit type is not 0..2. */
int sl_rtmp_peer_bandwidth_parse(const uint8_t *body, size_t len, uint32_t *size,
                                 uint8_t *limit_type) SL_MUST_CHECK;

/* A received user control body: the event type and its first 4-byte value (a stream
 * id, or a ping timestamp; for Set Buffer Length the stream id, the buffer length
 * following at body[6..10)). SL_ERR_PROTO when the body is shorter than the event
 * needs; an unknown event is returned with the value 0 when it carries fewer than 4
 * bytes, so the caller can ignore it. */
int sl_rtmp_user_control_parse(const uint8_t *body, size_t len, uint16_t *event,
                               uint32_t *value) SL_MUST_CHECK;

#endif
