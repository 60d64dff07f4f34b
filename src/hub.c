#include "sluice/hub.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/log.h"

/* The GOP cache remembers the start of the last few GOPs; one slot more than the
 * deepest configurable cache. */
#define GOP_SLOTS 9

typedef struct log_entry {
    sl_frame_t *frame;
    uint64_t bytes_before; /* stream bytes pushed before this frame */
} log_entry_t;

struct sl_stream {
    sl_list_t link; /* in hub->streams while published */
    sl_hub_t *hub;
    char key[SL_STREAM_KEY_MAX];
    bool published;
    sl_frame_t *metadata, *video_config, *audio_config;
    sl_frame_t *derived_audio_config; /* the transcoder's track, in another codec */
    bool has_video, has_audio;

    /* The frame log: entries [head, tail) live at ring[seq & mask]. */
    log_entry_t *ring;
    uint64_t mask;
    uint64_t head, tail;
    uint64_t bytes_total;
    uint64_t last_config_seq; /* newest config frame in the log, or UINT64_MAX */
    uint64_t gop_start[GOP_SLOTS]; /* newest keyframe seqs, [0] newest */
    int gop_count;

    sl_list_t subscribers;
    size_t subscriber_count;
    size_t passive_count; /* of which passive */
    void *outputs[SL_OUTPUT_COUNT];
    void (*keyframe_request)(void *arg); /* the publisher's, while it publishes */
    void *keyframe_request_arg;
    unsigned notes; /* sl_stream_note_t already logged */
    uint64_t frames_in;
    int64_t last_dts;
    uint64_t published_ms; /* now_ms of the first frame */
    /* Per-second counts of the last seconds, for the measured bitrate and fps. */
    struct rate_slot {
        uint64_t second;
        uint64_t bytes;
        uint32_t video_frames;
    } rate[SL_STREAM_RATE_WINDOW + 1];
    uint64_t video_frames;
    uint64_t gop_frames; /* video frames from the previous keyframe to the latest one */
    int64_t gop_duration; /* hub clock, between those keyframes */
    int64_t last_key_dts;
    uint64_t last_key_seq;
    /* Audio riding with video (sl_subscriber_set_batched): when the last video frame
     * came, and whether audio batched subscribers were not woken for waits, since
     * when. */
    uint64_t last_video_ms, audio_waiting_ms;
    bool audio_waiting;
};

struct sl_hub {
    const sl_config_t *cfg;
    uint64_t frames_skipped;
    sl_list_t observers;
    sl_list_t streams;
    size_t stream_count;
};

sl_hub_t *sl_hub_new(const sl_config_t *cfg)
{
    sl_hub_t *hub = calloc(1, sizeof(*hub));
    if (hub == NULL) return NULL;
    hub->cfg = cfg;
    sl_list_init(&hub->observers);
    sl_list_init(&hub->streams);
    return hub;
}

void sl_hub_free(sl_hub_t *hub)
{
    if (hub == NULL) return;
    assert(sl_list_empty(&hub->streams));
    free(hub);
}

size_t sl_hub_stream_count(const sl_hub_t *hub) { return hub->stream_count; }

void sl_hub_observe(sl_hub_t *hub, sl_hub_observer_t *o) { sl_list_insert_tail(&hub->observers, &o->link); }
void sl_hub_unobserve(sl_hub_observer_t *o) { sl_list_remove(&o->link); }

bool sl_hub_key_valid(const char *key)
{
    size_t len = strlen(key);
    const char *slash = strchr(key, '/');
    if (len == 0 || len >= SL_STREAM_KEY_MAX || slash == NULL || slash == key || slash[1] == '\0')
        return false;
    if (strstr(key, "..") != NULL) return false;
    for (const char *p = key; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%' || c == '\\') return false;
    }
    return true;
}

static sl_stream_t *find_stream(sl_hub_t *hub, const char *key)
{
    /* Streams are looked up when a session starts, never per frame: a list is enough. */
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &hub->streams) {
        sl_stream_t *s = sl_container_of(pos, sl_stream_t, link);
        if (strcmp(s->key, key) == 0) return s;
    }
    return NULL;
}

sl_stream_t *sl_hub_find(sl_hub_t *hub, const char *key) { return find_stream(hub, key); }

static log_entry_t *entry_at(const sl_stream_t *s, uint64_t seq) { return &s->ring[seq & s->mask]; }

