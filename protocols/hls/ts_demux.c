#include "protocols/hls/ts_demux.h"

#include <stdlib.h>

#define SYNC_BYTE 0x47
#define MAX_SECTION_LENGTH 1021 /* section_length limit of PAT and PMT */

/* The fields of one transport packet header and its adaptation field. */
typedef struct pkt_info {
    uint16_t pid;
    uint8_t cc;
    bool pusi, has_payload, discontinuity, random_access;
    int64_t pcr; /* base, or -1 */
    const uint8_t *payload;
    size_t len;
} pkt_info_t;

/* What the continuity counter says about a packet's payload. */
enum cc_verdict { CC_TAKE, CC_DUPLICATE, CC_GAP };

void sl_ts_demuxer_init(sl_ts_demuxer_t *d, size_t max_pes)
{
    memset(d, 0, sizeof(*d));
    d->max_pes = max_pes;
    d->synced = true;
    d->pmt_pid = -1;
    d->pat.cc = -1;
    d->pmt.cc = -1;
    d->stats.last_pcr = -1;
}

void sl_ts_demuxer_free(sl_ts_demuxer_t *d)
{
    for (int i = 0; i < d->es_count; i++) sl_bytes_free(&d->es[i].buf);
    d->es_count = 0;
}

static int64_t read_pcr_base(const uint8_t *p)
{
    return (int64_t)((uint64_t)p[0] << 25 | (uint64_t)p[1] << 17 | (uint64_t)p[2] << 9 |
                     (uint64_t)p[3] << 1 | p[4] >> 7);
}

/* Reads the packet header and adaptation field. False for a packet to ignore. */
static bool parse_packet(sl_ts_demuxer_t *d, const uint8_t *p, pkt_info_t *k)
{
    memset(k, 0, sizeof(*k));
    k->pcr = -1;
    unsigned scrambling = p[3] >> 6, afc = p[3] >> 4 & 3;
    /* A corrupt or scrambled packet is dropped whole; the next one then shows a
     * continuity gap, which drops what it belonged to. */
    if ((p[1] & 0x80) || scrambling != 0 || afc == 0) return false;
    k->pusi = (p[1] & 0x40) != 0;
    k->pid = (uint16_t)((p[1] & 0x1F) << 8 | p[2]);
    k->cc = p[3] & 0x0F;
    k->has_payload = (afc & 1) != 0;
    size_t off = 4;
    if (afc & 2) {
        size_t af_len = p[4];
        if (af_len > (k->has_payload ? 182u : 183u)) return false;
        if (af_len > 0) {
            uint8_t flags = p[5];
            k->discontinuity = (flags & 0x80) != 0;
            k->random_access = (flags & 0x40) != 0;
            if ((flags & 0x10) && af_len >= 7) {
                k->pcr = read_pcr_base(p + 6);
                d->stats.pcr_count++;
                d->stats.last_pcr = k->pcr;
            }
        }
        off = 5 + af_len;
    }
    k->payload = p + off;
    k->len = SL_TS_PACKET_LEN - off;
    return true;
}

static enum cc_verdict check_cc(sl_ts_demuxer_t *d, int8_t *last, const pkt_info_t *k)
{
    int prev = *last;
    *last = (int8_t)k->cc;
    if (prev < 0 || k->discontinuity) return CC_TAKE;
    /* The standard allows one retransmission of a packet, with the same counter. */
    if (k->cc == prev) return CC_DUPLICATE;
    if (k->cc == ((prev + 1) & 0x0F)) return CC_TAKE;
    d->stats.cc_errors++;
    return CC_GAP;
}

/* ---- PSI ---- */

typedef void (*section_fn)(sl_ts_demuxer_t *d, const uint8_t *s, size_t len);

/* Adds bytes to the section being collected; parses it once complete. Returns how
 * many bytes it used. */
static size_t psi_append(sl_ts_demuxer_t *d, sl_ts_psi_t *psi, const uint8_t *p, size_t n,
                         section_fn fn)
{
    size_t used = 0;
    if (psi->have < 3) {
        size_t take = SL_MIN(3u - psi->have, n);
        memcpy(psi->buf + psi->have, p, take);
        psi->have = (uint16_t)(psi->have + take);
        used = take;
        if (psi->have < 3) return used;
    }
    size_t need = 3 + ((psi->buf[1] & 0x0Fu) << 8 | psi->buf[2]);
    if (need > 3 + MAX_SECTION_LENGTH) {
        d->stats.psi_errors++;
        psi->active = false;
        return n;
    }
    size_t take = SL_MIN(need - psi->have, n - used);
    memcpy(psi->buf + psi->have, p + used, take);
    psi->have = (uint16_t)(psi->have + take);
    used += take;
    if (psi->have == need) {
        psi->active = false;
        fn(d, psi->buf, need);
    }
    return used;
}

