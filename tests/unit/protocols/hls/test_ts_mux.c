/* MPEG-TS muxer: exact PAT/PMT bytes (the ones ffmpeg writes for the same program),
 * packet structure, continuity, PCR, Annex B access units, PES timestamps, ADTS, and
 * a round trip through the demuxer. Parameter sets come from real x264/x265 streams
 * (see tests/unit/protocols/codec). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "protocols/codec/h265.h"
#include "protocols/hls/ts_demux.h"
#include "protocols/hls/ts_mux.h"

/* x264 320x240 Constrained Baseline. */
static const char SPS_240[] = "6742c00dd90141fb0110000003001000000303c0f142a480";
static const char PPS_240[] = "68cb83cb20";
/* x265 1280x720 Main. */
static const char VPS_720[] = "40010c01ffff01600000030090000003000003005d959809";
static const char SPS_720[] = "42010101600000030090000003000003005da00280802d165959a4932bc05a0200"
                              "00030002000003003c10";
static const char PPS_720[] = "4401c172b46240";
/* AAC LC, 44.1 kHz, stereo. */
static const uint8_t ASC_LC_44_STEREO[] = {0x12, 0x10};

static const uint8_t IDR[] = {0x65, 0x88, 0x84, 0x00, 0x33};
static const uint8_t SLICE[] = {0x41, 0x9a, 0x02, 0x04};
static const uint8_t SEI[] = {0x06, 0x05, 0x01, 0xaa, 0x80};
static const uint8_t H265_IDR[] = {0x26, 0x01, 0xaf, 0x09, 0x40};

#define MASK33 ((INT64_C(1) << 33) - 1)

typedef struct hexbuf {
    uint8_t data[256];
    size_t len;
} hexbuf_t;

static hexbuf_t hex(const char *s)
{
    hexbuf_t h = {.len = 0};
    size_t n = strlen(s);
    assert_true(n % 2 == 0 && n / 2 <= sizeof(h.data));
    for (size_t i = 0; i < n; i += 2) {
        unsigned x;
        assert_int_equal(sscanf(s + i, "%2x", &x), 1);
        h.data[h.len++] = (uint8_t)x;
    }
    return h;
}

/* ---- frames ---- */

static void put_nal(sl_bytes_t *v, const uint8_t *nal, size_t len)
{
    assert_int_equal(sl_bytes_put_be32(v, (uint32_t)len), SL_OK);
    assert_int_equal(sl_bytes_append(v, nal, len), SL_OK);
}

static void put_annexb(sl_bytes_t *v, const uint8_t *nal, size_t len)
{
    assert_int_equal(sl_bytes_put_be32(v, 1), SL_OK);
    assert_int_equal(sl_bytes_append(v, nal, len), SL_OK);
}

static sl_frame_t *frame_of(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts,
                            int64_t pts, sl_bytes_t *payload)
{
    sl_frame_t *f = sl_frame_copy_of(media, codec, flags, dts, pts, payload->data, payload->len);
    assert_non_null(f);
    sl_bytes_free(payload);
    return f;
}

static sl_frame_t *h264_config(void)
{
    hexbuf_t sps = hex(SPS_240), pps = hex(PPS_240);
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_h264_build_config(sps.data, sps.len, pps.data, pps.len, &v), SL_OK);
    return frame_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, &v);
}

static sl_frame_t *h265_config(void)
{
    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_h265_build_config(vps.data, vps.len, sps.data, sps.len, pps.data, pps.len, &v),
                     SL_OK);
    return frame_of(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_CONFIG, 0, 0, &v);
}

static sl_frame_t *aac_config(void)
{
    return sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, ASC_LC_44_STEREO,
                            sizeof(ASC_LC_44_STEREO));
}

/* A one-NAL H.264 frame. */
static sl_frame_t *h264_frame(const uint8_t *nal, size_t len, uint8_t flags, int64_t dts, int64_t pts)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    put_nal(&v, nal, len);
    return frame_of(SL_MEDIA_VIDEO, SL_CODEC_H264, flags, dts, pts, &v);
}

/* A slice NAL of `len` bytes with a recognisable body. */
static sl_frame_t *sized_slice(size_t len, uint8_t flags, int64_t dts, int64_t pts, uint8_t seed)
{
    uint8_t *nal = malloc(len);
    assert_non_null(nal);
    nal[0] = flags & SL_FRAME_KEY ? 0x65 : 0x41;
    for (size_t i = 1; i < len; i++) nal[i] = (uint8_t)(seed + i * 7) | 0x10; /* no 00 00 0x */
    sl_frame_t *f = h264_frame(nal, len, flags, dts, pts);
    free(nal);
    return f;
}

static sl_frame_t *aac_frame(size_t len, int64_t ts, uint8_t seed)
{
    uint8_t au[2048];
    assert_true(len <= sizeof(au));
    for (size_t i = 0; i < len; i++) au[i] = (uint8_t)(seed ^ i);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, ts, ts, au, len);
    assert_non_null(f);
    return f;
}

static void set_config(sl_ts_muxer_t *m, sl_frame_t *cfg)
{
    assert_int_equal(sl_ts_muxer_set_config(m, cfg), SL_OK);
    sl_frame_unref(cfg);
}

