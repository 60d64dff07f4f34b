/* The audio transcoder against input made by the codecs themselves: a 1 kHz tone
 * encoded into AAC (FFmpeg's encoder, 44.1 kHz) and Opus (libopus, 48 kHz), both with
 * the timestamps FFmpeg gives them (a packet's pts is its first decoded sample's time,
 * priming before zero). The output is decoded with the other library and compared
 * with the decoded input: frame count, exact pts steps, level, frequency, alignment,
 * a 500 ms gap, unreadable frames, configs, downmix, ten minutes of timestamps, and the
 * CPU time per frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <math.h>
#include <opus.h>
#include <opus_multistream.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/codec/aac.h"
#include "protocols/transcode/transcoder.h"

#define TONE_HZ 1000
#define AMP 0.5
#define AAC_IN_RATE 44100
#define OUT_RATE 48000
#define OPUS_FRAME 960
#define AAC_FRAME 1024
#define OPUS_STEP 1800 /* 960 / 48000 s in 90 kHz ticks */
#define AAC_STEP 1920  /* 1024 / 48000 s */
#define TS_PER_MS 90
/* Output against input: the brief asks 10 ms, which would not notice the Opus
 * lookahead (6.5 ms) or the resampler's lag (0.7 ms) left uncompensated; the
 * pipeline holds 0.02 ms. */
#define ALIGN_MS 0.25
#define MAX_CH 8

/* ---- Input -------------------------------------------------------------------- */

/* A tone switched on over [on[i], off[i]) seconds in the channels of `mask`. */
typedef struct signal {
    double on[2], off[2];
    int bursts;
    unsigned mask;
} signal_t;

static double signal_at(const signal_t *s, double t)
{
    for (int i = 0; i < s->bursts; i++) {
        if (t >= s->on[i] && t < s->off[i]) return AMP * sin(2 * M_PI * TONE_HZ * t);
    }
    return 0;
}

typedef struct track {
    sl_codec_t codec;
    sl_frame_t *config;
    sl_frame_t **frames;
    size_t count;
} track_t;

static void track_add(track_t *tr, sl_frame_t *f)
{
    tr->frames = realloc(tr->frames, (tr->count + 1) * sizeof(*tr->frames));
    assert_non_null(tr->frames);
    tr->frames[tr->count++] = f;
}

static void track_free(track_t *tr)
{
    for (size_t i = 0; i < tr->count; i++) sl_frame_unref(tr->frames[i]);
    free(tr->frames);
    sl_frame_unref(tr->config);
    memset(tr, 0, sizeof(*tr));
}

/* n samples at rate in 90 kHz ticks, rounded to the nearest (n may be negative). */
static int64_t to_ts(int64_t n, int rate)
{
    int64_t num = 2 * n * 90000 + rate, den = 2 * (int64_t)rate;
    return num >= 0 ? num / den : -((-num + den - 1) / den);
}

static sl_frame_t *audio_frame(sl_codec_t codec, uint8_t flags, int64_t pts, const void *data, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, codec, flags, pts, pts, data, len);
    assert_non_null(f);
    return f;
}

/* `count` AAC-LC frames of sig from FFmpeg's encoder (global header: the config is
 * its AudioSpecificConfig), stamped with the encoder's pts (priming at -1024). */
static void make_aac(track_t *tr, int rate, int channels, const signal_t *sig, size_t count)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    assert_non_null(codec);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = rate;
    c->time_base = (AVRational){1, rate};
    av_channel_layout_default(&c->ch_layout, channels);
    c->bit_rate = 64000 * channels;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    *tr = (track_t){.codec = SL_CODEC_AAC};
    tr->config = audio_frame(SL_CODEC_AAC, SL_FRAME_CONFIG, 0, c->extradata, (size_t)c->extradata_size);
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    fr->format = AV_SAMPLE_FMT_FLTP;
    fr->sample_rate = rate;
    fr->nb_samples = c->frame_size;
    assert_int_equal(av_channel_layout_copy(&fr->ch_layout, &c->ch_layout), 0);
    assert_int_equal(av_frame_get_buffer(fr, 0), 0);
    for (int64_t n0 = 0; tr->count < count; n0 += c->frame_size) {
        assert_int_equal(av_frame_make_writable(fr), 0);
        for (int ch = 0; ch < channels; ch++) {
            float *p = (float *)fr->extended_data[ch];
            for (int i = 0; i < c->frame_size; i++)
                p[i] = (sig->mask >> ch & 1) ? (float)signal_at(sig, (double)(n0 + i) / rate) : 0.0f;
        }
        fr->pts = n0;
        assert_int_equal(avcodec_send_frame(c, fr), 0);
        while (tr->count < count && avcodec_receive_packet(c, pkt) == 0) {
            track_add(tr, audio_frame(SL_CODEC_AAC, 0, to_ts(pkt->pts, rate), pkt->data, (size_t)pkt->size));
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&c);
}

