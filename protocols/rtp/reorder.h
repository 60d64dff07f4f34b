/* A reorder buffer for RTP packets received over UDP. I/O-free.
 *
 * Packets are pushed in arrival order and released, through a callback, in sequence
 * order. An in-order packet goes out at once. After a gap, later packets wait until
 * the missing one arrives, until a packet arrives that does not fit the window, or
 * until the oldest waiting packet has waited max_delay_ms: then the gap is skipped
 * and counted as lost. Time is the caller's (milliseconds, any origin): it passes
 * now_ms to push, and calls sl_rtp_reorder_poll when sl_rtp_reorder_deadline says.
 *
 * Packets behind the release point (duplicates of released ones, or too late) and
 * duplicates of waiting ones are dropped and counted. Sequence numbers wrap at 65536.
 * A jump of 3000 or more ahead, or further back than the window (at least 100), is
 * taken for a restart of the sender's numbering once the packet after it follows it:
 * waiting packets are released and the buffer starts again there.
 */
#ifndef SLUICE_PROTOCOLS_RTP_REORDER_H
#define SLUICE_PROTOCOLS_RTP_REORDER_H

#include <stdbool.h>

#include "sluice/buf.h"

#define SL_RTP_REORDER_DEFAULT_WINDOW 64
#define SL_RTP_REORDER_MAX_WINDOW 1024

/* Receives each released packet (borrowed: sl_buf_ref it to keep it) and how many
 * packets were skipped as lost right before it. Returns 0, or a negative error that
 * push/poll pass back (the packet counts as released). It must not call back into
 * the buffer. */
typedef int (*sl_rtp_reorder_fn)(void *arg, sl_buf_t *pkt, uint32_t lost_before);

typedef struct sl_rtp_reorder_slot {
    sl_buf_t *pkt; /* NULL when empty */
    uint64_t arrival_ms;
} sl_rtp_reorder_slot_t;

typedef struct sl_rtp_reorder_stats {
    uint64_t released;
    uint64_t lost;       /* sequence numbers skipped */
    uint64_t duplicates; /* copies of a waiting packet */
    /* Dropped for arriving behind the release point (already released or skipped),
     * or for a wild jump that the next packet did not confirm. */
    uint64_t late;
    uint64_t resets;     /* restarts of the numbering */
} sl_rtp_reorder_stats_t;

typedef struct sl_rtp_reorder {
    sl_rtp_reorder_slot_t *slots; /* ring of `window` slots; slot `head` is seq `next` */
    uint32_t window;
    uint32_t max_delay_ms;
    sl_rtp_reorder_fn release;
    void *arg;
    bool started;
    uint16_t next;    /* sequence number of the next packet to release */
    uint32_t head;
    uint32_t held;    /* packets waiting */
    uint32_t span;    /* offset past the furthest waiting packet */
    uint32_t lost_pending; /* skipped since the last release, told with the next one */
    bool resync_armed;
    uint16_t resync_seq; /* after a wild jump: the number that confirms a restart */
    sl_rtp_reorder_stats_t stats;
} sl_rtp_reorder_t;

/* Prepares a buffer of `window` packets (1..SL_RTP_REORDER_MAX_WINDOW; 0 means the
 * default) releasing through `release`. SL_OK, SL_ERR_CONFIG for a bad window,
 * SL_ERR_NOMEM. */
int sl_rtp_reorder_init(sl_rtp_reorder_t *r, uint32_t window, uint32_t max_delay_ms, sl_rtp_reorder_fn release,
                        void *arg) SL_MUST_CHECK;
/* Drops the waiting packets without releasing them and frees the ring. */
void sl_rtp_reorder_free(sl_rtp_reorder_t *r);

/* Takes a copy of one RTP packet data[0..len) (borrowed) that arrived at now_ms and
 * releases whatever is now in order. SL_OK (the packet may have been dropped as a
 * duplicate or late; see the stats), SL_ERR_PROTO when it is not an RTP packet,
 * SL_ERR_NOMEM, or the error the callback returned. */
int sl_rtp_reorder_push(sl_rtp_reorder_t *r, const uint8_t *data, size_t len, uint64_t now_ms) SL_MUST_CHECK;
/* Releases the packets that waited max_delay_ms or more, skipping the gaps before
 * them. SL_OK or the error the callback returned. */
int sl_rtp_reorder_poll(sl_rtp_reorder_t *r, uint64_t now_ms) SL_MUST_CHECK;
/* When poll has work: true and *when_ms set while packets wait, false otherwise. */
bool sl_rtp_reorder_deadline(const sl_rtp_reorder_t *r, uint64_t *when_ms);
/* Releases every waiting packet, skipping the gaps (at the end of a stream). SL_OK or
 * the error the callback returned. */
int sl_rtp_reorder_flush(sl_rtp_reorder_t *r) SL_MUST_CHECK;

#endif
