#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/hls/playlist.h"

enum { SEC = SL_CLOCK_HZ };

/* 2026-11-21T10:00:00.000Z */
#define PDT_BASE INT64_C(1795255200000)

/* ---- helpers ---- */

static void push(sl_hls_window_t *w, int64_t duration_ts, int64_t pdt_ms, bool disc)
{
    sl_hls_segment_t seg = {.duration_ts = duration_ts, .pdt_ms = pdt_ms, .discontinuity = disc};
    sl_hls_window_push(w, &seg);
}

static void assert_text(const sl_bytes_t *out, const char *want)
{
    size_t len = strlen(want);
    if (out->len != len || memcmp(out->data, want, len) != 0)
        fail_msg("got:\n%.*s\nwant:\n%s", (int)out->len, (const char *)out->data, want);
}

static void assert_live(const sl_hls_window_t *w, int target_s, const char *want)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_hls_playlist_live(w, target_s, "", &out), SL_OK);
    assert_text(&out, want);
    sl_bytes_free(&out);
}

static void add(sl_hls_list_t *l, uint64_t seq, int64_t duration_ts, int64_t pdt_ms, bool disc)
{
    sl_hls_entry_t e = {.seq = seq, .duration_ts = duration_ts, .pdt_ms = pdt_ms,
                        .discontinuity = disc};
    assert_int_equal(sl_hls_list_add(l, &e), SL_OK);
}

/* ---- target duration ---- */

static void test_target_duration(void **state)
{
    (void)state;
    assert_int_equal(sl_hls_target_duration(2, 0), 2);
    assert_int_equal(sl_hls_target_duration(2, 2 * SEC), 2);
    /* 2.4 s and 6.04 s round to 2 and 6 (RFC 8216 4.3.3.1); 2.5 s and 6.5 s up. */
    assert_int_equal(sl_hls_target_duration(2, 216000), 2);
    assert_int_equal(sl_hls_target_duration(2, 543600), 6);
    assert_int_equal(sl_hls_target_duration(2, 225000), 3);
    assert_int_equal(sl_hls_target_duration(2, 585000), 7);
    assert_int_equal(sl_hls_target_duration(10, 543600), 10);
    assert_int_equal(sl_hls_target_duration(6, 6 * SEC), 6);
    /* Computed on the printed millisecond value: 2499.49 ms prints 2.499, 2499.5 ms
     * prints 2.500. */
    assert_int_equal(sl_hls_target_duration(2, 224954), 2);
    assert_int_equal(sl_hls_target_duration(2, 224955), 3);
    assert_int_equal(sl_hls_target_duration(2, -SEC), 2);
    assert_int_equal(sl_hls_target_duration(0, INT64_MAX), INT32_MAX);
}

/* ---- live ---- */

static void test_live_three_segments(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 3, 0), SL_OK);
    push(&w, 2 * SEC, PDT_BASE, false);
    push(&w, 2 * SEC, PDT_BASE + 2000, false);
    push(&w, 176400, PDT_BASE + 4000, false);
    assert_live(&w, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:2\n"
                "#EXT-X-MEDIA-SEQUENCE:0\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:00.000Z\n"
                "#EXTINF:2.000,\n"
                "0.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:02.000Z\n"
                "#EXTINF:2.000,\n"
                "1.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:04.000Z\n"
                "#EXTINF:1.960,\n"
                "2.ts\n");
    sl_hls_window_free(&w);
}

static void test_live_media_sequence_after_sliding(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 2, 1), SL_OK);
    for (int i = 0; i < 5; i++) push(&w, 2 * SEC + i, -1, false);
    /* 2 s + 4 ticks is 2000.04 ms: printed 2.000, target still 2. */
    assert_live(&w, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:2\n"
                "#EXT-X-MEDIA-SEQUENCE:3\n"
                "#EXTINF:2.000,\n"
                "3.ts\n"
                "#EXTINF:2.000,\n"
                "4.ts\n");
    sl_hls_window_free(&w);
}