static void stream_free(sl_stream_t *s)
{
    SL_INFO("stream %s freed", s->key);
    for (int i = 0; i < SL_OUTPUT_COUNT; i++) assert(s->outputs[i] == NULL);
    for (uint64_t seq = s->head; seq < s->tail; seq++) sl_frame_unref(entry_at(s, seq)->frame);
    sl_frame_unref(s->metadata);
    sl_frame_unref(s->video_config);
    sl_frame_unref(s->audio_config);
    sl_frame_unref(s->derived_audio_config);
    s->hub->stream_count--;
    free(s->ring);
    free(s);
}

static void stream_free_if_unused(sl_stream_t *s)
{
    if (!s->published && s->subscriber_count == 0) stream_free(s);
}

int sl_hub_publish(sl_hub_t *hub, const char *key, sl_stream_t **out)
{
    if (!sl_hub_key_valid(key)) return SL_ERR_PROTO;
    if (find_stream(hub, key) != NULL) return SL_ERR_BUSY;
    sl_stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return SL_ERR_NOMEM;
    s->ring = calloc(64, sizeof(*s->ring));
    if (s->ring == NULL) {
        free(s);
        return SL_ERR_NOMEM;
    }
    s->mask = 63;
    s->hub = hub;
    snprintf(s->key, sizeof(s->key), "%s", key);
    s->published = true;
    s->last_config_seq = UINT64_MAX;
    sl_list_init(&s->subscribers);
    sl_list_insert_tail(&hub->streams, &s->link);
    hub->stream_count++;
    SL_INFO("stream %s created", key);
    *out = s;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &hub->observers) {
        sl_hub_observer_t *o = sl_container_of(pos, sl_hub_observer_t, link);
        if (o->on_publish != NULL) o->on_publish(o, s);
    }
    return SL_OK;
}

static int grow_ring(sl_stream_t *s)
{
    uint64_t cap = (s->mask + 1) * 2;
    log_entry_t *ring = calloc(cap, sizeof(*ring));
    if (ring == NULL) return SL_ERR_NOMEM;
    for (uint64_t seq = s->head; seq < s->tail; seq++) ring[seq & (cap - 1)] = *entry_at(s, seq);
    free(s->ring);
    s->ring = ring;
    s->mask = cap - 1;
    return SL_OK;
}

/* A frame where a viewer can start: a video keyframe, or any audio frame of a
 * stream without video. */
static bool is_sync_point(const sl_stream_t *s, const sl_frame_t *f)
{
    if (f->flags & SL_FRAME_CONFIG) return false;
    if (f->media == SL_MEDIA_VIDEO) return (f->flags & SL_FRAME_KEY) != 0;
    return f->media == SL_MEDIA_AUDIO && !s->has_video;
}

/* What a new subscriber gets before the log: see next_prelude. */
#define PRELUDE_STEPS 4

static void remember_config(sl_stream_t *s, sl_frame_t *f)
{
    sl_frame_t **slot = f->media == SL_MEDIA_VIDEO          ? &s->video_config
                        : (f->flags & SL_FRAME_DERIVED) != 0 ? &s->derived_audio_config
                                                              : &s->audio_config;
    sl_frame_unref(*slot);
    *slot = sl_frame_ref(f);
    s->last_config_seq = s->tail;
}

/* Metadata is not media: it is kept for new viewers, not logged. Its timestamp is
 * zeroed, because players (ffmpeg's FLV demuxer among them) take metadata with a
 * later timestamp for a data track; some encoders (GStreamer's flvmux) repeat it. */
static int remember_metadata(sl_stream_t *s, sl_frame_t *f)
{
    sl_frame_t *meta = sl_frame_new(SL_MEDIA_DATA, f->codec, f->flags, 0, 0, f->buf, f->data, f->len);
    if (meta == NULL) return SL_ERR_NOMEM;
    sl_frame_unref(s->metadata);
    s->metadata = meta;
    return SL_OK;
}

/* Bytes and video frames per second of the stream's clock (now_ms), and the
 * length of the last complete GOP. */
static void count_rate(sl_stream_t *s, const sl_frame_t *f, uint64_t now_ms)
{
    if (s->frames_in == 1) s->published_ms = now_ms;
    uint64_t second = now_ms / 1000;
    struct rate_slot *r = &s->rate[second % SL_ARRAY_SIZE(s->rate)];
    if (r->second != second) memset(r, 0, sizeof(*r));
    r->second = second;
    r->bytes += f->len;
    if (f->media != SL_MEDIA_VIDEO || (f->flags & SL_FRAME_CONFIG)) return;
    r->video_frames++;
    s->video_frames++;
    if (!(f->flags & SL_FRAME_KEY)) return;
    if (s->last_key_seq != 0) {
        s->gop_frames = s->video_frames - s->last_key_seq;
        s->gop_duration = f->dts - s->last_key_dts;
    }
    s->last_key_seq = s->video_frames;
    s->last_key_dts = f->dts;
}

