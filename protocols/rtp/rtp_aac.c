#include "protocols/rtp/rtp_aac.h"

#include <strings.h>

#include "protocols/codec/aac.h"
#include "protocols/codec/bits.h"

#define AU_HEADER_BYTES 4  /* AU-headers-length + one 16-bit AU-header */
#define MAX_AU_SIZE 8191   /* 13-bit AU-size */
#define MIN_MTU 16
#define MAX_MTU (65535 - SL_RTP_HEADER_LEN) /* packets carry a 16-bit length prefix */

void sl_rtp_aac_params_default(sl_rtp_aac_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->size_length = 13;
    p->index_length = 3;
    p->index_delta_length = 3;
}

/* AU sizes above 16 bits would need more than a 64 KiB reassembly buffer, and other
 * fields wider than 32 bits cannot be read in one go: neither occurs in practice. */
static bool params_valid(const sl_rtp_aac_params_t *p)
{
    return p->size_length >= 1 && p->size_length <= 16 && p->index_length <= 16 &&
           p->index_delta_length <= 16 && p->cts_delta_length <= 32 && p->dts_delta_length <= 32 &&
           p->stream_state_length <= 32 && p->aux_size_length <= 32 && p->config_len <= SL_RTP_AAC_MAX_CONFIG;
}

/* fmtp parsing */

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1])) (*n)--;
}

static bool name_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* A decimal number of at most 9 digits (enough for every field), or -1. */
static int64_t parse_uint(const char *s, size_t n)
{
    if (n == 0 || n > 9) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *s, size_t n, sl_rtp_aac_params_t *out)
{
    if (n % 2 != 0) return SL_ERR_PROTO;
    if (n / 2 > SL_RTP_AAC_MAX_CONFIG) return SL_ERR_TOO_BIG;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0) return SL_ERR_PROTO;
        out->config[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    out->config_len = n / 2;
    return SL_OK;
}

enum given { GIVEN_SIZE = 1, GIVEN_INDEX = 2, GIVEN_DELTA = 4 };

/* The bit-length parameters: a name and where its value goes. */
static uint8_t *length_field(sl_rtp_aac_params_t *out, const char *name, size_t n, int *given)
{
    static const struct {
        const char *name;
        size_t offset;
        int given;
    } fields[] = {
        {"sizelength", offsetof(sl_rtp_aac_params_t, size_length), GIVEN_SIZE},
        {"indexlength", offsetof(sl_rtp_aac_params_t, index_length), GIVEN_INDEX},
        {"indexdeltalength", offsetof(sl_rtp_aac_params_t, index_delta_length), GIVEN_DELTA},
        {"ctsdeltalength", offsetof(sl_rtp_aac_params_t, cts_delta_length), 0},
        {"dtsdeltalength", offsetof(sl_rtp_aac_params_t, dts_delta_length), 0},
        {"streamstateindication", offsetof(sl_rtp_aac_params_t, stream_state_length), 0},
        {"auxiliarydatasizelength", offsetof(sl_rtp_aac_params_t, aux_size_length), 0},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(fields); i++) {
        if (name_is(name, n, fields[i].name)) {
            *given |= fields[i].given;
            return (uint8_t *)out + fields[i].offset;
        }
    }
    return NULL;
}

static int parse_param(const char *name, size_t nlen, const char *val, size_t vlen, sl_rtp_aac_params_t *out,
                       int *given, bool *lbr)
{
    if (name_is(name, nlen, "config")) return parse_hex(val, vlen, out);
    if (name_is(name, nlen, "mode")) {
        *lbr = name_is(val, vlen, "AAC-lbr");
        return SL_OK;
    }
    bool duration = name_is(name, nlen, "constantduration");
    bool rap = name_is(name, nlen, "randomaccessindication");
    uint8_t *field = length_field(out, name, nlen, given);
    if (!duration && !rap && field == NULL) return SL_OK; /* not ours */
    int64_t v = parse_uint(val, vlen);
    if (v < 0 || (field != NULL && v > 32) || (rap && v > 1)) return SL_ERR_PROTO;
    if (duration) out->frame_ticks = (uint32_t)v;
    else if (rap) out->random_access = v == 1;
    else *field = (uint8_t)v;
    return SL_OK;
}