static int opus_lookahead(int channels)
{
    int err;
    OpusEncoder *e = opus_encoder_create(OUT_RATE, channels, OPUS_APPLICATION_AUDIO, &err);
    assert_non_null(e);
    opus_int32 la;
    assert_int_equal(opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(&la)), OPUS_OK);
    opus_encoder_destroy(e);
    return la;
}

/* `count` 20 ms Opus packets of sig (family 0 for 1-2 channels, the surround
 * encoder's family 1 above), stamped as FFmpeg does: packet k at k*960 - pre-skip. */
static void make_opus(track_t *tr, int channels, const signal_t *sig, size_t count)
{
    int err, streams, coupled;
    unsigned char mapping[MAX_CH] = {0, 1};
    OpusMSEncoder *e;
    if (channels <= 2) {
        streams = 1;
        coupled = channels - 1;
        e = opus_multistream_encoder_create(OUT_RATE, channels, streams, coupled, mapping, OPUS_APPLICATION_AUDIO,
                                            &err);
    } else {
        e = opus_multistream_surround_encoder_create(OUT_RATE, channels, 1, &streams, &coupled, mapping,
                                                     OPUS_APPLICATION_AUDIO, &err);
    }
    assert_non_null(e);
    assert_int_equal(opus_multistream_encoder_ctl(e, OPUS_SET_BITRATE(64000 * channels)), OPUS_OK);
    opus_int32 preskip;
    assert_int_equal(opus_multistream_encoder_ctl(e, OPUS_GET_LOOKAHEAD(&preskip)), OPUS_OK);
    uint8_t head[19 + 2 + MAX_CH] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, (uint8_t)channels,
                                     (uint8_t)preskip, (uint8_t)(preskip >> 8), 0x80, 0xbb, 0, 0, 0, 0,
                                     channels > 2};
    size_t head_len = 19;
    if (channels > 2) {
        head[19] = (uint8_t)streams;
        head[20] = (uint8_t)coupled;
        memcpy(head + 21, mapping, (size_t)channels);
        head_len = 21 + (size_t)channels;
    }
    *tr = (track_t){.codec = SL_CODEC_OPUS};
    tr->config = audio_frame(SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, head, head_len);
    float pcm[OPUS_FRAME * MAX_CH];
    uint8_t packet[4000];
    for (size_t k = 0; k < count; k++) {
        for (int i = 0; i < OPUS_FRAME; i++) {
            double v = signal_at(sig, (double)((int64_t)k * OPUS_FRAME + i) / OUT_RATE);
            for (int ch = 0; ch < channels; ch++) pcm[i * channels + ch] = (sig->mask >> ch & 1) ? (float)v : 0.0f;
        }
        int n = opus_multistream_encode_float(e, pcm, OPUS_FRAME, packet, sizeof(packet));
        assert_true(n > 0);
        int64_t pts = to_ts((int64_t)k * OPUS_FRAME - preskip, OUT_RATE);
        track_add(tr, audio_frame(SL_CODEC_OPUS, 0, pts, packet, (size_t)n));
    }
    opus_multistream_encoder_destroy(e);
}

/* ---- Output --------------------------------------------------------------------- */

typedef struct sink {
    sl_frame_t **frames;
    size_t count, cap;
    bool keep;       /* false: only counted, with the pts steps checked */
    int64_t step;    /* when not keeping: the pts step every frame must make */
    int64_t first_pts, last_pts;
    int fail_with;
} sink_t;

static int collect(void *arg, sl_frame_t *f)
{
    sink_t *s = arg;
    assert_int_equal(f->media, SL_MEDIA_AUDIO);
    assert_int_equal(f->flags, SL_FRAME_DERIVED);
    assert_int_equal(f->pts, f->dts);
    assert_true(f->len > 0);
    if (s->count == 0) s->first_pts = f->pts;
    else if (!s->keep) assert_int_equal(f->pts - s->last_pts, s->step);
    s->last_pts = f->pts;
    if (s->keep) {
        if (s->count == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 256;
            s->frames = realloc(s->frames, s->cap * sizeof(*s->frames));
            assert_non_null(s->frames);
        }
        s->frames[s->count] = sl_frame_ref(f);
    }
    s->count++;
    return s->fail_with;
}

static void sink_free(sink_t *s)
{
    for (size_t i = 0; s->keep && i < s->count; i++) sl_frame_unref(s->frames[i]);
    free(s->frames);
}

/* Transcodes a track (frames for which leave_out() is true are not pushed) into a sink. */
static sl_transcoder_t *transcode(const track_t *in, uint32_t bitrate, bool (*leave_out)(const sl_frame_t *),
                                  sink_t *out)
{
    sl_transcoder_cfg_t cfg = {.to = in->codec == SL_CODEC_AAC ? SL_CODEC_OPUS : SL_CODEC_AAC, .bitrate = bitrate};
    sl_transcoder_t *t;
    assert_int_equal(sl_transcoder_new(&cfg, in->config, &t), SL_OK);
    *out = (sink_t){.keep = true};
    for (size_t i = 0; i < in->count; i++) {
        if (leave_out != NULL && leave_out(in->frames[i])) continue;
        assert_int_equal(sl_transcoder_push(t, in->frames[i], collect, out), SL_OK);
    }
    return t;
}

