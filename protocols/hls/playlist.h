/* HLS media playlists (RFC 8216), written as text into a byte vector. I/O-free.
 *
 * Durations are printed from 90 kHz ticks rounded to the nearest millisecond with
 * integer arithmetic ("2.000", "6.040"), so no float rounding ever shows.
 *
 * EXT-X-TARGETDURATION is max(configured seconds, the longest printed duration
 * rounded to the nearest integer), as RFC 8216 4.3.3.1 asks. Rounding up would let a
 * segment that overruns by a few milliseconds raise the target, and a live playlist
 * must never change it (6.2.1).
 */
#ifndef SLUICE_PROTOCOLS_HLS_PLAYLIST_H
#define SLUICE_PROTOCOLS_HLS_PLAYLIST_H

#include "protocols/hls/segmenter.h"

/* A recording keeps this many segments at most (24 days of 2 s segments): a longer
 * recording must start a new directory. */
#define SL_HLS_LIST_MAX (1u << 20)

/* The EXT-X-TARGETDURATION value for segments of at most max_duration_ts. */
int sl_hls_target_duration(int target_s, int64_t max_duration_ts);

/* Appends the live playlist of the window's listed segments to `out`:
 * #EXTM3U, #EXT-X-VERSION:3, #EXT-X-TARGETDURATION, #EXT-X-MEDIA-SEQUENCE (seq of the
 * first listed segment), #EXT-X-DISCONTINUITY-SEQUENCE when not 0, then per segment
 * #EXT-X-DISCONTINUITY when flagged, #EXT-X-PROGRAM-DATE-TIME when its pdt_ms is
 * known, #EXTINF and the relative URI "<seq>.ts", followed by "?<query>" when query is
 * not empty (the playlist request's query, so segments carry the same token).
 * The target is computed from the longest segment the window ever held, so it never
 * decreases (RFC 8216 6.2.1 forbids changing it). The window is only read.
 * SL_ERR_AGAIN when no segment is listed yet, SL_ERR_NOMEM; on error out keeps its
 * old content. */
int sl_hls_playlist_live(const sl_hls_window_t *w, int target_s, const char *query, sl_bytes_t *out) SL_MUST_CHECK;

/* One segment of a recording: what its playlist needs, no bytes. */
typedef struct sl_hls_entry {
    uint64_t seq;
    int64_t duration_ts;
    int64_t pdt_ms;     /* < 0: unknown */
    bool discontinuity;
} sl_hls_entry_t;

/* The whole list of a recording's segments (a recording playlist lists every segment
 * since the start, not a window). */
typedef struct sl_hls_list {
    sl_hls_entry_t *v;
    size_t len, cap;
    int64_t max_duration_ts;
} sl_hls_list_t;

void sl_hls_list_init(sl_hls_list_t *l);
/* Frees the entries and leaves the list empty and reusable. */
void sl_hls_list_free(sl_hls_list_t *l);
/* Appends a copy of *e (a negative duration is stored as 0). SL_ERR_TOO_BIG past
 * SL_HLS_LIST_MAX entries, SL_ERR_NOMEM; the list is unchanged on error. */
int sl_hls_list_add(sl_hls_list_t *l, const sl_hls_entry_t *e) SL_MUST_CHECK;

/* The file name of recording segment `seq`: "%06llu.ts" (zero-padded so the files of
 * a directory sort in order). Writes into out[size]; SL_ERR_TOO_BIG if it does not
 * fit. */
int sl_hls_record_segment_name(uint64_t seq, char *out, size_t size) SL_MUST_CHECK;

/* Appends the playlist of a recording to `out`: #EXT-X-PLAYLIST-TYPE:EVENT while
 * recording, VOD with #EXT-X-ENDLIST once finished; every entry with its
 * sl_hls_record_segment_name URI; #EXT-X-PROGRAM-DATE-TIME on the first entry and
 * after each discontinuity (a recording can be long: once per timeline is enough to
 * place every segment). The list is only read. SL_ERR_AGAIN when it is empty,
 * SL_ERR_NOMEM; on error out keeps its old content. */
int sl_hls_playlist_vod(const sl_hls_list_t *l, int target_s, bool finished,
                        sl_bytes_t *out) SL_MUST_CHECK;

#endif