static void psi_packet(sl_ts_demuxer_t *d, sl_ts_psi_t *psi, const pkt_info_t *k, section_fn fn)
{
    if (!k->has_payload) return;
    enum cc_verdict v = check_cc(d, &psi->cc, k);
    if (v == CC_DUPLICATE) return;
    if (v == CC_GAP) psi->active = false;
    const uint8_t *p = k->payload;
    size_t n = k->len;
    if (!k->pusi) {
        if (psi->active) (void)psi_append(d, psi, p, n, fn);
        return;
    }
    size_t ptr = p[0]; /* pointer_field: bytes ending the previous section */
    if (1 + ptr > n) {
        d->stats.psi_errors++;
        psi->active = false;
        return;
    }
    if (psi->active) {
        (void)psi_append(d, psi, p + 1, ptr, fn);
        if (psi->active) d->stats.psi_errors++;
        psi->active = false;
    }
    p += 1 + ptr;
    n -= 1 + ptr;
    /* Sections follow each other until 0xFF stuffing or the end of the packet. */
    while (n > 0 && p[0] != 0xFF) {
        psi->active = true;
        psi->have = 0;
        size_t used = psi_append(d, psi, p, n, fn);
        if (psi->active) break; /* continues in the next packet */
        p += used;
        n -= used;
    }
}

/* A complete section of table_id that is current, with a good CRC. Other tables
 * may share the PID (SCTE-35 on the PMT PID, say): they are skipped, not errors. */
static bool section_ok(sl_ts_demuxer_t *d, const uint8_t *s, size_t len, uint8_t table_id)
{
    if (s[0] != table_id) return false;
    /* 3 bytes to section_length, 5 of the long header, 4 of CRC. */
    if (len < 12 || !(s[1] & 0x80) || sl_ts_crc32(s, len) != 0) {
        d->stats.psi_errors++;
        return false;
    }
    return (s[5] & 1) != 0; /* current_next_indicator */
}

static void on_pat(sl_ts_demuxer_t *d, const uint8_t *s, size_t len)
{
    if (!section_ok(d, s, len, 0x00)) return;
    for (size_t i = 8; i + 4 <= len - 4; i += 4) {
        uint16_t program = (uint16_t)(s[i] << 8 | s[i + 1]);
        uint16_t pid = (uint16_t)((s[i + 2] & 0x1F) << 8 | s[i + 3]);
        if (program == 0) continue; /* the network PID */
        if (pid == SL_TS_PID_PAT || pid == SL_TS_PID_NULL) break;
        if (pid != d->pmt_pid || program != d->program) {
            d->pmt_pid = pid;
            d->program = program;
            d->pmt.active = false;
            d->pmt.cc = -1;
        }
        break;
    }
}

static int find_es(const sl_ts_demuxer_t *d, uint16_t pid)
{
    for (int i = 0; i < d->es_count; i++) {
        if (d->es[i].pid == pid) return i;
    }
    return -1;
}

/* Adds a PMT entry to next[], moving the stream's state over when it was followed
 * already, so a repeated PMT does not break the PES being collected. */
static void keep_es(sl_ts_demuxer_t *d, sl_ts_es_t *next, int *n, uint8_t type, uint16_t pid)
{
    if (pid == SL_TS_PID_PAT || pid == SL_TS_PID_NULL || pid == d->pmt_pid) return;
    for (int i = 0; i < *n; i++) {
        if (next[i].pid == pid) return;
    }
    if (*n == SL_TS_DEMUX_MAX_ES) return;
    sl_ts_es_t *e = &next[(*n)++];
    int old = find_es(d, pid);
    if (old >= 0) {
        *e = d->es[old];
        sl_bytes_init(&d->es[old].buf); /* moved; next[] has no duplicate pids */
    } else {
        memset(e, 0, sizeof(*e));
        e->pid = pid;
        e->cc = -1;
        e->pcr = -1;
        sl_bytes_init(&e->buf);
    }
    e->stream_type = type;
}

static size_t es_info_length(const uint8_t *entry) { return (entry[3] & 0x0Fu) << 8 | entry[4]; }

