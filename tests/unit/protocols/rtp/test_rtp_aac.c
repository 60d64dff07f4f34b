/* RFC 3640 AAC-hbr packetizer and depacketizer: byte-exact packets, fragmentation,
 * packets of several AUs as ffmpeg sends them, SDP fmtp parsing, timestamps across the
 * 32-bit RTP wrap, and malformed payloads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/codec/aac.h"
#include "protocols/rtp/rtp_aac.h"

static const uint8_t ASC_44_STEREO[] = {0x12, 0x10};

#define MAX_FRAMES 16

typedef struct sink {
    int count;
    sl_frame_t *frames[MAX_FRAMES];
    int fail_at; /* emit returns an error for this frame index, or -1 */
} sink_t;

static int collect(void *arg, sl_frame_t *f)
{
    sink_t *s = arg;
    if (s->count == s->fail_at) return SL_ERR_IO;
    assert_true(s->count < MAX_FRAMES);
    s->frames[s->count++] = sl_frame_ref(f);
    return 0;
}

static void sink_init(sink_t *s)
{
    memset(s, 0, sizeof(*s));
    s->fail_at = -1;
}

static void sink_free(sink_t *s)
{
    for (int i = 0; i < s->count; i++) sl_frame_unref(s->frames[i]);
    s->count = 0;
}

static void check_frame(const sl_frame_t *f, uint8_t flags, int64_t ts, const uint8_t *data, size_t len)
{
    assert_int_equal(f->media, SL_MEDIA_AUDIO);
    assert_int_equal(f->codec, SL_CODEC_AAC);
    assert_int_equal(f->flags, flags);
    assert_int_equal(f->pts, ts);
    assert_int_equal(f->dts, ts);
    assert_int_equal(f->len, len);
    assert_memory_equal(f->data, data, len);
}

static void hbr_depack(sl_rtp_aac_depack_t *d, sink_t *s)
{
    sl_rtp_aac_params_t p;
    sl_rtp_aac_params_default(&p);
    memcpy(p.config, ASC_44_STEREO, 2);
    p.config_len = 2;
    sink_init(s);
    assert_int_equal(sl_rtp_aac_depack_init(d, &p, collect, s), SL_OK);
}

/* Feeds every length-prefixed packet of buf to the depacketizer; returns how many. */
static int feed_all(sl_rtp_aac_depack_t *d, const sl_bytes_t *buf)
{
    size_t pos = 0, n;
    int count = 0;
    const uint8_t *pkt;
    while ((pkt = sl_rtp_next_packet(buf->data, buf->len, &pos, &n)) != NULL) {
        sl_rtp_packet_t p;
        assert_int_equal(sl_rtp_parse(pkt, n, &p), SL_OK);
        assert_int_equal(sl_rtp_aac_depack_push(d, &p), SL_OK);
        count++;
    }
    assert_int_equal(pos, buf->len);
    return count;
}

static int push_raw(sl_rtp_aac_depack_t *d, const uint8_t *pkt, size_t len)
{
    sl_rtp_packet_t p;
    assert_int_equal(sl_rtp_parse(pkt, len, &p), SL_OK);
    return sl_rtp_aac_depack_push(d, &p);
}

static sl_frame_t *aac_frame(int64_t pts, const uint8_t *data, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, pts, pts, data, len);
    assert_non_null(f);
    return f;
}

