#include "protocols/hls/playlist.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { TICKS_PER_MS = SL_CLOCK_HZ / 1000 };

/* Ticks to whole milliseconds, rounded to the nearest; negative as 0. */
static int64_t ticks_to_ms(int64_t ticks)
{
    if (ticks <= 0) return 0;
    return ticks / TICKS_PER_MS + (ticks % TICKS_PER_MS >= TICKS_PER_MS / 2);
}

int sl_hls_target_duration(int target_s, int64_t max_duration_ts)
{
    int64_t ms = ticks_to_ms(max_duration_ts);
    /* RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer must not exceed
     * the target. Rounding up instead would let a segment a few milliseconds long
     * (audio after the last keyframe) raise the target, which a live playlist must
     * never change (6.2.1). */
    int64_t s = ms / 1000 + (ms % 1000 >= 500);
    if (s > INT_MAX) s = INT_MAX;
    return SL_MAX(target_s, (int)s);
}

/* Appends one formatted line. Every line written here is numbers and fixed tags, so
 * a small buffer always fits it. */
__attribute__((format(printf, 2, 3)))
static int put_fmt(sl_bytes_t *out, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) return SL_ERR_TOO_BIG;
    return sl_bytes_append(out, line, (size_t)n);
}

static int put_header(sl_bytes_t *out, const char *type, int target_s, uint64_t media_seq)
{
    int rc = put_fmt(out, "#EXTM3U\n#EXT-X-VERSION:3\n");
    if (rc == SL_OK && type != NULL) rc = put_fmt(out, "#EXT-X-PLAYLIST-TYPE:%s\n", type);
    if (rc == SL_OK) rc = put_fmt(out, "#EXT-X-TARGETDURATION:%d\n", target_s);
    if (rc == SL_OK) rc = put_fmt(out, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", media_seq);
    return rc;
}

/* #EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:00.000Z. Nothing for an unknown time or
 * one that does not fit four year digits. */
static int put_pdt(sl_bytes_t *out, int64_t unix_ms)
{
    const int64_t year_10000_ms = INT64_C(253402300800000);
    if (unix_ms < 0 || unix_ms >= year_10000_ms) return SL_OK;
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) return SL_OK;
    return put_fmt(out, "#EXT-X-PROGRAM-DATE-TIME:%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\n",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (int)(unix_ms % 1000));
}

static int put_extinf(sl_bytes_t *out, int64_t duration_ts)
{
    int64_t ms = ticks_to_ms(duration_ts);
    return put_fmt(out, "#EXTINF:%" PRId64 ".%03" PRId64 ",\n", ms / 1000, ms % 1000);
}

static int put_live_segment(sl_bytes_t *out, const sl_hls_segment_t *s, const char *query)
{
    int rc = s->discontinuity ? put_fmt(out, "#EXT-X-DISCONTINUITY\n") : SL_OK;
    if (rc == SL_OK) rc = put_pdt(out, s->pdt_ms);
    if (rc == SL_OK) rc = put_extinf(out, s->duration_ts);
    if (rc == SL_OK) rc = put_fmt(out, "%" PRIu64 ".ts%s%s\n", s->seq, query[0] ? "?" : "", query);
    return rc;
}

int sl_hls_playlist_live(const sl_hls_window_t *w, int target_s, const char *query, sl_bytes_t *out)
{
    size_t n = sl_hls_window_listed_count(w);
    if (n == 0) return SL_ERR_AGAIN;
    size_t old_len = out->len;
    int target = sl_hls_target_duration(target_s, w->max_duration_ts);
    int rc = put_header(out, NULL, target, sl_hls_window_listed_at(w, 0)->seq);
    uint64_t disc_seq = sl_hls_window_disc_seq(w);
    if (rc == SL_OK && disc_seq > 0)
        rc = put_fmt(out, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", disc_seq);
    for (size_t i = 0; rc == SL_OK && i < n; i++)
        rc = put_live_segment(out, sl_hls_window_listed_at(w, i), query);
    if (rc != SL_OK) out->len = old_len;
    return rc;
}

void sl_hls_list_init(sl_hls_list_t *l) { *l = (sl_hls_list_t){0}; }

void sl_hls_list_free(sl_hls_list_t *l)
{
    free(l->v);
    sl_hls_list_init(l);
}

int sl_hls_list_add(sl_hls_list_t *l, const sl_hls_entry_t *e)
{
    if (l->len >= SL_HLS_LIST_MAX) return SL_ERR_TOO_BIG;
    if (l->len == l->cap) {
        size_t cap = l->cap ? SL_MIN(l->cap * 2, (size_t)SL_HLS_LIST_MAX) : 64;
        sl_hls_entry_t *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL) return SL_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    sl_hls_entry_t *dst = &l->v[l->len++];
    *dst = *e;
    if (dst->duration_ts < 0) dst->duration_ts = 0;
    l->max_duration_ts = SL_MAX(l->max_duration_ts, dst->duration_ts);
    return SL_OK;
}

int sl_hls_record_segment_name(uint64_t seq, char *out, size_t size)
{
    int n = snprintf(out, size, "%06" PRIu64 ".ts", seq);
    return n < 0 || (size_t)n >= size ? SL_ERR_TOO_BIG : SL_OK;
}

static int put_vod_entry(sl_bytes_t *out, const sl_hls_entry_t *e, bool first)
{
    char name[32];
    int rc = sl_hls_record_segment_name(e->seq, name, sizeof(name));
    if (rc == SL_OK && e->discontinuity) rc = put_fmt(out, "#EXT-X-DISCONTINUITY\n");
    if (rc == SL_OK && (first || e->discontinuity)) rc = put_pdt(out, e->pdt_ms);
    if (rc == SL_OK) rc = put_extinf(out, e->duration_ts);
    if (rc == SL_OK) rc = put_fmt(out, "%s\n", name);
    return rc;
}

int sl_hls_playlist_vod(const sl_hls_list_t *l, int target_s, bool finished, sl_bytes_t *out)
{
    if (l->len == 0) return SL_ERR_AGAIN;
    size_t old_len = out->len;
    int target = sl_hls_target_duration(target_s, l->max_duration_ts);
    int rc = put_header(out, finished ? "VOD" : "EVENT", target, l->v[0].seq);
    for (size_t i = 0; rc == SL_OK && i < l->len; i++) rc = put_vod_entry(out, &l->v[i], i == 0);
    if (rc == SL_OK && finished) rc = put_fmt(out, "#EXT-X-ENDLIST\n");
    if (rc != SL_OK) out->len = old_len;
    return rc;
}