/* ---- Decoding both codecs onto a timeline ----------------------------------------- */

#define ORIGIN_TS (-90000) /* the timeline starts 1 s before 0 */

typedef struct timeline {
    float *x; /* interleaved */
    size_t len; /* frames */
    int rate, channels;
} timeline_t;

static void timeline_put(timeline_t *tl, int64_t pts, const float *const *ch, size_t stride, size_t n)
{
    int64_t at = (pts - ORIGIN_TS) * tl->rate;
    at = (at + 45000) / 90000;
    assert_true(at >= 0);
    if ((size_t)at + n > tl->len) {
        size_t len = (size_t)at + n + (size_t)tl->rate;
        tl->x = realloc(tl->x, len * (size_t)tl->channels * sizeof(float));
        assert_non_null(tl->x);
        memset(tl->x + tl->len * (size_t)tl->channels, 0, (len - tl->len) * (size_t)tl->channels * sizeof(float));
        tl->len = len;
    }
    for (size_t i = 0; i < n; i++) {
        float *dst = tl->x + ((size_t)at + i) * (size_t)tl->channels;
        for (int c = 0; c < tl->channels; c++) dst[c] = ch[c][i * stride];
    }
}

static void decode_opus_frames(const sl_frame_t *config, sl_frame_t *const *frames, size_t count, timeline_t *tl)
{
    assert_true(config->len >= 19 && memcmp(config->data, "OpusHead", 8) == 0);
    int channels = config->data[9], err;
    const uint8_t stereo[] = {1, 1, 0, 1}, mono[] = {1, 0, 0};
    const uint8_t *layout = config->data[18] == 0 ? (channels == 2 ? stereo : mono) : config->data + 19;
    assert_true(config->data[18] == 0 || config->len == 21 + (size_t)channels);
    OpusMSDecoder *d = opus_multistream_decoder_create(OUT_RATE, channels, layout[0], layout[1], layout + 2, &err);
    assert_non_null(d);
    *tl = (timeline_t){.rate = OUT_RATE, .channels = channels};
    float pcm[5760 * MAX_CH];
    const float *ch[MAX_CH];
    for (int c = 0; c < channels; c++) ch[c] = pcm + c;
    for (size_t i = 0; i < count; i++) {
        int n = opus_multistream_decode_float(d, frames[i]->data, (opus_int32)frames[i]->len, pcm, 5760, 0);
        assert_true(n > 0);
        timeline_put(tl, frames[i]->pts, ch, (size_t)channels, (size_t)n);
    }
    opus_multistream_decoder_destroy(d);
}

static void decode_aac_frames(const sl_frame_t *config, sl_frame_t *const *frames, size_t count, timeline_t *tl)
{
    const AVCodec *codec = avcodec_find_decoder_by_name("aac");
    AVCodecContext *c = avcodec_alloc_context3(codec);
    c->extradata = av_mallocz(config->len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(c->extradata, config->data, config->len);
    c->extradata_size = (int)config->len;
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    *tl = (timeline_t){0};
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(av_new_packet(pkt, (int)frames[i]->len), 0);
        memcpy(pkt->data, frames[i]->data, frames[i]->len);
        assert_int_equal(avcodec_send_packet(c, pkt), 0);
        av_packet_unref(pkt);
        while (avcodec_receive_frame(c, fr) == 0) {
            if (tl->rate == 0) {
                tl->rate = fr->sample_rate;
                tl->channels = fr->ch_layout.nb_channels;
            }
            timeline_put(tl, frames[i]->pts, (const float *const *)fr->extended_data, 1, (size_t)fr->nb_samples);
            av_frame_unref(fr);
        }
    }
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
}

static void decode_frames(sl_codec_t codec, const sl_frame_t *config, sl_frame_t *const *frames, size_t count,
                          timeline_t *tl)
{
    if (codec == SL_CODEC_OPUS) decode_opus_frames(config, frames, count, tl);
    else decode_aac_frames(config, frames, count, tl);
}

static size_t index_at(const timeline_t *tl, double t)
{
    double i = (t - ORIGIN_TS / 90000.0) * tl->rate;
    return i <= 0 ? 0 : SL_MIN((size_t)i, tl->len);
}

static float sample(const timeline_t *tl, size_t i, int ch) { return tl->x[i * (size_t)tl->channels + (size_t)ch]; }

/* The first time in [t0, t1) where channel ch exceeds half the tone's amplitude. */
static double onset(const timeline_t *tl, int ch, double t0, double t1)
{
    for (size_t i = index_at(tl, t0); i < index_at(tl, t1); i++) {
        if (fabsf(sample(tl, i, ch)) > AMP / 2) return ORIGIN_TS / 90000.0 + (double)i / tl->rate;
    }
    fail_msg("no onset in [%.3f, %.3f)", t0, t1);
    return 0;
}

