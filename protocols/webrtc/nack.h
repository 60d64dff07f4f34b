/* Receiver-side loss tracking for one incoming RTP SSRC: which sequence numbers to
 * ask the sender for with a generic NACK (RFC 4585 6.2.1), and when.
 *
 * The tracker is I/O-free and embedded in its owner; it holds a bounded set of
 * missing numbers (SL_NACK_MAX_MISSING, oldest dropped first) and allocates nothing.
 * The owner feeds it every packet's sequence number (after SRTP has authenticated
 * it, so a forged number cannot reset it), calls sl_nack_collect() when
 * sl_nack_next_due() says so, and writes what it returns with sl_rtcp_build_nack().
 * Retransmissions must be fed with the original sequence number: the WHIP answer
 * does not accept RTX, so they come back on the media SSRC under their own number.
 *
 * Sequence numbers compare in 16-bit serial order; times are a monotonic clock in
 * milliseconds chosen by the owner (the loop's uv_now()).
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_NACK_H
#define SLUICE_PROTOCOLS_WEBRTC_NACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/common.h"

/* Missing numbers tracked at once. A browser keeps about a second of packets for
 * retransmission; beyond 256 outstanding losses a keyframe request repairs the
 * picture sooner than retransmissions would, and this is also the most one
 * RTCP NACK parse keeps (SL_RTCP_MAX_NACK). */
#define SL_NACK_MAX_MISSING 256

/* Limits; a field left 0 takes the default given beside it. */
typedef struct sl_nack_config {
    /* A packet that skips more numbers than this, or arrives further than this
     * behind the newest, is a sender restart rather than a loss (default 512, at
     * most 32767 so that serial order stays defined). */
    uint16_t max_jump;
    uint16_t max_asks;        /* times one number is asked for (default 10) */
    uint32_t max_age_ms;      /* a number missing this long is given up (default 1000) */
    uint32_t min_interval_ms; /* least time between two asks for one number (default 10) */
    uint32_t default_rtt_ms;  /* round trip assumed while none is measured (default 100) */
} sl_nack_config_t;

typedef struct sl_nack_stats {
    uint64_t received;  /* packets fed, duplicates and ignored ones included */
    uint64_t recovered; /* missing numbers that arrived after all (late or resent) */
    uint64_t lost;      /* missing numbers given up: too old, asked enough, evicted, reset */
    uint64_t asked;     /* numbers written by sl_nack_collect(), each ask counted */
    uint64_t resets;    /* restarts on a sequence jump (the first packet not counted) */
} sl_nack_stats_t;

typedef struct sl_nack_entry {
    uint64_t missing_since_ms; /* when the gap holding this number was seen */
    uint64_t asked_ms;         /* when it was last asked for, if asks > 0 */
    uint16_t seq;
    uint16_t asks;
} sl_nack_entry_t;

typedef struct sl_nack {
    sl_nack_config_t cfg; /* defaults filled in */
    sl_nack_stats_t stats;
    /* Ascending in serial order, which is also the order they went missing, every
     * one behind `newest` by less than 32768. */
    sl_nack_entry_t missing[SL_NACK_MAX_MISSING];
    uint16_t count;
    uint16_t newest;     /* the newest number received, once `started` */
    uint16_t stray_next; /* the number that confirms a restart, when `stray` */
    bool started;
    bool stray;          /* a packet far behind `newest` was seen and ignored */
} sl_nack_t;

/* What sl_nack_on_packet() made of a packet. */
typedef enum sl_nack_verdict {
    SL_NACK_NEWEST,    /* newer than any before; the numbers it skipped are now missing */
    SL_NACK_RECOVERED, /* a missing number arrived: it will not be asked for again */
    SL_NACK_IGNORED,   /* a duplicate, a number given up, or a stray from far behind */
    SL_NACK_RESTARTED, /* the first packet, or a restart: tracking begins again here */
} sl_nack_verdict_t;

/* Makes t empty with the limits in cfg (borrowed, copied; NULL for all defaults).
 * SL_ERR_CONFIG when max_jump is above 32767. */
int sl_nack_init(sl_nack_t *t, const sl_nack_config_t *cfg) SL_MUST_CHECK;

/* Records the arrival of seq at now_ms.
 * - The first packet sets the start.
 * - One newer than the newest marks every number it skips as missing since now_ms;
 *   skipping more than max_jump restarts the tracker at seq instead (what was
 *   missing is counted lost), so a sender restart does not flood it.
 * - One older than the newest removes seq from the missing set if it is there.
 * - One more than max_jump behind the newest, not missing, is ignored; if the next
 *   such packet follows it in sequence, the sender restarted and the tracker
 *   restarts there (RFC 3550 A.1 does the same).
 * - Duplicates change nothing but the received counter. */
sl_nack_verdict_t sl_nack_on_packet(sl_nack_t *t, uint16_t seq, uint64_t now_ms);

/* Writes into seqs[0..max) the missing numbers to ask for at now_ms, oldest first
 * (ascending, which packs best into NACK entries), and returns how many. A number is
 * asked for at the first collect after it went missing, then again once the retry
 * interval has passed since the last ask, at most max_asks times; the interval is
 * rtt_ms (default_rtt_ms when 0, meaning not measured) but at least min_interval_ms.
 * Numbers missing for max_age_ms, or asked max_asks times and not resent within one
 * more interval, are given up here. Numbers due beyond max stay due. */
int sl_nack_collect(sl_nack_t *t, uint64_t now_ms, uint32_t rtt_ms, uint16_t *seqs, size_t max);

/* When sl_nack_collect() next has work (a number to ask for or to give up), with
 * the same rtt_ms: sets *when_ms and returns true, possibly a time already past
 * (collect now); false, *when_ms untouched, when nothing is missing. */
bool sl_nack_next_due(const sl_nack_t *t, uint32_t rtt_ms, uint64_t *when_ms);

#endif
