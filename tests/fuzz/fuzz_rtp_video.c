/* Fuzzes the H.264 and H.265 RTP depacketizers, and the packetizers through them.
 *
 * The first byte chooses: bit 0 the codec (0 H.264, 1 H.265), bit 1 a small max_au,
 * bit 2 parameter sets given first as from the SDP, bits 3-7 the mtu of the second
 * stage. The rest is length-prefixed RTP packets (2-byte lengths, as the packetizers
 * write them), each parsed with sl_rtp_parse and fed to a depacketizer.
 *
 * Every frame that comes out must be well formed: a config record that parses, or
 * 4-byte length-prefixed NAL units of types a frame may hold, with the key flag
 * matching the units. Each media frame is then packetized again and fed to a second
 * depacketizer, which must give back the same frames. */
#include <stdlib.h>
#include <string.h>

#include "protocols/rtp/rtp_h265.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* Real 320x240 x264 and 1280x720 x265 parameter sets, for the SDP case. */
static const uint8_t H264_SPS[] = {0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00,
                                   0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80};
static const uint8_t H264_PPS[] = {0x68, 0xcb, 0x83, 0xcb, 0x20};
static const uint8_t H265_VPS[] = {0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
                                   0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0x95, 0x98, 0x09};
static const uint8_t H265_SPS[] = {0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
                                   0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0xa0, 0x02, 0x80, 0x80, 0x2d, 0x16,
                                   0x59, 0x59, 0xa4, 0x93, 0x2b, 0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00,
                                   0x02, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x10};
static const uint8_t H265_PPS[] = {0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40};

#define MAX_KEPT 64

typedef struct run {
    bool h265;
    size_t max_au;
    sl_rtp_nal_packetizer_t pk;      /* second stage */
    sl_rtp_nal_depacketizer_t d2;
    sl_frame_t *first[MAX_KEPT];    /* media frames of the first stage */
    int n_first;
    sl_frame_t *second[MAX_KEPT];   /* and of the second */
    int n_second;
    bool have_base;
    int64_t base;                   /* pts of the first media frame */
} run_t;

typedef struct unit_check {
    bool h265;
    bool key;
} unit_check_t;

static int check_unit(void *opaque, const uint8_t *nal, size_t len)
{
    unit_check_t *u = opaque;
    if (u->h265) {
        CHECK(len >= 2);
        int t = sl_h265_nal_type(nal[0]);
        CHECK(t <= 47 && (t < 32 || t > 35) && t != 38 && t != 39 && t != 40);
        if (t >= 16 && t <= 23) u->key = true;
    } else {
        int t = sl_h264_nal_type(nal[0]);
        CHECK(t >= 1 && t <= 23 && t != 6 && t != 7 && t != 8 && t != 9 && t != 12);
        if (t == 5) u->key = true;
    }
    return 0;
}

static void check_frame(const run_t *r, const sl_frame_t *f)
{
    CHECK(f->media == SL_MEDIA_VIDEO);
    CHECK(f->codec == (r->h265 ? SL_CODEC_H265 : SL_CODEC_H264));
    CHECK(f->dts == f->pts);
    if (f->flags & SL_FRAME_CONFIG) {
        CHECK(f->flags == SL_FRAME_CONFIG);
        if (r->h265) {
            sl_h265_config_t c;
            CHECK(sl_h265_parse_config(f->data, f->len, &c) == SL_OK);
        } else {
            sl_h264_config_t c;
            CHECK(sl_h264_parse_config(f->data, f->len, &c) == SL_OK);
        }
        return;
    }
    CHECK(f->len > 0 && f->len <= r->max_au);
    unit_check_t u = {r->h265, false};
    CHECK(sl_avcc_split(f->data, f->len, check_unit, &u) == 0);
    CHECK(u.key == ((f->flags & SL_FRAME_KEY) != 0));
}

static int on_second(void *arg, sl_frame_t *f)
{
    run_t *r = arg;
    check_frame(r, f);
    if (!(f->flags & SL_FRAME_CONFIG)) {
        CHECK(r->n_second < MAX_KEPT);
        r->second[r->n_second++] = sl_frame_ref(f);
    }
    return 0;
}

static int depacketize(run_t *r, sl_rtp_nal_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit)
{
    return r->h265 ? sl_rtp_h265_depacketize(d, pkt, emit, r) : sl_rtp_h264_depacketize(d, pkt, emit, r);
}

