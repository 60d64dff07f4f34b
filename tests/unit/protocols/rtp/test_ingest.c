/* A received RTP track: the SDP's codec configs, packets reordered into frames, other
 * payload types dropped, receiver reports, errors of the emitter passed back, and
 * hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/rtp/ingest.h"
#include "protocols/rtp/rtcp.h"
#include "protocols/rtp/rtp.h"

/* ffmpeg's SDP for libx264 (High profile) and AAC (44.1 kHz stereo), with a third
 * section of a codec the track does not take. */
static const char SDP[] = "v=0\r\n"
                          "o=- 0 0 IN IP4 127.0.0.1\r\n"
                          "s=No Name\r\n"
                          "t=0 0\r\n"
                          "m=video 0 RTP/AVP 96\r\n"
                          "a=rtpmap:96 H264/90000\r\n"
                          "a=fmtp:96 packetization-mode=1; "
                          "sprop-parameter-sets=Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=,aOvjyyLA; "
                          "profile-level-id=64001F\r\n"
                          "a=control:streamid=0\r\n"
                          "m=audio 0 RTP/AVP 97\r\n"
                          "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
                          "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
                          "indexdeltalength=3; config=1210\r\n"
                          "m=video 0 RTP/AVP 98\r\n"
                          "a=rtpmap:98 VP8/90000\r\n";

static const uint8_t SPS[] = {0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00,
                              0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60};
static const uint8_t PPS[] = {0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0};

#define SENDER_SSRC 0x11223344u
#define OUR_SSRC 0xa5a5a5a5u
#define MAX_FRAMES 32

typedef struct sink {
    int count;
    uint8_t flags[MAX_FRAMES];
    uint8_t codec[MAX_FRAMES];
    int64_t pts[MAX_FRAMES];
    size_t len[MAX_FRAMES];
    int result; /* what emit returns */
} sink_t;

static int collect(void *arg, sl_frame_t *f)
{
    sink_t *s = arg;
    assert_true(s->count < MAX_FRAMES);
    s->flags[s->count] = f->flags;
    s->codec[s->count] = f->codec;
    s->pts[s->count] = f->pts;
    s->len[s->count++] = f->len;
    return s->result;
}

typedef struct fixture {
    sl_sdp_t *sdp;
    sink_t sink;
    sl_rtp_ingest_t *in;
} fixture_t;

/* A track for section `index` of SDP. */
static void open_track(fixture_t *fx, int index)
{
    memset(fx, 0, sizeof(*fx));
    assert_int_equal(sl_sdp_parse(SDP, strlen(SDP), &fx->sdp), SL_OK);
    assert_int_equal(sl_rtp_ingest_new(&fx->sdp->media[index], collect, &fx->sink, &fx->in), SL_OK);
}

static void close_track(fixture_t *fx)
{
    sl_rtp_ingest_free(fx->in);
    sl_sdp_free(fx->sdp);
}

/* A single NAL unit packet of one whole access unit: an IDR slice or a P slice. */
static int feed_nal(fixture_t *fx, uint8_t pt, uint16_t seq, bool idr, uint64_t now_ms)
{
    uint8_t pkt[SL_RTP_HEADER_LEN + 4];
    sl_rtp_write_header(pkt, true, pt, seq, (uint32_t)(seq - 10) * 3000u, SENDER_SSRC);
    pkt[SL_RTP_HEADER_LEN] = idr ? 0x65 : 0x41;
    memcpy(pkt + SL_RTP_HEADER_LEN + 1, "\x88\x84\x21", 3);
    return sl_rtp_ingest_packet(fx->in, pkt, sizeof(pkt), now_ms);
}

