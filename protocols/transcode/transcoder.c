/* The audio transcoder (transcoder.h): libopus and FFmpeg's native AAC codec,
 * protocols/codec/resample.h for the rates.
 *
 * Timeline. A frame's pts is the presentation time of its first decoded sample, the
 * convention of RTP for Opus and of FFmpeg for both codecs: an encoder's priming
 * samples (the Opus pre-skip, AAC's first frame) decode to times before the first
 * sample it was given. The input's pre-skip therefore needs no correction here: the
 * samples it covers simply sit where the pts puts them.
 *
 * A segment starts at an input frame (the first one, or one after a resync) and
 * keeps, in integer sample counts:
 *   anchor    that frame's pts;
 *   seg_in    input samples (at the decoder's rate) taken since, silence filling
 *             small holes included: where the next input frame is expected;
 *   seg_out   samples (at the output rate) put into the FIFO since;
 *   seg_base  the encoder-input position (samples handed to the encoder since it
 *             was opened) of the segment's first output sample.
 * Packet j of the encoder decodes to encoder-input samples [j*F - E, (j+1)*F - E),
 * F its frame size and E its delay: the Opus lookahead (which is also the pre-skip
 * of the OpusHead we publish) or the AAC encoder's initial_padding (its priming
 * frame). The resampler's output lags its input by D output samples. So packet j is
 * stamped anchor + (j*F - E - seg_base - D) * 90000 / out_rate, from integers, which
 * lines the output up with the input and cannot drift. */
#include "protocols/transcode/transcoder.h"

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/channel_layout.h>
#include <opus.h>
#include <opus_multistream.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocols/codec/aac.h"
#include "protocols/codec/resample.h"

#define OUT_RATE 48000         /* Opus always; AAC from Opus, whose decoder runs at 48 kHz */
#define OPUS_FRAME 960         /* 20 ms, what browsers send and expect */
#define OPUS_MAX_FRAME 5760    /* 120 ms, the longest Opus packet */
#define OPUS_MAX_PACKET 4000   /* libopus's recommended output buffer */
#define OPUS_HEAD_LEN 19       /* RFC 7845 5.1, mapping family 0 */
#define MAX_IN_CHANNELS 8
#define DEFAULT_OPUS_BITRATE 64000
#define DEFAULT_AAC_BITRATE 128000
/* A frame later than expected by more than this (and up to the resync threshold)
 * follows a lost or unreadable frame: the hole is filled with silence so the clock
 * stays on the samples. Below it is timestamp rounding (RTMP's milliseconds). */
#define FILL_MIN_TS SL_MS_TO_TS(5)
/* Flushing a segment sends the FIFO's last partial frame, the resampler's lag and
 * the encoder's delay, a few frames at most; the bound only guards against an
 * encoder that stops producing packets. */
#define FLUSH_MAX_FRAMES 16
#define DRAIN_MAX_ROUNDS 8
#define DRAIN_EXTRA_IN 64

/* Where a source channel goes in a stereo downmix (ITU-R BS.775: centre and
 * surrounds at -3 dB, LFE dropped). */
typedef enum role { ROLE_L, ROLE_R, ROLE_C, ROLE_LFE, ROLE_LS, ROLE_RS, ROLE_BC } role_t;

#define K3DB 0.70710678f
static const float ROLE_GAIN[][2] = {
    [ROLE_L] = {1, 0},       [ROLE_R] = {0, 1},         [ROLE_C] = {K3DB, K3DB}, [ROLE_LFE] = {0, 0},
    [ROLE_LS] = {K3DB, 0},   [ROLE_RS] = {0, K3DB},     [ROLE_BC] = {0.5f, 0.5f},
};

/* Channel order of Opus mapping family 1 for 3..8 channels (RFC 7845 5.1.1.2, the
 * Vorbis order). */
static const role_t VORBIS_ORDER[MAX_IN_CHANNELS + 1][MAX_IN_CHANNELS] = {
    [3] = {ROLE_L, ROLE_C, ROLE_R},
    [4] = {ROLE_L, ROLE_R, ROLE_LS, ROLE_RS},
    [5] = {ROLE_L, ROLE_C, ROLE_R, ROLE_LS, ROLE_RS},
    [6] = {ROLE_L, ROLE_C, ROLE_R, ROLE_LS, ROLE_RS, ROLE_LFE},
    [7] = {ROLE_L, ROLE_C, ROLE_R, ROLE_LS, ROLE_RS, ROLE_BC, ROLE_LFE},
    [8] = {ROLE_L, ROLE_C, ROLE_R, ROLE_LS, ROLE_RS, ROLE_LS, ROLE_RS, ROLE_LFE},
};