int sl_rtp_aac_parse_fmtp(const char *fmtp, size_t len, sl_rtp_aac_params_t *out)
{
    memset(out, 0, sizeof(*out));
    int given = 0;
    bool lbr = false;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && fmtp[end] != ';') end++;
        const char *item = fmtp + i, *eq = memchr(item, '=', end - i);
        i = end + 1;
        if (eq == NULL) continue; /* empty item after a trailing ';' */
        const char *name = item, *val = eq + 1;
        size_t nlen = (size_t)(eq - item), vlen = (size_t)(fmtp + end - val);
        trim(&name, &nlen);
        trim(&val, &vlen);
        int rc = parse_param(name, nlen, val, vlen, out, &given, &lbr);
        if (rc != SL_OK) return rc;
    }
    /* RFC 3640 3.3.5/3.3.6: the lengths each mode fixes. */
    if (!(given & GIVEN_SIZE)) out->size_length = lbr ? 6 : 13;
    if (!(given & GIVEN_INDEX)) out->index_length = lbr ? 2 : 3;
    if (!(given & GIVEN_DELTA)) out->index_delta_length = lbr ? 2 : 3;
    return params_valid(out) ? SL_OK : SL_ERR_PROTO;
}

int sl_rtp_aac_sdp_fmtp(const uint8_t *asc, size_t asc_len, sl_bytes_t *out)
{
    static const char prefix[] = "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
                                 "indexdeltalength=3; config=";
    static const char digits[] = "0123456789ABCDEF";
    sl_aac_config_t cfg;
    if (sl_aac_parse_config(asc, asc_len, &cfg) != SL_OK) return SL_ERR_PROTO;
    if (sl_bytes_reserve(out, sizeof(prefix) - 1 + 2 * asc_len) != SL_OK) return SL_ERR_NOMEM;
    memcpy(out->data + out->len, prefix, sizeof(prefix) - 1);
    out->len += sizeof(prefix) - 1;
    for (size_t i = 0; i < asc_len; i++) {
        out->data[out->len++] = (uint8_t)digits[asc[i] >> 4];
        out->data[out->len++] = (uint8_t)digits[asc[i] & 15];
    }
    return SL_OK;
}

/* Packetizer */

static int asc_rate(const uint8_t *asc, size_t len, uint32_t *rate)
{
    sl_aac_config_t cfg;
    if (sl_aac_parse_config(asc, len, &cfg) != SL_OK) return SL_ERR_PROTO;
    *rate = (uint32_t)cfg.sample_rate;
    return SL_OK;
}

int sl_rtp_aac_packer_init(sl_rtp_aac_packer_t *p, const uint8_t *asc, size_t asc_len, uint8_t payload_type,
                           uint32_t ssrc, uint16_t first_seq, size_t mtu)
{
    if (mtu == 0) mtu = SL_RTP_DEFAULT_MTU;
    if (mtu < MIN_MTU || mtu > MAX_MTU) return SL_ERR_CONFIG;
    p->payload_type = payload_type;
    p->ssrc = ssrc;
    p->seq = first_seq;
    p->mtu = mtu;
    return asc_rate(asc, asc_len, &p->rate);
}

int sl_rtp_aac_packetize(sl_rtp_aac_packer_t *p, const sl_frame_t *f, sl_bytes_t *out)
{
    if (f->flags & SL_FRAME_CONFIG) return asc_rate(f->data, f->len, &p->rate);
    if (f->len == 0) return SL_ERR_PROTO;
    if (f->len > MAX_AU_SIZE) return SL_ERR_TOO_BIG;
    size_t chunk = p->mtu - AU_HEADER_BYTES;
    size_t count = (f->len + chunk - 1) / chunk;
    size_t overhead = 2 + SL_RTP_HEADER_LEN + AU_HEADER_BYTES;
    /* Reserved at once, so the writes below cannot fail half-way. */
    if (sl_bytes_reserve(out, count * overhead + f->len) != SL_OK) return SL_ERR_NOMEM;
    uint32_t ts = sl_rtp_ts_from_hub(f->pts, p->rate);
    uint8_t *w = out->data + out->len;
    for (size_t off = 0; off < f->len; off += chunk) {
        size_t n = SL_MIN(chunk, f->len - off);
        sl_wr_be16(w, (uint16_t)(SL_RTP_HEADER_LEN + AU_HEADER_BYTES + n));
        /* Fragments all carry the whole AU's size (RFC 3640 3.2.3); marker on the last. */
        sl_rtp_write_header(w + 2, off + n == f->len, p->payload_type, p->seq++, ts, p->ssrc);
        sl_wr_be16(w + 2 + SL_RTP_HEADER_LEN, 16);                       /* one 16-bit header */
        sl_wr_be16(w + 4 + SL_RTP_HEADER_LEN, (uint16_t)(f->len << 3)); /* AU-size, AU-Index 0 */
        memcpy(w + overhead, f->data + off, n);
        w += overhead + n;
    }
    out->len = (size_t)(w - out->data);
    return SL_OK;
}

