/* RTP (RFC 3550) packets, shared by RTSP and WebRTC. I/O-free.
 *
 * Packetizers turn a frame into RTP packets; depacketizers turn RTP packets back
 * into frames. Packets of one frame are stored back to back in one buffer, each
 * preceded by its length as 2 big-endian bytes ("length-prefixed packets"): RTSP
 * over TCP sends each with a 4-byte '$' header, UDP and SRTP send them one by one.
 */
#ifndef SLUICE_PROTOCOLS_RTP_H
#define SLUICE_PROTOCOLS_RTP_H

#include <stdbool.h>

#include "sluice/buf.h"
#include "sluice/frame.h"

#define SL_RTP_HEADER_LEN 12
/* Payload bytes per packet by default: fits a 1500-byte MTU with IP/UDP, SRTP and
 * header extensions to spare. */
#define SL_RTP_DEFAULT_MTU 1200

typedef struct sl_rtp_packet {
    bool marker;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *payload; /* points into the parsed buffer */
    size_t payload_len;     /* padding removed */
} sl_rtp_packet_t;

/* Parses one RTP packet (version 2; CSRCs, header extension and padding skipped).
 * SL_ERR_PROTO for anything malformed. */
int sl_rtp_parse(const uint8_t *data, size_t len, sl_rtp_packet_t *out) SL_MUST_CHECK;
/* Writes a 12-byte header (version 2, no CSRC, no extension). */
void sl_rtp_write_header(uint8_t out[SL_RTP_HEADER_LEN], bool marker, uint8_t payload_type, uint16_t seq,
                         uint32_t timestamp, uint32_t ssrc);

/* Walks length-prefixed packets: returns the next packet's bytes and length, or
 * NULL at the end (or on a malformed length). *pos starts at 0. */
const uint8_t *sl_rtp_next_packet(const uint8_t *buf, size_t len, size_t *pos, size_t *packet_len);

/* RTP clock <-> the hub's 90 kHz clock. RTP timestamps are 32-bit and wrap; the
 * mapping unwraps them on a 64-bit timeline that starts at the first packet. */
typedef struct sl_rtp_clock {
    uint32_t rate; /* RTP clock rate, e.g. 90000, 48000, 44100 */
    bool started;
    uint32_t last;  /* last RTP timestamp seen */
    int64_t ticks;  /* the same, unwrapped, in RTP clock units */
} sl_rtp_clock_t;

void sl_rtp_clock_init(sl_rtp_clock_t *c, uint32_t rate);
/* The hub timestamp (90 kHz) of an RTP timestamp: unwrapped against the previous one
 * (a step back of less than 2^31 counts as going back, not a wrap). */
int64_t sl_rtp_clock_to_hub(sl_rtp_clock_t *c, uint32_t rtp_ts);
/* The RTP timestamp of a hub timestamp at `rate` (truncated to 32 bits). */
uint32_t sl_rtp_ts_from_hub(int64_t hub_ts, uint32_t rate);

#endif