/* One block of decoded samples: channel c's sample i is ch[c][i * stride], so both
 * interleaved (Opus) and planar (FFmpeg) output are read in place. */
typedef struct pcm {
    const float *ch[MAX_IN_CHANNELS];
    size_t stride;
    int channels;
    size_t frames;
    uint32_t rate;
    float gain[MAX_IN_CHANNELS][2]; /* downmix, read when channels > 2 */
} pcm_t;

struct sl_transcoder {
    sl_codec_t from, to;
    int out_ch;
    sl_frame_t *config;
    uint64_t busy_ns;

    /* Opus source */
    OpusMSDecoder *odec;
    int odec_ch;
    float *odec_pcm;
    /* AAC source */
    AVCodecContext *adec;
    AVPacket *adec_pkt;
    AVFrame *adec_frame;

    /* Opus output */
    OpusEncoder *oenc;
    uint8_t opus_packet[OPUS_MAX_PACKET];
    /* AAC output */
    AVCodecContext *aenc;
    AVFrame *aenc_frame;
    AVPacket *aenc_pkt;
    int frame_size; /* F */
    int enc_delay;  /* E */

    sl_resampler_t *res;
    /* Scratch for input-rate samples in the output's channels on their way into the
     * resampler: only its capacity is used, len stays 0. */
    sl_bytes_t mixed;
    sl_bytes_t fifo;  /* output-rate samples waiting for a whole encoder frame */

    bool anchored;
    int64_t anchor;
    uint32_t in_rate;
    int64_t seg_in, seg_out, seg_base;
    uint32_t seg_delay; /* D */
    int64_t enc_in;     /* samples handed to the encoder */
    int64_t packets;    /* packets received from the encoder */
};

/* floor(a / b) for b > 0, whatever the sign of a: packets of the first segment start
 * before its anchor. */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* n samples at `rate` in 90 kHz ticks, rounded to the nearest. */
static int64_t samples_to_ts(int64_t n, uint32_t rate)
{
    return floor_div(2 * n * SL_CLOCK_HZ + rate, 2 * (int64_t)rate);
}

static size_t out_frame_bytes(const sl_transcoder_t *t) { return (size_t)t->out_ch * sizeof(float); }
static int64_t fifo_frames(const sl_transcoder_t *t) { return (int64_t)(t->fifo.len / out_frame_bytes(t)); }

static int av_err(int err) { return err == AVERROR(ENOMEM) ? SL_ERR_NOMEM : SL_ERR_UNSUPPORTED; }
static int opus_err(int err) { return err == OPUS_ALLOC_FAIL ? SL_ERR_NOMEM : SL_ERR_UNSUPPORTED; }

static role_t role_of_av_channel(enum AVChannel c)
{
    switch (c) {
    case AV_CHAN_FRONT_LEFT: case AV_CHAN_FRONT_LEFT_OF_CENTER: case AV_CHAN_WIDE_LEFT:
    case AV_CHAN_STEREO_LEFT: case AV_CHAN_TOP_FRONT_LEFT:
        return ROLE_L;
    case AV_CHAN_FRONT_RIGHT: case AV_CHAN_FRONT_RIGHT_OF_CENTER: case AV_CHAN_WIDE_RIGHT:
    case AV_CHAN_STEREO_RIGHT: case AV_CHAN_TOP_FRONT_RIGHT:
        return ROLE_R;
    case AV_CHAN_FRONT_CENTER: case AV_CHAN_TOP_FRONT_CENTER:
        return ROLE_C;
    case AV_CHAN_LOW_FREQUENCY: case AV_CHAN_LOW_FREQUENCY_2:
        return ROLE_LFE;
    case AV_CHAN_BACK_LEFT: case AV_CHAN_SIDE_LEFT: case AV_CHAN_SURROUND_DIRECT_LEFT:
    case AV_CHAN_TOP_BACK_LEFT: case AV_CHAN_TOP_SIDE_LEFT:
        return ROLE_LS;
    case AV_CHAN_BACK_RIGHT: case AV_CHAN_SIDE_RIGHT: case AV_CHAN_SURROUND_DIRECT_RIGHT:
    case AV_CHAN_TOP_BACK_RIGHT: case AV_CHAN_TOP_SIDE_RIGHT:
        return ROLE_RS;
    default: /* back centre, top centre, anything unnamed: half to each side */
        return ROLE_BC;
    }
}

