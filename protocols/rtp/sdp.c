/* SDP parsing, lookups, codec parameters and writing. */
#include "protocols/rtp/sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "protocols/codec/aac.h"
#include "protocols/codec/h264.h"
#include "protocols/codec/h265.h"
#include "protocols/rtp/rtp_opus.h"
#include "sluice/auth.h"

/* Everything the pointers of a parsed sl_sdp_t refer to. Sections are parsed in
 * order, so each one's attributes, rtpmaps and fmtps are a contiguous run of a pool. */
struct sl_sdp_store {
    sl_sdp_attr_t attrs[SL_SDP_MAX_ATTRS_TOTAL];
    int attr_count;
    sl_sdp_rtpmap_t rtpmaps[SL_SDP_MAX_RTPMAPS_TOTAL];
    int rtpmap_count;
    sl_sdp_fmtp_t fmtps[SL_SDP_MAX_RTPMAPS_TOTAL];
    int fmtp_count;
    sl_sdp_param_t params[SL_SDP_MAX_PARAMS_TOTAL];
    int param_count;
    size_t arena_len, arena_cap;
    char arena[]; /* the strings */
};

typedef struct parser {
    sl_sdp_t *sdp;
    sl_sdp_store_t *st;
    sl_sdp_media_t *m; /* the current section, NULL at session level */
} parser_t;

/* A slice of the input. */
typedef struct span {
    const char *p;
    size_t n;
} span_t;

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static span_t trim(span_t s)
{
    while (s.n > 0 && is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && is_blank(s.p[s.n - 1])) s.n--;
    return s;
}