/* An H.264 + AAC muxer with both configs. */
static void av_muxer(sl_ts_muxer_t *m)
{
    assert_int_equal(sl_ts_muxer_init(m, SL_CODEC_H264, SL_CODEC_AAC), SL_OK);
    set_config(m, h264_config());
    set_config(m, aac_config());
}

static void write_frame(sl_ts_muxer_t *m, sl_frame_t *f, sl_bytes_t *out)
{
    assert_int_equal(sl_ts_muxer_write_frame(m, f, out), SL_OK);
    sl_frame_unref(f);
}

/* ---- reading packets back, independently of the demuxer ---- */

static uint16_t pid_of(const uint8_t *p) { return (uint16_t)((p[1] & 0x1F) << 8 | p[2]); }

/* Offset of the payload in a packet (after the adaptation field). */
static size_t payload_offset(const uint8_t *p)
{
    if (!(p[3] & 0x20)) return 4;
    assert_true(p[4] <= 182);
    return 5 + p[4];
}

/* Every packet is 188 bytes, starts with 0x47, carries a payload, has a sane
 * adaptation field, and its counter follows the previous one of its PID in cc[]
 * (-1: any). */
static void check_packets(const sl_bytes_t *out, int cc[0x2000])
{
    assert_int_equal(out->len % SL_TS_PACKET_LEN, 0);
    for (size_t off = 0; off < out->len; off += SL_TS_PACKET_LEN) {
        const uint8_t *p = out->data + off;
        assert_int_equal(p[0], 0x47);
        assert_int_equal(p[1] & 0x80, 0); /* no transport error */
        assert_int_equal(p[3] & 0xC0, 0); /* not scrambled */
        assert_true(p[3] & 0x10);         /* payload present */
        (void)payload_offset(p);
        uint16_t pid = pid_of(p);
        int c = p[3] & 0x0F;
        if (cc[pid] >= 0) assert_int_equal(c, (cc[pid] + 1) & 0x0F);
        cc[pid] = c;
    }
}

static void fresh_cc(int cc[0x2000])
{
    for (int i = 0; i < 0x2000; i++) cc[i] = -1;
}

/* Concatenates the payloads of pid's packets in out[from..). */
static void collect(const sl_bytes_t *out, size_t from, uint16_t pid, sl_bytes_t *es)
{
    sl_bytes_init(es);
    for (size_t off = from; off < out->len; off += SL_TS_PACKET_LEN) {
        const uint8_t *p = out->data + off;
        if (pid_of(p) != pid) continue;
        size_t po = payload_offset(p);
        assert_int_equal(sl_bytes_append(es, p + po, SL_TS_PACKET_LEN - po), SL_OK);
    }
}

static int count_pid(const sl_bytes_t *out, uint16_t pid)
{
    int n = 0;
    for (size_t off = 0; off < out->len; off += SL_TS_PACKET_LEN) n += pid_of(out->data + off) == pid;
    return n;
}

/* ---- PSI ---- */

static void assert_psi_packet(const uint8_t *p, const uint8_t *want, size_t len)
{
    assert_memory_equal(p, want, len);
    for (size_t i = len; i < SL_TS_PACKET_LEN; i++) assert_int_equal(p[i], 0xFF);
    /* The CRC, recomputed over the section (after the pointer field). */
    size_t sec = 5, sec_len = len - sec - 4;
    uint32_t crc = (uint32_t)p[len - 4] << 24 | (uint32_t)p[len - 3] << 16 | (uint32_t)p[len - 2] << 8 | p[len - 1];
    assert_int_equal(sl_ts_crc32(p + sec, sec_len), crc);
    assert_int_equal(sl_ts_crc32(p + sec, sec_len + 4), 0);
}

static void test_crc32(void **state)
{
    /* The CRC-32/MPEG-2 check value. */
    assert_int_equal(sl_ts_crc32((const uint8_t *)"123456789", 9), 0x0376E6E7);
    assert_int_equal(sl_ts_crc32(NULL, 0), 0xFFFFFFFF);
}

/* What ffmpeg writes (ffmpeg -c copy -f mpegts) for the same programs. */
static const uint8_t FF_PAT[] = {0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1,
                                 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1, 0x04, 0xb2};
static const uint8_t FF_PMT_H264_AAC[] = {0x47, 0x50, 0x00, 0x10, 0x00, 0x02, 0xb0, 0x17, 0x00, 0x01,
                                          0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00,
                                          0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00, 0x2f, 0x44, 0xb9,
                                          0x9b};
static const uint8_t FF_PMT_H265_AAC[] = {0x47, 0x50, 0x00, 0x10, 0x00, 0x02, 0xb0, 0x1d, 0x00, 0x01,
                                          0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00, 0x24, 0xe1, 0x00,
                                          0xf0, 0x06, 0x05, 0x04, 0x48, 0x45, 0x56, 0x43, 0x0f, 0xe1,
                                          0x01, 0xf0, 0x00, 0x6c, 0x37, 0xcf, 0x8a};
static const uint8_t FF_PMT_H264[] = {0x47, 0x50, 0x00, 0x10, 0x00, 0x02, 0xb0, 0x12, 0x00,
                                      0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00, 0x1b,
                                      0xe1, 0x00, 0xf0, 0x00, 0x15, 0xbd, 0x4d, 0x56};

