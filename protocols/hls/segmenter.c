#include "protocols/hls/segmenter.h"

#include <stdlib.h>

/* Timestamps come from publishers: differences saturate instead of overflowing. */
static int64_t ts_sub(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d)) return a > b ? INT64_MAX : INT64_MIN;
    return d;
}

static int64_t ts_add(int64_t a, int64_t b)
{
    int64_t s;
    if (__builtin_add_overflow(a, b, &s)) return b > 0 ? INT64_MAX : INT64_MIN;
    return s;
}

void sl_hls_cutter_init(sl_hls_cutter_t *c, int64_t target_ts, bool has_video)
{
    const int64_t hour = (int64_t)3600 * SL_CLOCK_HZ;
    target_ts = target_ts < 1 ? 1 : SL_MIN(target_ts, hour);
    *c = (sl_hls_cutter_t){
        .target_ts = target_ts,
        .max_ts = SL_MAX(SL_HLS_SEGMENT_MAX_TS, 3 * target_ts),
        .gap_ts = SL_MIN(SL_MAX(2 * target_ts, SL_HLS_GAP_MIN_TS), SL_HLS_GAP_MAX_TS),
        .has_video = has_video,
    };
}

static bool is_jump(const sl_hls_cutter_t *c, const sl_hls_track_clock_t *t, int64_t dts)
{
    if (t->has_last && dts < t->last_dts) return true;
    return ts_sub(dts, c->latest_ts) > c->gap_ts;
}

static bool is_time_to_cut(const sl_hls_cutter_t *c, const sl_hls_track_clock_t *t,
                           const sl_frame_t *f)
{
    int64_t lasted = ts_sub(f->dts, c->seg_start_ts);
    if (lasted >= c->max_ts) return true;
    if (c->has_video)
        return f->media == SL_MEDIA_VIDEO && (f->flags & SL_FRAME_KEY) && lasted >= c->target_ts;
    return lasted >= c->target_ts || ts_add(lasted, t->last_delta) > c->target_ts;
}

/* After a jump the old timeline says nothing about the new one: forget each track's
 * last dts, but keep its frame step as the best guess of the next frame's length. */
static void forget_timeline(sl_hls_cutter_t *c)
{
    for (size_t i = 0; i < SL_ARRAY_SIZE(c->track); i++) c->track[i].has_last = false;
}

static void track_frame(sl_hls_track_clock_t *t, int64_t dts)
{
    if (t->has_last && dts > t->last_dts) t->last_delta = ts_sub(dts, t->last_dts);
    t->last_dts = dts;
    t->has_last = true;
}

bool sl_hls_cutter_should_cut(sl_hls_cutter_t *c, const sl_frame_t *f, bool *discontinuity)
{
    *discontinuity = false;
    if ((f->flags & SL_FRAME_CONFIG) || (f->media != SL_MEDIA_VIDEO && f->media != SL_MEDIA_AUDIO))
        return false;
    sl_hls_track_clock_t *t = &c->track[f->media];
    if (f->media == SL_MEDIA_VIDEO) c->has_video = true;

    bool cut = !c->started;
    if (cut) {
        c->latest_ts = f->dts;
    } else if (is_jump(c, t, f->dts)) {
        c->closed_duration_ts = sl_hls_cutter_duration(c);
        forget_timeline(c);
        c->latest_ts = f->dts;
        *discontinuity = cut = true;
    } else if (is_time_to_cut(c, t, f)) {
        c->closed_duration_ts = ts_sub(f->dts, c->seg_start_ts);
        cut = true;
    }
    if (cut) {
        c->started = true;
        c->seg_start_ts = c->seg_end_ts = f->dts;
    }
    track_frame(t, f->dts);
    c->latest_ts = SL_MAX(c->latest_ts, f->dts);
    c->seg_end_ts = SL_MAX(c->seg_end_ts, ts_add(f->dts, t->last_delta));
    return cut;
}

int64_t sl_hls_cutter_duration(const sl_hls_cutter_t *c)
{
    return c->started ? ts_sub(c->seg_end_ts, c->seg_start_ts) : 0;
}

int sl_hls_window_init(sl_hls_window_t *w, size_t listed, size_t extra)
{
    *w = (sl_hls_window_t){0};
    if (listed == 0 || listed > SL_HLS_WINDOW_MAX || extra > SL_HLS_WINDOW_MAX - listed)
        return SL_ERR_CONFIG;
    w->ring = calloc(listed + extra, sizeof(*w->ring));
    if (w->ring == NULL) return SL_ERR_NOMEM;
    w->cap = listed + extra;
    w->listed = listed;
    return SL_OK;
}

static sl_hls_segment_t *held_at(const sl_hls_window_t *w, size_t i)
{
    return &w->ring[(w->head + i) % w->cap];
}

void sl_hls_window_free(sl_hls_window_t *w)
{
    for (size_t i = 0; i < w->count; i++) sl_buf_unref(held_at(w, i)->data);
    free(w->ring);
    *w = (sl_hls_window_t){0};
}

uint64_t sl_hls_window_push(sl_hls_window_t *w, sl_hls_segment_t *seg)
{
    if (w->count == w->cap) {
        sl_hls_segment_t *oldest = held_at(w, 0);
        if (oldest->discontinuity) w->disc_released++;
        sl_buf_unref(oldest->data);
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    seg->seq = w->next_seq++;
    if (seg->duration_ts < 0) seg->duration_ts = 0;
    w->max_duration_ts = SL_MAX(w->max_duration_ts, seg->duration_ts);
    *held_at(w, w->count++) = *seg;
    seg->data = NULL;
    return seg->seq;
}

size_t sl_hls_window_listed_count(const sl_hls_window_t *w) { return SL_MIN(w->count, w->listed); }

const sl_hls_segment_t *sl_hls_window_listed_at(const sl_hls_window_t *w, size_t i)
{
    return held_at(w, w->count - sl_hls_window_listed_count(w) + i);
}

const sl_hls_segment_t *sl_hls_window_find(const sl_hls_window_t *w, uint64_t seq)
{
    if (w->count == 0) return NULL;
    /* Unsigned offset from the oldest: also right when the numbering wrapped. */
    uint64_t off = seq - held_at(w, 0)->seq;
    return off < w->count ? held_at(w, (size_t)off) : NULL;
}

uint64_t sl_hls_window_disc_seq(const sl_hls_window_t *w)
{
    uint64_t n = w->disc_released;
    size_t unlisted = w->count - sl_hls_window_listed_count(w);
    for (size_t i = 0; i < unlisted; i++) n += held_at(w, i)->discontinuity;
    return n;
}
