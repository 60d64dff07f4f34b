#include "protocols/rtp/rtp.h"

int sl_rtp_parse(const uint8_t *data, size_t len, sl_rtp_packet_t *out)
{
    sl_reader_t r;
    sl_reader_init(&r, data, len);
    uint8_t b0 = sl_rd_u8(&r), b1 = sl_rd_u8(&r);
    out->seq = sl_rd_be16(&r);
    out->timestamp = sl_rd_be32(&r);
    out->ssrc = sl_rd_be32(&r);
    if (r.err || b0 >> 6 != 2) return SL_ERR_PROTO;
    out->marker = (b1 & 0x80) != 0;
    out->payload_type = b1 & 0x7f;
    sl_rd_bytes(&r, (size_t)(b0 & 0x0f) * 4); /* CSRCs */
    if (b0 & 0x10) {                          /* header extension */
        sl_rd_be16(&r);
        sl_rd_bytes(&r, (size_t)sl_rd_be16(&r) * 4);
    }
    if (r.err) return SL_ERR_PROTO;
    size_t payload_len = sl_reader_left(&r);
    if (b0 & 0x20) { /* padding: the last byte counts the padding bytes */
        uint8_t pad = payload_len > 0 ? r.end[-1] : 0;
        if (pad == 0 || pad > payload_len) return SL_ERR_PROTO;
        payload_len -= pad;
    }
    out->payload = r.p;
    out->payload_len = payload_len;
    return SL_OK;
}

void sl_rtp_write_header(uint8_t out[SL_RTP_HEADER_LEN], bool marker, uint8_t payload_type, uint16_t seq,
                         uint32_t timestamp, uint32_t ssrc)
{
    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | (payload_type & 0x7f));
    sl_wr_be16(out + 2, seq);
    sl_wr_be32(out + 4, timestamp);
    sl_wr_be32(out + 8, ssrc);
}

const uint8_t *sl_rtp_next_packet(const uint8_t *buf, size_t len, size_t *pos, size_t *packet_len)
{
    if (*pos + 2 > len) return NULL;
    size_t n = (size_t)buf[*pos] << 8 | buf[*pos + 1];
    if (n == 0 || *pos + 2 + n > len) return NULL;
    const uint8_t *p = buf + *pos + 2;
    *pos += 2 + n;
    *packet_len = n;
    return p;
}

void sl_rtp_clock_init(sl_rtp_clock_t *c, uint32_t rate)
{
    /* A rate of 0 (a hostile "a=rtpmap:96 H264/0") must not divide by zero later. */
    c->rate = rate > 0 ? rate : SL_CLOCK_HZ;
    c->started = false;
    c->last = 0;
    c->ticks = 0;
}

int64_t sl_rtp_clock_to_hub(sl_rtp_clock_t *c, uint32_t rtp_ts)
{
    if (c->started) c->ticks += (int32_t)(rtp_ts - c->last);
    else c->ticks = 0;
    c->started = true;
    c->last = rtp_ts;
    /* Exact for 90 kHz video; audio rates convert with truncation of the product,
     * computed on the absolute value so nothing drifts. */
    return c->rate == SL_CLOCK_HZ ? c->ticks : c->ticks * SL_CLOCK_HZ / (int64_t)c->rate;
}

uint32_t sl_rtp_ts_from_hub(int64_t hub_ts, uint32_t rate)
{
    if (rate == 0) rate = SL_CLOCK_HZ;
    int64_t t = rate == SL_CLOCK_HZ ? hub_ts : hub_ts * (int64_t)rate / SL_CLOCK_HZ;
    return (uint32_t)t;
}
