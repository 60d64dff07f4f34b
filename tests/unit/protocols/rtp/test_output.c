/* The shared RTP output of a stream: video, the publisher's audio and the audio the
 * transcoder derives from it each have their own track state, so every track's
 * sequence numbers are contiguous however the two audio codecs interleave; a derived
 * config that comes after the output was made starts its track then; an audio
 * config of another codec starts the track anew. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocols/rtp/output.h"

#define MAX_FRAMES 64

/* avcC of testsrc2 1280x720 30 fps, libx264 High 3.1. */
static const char AVCC_720[] = "0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f1831960"
                               "01000668ebe3cb22c0fdf8f800";
static const uint8_t ASC_44100_STEREO[] = {0x12, 0x10};
static const uint8_t ASC_48000_STEREO[] = {0x11, 0x90};
static const uint8_t OPUS_PKT[] = {0xfc, 0xff, 0xfe, 0x1b, 0x85, 0x21};
static const uint8_t AAC_AU[] = {0x21, 0x10, 0x05, 0x00, 0xa0, 0x19, 0x33, 0x87};

typedef struct fx {
    sl_config_t cfg;
    sl_server_t srv;
    sl_stream_t *stream;
    sl_rtp_output_t *o;
    sl_frame_t *frames[MAX_FRAMES];
    int n;
} fx_t;

/* What the packets of one track must show, checked in log order. */
typedef struct expect {
    uint8_t pt;
    uint32_t ssrc;
    bool started;
    uint16_t next_seq;
    int packets;
} expect_t;

static int setup(void **state)
{
    static fx_t f;
    memset(&f, 0, sizeof(f));
    sl_config_defaults(&f.cfg);
    f.srv.cfg = &f.cfg;
    f.srv.loop = uv_default_loop();
    f.srv.hub = sl_hub_new(&f.cfg);
    assert_non_null(f.srv.hub);
    sl_list_init(&f.srv.deferred);
    assert_int_equal(uv_idle_init(f.srv.loop, &f.srv.flush_idle), 0);
    assert_int_equal(sl_hub_publish(f.srv.hub, "live/t", &f.stream), SL_OK);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->o != NULL) sl_rtp_output_release(f->o);
    for (int i = 0; i < f->n; i++) sl_frame_unref(f->frames[i]);
    sl_stream_unpublish(f->stream);
    sl_hub_free(f->srv.hub);
    uv_idle_stop(&f->srv.flush_idle);
    uv_close((uv_handle_t *)&f->srv.flush_idle, NULL);
    assert_int_equal(uv_run(f->srv.loop, UV_RUN_DEFAULT), 0);
    return 0;
}

/* Pushes a frame into the stream; the fixture keeps a reference to look at its
 * packets. */
static sl_frame_t *push(fx_t *f, sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t ts, const void *data,
                        size_t len)
{
    assert_true(f->n < MAX_FRAMES);
    sl_frame_t *fr = sl_frame_copy_of(media, codec, flags, ts, ts, data, len);
    assert_non_null(fr);
    assert_int_equal(sl_stream_push(f->stream, fr, uv_now(f->srv.loop)), SL_OK);
    f->frames[f->n++] = fr;
    return fr;
}

static void push_avcc(fx_t *f)
{
    uint8_t avcc[128];
    size_t n = strlen(AVCC_720) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        assert_int_equal(sscanf(AVCC_720 + 2 * i, "%2x", &x), 1);
        avcc[i] = (uint8_t)x;
    }
    push(f, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, avcc, n);
}

/* An IDR of `size` bytes, length-prefixed: several FU-A packets at the default MTU. */
static void push_idr(fx_t *f, int64_t ts, size_t size)
{
    static uint8_t au[4 + 4000];
    assert_true(size <= sizeof(au) - 4);
    memset(au, 0xab, sizeof(au));
    au[0] = (uint8_t)(size >> 24), au[1] = (uint8_t)(size >> 16), au[2] = (uint8_t)(size >> 8), au[3] = (uint8_t)size;
    au[4] = 0x65;
    push(f, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, ts, au, 4 + size);
}