static void set_gain(pcm_t *p, int c, role_t role)
{
    p->gain[c][0] = ROLE_GAIN[role][0];
    p->gain[c][1] = ROLE_GAIN[role][1];
}

/* Maps p's channels onto out_ch interleaved channels at dst: copied when they
 * match, mono duplicated, stereo averaged to mono, more mixed down with p->gain. */
static void map_channels(const pcm_t *p, int out_ch, float *dst)
{
    for (size_t i = 0; i < p->frames; i++) {
        size_t at = i * p->stride;
        float l, r;
        if (p->channels <= 2) {
            l = p->ch[0][at];
            r = p->ch[p->channels - 1][at];
        } else {
            l = r = 0;
            for (int c = 0; c < p->channels; c++) {
                l += p->ch[c][at] * p->gain[c][0];
                r += p->ch[c][at] * p->gain[c][1];
            }
        }
        if (out_ch == 1) {
            dst[i] = p->channels == 1 ? l : 0.5f * (l + r);
        } else {
            dst[2 * i] = l;
            dst[2 * i + 1] = r;
        }
    }
}

/* Room for n frames of `channels` floats at the end of v, or NULL. */
static float *reserve_frames(sl_bytes_t *v, size_t n, int channels)
{
    if (sl_bytes_reserve(v, n * (size_t)channels * sizeof(float)) != SL_OK) return NULL;
    return (float *)(v->data + v->len);
}

/* ---- Output: encoders ---------------------------------------------------------- */

static int emit_packet(sl_transcoder_t *t, const uint8_t *data, size_t len, sl_transcoder_emit_fn emit, void *arg)
{
    int64_t pos = t->packets++ * t->frame_size - t->enc_delay - t->seg_base - t->seg_delay;
    int64_t pts = t->anchor + samples_to_ts(pos, OUT_RATE);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, t->to, SL_FRAME_DERIVED, pts, pts, data, len);
    if (f == NULL) return SL_ERR_NOMEM;
    int rc = emit(arg, f);
    sl_frame_unref(f);
    return rc;
}

static int encode_opus(sl_transcoder_t *t, const float *pcm, sl_transcoder_emit_fn emit, void *arg)
{
    opus_int32 n = opus_encode_float(t->oenc, pcm, OPUS_FRAME, t->opus_packet, sizeof(t->opus_packet));
    if (n < 0) return opus_err(n);
    t->enc_in += OPUS_FRAME;
    return emit_packet(t, t->opus_packet, (size_t)n, emit, arg);
}

/* Emits the packets the AAC encoder has ready (it keeps one frame back as lookahead
 * for its psychoacoustic model). */
static int drain_aac(sl_transcoder_t *t, sl_transcoder_emit_fn emit, void *arg)
{
    for (;;) {
        int err = avcodec_receive_packet(t->aenc, t->aenc_pkt);
        if (err == AVERROR(EAGAIN)) return SL_OK;
        if (err < 0) return av_err(err);
        int rc = emit_packet(t, t->aenc_pkt->data, (size_t)t->aenc_pkt->size, emit, arg);
        av_packet_unref(t->aenc_pkt);
        if (rc != SL_OK) return rc;
    }
}

static int encode_aac(sl_transcoder_t *t, const float *pcm, sl_transcoder_emit_fn emit, void *arg)
{
    AVFrame *fr = t->aenc_frame;
    /* The encoder may still hold a reference to the last frame's planes. */
    int err = av_frame_make_writable(fr);
    if (err < 0) return av_err(err);
    for (int c = 0; c < t->out_ch; c++) {
        float *plane = (float *)fr->extended_data[c];
        for (int i = 0; i < t->frame_size; i++) plane[i] = pcm[i * t->out_ch + c];
    }
    fr->pts = t->enc_in;
    if ((err = avcodec_send_frame(t->aenc, fr)) < 0) return av_err(err);
    t->enc_in += t->frame_size;
    return drain_aac(t, emit, arg);
}