static void test_fmtp_config_1210(void **state)
{
    /* What a camera (and GStreamer) puts in its SDP. */
    static const char fmtp[] = "streamtype=5; profile-level-id=15; mode=AAC-hbr; config=1210; "
                               "SizeLength=13; IndexLength=3; IndexDeltaLength=3; Profile=1;";
    sl_rtp_aac_params_t p;
    assert_int_equal(sl_rtp_aac_parse_fmtp(fmtp, strlen(fmtp), &p), SL_OK);
    assert_int_equal(p.size_length, 13);
    assert_int_equal(p.index_length, 3);
    assert_int_equal(p.index_delta_length, 3);
    assert_int_equal(p.cts_delta_length, 0);
    assert_false(p.random_access);
    assert_int_equal(p.clock_rate, 0);
    assert_int_equal(p.config_len, 2);
    assert_memory_equal(p.config, ASC_44_STEREO, 2);
    sl_aac_config_t cfg;
    assert_int_equal(sl_aac_parse_config(p.config, p.config_len, &cfg), SL_OK);
    assert_int_equal(cfg.object_type, SL_AAC_LC);
    assert_int_equal(cfg.sample_rate, 44100);
    assert_int_equal(cfg.channels, 2);

    /* The depacketizer hands the config out first, then the AU, at the ASC's rate. */
    sink_t s;
    sink_init(&s);
    sl_rtp_aac_depack_t d;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_OK);
    assert_int_equal(d.clock.rate, 44100);
    assert_int_equal(d.frame_ticks, 1024);
    const uint8_t pkt[] = {0x80, 0xe1, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef,
                           0x00, 0x10, 0x00, 0x18, 0x21, 0x10, 0x04};
    assert_int_equal(push_raw(&d, pkt, sizeof(pkt)), SL_OK);
    assert_int_equal(s.count, 2);
    check_frame(s.frames[0], SL_FRAME_CONFIG, 0, ASC_44_STEREO, 2);
    check_frame(s.frames[1], 0, 0, pkt + 16, 3);
    assert_int_equal(d.frames, 1);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
}

static void test_fmtp_variants(void **state)
{
    sl_rtp_aac_params_t p;
    /* ffmpeg's form: no spaces, lower case, config last after "; ". */
    const char *ff = "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=1190";
    assert_int_equal(sl_rtp_aac_parse_fmtp(ff, strlen(ff), &p), SL_OK);
    assert_int_equal(p.config_len, 2);
    assert_int_equal(p.config[0], 0x11);
    assert_int_equal(p.config[1], 0x90);
    /* AAC-lbr takes its own defaults; explicit lengths win over the mode's. */
    const char *lbr = "mode=AAC-lbr;config=1210";
    assert_int_equal(sl_rtp_aac_parse_fmtp(lbr, strlen(lbr), &p), SL_OK);
    assert_int_equal(p.size_length, 6);
    assert_int_equal(p.index_length, 2);
    assert_int_equal(p.index_delta_length, 2);
    const char *mixed = " MODE = aac-LBR ; SizeLength = 8 ;CTSDeltaLength=4; DTSDeltaLength=5;"
                        "randomAccessIndication=1;streamStateIndication=2;auxiliaryDataSizeLength=3;"
                        "constantDuration=960;config=AbCd";
    assert_int_equal(sl_rtp_aac_parse_fmtp(mixed, strlen(mixed), &p), SL_OK);
    assert_int_equal(p.size_length, 8);
    assert_int_equal(p.index_length, 2);
    assert_int_equal(p.cts_delta_length, 4);
    assert_int_equal(p.dts_delta_length, 5);
    assert_true(p.random_access);
    assert_int_equal(p.stream_state_length, 2);
    assert_int_equal(p.aux_size_length, 3);
    assert_int_equal(p.frame_ticks, 960);
    assert_int_equal(p.config[0], 0xab);
    assert_int_equal(p.config[1], 0xcd);
    /* No fmtp at all: the hbr lengths, no config. */
    assert_int_equal(sl_rtp_aac_parse_fmtp("", 0, &p), SL_OK);
    assert_int_equal(p.size_length, 13);
    assert_int_equal(p.config_len, 0);

    const char *bad[] = {"config=121", "config=12g0", "sizelength=40", "sizelength=", "sizelength=-1",
                         "indexlength=17", "randomaccessindication=2", "sizelength=0", "constantduration=x"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++)
        assert_int_equal(sl_rtp_aac_parse_fmtp(bad[i], strlen(bad[i]), &p), SL_ERR_PROTO);
    char big[7 + 2 * (SL_RTP_AAC_MAX_CONFIG + 1) + 1] = "config=";
    memset(big + 7, '1', 2 * (SL_RTP_AAC_MAX_CONFIG + 1));
    big[sizeof(big) - 1] = 0;
    assert_int_equal(sl_rtp_aac_parse_fmtp(big, strlen(big), &p), SL_ERR_TOO_BIG);
}