static void test_config_frames_from_sdp(void **state)
{
    fixture_t fx;
    open_track(&fx, 0);
    const sl_rtp_ingest_info_t *info = sl_rtp_ingest_info(fx.in);
    assert_int_equal(info->media, SL_MEDIA_VIDEO);
    assert_int_equal(info->codec, SL_CODEC_H264);
    assert_int_equal(info->pt, 96);
    assert_int_equal(info->clock, 90000);
    /* AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1): High profile, level 3.1, from the
     * SPS, 4-byte lengths, one SPS, one PPS, then the High profile extension (4:2:0,
     * 8 bits, no SPS extension). */
    uint8_t avcc[11 + sizeof(SPS) + sizeof(PPS) + 4] = {1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, sizeof(SPS)};
    memcpy(avcc + 8, SPS, sizeof(SPS));
    uint8_t *p = avcc + 8 + sizeof(SPS);
    *p++ = 1;
    *p++ = 0;
    *p++ = sizeof(PPS);
    memcpy(p, PPS, sizeof(PPS));
    memcpy(p + sizeof(PPS), "\xfd\xf8\xf8\x00", 4);
    const sl_frame_t *c = sl_rtp_ingest_config(fx.in);
    assert_non_null(c);
    assert_int_equal(c->media, SL_MEDIA_VIDEO);
    assert_int_equal(c->codec, SL_CODEC_H264);
    assert_int_equal(c->flags, SL_FRAME_CONFIG);
    assert_int_equal(c->len, sizeof(avcc));
    assert_memory_equal(c->data, avcc, sizeof(avcc));
    close_track(&fx);

    open_track(&fx, 1);
    info = sl_rtp_ingest_info(fx.in);
    assert_int_equal(info->media, SL_MEDIA_AUDIO);
    assert_int_equal(info->codec, SL_CODEC_AAC);
    assert_int_equal(info->pt, 97);
    assert_int_equal(info->clock, 44100);
    c = sl_rtp_ingest_config(fx.in);
    assert_non_null(c);
    assert_int_equal(c->media, SL_MEDIA_AUDIO);
    assert_int_equal(c->codec, SL_CODEC_AAC);
    assert_int_equal(c->flags, SL_FRAME_CONFIG);
    assert_int_equal(c->len, 2);
    assert_memory_equal(c->data, "\x12\x10", 2);
    close_track(&fx);
}

static void test_unsupported_sections(void **state)
{
    sl_sdp_t *sdp;
    assert_int_equal(sl_sdp_parse(SDP, strlen(SDP), &sdp), SL_OK);
    sl_rtp_ingest_t *in = NULL;
    sink_t sink = {0};
    assert_int_equal(sl_rtp_ingest_new(&sdp->media[2], collect, &sink, &in), SL_ERR_UNSUPPORTED);
    sl_sdp_media_t no_pt = sdp->media[0];
    no_pt.pt_count = 0;
    assert_int_equal(sl_rtp_ingest_new(&no_pt, collect, &sink, &in), SL_ERR_UNSUPPORTED);
    assert_null(in);
    sl_sdp_free(sdp);

    /* An AAC fmtp whose AU-size does not fit 16 bits. */
    static const char bad_aac[] = "v=0\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 97\r\n"
                                  "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
                                  "a=fmtp:97 mode=AAC-hbr;sizelength=40;config=1190\r\n";
    assert_int_equal(sl_sdp_parse(bad_aac, strlen(bad_aac), &sdp), SL_OK);
    assert_int_equal(sl_rtp_ingest_new(&sdp->media[0], collect, &sink, &in), SL_ERR_PROTO);
    sl_sdp_free(sdp);
}

/* Packets swapped and late come out as frames in sequence order: the config from the
 * sprop, then the keyframe, then the others, with timestamps that only go up. */
