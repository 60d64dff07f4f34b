/* A streaming MPEG-TS demuxer (ISO/IEC 13818-1): 188-byte packets in any split, PAT
 * -> PMT -> elementary streams, PES reassembly, one callback per complete PES.
 *
 * I/O-free and safe on hostile input: bad packets, sections and PES are counted in
 * the stats and skipped, never fatal. Only the first program of the PAT is followed.
 * Memory is bounded by SL_TS_DEMUX_MAX_ES PES buffers of at most max_pes bytes each.
 *
 * Synchronisation: the stream is trusted to start on a packet, and while in sync a
 * packet is taken as soon as it is complete. When a packet does not start with the
 * 0x47 sync byte, the demuxer skips to a 0x47 that is followed by another 188 bytes
 * later (so it holds one packet while resynchronising), or by the end of the input
 * at sl_ts_demuxer_finish. The result never depends on how the input is split
 * across feeds.
 */
#ifndef SLUICE_PROTOCOLS_HLS_TS_DEMUX_H
#define SLUICE_PROTOCOLS_HLS_TS_DEMUX_H

#include "protocols/hls/ts_mux.h"

/* Elementary streams followed; further PMT entries are ignored. */
#define SL_TS_DEMUX_MAX_ES 8
/* Default bound on one PES, for the max_pes argument of sl_ts_demuxer_init. */
#define SL_TS_DEMUX_MAX_PES (8u << 20)
/* The largest PSI section (section_length 1021 plus the 3 bytes before it). */
#define SL_TS_MAX_SECTION 1024

/* One complete PES, borrowed for the duration of the callback. */
typedef struct sl_ts_pes {
    uint16_t pid;
    uint8_t stream_type; /* from the PMT, e.g. SL_TS_STREAM_H264 */
    uint8_t stream_id;   /* from the PES header, e.g. 0xE0 */
    bool random_access;  /* random_access_indicator of the PES's first packet */
    int64_t pts, dts;    /* 90 kHz, 0 .. 2^33 - 1, or -1 when absent */
    int64_t pcr;         /* PCR base (90 kHz) in the PES's first packet, or -1 */
    const uint8_t *data; /* the elementary stream bytes after the PES header */
    size_t len;
} sl_ts_pes_t;

/* Called for each complete PES. A non-zero return stops the demuxer, and that value
 * is returned by the feed and every later one. The callback must not feed the same
 * demuxer. */
typedef int (*sl_ts_pes_fn)(void *arg, const sl_ts_pes_t *pes);

typedef struct sl_ts_demux_stats {
    uint64_t packets;       /* 188-byte packets taken in */
    uint64_t skipped_bytes; /* bytes dropped while looking for the sync byte */
    uint64_t sync_losses;   /* packets that did not start with 0x47 where expected */
    uint64_t bad_packets;   /* transport_error_indicator, reserved or overlong fields */
    uint64_t cc_errors;     /* continuity counter discontinuities */
    uint64_t psi_errors;    /* PAT/PMT sections with a bad CRC or layout */
    uint64_t pes_errors;    /* PES dropped: malformed, truncated, over max_pes, or hit
                             * by a continuity error */
    uint64_t pcr_count;     /* PCRs seen, on any PID */
    int64_t last_pcr;       /* the last PCR base (90 kHz), or -1 */
} sl_ts_demux_stats_t;

/* Section reassembly for the PAT or the PMT. */
typedef struct sl_ts_psi {
    uint8_t buf[SL_TS_MAX_SECTION];
    uint16_t have;
    bool active; /* a section is being collected */
    int8_t cc;   /* last continuity counter, -1 before the first packet */
} sl_ts_psi_t;

/* One elementary stream of the program. */
typedef struct sl_ts_es {
    uint16_t pid;
    uint8_t stream_type;
    int8_t cc;          /* last continuity counter, -1 before the first packet */
    bool in_pes;        /* collecting a PES into buf */
    bool random_access; /* of the PES being collected */
    int64_t pcr;        /* of the PES being collected, or -1 */
    sl_bytes_t buf;
} sl_ts_es_t;

typedef struct sl_ts_demuxer {
    size_t max_pes;
    int err; /* sticky: a callback's stop value or SL_ERR_NOMEM */
    bool synced;
    uint8_t pkt[SL_TS_PACKET_LEN + 1]; /* packet being gathered, + the next sync byte */
    size_t have;
    int32_t pmt_pid;     /* -1 before the PAT */
    uint16_t program;    /* program_number of the PMT followed */
    sl_ts_psi_t pat, pmt;
    sl_ts_es_t es[SL_TS_DEMUX_MAX_ES];
    int es_count;
    sl_ts_demux_stats_t stats;
} sl_ts_demuxer_t;

/* Prepares a demuxer (embedded in its owner) that drops any PES over max_pes bytes
 * (SL_TS_DEMUX_MAX_PES is a good bound). */
void sl_ts_demuxer_init(sl_ts_demuxer_t *d, size_t max_pes);
/* Releases the PES buffers. The demuxer can be init'ed again. */
void sl_ts_demuxer_free(sl_ts_demuxer_t *d);

/* Consumes data[0..len) (only read; partial packets and PES are copied into the
 * demuxer), calling on_pes for every complete PES. SL_OK; SL_ERR_NOMEM; or the
 * callback's non-zero return. Errors are sticky: every later call returns them. */
int sl_ts_demuxer_feed(sl_ts_demuxer_t *d, const uint8_t *data, size_t len, sl_ts_pes_fn on_pes,
                       void *arg) SL_MUST_CHECK;

/* Ends the input (a whole segment or file was fed): takes a packet held while
 * resynchronising, then delivers the PES still open whose end was only implied
 * (PES_packet_length 0, ended by the next unit that will not come) and drops, as
 * errors, those shorter than their declared length. Tables and continuity counters
 * are kept, so the next segment can be fed after it. Returns like the feed. */
int sl_ts_demuxer_finish(sl_ts_demuxer_t *d, sl_ts_pes_fn on_pes, void *arg) SL_MUST_CHECK;

#endif
