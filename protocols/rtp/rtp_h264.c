#include "protocols/rtp/rtp_h264.h"

/* RFC 6184 5.4 and 5.6: STAP-A and FU-A are the aggregation and fragmentation
 * units of the non-interleaved mode. */
#define H264_STAP_A 24
#define H264_FU_A 28

/* RFC 3550 A.1: a step forward of more than MAX_DROPOUT or back of more than
 * MAX_MISORDER sequence numbers is a restart of the sender, not loss or reordering. */
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

/* ---- Packetizer ---- */

void sl__rtp_nal_packetizer_init(sl_rtp_nal_packetizer_t *p, const sl__rtp_nal_fmt_t *fmt, uint8_t pt,
                                 uint32_t ssrc, uint16_t first_seq, size_t mtu)
{
    p->fmt = fmt;
    p->pt = pt;
    p->ssrc = ssrc;
    p->seq = first_seq;
    p->mtu = SL_MIN(SL_MAX(mtu, (size_t)SL_RTP_MIN_MTU), (size_t)SL_RTP_MAX_MTU);
    sl_bytes_init(&p->ps);
}

int sl__rtp_nal_packetizer_set_ps(sl_rtp_nal_packetizer_t *p, const uint8_t *const *nal, const size_t *len,
                                  int count)
{
    sl_bytes_t ps;
    sl_bytes_init(&ps);
    for (int i = 0; i < count; i++) {
        if (sl_bytes_put_be32(&ps, (uint32_t)len[i]) != SL_OK || sl_bytes_append(&ps, nal[i], len[i]) != SL_OK) {
            sl_bytes_free(&ps);
            return SL_ERR_NOMEM;
        }
    }
    sl_bytes_free(&p->ps);
    p->ps = ps;
    return SL_OK;
}

/* The packets of one frame being written. NAL units are grouped while they fit one
 * aggregation packet; the first unit of a group is held back, since a group of one
 * goes as a single NAL unit packet. */
typedef struct pack {
    sl_rtp_nal_packetizer_t *p;
    sl_bytes_t *out;
    uint32_t ts;
    size_t last;          /* offset in out of the last packet's length prefix, or SIZE_MAX */
    const uint8_t *first; /* the group's first unit, not written yet unless ap is open */
    size_t first_len;
    size_t group;         /* the group's size as an aggregation packet payload; 0: empty */
    size_t ap;            /* offset of the open aggregation packet's prefix, or SIZE_MAX */
    size_t ap_hdr;        /* offset of its payload header */
} pack_t;

/* Starts a packet: the length prefix (for payload_len bytes of payload, patched
 * later for aggregation packets) and the RTP header, with room for the payload. */
static int begin_packet(pack_t *k, size_t payload_len)
{
    sl_bytes_t *out = k->out;
    if (sl_bytes_reserve(out, 2 + SL_RTP_HEADER_LEN + payload_len) != SL_OK) return SL_ERR_NOMEM;
    uint8_t *w = out->data + out->len;
    sl_wr_be16(w, (uint16_t)(SL_RTP_HEADER_LEN + payload_len));
    sl_rtp_write_header(w + 2, false, k->p->pt, k->p->seq++, k->ts, k->p->ssrc);
    k->last = out->len;
    out->len += 2 + SL_RTP_HEADER_LEN;
    return SL_OK;
}

static int put_single(pack_t *k, const uint8_t *nal, size_t len)
{
    int rc = begin_packet(k, len);
    return rc != SL_OK ? rc : sl_bytes_append(k->out, nal, len);
}

/* Appends one unit to the open aggregation packet and folds its header in. */
static int put_ap_unit(pack_t *k, const uint8_t *nal, size_t len)
{
    if (sl_bytes_put_be16(k->out, (uint16_t)len) != SL_OK || sl_bytes_append(k->out, nal, len) != SL_OK)
        return SL_ERR_NOMEM;
    k->p->fmt->ap_merge(k->out->data + k->ap_hdr, nal);
    return SL_OK;
}

/* Opens an aggregation packet with the group's held-back first unit. Its payload
 * header starts as that unit's header with the aggregation type. */
