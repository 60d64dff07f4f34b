#include "protocols/rtp/rtcp.h"

#define HEADER_LEN 4
#define BLOCK_LEN 24
#define SENDER_INFO_LEN 20
#define MAX_CNAME 255
#define MAX_NACK_BUILD 1024

#define RTP_SEQ_MOD 65536u
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

/* Seconds from 1900 (NTP epoch) to 1970 (Unix epoch). */
#define NTP_UNIX_OFFSET UINT64_C(2208988800)

int sl_rtcp_next(const uint8_t *data, size_t len, size_t *pos, sl_rtcp_packet_t *out)
{
    if (*pos >= len) return 0;
    sl_reader_t r;
    sl_reader_init(&r, data + *pos, len - *pos);
    uint8_t b0 = sl_rd_u8(&r);
    out->type = sl_rd_u8(&r);
    size_t body_len = (size_t)sl_rd_be16(&r) * 4;
    const uint8_t *body = sl_rd_bytes(&r, body_len);
    if (r.err || b0 >> 6 != 2) return SL_ERR_PROTO;
    if (b0 & 0x20) { /* the last byte counts the padding, itself included */
        uint8_t pad = body_len > 0 ? body[body_len - 1] : 0;
        if (pad == 0 || pad > body_len) return SL_ERR_PROTO;
        body_len -= pad;
    }
    out->count = b0 & 0x1f;
    out->body = body;
    out->body_len = body_len;
    *pos += HEADER_LEN + (size_t)(r.p - body);
    return 1;
}

/* Parsing */

static void read_block(sl_reader_t *r, sl_rtcp_report_block_t *b)
{
    b->ssrc = sl_rd_be32(r);
    uint32_t w = sl_rd_be32(r);
    b->fraction_lost = (uint8_t)(w >> 24);
    int32_t lost = (int32_t)(w & 0xffffff);
    b->cumulative_lost = lost & 0x800000 ? lost - 0x1000000 : lost;
    b->highest_seq = sl_rd_be32(r);
    b->jitter = sl_rd_be32(r);
    b->lsr = sl_rd_be32(r);
    b->dlsr = sl_rd_be32(r);
}

int sl_rtcp_parse_report(const sl_rtcp_packet_t *p, sl_rtcp_report_t *out)
{
    if (p->type != SL_RTCP_SR && p->type != SL_RTCP_RR) return SL_ERR_PROTO;
    sl_reader_t r;
    sl_reader_init(&r, p->body, p->body_len);
    out->ssrc = sl_rd_be32(&r);
    out->has_sender_info = p->type == SL_RTCP_SR;
    memset(&out->sender, 0, sizeof(out->sender));
    if (out->has_sender_info) {
        out->sender.ntp = sl_rd_be64(&r);
        out->sender.rtp_ts = sl_rd_be32(&r);
        out->sender.packet_count = sl_rd_be32(&r);
        out->sender.octet_count = sl_rd_be32(&r);
    }
    out->block_count = p->count;
    for (unsigned i = 0; i < p->count; i++) read_block(&r, &out->blocks[i]);
    return r.err ? SL_ERR_PROTO : SL_OK;
}

/* One SDES chunk: the SSRC, items up to a null item, padding to 32 bits. */
static void read_chunk(sl_reader_t *r, const uint8_t *body, sl_rtcp_sdes_chunk_t *c)
{
    c->ssrc = sl_rd_be32(r);
    c->cname = NULL;
    c->cname_len = 0;
    for (;;) {
        uint8_t type = sl_rd_u8(r);
        if (r->err || type == 0) break;
        uint8_t n = sl_rd_u8(r);
        const uint8_t *text = sl_rd_bytes(r, n);
        if (type == SL_RTCP_SDES_CNAME && text != NULL) {
            c->cname = text;
            c->cname_len = n;
        }
    }
    /* The null item's padding; a body cut short by packet padding may end sooner. */
    size_t pad = (4 - (size_t)(r->p - body) % 4) % 4;
    (void)sl_rd_bytes(r, SL_MIN(pad, sl_reader_left(r)));
}

int sl_rtcp_parse_sdes(const sl_rtcp_packet_t *p, sl_rtcp_sdes_t *out)
{
    if (p->type != SL_RTCP_SDES) return SL_ERR_PROTO;
    sl_reader_t r;
    sl_reader_init(&r, p->body, p->body_len);
    out->count = p->count;
    for (unsigned i = 0; i < p->count && !r.err; i++) read_chunk(&r, p->body, &out->chunks[i]);
    return r.err ? SL_ERR_PROTO : SL_OK;
}