static void assert_tables(sl_codec_t video, sl_codec_t audio, const uint8_t *pmt, size_t pmt_len)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, video, audio), SL_OK);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_ts_muxer_write_tables(&m, &out), SL_OK);
    assert_int_equal(out.len, 2 * SL_TS_PACKET_LEN);
    assert_psi_packet(out.data, FF_PAT, sizeof(FF_PAT));
    assert_psi_packet(out.data + SL_TS_PACKET_LEN, pmt, pmt_len);

    /* The next segment's tables: same bytes, counters advanced. */
    assert_int_equal(sl_ts_muxer_write_tables(&m, &out), SL_OK);
    const uint8_t *p = out.data + 2 * SL_TS_PACKET_LEN;
    assert_int_equal(p[3], 0x11);
    assert_int_equal(p[SL_TS_PACKET_LEN + 3], 0x11);
    assert_memory_equal(p + 4, FF_PAT + 4, sizeof(FF_PAT) - 4);
    assert_memory_equal(p + SL_TS_PACKET_LEN + 4, pmt + 4, pmt_len - 4);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

static void test_tables_match_ffmpeg(void **state)
{
    assert_tables(SL_CODEC_H264, SL_CODEC_AAC, FF_PMT_H264_AAC, sizeof(FF_PMT_H264_AAC));
    assert_tables(SL_CODEC_H265, SL_CODEC_AAC, FF_PMT_H265_AAC, sizeof(FF_PMT_H265_AAC));
    assert_tables(SL_CODEC_H264, SL_CODEC_NONE, FF_PMT_H264, sizeof(FF_PMT_H264));
}

static void test_tables_audio_only(void **state)
{
    /* Built by hand: PCR PID 0x101, one AAC entry on 0x101. The CRC is checked by
     * recomputation in assert_psi_packet. */
    uint8_t pmt[] = {0x47, 0x50, 0x00, 0x10, 0x00, 0x02, 0xb0, 0x12, 0x00, 0x01, 0xc1, 0x00, 0x00,
                     0xe1, 0x01, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00, 0, 0, 0, 0};
    sl_wr_be32(pmt + 22, sl_ts_crc32(pmt + 5, 17));
    assert_tables(SL_CODEC_NONE, SL_CODEC_AAC, pmt, sizeof(pmt));
}

/* ---- init, config and refusals ---- */

static void test_init_refuses(void **state)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_NONE, SL_CODEC_NONE), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_AAC, SL_CODEC_NONE), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H264, SL_CODEC_OPUS), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_NONE, SL_CODEC_AAC), SL_OK);
    sl_ts_muxer_free(&m);
}

static void test_frames_before_config(void **state)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H264, SL_CODEC_AAC), SL_OK);
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_frame_t *v = h264_frame(IDR, sizeof(IDR), SL_FRAME_KEY, 0, 0);
    sl_frame_t *a = aac_frame(10, 0, 1);
    assert_int_equal(sl_ts_muxer_write_frame(&m, v, &out), SL_ERR_AGAIN);
    assert_int_equal(sl_ts_muxer_write_frame(&m, a, &out), SL_ERR_AGAIN);
    assert_int_equal(out.len, 0);

    /* A CONFIG frame through write_frame sets the config and writes nothing. */
    sl_frame_t *cfg = h264_config();
    assert_int_equal(sl_ts_muxer_write_frame(&m, cfg, &out), SL_OK);
    sl_frame_unref(cfg);
    assert_int_equal(out.len, 0);
    assert_int_equal(sl_ts_muxer_write_frame(&m, v, &out), SL_OK);
    assert_true(out.len > 0);
    size_t len = out.len;
    assert_int_equal(sl_ts_muxer_write_frame(&m, a, &out), SL_ERR_AGAIN);
    assert_int_equal(out.len, len);
    sl_frame_unref(v);
    sl_frame_unref(a);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

static void test_refusals(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    sl_bytes_t out;
    sl_bytes_init(&out);

    sl_frame_t *data = sl_frame_copy_of(SL_MEDIA_DATA, SL_CODEC_AMF0, 0, 0, 0, "x", 1);
    sl_frame_t *opus = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, 0, 0, "x", 1);
    sl_bytes_t v;
    sl_bytes_init(&v);
    put_nal(&v, H265_IDR, sizeof(H265_IDR));
    sl_frame_t *hevc = frame_of(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_KEY, 0, 0, &v);
    assert_int_equal(sl_ts_muxer_write_frame(&m, data, &out), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_ts_muxer_write_frame(&m, opus, &out), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_ts_muxer_write_frame(&m, hevc, &out), SL_ERR_UNSUPPORTED);
    /* Not a CONFIG frame, or the config of a codec the muxer does not carry. */
    assert_int_equal(sl_ts_muxer_set_config(&m, hevc), SL_ERR_UNSUPPORTED);
    sl_frame_t *cfg265 = h265_config();
    assert_int_equal(sl_ts_muxer_set_config(&m, cfg265), SL_ERR_UNSUPPORTED);

    /* Broken AVCC framing: the length runs past the end; an empty payload. */
    const uint8_t bad[] = {0, 0, 0, 9, 0x65, 0x88};
    sl_frame_t *badf = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 0, 0, bad, sizeof(bad));
    sl_frame_t *empty = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, 0, 0, 0, NULL, 0);
    sl_frame_t *empty_a = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, 0, NULL, 0);
    assert_int_equal(sl_ts_muxer_write_frame(&m, badf, &out), SL_ERR_PROTO);
    assert_int_equal(sl_ts_muxer_write_frame(&m, empty, &out), SL_ERR_PROTO);
    assert_int_equal(sl_ts_muxer_write_frame(&m, empty_a, &out), SL_ERR_PROTO);
    /* ADTS holds at most 8191 bytes with its header. */
    uint8_t *big = calloc(1, 8185);
    assert_non_null(big);
    sl_frame_t *bigf = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, 0, big, 8185);
    free(big);
    assert_int_equal(sl_ts_muxer_write_frame(&m, bigf, &out), SL_ERR_TOO_BIG);
    assert_int_equal(out.len, 0);
    assert_int_equal(m.cc_video, 0);
    assert_int_equal(m.cc_audio, 0);

    sl_frame_unref(data);
    sl_frame_unref(opus);
    sl_frame_unref(hevc);
    sl_frame_unref(cfg265);
    sl_frame_unref(badf);
    sl_frame_unref(empty);
    sl_frame_unref(empty_a);
    sl_frame_unref(bigf);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