static void push_opus_head(fx_t *f, uint8_t flags)
{
    uint8_t head[SL_OPUS_HEAD_LEN];
    sl_rtp_opus_head(2, head);
    push(f, SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_CONFIG | flags, 0, head, sizeof(head));
}

/* The output's packets of frame fr against what its track must show: each packet
 * continues the track's sequence. Returns how many packets fr has. */
static int check_frame(const sl_frame_t *fr, expect_t *e)
{
    sl_buf_t *b = sl_frame_enc_get(fr, SL_ENC_RTP, 0);
    if (b == NULL) return 0;
    size_t pos = 0, len;
    const uint8_t *p;
    int n = 0;
    while ((p = sl_rtp_next_packet(b->data, b->len, &pos, &len)) != NULL) {
        sl_rtp_packet_t pkt;
        assert_int_equal(sl_rtp_parse(p, len, &pkt), SL_OK);
        assert_int_equal(pkt.payload_type, e->pt);
        assert_int_equal(pkt.ssrc, e->ssrc);
        if (e->started) assert_int_equal(pkt.seq, e->next_seq);
        e->started = true;
        e->next_seq = (uint16_t)(pkt.seq + 1);
        e->packets++;
        n++;
    }
    assert_int_equal(pos, b->len);
    return n;
}

static expect_t expect_of(const sl_rtp_output_t *o, sl_rtp_output_track_id_t id)
{
    return (expect_t){.pt = o->track[id].pt, .ssrc = o->track[id].ssrc};
}

/* Walks every frame pushed, in log order, checking each track's packets. */
static void check_all(fx_t *f, expect_t e[SL_RTP_TRACK_COUNT])
{
    for (int i = 0; i < f->n; i++) {
        sl_rtp_output_track_id_t id = sl_rtp_output_track_id(f->frames[i]);
        if (id < SL_RTP_TRACK_COUNT) (void)check_frame(f->frames[i], &e[id]);
    }
}