static void remember_sync_point(sl_stream_t *s, uint64_t seq)
{
    memmove(&s->gop_start[1], &s->gop_start[0], sizeof(s->gop_start[0]) * (GOP_SLOTS - 1));
    s->gop_start[0] = seq;
    if (s->gop_count < GOP_SLOTS) s->gop_count++;
}

/* The oldest frame the GOP cache keeps, or tail when nothing is cached. A GOP
 * larger than the hard byte limit is not cached: its viewers would be cut anyway. */
static uint64_t gop_cache_start(const sl_stream_t *s)
{
    int depth = s->hub->cfg->hub.gop_cache;
    if (depth == 0 || s->gop_count == 0) return s->tail;
    uint64_t start = s->gop_start[SL_MIN(depth, s->gop_count) - 1];
    if (start < s->head) return s->tail;
    if (s->bytes_total - entry_at(s, start)->bytes_before > s->hub->cfg->limits.viewer_queue_hard_bytes)
        return s->tail;
    return start;
}

static uint64_t lag_bytes(const sl_stream_t *s, const sl_subscriber_t *sub)
{
    if (sub->cursor >= s->tail) return 0;
    return s->bytes_total - entry_at(s, sub->cursor)->bytes_before;
}

/* Applies the queue limits to one subscriber; returns false when it was ended. */
static bool check_subscriber(sl_stream_t *s, sl_subscriber_t *sub, uint64_t now_ms)
{
    const sl_config_t *cfg = s->hub->cfg;
    if (sub->cursor >= s->tail) {
        sub->behind_since_ms = now_ms;
        return true;
    }
    if (now_ms - sub->behind_since_ms > cfg->limits.viewer_queue_hard_ms ||
        lag_bytes(s, sub) > cfg->limits.viewer_queue_hard_bytes) {
        SL_INFO("stream %s: viewer too slow (%llu bytes, %llu ms behind), dropping it", s->key,
                (unsigned long long)lag_bytes(s, sub), (unsigned long long)(now_ms - sub->behind_since_ms));
        sl_subscriber_detach(sub);
        sub->ops->on_too_slow(sub);
        return false;
    }
    uint64_t behind_ms = now_ms - SL_MAX(sub->behind_since_ms, sub->last_skip_ms);
    if (behind_ms > cfg->limits.viewer_queue_soft_ms && s->gop_count > 0 && s->gop_start[0] > sub->cursor) {
        uint64_t key = s->gop_start[0];
        sub->frames_skipped += key - sub->cursor;
    s->hub->frames_skipped += key - sub->cursor;
        if (s->last_config_seq != UINT64_MAX && s->last_config_seq >= sub->cursor && s->last_config_seq < key)
            sub->prelude = PRELUDE_STEPS;
        sub->cursor = key;
        sub->last_skip_ms = now_ms;
    }
    return true;
}

/* Drops log entries no subscriber and the GOP cache need. */
static void trim_log(sl_stream_t *s, uint64_t keep_from)
{
    while (s->head < keep_from) {
        log_entry_t *e = entry_at(s, s->head++);
        sl_frame_unref(e->frame);
        e->frame = NULL;
    }
}

/* Whether audio frame f may wait for the next video frame before batched
 * subscribers are woken: the stream has video coming (a frame in the last second)
 * and no audio has waited SL_AUDIO_HOLD_MS yet. */
static bool audio_waits(sl_stream_t *s, const sl_frame_t *f, uint64_t now_ms)
{
    if (f->media != SL_MEDIA_AUDIO || !s->has_video || now_ms - s->last_video_ms > 1000 ||
        (s->audio_waiting && now_ms - s->audio_waiting_ms >= SL_AUDIO_HOLD_MS)) {
        s->audio_waiting = false;
        return false;
    }
    if (!s->audio_waiting) s->audio_waiting_ms = now_ms;
    s->audio_waiting = true;
    return true;
}

static void notify(sl_subscriber_t *sub)
{
    if (sub->notified) return;
    sub->notified = true;
    sub->ops->on_ready(sub);
}