static void test_live_discontinuity_and_its_sequence(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 2, 0), SL_OK);
    push(&w, 2 * SEC, PDT_BASE, false);
    push(&w, 3 * SEC, PDT_BASE + 2000, false);
    /* The publisher restarted: new timeline, new wall clock. */
    push(&w, 2 * SEC, PDT_BASE + 60123, true);
    assert_live(&w, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:3\n"
                "#EXT-X-MEDIA-SEQUENCE:1\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:02.000Z\n"
                "#EXTINF:3.000,\n"
                "1.ts\n"
                "#EXT-X-DISCONTINUITY\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:01:00.123Z\n"
                "#EXTINF:2.000,\n"
                "2.ts\n");
    /* Still listed first: its tag stays, the sequence is not incremented yet. */
    push(&w, 2 * SEC, PDT_BASE + 62123, false);
    assert_live(&w, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:3\n"
                "#EXT-X-MEDIA-SEQUENCE:2\n"
                "#EXT-X-DISCONTINUITY\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:01:00.123Z\n"
                "#EXTINF:2.000,\n"
                "2.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:01:02.123Z\n"
                "#EXTINF:2.000,\n"
                "3.ts\n");
    /* The tag slid out with its segment: the sequence counts it. The 3 s segment
     * slid out too, but the target never decreases. */
    push(&w, 2 * SEC, PDT_BASE + 64123, false);
    assert_live(&w, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:3\n"
                "#EXT-X-MEDIA-SEQUENCE:3\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:01:02.123Z\n"
                "#EXTINF:2.000,\n"
                "3.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:01:04.123Z\n"
                "#EXTINF:2.000,\n"
                "4.ts\n");
    sl_hls_window_free(&w);
}

static void test_live_durations_and_dates_exact(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 4, 0), SL_OK);
    w.next_seq = UINT64_MAX - 3;
    push(&w, 180045, 951868799999, false); /* 2000.5 ms rounds up; leap day */
    push(&w, 45, 0, false);                /* 0.5 ms; the epoch */
    push(&w, 44, 253402300799999, false);  /* the last millisecond of year 9999 */
    push(&w, 100 * SEC + 89, 253402300800000, false); /* year 10000: no tag */
    assert_live(&w, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:100\n"
                "#EXT-X-MEDIA-SEQUENCE:18446744073709551612\n"
                "#EXT-X-PROGRAM-DATE-TIME:2000-02-29T23:59:59.999Z\n"
                "#EXTINF:2.001,\n"
                "18446744073709551612.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z\n"
                "#EXTINF:0.001,\n"
                "18446744073709551613.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:9999-12-31T23:59:59.999Z\n"
                "#EXTINF:0.000,\n"
                "18446744073709551614.ts\n"
                "#EXTINF:100.001,\n"
                "18446744073709551615.ts\n");
    sl_hls_window_free(&w);
}

static void test_live_empty_and_append(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 3, 0), SL_OK);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_bytes_append(&out, "X", 1), SL_OK);
    assert_int_equal(sl_hls_playlist_live(&w, 2, "", &out), SL_ERR_AGAIN);
    assert_text(&out, "X");
    push(&w, SEC, -1, false);
    assert_int_equal(sl_hls_playlist_live(&w, 4, "", &out), SL_OK);
    sl_bytes_t with_query;
    sl_bytes_init(&with_query);
    assert_int_equal(sl_hls_playlist_live(&w, 4, "token=ab&expires=9", &with_query), SL_OK);
    assert_int_equal(sl_bytes_append(&with_query, "", 1), SL_OK);
    assert_non_null(strstr((const char *)with_query.data, ".ts?token=ab&expires=9\n"));
    sl_bytes_free(&with_query);
    assert_text(&out, "X#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
                      "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.000,\n0.ts\n");
    sl_bytes_free(&out);
    sl_hls_window_free(&w);
}

/* ---- recordings ---- */

static void test_segment_names(void **state)
{
    (void)state;
    char name[32];
    assert_int_equal(sl_hls_record_segment_name(7, name, sizeof(name)), SL_OK);
    assert_string_equal(name, "000007.ts");
    assert_int_equal(sl_hls_record_segment_name(1234567, name, sizeof(name)), SL_OK);
    assert_string_equal(name, "1234567.ts");
    assert_int_equal(sl_hls_record_segment_name(UINT64_MAX, name, sizeof(name)), SL_OK);
    assert_string_equal(name, "18446744073709551615.ts");
    assert_int_equal(sl_hls_record_segment_name(7, name, 9), SL_ERR_TOO_BIG);
    assert_int_equal(sl_hls_record_segment_name(7, name, 10), SL_OK);
}

