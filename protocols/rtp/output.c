#include "protocols/rtp/output.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static uint32_t random_u32(void)
{
    uint32_t x = 0;
    if (RAND_bytes((uint8_t *)&x, sizeof(x)) != 1) x = (uint32_t)rand();
    return x;
}

static int packetize(sl_rtp_output_track_t *ot, const sl_frame_t *f, sl_bytes_t *out)
{
    switch (ot->codec) {
    case SL_CODEC_H264: return sl_rtp_h264_packetize(&ot->p.nal, f, out);
    case SL_CODEC_H265: return sl_rtp_h265_packetize(&ot->p.nal, f, out);
    case SL_CODEC_AAC: return sl_rtp_aac_packetize(&ot->p.aac, f, out);
    case SL_CODEC_OPUS: return sl_rtp_opus_packetize(&ot->p.opus, f, out);
    default: return SL_ERR_UNSUPPORTED;
    }
}

static void run_output(sl_deferred_t *d)
{
    sl_rtp_output_catch_up(sl_container_of(d, sl_rtp_output_t, work));
}

static void on_output_ready(sl_subscriber_t *sub)
{
    sl_rtp_output_t *o = sl_container_of(sub, sl_rtp_output_t, sub);
    sl_server_defer(o->srv, &o->work);
}

/* The output runs every loop turn, so it cannot fall behind; if it ever did, its
 * players would stop getting packets and end by their own limits. */
static void on_output_too_slow(sl_subscriber_t *sub) { (void)sub; }

static const sl_subscriber_ops_t output_ops = {.on_ready = on_output_ready, .on_too_slow = on_output_too_slow};

static int track_init(sl_rtp_output_track_t *ot, const sl_frame_t *config, uint8_t pt)
{
    ot->codec = config->codec;
    ot->pt = pt;
    ot->ssrc = random_u32();
    uint16_t seq = (uint16_t)random_u32();
    switch (config->codec) {
    case SL_CODEC_H264:
        ot->clock = SL_RTP_VIDEO_RATE;
        sl_rtp_h264_packetizer_init(&ot->p.nal, pt, ot->ssrc, seq, SL_RTP_DEFAULT_MTU);
        return sl_rtp_h264_packetizer_set_config(&ot->p.nal, config);
    case SL_CODEC_H265:
        ot->clock = SL_RTP_VIDEO_RATE;
        sl_rtp_h265_packetizer_init(&ot->p.nal, pt, ot->ssrc, seq, SL_RTP_DEFAULT_MTU);
        return sl_rtp_h265_packetizer_set_config(&ot->p.nal, config);
    case SL_CODEC_AAC: {
        int rc = sl_rtp_aac_packer_init(&ot->p.aac, config->data, config->len, pt, ot->ssrc, seq, 0);
        ot->clock = ot->p.aac.rate;
        return rc;
    }
    case SL_CODEC_OPUS:
        ot->clock = SL_RTP_OPUS_RATE;
        sl_rtp_opus_packer_init(&ot->p.opus, pt, ot->ssrc, seq);
        return SL_OK;
    default: ot->codec = SL_CODEC_NONE; return SL_ERR_UNSUPPORTED;
    }
}

static void track_free(sl_rtp_output_track_t *ot)
{
    if (ot->codec == SL_CODEC_H264 || ot->codec == SL_CODEC_H265) sl_rtp_h264_packetizer_free(&ot->p.nal);
    ot->codec = SL_CODEC_NONE;
}

/* A new state for track id from config: a track of another codec is another RTP
 * stream, with its own SSRC and sequence numbers. A config the packetizer refuses
 * leaves the track without a codec, so its frames get no packets. */
static void track_setup(sl_rtp_output_track_t *ot, sl_rtp_output_track_id_t id, const sl_frame_t *config)
{
    static const uint8_t pts[SL_RTP_TRACK_COUNT] = {SL_RTP_OUTPUT_PT_VIDEO, SL_RTP_OUTPUT_PT_AUDIO,
                                                    SL_RTP_OUTPUT_PT_DERIVED_AUDIO};
    track_free(ot);
    if (track_init(ot, config, pts[id]) != SL_OK) track_free(ot);
}

sl_rtp_output_track_id_t sl_rtp_output_track_id(const sl_frame_t *f)
{
    if (f->media == SL_MEDIA_VIDEO) return SL_RTP_TRACK_VIDEO;
    if (f->media != SL_MEDIA_AUDIO) return SL_RTP_TRACK_COUNT;
    return (f->flags & SL_FRAME_DERIVED) ? SL_RTP_TRACK_DERIVED_AUDIO : SL_RTP_TRACK_AUDIO;
}

void sl_rtp_output_catch_up(sl_rtp_output_t *o)
{
    sl_frame_t *f;
    while ((f = sl_subscriber_next(&o->sub)) != NULL) {
        sl_rtp_output_track_id_t id = sl_rtp_output_track_id(f);
        if (id == SL_RTP_TRACK_COUNT) continue;
        sl_rtp_output_track_t *ot = &o->track[id];
        if ((f->flags & SL_FRAME_CONFIG) && ot->codec != f->codec) {
            track_setup(ot, id, f);
            continue;
        }
        /* Frames of a codec the track no longer has (the publisher changed) get no
         * packets: no player could take them. */
        if (ot->codec != f->codec) continue;
        sl_bytes_t out;
        sl_bytes_init(&out);
        sl_buf_t *b = packetize(ot, f, &out) == SL_OK && out.len > 0 ? sl_bytes_to_buf(&out) : NULL;
        if (b != NULL) sl_frame_enc_set(f, SL_ENC_RTP, 0, b);
        sl_bytes_free(&out);
    }
}

sl_rtp_output_t *sl_rtp_output_acquire(sl_server_t *srv, sl_stream_t *stream)
{
    sl_rtp_output_t *o = sl_stream_get_output(stream, SL_OUTPUT_RTP);
    if (o != NULL) {
        o->users++;
        return o;
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL) return NULL;
    o->srv = srv;
    o->stream = stream;
    o->users = 1;
    sl_list_init(&o->work.link);
    o->work.run = run_output;
    /* The subscriber's prelude brings the stream's current configs, which set the
     * tracks up before any media frame. */
    if (sl_hub_subscribe(srv->hub, sl_stream_key(stream), &o->sub, &output_ops, uv_now(srv->loop)) != SL_OK) {
        free(o);
        return NULL;
    }
    sl_stream_set_output(stream, SL_OUTPUT_RTP, o);
    return o;
}

/* The slot is cleared before the output's subscriber leaves, because that may free
 * the stream. */
void sl_rtp_output_release(sl_rtp_output_t *o)
{
    if (--o->users > 0) return;
    sl_stream_set_output(o->stream, SL_OUTPUT_RTP, NULL);
    sl_server_cancel(&o->work);
    for (int i = 0; i < SL_RTP_TRACK_COUNT; i++) track_free(&o->track[i]);
    sl_subscriber_detach(&o->sub);
    free(o);
}