static void on_pmt(sl_ts_demuxer_t *d, const uint8_t *s, size_t len)
{
    if (!section_ok(d, s, len, 0x02)) return;
    if ((s[3] << 8 | s[4]) != d->program) return; /* another program sharing the PID */
    size_t end = len - 4;
    size_t first = 12 + ((s[10] & 0x0Fu) << 8 | s[11]);
    /* The whole loop is checked before anything changes. */
    size_t i = first;
    while (i + 5 <= end) i += 5 + es_info_length(s + i);
    if (first > end || i != end) {
        d->stats.psi_errors++;
        return;
    }
    sl_ts_es_t next[SL_TS_DEMUX_MAX_ES];
    int n = 0;
    for (i = first; i < end; i += 5 + es_info_length(s + i))
        keep_es(d, next, &n, s[i], (uint16_t)((s[i + 1] & 0x1F) << 8 | s[i + 2]));
    for (int k = 0; k < d->es_count; k++) sl_bytes_free(&d->es[k].buf);
    memcpy(d->es, next, (size_t)n * sizeof(next[0]));
    d->es_count = n;
}

/* ---- PES ---- */

static int64_t read_timestamp(const uint8_t *p)
{
    return (int64_t)((uint64_t)(p[0] >> 1 & 7) << 30 | (uint64_t)p[1] << 22 |
                     (uint64_t)(p[2] >> 1) << 15 | (uint64_t)p[3] << 7 | p[4] >> 1);
}

/* Stream ids whose PES carry no optional header (13818-1 table 2-21). */
static bool has_pes_header(uint8_t stream_id)
{
    switch (stream_id) {
    case 0xBC: case 0xBE: case 0xBF: case 0xF0: case 0xF1: case 0xF2: case 0xF8: case 0xFF:
        return false;
    default:
        return true;
    }
}

/* Fills pes->stream_id, pts, dts, data and len from a whole PES. */
static bool parse_pes(const uint8_t *p, size_t len, sl_ts_pes_t *pes)
{
    if (len < 6 || p[0] != 0 || p[1] != 0 || p[2] != 1) return false;
    pes->stream_id = p[3];
    if (!has_pes_header(p[3])) {
        pes->data = p + 6;
        pes->len = len - 6;
        return true;
    }
    if (len < 9 || (p[6] & 0xC0) != 0x80) return false;
    unsigned flags = p[7] >> 6;
    size_t hdr = p[8];
    if (9 + hdr > len || flags == 1) return false; /* 01: DTS without PTS, forbidden */
    if (flags >= 2) {
        if (hdr < (flags == 3 ? 10u : 5u)) return false;
        pes->pts = read_timestamp(p + 9);
        if (flags == 3) pes->dts = read_timestamp(p + 14);
    }
    pes->data = p + 9 + hdr;
    pes->len = len - 9 - hdr;
    return true;
}

static int deliver(sl_ts_demuxer_t *d, sl_ts_es_t *es, size_t len, sl_ts_pes_fn cb, void *arg)
{
    sl_ts_pes_t pes = {
        .pid = es->pid,
        .stream_type = es->stream_type,
        .random_access = es->random_access,
        .pts = -1,
        .dts = -1,
        .pcr = es->pcr,
    };
    es->in_pes = false;
    if (!parse_pes(es->buf.data, len, &pes)) {
        d->stats.pes_errors++;
        return 0;
    }
    return cb(arg, &pes);
}

static uint16_t declared_length(const sl_ts_es_t *es) { return (uint16_t)(es->buf.data[4] << 8 | es->buf.data[5]); }

/* Ends the PES being collected when the next one starts or the input ends: one
 * with PES_packet_length 0 is complete; one with a length was not (those are
 * delivered as soon as they are complete). */
static int end_pes(sl_ts_demuxer_t *d, sl_ts_es_t *es, sl_ts_pes_fn cb, void *arg)
{
    if (!es->in_pes) return 0;
    if (es->buf.len >= 6 && declared_length(es) == 0) return deliver(d, es, es->buf.len, cb, arg);
    es->in_pes = false;
    d->stats.pes_errors++;
    return 0;
}

static int es_append(sl_ts_demuxer_t *d, sl_ts_es_t *es, const uint8_t *p, size_t n,
                     sl_ts_pes_fn cb, void *arg)
{
    if (n > d->max_pes - es->buf.len) {
        es->in_pes = false;
        d->stats.pes_errors++;
        return 0;
    }
    int rc = sl_bytes_append(&es->buf, p, n);
    if (rc != SL_OK) {
        es->in_pes = false;
        return rc;
    }
    if (es->buf.len < 6) return 0;
    size_t want = declared_length(es);
    if (want > 0 && es->buf.len >= 6 + want) return deliver(d, es, 6 + want, cb, arg);
    return 0;
}