int sl_rtcp_parse_bye(const sl_rtcp_packet_t *p, sl_rtcp_bye_t *out)
{
    if (p->type != SL_RTCP_BYE) return SL_ERR_PROTO;
    sl_reader_t r;
    sl_reader_init(&r, p->body, p->body_len);
    out->count = p->count;
    for (unsigned i = 0; i < p->count; i++) out->ssrc[i] = sl_rd_be32(&r);
    out->reason = NULL;
    out->reason_len = 0;
    if (!r.err && sl_reader_left(&r) > 0) {
        out->reason_len = sl_rd_u8(&r);
        out->reason = sl_rd_bytes(&r, out->reason_len);
        if (out->reason_len == 0) out->reason = NULL;
    }
    return r.err ? SL_ERR_PROTO : SL_OK;
}

int sl_rtcp_parse_fb(const sl_rtcp_packet_t *p, sl_rtcp_fb_t *out)
{
    if ((p->type != SL_RTCP_RTPFB && p->type != SL_RTCP_PSFB) || p->body_len < 8) return SL_ERR_PROTO;
    out->fmt = p->count;
    sl_reader_t r;
    sl_reader_init(&r, p->body, p->body_len);
    out->sender_ssrc = sl_rd_be32(&r);
    out->media_ssrc = sl_rd_be32(&r);
    out->fci = r.p;
    out->fci_len = sl_reader_left(&r);
    return SL_OK;
}

int sl_rtcp_parse_nack(const sl_rtcp_packet_t *p, sl_rtcp_nack_t *out)
{
    sl_rtcp_fb_t fb;
    if (p->type != SL_RTCP_RTPFB || sl_rtcp_parse_fb(p, &fb) != SL_OK || fb.fmt != SL_RTCP_FMT_NACK ||
        fb.fci_len == 0 || fb.fci_len % 4 != 0)
        return SL_ERR_PROTO;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->count = 0;
    out->truncated = false;
    for (size_t i = 0; i < fb.fci_len; i += 4) {
        /* PID is lost, and bit k of BLP says PID + k + 1 is lost too. */
        uint16_t pid = (uint16_t)(fb.fci[i] << 8 | fb.fci[i + 1]);
        uint32_t lost = (uint32_t)(fb.fci[i + 2] << 8 | fb.fci[i + 3]) << 1 | 1;
        for (unsigned k = 0; k < 17; k++) {
            if (!(lost >> k & 1)) continue;
            if (out->count == SL_RTCP_MAX_NACK) {
                out->truncated = true;
                return SL_OK;
            }
            out->seq[out->count++] = (uint16_t)(pid + k);
        }
    }
    return SL_OK;
}

int sl_rtcp_parse_pli(const sl_rtcp_packet_t *p, uint32_t *sender_ssrc, uint32_t *media_ssrc)
{
    sl_rtcp_fb_t fb;
    if (p->type != SL_RTCP_PSFB || sl_rtcp_parse_fb(p, &fb) != SL_OK || fb.fmt != SL_RTCP_FMT_PLI)
        return SL_ERR_PROTO;
    *sender_ssrc = fb.sender_ssrc;
    *media_ssrc = fb.media_ssrc;
    return SL_OK;
}

/* Building. Fixed-size packets are assembled on the stack and appended at once. */

static size_t put_header(uint8_t *w, uint8_t count, uint8_t type, size_t total_len)
{
    w[0] = (uint8_t)(0x80 | count);
    w[1] = type;
    sl_wr_be16(w + 2, (uint16_t)(total_len / 4 - 1));
    return HEADER_LEN;
}

static size_t put_block(uint8_t *w, const sl_rtcp_report_block_t *b)
{
    int32_t lost = SL_MAX(-0x800000, SL_MIN(0x7fffff, b->cumulative_lost));
    sl_wr_be32(w, b->ssrc);
    sl_wr_be32(w + 4, (uint32_t)b->fraction_lost << 24 | ((uint32_t)lost & 0xffffff));
    sl_wr_be32(w + 8, b->highest_seq);
    sl_wr_be32(w + 12, b->jitter);
    sl_wr_be32(w + 16, b->lsr);
    sl_wr_be32(w + 20, b->dlsr);
    return BLOCK_LEN;
}