static void test_sdp_fmtp(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00};
    assert_int_equal(sl_rtp_aac_sdp_fmtp(he, sizeof(he), &out), SL_OK);
    const char want[] = "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; "
                        "config=2B920800";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    const uint8_t bad[] = {0x00, 0x00};
    assert_int_equal(sl_rtp_aac_sdp_fmtp(bad, sizeof(bad), &out), SL_ERR_PROTO);
    assert_int_equal(out.len, strlen(want));
    sl_bytes_free(&out);
}

static void test_packetize_one_au(void **state)
{
    sl_rtp_aac_packer_t pk;
    assert_int_equal(sl_rtp_aac_packer_init(&pk, ASC_44_STEREO, 2, 97, 0x11223344, 0xfffe, 0), SL_OK);
    assert_int_equal(pk.mtu, SL_RTP_DEFAULT_MTU);
    const uint8_t au[] = {0x21, 0x1b, 0x94, 0x00, 0x07};
    sl_frame_t *f = aac_frame(90000, au, sizeof(au)); /* 1 s: RTP 44100 = 0xac44 */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    const uint8_t want[] = {0x00, 0x15,                                     /* length 21 */
                            0x80, 0xe1, 0xff, 0xfe, 0x00, 0x00, 0xac, 0x44, /* M, PT 97 */
                            0x11, 0x22, 0x33, 0x44,                         /* SSRC */
                            0x00, 0x10, 0x00, 0x28,                         /* 16 bits, size 5 */
                            0x21, 0x1b, 0x94, 0x00, 0x07};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    assert_int_equal(pk.seq, 0xffff);
    sl_frame_unref(f);

    /* A second AU one frame later, and both back through the depacketizer. */
    f = aac_frame(90000 + 2090, au, 3);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    sl_rtp_aac_depack_t d;
    sink_t s;
    hbr_depack(&d, &s);
    assert_int_equal(feed_all(&d, &out), 2);
    assert_int_equal(s.count, 3);
    check_frame(s.frames[0], SL_FRAME_CONFIG, 0, ASC_44_STEREO, 2);
    check_frame(s.frames[1], 0, 0, au, sizeof(au));
    /* 2090 ticks are 1024.1 samples: RTP 1024, back to 2089 hub ticks. */
    check_frame(s.frames[2], 0, 2089, au, 3);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
    sl_bytes_free(&out);
}