static double rms(const timeline_t *tl, int ch, double t0, double t1)
{
    double sum = 0;
    size_t a = index_at(tl, t0), b = index_at(tl, t1);
    for (size_t i = a; i < b; i++) sum += (double)sample(tl, i, ch) * sample(tl, i, ch);
    return sqrt(sum / (double)(b - a));
}

/* Goertzel: the power of channel ch at freq over [t0, t1), relative to the total. */
static double goertzel_share(const timeline_t *tl, int ch, double t0, double t1, double freq)
{
    double w = 2 * M_PI * freq / tl->rate, coeff = 2 * cos(w), s1 = 0, s2 = 0, energy = 0;
    size_t a = index_at(tl, t0), b = index_at(tl, t1);
    for (size_t i = a; i < b; i++) {
        double x = sample(tl, i, ch), s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += x * x;
    }
    double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    return 2 * power / ((double)(b - a) * energy);
}

static double dominant_frequency(const timeline_t *tl, int ch, double t0, double t1)
{
    double best = 0, best_share = -1;
    for (double f = 100; f <= 8000; f += 50) {
        double share = goertzel_share(tl, ch, t0, t1, f);
        if (share > best_share) {
            best_share = share;
            best = f;
        }
    }
    return best;
}

static double db(double a, double b) { return 20 * log10(a / b); }

/* ---- Checks ------------------------------------------------------------------------ */

/* Output pts strictly increasing in steps of `step` ticks, except for `jumps`
 * larger steps (resyncs); returns the index of the frame after the first jump. */
static size_t check_steps(const sink_t *s, int64_t step, int jumps)
{
    size_t after_jump = 0;
    int seen = 0;
    for (size_t i = 1; i < s->count; i++) {
        int64_t d = s->frames[i]->pts - s->frames[i - 1]->pts;
        if (d == step) continue;
        if (d < step) fail_msg("frame %zu: pts step %lld, under a frame", i, (long long)d);
        if (seen++ == 0) after_jump = i;
    }
    assert_int_equal(seen, jumps);
    return after_jump;
}

static void check_tone(const timeline_t *out, const timeline_t *in, double t0, double t1)
{
    for (int ch = 0; ch < out->channels; ch++) {
        double level = db(rms(out, ch, t0, t1), rms(in, SL_MIN(ch, in->channels - 1), t0, t1));
        print_message("  channel %d: level %+.2f dB against the input, 1 kHz share %.3f\n", ch, level,
                      goertzel_share(out, ch, t0, t1, TONE_HZ));
        assert_true(fabs(level) < 3);
        assert_true(dominant_frequency(out, ch, t0, t1) == TONE_HZ);
        assert_true(goertzel_share(out, ch, t0, t1, TONE_HZ) > 0.9);
    }
}

/* The tone switches on at `at` seconds in the decoded input (within 1 ms: the test's
 * own timestamps) and in the decoded output within ALIGN_MS. */
static void check_onset(const timeline_t *out, const timeline_t *in, double at)
{
    double t_in = onset(in, 0, at - 0.5, at + 0.5), t_out = onset(out, 0, at - 0.5, at + 0.5);
    print_message("  onset at %.3f s: input %+.2f ms, output %+.2f ms\n", at, (t_in - at) * 1000,
                  (t_out - at) * 1000);
    assert_true(fabs(t_in - at) < 0.001);
    assert_true(fabs(t_out - t_in) * 1000 < ALIGN_MS);
}

static void report_cpu(const char *what, const sl_transcoder_t *t, size_t in_frames, size_t out_frames)
{
    uint64_t ns = sl_transcoder_busy_ns(t);
    assert_true(ns > 0);
    print_message("  %s: %.1f us per input frame, %.1f us per output frame (decode + convert + encode)\n", what,
                  ns / 1e3 / (double)in_frames, ns / 1e3 / (double)out_frames);
}

/* ---- Tests ------------------------------------------------------------------------- */

static const signal_t TONE_FROM_1S = {.on = {1.0}, .off = {1e9}, .bursts = 1, .mask = 3};

/* 450 AAC frames at 44.1 kHz are 501551.0 samples at 48 kHz, 522.45 Opus frames: the
 * count is 522 whatever the resampler keeps back (under 430 samples). */
