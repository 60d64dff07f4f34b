/* The transcoders of live streams: one per stream and output codec, attached to the
 * stream (SL_OUTPUT_TO_AAC, SL_OUTPUT_TO_OPUS) while an output wants that codec. It
 * is a passive hub subscriber (it does not keep a pulled stream watched) that feeds
 * the publisher's audio to a transcoder (transcoder.h) and pushes what comes out
 * into the same stream, flagged SL_FRAME_DERIVED. It does nothing while the
 * publisher's audio already is the wanted codec, and follows a change of the
 * publisher's audio config by starting a new transcoder.
 *
 * The work runs on the loop: measured at tens of microseconds per frame (see
 * docs/transcode.md), far below what would need the thread pool. */
#include "sluice/transcode.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/transcode/transcoder.h"
#include "sluice/log.h"
#include "sluice/server.h"

struct sl_transcode {
    sl_server_t *srv;
    sl_stream_t *stream;
    sl_codec_t to;
    int users;
    sl_subscriber_t sub;
    bool subscribed;
    sl_deferred_t work;
    sl_transcoder_t *tc;
    sl_frame_t *source_config; /* the config tc was made for */
    bool failed_config;        /* tc could not be made for source_config: logged once */
    uint64_t frames_in, frames_out;
    int64_t start_dts; /* audio older than the stream when wanted is not transcoded */
};

static sl_output_kind_t slot_of(sl_codec_t to) { return to == SL_CODEC_AAC ? SL_OUTPUT_TO_AAC : SL_OUTPUT_TO_OPUS; }

static const char *codec_name(sl_codec_t c) { return c == SL_CODEC_AAC ? "aac" : "opus"; }

static int emit(void *arg, sl_frame_t *f)
{
    sl_transcode_t *t = arg;
    t->frames_out++;
    return sl_stream_push(t->stream, f, uv_now(t->srv->loop));
}

static void drop_transcoder(sl_transcode_t *t)
{
    if (t->tc != NULL && t->frames_in > 0)
        SL_INFO("transcode %s -> %s: %llu frames in, %llu out, %.1f us per input frame on the loop",
                sl_stream_key(t->stream), codec_name(t->to), (unsigned long long)t->frames_in,
                (unsigned long long)t->frames_out, (double)sl_transcoder_busy_ns(t->tc) / 1000.0 / (double)t->frames_in);
    sl_transcoder_free(t->tc);
    t->tc = NULL;
    sl_frame_unref(t->source_config);
    t->source_config = NULL;
    t->frames_in = t->frames_out = 0;
}

/* The publisher's audio config: a transcoder for it, unless it is the wanted codec. */
static int on_source_config(sl_transcode_t *t, sl_frame_t *config)
{
    if (t->source_config != NULL && t->source_config->len == config->len &&
        memcmp(t->source_config->data, config->data, config->len) == 0)
        return SL_OK;
    drop_transcoder(t);
    t->source_config = sl_frame_ref(config);
    t->failed_config = false;
    if (config->codec == t->to || (config->codec != SL_CODEC_AAC && config->codec != SL_CODEC_OPUS)) return SL_OK;
    const sl_config_t *cfg = t->srv->cfg;
    sl_transcoder_cfg_t tc_cfg = {
        .to = t->to, .bitrate = t->to == SL_CODEC_AAC ? cfg->transcode.aac_bitrate : cfg->transcode.opus_bitrate};
    int rc = sl_transcoder_new(&tc_cfg, config, &t->tc);
    if (rc != SL_OK) {
        t->tc = NULL;
        t->failed_config = true;
        SL_WARN("transcode %s -> %s: cannot transcode this audio: %s", sl_stream_key(t->stream), codec_name(t->to),
                sl_strerror(rc));
        return rc == SL_ERR_NOMEM ? rc : SL_OK;
    }
    SL_INFO("transcode %s: %s -> %s", sl_stream_key(t->stream), codec_name(config->codec), codec_name(t->to));
    return sl_stream_push(t->stream, sl_transcoder_config(t->tc), uv_now(t->srv->loop));
}

