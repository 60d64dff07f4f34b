/* Fuzzes the RTP audio depacketizers and the reorder buffer.
 *
 * The first byte picks the target: bits 0-1 AAC with the hbr defaults, AAC with every
 * optional AU-header field, Opus, or the AAC fmtp parser; bits 2-5 the reorder window,
 * bits 6-7 its delay. The rest is length-prefixed packets (2-byte big-endian lengths,
 * as packetizers write them), fed twice: straight to a depacketizer, and through the
 * reorder buffer (with a fake clock) to a second one, as a UDP session does. Every
 * frame that comes out is packetized again and must depacketize to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "protocols/rtp/reorder.h"
#include "protocols/rtp/rtp_aac.h"
#include "protocols/rtp/rtp_opus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
    do {         \
        if (!(x)) abort(); \
    } while (0)

enum target { T_AAC_HBR, T_AAC_FIELDS, T_OPUS, T_FMTP, T_COUNT };

static const char FMTP_HBR[] = "streamtype=5;mode=AAC-hbr;config=1210;sizelength=13;indexlength=3;indexdeltalength=3";
static const char FMTP_FIELDS[] = "mode=AAC-lbr;config=1190;sizelength=16;ctsdeltalength=3;dtsdeltalength=5;"
                                  "randomaccessindication=1;streamstateindication=2;auxiliarydatasizelength=7";

/* The round trip: a frame packetized and depacketized again must come back equal. */
typedef struct echo {
    sl_frame_t *last;
    int frames;
} echo_t;

static int catch_echo(void *arg, sl_frame_t *f)
{
    echo_t *e = arg;
    if (f->flags & SL_FRAME_CONFIG) return 0;
    sl_frame_unref(e->last);
    e->last = sl_frame_ref(f);
    e->frames++;
    return 0;
}

typedef struct pipeline {
    enum target target;
    union {
        sl_rtp_aac_depack_t aac;
        sl_rtp_opus_depack_t opus;
    } d;
    sl_rtp_aac_packer_t aac_packer;
    sl_rtp_opus_packer_t opus_packer;
    echo_t echo;
    union {
        sl_rtp_aac_depack_t aac;
        sl_rtp_opus_depack_t opus;
    } check;
} pipeline_t;

static void feed_echo(pipeline_t *p, const sl_bytes_t *pkts)
{
    size_t pos = 0, n;
    const uint8_t *pkt;
    while ((pkt = sl_rtp_next_packet(pkts->data, pkts->len, &pos, &n)) != NULL) {
        sl_rtp_packet_t rp;
        CHECK(sl_rtp_parse(pkt, n, &rp) == SL_OK);
        int rc = p->target == T_OPUS ? sl_rtp_opus_depack_push(&p->check.opus, &rp)
                                     : sl_rtp_aac_depack_push(&p->check.aac, &rp);
        CHECK(rc == SL_OK);
    }
    CHECK(pos == pkts->len);
}

static int on_frame(void *arg, sl_frame_t *f)
{
    pipeline_t *p = arg;
    CHECK(f->media == SL_MEDIA_AUDIO && f->pts == f->dts && f->len > 0 && f->len <= 65535);
    if (f->flags & SL_FRAME_CONFIG) return 0;
    sl_bytes_t pkts;
    sl_bytes_init(&pkts);
    int rc = p->target == T_OPUS ? sl_rtp_opus_packetize(&p->opus_packer, f, &pkts)
                                 : sl_rtp_aac_packetize(&p->aac_packer, f, &pkts);
    if (rc == SL_OK) {
        int before = p->echo.frames;
        feed_echo(p, &pkts);
        CHECK(p->echo.frames == before + 1);
        CHECK(p->echo.last->len == f->len && memcmp(p->echo.last->data, f->data, f->len) == 0);
    } else {
        CHECK(rc == SL_ERR_TOO_BIG && f->len > 8191);
    }
    sl_bytes_free(&pkts);
    return 0;
}

static int depack_init(pipeline_t *p, const sl_rtp_aac_params_t *params, bool check)
{
    if (p->target == T_OPUS) {
        if (check) sl_rtp_opus_depack_init(&p->check.opus, catch_echo, &p->echo);
        else sl_rtp_opus_depack_init(&p->d.opus, on_frame, p);
        return SL_OK;
    }
    if (check) return sl_rtp_aac_depack_init(&p->check.aac, params, catch_echo, &p->echo);
    return sl_rtp_aac_depack_init(&p->d.aac, params, on_frame, p);
}

static void depack_free(pipeline_t *p)
{
    if (p->target == T_OPUS) return;
    sl_rtp_aac_depack_free(&p->d.aac);
    sl_rtp_aac_depack_free(&p->check.aac);
}