int sl_rtcp_build_sr(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_sender_info_t *si,
                     const sl_rtcp_report_block_t *rb)
{
    uint8_t pkt[HEADER_LEN + 4 + SENDER_INFO_LEN + BLOCK_LEN];
    size_t len = sizeof(pkt) - (rb ? 0 : BLOCK_LEN);
    uint8_t *w = pkt + put_header(pkt, rb ? 1 : 0, SL_RTCP_SR, len);
    sl_wr_be32(w, ssrc);
    sl_wr_be32(w + 4, (uint32_t)(si->ntp >> 32));
    sl_wr_be32(w + 8, (uint32_t)si->ntp);
    sl_wr_be32(w + 12, si->rtp_ts);
    sl_wr_be32(w + 16, si->packet_count);
    sl_wr_be32(w + 20, si->octet_count);
    if (rb) put_block(w + 24, rb);
    return sl_bytes_append(out, pkt, len);
}

int sl_rtcp_build_rr(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_report_block_t *rb)
{
    uint8_t pkt[HEADER_LEN + 4 + BLOCK_LEN];
    size_t len = sizeof(pkt) - (rb ? 0 : BLOCK_LEN);
    uint8_t *w = pkt + put_header(pkt, rb ? 1 : 0, SL_RTCP_RR, len);
    sl_wr_be32(w, ssrc);
    if (rb) put_block(w + 4, rb);
    return sl_bytes_append(out, pkt, len);
}

int sl_rtcp_build_sdes(sl_bytes_t *out, uint32_t ssrc, const char *cname, size_t cname_len)
{
    if (cname_len > MAX_CNAME) return SL_ERR_TOO_BIG;
    /* Header, SSRC, CNAME item, then at least one null octet up to a 32-bit boundary. */
    uint8_t pkt[HEADER_LEN + 4 + 2 + MAX_CNAME + 4] = {0};
    size_t len = (HEADER_LEN + 4 + 2 + cname_len + 1 + 3) / 4 * 4;
    uint8_t *w = pkt + put_header(pkt, 1, SL_RTCP_SDES, len);
    sl_wr_be32(w, ssrc);
    w[4] = SL_RTCP_SDES_CNAME;
    w[5] = (uint8_t)cname_len;
    if (cname_len > 0) memcpy(w + 6, cname, cname_len);
    return sl_bytes_append(out, pkt, len);
}

int sl_rtcp_build_bye(sl_bytes_t *out, uint32_t ssrc)
{
    uint8_t pkt[HEADER_LEN + 4];
    sl_wr_be32(pkt + put_header(pkt, 1, SL_RTCP_BYE, sizeof(pkt)), ssrc);
    return sl_bytes_append(out, pkt, sizeof(pkt));
}

int sl_rtcp_build_sr_sdes(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_sender_info_t *si,
                          const sl_rtcp_report_block_t *rb, const char *cname, size_t cname_len)
{
    size_t start = out->len;
    int rc = sl_rtcp_build_sr(out, ssrc, si, rb);
    if (rc == SL_OK) rc = sl_rtcp_build_sdes(out, ssrc, cname, cname_len);
    if (rc != SL_OK) out->len = start;
    return rc;
}

int sl_rtcp_build_rr_sdes(sl_bytes_t *out, uint32_t ssrc, const sl_rtcp_report_block_t *rb, const char *cname,
                          size_t cname_len)
{
    size_t start = out->len;
    int rc = sl_rtcp_build_rr(out, ssrc, rb);
    if (rc == SL_OK) rc = sl_rtcp_build_sdes(out, ssrc, cname, cname_len);
    if (rc != SL_OK) out->len = start;
    return rc;
}

static size_t put_fb_header(uint8_t *w, uint8_t fmt, uint8_t type, size_t total_len, uint32_t sender,
                            uint32_t media)
{
    put_header(w, fmt, type, total_len);
    sl_wr_be32(w + 4, sender);
    sl_wr_be32(w + 8, media);
    return HEADER_LEN + 8;
}

int sl_rtcp_build_pli(sl_bytes_t *out, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    uint8_t pkt[HEADER_LEN + 8];
    put_fb_header(pkt, SL_RTCP_FMT_PLI, SL_RTCP_PSFB, sizeof(pkt), sender_ssrc, media_ssrc);
    return sl_bytes_append(out, pkt, sizeof(pkt));
}