static void test_out_of_order_packets_become_ordered_frames(void **state)
{
    fixture_t fx;
    open_track(&fx, 0);
    assert_int_equal(feed_nal(&fx, 96, 10, true, 0), SL_OK);
    assert_int_equal(feed_nal(&fx, 96, 13, false, 5), SL_OK);
    assert_int_equal(feed_nal(&fx, 96, 12, false, 10), SL_OK);
    /* 11 is missing: 12 and 13 wait. */
    assert_int_equal(fx.sink.count, 2);
    assert_int_equal(feed_nal(&fx, 96, 11, false, 20), SL_OK);
    assert_int_equal(feed_nal(&fx, 96, 14, false, 30), SL_OK);
    assert_int_equal(fx.sink.count, 6);
    assert_int_equal(fx.sink.flags[0], SL_FRAME_CONFIG);
    assert_int_equal(fx.sink.flags[1], SL_FRAME_KEY);
    for (int i = 1; i < 6; i++) {
        assert_int_equal(fx.sink.codec[i], SL_CODEC_H264);
        assert_int_equal(fx.sink.pts[i], (int64_t)(i - 1) * 3000);
        assert_int_equal(fx.sink.len[i], 4 + 4);
    }
    close_track(&fx);
}

/* A gap is skipped after 300 ms, or at once by a flush. The depacketizer then drops
 * the picture after the gap, which may have lost its start or its references, and
 * waits for a keyframe. */
static void test_gap_released_by_poll_and_flush(void **state)
{
    fixture_t fx;
    open_track(&fx, 0);
    assert_int_equal(feed_nal(&fx, 96, 10, true, 0), SL_OK);
    assert_int_equal(feed_nal(&fx, 96, 12, false, 0), SL_OK);
    assert_int_equal(sl_rtp_ingest_poll(fx.in, 100), SL_OK);
    assert_int_equal(feed_nal(&fx, 96, 13, true, 100), SL_OK);
    assert_int_equal(fx.sink.count, 2);
    assert_int_equal(sl_rtp_ingest_poll(fx.in, 400), SL_OK);
    assert_int_equal(fx.sink.count, 3);
    assert_int_equal(fx.sink.flags[2], SL_FRAME_KEY);
    assert_int_equal(fx.sink.pts[2], 3 * 3000);

    assert_int_equal(feed_nal(&fx, 96, 15, true, 400), SL_OK);
    assert_int_equal(sl_rtp_ingest_flush(fx.in), SL_OK);
    /* 15 went out (dropped after its gap), so 16 is in order and goes at once. */
    assert_int_equal(feed_nal(&fx, 96, 16, true, 400), SL_OK);
    assert_int_equal(fx.sink.count, 4);
    assert_int_equal(fx.sink.pts[3], 6 * 3000);
    close_track(&fx);
}

/* A packet of another payload type makes no frame. It still takes a sequence number,
 * which the depacketizer counts as lost: the picture after it is dropped until the
 * next keyframe. */
static void test_other_payload_type_dropped(void **state)
{
    fixture_t fx;
    open_track(&fx, 0);
    assert_int_equal(feed_nal(&fx, 96, 10, true, 0), SL_OK);
    assert_int_equal(fx.sink.count, 2);
    assert_int_equal(feed_nal(&fx, 97, 11, true, 0), SL_OK);
    assert_int_equal(feed_nal(&fx, 96, 12, false, 0), SL_OK);
    assert_int_equal(fx.sink.count, 2);
    assert_int_equal(feed_nal(&fx, 96, 13, true, 0), SL_OK);
    assert_int_equal(fx.sink.count, 3);
    assert_int_equal(fx.sink.codec[2], SL_CODEC_H264);
    assert_int_equal(fx.sink.pts[2], 3 * 3000);
    close_track(&fx);
}