static int open_ap(pack_t *k)
{
    const sl__rtp_nal_fmt_t *fmt = k->p->fmt;
    int rc = begin_packet(k, k->group);
    if (rc != SL_OK) return rc;
    k->ap = k->last;
    k->ap_hdr = k->out->len;
    uint8_t hdr[2];
    memcpy(hdr, k->first, fmt->hdr_len);
    fmt->set_type(hdr, fmt->ap_type);
    rc = sl_bytes_append(k->out, hdr, fmt->hdr_len);
    return rc != SL_OK ? rc : put_ap_unit(k, k->first, k->first_len);
}

/* Writes out the pending group: closes its aggregation packet, or sends its only
 * unit alone. */
static int flush_group(pack_t *k)
{
    int rc = SL_OK;
    if (k->group == 0) return rc;
    if (k->ap != SIZE_MAX) {
        sl_wr_be16(k->out->data + k->ap, (uint16_t)(k->out->len - k->ap - 2));
        k->ap = SIZE_MAX;
    } else {
        rc = put_single(k, k->first, k->first_len);
    }
    k->group = 0;
    return rc;
}

/* Cuts a unit larger than the mtu into fragmentation units. The unit header is not
 * sent as such: the FU payload header carries its F/NRI (or F/LayerId/TID) bits and
 * the FU header its type. */