static int encode_frame(sl_transcoder_t *t, const float *pcm, sl_transcoder_emit_fn emit, void *arg)
{
    return t->to == SL_CODEC_OPUS ? encode_opus(t, pcm, emit, arg) : encode_aac(t, pcm, emit, arg);
}

/* Encodes every whole frame in the FIFO and keeps the rest at its front. */
static int encode_ready(sl_transcoder_t *t, sl_transcoder_emit_fn emit, void *arg)
{
    size_t frame_bytes = (size_t)t->frame_size * out_frame_bytes(t), done = 0;
    int rc = SL_OK;
    while (rc == SL_OK && t->fifo.len - done >= frame_bytes) {
        rc = encode_frame(t, (const float *)(t->fifo.data + done), emit, arg);
        done += frame_bytes;
    }
    memmove(t->fifo.data, t->fifo.data + done, t->fifo.len - done);
    t->fifo.len -= done;
    return rc;
}

/* ---- The FIFO's input: resampler, clock ---------------------------------------- */

/* Appends `frames` samples already in the output's channels (at the input rate) to
 * the FIFO, through the resampler when the rates differ. */
static int put_mapped(sl_transcoder_t *t, const float *pcm, size_t frames)
{
    size_t made = frames;
    if (t->res != NULL) {
        if (sl_resampler_process(t->res, pcm, frames, &t->fifo, &made) != SL_OK) return SL_ERR_NOMEM;
    } else if (sl_bytes_append(&t->fifo, pcm, frames * out_frame_bytes(t)) != SL_OK) {
        return SL_ERR_NOMEM;
    }
    t->seg_out += (int64_t)made;
    return SL_OK;
}

static int put_silence(sl_transcoder_t *t, size_t frames)
{
    float *z = reserve_frames(&t->mixed, frames, t->out_ch);
    if (z == NULL) return SL_ERR_NOMEM;
    memset(z, 0, frames * out_frame_bytes(t));
    return put_mapped(t, z, frames);
}

/* Output samples the segment's input becomes, the resampler's lag included. */
static int64_t segment_content(const sl_transcoder_t *t)
{
    return (t->seg_in * OUT_RATE + t->in_rate - 1) / t->in_rate + t->seg_delay;
}