static void test_aac_to_opus(void **state)
{
    track_t in;
    make_aac(&in, AAC_IN_RATE, 2, &TONE_FROM_1S, 450);
    sink_t out;
    sl_transcoder_t *t = transcode(&in, 64000, NULL, &out);

    const sl_frame_t *cfg = sl_transcoder_config(t);
    assert_int_equal(cfg->codec, SL_CODEC_OPUS);
    assert_int_equal(cfg->flags, SL_FRAME_CONFIG | SL_FRAME_DERIVED);
    assert_int_equal(cfg->len, 19);
    assert_memory_equal(cfg->data, "OpusHead\x01\x02", 10);
    assert_int_equal(cfg->data[10] | cfg->data[11] << 8, opus_lookahead(2)); /* pre-skip */
    assert_int_equal(cfg->data[12] | cfg->data[13] << 8 | cfg->data[14] << 16, AAC_IN_RATE);
    assert_int_equal(cfg->data[18], 0); /* mapping family */

    assert_int_equal(out.count, 522);
    check_steps(&out, OPUS_STEP, 0);
    for (size_t i = 0; i < out.count; i++) assert_int_equal(out.frames[i]->codec, SL_CODEC_OPUS);

    timeline_t ti, to;
    decode_frames(SL_CODEC_AAC, in.config, in.frames, in.count, &ti);
    decode_frames(SL_CODEC_OPUS, cfg, out.frames, out.count, &to);
    check_onset(&to, &ti, 1.0);
    check_tone(&to, &ti, 2.0, 10.0);
    report_cpu("AAC 44.1 kHz stereo -> Opus", t, in.count, out.count);

    free(ti.x);
    free(to.x);
    sl_transcoder_free(t);
    sink_free(&out);
    track_free(&in);
}

/* 530 Opus frames are 508800 samples, 496.9 AAC frames: 496 go to the encoder, and
 * FFmpeg's AAC encoder gives a frame's packet only with the next frame (its
 * psychoacoustic lookahead), so 495 come out. */
static void test_opus_to_aac(void **state)
{
    track_t in;
    make_opus(&in, 2, &TONE_FROM_1S, 530);
    sink_t out;
    sl_transcoder_t *t = transcode(&in, 128000, NULL, &out);

    const sl_frame_t *cfg = sl_transcoder_config(t);
    assert_int_equal(cfg->codec, SL_CODEC_AAC);
    assert_int_equal(cfg->flags, SL_FRAME_CONFIG | SL_FRAME_DERIVED);
    sl_aac_config_t asc;
    assert_int_equal(sl_aac_parse_config(cfg->data, cfg->len, &asc), SL_OK);
    assert_int_equal(asc.object_type, SL_AAC_LC);
    assert_int_equal(asc.sample_rate, OUT_RATE);
    assert_int_equal(asc.channels, 2);

    assert_int_equal(out.count, 495);
    check_steps(&out, AAC_STEP, 0);
    for (size_t i = 0; i < out.count; i++) assert_int_equal(out.frames[i]->codec, SL_CODEC_AAC);

    timeline_t ti, to;
    decode_frames(SL_CODEC_OPUS, in.config, in.frames, in.count, &ti);
    decode_frames(SL_CODEC_AAC, cfg, out.frames, out.count, &to);
    assert_int_equal(to.rate, OUT_RATE);
    assert_int_equal(to.channels, 2);
    check_onset(&to, &ti, 1.0);
    check_tone(&to, &ti, 2.0, 10.0);
    report_cpu("Opus stereo -> AAC 48 kHz", t, in.count, out.count);

    free(ti.x);
    free(to.x);
    sl_transcoder_free(t);
    sink_free(&out);
    track_free(&in);
}

/* A publisher pauses for 500 ms: frames of [4.5, 5.0) s never come. */
static bool in_gap(const sl_frame_t *f) { return f->pts >= 45 * 9000 && f->pts < 50 * 9000; }

static void check_gap(sl_codec_t from)
{
    const signal_t bursts = {.on = {1.0, 6.0}, .off = {3.0, 1e9}, .bursts = 2, .mask = 3};
    track_t in;
    if (from == SL_CODEC_AAC) make_aac(&in, AAC_IN_RATE, 2, &bursts, 400);
    else make_opus(&in, 2, &bursts, 450);
    sink_t out;
    sl_transcoder_t *t = transcode(&in, 0, in_gap, &out);
    int64_t step = from == SL_CODEC_AAC ? OPUS_STEP : AAC_STEP;
    size_t after = check_steps(&out, step, 1);
    int64_t jump = out.frames[after]->pts - out.frames[after - 1]->pts;
    print_message("  %s: the gap is a jump of %.1f ms in the output\n", sl_codec_name(from), jump / 90.0);
    assert_true(llabs(jump - 500 * TS_PER_MS) < 60 * TS_PER_MS);
    /* Nothing of what came before the gap was held back: the output reaches the end
     * of the last input frame before it. */
    size_t last = 0;
    while (!in_gap(in.frames[last + 1])) last++;
    int64_t in_end = in.frames[last]->pts + (from == SL_CODEC_AAC ? to_ts(AAC_FRAME, AAC_IN_RATE) : OPUS_STEP);
    assert_true(out.frames[after - 1]->pts + step >= in_end);

    timeline_t ti, to;
    sl_frame_t **kept = calloc(in.count, sizeof(*kept));
    size_t n = 0;
    for (size_t i = 0; i < in.count; i++) {
        if (!in_gap(in.frames[i])) kept[n++] = in.frames[i];
    }
    decode_frames(from, in.config, kept, n, &ti);
    decode_frames(from == SL_CODEC_AAC ? SL_CODEC_OPUS : SL_CODEC_AAC, sl_transcoder_config(t), out.frames, out.count,
                  &to);
    check_onset(&to, &ti, 1.0);
    check_onset(&to, &ti, 6.0);
    check_tone(&to, &ti, 6.5, 8.0);
    free(kept);
    free(ti.x);
    free(to.x);
    sl_transcoder_free(t);
    sink_free(&out);
    track_free(&in);
}