static int put_fu(pack_t *k, const uint8_t *nal, size_t len)
{
    const sl__rtp_nal_fmt_t *fmt = k->p->fmt;
    size_t h = fmt->hdr_len, chunk = k->p->mtu - h - 1;
    uint8_t hdr[3];
    memcpy(hdr, nal, h);
    fmt->set_type(hdr, fmt->fu_type);
    uint8_t type = (uint8_t)fmt->type_of(nal[0]);
    for (size_t off = h, n; off < len; off += n) {
        n = SL_MIN(chunk, len - off);
        hdr[h] = (uint8_t)((off == h ? 0x80 : 0) | (off + n == len ? 0x40 : 0) | type);
        int rc = begin_packet(k, h + 1 + n);
        if (rc == SL_OK) rc = sl_bytes_append(k->out, hdr, h + 1);
        if (rc == SL_OK) rc = sl_bytes_append(k->out, nal + off, n);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

/* sl_avcc_split callback: places one NAL unit. */
static int add_unit(void *opaque, const uint8_t *nal, size_t len)
{
    pack_t *k = opaque;
    const sl__rtp_nal_fmt_t *fmt = k->p->fmt;
    if (len < fmt->hdr_len) return SL_ERR_PROTO;
    if (fmt->type_of(nal[0]) == fmt->aud_type) return SL_OK;
    int rc;
    if (len > k->p->mtu) {
        rc = flush_group(k);
        return rc != SL_OK ? rc : put_fu(k, nal, len);
    }
    if (k->group > 0 && k->group + 2 + len <= k->p->mtu) {
        rc = k->ap == SIZE_MAX ? open_ap(k) : SL_OK;
        if (rc == SL_OK) rc = put_ap_unit(k, nal, len);
        k->group += 2 + len;
        return rc;
    }
    rc = flush_group(k);
    k->first = nal;
    k->first_len = len;
    k->group = fmt->hdr_len + 2 + len;
    return rc;
}

int sl__rtp_nal_packetize(sl_rtp_nal_packetizer_t *p, const sl_frame_t *f, sl_bytes_t *out)
{
    if (f->flags & SL_FRAME_CONFIG) return p->fmt->set_config(p, f->data, f->len);
    pack_t k = {
        .p = p,
        .out = out,
        .ts = sl_rtp_ts_from_hub(f->pts, SL_RTP_VIDEO_RATE),
        .last = SIZE_MAX,
        .ap = SIZE_MAX,
    };
    size_t old_len = out->len;
    uint16_t old_seq = p->seq;
    int rc = SL_OK;
    if (f->flags & SL_FRAME_KEY) rc = sl_avcc_split(p->ps.data, p->ps.len, add_unit, &k);
    if (rc == SL_OK) rc = sl_avcc_split(f->data, f->len, add_unit, &k);
    if (rc == SL_OK) rc = flush_group(&k);
    if (rc != SL_OK) {
        out->len = old_len;
        p->seq = old_seq;
        return rc;
    }
    if (k.last != SIZE_MAX) out->data[k.last + 3] |= 0x80; /* marker: end of the access unit */
    return SL_OK;
}

/* ---- Depacketizer ---- */

void sl__rtp_nal_depacketizer_init(sl_rtp_nal_depacketizer_t *d, const sl__rtp_nal_fmt_t *fmt)
{
    memset(d, 0, sizeof(*d));
    d->fmt = fmt;
    sl_rtp_clock_init(&d->clock, SL_RTP_VIDEO_RATE);
    d->max_au = SL_RTP_VIDEO_MAX_AU;
    sl_bytes_init(&d->au);
    d->wait_key = true;
}

static bool is_single_type(const sl__rtp_nal_fmt_t *fmt, int type)
{
    return type >= fmt->min_single && type <= fmt->max_single;
}

static int ps_kind(const sl__rtp_nal_fmt_t *fmt, int type)
{
    for (int i = 0; i < fmt->ps_count; i++)
        if (fmt->ps_type[i] == type) return i;
    return -1;
}

/* Keeps a parameter set (len <= SL_RTP_MAX_PS_LEN); only a different one makes a new
 * config, since senders repeat them before every keyframe. */
static void keep_ps(sl_rtp_nal_depacketizer_t *d, int kind, const uint8_t *nal, size_t len)
{
    if (d->ps_len[kind] == len && memcmp(d->ps[kind], nal, len) == 0) return;
    memcpy(d->ps[kind], nal, len);
    d->ps_len[kind] = len;
    d->config_dirty = true;
}

int sl__rtp_nal_set_sprop(sl_rtp_nal_depacketizer_t *d, const uint8_t *const *nal, const size_t *len)
{
    const sl__rtp_nal_fmt_t *fmt = d->fmt;
    for (int i = 0; i < fmt->ps_count; i++) {
        if (len[i] < fmt->hdr_len || len[i] > SL_RTP_MAX_PS_LEN || fmt->type_of(nal[i][0]) != fmt->ps_type[i])
            return SL_ERR_PROTO;
    }
    for (int i = 0; i < fmt->ps_count; i++) keep_ps(d, i, nal[i], len[i]);
    return SL_OK;
}

/* What a complete NAL unit means for the access unit: parameter sets are kept for the
 * config, stripped types are left out. 1 when the unit stays in the frame, 0 when it
 * is left out, SL_ERR_PROTO for an oversized parameter set. */
static int classify(sl_rtp_nal_depacketizer_t *d, const uint8_t *nal, size_t len)
{
    const sl__rtp_nal_fmt_t *fmt = d->fmt;
    int type = fmt->type_of(nal[0]);
    int kind = ps_kind(fmt, type);
    if (kind >= 0) {
        if (len > SL_RTP_MAX_PS_LEN) return SL_ERR_PROTO;
        keep_ps(d, kind, nal, len);
        return 0;
    }
    if (fmt->strip_mask >> type & 1) return 0;
    if (type >= fmt->key_min && type <= fmt->key_max) d->au_key = true;
    return 1;
}

/* True when n more bytes keep the access unit within max_au (and the NAL lengths
 * within their 4 bytes). */
static bool au_has_room(const sl_rtp_nal_depacketizer_t *d, size_t n)
{
    size_t max = SL_MIN(d->max_au, (size_t)UINT32_MAX);
    return d->au.len <= max && n <= max - d->au.len;
}

/* Adds a whole NAL unit (from a single NAL unit packet or an aggregation packet). */
static int add_nal(sl_rtp_nal_depacketizer_t *d, const uint8_t *nal, size_t len)
{
    if (len < d->fmt->hdr_len || !is_single_type(d->fmt, d->fmt->type_of(nal[0]))) return SL_ERR_PROTO;
    int rc = classify(d, nal, len);
    if (rc <= 0) return rc;
    if (!au_has_room(d, 4 + len)) return SL_ERR_TOO_BIG;
    if (sl_bytes_put_be32(&d->au, (uint32_t)len) != SL_OK || sl_bytes_append(&d->au, nal, len) != SL_OK)
        return SL_ERR_NOMEM;
    return SL_OK;
}

/* An aggregation packet: 2-byte sizes and units after the payload header (no DONL:
 * sprop-max-don-diff is 0 for H.265). */
static int take_ap(sl_rtp_nal_depacketizer_t *d, const uint8_t *p, size_t n)
{
    sl_reader_t r;
    sl_reader_init(&r, p + d->fmt->hdr_len, n - d->fmt->hdr_len);
    if (sl_reader_left(&r) == 0) return SL_ERR_PROTO;
    while (sl_reader_left(&r) > 0) {
        size_t len = sl_rd_be16(&r);
        const uint8_t *nal = sl_rd_bytes(&r, len);
        if (nal == NULL || len == 0) return SL_ERR_PROTO;
        int rc = add_nal(d, nal, len);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

/* The last fragment arrived: writes the unit's length and classifies it, taking it
 * back out of the access unit when it does not stay in the frame. */
static int close_fu(sl_rtp_nal_depacketizer_t *d)
{
    d->in_fu = false;
    size_t len = d->au.len - d->fu_start - 4;
    sl_wr_be32(d->au.data + d->fu_start, (uint32_t)len);
    int rc = classify(d, d->au.data + d->fu_start + 4, len);
    if (rc <= 0) d->au.len = d->fu_start;
    return rc < 0 ? rc : SL_OK;
}

/* A fragmentation unit: the first one rebuilds the unit header from the payload
 * header and the FU header's type, the others append. */
static int take_fu(sl_rtp_nal_depacketizer_t *d, const uint8_t *p, size_t n)
{
    const sl__rtp_nal_fmt_t *fmt = d->fmt;
    size_t h = fmt->hdr_len;
    if (n < h + 1) return SL_ERR_PROTO;
    uint8_t fu = p[h];
    if (fu & 0x80) {
        int type = fu & fmt->type_mask;
        if (d->in_fu || !is_single_type(fmt, type)) return SL_ERR_PROTO;
        if (!au_has_room(d, 4 + h)) return SL_ERR_TOO_BIG;
        uint8_t hdr[2];
        memcpy(hdr, p, h);
        fmt->set_type(hdr, type);
        d->fu_start = d->au.len;
        if (sl_bytes_put_be32(&d->au, 0) != SL_OK || sl_bytes_append(&d->au, hdr, h) != SL_OK)
            return SL_ERR_NOMEM;
        d->in_fu = true;
    } else if (!d->in_fu) {
        return SL_ERR_PROTO; /* its start was lost or never sent */
    }
    if (!au_has_room(d, n - h - 1)) return SL_ERR_TOO_BIG;
    if (sl_bytes_append(&d->au, p + h + 1, n - h - 1) != SL_OK) return SL_ERR_NOMEM;
    return fu & 0x40 ? close_fu(d) : SL_OK;
}

static int take_payload(sl_rtp_nal_depacketizer_t *d, const uint8_t *p, size_t n)
{
    const sl__rtp_nal_fmt_t *fmt = d->fmt;
    if (n < fmt->hdr_len) return SL_ERR_PROTO;
    int type = fmt->type_of(p[0]);
    if (type == fmt->fu_type) return take_fu(d, p, n);
    if (d->in_fu) return SL_ERR_PROTO; /* the open unit lost its end */
    if (type == fmt->ap_type) return take_ap(d, p, n);
    return add_nal(d, p, n);
}

/* Emits a CONFIG frame when the parameter sets changed and all kinds are known. A
 * set that makes no record holds media back until a good one comes. */
static int flush_config(sl_rtp_nal_depacketizer_t *d, sl_rtp_emit_fn emit, void *arg)
{
    if (!d->config_dirty) return SL_OK;
    for (int i = 0; i < d->fmt->ps_count; i++)
        if (d->ps_len[i] == 0) return SL_OK;
    sl_bytes_t rec;
    sl_bytes_init(&rec);
    int rc = d->fmt->build_config(d, &rec);
    if (rc == SL_ERR_NOMEM) goto out;
    d->config_dirty = false;
    if (rc != SL_OK) {
        d->stats.config_errors++;
        d->have_config = false;
        rc = SL_OK;
        goto out;
    }
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, d->fmt->codec, SL_FRAME_CONFIG, d->au_pts, d->au_pts,
                                     rec.data, rec.len);
    if (f == NULL) {
        d->config_dirty = true;
        rc = SL_ERR_NOMEM;
        goto out;
    }
    d->have_config = true;
    d->stats.configs++;
    rc = emit(arg, f);
    sl_frame_unref(f);
out:
    sl_bytes_free(&rec);
    return rc;
}

/* The frame of a complete, intact access unit, unless it is held back: without a
 * config, or before a keyframe. NULL with *rc set when out of memory. */
static sl_frame_t *au_frame(sl_rtp_nal_depacketizer_t *d, bool key, int *rc)
{
    if (!d->have_config || (d->wait_key && !key)) {
        d->stats.skipped++;
        return NULL;
    }
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, d->fmt->codec, key ? SL_FRAME_KEY : 0, d->au_pts, d->au_pts,
                                     d->au.data, d->au.len);
    /* A frame lost here breaks the references of the next ones. */
    d->wait_key = f == NULL;
    if (f == NULL) *rc = SL_ERR_NOMEM;
    return f;
}

/* Ends the access unit: the config first if it changed, then the frame unless it is
 * damaged, empty, or held back. */
static int finish_au(sl_rtp_nal_depacketizer_t *d, sl_rtp_emit_fn emit, void *arg)
{
    bool bad = d->au_bad || d->in_fu, key = d->au_key;
    d->in_au = d->in_fu = d->au_bad = d->au_key = false;
    int rc = flush_config(d, emit, arg);
    sl_frame_t *f = NULL;
    if (bad) {
        d->stats.dropped++;
        d->wait_key = true;
    } else if (d->au.len > 0 && rc != SL_OK) {
        d->wait_key = true; /* the frame is lost with the config's error */
    } else if (d->au.len > 0) {
        f = au_frame(d, key, &rc);
    }
    d->au.len = 0;
    if (f == NULL) return rc;
    d->stats.frames++;
    rc = emit(arg, f);
    sl_frame_unref(f);
    return rc;
}

/* Checks the sequence number: false for a late or duplicate packet, to be ignored;
 * *gap set when packets are missing before this one. */
static bool check_seq(sl_rtp_nal_depacketizer_t *d, uint16_t seq, bool *gap)
{
    *gap = false;
    if (d->have_seq) {
        int delta = (int16_t)(uint16_t)(seq - d->next_seq);
        if (delta < 0 && delta >= -MAX_MISORDER) {
            d->stats.late++;
            return false;
        }
        if (delta > 0 && delta <= MAX_DROPOUT) d->stats.lost += (uint64_t)delta;
        *gap = delta != 0;
    }
    d->have_seq = true;
    d->next_seq = (uint16_t)(seq + 1);
    return true;
}

int sl__rtp_nal_depacketize(sl_rtp_nal_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit,
                            void *arg)
{
    d->stats.packets++;
    bool gap;
    if (!check_seq(d, pkt->seq, &gap)) return SL_OK;
    int rc;
    if (d->in_au && pkt->timestamp != d->au_ts) {
        /* A gap may have taken the end of the open access unit. */
        d->au_bad |= gap;
        rc = finish_au(d, emit, arg);
        if (rc != SL_OK) return rc;
    }
    if (!d->in_au) {
        d->in_au = true;
        d->au_ts = pkt->timestamp;
        d->au_pts = sl_rtp_clock_to_hub(&d->clock, pkt->timestamp);
    }
    /* ... and the start of this one: the lost packets cannot be placed. */
    d->au_bad |= gap;
    rc = SL_OK;
    if (!d->au_bad) {
        rc = take_payload(d, pkt->payload, pkt->payload_len);
        if (rc != SL_OK) {
            d->au_bad = true;
            if (rc == SL_ERR_PROTO) d->stats.bad_packets++;
            if (rc == SL_ERR_TOO_BIG) d->stats.too_big++;
        }
    }
    int frc = pkt->marker ? finish_au(d, emit, arg) : SL_OK;
    return rc == SL_ERR_NOMEM ? rc : frc;
}

/* ---- H.264 ---- */

static int h264_type_of(uint8_t hdr0) { return sl_h264_nal_type(hdr0); }

static void h264_set_type(uint8_t *hdr, int type) { hdr[0] = (uint8_t)((hdr[0] & 0xe0) | type); }

/* RFC 6184 5.7.1: F is the OR of the units' F bits, NRI the highest NRI. */
static void h264_ap_merge(uint8_t *ap, const uint8_t *nal)
{
    uint8_t f = (ap[0] | nal[0]) & 0x80;
    uint8_t nri = SL_MAX(ap[0] & 0x60, nal[0] & 0x60);
    ap[0] = (uint8_t)(f | nri | (ap[0] & 0x1f));
}

static int h264_build_config(const sl_rtp_nal_depacketizer_t *d, sl_bytes_t *out)
{
    return sl_h264_build_config(d->ps[0], d->ps_len[0], d->ps[1], d->ps_len[1], out);
}

static int h264_set_config(sl_rtp_nal_packetizer_t *p, const uint8_t *rec, size_t len)
{
    sl_h264_config_t c;
    if (sl_h264_parse_config(rec, len, &c) != SL_OK) return SL_ERR_PROTO;
    const uint8_t *nal[2 * SL_H264_MAX_PS];
    size_t nal_len[2 * SL_H264_MAX_PS];
    int n = 0;
    for (int i = 0; i < c.sps_count; i++, n++) {
        nal[n] = c.sps[i];
        nal_len[n] = c.sps_len[i];
    }
    for (int i = 0; i < c.pps_count; i++, n++) {
        nal[n] = c.pps[i];
        nal_len[n] = c.pps_len[i];
    }
    return sl__rtp_nal_packetizer_set_ps(p, nal, nal_len, n);
}

static const sl__rtp_nal_fmt_t h264_fmt = {
    .codec = SL_CODEC_H264,
    .hdr_len = 1,
    .type_mask = 0x1f,
    .ap_type = H264_STAP_A,
    .fu_type = H264_FU_A,
    .min_single = 1,
    .max_single = 23,
    .ps_count = 2,
    .ps_type = {SL_H264_NAL_SPS, SL_H264_NAL_PPS},
    .key_min = SL_H264_NAL_IDR,
    .key_max = SL_H264_NAL_IDR,
    .aud_type = SL_H264_NAL_AUD,
    /* Filler data (12) is padding for constant bit rates, of no use once received. */
    .strip_mask = UINT64_C(1) << SL_H264_NAL_AUD | UINT64_C(1) << SL_H264_NAL_SEI | UINT64_C(1) << 12,
    .type_of = h264_type_of,
    .set_type = h264_set_type,
    .ap_merge = h264_ap_merge,
    .build_config = h264_build_config,
    .set_config = h264_set_config,
};

void sl_rtp_h264_packetizer_init(sl_rtp_h264_packetizer_t *p, uint8_t pt, uint32_t ssrc, uint16_t first_seq,
                                 size_t mtu)
{
    sl__rtp_nal_packetizer_init(p, &h264_fmt, pt, ssrc, first_seq, mtu);
}

void sl_rtp_h264_packetizer_free(sl_rtp_h264_packetizer_t *p) { sl_bytes_free(&p->ps); }

int sl_rtp_h264_packetizer_set_config(sl_rtp_h264_packetizer_t *p, const sl_frame_t *config)
{
    return h264_set_config(p, config->data, config->len);
}

int sl_rtp_h264_packetize(sl_rtp_h264_packetizer_t *p, const sl_frame_t *f, sl_bytes_t *out)
{
    return sl__rtp_nal_packetize(p, f, out);
}

void sl_rtp_h264_depacketizer_init(sl_rtp_h264_depacketizer_t *d) { sl__rtp_nal_depacketizer_init(d, &h264_fmt); }

void sl_rtp_h264_depacketizer_free(sl_rtp_h264_depacketizer_t *d) { sl_bytes_free(&d->au); }

int sl_rtp_h264_depacketizer_set_sprop(sl_rtp_h264_depacketizer_t *d, const uint8_t *sps, size_t sps_len,
                                       const uint8_t *pps, size_t pps_len)
{
    const uint8_t *nal[] = {sps, pps};
    const size_t len[] = {sps_len, pps_len};
    return sl__rtp_nal_set_sprop(d, nal, len);
}

int sl_rtp_h264_depacketize(sl_rtp_h264_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit,
                            void *arg)
{
    return sl__rtp_nal_depacketize(d, pkt, emit, arg);
}