/* Pushes the segment's last samples out of the resampler with silence behind them. */
static int drain_resampler(sl_transcoder_t *t, int64_t content)
{
    for (int round = 0; t->res != NULL && t->seg_out < content && round < DRAIN_MAX_ROUNDS; round++) {
        int64_t missing = (content - t->seg_out) * t->in_rate / OUT_RATE + DRAIN_EXTRA_IN;
        int rc = put_silence(t, (size_t)missing);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

/* Ends the segment: all of its audio (what the resampler, the FIFO and the encoder
 * still hold) is encoded with silence behind it and emitted with the segment's
 * timestamps before the clock is re-anchored. The encoder keeps running: what it
 * holds afterwards is silence, decoded at the start of the next segment. */
static int flush_segment(sl_transcoder_t *t, sl_transcoder_emit_fn emit, void *arg)
{
    int64_t content = segment_content(t);
    int rc = drain_resampler(t, content);
    int64_t end = t->seg_base + content;
    for (int i = 0; rc == SL_OK && i < FLUSH_MAX_FRAMES && t->packets * t->frame_size - t->enc_delay < end; i++) {
        int64_t have = fifo_frames(t);
        if (have < t->frame_size) rc = put_silence(t, (size_t)(t->frame_size - have));
        if (rc == SL_OK) rc = encode_ready(t, emit, arg);
    }
    t->fifo.len = 0;
    return rc;
}

/* Anchors a new segment on an input block at pts of `rate`, with a fresh resampler
 * when the rate is not the output's. SL_ERR_CONFIG for a rate the resampler cannot
 * take (the block is then dropped, the next one tries again). */
static int start_segment(sl_transcoder_t *t, int64_t pts, uint32_t rate)
{
    sl_resampler_free(t->res);
    t->res = NULL;
    t->anchored = false;
    if (rate != OUT_RATE) {
        int rc = sl_resampler_new(rate, OUT_RATE, t->out_ch, &t->res);
        if (rc != SL_OK) return rc;
    }
    t->anchored = true;
    t->anchor = pts;
    t->in_rate = rate;
    t->seg_in = t->seg_out = 0;
    t->seg_base = t->enc_in + fifo_frames(t);
    t->seg_delay = t->res != NULL ? sl_resampler_delay(t->res) : 0;
    return SL_OK;
}

/* Checks an input block's pts against the samples taken so far: silence fills a
 * small hole, a departure beyond SL_TRANSCODER_RESYNC_MS (or a new decoder rate)
 * ends the segment and starts another on this block. */
static int follow_clock(sl_transcoder_t *t, int64_t pts, uint32_t rate, sl_transcoder_emit_fn emit, void *arg)
{
    if (t->anchored && rate == t->in_rate) {
        int64_t dev = pts - (t->anchor + samples_to_ts(t->seg_in, rate));
        if (dev >= -SL_MS_TO_TS(SL_TRANSCODER_RESYNC_MS) && dev <= SL_MS_TO_TS(SL_TRANSCODER_RESYNC_MS)) {
            if (dev <= FILL_MIN_TS) return SL_OK;
            int64_t n = dev * rate / SL_CLOCK_HZ;
            t->seg_in += n;
            return put_silence(t, (size_t)n);
        }
    }
    if (t->anchored) {
        int rc = flush_segment(t, emit, arg);
        if (rc != SL_OK) return rc;
    }
    return start_segment(t, pts, rate);
}

/* Takes one decoded block at pts: clock, channels, rate, FIFO, encoder. */
static int take_pcm(sl_transcoder_t *t, const pcm_t *p, int64_t pts, sl_transcoder_emit_fn emit, void *arg)
{
    if (p->frames == 0) return SL_OK;
    int rc = follow_clock(t, pts, p->rate, emit, arg);
    if (rc == SL_ERR_CONFIG) return SL_OK;
    if (rc != SL_OK) return rc;
    float *dst = reserve_frames(t->res != NULL ? &t->mixed : &t->fifo, p->frames, t->out_ch);
    if (dst == NULL) return SL_ERR_NOMEM;
    map_channels(p, t->out_ch, dst);
    if (t->res != NULL) {
        if ((rc = put_mapped(t, dst, p->frames)) != SL_OK) return rc;
    } else {
        t->fifo.len += p->frames * out_frame_bytes(t);
        t->seg_out += (int64_t)p->frames;
    }
    t->seg_in += (int64_t)p->frames;
    return encode_ready(t, emit, arg);
}

/* ---- Input: decoders ----------------------------------------------------------- */

static int decode_opus(sl_transcoder_t *t, const sl_frame_t *f, sl_transcoder_emit_fn emit, void *arg)
{
    int n = opus_multistream_decode_float(t->odec, f->data, (opus_int32)f->len, t->odec_pcm, OPUS_MAX_FRAME, 0);
    if (n < 0) return SL_OK; /* unreadable: skipped, the clock fills the hole */
    pcm_t p = {.stride = (size_t)t->odec_ch, .channels = t->odec_ch, .frames = (size_t)n, .rate = OUT_RATE};
    for (int c = 0; c < t->odec_ch; c++) p.ch[c] = t->odec_pcm + c;
    if (t->odec_ch > 2) {
        for (int c = 0; c < t->odec_ch; c++) set_gain(&p, c, VORBIS_ORDER[t->odec_ch][c]);
    }
    return take_pcm(t, &p, f->pts, emit, arg);
}

/* The block view of a decoded AAC frame, false for one this transcoder cannot read
 * (the fixed-point decoder's format, more than 8 channels). */
static bool aac_frame_pcm(const AVFrame *fr, pcm_t *p)
{
    int channels = fr->ch_layout.nb_channels;
    if (fr->format != AV_SAMPLE_FMT_FLTP || channels < 1 || channels > MAX_IN_CHANNELS || fr->sample_rate <= 0)
        return false;
    *p = (pcm_t){.stride = 1, .channels = channels, .frames = (size_t)fr->nb_samples,
                 .rate = (uint32_t)fr->sample_rate};
    for (int c = 0; c < channels; c++) {
        p->ch[c] = (const float *)fr->extended_data[c];
        set_gain(p, c, role_of_av_channel(av_channel_layout_channel_from_index(&fr->ch_layout, (unsigned)c)));
    }
    return true;
}

static int decode_aac(sl_transcoder_t *t, const sl_frame_t *f, sl_transcoder_emit_fn emit, void *arg)
{
    AVPacket *pkt = t->adec_pkt;
    /* A copy, because FFmpeg's decoders read a little past the end of a packet. */
    if (av_new_packet(pkt, (int)f->len) < 0) return SL_ERR_NOMEM;
    memcpy(pkt->data, f->data, f->len);
    int err = avcodec_send_packet(t->adec, pkt);
    av_packet_unref(pkt);
    int64_t pts = f->pts;
    while (err >= 0) {
        if ((err = avcodec_receive_frame(t->adec, t->adec_frame)) < 0) break;
        pcm_t p;
        int rc = SL_OK;
        if (aac_frame_pcm(t->adec_frame, &p)) {
            rc = take_pcm(t, &p, pts, emit, arg);
            pts += samples_to_ts((int64_t)p.frames, p.rate);
        }
        av_frame_unref(t->adec_frame);
        if (rc != SL_OK) return rc;
    }
    /* EAGAIN: every frame taken; anything else but ENOMEM: unreadable, skipped. */
    return err == AVERROR(ENOMEM) ? SL_ERR_NOMEM : SL_OK;
}

/* ---- Setup ---------------------------------------------------------------------- */

typedef struct opus_head {
    int channels, streams, coupled;
    unsigned char mapping[MAX_IN_CHANNELS];
    int gain; /* Q7.8 dB */
} opus_head_t;

/* Reads an OpusHead (RFC 7845 5.1): mapping family 0 (1 or 2 channels) or 1 (up to
 * 8, Vorbis order). SL_ERR_CONFIG for anything else. */
static int parse_opus_head(const uint8_t *data, size_t len, opus_head_t *h)
{
    sl_reader_t r;
    sl_reader_init(&r, data, len);
    const uint8_t *magic = sl_rd_bytes(&r, 8);
    uint8_t version = sl_rd_u8(&r);
    h->channels = sl_rd_u8(&r);
    sl_rd_bytes(&r, 6); /* pre-skip, input rate: see the timeline note above */
    uint8_t gain_lo = sl_rd_u8(&r);
    h->gain = (int16_t)(gain_lo | sl_rd_u8(&r) << 8);
    uint8_t family = sl_rd_u8(&r);
    if (r.err || memcmp(magic, "OpusHead", 8) != 0 || (version & 0xf0) != 0 || h->channels < 1) return SL_ERR_CONFIG;
    if (family == 0) {
        if (h->channels > 2) return SL_ERR_CONFIG;
        h->streams = 1;
        h->coupled = h->channels - 1;
        h->mapping[0] = 0;
        h->mapping[1] = 1;
        return SL_OK;
    }
    if (family != 1 || h->channels > MAX_IN_CHANNELS) return SL_ERR_CONFIG;
    h->streams = sl_rd_u8(&r);
    h->coupled = sl_rd_u8(&r);
    const uint8_t *mapping = sl_rd_bytes(&r, (size_t)h->channels);
    if (r.err || h->streams < 1 || h->coupled > h->streams || h->streams + h->coupled > 255) return SL_ERR_CONFIG;
    memcpy(h->mapping, mapping, (size_t)h->channels);
    return SL_OK;
}

static int open_opus_decoder(sl_transcoder_t *t, const sl_frame_t *config)
{
    opus_head_t h;
    int rc = parse_opus_head(config->data, config->len, &h);
    if (rc != SL_OK) return rc;
    int err;
    t->odec = opus_multistream_decoder_create(OUT_RATE, h.channels, h.streams, h.coupled, h.mapping, &err);
    if (t->odec == NULL) return err == OPUS_ALLOC_FAIL ? SL_ERR_NOMEM : SL_ERR_CONFIG;
    if ((err = opus_multistream_decoder_ctl(t->odec, OPUS_SET_GAIN(h.gain))) != OPUS_OK) return opus_err(err);
    t->odec_ch = h.channels;
    t->out_ch = SL_MIN(h.channels, 2);
    t->odec_pcm = malloc((size_t)OPUS_MAX_FRAME * (size_t)h.channels * sizeof(float));
    return t->odec_pcm != NULL ? SL_OK : SL_ERR_NOMEM;
}

/* Opens the AAC decoder on the AudioSpecificConfig; *rate gets the stream's rate
 * (the SBR rate for explicit HE-AAC), for the OpusHead. */
static int open_aac_decoder(sl_transcoder_t *t, const sl_frame_t *config, uint32_t *rate)
{
    sl_aac_config_t asc;
    if (sl_aac_parse_config(config->data, config->len, &asc) != SL_OK) return SL_ERR_CONFIG;
    *rate = (uint32_t)(asc.ext_sample_rate != 0 ? asc.ext_sample_rate : asc.sample_rate);
    t->out_ch = asc.channels == 1 ? 1 : 2; /* 0: a program config element, surround */
    const AVCodec *codec = avcodec_find_decoder_by_name("aac");
    if (codec == NULL) return SL_ERR_UNSUPPORTED;
    if ((t->adec = avcodec_alloc_context3(codec)) == NULL) return SL_ERR_NOMEM;
    t->adec->extradata = av_mallocz(config->len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (t->adec->extradata == NULL) return SL_ERR_NOMEM;
    memcpy(t->adec->extradata, config->data, config->len);
    t->adec->extradata_size = (int)config->len;
    int err = avcodec_open2(t->adec, codec, NULL);
    if (err < 0) return av_err(err);
    t->adec_pkt = av_packet_alloc();
    t->adec_frame = av_frame_alloc();
    return t->adec_pkt != NULL && t->adec_frame != NULL ? SL_OK : SL_ERR_NOMEM;
}

/* The OpusHead we publish: the encoder's lookahead as pre-skip, the source's rate
 * as the informative input rate, mapping family 0. */
static int open_opus_encoder(sl_transcoder_t *t, uint32_t bitrate, uint32_t source_rate)
{
    int err;
    t->oenc = opus_encoder_create(OUT_RATE, t->out_ch, OPUS_APPLICATION_AUDIO, &err);
    if (t->oenc == NULL) return opus_err(err);
    opus_int32 lookahead;
    if ((err = opus_encoder_ctl(t->oenc, OPUS_SET_BITRATE((opus_int32)bitrate))) != OPUS_OK ||
        (err = opus_encoder_ctl(t->oenc, OPUS_GET_LOOKAHEAD(&lookahead))) != OPUS_OK)
        return opus_err(err);
    t->frame_size = OPUS_FRAME;
    t->enc_delay = lookahead;
    uint8_t head[OPUS_HEAD_LEN] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, (uint8_t)t->out_ch};
    head[10] = (uint8_t)lookahead;
    head[11] = (uint8_t)(lookahead >> 8);
    sl_wr_le32(head + 12, source_rate);
    t->config = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_CONFIG | SL_FRAME_DERIVED, 0, 0, head,
                                 sizeof(head));
    return t->config != NULL ? SL_OK : SL_ERR_NOMEM;
}

/* AAC-LC at 48 kHz; with a global header, the encoder's extradata is the
 * AudioSpecificConfig of what it really writes, published as the config. */
static int open_aac_encoder(sl_transcoder_t *t, uint32_t bitrate)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    if (codec == NULL) return SL_ERR_UNSUPPORTED;
    AVCodecContext *c = t->aenc = avcodec_alloc_context3(codec);
    if (c == NULL) return SL_ERR_NOMEM;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = OUT_RATE;
    c->time_base = (AVRational){1, OUT_RATE};
    av_channel_layout_default(&c->ch_layout, t->out_ch);
    c->bit_rate = bitrate;
    c->profile = FF_PROFILE_AAC_LOW;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int err = avcodec_open2(c, codec, NULL);
    if (err < 0) return av_err(err);
    if (c->extradata_size < 2 || c->frame_size <= 0) return SL_ERR_UNSUPPORTED;
    t->frame_size = c->frame_size;
    t->enc_delay = c->initial_padding;
    if ((t->aenc_pkt = av_packet_alloc()) == NULL || (t->aenc_frame = av_frame_alloc()) == NULL) return SL_ERR_NOMEM;
    t->aenc_frame->format = AV_SAMPLE_FMT_FLTP;
    t->aenc_frame->sample_rate = OUT_RATE;
    t->aenc_frame->nb_samples = c->frame_size;
    if ((err = av_channel_layout_copy(&t->aenc_frame->ch_layout, &c->ch_layout)) < 0 ||
        (err = av_frame_get_buffer(t->aenc_frame, 0)) < 0)
        return av_err(err);
    t->config = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG | SL_FRAME_DERIVED, 0, 0,
                                 c->extradata, (size_t)c->extradata_size);
    return t->config != NULL ? SL_OK : SL_ERR_NOMEM;
}

