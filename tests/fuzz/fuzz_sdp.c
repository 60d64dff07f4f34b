/* Fuzzes the SDP parser and, on the same input, the Digest and Basic header parsers
 * and base64.
 *
 * A description that parses is written back with sl_sdp_write (its rtpmap and fmtp
 * lines passed as extra attributes) and parsed again: everything the writer can
 * carry must come back equal, so the fuzzer checks the parser and the writer against
 * each other as well as memory safety. A Digest challenge that parses is answered
 * with sl_digest_authorization, and that answer must parse and verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/rtp/sdp.h"
#include "sluice/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                        \
    do {                                                                                                \
        if (!(x)) abort();                                                                              \
    } while (0)

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static void check_attrs(const sl_sdp_attr_t *a, int na, const sl_sdp_attr_t *b, int nb)
{
    CHECK(na == nb);
    for (int i = 0; i < na; i++) CHECK(str_eq(a[i].name, b[i].name) && str_eq(a[i].value, b[i].value));
}

static void check_media(const sl_sdp_media_t *a, const sl_sdp_media_t *b)
{
    CHECK(str_eq(a->type, b->type) && a->port == b->port && str_eq(a->proto, b->proto));
    CHECK(str_eq(a->formats, b->formats) && a->pt_count == b->pt_count);
    CHECK(memcmp(a->pts, b->pts, (size_t)a->pt_count) == 0);
    CHECK(str_eq(a->conn.address, b->conn.address));
    CHECK(str_eq(a->control, b->control) && str_eq(a->mid, b->mid));
    CHECK(a->dir == b->dir && a->rtcp_mux == b->rtcp_mux);
    check_attrs(a->attrs, a->attr_count, b->attrs, b->attr_count);
    CHECK(a->rtpmap_count == b->rtpmap_count && a->fmtp_count == b->fmtp_count);
    for (int i = 0; i < a->rtpmap_count; i++) {
        const sl_sdp_rtpmap_t *x = &a->rtpmaps[i], *y = &b->rtpmaps[i];
        CHECK(x->pt == y->pt && str_eq(x->encoding, y->encoding) && x->clock == y->clock &&
              x->channels == y->channels);
    }
    for (int i = 0; i < a->fmtp_count; i++) {
        const sl_sdp_fmtp_t *x = &a->fmtps[i], *y = &b->fmtps[i];
        CHECK(x->pt == y->pt && str_eq(x->raw, y->raw) && x->param_count == y->param_count);
        for (int j = 0; j < x->param_count; j++)
            CHECK(str_eq(x->params[j].key, y->params[j].key) &&
                  str_eq(x->params[j].value, y->params[j].value));
    }
}

static void check_same(const sl_sdp_t *a, const sl_sdp_t *b)
{
    CHECK(str_eq(a->name ? a->name : "", b->name));
    if (a->origin.address) CHECK(str_eq(a->origin.address, b->origin.address));
    CHECK(str_eq(a->conn.address, b->conn.address) && str_eq(a->control, b->control));
    CHECK(a->dir == b->dir);
    check_attrs(a->attrs, a->attr_count, b->attrs, b->attr_count);
    CHECK(a->media_count == b->media_count);
    for (int i = 0; i < a->media_count; i++) check_media(&a->media[i], &b->media[i]);
}

/* Lookups and codec configurations of every payload type, for memory safety. */
static void exercise(const sl_sdp_t *sdp)
{
    (void)sl_sdp_session_attr_get(sdp, "group");
    for (int i = 0; i < sdp->media_count; i++) {
        const sl_sdp_media_t *m = &sdp->media[i];
        int pos = 0;
        while (sl_sdp_attr_next(m, "candidate", &pos)) {}
        CHECK(str_eq(sl_sdp_attr_get(m, "control"), m->control));
        (void)sl_sdp_rtpmap_find(m, "H264");
        for (int j = 0; j < m->pt_count; j++) {
            const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(m, m->pts[j]);
            if (r) (void)sl_sdp_codec_of(r);
            (void)sl_sdp_fmtp_get(m, m->pts[j], "sprop-parameter-sets");
            sl_bytes_t cfg;
            sl_bytes_init(&cfg);
            sl_codec_t codec;
            if (sl_sdp_media_config(m, m->pts[j], &codec, &cfg) == SL_OK && codec != SL_CODEC_OPUS) {
                sl_sdp_media_desc_t d;
                int rc = sl_sdp_media_from_codec(codec, cfg.data, cfg.len, m->pts[j], &d);
                CHECK(rc == SL_OK || rc == SL_ERR_TOO_BIG);
            }
            sl_bytes_free(&cfg);
        }
    }
}