static void test_track_id(void **state)
{
    (void)state;
    static const uint8_t b[1] = {0};
    struct {
        sl_media_t media;
        sl_codec_t codec;
        uint8_t flags;
        sl_rtp_output_track_id_t want;
    } cases[] = {
        {SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, SL_RTP_TRACK_VIDEO},
        {SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, SL_RTP_TRACK_AUDIO},
        {SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_DERIVED, SL_RTP_TRACK_DERIVED_AUDIO},
        {SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_CONFIG | SL_FRAME_DERIVED, SL_RTP_TRACK_DERIVED_AUDIO},
        {SL_MEDIA_DATA, SL_CODEC_AMF0, 0, SL_RTP_TRACK_COUNT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_frame_t *fr = sl_frame_copy_of(cases[i].media, cases[i].codec, cases[i].flags, 0, 0, b, sizeof(b));
        assert_non_null(fr);
        assert_int_equal(sl_rtp_output_track_id(fr), cases[i].want);
        sl_frame_unref(fr);
    }
}

/* AAC from the publisher, Opus from the transcoder, both configs there before the
 * output: AAC and Opus frames interleave, with video between them. */
static void test_interleaved_audio_codecs(void **state)
{
    fx_t *f = *state;
    push_avcc(f);
    push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, ASC_44100_STEREO, sizeof(ASC_44100_STEREO));
    push_opus_head(f, SL_FRAME_DERIVED);
    push_idr(f, 0, 3000);
    f->o = sl_rtp_output_acquire(&f->srv, f->stream);
    assert_non_null(f->o);
    for (int i = 0; i < 12; i++) {
        int64_t ts = SL_MS_TO_TS(20 * (i + 1));
        push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, ts, AAC_AU, sizeof(AAC_AU));
        /* Uneven interleaving: one or two Opus frames per AAC frame. */
        for (int k = 0; k < 1 + i % 2; k++)
            push(f, SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_DERIVED, ts + k * SL_MS_TO_TS(10), OPUS_PKT,
                 sizeof(OPUS_PKT));
        if (i == 6) push_idr(f, ts, 2500);
    }
    sl_rtp_output_catch_up(f->o);

    const sl_rtp_output_t *o = f->o;
    assert_int_equal(o->track[SL_RTP_TRACK_VIDEO].codec, SL_CODEC_H264);
    assert_int_equal(o->track[SL_RTP_TRACK_AUDIO].codec, SL_CODEC_AAC);
    assert_int_equal(o->track[SL_RTP_TRACK_DERIVED_AUDIO].codec, SL_CODEC_OPUS);
    assert_int_equal(o->track[SL_RTP_TRACK_VIDEO].pt, SL_RTP_OUTPUT_PT_VIDEO);
    assert_int_equal(o->track[SL_RTP_TRACK_AUDIO].pt, SL_RTP_OUTPUT_PT_AUDIO);
    assert_int_equal(o->track[SL_RTP_TRACK_DERIVED_AUDIO].pt, SL_RTP_OUTPUT_PT_DERIVED_AUDIO);
    assert_int_equal(o->track[SL_RTP_TRACK_AUDIO].clock, 44100);
    assert_int_equal(o->track[SL_RTP_TRACK_DERIVED_AUDIO].clock, SL_RTP_OPUS_RATE);
    assert_int_not_equal(o->track[SL_RTP_TRACK_AUDIO].ssrc, o->track[SL_RTP_TRACK_DERIVED_AUDIO].ssrc);
    assert_int_not_equal(o->track[SL_RTP_TRACK_VIDEO].ssrc, o->track[SL_RTP_TRACK_DERIVED_AUDIO].ssrc);

    expect_t e[SL_RTP_TRACK_COUNT];
    for (int i = 0; i < SL_RTP_TRACK_COUNT; i++) e[i] = expect_of(o, (sl_rtp_output_track_id_t)i);
    check_all(f, e);
    assert_int_equal(e[SL_RTP_TRACK_AUDIO].packets, 12);
    assert_int_equal(e[SL_RTP_TRACK_DERIVED_AUDIO].packets, 18);
    assert_true(e[SL_RTP_TRACK_VIDEO].packets >= 2 * 3); /* two IDRs in FU-A fragments */
}

/* The transcoder starts with the first player that wants it: its config comes
 * after the output was made, and Opus before it (none should) gets no packets. */
static void test_derived_config_later(void **state)
{
    fx_t *f = *state;
    push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, ASC_44100_STEREO, sizeof(ASC_44100_STEREO));
    f->o = sl_rtp_output_acquire(&f->srv, f->stream);
    assert_non_null(f->o);
    for (int i = 0; i < 4; i++)
        push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, SL_MS_TO_TS(23 * i), AAC_AU, sizeof(AAC_AU));
    sl_frame_t *early = push(f, SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_DERIVED, SL_MS_TO_TS(80), OPUS_PKT,
                             sizeof(OPUS_PKT));
    sl_rtp_output_catch_up(f->o);
    assert_int_equal(f->o->track[SL_RTP_TRACK_DERIVED_AUDIO].codec, SL_CODEC_NONE);
    assert_null(sl_frame_enc_get(early, SL_ENC_RTP, 0));

    push_opus_head(f, SL_FRAME_DERIVED);
    for (int i = 4; i < 10; i++) {
        push(f, SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_DERIVED, SL_MS_TO_TS(20 * i), OPUS_PKT, sizeof(OPUS_PKT));
        push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, SL_MS_TO_TS(23 * i), AAC_AU, sizeof(AAC_AU));
    }
    sl_rtp_output_catch_up(f->o);
    assert_int_equal(f->o->track[SL_RTP_TRACK_DERIVED_AUDIO].codec, SL_CODEC_OPUS);
    expect_t e[SL_RTP_TRACK_COUNT];
    for (int i = 0; i < SL_RTP_TRACK_COUNT; i++) e[i] = expect_of(f->o, (sl_rtp_output_track_id_t)i);
    check_all(f, e);
    assert_int_equal(e[SL_RTP_TRACK_AUDIO].packets, 10);
    assert_int_equal(e[SL_RTP_TRACK_DERIVED_AUDIO].packets, 6);
}

