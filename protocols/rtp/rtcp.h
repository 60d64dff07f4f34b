/* RTCP (RFC 3550 section 6, feedback from RFC 4585): compound packet parsing, sender
 * and receiver reports, SDES CNAME, BYE, generic NACK and PLI, and the receiver
 * statistics that fill a report block (RFC 3550 A.1, A.3, A.8). I/O-free.
 *
 * Parsing is in two steps: sl_rtcp_next walks a compound packet and gives each packet's
 * type, count/format field and body; a parser per type reads a body. Unknown types
 * are simply walked past by the caller, so APP and future feedback types stay visible.
 * Parsed pointers borrow from the input buffer.
 *
 * Builders append to an sl_bytes_t; on failure the vector keeps what it had before.
 */
#ifndef SLUICE_PROTOCOLS_RTCP_H
#define SLUICE_PROTOCOLS_RTCP_H

#include <stdbool.h>

#include "sluice/buf.h"

enum sl_rtcp_type {
    SL_RTCP_SR = 200,
    SL_RTCP_RR = 201,
    SL_RTCP_SDES = 202,
    SL_RTCP_BYE = 203,
    SL_RTCP_APP = 204,
    SL_RTCP_RTPFB = 205, /* transport feedback; format 1 is the generic NACK */
    SL_RTCP_PSFB = 206,  /* payload-specific feedback; format 1 is PLI */
};

#define SL_RTCP_FMT_NACK 1
#define SL_RTCP_FMT_PLI 1
/* The 5-bit count field bounds report blocks, SDES chunks and BYE sources. */
#define SL_RTCP_MAX_COUNT 31
/* Sequence numbers kept from one NACK; more is a loss no retransmission can repair. */
#define SL_RTCP_MAX_NACK 256
#define SL_RTCP_SDES_CNAME 1

typedef struct sl_rtcp_packet {
    uint8_t type;  /* sl_rtcp_type, or anything else */
    uint8_t count; /* the 5-bit count, or the feedback message format (FMT) */
    const uint8_t *body; /* after the 4-byte header, padding removed */
    size_t body_len;
} sl_rtcp_packet_t;

/* The packet at *pos of a compound packet data[0..len): returns 1 with *out filled and
 * *pos moved past it, 0 at the end, SL_ERR_PROTO when the rest is malformed (version
 * not 2, a length past the end, bad padding). *pos starts at 0. */
int sl_rtcp_next(const uint8_t *data, size_t len, size_t *pos, sl_rtcp_packet_t *out) SL_MUST_CHECK;

typedef struct sl_rtcp_report_block {
    uint32_t ssrc;           /* the source this block reports on */
    uint8_t fraction_lost;   /* lost since the previous report, in 1/256 */
    int32_t cumulative_lost; /* 24-bit signed: duplicates can make it negative */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;         /* interarrival jitter in RTP timestamp units */
    uint32_t lsr;            /* middle 32 bits of the last SR's NTP time, 0 if none */
    uint32_t dlsr;           /* delay since that SR, in 1/65536 s */
} sl_rtcp_report_block_t;

typedef struct sl_rtcp_sender_info {
    uint64_t ntp; /* NTP timestamp: seconds since 1900 << 32 | fraction */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
} sl_rtcp_sender_info_t;

/* An SR or an RR. */
typedef struct sl_rtcp_report {
    uint32_t ssrc; /* of the packet's sender */
    bool has_sender_info; /* an SR */
    sl_rtcp_sender_info_t sender;
    uint8_t block_count;
    sl_rtcp_report_block_t blocks[SL_RTCP_MAX_COUNT];
} sl_rtcp_report_t;

/* Parses an SR or RR body (profile extensions after the blocks are ignored). SL_OK, or
 * SL_ERR_PROTO when p is another type or too short for its blocks. */
int sl_rtcp_parse_report(const sl_rtcp_packet_t *p, sl_rtcp_report_t *out) SL_MUST_CHECK;

typedef struct sl_rtcp_sdes_chunk {
    uint32_t ssrc;
    const uint8_t *cname; /* NULL when the chunk has none; not NUL-terminated */
    uint8_t cname_len;
} sl_rtcp_sdes_chunk_t;

typedef struct sl_rtcp_sdes {
    uint8_t count;
    sl_rtcp_sdes_chunk_t chunks[SL_RTCP_MAX_COUNT];
} sl_rtcp_sdes_t;

/* Parses an SDES body: each chunk's SSRC and CNAME (other items skipped). SL_OK, or
 * SL_ERR_PROTO when p is another type or a chunk is truncated or unterminated. */
int sl_rtcp_parse_sdes(const sl_rtcp_packet_t *p, sl_rtcp_sdes_t *out) SL_MUST_CHECK;

typedef struct sl_rtcp_bye {
    uint8_t count;
    uint32_t ssrc[SL_RTCP_MAX_COUNT];
    const uint8_t *reason; /* NULL when absent; not NUL-terminated */
    uint8_t reason_len;
} sl_rtcp_bye_t;

/* Parses a BYE body. SL_OK, or SL_ERR_PROTO when p is another type or truncated. */
int sl_rtcp_parse_bye(const sl_rtcp_packet_t *p, sl_rtcp_bye_t *out) SL_MUST_CHECK;

/* A feedback message (RTPFB or PSFB, RFC 4585 6.1). */
typedef struct sl_rtcp_fb {
    uint8_t fmt;
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci; /* feedback control information */
    size_t fci_len;
} sl_rtcp_fb_t;