static void test_gap_resyncs(void **state)
{
    check_gap(SL_CODEC_AAC);
    check_gap(SL_CODEC_OPUS);
}

/* The garbage really is unreadable to the codec libraries. */
static void check_unreadable(sl_codec_t codec, const sl_frame_t *config, const uint8_t *bytes, size_t len)
{
    if (codec == SL_CODEC_OPUS) {
        int err;
        OpusDecoder *d = opus_decoder_create(OUT_RATE, 2, &err);
        float pcm[5760 * 2];
        assert_int_equal(opus_decode_float(d, bytes, (opus_int32)len, pcm, 5760, 0), OPUS_INVALID_PACKET);
        opus_decoder_destroy(d);
        return;
    }
    const AVCodec *dec = avcodec_find_decoder_by_name("aac");
    AVCodecContext *c = avcodec_alloc_context3(dec);
    c->extradata = av_mallocz(config->len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(c->extradata, config->data, config->len);
    c->extradata_size = (int)config->len;
    assert_int_equal(avcodec_open2(c, dec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    assert_int_equal(av_new_packet(pkt, (int)len), 0);
    memcpy(pkt->data, bytes, len);
    assert_int_equal(avcodec_send_packet(c, pkt), AVERROR_INVALIDDATA);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
}

/* Frame 150 (3 s in, or 3.5) replaced by bytes the decoder refuses, an empty frame and
 * frames that are not this transcoder's business pushed as well: nothing crashes, no
 * resync, the hole is filled so the tone that starts at 6 s stays aligned. */
static void check_garbage(sl_codec_t from, const uint8_t *garbage, size_t garbage_len, size_t count, size_t expect)
{
    const signal_t late = {.on = {6.0}, .off = {1e9}, .bursts = 1, .mask = 3};
    track_t in;
    if (from == SL_CODEC_AAC) make_aac(&in, AAC_IN_RATE, 2, &late, count);
    else make_opus(&in, 2, &late, count);
    check_unreadable(from, in.config, garbage, garbage_len);
    sl_frame_t *good = in.frames[150];
    in.frames[150] = audio_frame(from, 0, good->pts, garbage, garbage_len);

    sl_transcoder_cfg_t cfg = {.to = from == SL_CODEC_AAC ? SL_CODEC_OPUS : SL_CODEC_AAC};
    sl_transcoder_t *t;
    assert_int_equal(sl_transcoder_new(&cfg, in.config, &t), SL_OK);
    sink_t out = {.keep = true};
    sl_frame_t *empty = audio_frame(from, 0, in.frames[151]->pts, "", 0);
    sl_frame_t *video = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, 0, 0, 0, "\0\0\0\1\x65", 5);
    sl_frame_t *other = audio_frame(cfg.to, 0, in.frames[151]->pts, good->data, good->len);
    for (size_t i = 0; i < in.count; i++) {
        assert_int_equal(sl_transcoder_push(t, in.frames[i], collect, &out), SL_OK);
        if (i == 150) {
            assert_int_equal(sl_transcoder_push(t, empty, collect, &out), SL_OK);
            assert_int_equal(sl_transcoder_push(t, video, collect, &out), SL_OK);
            assert_int_equal(sl_transcoder_push(t, other, collect, &out), SL_OK);
            assert_int_equal(sl_transcoder_push(t, in.config, collect, &out), SL_OK);
        }
    }
    assert_int_equal(out.count, expect);
    check_steps(&out, from == SL_CODEC_AAC ? OPUS_STEP : AAC_STEP, 0);

    timeline_t ti, to;
    decode_frames(from == SL_CODEC_AAC ? SL_CODEC_OPUS : SL_CODEC_AAC, sl_transcoder_config(t), out.frames, out.count,
                  &to);
    sl_frame_unref(in.frames[150]);
    in.frames[150] = good;
    decode_frames(from, in.config, in.frames, in.count, &ti);
    check_onset(&to, &ti, 6.0);
    free(ti.x);
    free(to.x);
    sl_frame_unref(empty);
    sl_frame_unref(video);
    sl_frame_unref(other);
    sl_transcoder_free(t);
    sink_free(&out);
    track_free(&in);
}

static void test_garbage_skipped(void **state)
{
    /* AAC: a single channel element with an invalid window sequence and an element
     * the decoder has no room for. Opus: code 3 (several frames) with a frame count
     * of zero. */
    static const uint8_t bad_aac[] = {0x21, 0xff, 0xff, 0xff, 0xff, 0xe0, 0x00, 0xde, 0xad, 0xbe, 0xef};
    static const uint8_t bad_opus[] = {0xfb, 0x00};
    check_garbage(SL_CODEC_AAC, bad_aac, sizeof(bad_aac), 300, 348);
    check_garbage(SL_CODEC_OPUS, bad_opus, sizeof(bad_opus), 360, 336);
}

static void expect_refused(sl_codec_t to, const sl_frame_t *config, int err)
{
    sl_transcoder_cfg_t cfg = {.to = to};
    sl_transcoder_t *t = (sl_transcoder_t *)&cfg;
    assert_int_equal(sl_transcoder_new(&cfg, config, &t), err);
    assert_null(t);
}

static void test_refused_configs(void **state)
{
    static const uint8_t asc[] = {0x12, 0x10};
    uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0x38, 1, 0x80, 0xbb};
    sl_frame_t *aac = audio_frame(SL_CODEC_AAC, SL_FRAME_CONFIG, 0, asc, sizeof(asc));
    sl_frame_t *aac_short = audio_frame(SL_CODEC_AAC, SL_FRAME_CONFIG, 0, asc, 1);
    sl_frame_t *opus = audio_frame(SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, head, sizeof(head));
    head[9] = 3; /* family 0 carries 1 or 2 channels */
    sl_frame_t *opus_3ch = audio_frame(SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, head, sizeof(head));
    head[9] = 2;
    head[0] = 'o';
    sl_frame_t *not_head = audio_frame(SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, head, sizeof(head));
    sl_frame_t *opus_short = audio_frame(SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, "OpusHead\x01\x02", 10);
    sl_frame_t *video = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, asc, sizeof(asc));

    expect_refused(SL_CODEC_AAC, aac, SL_ERR_CONFIG);   /* same codec */
    expect_refused(SL_CODEC_OPUS, opus, SL_ERR_CONFIG); /* same codec */
    expect_refused(SL_CODEC_H264, aac, SL_ERR_CONFIG);
    expect_refused(SL_CODEC_OPUS, aac_short, SL_ERR_CONFIG);
    expect_refused(SL_CODEC_AAC, opus_3ch, SL_ERR_CONFIG);
    expect_refused(SL_CODEC_AAC, not_head, SL_ERR_CONFIG);
    expect_refused(SL_CODEC_AAC, opus_short, SL_ERR_CONFIG);
    expect_refused(SL_CODEC_AAC, video, SL_ERR_CONFIG);

    /* And what is accepted: the hub's usual configs, with the output's config. */
    sl_transcoder_cfg_t cfg = {.to = SL_CODEC_OPUS};
    sl_transcoder_t *t;
    assert_int_equal(sl_transcoder_new(&cfg, aac, &t), SL_OK);
    assert_int_equal(sl_transcoder_config(t)->data[9], 2);
    sl_transcoder_free(t);
    cfg.to = SL_CODEC_AAC;
    assert_int_equal(sl_transcoder_new(&cfg, opus, &t), SL_OK);
    assert_int_equal(sl_transcoder_config(t)->codec, SL_CODEC_AAC);
    sl_transcoder_free(t);
    sl_transcoder_free(NULL);

    sl_frame_t *all[] = {aac, aac_short, opus, opus_3ch, not_head, opus_short, video};
    for (size_t i = 0; i < SL_ARRAY_SIZE(all); i++) sl_frame_unref(all[i]);
}