/* Depacketizer */

int sl_rtp_aac_depack_init(sl_rtp_aac_depack_t *d, const sl_rtp_aac_params_t *params,
                           int (*emit)(void *arg, sl_frame_t *f), void *arg)
{
    memset(d, 0, sizeof(*d));
    if (!params_valid(params)) return SL_ERR_PROTO;
    d->params = *params;
    d->emit = emit;
    d->arg = arg;
    sl_bytes_init(&d->frag);
    uint32_t rate = params->clock_rate, asc_rate_hz = 0;
    if (params->config_len > 0) {
        sl_aac_config_t cfg;
        if (sl_aac_parse_config(params->config, params->config_len, &cfg) != SL_OK) return SL_ERR_PROTO;
        asc_rate_hz = (uint32_t)cfg.sample_rate;
        if (rate == 0) rate = asc_rate_hz;
    }
    if (rate == 0) return SL_ERR_PROTO;
    sl_rtp_clock_init(&d->clock, rate);
    /* An AU is 1024 samples at the core coder's rate; a clock at the SBR output rate
     * (twice the core rate) counts 2048 ticks for it. */
    d->frame_ticks = params->frame_ticks;
    if (d->frame_ticks == 0) {
        uint64_t t = asc_rate_hz ? (uint64_t)SL_RTP_AAC_FRAME_SAMPLES * rate / asc_rate_hz : SL_RTP_AAC_FRAME_SAMPLES;
        d->frame_ticks = t > 0 && t <= UINT32_MAX ? (uint32_t)t : SL_RTP_AAC_FRAME_SAMPLES;
    }
    return SL_OK;
}

void sl_rtp_aac_depack_free(sl_rtp_aac_depack_t *d) { sl_bytes_free(&d->frag); }

static void drop_fragment(sl_rtp_aac_depack_t *d)
{
    d->dropped_fragments += d->frag_packets;
    d->frag_packets = 0;
    d->in_frag = false;
    d->frag.len = 0;
}

static int emit_frame(sl_rtp_aac_depack_t *d, uint8_t flags, int64_t ts, const uint8_t *data, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, flags, ts, ts, data, len);
    if (f == NULL) return SL_ERR_NOMEM;
    int rc = d->emit(d->arg, f);
    sl_frame_unref(f);
    return rc;
}

static int emit_au(sl_rtp_aac_depack_t *d, uint32_t rtp_ts, const uint8_t *data, size_t len)
{
    int64_t ts = sl_rtp_clock_to_hub(&d->clock, rtp_ts);
    if (!d->config_sent && d->params.config_len > 0) {
        int rc = emit_frame(d, SL_FRAME_CONFIG, ts, d->params.config, d->params.config_len);
        if (rc != SL_OK) return rc;
    }
    d->config_sent = true;
    d->frames++;
    return emit_frame(d, 0, ts, data, len);
}

typedef struct au_header {
    uint32_t size;
    uint32_t index; /* AU-Index in the first header, AU-Index-delta in the others */
} au_header_t;

static size_t bits_used(const sl_bits_t *b, const uint8_t *start)
{
    return (size_t)(b->p - start) * 8 - b->avail;
}

/* Reads one AU-header; the fields after the index only need skipping for AAC (its
 * composition and decoding times coincide, every AU is a random access point). */