/* The other way round: Opus from the publisher (WHIP), AAC from the transcoder at
 * 48 kHz. */
static void test_derived_aac(void **state)
{
    fx_t *f = *state;
    push_opus_head(f, 0);
    push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG | SL_FRAME_DERIVED, 0, ASC_48000_STEREO,
         sizeof(ASC_48000_STEREO));
    f->o = sl_rtp_output_acquire(&f->srv, f->stream);
    assert_non_null(f->o);
    for (int i = 0; i < 8; i++) {
        push(f, SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, SL_MS_TO_TS(20 * i), OPUS_PKT, sizeof(OPUS_PKT));
        if (i % 2 == 1)
            push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_DERIVED, SL_MS_TO_TS(20 * i), AAC_AU, sizeof(AAC_AU));
    }
    sl_rtp_output_catch_up(f->o);
    assert_int_equal(f->o->track[SL_RTP_TRACK_AUDIO].codec, SL_CODEC_OPUS);
    assert_int_equal(f->o->track[SL_RTP_TRACK_DERIVED_AUDIO].codec, SL_CODEC_AAC);
    assert_int_equal(f->o->track[SL_RTP_TRACK_DERIVED_AUDIO].clock, 48000);
    expect_t e[SL_RTP_TRACK_COUNT];
    for (int i = 0; i < SL_RTP_TRACK_COUNT; i++) e[i] = expect_of(f->o, (sl_rtp_output_track_id_t)i);
    check_all(f, e);
    assert_int_equal(e[SL_RTP_TRACK_AUDIO].packets, 8);
    assert_int_equal(e[SL_RTP_TRACK_DERIVED_AUDIO].packets, 4);
}

/* A publisher's audio config of another codec starts its track anew; frames of the
 * old codec after it get no packets. */
static void test_codec_change(void **state)
{
    fx_t *f = *state;
    push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, ASC_44100_STEREO, sizeof(ASC_44100_STEREO));
    f->o = sl_rtp_output_acquire(&f->srv, f->stream);
    assert_non_null(f->o);
    sl_frame_t *aac = push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, AAC_AU, sizeof(AAC_AU));
    sl_rtp_output_catch_up(f->o);
    assert_non_null(sl_frame_enc_get(aac, SL_ENC_RTP, 0));
    uint32_t aac_ssrc = f->o->track[SL_RTP_TRACK_AUDIO].ssrc;

    push_opus_head(f, 0);
    sl_frame_t *late = push(f, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, SL_MS_TO_TS(23), AAC_AU, sizeof(AAC_AU));
    sl_frame_t *opus = push(f, SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, SL_MS_TO_TS(40), OPUS_PKT, sizeof(OPUS_PKT));
    sl_rtp_output_catch_up(f->o);
    const sl_rtp_output_track_t *t = &f->o->track[SL_RTP_TRACK_AUDIO];
    assert_int_equal(t->codec, SL_CODEC_OPUS);
    assert_int_equal(t->pt, SL_RTP_OUTPUT_PT_AUDIO);
    assert_int_not_equal(t->ssrc, aac_ssrc);
    assert_null(sl_frame_enc_get(late, SL_ENC_RTP, 0));
    expect_t e = expect_of(f->o, SL_RTP_TRACK_AUDIO);
    assert_int_equal(check_frame(opus, &e), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_track_id),
        cmocka_unit_test_setup_teardown(test_interleaved_audio_codecs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derived_config_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derived_aac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_codec_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