static void test_packetize_fragments(void **state)
{
    sl_rtp_aac_packer_t pk;
    assert_int_equal(sl_rtp_aac_packer_init(&pk, ASC_44_STEREO, 2, 96, 7, 10, 100), SL_OK);
    uint8_t au[250];
    for (size_t i = 0; i < sizeof(au); i++) au[i] = (uint8_t)(i * 7 + 1);
    sl_frame_t *f = aac_frame(0, au, sizeof(au));
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    /* 96 + 96 + 58 bytes, each with the whole AU's size 250 (0x07d0 after << 3). */
    const size_t sizes[] = {96, 96, 58};
    size_t pos = 0, n, off = 0;
    for (int i = 0; i < 3; i++) {
        const uint8_t *pkt = sl_rtp_next_packet(out.data, out.len, &pos, &n);
        assert_non_null(pkt);
        assert_int_equal(n, 16 + sizes[i]);
        sl_rtp_packet_t p;
        assert_int_equal(sl_rtp_parse(pkt, n, &p), SL_OK);
        assert_int_equal(p.marker, i == 2);
        assert_int_equal(p.payload_type, 96);
        assert_int_equal(p.seq, 10 + i);
        assert_int_equal(p.timestamp, 0);
        const uint8_t hdr[] = {0x00, 0x10, 0x07, 0xd0};
        assert_memory_equal(p.payload, hdr, 4);
        assert_memory_equal(p.payload + 4, au + off, sizes[i]);
        off += sizes[i];
    }
    assert_null(sl_rtp_next_packet(out.data, out.len, &pos, &n));

    sl_rtp_aac_depack_t d;
    sink_t s;
    hbr_depack(&d, &s);
    assert_int_equal(feed_all(&d, &out), 3);
    assert_int_equal(s.count, 2);
    check_frame(s.frames[1], 0, 0, au, sizeof(au));
    assert_int_equal(d.dropped_fragments, 0);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);

    /* The middle fragment lost: nothing comes out, and the next AU is fine. */
    hbr_depack(&d, &s);
    pos = 0;
    const uint8_t *pkt;
    for (int i = 0; (pkt = sl_rtp_next_packet(out.data, out.len, &pos, &n)) != NULL; i++) {
        if (i == 1) continue;
        assert_int_equal(push_raw(&d, pkt, n), SL_OK);
    }
    assert_int_equal(s.count, 0);
    assert_int_equal(d.dropped_fragments, 2); /* the first fragment and the orphaned last */
    const uint8_t next[] = {0x80, 0xe0, 0x00, 0x0d, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x07,
                            0x00, 0x10, 0x00, 0x10, 0xaa, 0xbb};
    assert_int_equal(push_raw(&d, next, sizeof(next)), SL_OK);
    assert_int_equal(s.count, 2);
    check_frame(s.frames[1], 0, 0, next + 16, 2);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
    sl_bytes_free(&out);
}

static void test_fragment_faults(void **state)
{
    sl_rtp_aac_depack_t d;
    sink_t s;
    hbr_depack(&d, &s);
    /* First half of a 4-byte AU, then a fragment claiming another size: restarts. */
    const uint8_t a[] = {0x80, 0x61, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x20, 1, 2};
    const uint8_t b[] = {0x80, 0xe1, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x28, 3, 4};
    assert_int_equal(push_raw(&d, a, sizeof(a)), SL_OK);
    assert_true(d.in_frag);
    assert_int_equal(push_raw(&d, b, sizeof(b)), SL_OK);
    assert_int_equal(d.dropped_fragments, 2); /* a, then b: the last of an AU yet short */
    assert_false(d.in_frag);
    /* A continuation carrying more than the AU has left is malformed. */
    const uint8_t c[] = {0x80, 0x61, 0x00, 0x03, 0, 0, 0, 9, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x20, 1, 2, 3};
    const uint8_t e[] = {0x80, 0xe1, 0x00, 0x04, 0, 0, 0, 9, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x20, 4, 5, 6};
    assert_int_equal(push_raw(&d, c, sizeof(c)), SL_OK);
    assert_int_equal(push_raw(&d, e, sizeof(e)), SL_ERR_PROTO);
    assert_false(d.in_frag);
    assert_int_equal(d.dropped_fragments, 4);
    assert_int_equal(s.count, 0);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
}

/* Three AUs in one packet as ffmpeg's rtpenc_aac aggregates them: AU-headers-length 48,
 * three headers with AU-Index(-delta) 0, marker set. */
static const uint8_t FFMPEG_3AU[] = {
    0x80, 0xe1, 0x12, 0x34, 0xff, 0xff, 0xf8, 0x00, 0x5e, 0xed, 0xf0, 0x0d, /* ts 2^32 - 2048 */
    0x00, 0x30, 0x00, 0x30, 0x00, 0x38, 0x00, 0x28,                         /* sizes 6, 7, 5 */
    0x21, 0x00, 0x49, 0x90, 0x02, 0x19,                                     /* AU 1 */
    0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c, 0x00,                               /* AU 2 */
    0x01, 0x40, 0x22, 0x80, 0xa3,                                           /* AU 3 */
};