static void test_bad_configs(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    size_t ps_len = m.ps.len;
    const uint8_t bad_avcc[] = {0x01, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0x00, 0x20, 0x67};
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, bad_avcc,
                                     sizeof(bad_avcc));
    assert_int_equal(sl_ts_muxer_set_config(&m, f), SL_ERR_PROTO);
    assert_int_equal(m.ps.len, ps_len); /* the old sets stay */
    sl_frame_unref(f);

    const uint8_t bad_asc[] = {0x12};
    f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, bad_asc, 1);
    assert_int_equal(sl_ts_muxer_set_config(&m, f), SL_ERR_PROTO);
    sl_frame_unref(f);
    /* Object type 6 (AAC Scalable) parses but has no ADTS profile. */
    const uint8_t asc_aot6[] = {0x32, 0x10};
    f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, asc_aot6, 2);
    assert_int_equal(sl_ts_muxer_set_config(&m, f), SL_ERR_UNSUPPORTED);
    sl_frame_unref(f);
    assert_int_equal(m.aac.channels, 2);
    sl_ts_muxer_free(&m);
}

/* ---- video PES ---- */

static const uint8_t AUD_H264[] = {0, 0, 0, 1, 0x09, 0xf0};

static void test_keyframe_access_unit(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_bytes_t v;
    sl_bytes_init(&v);
    put_nal(&v, SEI, sizeof(SEI));
    put_nal(&v, IDR, sizeof(IDR));
    write_frame(&m, frame_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 9000, 9000, &v), &out);
    assert_int_equal(out.len, SL_TS_PACKET_LEN);

    const uint8_t *p = out.data;
    /* PUSI, video PID, adaptation field + payload, counter 0; the adaptation field
     * carries random access + PCR, then stuffing up to the PES. */
    assert_memory_equal(p, ((uint8_t[]){0x47, 0x41, 0x00, 0x30}), 4);
    assert_int_equal(p[5], 0x50);

    hexbuf_t sps = hex(SPS_240), pps = hex(PPS_240);
    sl_bytes_t want;
    sl_bytes_init(&want);
    const uint8_t pes_hdr[] = {0, 0, 1, 0xe0, 0, 0, 0x84, 0x80, 5, 0x21, 0x00, 0x01, 0x46, 0x51};
    assert_int_equal(sl_bytes_append(&want, pes_hdr, sizeof(pes_hdr)), SL_OK);
    assert_int_equal(sl_bytes_append(&want, AUD_H264, sizeof(AUD_H264)), SL_OK);
    put_annexb(&want, sps.data, sps.len);
    put_annexb(&want, pps.data, pps.len);
    put_annexb(&want, SEI, sizeof(SEI));
    put_annexb(&want, IDR, sizeof(IDR));
    size_t po = payload_offset(p);
    assert_int_equal(SL_TS_PACKET_LEN - po, want.len);
    assert_memory_equal(p + po, want.data, want.len);
    for (size_t i = 12; i < po; i++) assert_int_equal(p[i], 0xFF); /* stuffing */
    sl_bytes_free(&want);

    /* A frame carrying its own SPS and PPS (and an AUD) gets no second copy, and only
     * the muxer's delimiter. */
    sl_bytes_init(&v);
    const uint8_t aud[] = {0x09, 0x10};
    put_nal(&v, aud, sizeof(aud));
    put_nal(&v, sps.data, sps.len);
    put_nal(&v, pps.data, pps.len);
    put_nal(&v, IDR, sizeof(IDR));
    size_t from = out.len;
    write_frame(&m, frame_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 9000, 9000, &v), &out);
    sl_bytes_t es;
    collect(&out, from, SL_TS_PID_VIDEO, &es);
    sl_bytes_init(&want);
    assert_int_equal(sl_bytes_append(&want, pes_hdr, sizeof(pes_hdr)), SL_OK);
    assert_int_equal(sl_bytes_append(&want, AUD_H264, sizeof(AUD_H264)), SL_OK);
    put_annexb(&want, sps.data, sps.len);
    put_annexb(&want, pps.data, pps.len);
    put_annexb(&want, IDR, sizeof(IDR));
    assert_int_equal(es.len, want.len);
    assert_memory_equal(es.data, want.data, want.len);
    sl_bytes_free(&want);
    sl_bytes_free(&es);

    /* A non-key frame: AUD and the slice only, PCR but no random access flag. */
    from = out.len;
    write_frame(&m, h264_frame(SLICE, sizeof(SLICE), 0, 12600, 12600), &out);
    p = out.data + from;
    assert_int_equal(p[5], 0x10);
    collect(&out, from, SL_TS_PID_VIDEO, &es);
    const uint8_t want_p[] = {0, 0, 1, 0xe0, 0, 0, 0x84, 0x80, 5, 0x21, 0x00, 0x01, 0x62, 0x71,
                              0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x04};
    assert_int_equal(es.len, sizeof(want_p));
    assert_memory_equal(es.data, want_p, sizeof(want_p));
    sl_bytes_free(&es);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