/* A line of the regenerated text is over SL_SDP_MAX_LINE (the writer may lengthen
 * an o= line a little), or the whole is over SL_SDP_MAX_SIZE. */
static bool over_limits(const sl_bytes_t *t)
{
    if (t->len > SL_SDP_MAX_SIZE) return true;
    size_t start = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->data[i] != '\n') continue;
        if (i - start > SL_SDP_MAX_LINE + 1) return true;
        start = i + 1;
    }
    return false;
}

typedef struct regen {
    sl_sdp_media_desc_t media[SL_SDP_MAX_MEDIA];
    sl_sdp_attr_t *attrs[SL_SDP_MAX_MEDIA];
    char *values; /* rtpmap and fmtp values, as attribute values */
} regen_t;

/* One section's description: its attributes, then its rtpmap and fmtp lines as extra
 * attributes whose values are written into *vp. */
static void describe_media(const sl_sdp_media_t *m, sl_sdp_media_desc_t *d, sl_sdp_attr_t *attrs, char **vp)
{
    *d = (sl_sdp_media_desc_t){.type = m->type,
                               .port = m->port,
                               .proto = m->proto,
                               .formats = m->formats,
                               .conn_addr = m->conn.address,
                               .attrs = attrs};
    int n = 0;
    for (int j = 0; j < m->attr_count; j++) attrs[n++] = m->attrs[j];
    for (int j = 0; j < m->rtpmap_count; j++) {
        const sl_sdp_rtpmap_t *r = &m->rtpmaps[j];
        int len = r->channels ? sprintf(*vp, "%u %s/%u/%u", r->pt, r->encoding, r->clock, r->channels)
                              : sprintf(*vp, "%u %s/%u", r->pt, r->encoding, r->clock);
        attrs[n++] = (sl_sdp_attr_t){"rtpmap", *vp};
        *vp += len + 1;
    }
    for (int j = 0; j < m->fmtp_count; j++) {
        int len = sprintf(*vp, "%u %s", m->fmtps[j].pt, m->fmtps[j].raw);
        attrs[n++] = (sl_sdp_attr_t){"fmtp", *vp};
        *vp += len + 1;
    }
    d->attr_count = n;
}

static void regenerate(const sl_sdp_t *sdp, size_t input_size)
{
    regen_t *g = calloc(1, sizeof(*g));
    CHECK(g);
    /* Each rtpmap or fmtp value is shorter than its line plus a few digits. */
    g->values = malloc(2 * input_size + 64 * SL_SDP_MAX_RTPMAPS_TOTAL);
    CHECK(g->values);
    char *vp = g->values;
    for (int i = 0; i < sdp->media_count; i++) {
        const sl_sdp_media_t *m = &sdp->media[i];
        g->attrs[i] = calloc((size_t)(m->attr_count + m->rtpmap_count + m->fmtp_count) + 1, sizeof(sl_sdp_attr_t));
        CHECK(g->attrs[i]);
        describe_media(m, &g->media[i], g->attrs[i], &vp);
    }
    sl_sdp_session_desc_t s = {.origin_addr = sdp->origin.address ? sdp->origin.address : "0.0.0.0",
                               .name = sdp->name,
                               .conn_addr = sdp->conn.address,
                               .attrs = sdp->attrs,
                               .attr_count = sdp->attr_count};
    sl_bytes_t out;
    sl_bytes_init(&out);
    CHECK(sl_sdp_write(&s, g->media, sdp->media_count, &out) == SL_OK);
    sl_sdp_t *again = NULL;
    int rc = sl_sdp_parse((const char *)out.data, out.len, &again);
    if (rc == SL_ERR_TOO_BIG) {
        CHECK(over_limits(&out));
    } else {
        CHECK(rc == SL_OK);
        check_same(sdp, again);
        sl_sdp_free(again);
    }
    sl_bytes_free(&out);
    for (int i = 0; i < sdp->media_count; i++) free(g->attrs[i]);
    free(g->values);
    free(g);
}

