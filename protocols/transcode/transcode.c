/* The transcoders of live streams: one per stream and output codec, attached to the
 * stream (SL_OUTPUT_TO_AAC, SL_OUTPUT_TO_OPUS) while an output wants that codec. It
 * is a passive hub subscriber (it does not keep a pulled stream watched) that hands
 * the publisher's audio to a transcoder (transcoder.h) and pushes what comes out
 * into the same stream, flagged SL_FRAME_DERIVED. It does nothing while the
 * publisher's audio already is the wanted codec, and follows a change of the
 * publisher's audio config with a new transcoder.
 *
 * Decoding and encoding cost about a millisecond per frame (docs/transcode.md), too
 * much for the loop, so they run in libuv's thread pool: one job at a time per
 * stream, in order. A job owns the transcoder and a batch of frames; the loop only
 * reads or changes them between jobs. Frames cross threads without their reference
 * counts being touched on the other side: the loop holds the inputs' references
 * until the job is back, and the worker makes the outputs, which the loop takes
 * over when it is back. */
#include "sluice/transcode.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/transcode/transcoder.h"
#include "sluice/log.h"
#include "sluice/server.h"

/* Frames waiting for the worker; past this the oldest are dropped (the machine
 * cannot keep up: better a gap than a growing delay). */
#define MAX_PENDING 256

typedef struct frame_list {
    sl_frame_t **f;
    size_t n, cap;
} frame_list_t;

struct sl_transcode {
    sl_server_t *srv;
    sl_stream_t *stream;
    char key[SL_STREAM_KEY_MAX];
    sl_codec_t to;
    int users; /* 0: released, freed when the job in flight is back */
    sl_subscriber_t sub;
    bool subscribed;
    sl_deferred_t work;
    sl_deferred_t reap; /* the last user left: let go of the stream, outside hub callbacks */
    int64_t start_dts; /* audio older than the stream when wanted is not transcoded */
    uint64_t dropped;

    frame_list_t pending; /* taken from the stream, for the next job */
    bool busy;            /* a job is in the thread pool */
    uv_work_t job;
    frame_list_t batch, made; /* the job's inputs and outputs */

    /* Owned by the job while busy. */
    sl_transcoder_t *tc;
    sl_frame_t *source_config; /* a private copy: the config tc was made for */
    int new_rc;                /* of the last sl_transcoder_new, for the loop's log */
    bool new_tried;            /* a transcoder was (re)made in the last job */
    int push_rc;
    uint64_t frames_in, frames_out;
};

static sl_output_kind_t slot_of(sl_codec_t to) { return to == SL_CODEC_AAC ? SL_OUTPUT_TO_AAC : SL_OUTPUT_TO_OPUS; }

static const char *codec_name(sl_codec_t c) { return c == SL_CODEC_AAC ? "aac" : "opus"; }

static int list_add(frame_list_t *l, sl_frame_t *f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        sl_frame_t **grown = realloc(l->f, cap * sizeof(*grown));
        if (grown == NULL) return SL_ERR_NOMEM;
        l->f = grown;
        l->cap = cap;
    }
    l->f[l->n++] = f;
    return SL_OK;
}

static void list_clear(frame_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) sl_frame_unref(l->f[i]);
    l->n = 0;
}

static void list_free(frame_list_t *l)
{
    list_clear(l);
    free(l->f);
    l->f = NULL;
    l->cap = 0;
}

/* ---- in the thread pool ------------------------------------------------------------ */

static int collect(void *arg, sl_frame_t *f)
{
    sl_transcode_t *t = arg;
    t->frames_out++;
    int rc = list_add(&t->made, sl_frame_ref(f));
    if (rc != SL_OK) sl_frame_unref(f);
    return rc;
}