int sl_rtcp_build_nack(sl_bytes_t *out, uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seq, size_t n)
{
    if (n == 0 || n > MAX_NACK_BUILD) return SL_ERR_TOO_BIG;
    uint8_t pkt[HEADER_LEN + 8 + 4 * MAX_NACK_BUILD];
    uint8_t *entry = NULL, *w = pkt + HEADER_LEN + 8;
    for (size_t i = 0; i < n; i++) {
        uint16_t pid = entry ? (uint16_t)(entry[0] << 8 | entry[1]) : 0;
        uint16_t d = (uint16_t)(seq[i] - pid);
        if (entry != NULL && d >= 1 && d <= 16) {
            entry[3 - (d - 1) / 8] |= (uint8_t)(1u << ((d - 1) % 8));
            continue;
        }
        entry = w;
        sl_wr_be16(w, seq[i]);
        sl_wr_be16(w + 2, 0);
        w += 4;
    }
    size_t len = (size_t)(w - pkt);
    put_fb_header(pkt, SL_RTCP_FMT_NACK, SL_RTCP_RTPFB, len, sender_ssrc, media_ssrc);
    return sl_bytes_append(out, pkt, len);
}

uint64_t sl_rtcp_ntp_from_unix_us(uint64_t unix_us)
{
    uint64_t sec = unix_us / 1000000 + NTP_UNIX_OFFSET;
    uint64_t frac = (unix_us % 1000000 << 32) / 1000000;
    return sec << 32 | frac;
}

/* Receiver statistics */

void sl_rtcp_rx_init(sl_rtcp_rx_stats_t *s) { memset(s, 0, sizeof(*s)); }

static void init_seq(sl_rtcp_rx_stats_t *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1; /* matches no sequence number */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
    /* A restarted sender has a new timestamp origin too. */
    s->have_transit = false;
}

/* RFC 3550 A.1 update_seq without the probation. */
static bool update_seq(sl_rtcp_rx_stats_t *s, uint16_t seq)
{
    if (!s->started) {
        s->started = true;
        init_seq(s, seq);
        return true;
    }
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (udelta < MAX_DROPOUT) {
        if (seq < s->max_seq) s->cycles += RTP_SEQ_MOD; /* wrapped */
        s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        if (seq != s->bad_seq) {
            s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
            return false;
        }
        init_seq(s, seq); /* two sequential packets: the sender restarted */
    }
    /* Otherwise a duplicate or a reordered packet: counted, max_seq unchanged. */
    return true;
}

bool sl_rtcp_rx_packet(sl_rtcp_rx_stats_t *s, uint16_t seq, uint32_t rtp_ts, uint32_t arrival)
{
    if (!update_seq(s, seq)) return false;
    s->received++;
    /* A.8: J += (|D| - J) / 16, kept times 16 to stay in integers. */
    uint32_t transit = arrival - rtp_ts;
    if (s->have_transit) {
        int32_t d = (int32_t)(transit - s->transit);
        uint32_t ad = d < 0 ? -(uint32_t)d : (uint32_t)d;
        s->jitter += ad - ((s->jitter + 8) >> 4);
    }
    s->transit = transit;
    s->have_transit = true;
    return true;
}

void sl_rtcp_rx_sr(sl_rtcp_rx_stats_t *s, uint64_t ntp, uint64_t now_ms)
{
    s->have_sr = true;
    s->lsr = (uint32_t)(ntp >> 16);
    s->sr_ms = now_ms;
}

uint32_t sl_rtcp_rx_expected(const sl_rtcp_rx_stats_t *s)
{
    return s->started ? s->cycles + s->max_seq - s->base_seq + 1 : 0;
}

int64_t sl_rtcp_rx_lost(const sl_rtcp_rx_stats_t *s)
{
    return (int64_t)sl_rtcp_rx_expected(s) - s->received;
}

void sl_rtcp_rx_report(sl_rtcp_rx_stats_t *s, uint32_t ssrc, uint64_t now_ms, sl_rtcp_report_block_t *rb)
{
    uint32_t expected = sl_rtcp_rx_expected(s);
    uint32_t expected_interval = expected - s->expected_prior;
    uint32_t received_interval = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_interval = (int64_t)expected_interval - received_interval;
    int64_t fraction = 0;
    if (expected_interval != 0 && lost_interval > 0) fraction = (lost_interval << 8) / expected_interval;
    int64_t lost = sl_rtcp_rx_lost(s);
    rb->ssrc = ssrc;
    rb->fraction_lost = (uint8_t)SL_MIN(fraction, 255);
    rb->cumulative_lost = (int32_t)SL_MAX(-0x800000, SL_MIN(0x7fffff, lost));
    rb->highest_seq = s->cycles + s->max_seq;
    rb->jitter = s->jitter >> 4;
    rb->lsr = s->have_sr ? s->lsr : 0;
    uint64_t dlsr = s->have_sr && now_ms > s->sr_ms ? (now_ms - s->sr_ms) * 65536 / 1000 : 0;
    rb->dlsr = (uint32_t)SL_MIN(dlsr, UINT32_MAX);
}