/* An emit error stops push and comes back from it. */
static void test_emit_error(void **state)
{
    track_t in;
    make_opus(&in, 1, &TONE_FROM_1S, 10);
    sl_transcoder_cfg_t cfg = {.to = SL_CODEC_AAC};
    sl_transcoder_t *t;
    assert_int_equal(sl_transcoder_new(&cfg, in.config, &t), SL_OK);
    sink_t out = {.fail_with = SL_ERR_CLOSED};
    int rc = SL_OK;
    for (size_t i = 0; i < in.count && rc == SL_OK; i++) rc = sl_transcoder_push(t, in.frames[i], collect, &out);
    assert_int_equal(rc, SL_ERR_CLOSED);
    assert_int_equal(out.count, 1);
    sl_transcoder_free(t);
    track_free(&in);
}

/* Mono stays mono both ways; 5.1 with the tone in the centre only comes out on both
 * sides at -3 dB. */
static void check_channels(sl_codec_t from, int in_channels, unsigned mask, int out_channels, double side_db)
{
    const signal_t sig = {.on = {0.5}, .off = {1e9}, .bursts = 1, .mask = mask};
    track_t in;
    if (from == SL_CODEC_AAC) make_aac(&in, AAC_IN_RATE, in_channels, &sig, 150);
    else make_opus(&in, in_channels, &sig, 160);
    sink_t out;
    sl_transcoder_t *t = transcode(&in, 0, NULL, &out);
    const sl_frame_t *cfg = sl_transcoder_config(t);
    if (from == SL_CODEC_AAC) {
        assert_int_equal(cfg->data[9], out_channels);
    } else {
        sl_aac_config_t asc;
        assert_int_equal(sl_aac_parse_config(cfg->data, cfg->len, &asc), SL_OK);
        assert_int_equal(asc.channels, out_channels);
    }
    timeline_t ti, to;
    decode_frames(from, in.config, in.frames, in.count, &ti);
    decode_frames(from == SL_CODEC_AAC ? SL_CODEC_OPUS : SL_CODEC_AAC, cfg, out.frames, out.count, &to);
    assert_int_equal(to.channels, out_channels);
    int tone_ch = __builtin_ctz(mask);
    for (int ch = 0; ch < out_channels; ch++) {
        double level = db(rms(&to, ch, 1.0, 3.0), rms(&ti, tone_ch, 1.0, 3.0));
        print_message("  %s %d -> %d channels: output channel %d at %+.2f dB\n", sl_codec_name(from), in_channels,
                      out_channels, ch, level);
        assert_true(fabs(level - side_db) < 1.0);
        assert_true(dominant_frequency(&to, ch, 1.0, 3.0) == TONE_HZ);
    }
    free(ti.x);
    free(to.x);
    sl_transcoder_free(t);
    sink_free(&out);
    track_free(&in);
}

