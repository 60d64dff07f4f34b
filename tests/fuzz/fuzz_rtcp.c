/* Fuzzes RTCP. The first byte picks the target:
 *  - even: the rest is a compound packet; every packet is run through every parser,
 *    parsed pointers must stay inside the input, and what a parser accepts is built
 *    again with our builders and must parse back to the same values;
 *  - odd: the rest is a stream of (seq 16, RTP timestamp 32, arrival 32) records for
 *    the receiver statistics, with a report every 8 records, checked for sanity. */
#include <stdlib.h>
#include <string.h>

#include "protocols/rtp/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
    do {         \
        if (!(x)) abort(); \
    } while (0)

typedef struct span {
    const uint8_t *begin, *end;
} span_t;

static void check_inside(span_t in, const uint8_t *p, size_t n)
{
    CHECK(n == 0 || (p != NULL && p >= in.begin && p + n <= in.end));
}

/* The one packet of a freshly built buffer. */
static sl_rtcp_packet_t reparse(const sl_bytes_t *out)
{
    size_t pos = 0;
    sl_rtcp_packet_t p;
    CHECK(sl_rtcp_next(out->data, out->len, &pos, &p) == 1);
    CHECK(pos == out->len);
    return p;
}

static bool same_block(const sl_rtcp_report_block_t *a, const sl_rtcp_report_block_t *b)
{
    return a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost && a->cumulative_lost == b->cumulative_lost &&
           a->highest_seq == b->highest_seq && a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr;
}

static void fuzz_report(const sl_rtcp_packet_t *p)
{
    sl_rtcp_report_t r, back;
    if (sl_rtcp_parse_report(p, &r) != SL_OK) return;
    CHECK(r.block_count <= SL_RTCP_MAX_COUNT);
    for (unsigned i = 0; i < r.block_count; i++)
        CHECK(r.blocks[i].cumulative_lost >= -0x800000 && r.blocks[i].cumulative_lost <= 0x7fffff);
    const sl_rtcp_report_block_t *rb = r.block_count ? &r.blocks[0] : NULL;
    sl_bytes_t out;
    sl_bytes_init(&out);
    int rc = r.has_sender_info ? sl_rtcp_build_sr(&out, r.ssrc, &r.sender, rb) : sl_rtcp_build_rr(&out, r.ssrc, rb);
    CHECK(rc == SL_OK);
    sl_rtcp_packet_t q = reparse(&out);
    CHECK(sl_rtcp_parse_report(&q, &back) == SL_OK);
    CHECK(back.ssrc == r.ssrc && back.has_sender_info == r.has_sender_info);
    CHECK(back.sender.ntp == r.sender.ntp && back.sender.rtp_ts == r.sender.rtp_ts);
    CHECK(back.sender.packet_count == r.sender.packet_count && back.sender.octet_count == r.sender.octet_count);
    CHECK(back.block_count == (rb ? 1 : 0));
    CHECK(rb == NULL || same_block(&back.blocks[0], rb));
    sl_bytes_free(&out);
}

static void fuzz_sdes(span_t in, const sl_rtcp_packet_t *p)
{
    sl_rtcp_sdes_t s, back;
    if (sl_rtcp_parse_sdes(p, &s) != SL_OK) return;
    CHECK(s.count == p->count);
    for (unsigned i = 0; i < s.count; i++) {
        const sl_rtcp_sdes_chunk_t *c = &s.chunks[i];
        check_inside(in, c->cname, c->cname_len);
        sl_bytes_t out;
        sl_bytes_init(&out);
        CHECK(sl_rtcp_build_sdes(&out, c->ssrc, (const char *)c->cname, c->cname_len) == SL_OK);
        sl_rtcp_packet_t q = reparse(&out);
        CHECK(sl_rtcp_parse_sdes(&q, &back) == SL_OK);
        CHECK(back.count == 1 && back.chunks[0].ssrc == c->ssrc && back.chunks[0].cname_len == c->cname_len);
        CHECK(c->cname_len == 0 || memcmp(back.chunks[0].cname, c->cname, c->cname_len) == 0);
        sl_bytes_free(&out);
    }
}

static void fuzz_bye(span_t in, const sl_rtcp_packet_t *p)
{
    sl_rtcp_bye_t b, back;
    if (sl_rtcp_parse_bye(p, &b) != SL_OK) return;
    check_inside(in, b.reason, b.reason_len);
    if (b.count == 0) return;
    sl_bytes_t out;
    sl_bytes_init(&out);
    CHECK(sl_rtcp_build_bye(&out, b.ssrc[0]) == SL_OK);
    sl_rtcp_packet_t q = reparse(&out);
    CHECK(sl_rtcp_parse_bye(&q, &back) == SL_OK && back.count == 1 && back.ssrc[0] == b.ssrc[0]);
    sl_bytes_free(&out);
}