int sl_stream_push(sl_stream_t *s, sl_frame_t *f, uint64_t now_ms)
{
    assert(s->published);
    if (f->media == SL_MEDIA_DATA) return remember_metadata(s, f);
    if (s->tail - s->head > s->mask && grow_ring(s) != SL_OK) return SL_ERR_NOMEM;
    if (f->media == SL_MEDIA_VIDEO) {
        s->has_video = true;
        s->last_video_ms = now_ms;
    }
    if (f->media == SL_MEDIA_AUDIO) s->has_audio = true;

    /* Limits are checked before the new frame counts, so "caught up" means the
     * subscriber took everything before it. */
    uint64_t keep_from = UINT64_MAX;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &s->subscribers) {
        sl_subscriber_t *sub = sl_container_of(pos, sl_subscriber_t, link);
        if (check_subscriber(s, sub, now_ms)) keep_from = SL_MIN(keep_from, sub->cursor);
    }

    if (f->flags & SL_FRAME_CONFIG) remember_config(s, f);
    if (is_sync_point(s, f)) remember_sync_point(s, s->tail);
    log_entry_t *e = entry_at(s, s->tail++);
    e->frame = sl_frame_ref(f);
    e->bytes_before = s->bytes_total;
    s->bytes_total += f->len;
    /* The stream's stats are the publisher's: a transcoder's track adds none. */
    if (!(f->flags & SL_FRAME_DERIVED)) {
        s->frames_in++;
        s->last_dts = f->dts;
        count_rate(s, f, now_ms);
    }

    trim_log(s, SL_MIN(keep_from, gop_cache_start(s)));
    bool audio_wait = audio_waits(s, f, now_ms);
    sl_list_foreach_safe(pos, tmp, &s->subscribers) {
        sl_subscriber_t *sub = sl_container_of(pos, sl_subscriber_t, link);
        if (!(audio_wait && sub->batched)) notify(sub);
    }
    return SL_OK;
}

void sl_stream_unpublish(sl_stream_t *s)
{
    assert(s->published);
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &s->hub->observers) {
        sl_hub_observer_t *o = sl_container_of(pos, sl_hub_observer_t, link);
        if (o->on_unpublish != NULL) o->on_unpublish(o, s);
    }
    s->published = false;
    s->keyframe_request = NULL;
    sl_list_remove(&s->link);
    sl_list_foreach_safe(pos, tmp, &s->subscribers) {
        sl_subscriber_t *sub = sl_container_of(pos, sl_subscriber_t, link);
        /* Wake even a drained subscriber so that it sees the end. */
        sub->notified = false;
        notify(sub);
    }
    stream_free_if_unused(s);
}

int sl_hub_subscribe(sl_hub_t *hub, const char *key, sl_subscriber_t *sub,
                     const sl_subscriber_ops_t *ops, uint64_t now_ms)
{
    sl_stream_t *s = find_stream(hub, key);
    if (s == NULL) return SL_ERR_NOT_FOUND;
    memset(sub, 0, sizeof(*sub));
    sub->stream = s;
    sub->ops = ops;
    sub->cursor = gop_cache_start(s);
    sub->prelude = PRELUDE_STEPS;
    sub->wait_key = true;
    sub->behind_since_ms = now_ms;
    sub->last_skip_ms = now_ms;
    sl_list_insert_tail(&s->subscribers, &sub->link);
    s->subscriber_count++;
    sl_stream_request_keyframe(s);
    notify(sub);
    return SL_OK;
}

/* Metadata, then video config, then the audio configs: what a player needs before
 * media. */
static sl_frame_t *next_prelude(sl_subscriber_t *sub)
{
    sl_stream_t *s = sub->stream;
    while (sub->prelude > 0) {
        int step = PRELUDE_STEPS - sub->prelude--;
        sl_frame_t *f = step == 0   ? s->metadata
                        : step == 1 ? s->video_config
                        : step == 2 ? s->audio_config
                                    : s->derived_audio_config;
        if (f != NULL) return f;
    }
    return NULL;
}

sl_frame_t *sl_subscriber_next(sl_subscriber_t *sub)
{
    sl_stream_t *s = sub->stream;
    if (s == NULL) return NULL;
    if (sub->prelude > 0) {
        sl_frame_t *f = next_prelude(sub);
        /* The prelude gave the configs current now; those logged from here on are new. */
        if (sub->prelude == 0) sub->prelude_end = s->tail;
        if (f != NULL) return f;
    }
    while (sub->cursor < s->tail) {
        uint64_t seq = sub->cursor++;
        sl_frame_t *f = entry_at(s, seq)->frame;
        bool starting = sub->wait_key && s->has_video;
        bool config = (f->flags & SL_FRAME_CONFIG) != 0;
        /* Until the first keyframe, only configs the prelude did not give pass: a
         * subscriber that joined before the publisher's configs needs them. */
        if (starting && (config ? seq < sub->prelude_end : f->media != SL_MEDIA_VIDEO || !(f->flags & SL_FRAME_KEY))) {
            if (!config) sub->frames_skipped++;
            continue;
        }
        if (!config) sub->wait_key = false;
        sub->frames_taken++;
        return f;
    }
    sub->notified = false;
    return NULL;
}