static int open_codecs(sl_transcoder_t *t, const sl_transcoder_cfg_t *cfg, const sl_frame_t *source_config)
{
    if (t->to == SL_CODEC_OPUS) {
        uint32_t source_rate;
        int rc = open_aac_decoder(t, source_config, &source_rate);
        return rc != SL_OK ? rc : open_opus_encoder(t, cfg->bitrate ? cfg->bitrate : DEFAULT_OPUS_BITRATE, source_rate);
    }
    int rc = open_opus_decoder(t, source_config);
    return rc != SL_OK ? rc : open_aac_encoder(t, cfg->bitrate ? cfg->bitrate : DEFAULT_AAC_BITRATE);
}

int sl_transcoder_new(const sl_transcoder_cfg_t *cfg, const sl_frame_t *source_config, sl_transcoder_t **out)
{
    *out = NULL;
    /* A damaged frame from a publisher is skipped and counted by the caller; FFmpeg's
     * own lines about it ("Reserved bit set.") would go to stderr, outside the log. */
    av_log_set_level(AV_LOG_QUIET);
    bool to_opus = cfg->to == SL_CODEC_OPUS && source_config->codec == SL_CODEC_AAC;
    bool to_aac = cfg->to == SL_CODEC_AAC && source_config->codec == SL_CODEC_OPUS;
    if ((!to_opus && !to_aac) || source_config->media != SL_MEDIA_AUDIO) return SL_ERR_CONFIG;
    sl_transcoder_t *t = calloc(1, sizeof(*t));
    if (t == NULL) return SL_ERR_NOMEM;
    t->from = (sl_codec_t)source_config->codec;
    t->to = cfg->to;
    sl_bytes_init(&t->mixed);
    sl_bytes_init(&t->fifo);
    int rc = open_codecs(t, cfg, source_config);
    if (rc != SL_OK) {
        sl_transcoder_free(t);
        return rc;
    }
    *out = t;
    return SL_OK;
}