static void test_h265_keyframe(void **state)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H265, SL_CODEC_NONE), SL_OK);
    set_config(&m, h265_config());
    sl_bytes_t out, v, es, want;
    sl_bytes_init(&out);
    sl_bytes_init(&v);
    put_nal(&v, H265_IDR, sizeof(H265_IDR));
    write_frame(&m, frame_of(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_KEY, 0, 0, &v), &out);
    collect(&out, 0, SL_TS_PID_VIDEO, &es);

    hexbuf_t vps = hex(VPS_720), sps = hex(SPS_720), pps = hex(PPS_720);
    sl_bytes_init(&want);
    const uint8_t head[] = {0, 0, 1, 0xe0, 0, 0, 0x84, 0x80, 5, 0x21, 0x00, 0x01, 0x00, 0x01,
                            0, 0, 0, 1, 0x46, 0x01, 0x50};
    assert_int_equal(sl_bytes_append(&want, head, sizeof(head)), SL_OK);
    put_annexb(&want, vps.data, vps.len);
    put_annexb(&want, sps.data, sps.len);
    put_annexb(&want, pps.data, pps.len);
    put_annexb(&want, H265_IDR, sizeof(H265_IDR));
    assert_int_equal(es.len, want.len);
    assert_memory_equal(es.data, want.data, want.len);
    /* DTS 0: the PCR is clamped at 0 rather than wrapped. */
    const uint8_t pcr0[] = {0x50, 0, 0, 0, 0, 0x7e, 0};
    assert_memory_equal(out.data + 5, pcr0, sizeof(pcr0));
    sl_bytes_free(&want);
    sl_bytes_free(&es);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

/* Collects the single PES the test expects. */
typedef struct one_pes {
    int count;
    sl_ts_pes_t pes;
    uint8_t data[4096];
} one_pes_t;

static int on_one(void *arg, const sl_ts_pes_t *pes)
{
    one_pes_t *o = arg;
    o->count++;
    o->pes = *pes;
    assert_true(pes->len <= sizeof(o->data));
    memcpy(o->data, pes->data, pes->len);
    return 0;
}

static void test_b_frame_timestamps_and_pcr(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    sl_bytes_t out;
    sl_bytes_init(&out);
    int64_t pts = INT64_C(0x1ABCDEF12), dts = pts - 3003;
    write_frame(&m, h264_frame(SLICE, sizeof(SLICE), 0, dts, pts), &out);
    const uint8_t *p = out.data;
    /* PCR = DTS - SL_TS_PCR_DELAY, 33-bit base, reserved bits, extension 0. */
    const uint8_t af[] = {0x10, 0xd5, 0xe6, 0xe0, 0x17, 0xfe, 0x00};
    assert_memory_equal(p + 5, af, sizeof(af));
    size_t po = payload_offset(p);
    const uint8_t hdr[] = {0, 0, 1, 0xe0, 0, 0, 0x84, 0xc0, 10, 0x3d, 0xaf, 0x37,
                           0xde, 0x25, 0x1d, 0xaf, 0x37, 0xc6, 0xaf};
    assert_memory_equal(p + po, hdr, sizeof(hdr));

    /* Read back exactly, PCR included. */
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    sl_bytes_t all;
    sl_bytes_init(&all);
    assert_int_equal(sl_ts_muxer_write_tables(&m, &all), SL_OK);
    assert_int_equal(sl_bytes_append(&all, out.data, out.len), SL_OK);
    one_pes_t o = {0};
    assert_int_equal(sl_ts_demuxer_feed(&d, all.data, all.len, on_one, &o), SL_OK);
    assert_int_equal(d.stats.pcr_count, 1);
    assert_int_equal(d.stats.last_pcr, dts - SL_TS_PCR_DELAY);
    assert_true(d.stats.last_pcr <= dts);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&all);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

static one_pes_t demux_one(sl_ts_muxer_t *m, sl_frame_t *f)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_ts_muxer_write_tables(m, &out), SL_OK);
    write_frame(m, f, &out);
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    one_pes_t o = {0};
    assert_int_equal(sl_ts_demuxer_feed(&d, out.data, out.len, on_one, &o), SL_OK);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_one, &o), SL_OK);
    assert_int_equal(o.count, 1);
    o.pes.data = o.data;
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&out);
    return o;
}