static void pipeline_init(pipeline_t *p, enum target t)
{
    memset(p, 0, sizeof(*p));
    p->target = t;
    sl_rtp_aac_params_t params;
    const char *fmtp = t == T_AAC_FIELDS ? FMTP_FIELDS : FMTP_HBR;
    CHECK(sl_rtp_aac_parse_fmtp(fmtp, strlen(fmtp), &params) == SL_OK);
    CHECK(depack_init(p, &params, false) == SL_OK);
    /* The packetizer writes plain hbr headers whatever the input's fmtp said. */
    sl_rtp_aac_params_t hbr;
    sl_rtp_aac_params_default(&hbr);
    memcpy(hbr.config, params.config, params.config_len);
    hbr.config_len = params.config_len;
    CHECK(depack_init(p, &hbr, true) == SL_OK);
    /* A small MTU, so that round trips of large AUs fragment. */
    CHECK(sl_rtp_aac_packer_init(&p->aac_packer, params.config, params.config_len, 97, 1, 0, 100) == SL_OK);
    sl_rtp_opus_packer_init(&p->opus_packer, 111, 1, 0);
}

static void pipeline_free(pipeline_t *p)
{
    depack_free(p);
    sl_frame_unref(p->echo.last);
}

static void push(pipeline_t *p, const uint8_t *pkt, size_t len)
{
    sl_rtp_packet_t rp;
    if (sl_rtp_parse(pkt, len, &rp) != SL_OK) return;
    int rc = p->target == T_OPUS ? sl_rtp_opus_depack_push(&p->d.opus, &rp) : sl_rtp_aac_depack_push(&p->d.aac, &rp);
    CHECK(rc == SL_OK || rc == SL_ERR_PROTO);
}

static int on_release(void *arg, sl_buf_t *pkt, uint32_t lost_before)
{
    push(arg, pkt->data, pkt->len);
    return 0;
}

static void fuzz_packets(enum target t, uint8_t knobs, const uint8_t *d, size_t n)
{
    pipeline_t direct, reordered;
    pipeline_init(&direct, t);
    pipeline_init(&reordered, t);
    sl_rtp_reorder_t r;
    CHECK(sl_rtp_reorder_init(&r, 1 + (knobs >> 2 & 15), (knobs >> 6) * 20, on_release, &reordered) == SL_OK);
    size_t pos = 0, len;
    const uint8_t *pkt;
    uint64_t now = 0;
    uint64_t pushed = 0;
    while ((pkt = sl_rtp_next_packet(d, n, &pos, &len)) != NULL) {
        push(&direct, pkt, len);
        now += len % 16; /* a fake clock the input drives */
        int rc = sl_rtp_reorder_push(&r, pkt, len, now);
        CHECK(rc == SL_OK || rc == SL_ERR_PROTO);
        pushed += rc == SL_OK;
        CHECK(r.held < r.window);
        /* An accepted push also ran the clock: nothing due is left waiting. */
        uint64_t when;
        if (rc == SL_OK && sl_rtp_reorder_deadline(&r, &when)) CHECK(when > now);
    }
    CHECK(sl_rtp_reorder_poll(&r, now + 5) == SL_OK);
    CHECK(sl_rtp_reorder_flush(&r) == SL_OK);
    CHECK(r.held == 0);
    /* Every accepted packet was released, or dropped and counted. */
    CHECK(r.stats.released + r.stats.duplicates + r.stats.late == pushed);
    sl_rtp_reorder_free(&r);
    pipeline_free(&direct);
    pipeline_free(&reordered);
}

static void fuzz_fmtp(const uint8_t *d, size_t n)
{
    sl_rtp_aac_params_t params;
    if (sl_rtp_aac_parse_fmtp((const char *)d, n, &params) != SL_OK) return;
    CHECK(params.size_length >= 1 && params.size_length <= 16 && params.config_len <= SL_RTP_AAC_MAX_CONFIG);
    params.clock_rate = 8000;
    sl_rtp_aac_depack_t dp;
    echo_t e = {0};
    CHECK(sl_rtp_aac_depack_init(&dp, &params, catch_echo, &e) != SL_ERR_NOMEM);
    sl_rtp_aac_depack_free(&dp);
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_rtp_aac_sdp_fmtp(params.config, params.config_len, &out) == SL_OK) {
        /* What we write for this config parses back to it. */
        sl_rtp_aac_params_t back;
        CHECK(sl_rtp_aac_parse_fmtp((const char *)out.data, out.len, &back) == SL_OK);
        CHECK(back.config_len == params.config_len && memcmp(back.config, params.config, back.config_len) == 0);
        CHECK(back.size_length == 13 && back.index_length == 3 && back.index_delta_length == 3);
    }
    sl_bytes_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum target t = (enum target)(data[0] % T_COUNT);
    if (t == T_FMTP) fuzz_fmtp(data + 1, size - 1);
    else fuzz_packets(t, data[0], data + 1, size - 1);
    return 0;
}