sl_frame_t *sl_transcoder_config(const sl_transcoder_t *t) { return t->config; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sl_transcoder_push(sl_transcoder_t *t, const sl_frame_t *f, sl_transcoder_emit_fn emit, void *arg)
{
    /* A derived frame is a transcoder's output, never a source; an empty one would
     * make libopus conceal a loss instead of decoding. */
    if (f->media != SL_MEDIA_AUDIO || f->codec != t->from || (f->flags & (SL_FRAME_CONFIG | SL_FRAME_DERIVED)) ||
        f->len == 0 || f->len > INT32_MAX)
        return SL_OK;
    uint64_t start = now_ns();
    int rc = t->from == SL_CODEC_OPUS ? decode_opus(t, f, emit, arg) : decode_aac(t, f, emit, arg);
    t->busy_ns += now_ns() - start;
    return rc;
}

uint64_t sl_transcoder_busy_ns(const sl_transcoder_t *t) { return t->busy_ns; }

void sl_transcoder_free(sl_transcoder_t *t)
{
    if (t == NULL) return;
    opus_multistream_decoder_destroy(t->odec);
    free(t->odec_pcm);
    avcodec_free_context(&t->adec);
    av_packet_free(&t->adec_pkt);
    av_frame_free(&t->adec_frame);
    opus_encoder_destroy(t->oenc);
    avcodec_free_context(&t->aenc);
    av_frame_free(&t->aenc_frame);
    av_packet_free(&t->aenc_pkt);
    sl_resampler_free(t->res);
    sl_bytes_free(&t->mixed);
    sl_bytes_free(&t->fifo);
    sl_frame_unref(t->config);
    free(t);
}