static void test_33_bit_wrap(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    const int64_t two33 = INT64_C(1) << 33;
    /* Values past 2^33 and negative ones are written modulo 2^33. */
    struct { int64_t dts, pts; } cases[] = {
        {two33 + 5, two33 + 3608},
        {two33 - 1, two33 - 1},
        {-3600, 0},
        {two33 - 1800, two33 + 1800},
        {3 * two33 + 7, 3 * two33 + 7},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        one_pes_t o = demux_one(&m, h264_frame(SLICE, sizeof(SLICE), 0, cases[i].dts, cases[i].pts));
        assert_int_equal(o.pes.pts, cases[i].pts & MASK33);
        assert_int_equal(o.pes.dts, cases[i].dts == cases[i].pts ? -1 : cases[i].dts & MASK33);
        /* The PCR stays DTS - delay modulo 2^33, at or before the DTS. */
        int64_t dts = cases[i].dts & MASK33;
        assert_int_equal(o.pes.pcr, (cases[i].dts - SL_TS_PCR_DELAY) & MASK33);
        assert_int_equal((dts - o.pes.pcr) & MASK33, SL_TS_PCR_DELAY);
    }
    sl_ts_muxer_free(&m);
}

/* ---- audio ---- */

static void test_adts_pes(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    sl_bytes_t out;
    sl_bytes_init(&out);
    write_frame(&m, aac_frame(100, 5, 0x5a), &out);
    assert_int_equal(out.len, SL_TS_PACKET_LEN);
    const uint8_t *p = out.data;
    /* Audio is not the PCR PID here: random access flag only. */
    assert_memory_equal(p, ((uint8_t[]){0x47, 0x41, 0x01, 0x30}), 4);
    assert_int_equal(p[5], 0x40);
    size_t po = payload_offset(p);
    /* PES length 3 + 5 + 7 + 100; ADTS: LC, 44.1 kHz, 2 channels, 107 bytes. */
    const uint8_t hdr[] = {0, 0, 1, 0xc0, 0x00, 0x73, 0x84, 0x80, 5, 0x21, 0x00, 0x01, 0x00, 0x0b,
                           0xff, 0xf1, 0x50, 0x80, 0x0d, 0x7f, 0xfc};
    assert_int_equal(SL_TS_PACKET_LEN - po, sizeof(hdr) + 100);
    assert_memory_equal(p + po, hdr, sizeof(hdr));
    for (size_t i = 0; i < 100; i++) assert_int_equal(p[po + sizeof(hdr) + i], (uint8_t)(0x5a ^ i));
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

static void test_audio_only_pcr(void **state)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_NONE, SL_CODEC_AAC), SL_OK);
    set_config(&m, aac_config());
    sl_bytes_t out;
    sl_bytes_init(&out);
    int cc[0x2000];
    fresh_cc(cc);
    for (int i = 0; i < 40; i++) {
        size_t from = out.len;
        int64_t ts = 90000 + i * 2090;
        write_frame(&m, aac_frame(300 + (size_t)i * 13, ts, (uint8_t)i), &out);
        const uint8_t *p = out.data + from;
        assert_int_equal(pid_of(p), SL_TS_PID_AUDIO);
        assert_int_equal(p[5], 0x50); /* random access + PCR */
        int64_t pcr = (int64_t)((uint64_t)p[6] << 25 | (uint64_t)p[7] << 17 | (uint64_t)p[8] << 9 |
                                (uint64_t)p[9] << 1 | p[10] >> 7);
        assert_int_equal(pcr, ts - SL_TS_PCR_DELAY);
    }
    check_packets(&out, cc);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

/* ---- packets ---- */