/* The one report block of an RR + SDES compound. */
static void parse_rr(const sl_bytes_t *rtcp, sl_rtcp_report_block_t *rb)
{
    size_t pos = 0;
    sl_rtcp_packet_t p;
    sl_rtcp_report_t r;
    assert_int_equal(sl_rtcp_next(rtcp->data, rtcp->len, &pos, &p), 1);
    assert_int_equal(p.type, SL_RTCP_RR);
    assert_int_equal(sl_rtcp_parse_report(&p, &r), SL_OK);
    assert_int_equal(r.ssrc, OUR_SSRC);
    assert_int_equal(r.block_count, 1);
    *rb = r.blocks[0];
    assert_int_equal(sl_rtcp_next(rtcp->data, rtcp->len, &pos, &p), 1);
    assert_int_equal(p.type, SL_RTCP_SDES);
    sl_rtcp_sdes_t sdes;
    assert_int_equal(sl_rtcp_parse_sdes(&p, &sdes), SL_OK);
    assert_int_equal(sdes.chunks[0].ssrc, OUR_SSRC);
    assert_int_equal(sl_rtcp_next(rtcp->data, rtcp->len, &pos, &p), 0);
}

static void test_receiver_report(void **state)
{
    fixture_t fx;
    open_track(&fx, 0);
    sl_bytes_t rtcp;
    sl_bytes_init(&rtcp);
    assert_int_equal(sl_rtp_ingest_report(fx.in, OUR_SSRC, 0, &rtcp), SL_ERR_AGAIN);
    assert_int_equal(rtcp.len, 0);

    /* 10, 11, 13 and 14 of 10..14: one lost. */
    static const uint16_t seqs[] = {10, 11, 13, 14};
    for (size_t i = 0; i < SL_ARRAY_SIZE(seqs); i++) assert_int_equal(feed_nal(&fx, 96, seqs[i], i == 0, 0), SL_OK);
    assert_int_equal(sl_rtp_ingest_poll(fx.in, 1000), SL_OK);
    /* The sender's SR at 1000 ms: its NTP time's middle bits are the LSR, and the RR
     * at 3000 ms tells 2 s since (DLSR in 1/65536 s). */
    sl_bytes_t sr;
    sl_bytes_init(&sr);
    sl_rtcp_sender_info_t si = {.ntp = UINT64_C(0x0000123456789abc), .rtp_ts = 1, .packet_count = 5};
    assert_int_equal(sl_rtcp_build_sr(&sr, SENDER_SSRC, &si, NULL), SL_OK);
    sl_rtp_ingest_rtcp(fx.in, sr.data, sr.len, 1000);
    sl_bytes_free(&sr);

    assert_int_equal(sl_rtp_ingest_report(fx.in, OUR_SSRC, 3000, &rtcp), SL_OK);
    sl_rtcp_report_block_t rb;
    parse_rr(&rtcp, &rb);
    assert_int_equal(rb.ssrc, SENDER_SSRC);
    assert_int_equal(rb.cumulative_lost, 1);
    assert_int_equal(rb.fraction_lost, 256 / 5);
    assert_int_equal(rb.highest_seq, 14);
    assert_int_equal(rb.lsr, 0x12345678u);
    assert_int_equal(rb.dlsr, 2 * 65536);

    /* The next interval starts from there: nothing lost since. */
    assert_int_equal(feed_nal(&fx, 96, 15, false, 3100), SL_OK);
    rtcp.len = 0;
    assert_int_equal(sl_rtp_ingest_report(fx.in, OUR_SSRC, 4000, &rtcp), SL_OK);
    parse_rr(&rtcp, &rb);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.cumulative_lost, 1);
    assert_int_equal(rb.highest_seq, 15);
    sl_bytes_free(&rtcp);
    close_track(&fx);
}

/* The emitter's errors come back, even one that looks like a malformed payload, and
 * the track goes on after them. */
static void test_emit_error_passed_back(void **state)
{
    fixture_t fx;
    open_track(&fx, 0);
    fx.sink.result = SL_ERR_PROTO;
    assert_int_equal(feed_nal(&fx, 96, 10, true, 0), SL_ERR_PROTO);
    fx.sink.result = SL_ERR_NOMEM;
    assert_int_equal(feed_nal(&fx, 96, 11, true, 0), SL_ERR_NOMEM);
    int before = fx.sink.count;
    fx.sink.result = SL_OK;
    assert_int_equal(feed_nal(&fx, 96, 12, true, 0), SL_OK);
    assert_true(fx.sink.count > before);
    assert_int_equal(fx.sink.flags[fx.sink.count - 1], SL_FRAME_KEY);
    close_track(&fx);
}