static int es_packet(sl_ts_demuxer_t *d, sl_ts_es_t *es, const pkt_info_t *k, sl_ts_pes_fn cb,
                     void *arg)
{
    if (!k->has_payload) return 0;
    enum cc_verdict v = check_cc(d, &es->cc, k);
    if (v == CC_DUPLICATE) return 0;
    if (v == CC_GAP && es->in_pes) {
        es->in_pes = false;
        d->stats.pes_errors++;
    }
    if (k->pusi) {
        int rc = end_pes(d, es, cb, arg);
        if (rc != 0) return rc;
        es->in_pes = true;
        es->buf.len = 0;
        es->random_access = k->random_access;
        es->pcr = k->pcr;
    } else if (!es->in_pes) {
        return 0; /* waiting for the start of a PES */
    }
    return es_append(d, es, k->payload, k->len, cb, arg);
}

/* ---- packets and synchronisation ---- */

static int take_packet(sl_ts_demuxer_t *d, const uint8_t *p, sl_ts_pes_fn cb, void *arg)
{
    pkt_info_t k;
    d->stats.packets++;
    if (!parse_packet(d, p, &k)) {
        d->stats.bad_packets++;
        return 0;
    }
    if (k.pid == SL_TS_PID_PAT) {
        psi_packet(d, &d->pat, &k, on_pat);
    } else if (k.pid == d->pmt_pid) {
        psi_packet(d, &d->pmt, &k, on_pmt);
    } else {
        int i = find_es(d, k.pid);
        if (i >= 0) return es_packet(d, &d->es[i], &k, cb, arg);
    }
    return 0;
}

/* While resynchronising, d->pkt holds a candidate packet and the byte after it.
 * A candidate followed by a sync byte is taken, and that byte starts the next
 * packet; otherwise the search goes on from the candidate's next 0x47. */
static int take_candidate(sl_ts_demuxer_t *d, sl_ts_pes_fn cb, void *arg)
{
    if (d->pkt[SL_TS_PACKET_LEN] == SYNC_BYTE) {
        /* pkt[0] is a sync byte too, so keeping one byte keeps the next packet's
         * start while the candidate is parsed in place. */
        d->synced = true;
        d->have = 1;
        return take_packet(d, d->pkt, cb, arg);
    }
    const uint8_t *q = memchr(d->pkt + 1, SYNC_BYTE, SL_TS_PACKET_LEN);
    size_t skip = q != NULL ? (size_t)(q - d->pkt) : sizeof(d->pkt);
    d->stats.skipped_bytes += skip;
    memmove(d->pkt, d->pkt + skip, sizeof(d->pkt) - skip);
    d->have = sizeof(d->pkt) - skip;
    return 0;
}

int sl_ts_demuxer_feed(sl_ts_demuxer_t *d, const uint8_t *data, size_t len, sl_ts_pes_fn cb,
                       void *arg)
{
    if (d->err != 0) return d->err;
    const uint8_t *p = data, *end = len > 0 ? data + len : data;
    while (p < end) {
        if (d->have == 0 && d->synced && *p != SYNC_BYTE) {
            d->synced = false;
            d->stats.sync_losses++;
        }
        if (d->have == 0 && !d->synced) {
            const uint8_t *q = memchr(p, SYNC_BYTE, (size_t)(end - p));
            const uint8_t *to = q != NULL ? q : end;
            d->stats.skipped_bytes += (size_t)(to - p);
            p = to;
            if (q == NULL) break;
        }
        /* One more byte than a packet while resynchronising: the next sync byte. */
        size_t need = d->synced ? SL_TS_PACKET_LEN : SL_TS_PACKET_LEN + 1;
        size_t n = SL_MIN(need - d->have, (size_t)(end - p));
        memcpy(d->pkt + d->have, p, n);
        d->have += n;
        p += n;
        if (d->have < need) break;
        int rc;
        if (d->synced) {
            d->have = 0;
            rc = take_packet(d, d->pkt, cb, arg);
        } else {
            rc = take_candidate(d, cb, arg);
        }
        if (rc != 0) {
            d->err = rc;
            return rc;
        }
    }
    return SL_OK;
}

int sl_ts_demuxer_finish(sl_ts_demuxer_t *d, sl_ts_pes_fn cb, void *arg)
{
    if (d->err != 0) return d->err;
    int rc = 0;
    if (!d->synced && d->have == SL_TS_PACKET_LEN) {
        rc = take_packet(d, d->pkt, cb, arg); /* followed by the end of the input */
    } else {
        d->stats.skipped_bytes += d->have; /* a truncated packet */
    }
    d->have = 0;
    d->synced = true;
    for (int i = 0; i < d->es_count && rc == 0; i++) rc = end_pes(d, &d->es[i], cb, arg);
    if (rc != 0) d->err = rc;
    return rc;
}