static void test_vod_event_then_finished(void **state)
{
    (void)state;
    sl_hls_list_t l;
    sl_hls_list_init(&l);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_hls_playlist_vod(&l, 2, false, &out), SL_ERR_AGAIN);
    assert_int_equal(out.len, 0);

    add(&l, 0, 2 * SEC, PDT_BASE, false);
    add(&l, 1, 216000, PDT_BASE + 2000, false);
    assert_int_equal(sl_hls_playlist_vod(&l, 2, false, &out), SL_OK);
    assert_text(&out, "#EXTM3U\n"
                      "#EXT-X-VERSION:3\n"
                      "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                      "#EXT-X-TARGETDURATION:2\n"
                      "#EXT-X-MEDIA-SEQUENCE:0\n"
                      "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:00.000Z\n"
                      "#EXTINF:2.000,\n"
                      "000000.ts\n"
                      "#EXTINF:2.400,\n"
                      "000001.ts\n");
    sl_bytes_free(&out);

    add(&l, 2, 543600, PDT_BASE + 90000, true);
    add(&l, 3, -1, PDT_BASE + 96040, false);
    assert_int_equal(l.len, 4);
    assert_int_equal(l.v[3].duration_ts, 0);
    assert_int_equal(sl_hls_playlist_vod(&l, 2, true, &out), SL_OK);
    assert_text(&out, "#EXTM3U\n"
                      "#EXT-X-VERSION:3\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-TARGETDURATION:6\n"
                      "#EXT-X-MEDIA-SEQUENCE:0\n"
                      "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:00.000Z\n"
                      "#EXTINF:2.000,\n"
                      "000000.ts\n"
                      "#EXTINF:2.400,\n"
                      "000001.ts\n"
                      "#EXT-X-DISCONTINUITY\n"
                      "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:01:30.000Z\n"
                      "#EXTINF:6.040,\n"
                      "000002.ts\n"
                      "#EXTINF:0.000,\n"
                      "000003.ts\n"
                      "#EXT-X-ENDLIST\n");
    sl_bytes_free(&out);
    sl_hls_list_free(&l);
    assert_int_equal(l.len, 0);
    assert_null(l.v);
}

static void test_vod_starts_at_first_entry_seq(void **state)
{
    (void)state;
    sl_hls_list_t l;
    sl_hls_list_init(&l);
    add(&l, 42, 2 * SEC, -1, false);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_hls_playlist_vod(&l, 4, true, &out), SL_OK);
    assert_text(&out, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:42\n"
                      "#EXTINF:2.000,\n000042.ts\n#EXT-X-ENDLIST\n");
    sl_bytes_free(&out);
    sl_hls_list_free(&l);
}

static void test_list_limit(void **state)
{
    (void)state;
    sl_hls_list_t l;
    sl_hls_list_init(&l);
    for (uint64_t i = 0; i < SL_HLS_LIST_MAX; i++) add(&l, i, SEC, -1, false);
    sl_hls_entry_t e = {.seq = SL_HLS_LIST_MAX, .duration_ts = 50 * SEC};
    assert_int_equal(sl_hls_list_add(&l, &e), SL_ERR_TOO_BIG);
    assert_int_equal(l.len, SL_HLS_LIST_MAX);
    assert_int_equal(l.max_duration_ts, SEC);
    sl_hls_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_duration),
        cmocka_unit_test(test_live_three_segments),
        cmocka_unit_test(test_live_media_sequence_after_sliding),
        cmocka_unit_test(test_live_discontinuity_and_its_sequence),
        cmocka_unit_test(test_live_durations_and_dates_exact),
        cmocka_unit_test(test_live_empty_and_append),
        cmocka_unit_test(test_segment_names),
        cmocka_unit_test(test_vod_event_then_finished),
        cmocka_unit_test(test_vod_starts_at_first_entry_seq),
        cmocka_unit_test(test_list_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
