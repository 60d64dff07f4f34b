/* The last SL_RTP_HISTORY_SIZE RTP packets sent on one SSRC, by sequence number, so
 * that a NACK (RFC 4585 6.2.1) can be answered by sending a packet again.
 *
 * Each slot holds a reference to the shared buffer the packet lives in and a slice
 * of it: nothing is copied. The ring is embedded in its owner (one per outgoing
 * SSRC); the slot of a sequence number is seq % SL_RTP_HISTORY_SIZE, and a lookup
 * answers only for the exact number stored there within the window behind the
 * newest one, so a slot left over from before a sequence jump or a 16-bit wrap is
 * never mistaken for the packet asked for.
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_HISTORY_H
#define SLUICE_PROTOCOLS_WEBRTC_HISTORY_H

#include <stdbool.h>

#include "sluice/buf.h"

/* A power of two dividing 65536; 512 packets is about a second of 4 Mbit/s video,
 * longer than a browser keeps asking for a lost packet. */
#define SL_RTP_HISTORY_SIZE 512

typedef struct sl_rtp_history_slot {
    sl_buf_t *buf; /* one reference held; NULL when the slot is empty */
    const uint8_t *data;
    size_t len;
    uint16_t seq;
} sl_rtp_history_slot_t;

typedef struct sl_rtp_history {
    sl_rtp_history_slot_t slots[SL_RTP_HISTORY_SIZE];
    uint16_t newest; /* the newest sequence number stored, once `started` */
    bool started;
} sl_rtp_history_t;

/* Makes h empty. */
void sl_rtp_history_init(sl_rtp_history_t *h);

/* Stores the packet data[0..len), which lies inside buf, under seq, taking a new
 * reference to buf (the caller keeps its own). A packet newer than the newest one
 * (in 16-bit serial order) releases the slots it jumps over; one that is older but
 * inside the window fills its slot; one older than the window is not stored. A
 * packet already stored under seq is replaced. */
void sl_rtp_history_put(sl_rtp_history_t *h, uint16_t seq, sl_buf_t *buf, const uint8_t *data, size_t len);

/* The packet stored under seq: sets *data and *len and returns its buffer, borrowed
 * (take a reference to keep it past the next put). NULL, *data and *len untouched,
 * when seq was never stored or has left the window. */
sl_buf_t *sl_rtp_history_get(const sl_rtp_history_t *h, uint16_t seq, const uint8_t **data, size_t *len);

/* Releases every reference; h is then empty and may be used again. */
void sl_rtp_history_free(sl_rtp_history_t *h);

#endif