/* SL_OK, or SL_ERR_PROTO when p is not RTPFB/PSFB or shorter than the two SSRCs. */
int sl_rtcp_parse_fb(const sl_rtcp_packet_t *p, sl_rtcp_fb_t *out) SL_MUST_CHECK;

typedef struct sl_rtcp_nack {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    uint16_t count;
    bool truncated; /* more than SL_RTCP_MAX_NACK were asked for; the first are kept */
    uint16_t seq[SL_RTCP_MAX_NACK];
} sl_rtcp_nack_t;

/* Parses a generic NACK (RTPFB, FMT 1) into the lost sequence numbers, in the order
 * the FCI lists them. SL_OK, or SL_ERR_PROTO when p is something else, has no FCI
 * entry or a partial one. */
int sl_rtcp_parse_nack(const sl_rtcp_packet_t *p, sl_rtcp_nack_t *out) SL_MUST_CHECK;

/* Checks p is a picture loss indication (PSFB, FMT 1) and gives its SSRCs. SL_OK, or
 * SL_ERR_PROTO. */
int sl_rtcp_parse_pli(const sl_rtcp_packet_t *p, uint32_t *sender_ssrc, uint32_t *media_ssrc) SL_MUST_CHECK;

/* Builders. Each appends one RTCP packet (or a compound) to out: SL_OK, SL_ERR_NOMEM. */

/* An SR with one report block, or none when rb is NULL. */
int sl_rtcp_build_sr(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_sender_info_t *si,
                     const sl_rtcp_report_block_t *rb) SL_MUST_CHECK;
/* An RR with one report block, or none when rb is NULL. */
int sl_rtcp_build_rr(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_report_block_t *rb) SL_MUST_CHECK;
/* An SDES with one chunk holding a CNAME (at most 255 bytes: SL_ERR_TOO_BIG). */
int sl_rtcp_build_sdes(sl_bytes_t *out, uint32_t ssrc, const char *cname, size_t cname_len) SL_MUST_CHECK;
/* A BYE for one source, no reason. */
int sl_rtcp_build_bye(sl_bytes_t *out, uint32_t ssrc) SL_MUST_CHECK;
/* The compounds a sender and a receiver send every report interval: SR + SDES and
 * RR + SDES. */
int sl_rtcp_build_sr_sdes(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_sender_info_t *si,
                          const sl_rtcp_report_block_t *rb, const char *cname, size_t cname_len) SL_MUST_CHECK;
int sl_rtcp_build_rr_sdes(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_report_block_t *rb, const char *cname,
                          size_t cname_len) SL_MUST_CHECK;
/* A PLI asking media_ssrc for a keyframe. */
int sl_rtcp_build_pli(sl_bytes_t *out, uint32_t sender_ssrc, uint32_t media_ssrc) SL_MUST_CHECK;
/* A generic NACK for seq[0..n) (1 to 1024 numbers; SL_ERR_TOO_BIG otherwise), packed
 * into as few PID/BLP entries as their order allows (ascending order packs best). */
int sl_rtcp_build_nack(sl_bytes_t *out, uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seq,
                       size_t n) SL_MUST_CHECK;

/* The NTP timestamp of a Unix time in microseconds. */
uint64_t sl_rtcp_ntp_from_unix_us(uint64_t unix_us);

/* Receiver statistics for one incoming source. */
typedef struct sl_rtcp_rx_stats {
    bool started;
    uint16_t max_seq;     /* highest sequence number seen */
    uint32_t cycles;      /* sequence number wraps, times 65536 */
    uint32_t base_seq;    /* the first sequence number */
    uint32_t bad_seq;     /* after a big jump: the number that confirms a restart */
    uint32_t received;    /* packets received, duplicates included (A.1) */
    uint32_t expected_prior, received_prior; /* at the previous report */
    bool have_transit;
    uint32_t transit;     /* arrival - RTP timestamp of the previous packet */
    uint32_t jitter;      /* times 16 (A.8) */
    bool have_sr;
    uint32_t lsr;         /* of the last SR received from the source */
    uint64_t sr_ms;       /* when it arrived */
} sl_rtcp_rx_stats_t;

void sl_rtcp_rx_init(sl_rtcp_rx_stats_t *s);
/* Accounts one RTP packet: its sequence number and timestamp and its arrival time on
 * the same RTP clock. The first packet defines the base (the source is known from
 * signalling, so there is no probation). A jump of 3000 or more ahead, or of 100 or
 * more back, is ignored unless the next packet follows it, which counts as a restart of the
 * sender's numbering. Returns false for a packet ignored that way. */
bool sl_rtcp_rx_packet(sl_rtcp_rx_stats_t *s, uint16_t seq, uint32_t rtp_ts, uint32_t arrival);
/* Records an SR of the source (its NTP timestamp) received at now_ms, for LSR/DLSR. */
void sl_rtcp_rx_sr(sl_rtcp_rx_stats_t *s, uint64_t ntp, uint64_t now_ms);
/* Packets expected (extended highest minus base, plus 1) and lost (expected minus
 * received; negative with duplicates), 0 before the first packet. */
uint32_t sl_rtcp_rx_expected(const sl_rtcp_rx_stats_t *s);
int64_t sl_rtcp_rx_lost(const sl_rtcp_rx_stats_t *s);
/* Fills a report block about source `ssrc` at now_ms and starts the next interval
 * for the fraction lost (A.3). */
void sl_rtcp_rx_report(sl_rtcp_rx_stats_t *s, uint32_t ssrc, uint64_t now_ms, sl_rtcp_report_block_t *rb);

#endif