static au_header_t read_au_header(sl_bits_t *b, const sl_rtp_aac_params_t *p, bool first)
{
    au_header_t h;
    h.size = sl_bits_read(b, p->size_length);
    h.index = sl_bits_read(b, first ? p->index_length : p->index_delta_length);
    if (p->cts_delta_length > 0 && sl_bits_flag(b)) sl_bits_skip(b, p->cts_delta_length);
    if (p->dts_delta_length > 0 && sl_bits_flag(b)) sl_bits_skip(b, p->dts_delta_length);
    if (p->random_access) sl_bits_skip(b, 1);
    sl_bits_skip(b, p->stream_state_length);
    return h;
}

/* Skips the auxiliary section: its size field and that many bits, padded to a byte. */
static void skip_aux(sl_reader_t *r, unsigned size_length)
{
    if (size_length == 0) return;
    sl_bits_t b;
    sl_bits_init(&b, r->p, sl_reader_left(r), false);
    uint64_t bits = (uint64_t)size_length + sl_bits_read(&b, size_length);
    if (b.err || (bits + 7) / 8 > sl_reader_left(r)) {
        r->err = true;
        return;
    }
    (void)sl_rd_bytes(r, (size_t)((bits + 7) / 8));
}

/* One fragment of an AU too large for a packet: data (n bytes) is part of an AU of
 * `size` bytes stamped pkt->timestamp. */
static int on_fragment(sl_rtp_aac_depack_t *d, const sl_rtp_packet_t *pkt, uint32_t size, const uint8_t *data,
                       size_t n)
{
    if (d->in_frag && (pkt->timestamp != d->frag_ts || size != d->frag_size)) drop_fragment(d);
    if (!d->in_frag) {
        d->in_frag = true;
        d->frag_ts = pkt->timestamp;
        d->frag_size = size;
        d->frag.len = 0;
    }
    d->frag_packets++;
    if (n > d->frag_size - d->frag.len) {
        drop_fragment(d);
        return SL_ERR_PROTO;
    }
    if (sl_bytes_append(&d->frag, data, n) != SL_OK) {
        drop_fragment(d);
        return SL_ERR_NOMEM;
    }
    if (d->frag.len < d->frag_size) {
        /* The last fragment arrived and the AU is still short: a fragment was lost. */
        if (pkt->marker) drop_fragment(d);
        return SL_OK;
    }
    d->in_frag = false;
    d->frag_packets = 0;
    d->frag.len = 0;
    return emit_au(d, d->frag_ts, d->frag.data, d->frag_size);
}

int sl_rtp_aac_depack_push(sl_rtp_aac_depack_t *d, const sl_rtp_packet_t *pkt)
{
    if (d->have_seq && pkt->seq != d->next_seq) drop_fragment(d);
    d->have_seq = true;
    d->next_seq = (uint16_t)(pkt->seq + 1);

    sl_reader_t r;
    sl_reader_init(&r, pkt->payload, pkt->payload_len);
    size_t header_bits = sl_rd_be16(&r);
    const uint8_t *headers = sl_rd_bytes(&r, (header_bits + 7) / 8);
    skip_aux(&r, d->params.aux_size_length);
    if (r.err || header_bits == 0) {
        drop_fragment(d);
        return SL_ERR_PROTO;
    }
    sl_bits_t b;
    sl_bits_init(&b, headers, (header_bits + 7) / 8, false);
    uint32_t rtp_ts = pkt->timestamp;
    for (bool first = true; bits_used(&b, headers) < header_bits; first = false) {
        au_header_t h = read_au_header(&b, &d->params, first);
        if (b.err || bits_used(&b, headers) > header_bits) {
            drop_fragment(d);
            return SL_ERR_PROTO;
        }
        if (!first) rtp_ts += d->frame_ticks * (h.index + 1);
        bool alone = first && bits_used(&b, headers) == header_bits;
        if (alone && h.size > sl_reader_left(&r)) return on_fragment(d, pkt, h.size, r.p, sl_reader_left(&r));
        drop_fragment(d); /* a whole AU where a fragment was expected */
        const uint8_t *data = sl_rd_bytes(&r, h.size);
        if (data == NULL) return SL_ERR_PROTO;
        if (h.size == 0) continue;
        int rc = emit_au(d, rtp_ts, data, h.size);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}