bool sl_subscriber_eof(const sl_subscriber_t *sub)
{
    const sl_stream_t *s = sub->stream;
    return s == NULL || (!s->published && sub->cursor >= s->tail && sub->prelude == 0);
}

void sl_subscriber_detach(sl_subscriber_t *sub)
{
    sl_stream_t *s = sub->stream;
    if (s == NULL) return;
    sl_list_remove(&sub->link);
    sub->stream = NULL;
    s->subscriber_count--;
    if (sub->passive) s->passive_count--;
    stream_free_if_unused(s);
}

void sl_subscriber_set_passive(sl_subscriber_t *sub)
{
    if (sub->stream == NULL || sub->passive) return;
    sub->passive = true;
    sub->stream->passive_count++;
}

void sl_subscriber_set_batched(sl_subscriber_t *sub) { sub->batched = true; }

size_t sl_stream_viewers(const sl_stream_t *s) { return s->subscriber_count - s->passive_count; }

void sl_stream_on_keyframe_request(sl_stream_t *s, void (*fn)(void *arg), void *arg)
{
    s->keyframe_request = fn;
    s->keyframe_request_arg = arg;
}

void sl_stream_request_keyframe(sl_stream_t *s)
{
    if (s->keyframe_request != NULL) s->keyframe_request(s->keyframe_request_arg);
}

bool sl_stream_note_once(sl_stream_t *s, sl_stream_note_t note)
{
    bool first = (s->notes & note) == 0;
    s->notes |= note;
    return first;
}

void *sl_stream_get_output(const sl_stream_t *s, sl_output_kind_t kind) { return s->outputs[kind]; }
void sl_stream_set_output(sl_stream_t *s, sl_output_kind_t kind, void *output) { s->outputs[kind] = output; }

const char *sl_stream_key(const sl_stream_t *s) { return s->key; }
bool sl_stream_has_video(const sl_stream_t *s) { return s->has_video; }
bool sl_stream_has_audio(const sl_stream_t *s) { return s->has_audio; }
const sl_frame_t *sl_stream_video_config(const sl_stream_t *s) { return s->video_config; }
const sl_frame_t *sl_stream_audio_config(const sl_stream_t *s) { return s->audio_config; }

const sl_frame_t *sl_stream_audio_config_of(const sl_stream_t *s, sl_codec_t codec)
{
    if (s->audio_config != NULL && s->audio_config->codec == codec) return s->audio_config;
    if (s->derived_audio_config != NULL && s->derived_audio_config->codec == codec) return s->derived_audio_config;
    return NULL;
}

uint64_t sl_hub_frames_skipped(const sl_hub_t *hub) { return hub->frames_skipped; }

void sl_hub_foreach(sl_hub_t *hub, void (*fn)(sl_stream_t *s, void *arg), void *arg)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &hub->streams) fn(sl_container_of(pos, sl_stream_t, link), arg);
}

void sl_stream_get_stats(const sl_stream_t *s, uint64_t now_ms, sl_stream_stats_t *out)
{
    /* The last SL_STREAM_RATE_WINDOW whole seconds, not the one under way. */
    uint64_t now_s = now_ms / 1000, bytes = 0, frames = 0;
    for (size_t i = 0; i < SL_ARRAY_SIZE(s->rate); i++) {
        const struct rate_slot *r = &s->rate[i];
        if (r->second < now_s && r->second + SL_STREAM_RATE_WINDOW >= now_s) {
            bytes += r->bytes;
            frames += r->video_frames;
        }
    }
    uint64_t seconds = SL_MIN(SL_STREAM_RATE_WINDOW, now_s > s->published_ms / 1000 ? now_s - s->published_ms / 1000 : 1);
    out->bitrate = bytes * 8 / seconds;
    out->fps = (double)frames / (double)seconds;
    out->gop_frames = s->gop_frames;
    out->gop_ms = s->gop_duration / 90;
    out->age_ms = s->frames_in > 0 ? now_ms - s->published_ms : 0;
    out->frames_in = s->frames_in;
    out->bytes_in = s->bytes_total;
    out->subscribers = s->subscriber_count;
    out->last_dts = s->last_dts;
}