static void fuzz_sdp(const uint8_t *data, size_t size)
{
    sl_sdp_t *sdp = NULL;
    int rc = sl_sdp_parse((const char *)data, size, &sdp);
    CHECK((rc == SL_OK) == (sdp != NULL));
    if (rc != SL_OK) return;
    exercise(sdp);
    regenerate(sdp, size);
    sl_sdp_free(sdp);
}

/* A challenge answered by the client side must verify on the server side. */
static void fuzz_digest(const uint8_t *data, size_t size)
{
    sl_digest_t d;
    if (sl_digest_parse((const char *)data, size, &d) != SL_OK) return;
    (void)sl_digest_verify(&d, "DESCRIBE", NULL, d.username, d.realm, "pw");
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_digest_authorization(&d, "SETUP", "rtsp://h/s", "user", "pw", "c\"n", 7, &out) == SL_OK) {
        sl_digest_t a;
        CHECK(sl_digest_parse((const char *)out.data, out.len, &a) == SL_OK);
        CHECK(sl_digest_verify(&a, "SETUP", "rtsp://h/s", "user", d.realm, "pw") == SL_OK);
    }
    out.len = 0;
    if (sl_digest_challenge(d.realm, d.nonce, true, d.stale, &out) == SL_OK) {
        sl_digest_t c;
        CHECK(sl_digest_parse((const char *)out.data, out.len, &c) == SL_OK);
        CHECK(strcmp(c.realm, d.realm) == 0 && strcmp(c.nonce, d.nonce) == 0 && c.stale == d.stale);
    }
    sl_bytes_free(&out);
}

static void fuzz_basic_b64(const uint8_t *data, size_t size)
{
    sl_basic_creds_t c;
    if (sl_basic_parse((const char *)data, size, &c) == SL_OK) {
        sl_bytes_t out;
        sl_bytes_init(&out);
        if (sl_basic_authorization(c.user, c.password, &out) == SL_OK) {
            sl_basic_creds_t c2;
            CHECK(sl_basic_parse((const char *)out.data, out.len, &c2) == SL_OK);
            CHECK(strcmp(c.user, c2.user) == 0 && strcmp(c.password, c2.password) == 0);
        }
        sl_bytes_free(&out);
    }
    sl_bytes_t e, d;
    sl_bytes_init(&e);
    sl_bytes_init(&d);
    CHECK(sl_base64_encode(data, size, &e) == SL_OK);
    CHECK(sl_base64_decode((const char *)e.data, e.len, &d) == SL_OK);
    CHECK(d.len == size && (size == 0 || memcmp(d.data, data, size) == 0));
    sl_bytes_free(&e);
    sl_bytes_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sdp(data, size);
    fuzz_digest(data, size);
    fuzz_basic_b64(data, size);
    /* The NUL-terminated helpers, on a terminated copy. */
    char *s = malloc(size + 1);
    CHECK(s);
    memcpy(s, data, size);
    s[size] = '\0';
    sl_bytes_t b;
    sl_bytes_init(&b);
    (void)sl_sdp_sprop_decode(s, &b);
    (void)sl_sdp_hex_decode(s, &b);
    sl_bytes_free(&b);
    free(s);
    return 0;
}