static void test_three_aus_across_wrap(void **state)
{
    sl_rtp_aac_depack_t d;
    sink_t s;
    hbr_depack(&d, &s);
    assert_int_equal(push_raw(&d, FFMPEG_3AU, sizeof(FFMPEG_3AU)), SL_OK);
    assert_int_equal(s.count, 4);
    check_frame(s.frames[0], SL_FRAME_CONFIG, 0, ASC_44_STEREO, 2);
    /* RTP ff fff800, ff fffc00, 00 000000: 0, 1024 and 2048 samples. */
    check_frame(s.frames[1], 0, 0, FFMPEG_3AU + 20, 6);
    check_frame(s.frames[2], 0, 2089, FFMPEG_3AU + 26, 7);
    check_frame(s.frames[3], 0, 4179, FFMPEG_3AU + 33, 5);
    /* The next packet continues after the wrap: RTP 3072 is 5120 samples in. */
    const uint8_t next[] = {0x80, 0xe1, 0x12, 0x35, 0x00, 0x00, 0x0c, 0x00, 0x5e, 0xed, 0xf0, 0x0d,
                            0x00, 0x10, 0x00, 0x08, 0x42};
    assert_int_equal(push_raw(&d, next, sizeof(next)), SL_OK);
    assert_int_equal(s.count, 5);
    check_frame(s.frames[4], 0, 5120LL * 90000 / 44100, next + 16, 1);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);

    /* An AU-Index-delta of 1 means one AU is missing between the two. */
    hbr_depack(&d, &s);
    const uint8_t delta[] = {0x80, 0xe1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x20, 0x00, 0x08, 0x00, 0x09, 0xaa, 0xbb};
    assert_int_equal(push_raw(&d, delta, sizeof(delta)), SL_OK);
    assert_int_equal(s.count, 3);
    check_frame(s.frames[2], 0, 2048LL * 90000 / 44100, delta + 19, 1);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
}

static void test_packetizer_wrap(void **state)
{
    /* Hub times 27 hours in: RTP 4294850000, then 240000 ticks later past 2^32. */
    sl_rtp_aac_packer_t pk;
    assert_int_equal(sl_rtp_aac_packer_init(&pk, ASC_44_STEREO, 2, 97, 1, 0, 0), SL_OK);
    const uint8_t au[] = {0x01, 0x02};
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_frame_t *f = aac_frame(8765000000LL, au, 2);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    f = aac_frame(8765000000LL + 240000, au, 1);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    sl_frame_unref(f);
    const uint8_t ts1[] = {0xff, 0xfe, 0x35, 0xd0}; /* 4294850000 */
    const uint8_t ts2[] = {0x00, 0x00, 0x01, 0x30}; /* 304 */
    assert_memory_equal(out.data + 6, ts1, 4);
    assert_memory_equal(out.data + 20 + 6, ts2, 4);

    sl_rtp_aac_depack_t d;
    sink_t s;
    hbr_depack(&d, &s);
    assert_int_equal(feed_all(&d, &out), 2);
    assert_int_equal(s.count, 3);
    check_frame(s.frames[1], 0, 0, au, 2);
    check_frame(s.frames[2], 0, 240000, au, 1);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
    sl_bytes_free(&out);
}