static bool same_config(const sl_frame_t *a, const sl_frame_t *b)
{
    return a != NULL && a->codec == b->codec && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* The publisher's audio config: a transcoder for it, unless it is the wanted codec. */
static int on_source_config(sl_transcode_t *t, const sl_frame_t *config)
{
    if (same_config(t->source_config, config)) return SL_OK;
    sl_transcoder_free(t->tc);
    t->tc = NULL;
    sl_frame_unref(t->source_config);
    t->source_config = sl_frame_copy_of(config->media, config->codec, config->flags, 0, 0, config->data, config->len);
    if (t->source_config == NULL) return SL_ERR_NOMEM;
    if (config->codec == t->to || (config->codec != SL_CODEC_AAC && config->codec != SL_CODEC_OPUS)) return SL_OK;
    const sl_config_t *cfg = t->srv->cfg;
    sl_transcoder_cfg_t tc_cfg = {
        .to = t->to, .bitrate = t->to == SL_CODEC_AAC ? cfg->transcode.aac_bitrate : cfg->transcode.opus_bitrate};
    t->new_tried = true;
    t->new_rc = sl_transcoder_new(&tc_cfg, config, &t->tc);
    if (t->new_rc != SL_OK) {
        t->tc = NULL;
        return t->new_rc == SL_ERR_NOMEM ? SL_ERR_NOMEM : SL_OK;
    }
    /* A copy: the transcoder's own frame must not be shared with the loop. */
    const sl_frame_t *c = sl_transcoder_config(t->tc);
    sl_frame_t *copy = sl_frame_copy_of(c->media, c->codec, c->flags, c->dts, c->pts, c->data, c->len);
    if (copy == NULL) return SL_ERR_NOMEM;
    int rc = list_add(&t->made, copy);
    if (rc != SL_OK) sl_frame_unref(copy);
    return rc;
}

static int take(sl_transcode_t *t, const sl_frame_t *f)
{
    if (f->flags & SL_FRAME_CONFIG) return on_source_config(t, f);
    if (t->tc == NULL || f->codec != t->source_config->codec || f->dts < t->start_dts) return SL_OK;
    t->frames_in++;
    return sl_transcoder_push(t->tc, f, collect, t);
}

static void run_job(uv_work_t *req)
{
    sl_transcode_t *t = req->data;
    t->push_rc = SL_OK;
    for (size_t i = 0; i < t->batch.n && t->push_rc == SL_OK; i++) t->push_rc = take(t, t->batch.f[i]);
}

/* ---- on the loop ------------------------------------------------------------------- */

static void log_totals(sl_transcode_t *t)
{
    if (t->tc == NULL || t->frames_in == 0) return;
    SL_INFO("transcode %s -> %s: %llu frames in, %llu out, %.0f us per input frame in the thread pool%s", t->key,
            codec_name(t->to), (unsigned long long)t->frames_in, (unsigned long long)t->frames_out,
            (double)sl_transcoder_busy_ns(t->tc) / 1000.0 / (double)t->frames_in, t->dropped ? " (frames dropped)" : "");
}

static void free_transcode(sl_transcode_t *t)
{
    log_totals(t);
    sl_transcoder_free(t->tc);
    sl_frame_unref(t->source_config);
    list_free(&t->pending);
    list_free(&t->batch);
    list_free(&t->made);
    free(t);
}

static void start_job(sl_transcode_t *t);

/* Lets go of the stream: it may go as soon as its last subscriber does, so the
 * slot is cleared while it still exists. */
static void leave_stream(sl_transcode_t *t)
{
    if (!t->subscribed) return;
    sl_stream_set_output(t->stream, slot_of(t->to), NULL);
    sl_subscriber_detach(&t->sub);
    t->subscribed = false;
}

static void job_done(uv_work_t *req, int status)
{
    sl_transcode_t *t = req->data;
    t->busy = false;
    list_clear(&t->batch);
    if (t->users == 0) {
        /* Released: reap frees it, or has run already and left it to us. */
        if (sl_list_linked(&t->reap.link)) list_clear(&t->made);
        else free_transcode(t);
        return;
    }
    if (t->new_tried) {
        t->new_tried = false;
        if (t->new_rc == SL_OK)
            SL_INFO("transcode %s: %s -> %s", t->key, codec_name(t->source_config->codec), codec_name(t->to));
        else
            SL_WARN("transcode %s -> %s: cannot transcode this audio: %s", t->key, codec_name(t->to),
                    sl_strerror(t->new_rc));
    }
    /* Pushing into a stream whose publisher left is not allowed. */
    bool live = t->subscribed && sl_hub_find(t->srv->hub, t->key) == t->stream;
    int rc = t->push_rc;
    for (size_t i = 0; i < t->made.n && live && rc == SL_OK; i++) {
        sl_frame_t *f = t->made.f[i];
        /* The encoder's delay can put the first frame a little before a stream
         * that starts at 0; MPEG-TS would wrap a negative time. */
        f->dts = SL_MAX(f->dts, 0);
        f->pts = SL_MAX(f->pts, 0);
        rc = sl_stream_push(t->stream, f, uv_now(t->srv->loop));
    }
    list_clear(&t->made);
    if (rc != SL_OK) {
        SL_WARN("transcode %s -> %s: stopped: %s", t->key, codec_name(t->to), sl_strerror(rc));
        list_clear(&t->pending);
        leave_stream(t);
        return;
    }
    start_job(t);
}

static void start_job(sl_transcode_t *t)
{
    if (t->busy || t->pending.n == 0) return;
    frame_list_t swap = t->batch;
    t->batch = t->pending;
    t->pending = swap;
    t->job.data = t;
    if (uv_queue_work(t->srv->loop, &t->job, run_job, job_done) != 0) {
        list_clear(&t->batch);
        return;
    }
    t->busy = true;
}

static void run(sl_deferred_t *d)
{
    sl_transcode_t *t = sl_container_of(d, sl_transcode_t, work);
    sl_frame_t *f;
    while (t->subscribed && (f = sl_subscriber_next(&t->sub)) != NULL) {
        /* Its own frames come back through the log, like the video: skipped. */
        if (f->media != SL_MEDIA_AUDIO || (f->flags & SL_FRAME_DERIVED)) continue;
        if (t->pending.n == MAX_PENDING) {
            sl_frame_unref(t->pending.f[0]);
            memmove(t->pending.f, t->pending.f + 1, (t->pending.n - 1) * sizeof(*t->pending.f));
            t->pending.n--;
            if (t->dropped++ == 0)
                SL_WARN("transcode %s -> %s: the machine does not keep up, audio frames dropped", t->key,
                        codec_name(t->to));
        }
        if (list_add(&t->pending, sl_frame_ref(f)) != SL_OK) sl_frame_unref(f);
    }
    start_job(t);
}

static void on_ready(sl_subscriber_t *sub)
{
    sl_transcode_t *t = sl_container_of(sub, sl_transcode_t, sub);
    sl_server_defer(t->srv, &t->work);
}

static void on_too_slow(sl_subscriber_t *sub)
{
    sl_transcode_t *t = sl_container_of(sub, sl_transcode_t, sub);
    SL_WARN("transcode %s -> %s: stopped: too far behind the stream", t->key, codec_name(t->to));
    /* The hub detached it already; the stream is still there during the call. */
    sl_stream_set_output(t->stream, slot_of(t->to), NULL);
    t->subscribed = false;
}

static const sl_subscriber_ops_t ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

static void reap(sl_deferred_t *d);

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
    snprintf(t->key, sizeof(t->key), "%s", sl_stream_key(s));
    t->to = codec;
    t->users = 1;
    sl_list_init(&t->work.link);
    t->work.run = run;
    sl_list_init(&t->reap.link);
    t->reap.run = reap;
    /* From the prelude on: the publisher's config first, then its audio. */
    if (sl_hub_subscribe(srv->hub, t->key, &t->sub, &ops, uv_now(srv->loop)) != SL_OK) {
        free(t);
        return NULL;
    }
    if (t->sub.stream != s) { /* s has ended; the key is published anew */
        sl_subscriber_detach(&t->sub);
        free(t);
        return NULL;
    }
    sl_subscriber_set_passive(&t->sub);
    t->subscribed = true;
    /* The GOP cache's audio is in the past: transcoded now it would land in the log
     * after newer frames. The derived track starts at the live edge. */
    sl_stream_stats_t st;
    sl_stream_get_stats(s, uv_now(srv->loop), &st);
    t->start_dts = st.frames_in > 0 ? st.last_dts : INT64_MIN;
    sl_stream_set_output(s, slot_of(codec), t);
    return t;
}

/* Outputs may release from inside a hub callback (a player too slow), while the hub
 * walks the stream's subscribers, ours maybe next: the detach waits for the loop. */
static void reap(sl_deferred_t *d)
{
    sl_transcode_t *t = sl_container_of(d, sl_transcode_t, reap);
    if (t->users > 0) return; /* wanted again meanwhile */
    sl_server_cancel(&t->work);
    leave_stream(t);
    list_clear(&t->pending);
    /* A job in flight owns the transcoder: it frees everything when back. */
    if (!t->busy) free_transcode(t);
}

void sl_transcode_release(sl_transcode_t *t)
{
    if (t == NULL || --t->users > 0) return;
    sl_server_defer(t->srv, &t->reap);
}