static bool span_eq(span_t s, const char *lit)
{
    return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

/* Takes the next blank-separated field of *s; false when none is left. */
static bool next_field(span_t *s, span_t *field)
{
    *s = trim(*s);
    if (s->n == 0) return false;
    size_t i = 0;
    while (i < s->n && !is_blank(s->p[i])) i++;
    *field = (span_t){s->p, i};
    s->p += i;
    s->n -= i;
    return true;
}

/* Splits *s at the first `sep`: *head is what precedes it, *s what follows (empty
 * when sep is absent). Returns whether sep was found. */
static bool split_at(span_t *s, char sep, span_t *head)
{
    const char *q = memchr(s->p, sep, s->n);
    size_t i = q ? (size_t)(q - s->p) : s->n;
    *head = (span_t){s->p, i};
    s->p += q ? i + 1 : i;
    s->n -= q ? i + 1 : i;
    return q != NULL;
}

static bool parse_u64(span_t s, uint64_t max, uint64_t *out)
{
    if (s.n == 0 || s.n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return false;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_pt(span_t s, uint8_t *pt)
{
    uint64_t v;
    if (!parse_u64(s, 127, &v)) return false;
    *pt = (uint8_t)v;
    return true;
}

/* A NUL-terminated copy of s in the arena. The arena is sized so it cannot run out
 * (see sl_sdp_parse); NULL if it ever did. */
static const char *dup_span(parser_t *ps, span_t s)
{
    if (s.n == 0) return "";
    sl_sdp_store_t *st = ps->st;
    if (st->arena_cap - st->arena_len < s.n + 1) return NULL;
    char *d = st->arena + st->arena_len;
    memcpy(d, s.p, s.n);
    d[s.n] = '\0';
    st->arena_len += s.n + 1;
    return d;
}

static int dup_into(parser_t *ps, span_t s, const char **out)
{
    *out = dup_span(ps, s);
    return *out ? SL_OK : SL_ERR_TOO_BIG;
}

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> */
static int parse_origin(parser_t *ps, span_t v)
{
    const char **f[] = {&ps->sdp->origin.username,     &ps->sdp->origin.sess_id,
                        &ps->sdp->origin.sess_version, &ps->sdp->origin.nettype,
                        &ps->sdp->origin.addrtype,     &ps->sdp->origin.address};
    span_t field;
    for (size_t i = 0; i < SL_ARRAY_SIZE(f); i++) {
        if (!next_field(&v, &field)) return SL_ERR_PROTO;
        int rc = dup_into(ps, field, f[i]);
        if (rc != SL_OK) return rc;
    }
    return next_field(&v, &field) ? SL_ERR_PROTO : SL_OK;
}

/* c=<nettype> <addrtype> <connection-address> */
static int parse_conn(parser_t *ps, span_t v)
{
    sl_sdp_conn_t *c = ps->m ? &ps->m->conn : &ps->sdp->conn;
    span_t a, b, d, extra;
    if (!next_field(&v, &a) || !next_field(&v, &b) || !next_field(&v, &d) || next_field(&v, &extra))
        return SL_ERR_PROTO;
    int rc = dup_into(ps, a, &c->nettype);
    if (rc == SL_OK) rc = dup_into(ps, b, &c->addrtype);
    if (rc == SL_OK) rc = dup_into(ps, d, &c->address);
    return rc;
}

/* t=<start-time> <stop-time> */
static int parse_timing(parser_t *ps, span_t v)
{
    span_t a, b, extra;
    if (!next_field(&v, &a) || !next_field(&v, &b) || next_field(&v, &extra) ||
        !parse_u64(a, UINT64_MAX, &ps->sdp->start) || !parse_u64(b, UINT64_MAX, &ps->sdp->stop))
        return SL_ERR_PROTO;
    return SL_OK;
}

static bool is_rtp_proto(const char *proto) { return strstr(proto, "RTP/") != NULL; }

/* m=<media> <port>[/<count>] <proto> <fmt> ... */
static int parse_media(parser_t *ps, span_t v)
{
    sl_sdp_t *sdp = ps->sdp;
    sl_sdp_store_t *st = ps->st;
    if (sdp->media_count == SL_SDP_MAX_MEDIA) return SL_ERR_TOO_BIG;
    sl_sdp_media_t *m = &sdp->media[sdp->media_count++];
    ps->m = m;
    m->attrs = &st->attrs[st->attr_count];
    m->rtpmaps = &st->rtpmaps[st->rtpmap_count];
    m->fmtps = &st->fmtps[st->fmtp_count];

    span_t type, port, proto, port_num;
    if (!next_field(&v, &type) || !next_field(&v, &port) || !next_field(&v, &proto)) return SL_ERR_PROTO;
    span_t formats = trim(v);
    uint64_t n, count;
    bool has_count = split_at(&port, '/', &port_num);
    if (formats.n == 0 || !parse_u64(port_num, 65535, &n) ||
        (has_count && !parse_u64(port, 65535, &count)))
        return SL_ERR_PROTO;
    m->port = (uint16_t)n;
    int rc = dup_into(ps, type, &m->type);
    if (rc == SL_OK) rc = dup_into(ps, proto, &m->proto);
    if (rc == SL_OK) rc = dup_into(ps, formats, &m->formats);
    if (rc != SL_OK || !is_rtp_proto(m->proto)) return rc;
    span_t f;
    while (next_field(&formats, &f)) {
        if (m->pt_count == SL_SDP_MAX_FORMATS) return SL_ERR_TOO_BIG;
        if (!parse_pt(f, &m->pts[m->pt_count++])) return SL_ERR_PROTO;
    }
    return SL_OK;
}

/* a=rtpmap:<pt> <encoding>/<clock>[/<channels>] */
static int parse_rtpmap(parser_t *ps, span_t v)
{
    sl_sdp_store_t *st = ps->st;
    if (ps->m->rtpmap_count == SL_SDP_MAX_FORMATS || st->rtpmap_count == SL_SDP_MAX_RTPMAPS_TOTAL)
        return SL_ERR_TOO_BIG;
    sl_sdp_rtpmap_t *r = &st->rtpmaps[st->rtpmap_count];
    span_t pt, desc, extra, enc, clock, channels;
    if (!next_field(&v, &pt) || !next_field(&v, &desc) || next_field(&v, &extra) ||
        !parse_pt(pt, &r->pt))
        return SL_ERR_PROTO;
    uint64_t x;
    split_at(&desc, '/', &enc);
    bool has_channels = split_at(&desc, '/', &clock);
    channels = desc;
    if (enc.n == 0 || !parse_u64(clock, UINT32_MAX, &x) || x == 0) return SL_ERR_PROTO;
    r->clock = (uint32_t)x;
    r->channels = 0;
    if (has_channels) {
        if (!parse_u64(channels, 255, &x) || x == 0) return SL_ERR_PROTO;
        r->channels = (uint8_t)x;
    }
    int rc = dup_into(ps, enc, &r->encoding);
    if (rc != SL_OK) return rc;
    st->rtpmap_count++;
    ps->m->rtpmap_count++;
    return SL_OK;
}

/* Splits fmtp parameters "k=v; k2=v2" into the params pool. */
static int parse_params(parser_t *ps, span_t v, sl_sdp_fmtp_t *f)
{
    sl_sdp_store_t *st = ps->st;
    f->params = &st->params[st->param_count];
    f->param_count = 0;
    while (v.n > 0) {
        span_t item, key;
        split_at(&v, ';', &item);
        item = trim(item);
        if (item.n == 0) continue; /* "a=1;;b=2;" */
        split_at(&item, '=', &key);
        key = trim(key);
        if (key.n == 0) return SL_ERR_PROTO;
        if (f->param_count == SL_SDP_MAX_FMTP_PARAMS || st->param_count == SL_SDP_MAX_PARAMS_TOTAL)
            return SL_ERR_TOO_BIG;
        sl_sdp_param_t *p = &st->params[st->param_count];
        int rc = dup_into(ps, key, &p->key);
        if (rc == SL_OK) rc = dup_into(ps, trim(item), &p->value);
        if (rc != SL_OK) return rc;
        st->param_count++;
        f->param_count++;
    }
    return SL_OK;
}

/* a=fmtp:<pt> <parameters> */
static int parse_fmtp(parser_t *ps, span_t v)
{
    sl_sdp_store_t *st = ps->st;
    if (ps->m->fmtp_count == SL_SDP_MAX_FORMATS || st->fmtp_count == SL_SDP_MAX_RTPMAPS_TOTAL)
        return SL_ERR_TOO_BIG;
    sl_sdp_fmtp_t *f = &st->fmtps[st->fmtp_count];
    span_t pt;
    if (!next_field(&v, &pt) || !parse_pt(pt, &f->pt)) return SL_ERR_PROTO;
    v = trim(v);
    int rc = dup_into(ps, v, &f->raw);
    if (rc == SL_OK) rc = parse_params(ps, v, f);
    if (rc != SL_OK) return rc;
    st->fmtp_count++;
    ps->m->fmtp_count++;
    return SL_OK;
}

static sl_sdp_dir_t dir_of(const char *name)
{
    if (strcmp(name, "sendrecv") == 0) return SL_SDP_DIR_SENDRECV;
    if (strcmp(name, "sendonly") == 0) return SL_SDP_DIR_SENDONLY;
    if (strcmp(name, "recvonly") == 0) return SL_SDP_DIR_RECVONLY;
    if (strcmp(name, "inactive") == 0) return SL_SDP_DIR_INACTIVE;
    return SL_SDP_DIR_NONE;
}

/* Keeps a generic attribute and fills the shortcuts it stands for. */
static int add_attr(parser_t *ps, span_t name, span_t value)
{
    sl_sdp_store_t *st = ps->st;
    int *count = ps->m ? &ps->m->attr_count : &ps->sdp->attr_count;
    if (*count == SL_SDP_MAX_ATTRS || st->attr_count == SL_SDP_MAX_ATTRS_TOTAL) return SL_ERR_TOO_BIG;
    sl_sdp_attr_t *a = &st->attrs[st->attr_count];
    int rc = dup_into(ps, name, &a->name);
    if (rc == SL_OK) rc = dup_into(ps, value, &a->value);
    if (rc != SL_OK) return rc;
    st->attr_count++;
    (*count)++;

    sl_sdp_dir_t dir = dir_of(a->name);
    bool control = strcmp(a->name, "control") == 0;
    if (ps->m) {
        if (control && !ps->m->control) ps->m->control = a->value;
        if (strcmp(a->name, "mid") == 0 && !ps->m->mid) ps->m->mid = a->value;
        if (strcmp(a->name, "rtcp-mux") == 0) ps->m->rtcp_mux = true;
        if (dir != SL_SDP_DIR_NONE) ps->m->dir = dir;
    } else {
        if (control && !ps->sdp->control) ps->sdp->control = a->value;
        if (dir != SL_SDP_DIR_NONE) ps->sdp->dir = dir;
    }
    return SL_OK;
}

/* a=<name>[:<value>]: rtpmap and fmtp of RTP sections are parsed, everything else
 * is kept, name and value trimmed. An attribute without a name says nothing and is
 * skipped. */
static int parse_attr(parser_t *ps, span_t v)
{
    span_t name;
    split_at(&v, ':', &name);
    name = trim(name);
    if (name.n == 0) return SL_OK;
    v = trim(v);
    if (ps->m && is_rtp_proto(ps->m->proto)) {
        if (span_eq(name, "rtpmap")) return parse_rtpmap(ps, v);
        if (span_eq(name, "fmtp")) return parse_fmtp(ps, v);
    }
    return add_attr(ps, name, v);
}

static int parse_line(parser_t *ps, char type, span_t v)
{
    switch (type) {
    case 'o': return ps->m ? SL_ERR_PROTO : parse_origin(ps, v);
    case 's':
        if (!ps->m) return dup_into(ps, v, &ps->sdp->name);
        return SL_OK;
    case 'c': return parse_conn(ps, v);
    case 't': return ps->m ? SL_OK : parse_timing(ps, v);
    case 'm': return parse_media(ps, v);
    case 'a': return parse_attr(ps, v);
    case 'v': return SL_ERR_PROTO; /* a second description */
    default: return SL_OK;         /* i=, u=, e=, p=, b=, z=, k=, r= and unknown types */
    }
}

static int parse_text(parser_t *ps, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    bool first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        span_t line = {p, (size_t)(line_end - p)};
        p = nl ? nl + 1 : end;
        if (line.n > 0 && line.p[line.n - 1] == '\r') line.n--;
        if (line.n > SL_SDP_MAX_LINE) return SL_ERR_TOO_BIG;
        /* Neither may reach a value: strings are NUL-terminated and the writer ends
         * lines with CRLF. */
        if (memchr(line.p, '\0', line.n) || memchr(line.p, '\r', line.n)) return SL_ERR_PROTO;
        while (line.n > 0 && is_blank(line.p[line.n - 1])) line.n--;
        if (line.n == 0) continue;
        if (line.n < 2 || line.p[1] != '=') return SL_ERR_PROTO;
        span_t v = {line.p + 2, line.n - 2};
        if (first) {
            if (line.p[0] != 'v' || !span_eq(trim(v), "0")) return SL_ERR_PROTO;
            first = false;
            continue;
        }
        int rc = parse_line(ps, line.p[0], v);
        if (rc != SL_OK) return rc;
    }
    return first ? SL_ERR_PROTO : SL_OK;
}

int sl_sdp_parse(const char *text, size_t len, sl_sdp_t **out)
{
    *out = NULL;
    if (len == 0) return SL_ERR_PROTO; /* no v= line; and text may then be NULL */
    if (len > SL_SDP_MAX_SIZE) return SL_ERR_TOO_BIG;
    /* Each string copied is a field of a line plus its NUL, and the NUL fits in the
     * separator or the "x=" before it; only fmtp values are copied twice (raw and
     * split). So twice the input bounds the arena. */
    size_t cap = 2 * len + 16;
    sl_sdp_t *sdp = calloc(1, sizeof(*sdp));
    sl_sdp_store_t *st = calloc(1, sizeof(*st) + cap);
    if (!sdp || !st) {
        free(sdp);
        free(st);
        return SL_ERR_NOMEM;
    }
    st->arena_cap = cap;
    sdp->store = st;
    sdp->attrs = st->attrs;
    parser_t ps = {.sdp = sdp, .st = st, .m = NULL};
    int rc = parse_text(&ps, text, len);
    if (rc != SL_OK) {
        sl_sdp_free(sdp);
        return rc;
    }
    *out = sdp;
    return SL_OK;
}

void sl_sdp_free(sl_sdp_t *sdp)
{
    if (!sdp) return;
    free(sdp->store);
    free(sdp);
}

/* Lookups */

static const char *attr_next(const sl_sdp_attr_t *attrs, int count, const char *name, int *pos)
{
    for (; *pos < count; (*pos)++) {
        if (strcmp(attrs[*pos].name, name) == 0) return attrs[(*pos)++].value;
    }
    return NULL;
}

const char *sl_sdp_attr_get(const sl_sdp_media_t *m, const char *name)
{
    int pos = 0;
    return attr_next(m->attrs, m->attr_count, name, &pos);
}

const char *sl_sdp_attr_next(const sl_sdp_media_t *m, const char *name, int *pos)
{
    if (*pos < 0) return NULL;
    return attr_next(m->attrs, m->attr_count, name, pos);
}

const char *sl_sdp_session_attr_get(const sl_sdp_t *sdp, const char *name)
{
    int pos = 0;
    return attr_next(sdp->attrs, sdp->attr_count, name, &pos);
}

const sl_sdp_rtpmap_t *sl_sdp_rtpmap_get(const sl_sdp_media_t *m, uint8_t pt)
{
    for (int i = 0; i < m->rtpmap_count; i++)
        if (m->rtpmaps[i].pt == pt) return &m->rtpmaps[i];
    return NULL;
}

const sl_sdp_rtpmap_t *sl_sdp_rtpmap_find(const sl_sdp_media_t *m, const char *encoding)
{
    for (int i = 0; i < m->pt_count; i++) {
        const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(m, m->pts[i]);
        if (r && strcasecmp(r->encoding, encoding) == 0) return r;
    }
    return NULL;
}

const sl_sdp_fmtp_t *sl_sdp_fmtp_of(const sl_sdp_media_t *m, uint8_t pt)
{
    for (int i = 0; i < m->fmtp_count; i++)
        if (m->fmtps[i].pt == pt) return &m->fmtps[i];
    return NULL;
}

const char *sl_sdp_fmtp_get(const sl_sdp_media_t *m, uint8_t pt, const char *key)
{
    const sl_sdp_fmtp_t *f = sl_sdp_fmtp_of(m, pt);
    for (int i = 0; f && i < f->param_count; i++)
        if (strcasecmp(f->params[i].key, key) == 0) return f->params[i].value;
    return NULL;
}

sl_codec_t sl_sdp_codec_of(const sl_sdp_rtpmap_t *r)
{
    if (strcasecmp(r->encoding, "H264") == 0) return SL_CODEC_H264;
    if (strcasecmp(r->encoding, "H265") == 0) return SL_CODEC_H265;
    if (strcasecmp(r->encoding, "MPEG4-GENERIC") == 0) return SL_CODEC_AAC;
    if (strcasecmp(r->encoding, "opus") == 0) return SL_CODEC_OPUS;
    return SL_CODEC_NONE;
}

/* Codec parameters */

int sl_sdp_sprop_decode(const char *value, sl_bytes_t *out)
{
    size_t start = out->len;
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        size_t at = out->len;
        int rc = SL_ERR_PROTO;
        if (n > 0 && (rc = sl_bytes_put_be32(out, 0)) == SL_OK) rc = sl_base64_decode(p, n, out);
        if (rc == SL_OK && out->len - at - 4 == 0) rc = SL_ERR_PROTO; /* "==" decodes to nothing */
        if (rc != SL_OK) {
            out->len = start;
            return rc;
        }
        sl_wr_be32(out->data + at, (uint32_t)(out->len - at - 4));
        if (!comma) return SL_OK;
        p = comma + 1;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sl_sdp_hex_decode(const char *value, sl_bytes_t *out)
{
    size_t n = strlen(value);
    if (n == 0 || n % 2 != 0) return SL_ERR_PROTO;
    if (sl_bytes_reserve(out, n / 2) != SL_OK) return SL_ERR_NOMEM;
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_digit(value[i]), lo = hex_digit(value[i + 1]);
        if (hi < 0 || lo < 0) return SL_ERR_PROTO;
        d[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    out->len += n / 2;
    return SL_OK;
}

int sl_sdp_h264_profile_level_id(const uint8_t *sps, size_t len, char out[7])
{
    if (len < 4 || sl_h264_nal_type(sps[0]) != SL_H264_NAL_SPS) return SL_ERR_PROTO;
    snprintf(out, 7, "%02X%02X%02X", sps[1], sps[2], sps[3]);
    return SL_OK;
}

/* Finds the first unit of a type in length-prefixed units. */
typedef struct find_unit {
    int (*type_of)(uint8_t);
    int type;
    const uint8_t *nal;
    size_t len;
} find_unit_t;

static int find_unit_cb(void *opaque, const uint8_t *nal, size_t len)
{
    find_unit_t *f = opaque;
    if (f->type_of(nal[0]) != f->type) return 0;
    f->nal = nal;
    f->len = len;
    return 1;
}

static bool find_unit(const sl_bytes_t *units, int (*type_of)(uint8_t), int type, const uint8_t **nal,
                      size_t *len)
{
    find_unit_t f = {.type_of = type_of, .type = type};
    if (sl_avcc_split(units->data, units->len, find_unit_cb, &f) != 1) return false;
    *nal = f.nal;
    *len = f.len;
    return true;
}

static int h264_type(uint8_t h) { return sl_h264_nal_type(h); }
static int h265_type(uint8_t h) { return sl_h265_nal_type(h); }

/* Decodes the sprop parameters `keys` of pt into `units` (caller-owned). */
static int decode_sprops(const sl_sdp_media_t *m, uint8_t pt, const char *const *keys, int count,
                         sl_bytes_t *units)
{
    for (int i = 0; i < count; i++) {
        const char *v = sl_sdp_fmtp_get(m, pt, keys[i]);
        if (!v) return SL_ERR_NOT_FOUND;
        int rc = sl_sdp_sprop_decode(v, units);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

static int h264_config_of(const sl_sdp_media_t *m, uint8_t pt, sl_bytes_t *config)
{
    static const char *const keys[] = {"sprop-parameter-sets"};
    sl_bytes_t units;
    sl_bytes_init(&units);
    const uint8_t *sps, *pps;
    size_t sps_len, pps_len;
    int rc = decode_sprops(m, pt, keys, 1, &units);
    if (rc == SL_OK && (!find_unit(&units, h264_type, SL_H264_NAL_SPS, &sps, &sps_len) ||
                        !find_unit(&units, h264_type, SL_H264_NAL_PPS, &pps, &pps_len)))
        rc = SL_ERR_NOT_FOUND;
    if (rc == SL_OK) rc = sl_h264_build_config(sps, sps_len, pps, pps_len, config);
    sl_bytes_free(&units);
    return rc;
}

static int h265_config_of(const sl_sdp_media_t *m, uint8_t pt, sl_bytes_t *config)
{
    static const char *const keys[] = {"sprop-vps", "sprop-sps", "sprop-pps"};
    static const int types[] = {SL_H265_NAL_VPS, SL_H265_NAL_SPS, SL_H265_NAL_PPS};
    sl_bytes_t units;
    sl_bytes_init(&units);
    const uint8_t *nal[3];
    size_t len[3];
    int rc = decode_sprops(m, pt, keys, 3, &units);
    for (int i = 0; i < 3 && rc == SL_OK; i++)
        if (!find_unit(&units, h265_type, types[i], &nal[i], &len[i])) rc = SL_ERR_NOT_FOUND;
    if (rc == SL_OK) rc = sl_h265_build_config(nal[0], len[0], nal[1], len[1], nal[2], len[2], config);
    sl_bytes_free(&units);
    return rc;
}

static int aac_config_of(const sl_sdp_media_t *m, uint8_t pt, sl_bytes_t *config)
{
    const char *mode = sl_sdp_fmtp_get(m, pt, "mode");
    if (!mode || (strcasecmp(mode, "AAC-hbr") != 0 && strcasecmp(mode, "AAC-lbr") != 0))
        return SL_ERR_UNSUPPORTED;
    const char *hex = sl_sdp_fmtp_get(m, pt, "config");
    if (!hex) return SL_ERR_NOT_FOUND;
    size_t start = config->len;
    int rc = sl_sdp_hex_decode(hex, config);
    if (rc != SL_OK) return rc;
    sl_aac_config_t cfg;
    if (sl_aac_parse_config(config->data + start, config->len - start, &cfg) != SL_OK) {
        config->len = start;
        return SL_ERR_PROTO;
    }
    return SL_OK;
}

int sl_sdp_media_config(const sl_sdp_media_t *m, uint8_t pt, sl_codec_t *codec, sl_bytes_t *config)
{
    const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(m, pt);
    if (!r) return SL_ERR_NOT_FOUND;
    *codec = sl_sdp_codec_of(r);
    switch (*codec) {
    case SL_CODEC_H264: return h264_config_of(m, pt, config);
    case SL_CODEC_H265: return h265_config_of(m, pt, config);
    case SL_CODEC_AAC: return aac_config_of(m, pt, config);
    case SL_CODEC_OPUS: {
        uint8_t head[SL_OPUS_HEAD_LEN];
        sl_rtp_opus_head(r->channels == 1 ? 1 : 2, head);
        return sl_bytes_append(config, head, sizeof(head));
    }
    default: return SL_ERR_UNSUPPORTED;
    }
}

/* Generation */

/* Appends printf-style text. */
__attribute__((format(printf, 2, 3))) static int putf(sl_bytes_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return SL_ERR_PROTO;
    if (sl_bytes_reserve(out, (size_t)n + 1) != SL_OK) return SL_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)out->data + out->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out->len += (size_t)n;
    return SL_OK;
}

/* A string the writer may put on a line: no CR or LF (NUL ends it anyway). */
static bool line_safe(const char *s) { return !s || !strpbrk(s, "\r\n"); }

static bool nonempty_safe(const char *s) { return s && *s && line_safe(s); }

static const char *addr_type(const char *addr) { return strchr(addr, ':') ? "IP6" : "IP4"; }

static const char *const DIR_NAMES[] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};

static bool attrs_ok(const sl_sdp_attr_t *attrs, int count)
{
    for (int i = 0; i < count; i++)
        if (!nonempty_safe(attrs[i].name) || strchr(attrs[i].name, ':') || !line_safe(attrs[i].value))
            return false;
    return true;
}

static bool media_ok(const sl_sdp_media_desc_t *d)
{
    return nonempty_safe(d->type) && line_safe(d->proto) && (!d->proto || *d->proto) &&
           line_safe(d->formats) && (!d->formats || *d->formats) &&
           (!d->encoding || (nonempty_safe(d->encoding) && d->clock > 0)) &&
           memchr(d->fmtp, '\0', sizeof(d->fmtp)) && line_safe(d->fmtp) && line_safe(d->conn_addr) &&
           (!d->conn_addr || *d->conn_addr) && line_safe(d->control) &&
           (unsigned)d->dir < SL_ARRAY_SIZE(DIR_NAMES) && d->pt <= 127 &&
           attrs_ok(d->attrs, d->attr_count);
}

static int write_attrs(const sl_sdp_attr_t *attrs, int count, sl_bytes_t *out)
{
    int rc = SL_OK;
    for (int i = 0; i < count && rc == SL_OK; i++) {
        if (attrs[i].value && *attrs[i].value)
            rc = putf(out, "a=%s:%s\r\n", attrs[i].name, attrs[i].value);
        else
            rc = putf(out, "a=%s\r\n", attrs[i].name);
    }
    return rc;
}

static int write_media(const sl_sdp_media_desc_t *d, sl_bytes_t *out)
{
    int rc;
    if (d->formats)
        rc = putf(out, "m=%s %u %s %s\r\n", d->type, d->port, d->proto ? d->proto : "RTP/AVP",
                  d->formats);
    else
        rc = putf(out, "m=%s %u %s %u\r\n", d->type, d->port, d->proto ? d->proto : "RTP/AVP", d->pt);
    if (rc == SL_OK && d->conn_addr)
        rc = putf(out, "c=IN %s %s\r\n", addr_type(d->conn_addr), d->conn_addr);
    if (rc == SL_OK && d->encoding) {
        rc = putf(out, "a=rtpmap:%u %s/%u", d->pt, d->encoding, d->clock);
        if (rc == SL_OK && d->channels) rc = putf(out, "/%u", d->channels);
        if (rc == SL_OK) rc = putf(out, "\r\n");
    }
    if (rc == SL_OK && d->fmtp[0]) rc = putf(out, "a=fmtp:%u %s\r\n", d->pt, d->fmtp);
    if (rc == SL_OK && d->control) rc = putf(out, "a=control:%s\r\n", d->control);
    if (rc == SL_OK && d->dir != SL_SDP_DIR_NONE) rc = putf(out, "a=%s\r\n", DIR_NAMES[d->dir]);
    if (rc == SL_OK) rc = write_attrs(d->attrs, d->attr_count, out);
    return rc;
}

static int write_session(const sl_sdp_session_desc_t *s, sl_bytes_t *out)
{
    const char *name = s->name && *s->name ? s->name : " ";
    int rc =
        putf(out, "v=0\r\no=- %llu %llu IN %s %s\r\ns=%s\r\n", (unsigned long long)s->session_id,
             (unsigned long long)s->session_version, addr_type(s->origin_addr), s->origin_addr, name);
    if (rc == SL_OK && s->conn_addr)
        rc = putf(out, "c=IN %s %s\r\n", addr_type(s->conn_addr), s->conn_addr);
    if (rc == SL_OK) rc = putf(out, "t=0 0\r\n");
    if (rc == SL_OK && s->control) rc = putf(out, "a=control:%s\r\n", s->control);
    if (rc == SL_OK) rc = write_attrs(s->attrs, s->attr_count, out);
    return rc;
}

int sl_sdp_write(const sl_sdp_session_desc_t *session, const sl_sdp_media_desc_t *media, int media_count,
                 sl_bytes_t *out)
{
    const sl_sdp_session_desc_t *s = session;
    /* The origin address is a single field: a blank would shift the others. */
    if (!nonempty_safe(s->origin_addr) || strpbrk(s->origin_addr, " \t") || !line_safe(s->name) ||
        !line_safe(s->conn_addr) || (s->conn_addr && !*s->conn_addr) || !line_safe(s->control) ||
        !attrs_ok(s->attrs, s->attr_count) || media_count < 0)
        return SL_ERR_PROTO;
    for (int i = 0; i < media_count; i++)
        if (!media_ok(&media[i])) return SL_ERR_PROTO;
    size_t start = out->len;
    int rc = write_session(s, out);
    for (int i = 0; i < media_count && rc == SL_OK; i++) rc = write_media(&media[i], out);
    if (rc != SL_OK) out->len = start;
    return rc;
}

/* Appends the parameter sets, base64, comma-separated. */
static int put_sprop(sl_bytes_t *v, const uint8_t *const *nal, const size_t *len, int count)
{
    for (int i = 0; i < count; i++) {
        if (i > 0 && sl_bytes_put_u8(v, ',') != SL_OK) return SL_ERR_NOMEM;
        if (sl_base64_encode(nal[i], len[i], v) != SL_OK) return SL_ERR_NOMEM;
    }
    return SL_OK;
}

static int h264_fmtp(const uint8_t *rec, size_t len, sl_bytes_t *v)
{
    sl_h264_config_t c;
    char pli[7];
    if (sl_h264_parse_config(rec, len, &c) != SL_OK ||
        sl_sdp_h264_profile_level_id(c.sps[0], c.sps_len[0], pli) != SL_OK)
        return SL_ERR_PROTO;
    int rc = putf(v, "packetization-mode=1;profile-level-id=%s;sprop-parameter-sets=", pli);
    if (rc == SL_OK) rc = put_sprop(v, c.sps, c.sps_len, c.sps_count);
    if (rc == SL_OK && sl_bytes_put_u8(v, ',') != SL_OK) rc = SL_ERR_NOMEM;
    if (rc == SL_OK) rc = put_sprop(v, c.pps, c.pps_len, c.pps_count);
    return rc;
}

static int h265_fmtp(const uint8_t *rec, size_t len, sl_bytes_t *v)
{
    sl_h265_config_t c;
    if (sl_h265_parse_config(rec, len, &c) != SL_OK) return SL_ERR_PROTO;
    int rc = putf(v, "sprop-vps=");
    if (rc == SL_OK) rc = put_sprop(v, c.vps, c.vps_len, c.vps_count);
    if (rc == SL_OK) rc = putf(v, ";sprop-sps=");
    if (rc == SL_OK) rc = put_sprop(v, c.sps, c.sps_len, c.sps_count);
    if (rc == SL_OK) rc = putf(v, ";sprop-pps=");
    if (rc == SL_OK) rc = put_sprop(v, c.pps, c.pps_len, c.pps_count);
    return rc;
}

static int aac_fmtp(const uint8_t *asc, size_t len, sl_sdp_media_desc_t *out, sl_bytes_t *v)
{
    sl_aac_config_t c;
    if (sl_aac_parse_config(asc, len, &c) != SL_OK) return SL_ERR_PROTO;
    /* The RTP clock is the output rate: the SBR rate of HE-AAC, whose frames last
     * 2048 samples of it. */
    out->clock = (uint32_t)(c.ext_sample_rate ? c.ext_sample_rate : c.sample_rate);
    /* Parametric stereo turns a mono core into two output channels. A channel
     * count defined by a program config element is left unsaid. */
    out->channels = (uint8_t)(c.ext_object_type == SL_AAC_PS ? 2 : c.channels);
    int rc = putf(
        v, "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=");
    for (size_t i = 0; i < len && rc == SL_OK; i++) rc = putf(v, "%02X", asc[i]);
    return rc;
}

/* The channel count of an OpusHead (RFC 7845 5.1), or 0 for anything else. */
static int opus_head_channels(const uint8_t *data, size_t len)
{
    if (len < 19 || memcmp(data, "OpusHead", 8) != 0) return 0;
    return data[9];
}

int sl_sdp_media_from_codec(sl_codec_t codec, const uint8_t *config, size_t len, uint8_t pt,
                            sl_sdp_media_desc_t *out)
{
    memset(out, 0, sizeof(*out));
    sl_bytes_t v;
    sl_bytes_init(&v);
    int rc;
    switch (codec) {
    case SL_CODEC_H264:
        *out = (sl_sdp_media_desc_t){
            .type = "video", .pt = pt, .proto = "RTP/AVP", .encoding = "H264", .clock = 90000};
        rc = h264_fmtp(config, len, &v);
        break;
    case SL_CODEC_H265:
        *out = (sl_sdp_media_desc_t){
            .type = "video", .pt = pt, .proto = "RTP/AVP", .encoding = "H265", .clock = 90000};
        rc = h265_fmtp(config, len, &v);
        break;
    case SL_CODEC_AAC:
        *out = (sl_sdp_media_desc_t){
            .type = "audio", .pt = pt, .proto = "RTP/AVP", .encoding = "MPEG4-GENERIC"};
        rc = aac_fmtp(config, len, out, &v);
        break;
    case SL_CODEC_OPUS:
        /* RFC 7587: always opus/48000/2, whatever the stream carries. */
        *out = (sl_sdp_media_desc_t){.type = "audio",
                                     .pt = pt,
                                     .proto = "RTP/AVP",
                                     .encoding = "opus",
                                     .clock = 48000,
                                     .channels = 2};
        rc = opus_head_channels(config, len) == 2 ? putf(&v, "sprop-stereo=1") : SL_OK;
        break;
    default: rc = SL_ERR_UNSUPPORTED; break;
    }
    if (rc == SL_OK && v.len >= sizeof(out->fmtp)) rc = SL_ERR_TOO_BIG;
    if (rc == SL_OK && v.len > 0) memcpy(out->fmtp, v.data, v.len);
    if (rc == SL_OK) out->fmtp[v.len] = '\0';
    sl_bytes_free(&v);
    return rc;
}

int sl_sdp_media_from_config(const sl_frame_t *config, uint8_t pt, sl_sdp_media_desc_t *out)
{
    return sl_sdp_media_from_codec((sl_codec_t)config->codec, config->data, config->len, pt, out);
}