static void test_packetize_errors_and_config(void **state)
{
    sl_rtp_aac_packer_t pk;
    const uint8_t bad_asc[] = {0x00, 0x00};
    assert_int_equal(sl_rtp_aac_packer_init(&pk, bad_asc, 2, 97, 1, 0, 0), SL_ERR_PROTO);
    assert_int_equal(sl_rtp_aac_packer_init(&pk, ASC_44_STEREO, 2, 97, 1, 0, 15), SL_ERR_CONFIG);
    assert_int_equal(sl_rtp_aac_packer_init(&pk, ASC_44_STEREO, 2, 97, 1, 0, 65524), SL_ERR_CONFIG);
    assert_int_equal(sl_rtp_aac_packer_init(&pk, ASC_44_STEREO, 2, 97, 1, 0, 0), SL_OK);
    sl_bytes_t out;
    sl_bytes_init(&out);
    static uint8_t big[8192];
    sl_frame_t *f = aac_frame(0, big, 0);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_ERR_PROTO);
    sl_frame_unref(f);
    f = aac_frame(0, big, sizeof(big));
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_ERR_TOO_BIG);
    sl_frame_unref(f);
    f = aac_frame(0, big, sizeof(big) - 1); /* the largest AU: 7 packets of 1196 or less */
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    assert_int_equal(out.len, 7 * 18 + 8191);
    sl_frame_unref(f);
    assert_int_equal(pk.seq, 7);

    /* A CONFIG frame (48000 Hz mono) sends nothing and moves the clock. */
    out.len = 0;
    const uint8_t asc48[] = {0x11, 0x88};
    f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, asc48, 2);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(pk.rate, 48000);
    sl_frame_unref(f);
    f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, bad_asc, 2);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_ERR_PROTO);
    sl_frame_unref(f);
    f = aac_frame(90000, asc48, 2);
    assert_int_equal(sl_rtp_aac_packetize(&pk, f, &out), SL_OK);
    const uint8_t ts[] = {0x00, 0x00, 0xbb, 0x80}; /* 48000 */
    assert_memory_equal(out.data + 6, ts, 4);
    sl_frame_unref(f);
    sl_bytes_free(&out);
}

static void test_depack_init(void **state)
{
    sl_rtp_aac_params_t p;
    sl_rtp_aac_depack_t d;
    sink_t s;
    sink_init(&s);
    sl_rtp_aac_params_default(&p);
    /* No config and no rtpmap rate: no clock. */
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_ERR_PROTO);
    p.config[0] = 0x00;
    p.config[1] = 0x00;
    p.config_len = 2;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_ERR_PROTO);
    /* HE-AAC: an LC core at 24000 Hz under a 48000 Hz rtpmap clock counts 2048 a frame. */
    p.config[0] = 0x13;
    p.config[1] = 0x10;
    p.clock_rate = 48000;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_OK);
    assert_int_equal(d.frame_ticks, 2048);
    sl_rtp_aac_depack_free(&d);
    p.frame_ticks = 960;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_OK);
    assert_int_equal(d.frame_ticks, 960);
    sl_rtp_aac_depack_free(&d);
    /* Without a config the rtpmap rate suffices, and no CONFIG frame is made up. */
    p.config_len = 0;
    p.frame_ticks = 0;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_OK);
    assert_int_equal(d.frame_ticks, 1024);
    const uint8_t pkt[] = {0x80, 0xe1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x08, 0x55};
    assert_int_equal(push_raw(&d, pkt, sizeof(pkt)), SL_OK);
    assert_int_equal(s.count, 1);
    check_frame(s.frames[0], 0, 0, pkt + 16, 1);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
    p.size_length = 17;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_ERR_PROTO);
}