static int take(sl_transcode_t *t, sl_frame_t *f)
{
    /* Its own frames come back through the log, like the video: skipped. */
    if (f->media != SL_MEDIA_AUDIO || (f->flags & SL_FRAME_DERIVED)) return SL_OK;
    if (f->flags & SL_FRAME_CONFIG) return on_source_config(t, f);
    if (t->tc == NULL || f->codec != t->source_config->codec || f->dts < t->start_dts) return SL_OK;
    t->frames_in++;
    return sl_transcoder_push(t->tc, f, emit, t);
}

static void run(sl_deferred_t *d)
{
    sl_transcode_t *t = sl_container_of(d, sl_transcode_t, work);
    if (!t->subscribed) return;
    /* Pushing into a stream whose publisher left is not allowed: drain only. */
    bool live = sl_hub_find(t->srv->hub, sl_stream_key(t->stream)) == t->stream;
    sl_frame_t *f;
    int rc = SL_OK;
    while ((f = sl_subscriber_next(&t->sub)) != NULL)
        if (live && rc == SL_OK) rc = take(t, f);
    if (rc != SL_OK) {
        SL_WARN("transcode %s -> %s: stopped: %s", sl_stream_key(t->stream), codec_name(t->to), sl_strerror(rc));
        drop_transcoder(t);
        sl_subscriber_detach(&t->sub);
        t->subscribed = false;
    }
}

static void on_ready(sl_subscriber_t *sub)
{
    sl_transcode_t *t = sl_container_of(sub, sl_transcode_t, sub);
    sl_server_defer(t->srv, &t->work);
}

static void on_too_slow(sl_subscriber_t *sub)
{
    sl_transcode_t *t = sl_container_of(sub, sl_transcode_t, sub);
    SL_WARN("transcode %s -> %s: stopped: too far behind the stream", sl_stream_key(t->stream), codec_name(t->to));
    t->subscribed = false;
    drop_transcoder(t);
}

static const sl_subscriber_ops_t ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

sl_transcode_t *sl_transcode_want(sl_server_t *srv, sl_stream_t *s, sl_codec_t codec)
{
    if (!srv->cfg->transcode.enabled || (codec != SL_CODEC_AAC && codec != SL_CODEC_OPUS)) return NULL;
    sl_transcode_t *t = sl_stream_get_output(s, slot_of(codec));
    if (t != NULL) {
        t->users++;
        return t;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) return NULL;
    t->srv = srv;
    t->stream = s;
    t->to = codec;
    t->users = 1;
    sl_list_init(&t->work.link);
    t->work.run = run;
    /* From the prelude on: the publisher's config first, then its audio. */
    if (sl_hub_subscribe(srv->hub, sl_stream_key(s), &t->sub, &ops, uv_now(srv->loop)) != SL_OK) {
        free(t);
        return NULL;
    }
    if (t->sub.stream != s) { /* s has ended; the key is published anew */
        sl_subscriber_detach(&t->sub);
        free(t);
        return NULL;
    }
    /* The GOP cache's audio is in the past: transcoded now it would land in the log
     * after newer frames. The derived track starts at the live edge. */
    sl_stream_stats_t st;
    sl_stream_get_stats(s, uv_now(srv->loop), &st);
    t->start_dts = st.frames_in > 0 ? st.last_dts : INT64_MIN;
    sl_subscriber_set_passive(&t->sub);
    t->subscribed = true;
    sl_stream_set_output(s, slot_of(codec), t);
    return t;
}

void sl_transcode_release(sl_transcode_t *t)
{
    if (t == NULL || --t->users > 0) return;
    drop_transcoder(t);
    sl_server_cancel(&t->work);
    sl_stream_set_output(t->stream, slot_of(t->to), NULL);
    if (t->subscribed) sl_subscriber_detach(&t->sub);
    free(t);
}