/* An AAC packet of a single AU: 16 bits of AU-header lengths, a 13-bit size and a
 * 3-bit index, then the AU. */
static int feed_aac(fixture_t *fx, uint16_t seq, const uint8_t *payload, size_t len)
{
    uint8_t pkt[SL_RTP_HEADER_LEN + 64];
    assert_true(len <= 64);
    sl_rtp_write_header(pkt, true, 97, seq, seq * 1024u, SENDER_SSRC);
    memcpy(pkt + SL_RTP_HEADER_LEN, payload, len);
    return sl_rtp_ingest_packet(fx->in, pkt, SL_RTP_HEADER_LEN + len, 0);
}

static void test_malformed_input_is_safe(void **state)
{
    fixture_t fx;
    open_track(&fx, 1);
    static const uint8_t au[] = {0x00, 0x10, 0x00, 0x18, 0x21, 0x10, 0x05};
    static const uint8_t bad_au[] = {0x00, 0x10, 0xff, 0xf8, 0x21}; /* claims 8191 bytes */
    assert_int_equal(feed_aac(&fx, 1, au, sizeof(au)), SL_OK);
    assert_int_equal(feed_aac(&fx, 2, bad_au, sizeof(bad_au)), SL_OK);
    assert_int_equal(feed_aac(&fx, 3, (const uint8_t *)"\xff", 1), SL_OK);
    assert_int_equal(feed_aac(&fx, 4, au, sizeof(au)), SL_OK);
    /* The config of the fmtp, then the two good AUs. */
    assert_int_equal(fx.sink.count, 3);
    assert_int_equal(fx.sink.flags[0], SL_FRAME_CONFIG);
    assert_int_equal(fx.sink.len[1], 3);
    assert_int_equal(fx.sink.len[2], 3);

    /* Not RTP at all. */
    static const uint8_t junk[] = {0x80, 0x61, 0x00};
    assert_int_equal(sl_rtp_ingest_packet(fx.in, junk, 0, 0), SL_OK);
    assert_int_equal(sl_rtp_ingest_packet(fx.in, junk, sizeof(junk), 0), SL_OK);
    uint8_t v1[SL_RTP_HEADER_LEN + 7];
    sl_rtp_write_header(v1, true, 97, 5, 5 * 1024, SENDER_SSRC);
    memcpy(v1 + SL_RTP_HEADER_LEN, au, sizeof(au));
    v1[0] = 0x40;
    assert_int_equal(sl_rtp_ingest_packet(fx.in, v1, sizeof(v1), 0), SL_OK);
    /* Every length of a random-looking packet, and RTCP garbage. */
    uint8_t noise[96];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(noise); i++) noise[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    noise[0] = 0x80;
    noise[1] = 97;
    for (size_t n = 0; n <= sizeof(noise); n++) {
        assert_int_equal(sl_rtp_ingest_packet(fx.in, noise, n, 0), SL_OK);
        sl_rtp_ingest_rtcp(fx.in, noise, n, 0);
    }
    assert_int_equal(sl_rtp_ingest_flush(fx.in), SL_OK);
    assert_true(fx.sink.count <= MAX_FRAMES);
    close_track(&fx);
    sl_rtp_ingest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_frames_from_sdp),
        cmocka_unit_test(test_unsupported_sections),
        cmocka_unit_test(test_out_of_order_packets_become_ordered_frames),
        cmocka_unit_test(test_gap_released_by_poll_and_flush),
        cmocka_unit_test(test_other_payload_type_dropped),
        cmocka_unit_test(test_receiver_report),
        cmocka_unit_test(test_emit_error_passed_back),
        cmocka_unit_test(test_malformed_input_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