static void test_optional_fields(void **state)
{
    /* sizeLength 6, indexLength 2, indexDeltaLength 2, CTS 3, DTS 3, RAP, stream state
     * 1, auxiliary size 4: two headers, then an auxiliary section of 4 + 5 bits. */
    static const char fmtp[] = "mode=AAC-lbr;ctsdeltalength=3;dtsdeltalength=3;randomaccessindication=1;"
                               "streamstateindication=1;auxiliarydatasizelength=4;config=1210";
    sl_rtp_aac_params_t p;
    assert_int_equal(sl_rtp_aac_parse_fmtp(fmtp, strlen(fmtp), &p), SL_OK);
    sink_t s;
    sink_init(&s);
    sl_rtp_aac_depack_t d;
    assert_int_equal(sl_rtp_aac_depack_init(&d, &p, collect, &s), SL_OK);
    /* Header 1: size 2 (000010), index 0 (00), CTS-flag 0, DTS-flag 1 + 101, RAP 1,
     * state 0: 000010 00 0 1101 1 0 = 15 bits.
     * Header 2: size 1 (000001), delta 0 (00), CTS-flag 1 + 011, DTS-flag 0, RAP 0,
     * state 1: 000001 00 1011 0 0 1 = 15 bits. 30 bits: 0x001e.
     * 0000 1000 0110 1100 0000 1001 0110 01(00) -> 08 6c 09 64 (2 padding bits).
     * Aux: size 5 (0101) + 5 bits + 7 padding -> 2 bytes: 0101 1111 | 1000 0000. */
    const uint8_t pkt[] = {0x80, 0xe1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x1e, 0x08, 0x6c, 0x09, 0x64,
                           0x5f, 0x80, 0xa1, 0xa2, 0xb1};
    assert_int_equal(push_raw(&d, pkt, sizeof(pkt)), SL_OK);
    assert_int_equal(s.count, 3);
    check_frame(s.frames[1], 0, 0, pkt + 20, 2);
    check_frame(s.frames[2], 0, 2089, pkt + 22, 1);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
}

static void test_malformed(void **state)
{
    sl_rtp_aac_depack_t d;
    sink_t s;
    hbr_depack(&d, &s);
    const uint8_t rtp[] = {0x80, 0xe1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t pkt[64];
    memcpy(pkt, rtp, 12);
    struct {
        uint8_t payload[8];
        size_t len;
    } cases[] = {
        {{0}, 0},                                           /* empty */
        {{0x00}, 1},                                        /* half a length */
        {{0x00, 0x00}, 2},                                  /* no headers */
        {{0x00, 0x20, 0x00, 0x10}, 4},                      /* 32 bits announced, 16 there */
        {{0x00, 0x18, 0x00, 0x10, 0x00, 0xaa}, 6},          /* a header cut at 24 bits */
        {{0x00, 0x20, 0x00, 0x10, 0x00, 0x18, 0xaa}, 7},    /* two headers, sizes 2+3 > 1 */
        {{0x00, 0x0c, 0x00, 0x10, 0xaa}, 5},                /* a header of 12 bits */
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        memcpy(pkt + 12, cases[i].payload, cases[i].len);
        assert_int_equal(push_raw(&d, pkt, 12 + cases[i].len), SL_ERR_PROTO);
    }
    assert_int_equal(s.count, 0);
    /* Two headers, the first AU fine, the second past the end: the first still goes. */
    const uint8_t partial[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x18, 0xaa, 0xbb};
    memcpy(pkt + 12, partial, sizeof(partial));
    assert_int_equal(push_raw(&d, pkt, 12 + sizeof(partial)), SL_ERR_PROTO);
    assert_int_equal(s.count, 2);
    /* An error from emit stops the packet and comes back. */
    s.fail_at = 3;
    const uint8_t two[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x08, 0xaa, 0xbb};
    memcpy(pkt + 12, two, sizeof(two));
    assert_int_equal(push_raw(&d, pkt, 12 + sizeof(two)), SL_ERR_IO);
    assert_int_equal(s.count, 3);
    sink_free(&s);
    sl_rtp_aac_depack_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmtp_config_1210),
        cmocka_unit_test(test_fmtp_variants),
        cmocka_unit_test(test_sdp_fmtp),
        cmocka_unit_test(test_packetize_one_au),
        cmocka_unit_test(test_packetize_fragments),
        cmocka_unit_test(test_fragment_faults),
        cmocka_unit_test(test_three_aus_across_wrap),
        cmocka_unit_test(test_packetizer_wrap),
        cmocka_unit_test(test_packetize_errors_and_config),
        cmocka_unit_test(test_depack_init),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
