/* RTMP chunk stream (Adobe RTMP specification 5.3): the reader that reassembles
 * messages from the bytes following the handshake, and the writer that chunks one
 * message. Both are I/O-free.
 *
 * Reader rules worth knowing:
 *  - Timestamps are delivered as the 32-bit wire value (they wrap after ~49.7 days);
 *    the session unwraps them.
 *  - fmt 1 and 2 carry a delta added to the chunk stream's previous timestamp; a fmt 3
 *    chunk that starts a new message reuses the previous delta (0 after a fmt 0).
 *  - When a message's last fmt 0/1/2 header had an extended timestamp, every fmt 3
 *    chunk of that chunk stream repeats the 4 extended bytes (as the spec, ffmpeg and
 *    nginx-rtmp do); the reader reads and skips them.
 *  - A fmt 0/1/2 header in the middle of a message continues it if it agrees with it
 *    (same length, type, stream id); its timestamp is ignored, as in nginx-rtmp.
 *  - Set Chunk Size (type 1) is applied as soon as the message completes, because it
 *    changes how the next bytes parse; it is still delivered. Abort (type 2) drops the
 *    partial message of the named chunk stream and is delivered too.
 */
#ifndef SLUICE_RTMP_CHUNK_H
#define SLUICE_RTMP_CHUNK_H

#include <stdbool.h>

#include "sluice/buf.h"

#define SL_RTMP_DEFAULT_CHUNK_SIZE 128
/* The message length field is 24-bit, so a larger chunk size is meaningless; refusing
 * it is how a hostile "100 MB chunk size" is turned away. */
#define SL_RTMP_MAX_CHUNK_SIZE 0xFFFFFFu
#define SL_RTMP_MAX_MESSAGE_LEN 0xFFFFFFu
#define SL_RTMP_MIN_CSID 2u
#define SL_RTMP_MAX_CSID 65599u
/* Distinct chunk streams one peer may open; real clients use fewer than ten. */
#define SL_RTMP_MAX_CHUNK_STREAMS 64
/* Largest chunk header: 3-byte basic header, 11-byte fmt 0 header, 4-byte extended
 * timestamp. */
#define SL_RTMP_MAX_HEADER_LEN 18

typedef struct sl_rtmp_msg {
    uint32_t csid;
    uint8_t type;       /* message type id, SL_RTMP_MSG_* in message.h */
    uint32_t stream_id; /* message stream id */
    uint32_t timestamp; /* absolute, 32-bit wrapping */
    sl_buf_t *body;     /* exactly the payload (body->len bytes); borrowed for the
                         * duration of the callback: sl_buf_ref it to keep it */
} sl_rtmp_msg_t;

/* Called for every complete message. A non-zero return stops feeding and is
 * returned by sl_rtmp_reader_feed. */
typedef int (*sl_rtmp_msg_fn)(void *arg, const sl_rtmp_msg_t *msg);

/* Per chunk stream state: the last header's fields and the partial message. */
typedef struct sl_rtmp_chunk_stream {
    uint32_t csid;
    uint8_t type;
    uint32_t stream_id;
    uint32_t length;    /* message length of the last header */
    uint32_t timestamp; /* absolute timestamp of the last message started */
    uint32_t delta;     /* last timestamp delta, reused by a fmt 3 new message */
    bool extended;      /* the last fmt 0/1/2 header used an extended timestamp */
    sl_buf_t *body;     /* the message being reassembled, NULL between messages */
} sl_rtmp_chunk_stream_t;

typedef struct sl_rtmp_reader {
    uint32_t chunk_size;        /* peer's chunk size, set by Set Chunk Size */
    uint32_t max_message_bytes; /* largest message accepted */
    uint64_t bytes;             /* total bytes consumed */
    uint64_t pending;           /* sum of the lengths of partial messages */
    int err;                    /* sticky: once non-zero, every feed returns it */
    uint8_t hdr[SL_RTMP_MAX_HEADER_LEN];
    uint8_t hdr_len;               /* header bytes gathered so far */
    sl_rtmp_chunk_stream_t *cur;   /* chunk stream whose chunk payload is being read */
    uint32_t chunk_left;           /* payload bytes left in the current chunk */
    unsigned n_streams;
    sl_rtmp_chunk_stream_t streams[SL_RTMP_MAX_CHUNK_STREAMS];
} sl_rtmp_reader_t;

/* Prepares a reader with chunk size 128. max_message_bytes bounds every message (at
 * most SL_RTMP_MAX_MESSAGE_LEN is meaningful); the partial messages of all chunk
 * streams together are bounded by 4 times it. */
void sl_rtmp_reader_init(sl_rtmp_reader_t *r, uint32_t max_message_bytes);

/* Drops the partial messages. The reader may be initialised again afterwards. */
void sl_rtmp_reader_free(sl_rtmp_reader_t *r);

/* Consumes data[0..len) (the bytes are copied; partial headers and bodies are kept
 * inside), calling on_msg for every complete message, in order. Returns SL_OK, the
 * callback's non-zero value, or SL_ERR_PROTO (fmt 1/2/3 on a chunk stream never seen,
 * a header that changes a message mid-way, a short or zero Set Chunk Size or Abort
 * body), SL_ERR_TOO_BIG (a message over max_message_bytes, too many partial bytes,
 * more than SL_RTMP_MAX_CHUNK_STREAMS chunk streams, a chunk size over
 * SL_RTMP_MAX_CHUNK_SIZE) or SL_ERR_NOMEM. Any non-zero result is sticky: the
 * connection is over and the reader only good for sl_rtmp_reader_free. */
int sl_rtmp_reader_feed(sl_rtmp_reader_t *r, const uint8_t *data, size_t len,
                        sl_rtmp_msg_fn on_msg, void *arg);

/* Total bytes consumed since init, for Acknowledgement messages (the session keeps
 * the 32-bit wrap of the sequence number). */
uint64_t sl_rtmp_reader_bytes(const sl_rtmp_reader_t *r);

/* Appends one message to out, chunked with chunk_size (1..SL_RTMP_MAX_CHUNK_SIZE): a
 * fmt 0 header on the first chunk (absolute timestamp; extended timestamp when it is
 * >= 0xFFFFFF), fmt 3 headers on the continuations (repeating the 4-byte extended
 * timestamp when it was used); basic header sized for csid (2..65599). body is only
 * read. Returns SL_OK, SL_ERR_PROTO (csid or chunk size out of range), SL_ERR_TOO_BIG
 * (len > SL_RTMP_MAX_MESSAGE_LEN) or SL_ERR_NOMEM; out is unchanged on error. */
int sl_rtmp_chunk_write(sl_bytes_t *out, uint32_t csid, uint8_t type, uint32_t stream_id,
                        uint32_t timestamp, const uint8_t *body, size_t len,
                        uint32_t chunk_size) SL_MUST_CHECK;

/* Upper bound of the bytes sl_rtmp_chunk_write appends for a len-byte message, to
 * size one buffer for several messages. */
size_t sl_rtmp_chunk_bound(size_t len, uint32_t chunk_size);

#endif