/* Sends a first-stage frame through the second stage. */
static void repacketize(run_t *r, sl_frame_t *f)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    int rc = r->h265 ? sl_rtp_h265_packetize(&r->pk, f, &out) : sl_rtp_h264_packetize(&r->pk, f, &out);
    CHECK(rc == SL_OK);
    size_t pos = 0, n;
    const uint8_t *p;
    while ((p = sl_rtp_next_packet(out.data, out.len, &pos, &n)) != NULL) {
        sl_rtp_packet_t pkt;
        CHECK(n <= SL_RTP_HEADER_LEN + r->pk.mtu);
        CHECK(sl_rtp_parse(p, n, &pkt) == SL_OK);
        CHECK(depacketize(r, &r->d2, &pkt, on_second) == SL_OK);
    }
    CHECK(pos == out.len);
    sl_bytes_free(&out);
}

static int on_first(void *arg, sl_frame_t *f)
{
    run_t *r = arg;
    check_frame(r, f);
    if (f->flags & SL_FRAME_CONFIG) {
        int rc = r->h265 ? sl_rtp_h265_packetizer_set_config(&r->pk, f) : sl_rtp_h264_packetizer_set_config(&r->pk, f);
        CHECK(rc == SL_OK);
        return 0;
    }
    if (r->n_first == MAX_KEPT) return 0;
    if (!r->have_base) {
        /* The first stage waits for a keyframe, so the second starts with one. */
        CHECK(f->flags & SL_FRAME_KEY);
        r->have_base = true;
        r->base = f->pts;
    }
    r->first[r->n_first++] = sl_frame_ref(f);
    repacketize(r, f);
    return 0;
}

static void set_sprop(run_t *r, sl_rtp_nal_depacketizer_t *d)
{
    int rc = r->h265 ? sl_rtp_h265_depacketizer_set_sprop(d, H265_VPS, sizeof(H265_VPS), H265_SPS, sizeof(H265_SPS),
                                                         H265_PPS, sizeof(H265_PPS))
                     : sl_rtp_h264_depacketizer_set_sprop(d, H264_SPS, sizeof(H264_SPS), H264_PPS, sizeof(H264_PPS));
    CHECK(rc == SL_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static run_t r;
    memset(&r, 0, sizeof(r));
    r.h265 = data[0] & 1;
    r.max_au = data[0] & 2 ? 2048 : SL_RTP_VIDEO_MAX_AU;
    size_t mtu = SL_RTP_MIN_MTU + (size_t)(data[0] >> 3) * 40;
    static sl_rtp_nal_depacketizer_t d;
    if (r.h265) {
        sl_rtp_h265_depacketizer_init(&d);
        sl_rtp_h265_depacketizer_init(&r.d2);
        sl_rtp_h265_packetizer_init(&r.pk, 96, 1, 0, mtu);
    } else {
        sl_rtp_h264_depacketizer_init(&d);
        sl_rtp_h264_depacketizer_init(&r.d2);
        sl_rtp_h264_packetizer_init(&r.pk, 96, 1, 0, mtu);
    }
    d.max_au = r.d2.max_au = r.max_au;
    if (data[0] & 4) set_sprop(&r, &d);

    size_t pos = 0, n;
    const uint8_t *p;
    uint64_t fed = 0;
    while ((p = sl_rtp_next_packet(data + 1, size - 1, &pos, &n)) != NULL) {
        sl_rtp_packet_t pkt;
        if (sl_rtp_parse(p, n, &pkt) != SL_OK) continue;
        CHECK(depacketize(&r, &d, &pkt, on_first) == SL_OK);
        fed++;
    }
    CHECK(d.stats.packets == fed);
    CHECK(d.stats.frames == (uint64_t)r.n_first || r.n_first == MAX_KEPT);
    CHECK(d.au.len <= r.max_au);

    /* The packetizer marks the end of every frame, so the second stage gives back
     * each one, whole, at its timestamp (relative to the first, modulo 2^32). */
    CHECK(r.n_second == r.n_first);
    for (int i = 0; i < r.n_first; i++) {
        const sl_frame_t *a = r.first[i], *b = r.second[i];
        CHECK(a->flags == b->flags && a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
        CHECK((uint32_t)(a->pts - r.base) == (uint32_t)b->pts);
    }
    CHECK(r.d2.stats.lost + r.d2.stats.dropped + r.d2.stats.skipped + r.d2.stats.bad_packets == 0);

    for (int i = 0; i < r.n_first; i++) sl_frame_unref(r.first[i]);
    for (int i = 0; i < r.n_second; i++) sl_frame_unref(r.second[i]);
    sl_rtp_h264_depacketizer_free(&d);
    sl_rtp_h264_depacketizer_free(&r.d2);
    sl_rtp_h264_packetizer_free(&r.pk);
    return 0;
}