static void mark(uint8_t *set, uint16_t seq) { set[seq >> 3] |= (uint8_t)(1u << (seq & 7)); }

static void fuzz_feedback(span_t in, const sl_rtcp_packet_t *p)
{
    sl_rtcp_fb_t fb;
    if (sl_rtcp_parse_fb(p, &fb) == SL_OK) check_inside(in, fb.fci, fb.fci_len);
    uint32_t sender, media;
    if (sl_rtcp_parse_pli(p, &sender, &media) == SL_OK) {
        sl_bytes_t out;
        sl_bytes_init(&out);
        CHECK(sl_rtcp_build_pli(&out, sender, media) == SL_OK);
        sl_rtcp_packet_t q = reparse(&out);
        uint32_t s2, m2;
        CHECK(sl_rtcp_parse_pli(&q, &s2, &m2) == SL_OK && s2 == sender && m2 == media);
        sl_bytes_free(&out);
    }
    static sl_rtcp_nack_t n, back;
    if (sl_rtcp_parse_nack(p, &n) != SL_OK) return;
    CHECK(n.count >= 1 && n.count <= SL_RTCP_MAX_NACK && (n.count == SL_RTCP_MAX_NACK || !n.truncated));
    /* Rebuilt, the same set of sequence numbers (packing may reorder or merge). */
    sl_bytes_t out;
    sl_bytes_init(&out);
    CHECK(sl_rtcp_build_nack(&out, n.sender_ssrc, n.media_ssrc, n.seq, n.count) == SL_OK);
    sl_rtcp_packet_t q = reparse(&out);
    CHECK(sl_rtcp_parse_nack(&q, &back) == SL_OK && !back.truncated);
    CHECK(back.sender_ssrc == n.sender_ssrc && back.media_ssrc == n.media_ssrc);
    static uint8_t a[8192], b[8192];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    for (unsigned i = 0; i < n.count; i++) mark(a, n.seq[i]);
    for (unsigned i = 0; i < back.count; i++) mark(b, back.seq[i]);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    sl_bytes_free(&out);
}

static void fuzz_compound(const uint8_t *d, size_t n)
{
    span_t in = {d, d + n};
    size_t pos = 0;
    sl_rtcp_packet_t p;
    int rc;
    while ((rc = sl_rtcp_next(d, n, &pos, &p)) == 1) {
        CHECK(pos <= n && p.count <= 31);
        check_inside(in, p.body, p.body_len);
        fuzz_report(&p);
        fuzz_sdes(in, &p);
        fuzz_bye(in, &p);
        fuzz_feedback(in, &p);
    }
    CHECK(rc == 0 || rc == SL_ERR_PROTO);
}

static void fuzz_stats(const uint8_t *d, size_t n)
{
    sl_rtcp_rx_stats_t s;
    sl_rtcp_rx_init(&s);
    sl_reader_t r;
    sl_reader_init(&r, d, n);
    uint64_t now = 0;
    for (unsigned i = 0; sl_reader_left(&r) >= 10; i++) {
        uint16_t seq = sl_rd_be16(&r);
        uint32_t ts = sl_rd_be32(&r), arrival = sl_rd_be32(&r);
        (void)sl_rtcp_rx_packet(&s, seq, ts, arrival);
        now += seq & 63;
        if (i % 8 == 3) sl_rtcp_rx_sr(&s, (uint64_t)ts << 32 | arrival, now);
        if (i % 8 != 7) continue;
        sl_rtcp_report_block_t rb;
        uint32_t received = s.received;
        uint64_t at = now + (arrival & 1023);
        sl_rtcp_rx_report(&s, 1, at, &rb);
        CHECK(rb.cumulative_lost >= -0x800000 && rb.cumulative_lost <= 0x7fffff);
        CHECK(rb.highest_seq == s.cycles + s.max_seq && s.received_prior == received);
        CHECK(rb.jitter == s.jitter >> 4);
        CHECK(s.have_sr ? rb.dlsr == (at - s.sr_ms) * 65536 / 1000 : rb.dlsr == 0 && rb.lsr == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) fuzz_stats(data + 1, size - 1);
    else fuzz_compound(data + 1, size - 1);
    return 0;
}