static void test_packets_and_continuity(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    sl_bytes_t out;
    sl_bytes_init(&out);
    int cc[0x2000];
    fresh_cc(cc);
    /* PES sizes around packet boundaries: the first packet of a video PES holds
     * 184 - 8 (adaptation field with PCR) bytes; the PES header is 14 bytes and
     * the AUD 6, so a NAL of n bytes makes a PES of 24 + n. */
    size_t sizes[] = {1, 2, 150, 151, 152, 153, 154, 335, 336, 337, 338, 339, 5000, 65536, 70000};
    int64_t ts = 0;
    for (int seg = 0; seg < 3; seg++) {
        assert_int_equal(sl_ts_muxer_write_tables(&m, &out), SL_OK);
        for (size_t i = 0; i < SL_ARRAY_SIZE(sizes); i++) {
            size_t from = out.len;
            uint8_t flags = i == 0 ? SL_FRAME_KEY : 0;
            write_frame(&m, sized_slice(sizes[i], flags, ts, ts + 3600, (uint8_t)i), &out);
            size_t pes_len = 14 + 5 + 6 + 4 + sizes[i];
            if (flags) pes_len += 4 + strlen(SPS_240) / 2 + 4 + strlen(PPS_240) / 2;
            size_t first = 184 - 8;
            size_t want = pes_len <= first ? 1 : 1 + (pes_len - first + 183) / 184;
            assert_int_equal((out.len - from) / SL_TS_PACKET_LEN, want);
            write_frame(&m, aac_frame(1 + i * 97, ts + 1000, (uint8_t)i), &out);
            ts += 3600;
        }
    }
    check_packets(&out, cc);
    assert_int_equal(count_pid(&out, SL_TS_PID_PAT), 3);
    assert_int_equal(cc[SL_TS_PID_PAT], 2);
    assert_int_equal(cc[SL_TS_PID_VIDEO], (count_pid(&out, SL_TS_PID_VIDEO) - 1) % 16);
    assert_int_equal(cc[SL_TS_PID_AUDIO], (count_pid(&out, SL_TS_PID_AUDIO) - 1) % 16);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

/* ---- round trip ---- */

typedef struct rt {
    sl_frame_t *sent[64];
    int sent_count;
    int video_seen, audio_seen;
    bool matched[64];
} rt_t;

/* Finds the next unmatched sent frame of the PES's kind and compares it. */
static int on_rt(void *arg, const sl_ts_pes_t *pes)
{
    rt_t *rt = arg;
    sl_media_t media = pes->pid == SL_TS_PID_VIDEO ? SL_MEDIA_VIDEO : SL_MEDIA_AUDIO;
    int i = 0;
    while (i < rt->sent_count && (rt->matched[i] || rt->sent[i]->media != media)) i++;
    assert_true(i < rt->sent_count);
    sl_frame_t *f = rt->sent[i];
    rt->matched[i] = true;
    assert_int_equal(pes->pts, f->pts);
    if (media == SL_MEDIA_VIDEO) {
        rt->video_seen++;
        assert_int_equal(pes->stream_type, SL_TS_STREAM_H264);
        assert_int_equal(pes->stream_id, 0xE0);
        assert_int_equal(pes->dts, f->dts == f->pts ? -1 : f->dts);
        assert_int_equal(pes->random_access, (f->flags & SL_FRAME_KEY) != 0);
        assert_true(pes->pcr >= 0 && pes->pcr <= f->dts);
        sl_bytes_t back;
        sl_bytes_init(&back);
        assert_int_equal(sl_h264_annexb_to_avcc(pes->data, pes->len, false, &back), SL_OK);
        assert_int_equal(back.len, f->len);
        assert_memory_equal(back.data, f->data, f->len);
        sl_bytes_free(&back);
    } else {
        rt->audio_seen++;
        assert_int_equal(pes->stream_type, SL_TS_STREAM_AAC_ADTS);
        assert_int_equal(pes->stream_id, 0xC0);
        assert_int_equal(pes->dts, -1);
        sl_aac_config_t cfg;
        size_t hl, fl;
        assert_int_equal(sl_aac_parse_adts(pes->data, pes->len, &cfg, &hl, &fl), SL_OK);
        assert_int_equal(fl, pes->len);
        assert_int_equal(cfg.sample_rate, 44100);
        assert_int_equal(cfg.channels, 2);
        assert_int_equal(pes->len - hl, f->len);
        assert_memory_equal(pes->data + hl, f->data, f->len);
    }
    return 0;
}

static void test_round_trip(void **state)
{
    sl_ts_muxer_t m;
    av_muxer(&m);
    sl_bytes_t out;
    sl_bytes_init(&out);
    rt_t rt = {.sent_count = 0};
    assert_int_equal(sl_ts_muxer_write_tables(&m, &out), SL_OK);
    /* 25 video frames in IPBB... decode order with B-frame offsets, and 25 audio frames
     * interleaved, starting past the PCR delay. */
    for (int i = 0; i < 25; i++) {
        int64_t dts = 90000 + i * 3600;
        int64_t pts = dts + (i % 3 == 0 ? 7200 : i % 3 == 1 ? 10800 : 3600);
        uint8_t flags = i % 10 == 0 ? SL_FRAME_KEY : 0;
        sl_bytes_t v;
        sl_bytes_init(&v);
        if (i % 4 == 0) put_nal(&v, SEI, sizeof(SEI));
        size_t n = 10 + (size_t)i * 523;
        uint8_t *nal = malloc(n);
        assert_non_null(nal);
        nal[0] = flags ? 0x65 : 0x41;
        for (size_t k = 1; k < n; k++) nal[k] = (uint8_t)(k * 31 + (size_t)i) | 0x04;
        put_nal(&v, nal, n);
        free(nal);
        sl_frame_t *f = frame_of(SL_MEDIA_VIDEO, SL_CODEC_H264, flags, dts, pts, &v);
        rt.sent[rt.sent_count++] = f;
        assert_int_equal(sl_ts_muxer_write_frame(&m, f, &out), SL_OK);

        sl_frame_t *a = aac_frame(50 + (size_t)i * 37, dts + 1800, (uint8_t)(i * 3));
        rt.sent[rt.sent_count++] = a;
        assert_int_equal(sl_ts_muxer_write_frame(&m, a, &out), SL_OK);
    }
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    assert_int_equal(sl_ts_demuxer_feed(&d, out.data, out.len, on_rt, &rt), SL_OK);
    assert_int_equal(rt.video_seen, 24); /* the last video PES ends with the input */
    assert_int_equal(sl_ts_demuxer_finish(&d, on_rt, &rt), SL_OK);
    assert_int_equal(rt.video_seen, 25);
    assert_int_equal(rt.audio_seen, 25);
    assert_int_equal(d.stats.cc_errors, 0);
    assert_int_equal(d.stats.pes_errors, 0);
    assert_int_equal(d.stats.psi_errors, 0);
    assert_int_equal(d.stats.pcr_count, 25);
    for (int i = 0; i < rt.sent_count; i++) sl_frame_unref(rt.sent[i]);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

/* ---- a stream with a transcoded audio track ---- */

/* AAC LC, 48 kHz, stereo: what the transcoder makes of a browser's Opus. */
static const uint8_t ASC_LC_48_STEREO[] = {0x11, 0x90};

typedef struct derived {
    int64_t aac_pts[32];
    int aac_count, aac_seen, video_seen;
} derived_t;

static int on_derived(void *arg, const sl_ts_pes_t *pes)
{
    derived_t *d = arg;
    if (pes->pid == SL_TS_PID_VIDEO) {
        d->video_seen++;
        return 0;
    }
    assert_int_equal(pes->pid, SL_TS_PID_AUDIO);
    assert_true(d->aac_seen < d->aac_count);
    assert_int_equal(pes->pts, d->aac_pts[d->aac_seen]);
    sl_aac_config_t cfg;
    size_t hl, fl;
    assert_int_equal(sl_aac_parse_adts(pes->data, pes->len, &cfg, &hl, &fl), SL_OK);
    assert_int_equal(fl, pes->len);
    assert_int_equal(cfg.sample_rate, 48000);
    assert_int_equal(cfg.channels, 2);
    /* The AAC frame's own bytes (aac_frame seeds them with its index), not Opus. */
    assert_int_equal(pes->len - hl, 40);
    assert_int_equal(pes->data[hl + 1], (uint8_t)(d->aac_seen ^ 1));
    d->aac_seen++;
    return 0;
}

/* What the HLS glue is given for a WebRTC publisher: its Opus config and 20 ms Opus
 * packets, and the AAC track the transcoder makes of them (config and frames
 * flagged SL_FRAME_DERIVED), each AAC frame logged a few tens of ms after the Opus
 * that made it, so its timestamps run behind. The muxer takes the derived config
 * as the AAC config and the derived frames as the audio; Opus is refused and leaves
 * nothing behind. */
static void test_derived_aac_among_opus(void **state)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H264, SL_CODEC_AAC), SL_OK);
    set_config(&m, h264_config());
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_ts_muxer_write_tables(&m, &out), SL_OK);

    const uint8_t opus_head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0};
    sl_frame_t *opus_config =
        sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, 0, opus_head, sizeof(opus_head));
    assert_non_null(opus_config);
    assert_int_equal(sl_ts_muxer_set_config(&m, opus_config), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_ts_muxer_write_frame(&m, opus_config, &out), SL_ERR_UNSUPPORTED);
    sl_frame_unref(opus_config);

    sl_frame_t *derived_config = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG | SL_FRAME_DERIVED, 0,
                                                  0, ASC_LC_48_STEREO, sizeof(ASC_LC_48_STEREO));
    assert_non_null(derived_config);
    size_t before = out.len;
    assert_int_equal(sl_ts_muxer_write_frame(&m, derived_config, &out), SL_OK);
    assert_int_equal(out.len, before);
    assert_true(m.audio_ready);
    assert_int_equal(m.aac.sample_rate, 48000);
    sl_frame_unref(derived_config);

    derived_t d = {.aac_count = 0};
    const int64_t start = 90000;
    int next_aac = 0;
    for (int i = 0; i < 25; i++) { /* 0.5 s: 25 Opus packets, 13 video frames */
        int64_t ts = start + i * 1800;
        if (i % 2 == 0)
            write_frame(&m, sized_slice(30, i == 0 ? SL_FRAME_KEY : 0, ts, ts, (uint8_t)i), &out);
        const uint8_t pkt[] = {0xfc, 0xff, 0xfe, (uint8_t)i};
        sl_frame_t *opus = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, ts, ts, pkt, sizeof(pkt));
        assert_non_null(opus);
        before = out.len;
        assert_int_equal(sl_ts_muxer_write_frame(&m, opus, &out), SL_ERR_UNSUPPORTED);
        assert_int_equal(out.len, before);
        sl_frame_unref(opus);
        /* 1024 samples at 48 kHz, 1920 ticks; each comes two Opus packets late. */
        int64_t aac_ts = start + next_aac * 1920;
        if (aac_ts + 2 * 1800 <= ts) {
            sl_frame_t *aac = aac_frame(40, aac_ts, (uint8_t)next_aac);
            aac->flags |= SL_FRAME_DERIVED;
            assert_true(d.aac_count < (int)SL_ARRAY_SIZE(d.aac_pts));
            d.aac_pts[d.aac_count++] = aac_ts;
            write_frame(&m, aac, &out);
            next_aac++;
        }
    }
    assert_true(d.aac_count >= 10);

    sl_ts_demuxer_t dm;
    sl_ts_demuxer_init(&dm, SL_TS_DEMUX_MAX_PES);
    assert_int_equal(sl_ts_demuxer_feed(&dm, out.data, out.len, on_derived, &d), SL_OK);
    assert_int_equal(sl_ts_demuxer_finish(&dm, on_derived, &d), SL_OK);
    assert_int_equal(d.aac_seen, d.aac_count);
    assert_int_equal(d.video_seen, 13);
    assert_int_equal(dm.stats.cc_errors, 0);
    assert_int_equal(dm.stats.pes_errors, 0);
    sl_ts_demuxer_free(&dm);
    sl_bytes_free(&out);
    sl_ts_muxer_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_tables_match_ffmpeg),
        cmocka_unit_test(test_tables_audio_only),
        cmocka_unit_test(test_init_refuses),
        cmocka_unit_test(test_frames_before_config),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_keyframe_access_unit),
        cmocka_unit_test(test_h265_keyframe),
        cmocka_unit_test(test_b_frame_timestamps_and_pcr),
        cmocka_unit_test(test_33_bit_wrap),
        cmocka_unit_test(test_adts_pes),
        cmocka_unit_test(test_audio_only_pcr),
        cmocka_unit_test(test_packets_and_continuity),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_derived_aac_among_opus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