static void test_channels(void **state)
{
    check_channels(SL_CODEC_AAC, 1, 1, 1, 0);
    check_channels(SL_CODEC_OPUS, 1, 1, 1, 0);
    /* FFmpeg's 5.1 is FL FR FC LFE BL BR; the Opus surround order is FL C FR RL RR LFE. */
    check_channels(SL_CODEC_AAC, 6, 1u << 2, 2, -3.01);
    check_channels(SL_CODEC_OPUS, 6, 1u << 1, 2, -3.01);
}

/* Ten minutes of silence: the output's end stays the same distance from the input's
 * (measured where both frame sizes line up: every 10.24 s), to the tick. */
static void check_long_run(sl_codec_t from)
{
    const signal_t silence = {.mask = 0};
    track_t in;
    if (from == SL_CODEC_AAC) make_aac(&in, AAC_IN_RATE, 2, &silence, 20);
    else make_opus(&in, 2, &silence, 20);
    const sl_frame_t *quiet = in.frames[in.count - 1];
    /* 441 AAC frames at 44.1 kHz = 512 Opus frames = 480 AAC frames at 48 kHz. */
    size_t period = from == SL_CODEC_AAC ? 441 : 512, periods = 59;
    int64_t period_ts = 921600; /* 10.24 s */
    int64_t out_step = from == SL_CODEC_AAC ? OPUS_STEP : AAC_STEP;
    sl_transcoder_cfg_t cfg = {.to = from == SL_CODEC_AAC ? SL_CODEC_OPUS : SL_CODEC_AAC};
    sl_transcoder_t *t;
    assert_int_equal(sl_transcoder_new(&cfg, in.config, &t), SL_OK);
    sink_t out = {.keep = false, .step = out_step};
    sl_frame_t *f = audio_frame(from, 0, 0, quiet->data, quiet->len);
    int64_t first_in = 12345, delay0 = 0;
    size_t pushed = 0;
    for (size_t p = 1; p <= periods; p++) {
        for (; pushed < p * period; pushed++) {
            f->pts = f->dts = first_in + (from == SL_CODEC_AAC ? (int64_t)pushed * 1024 * 90000 / AAC_IN_RATE
                                                               : (int64_t)pushed * OPUS_STEP);
            assert_int_equal(sl_transcoder_push(t, f, collect, &out), SL_OK);
        }
        int64_t delay = (first_in + (int64_t)p * period_ts) - (out.last_pts + out_step);
        if (p == 1) delay0 = delay;
        assert_true(llabs(delay - delay0) <= TS_PER_MS);
    }
    assert_int_equal(out.last_pts, out.first_pts + (int64_t)(out.count - 1) * out_step);
    print_message("  %s: %zu frames in, %zu out over %.0f s; the output ends %.2f ms before the input throughout\n",
                  sl_codec_name(from), pushed, out.count, periods * 10.24, delay0 / 90.0);
    assert_true(delay0 >= 0 && delay0 < 50 * TS_PER_MS);
    report_cpu("silence", t, pushed, out.count);
    sl_frame_unref(f);
    sl_transcoder_free(t);
    track_free(&in);
}

static void test_long_run(void **state)
{
    check_long_run(SL_CODEC_AAC);
    check_long_run(SL_CODEC_OPUS);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR); /* the AAC encoder's statistics on closing */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aac_to_opus),
        cmocka_unit_test(test_opus_to_aac),
        cmocka_unit_test(test_gap_resyncs),
        cmocka_unit_test(test_garbage_skipped),
        cmocka_unit_test(test_refused_configs),
        cmocka_unit_test(test_emit_error),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_long_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
