#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/hls/segmenter.h"

enum {
    SEC = SL_CLOCK_HZ,
    VIDEO_STEP = SL_CLOCK_HZ / 25, /* 25 fps: 3600 ticks */
    AAC_STEP = 1920,               /* 1024 samples at 48 kHz, in 90 kHz ticks */
    TARGET = 2 * SEC,
};

/* ---- helpers ---- */

static bool feed(sl_hls_cutter_t *c, sl_media_t media, uint8_t flags, int64_t dts, int64_t pts,
                 bool *disc)
{
    static const uint8_t payload[4] = {0, 0, 0, 0};
    sl_frame_t *f = sl_frame_copy_of(media, media == SL_MEDIA_VIDEO ? SL_CODEC_H264 : SL_CODEC_AAC,
                                     flags, dts, pts, payload, sizeof(payload));
    assert_non_null(f);
    bool cut = sl_hls_cutter_should_cut(c, f, disc);
    sl_frame_unref(f);
    return cut;
}

/* Feeds a frame that must not cut. */
static void feed_no_cut(sl_hls_cutter_t *c, sl_media_t media, uint8_t flags, int64_t dts)
{
    bool disc = true;
    assert_false(feed(c, media, flags, dts, dts, &disc));
    assert_false(disc);
}

/* Feeds `frames` video frames at 25 fps from base_dts, a keyframe every `gop` frames,
 * pts two frames ahead of dts as with B-frames, and an AAC frame before each video
 * frame whose dts it passed. Records the index of each frame that cut (discontinuity
 * never expected) and the closed durations. Returns the number of cuts. */
static size_t feed_av(sl_hls_cutter_t *c, int64_t base_dts, int frames, int gop, int *cut_at,
                      int64_t *closed)
{
    size_t cuts = 0;
    int64_t audio_dts = base_dts;
    for (int i = 0; i < frames; i++) {
        int64_t dts = base_dts + (int64_t)i * VIDEO_STEP;
        bool disc = true;
        for (; audio_dts < dts; audio_dts += AAC_STEP) {
            assert_false(feed(c, SL_MEDIA_AUDIO, 0, audio_dts, audio_dts, &disc));
            assert_false(disc);
        }
        uint8_t flags = i % gop == 0 ? SL_FRAME_KEY : 0;
        if (feed(c, SL_MEDIA_VIDEO, flags, dts, dts + 2 * VIDEO_STEP, &disc)) {
            cut_at[cuts] = i;
            closed[cuts] = c->closed_duration_ts;
            assert_int_equal(c->seg_start_ts, dts);
            cuts++;
        }
        assert_false(disc);
    }
    return cuts;
}

static sl_hls_segment_t segment(int64_t duration_ts, bool disc, sl_buf_t *data)
{
    return (sl_hls_segment_t){.start_ts = 0, .duration_ts = duration_ts, .pdt_ms = -1,
                              .discontinuity = disc, .data = data};
}

/* ---- cutter ---- */

static void test_first_frame_cuts(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    assert_int_equal(sl_hls_cutter_duration(&c), 0);
    bool disc = true;
    /* Even a non-key audio frame: the first frame opens the first segment. */
    assert_true(feed(&c, SL_MEDIA_AUDIO, 0, 12345, 12345, &disc));
    assert_false(disc);
    assert_int_equal(c.seg_start_ts, 12345);
    assert_int_equal(c.closed_duration_ts, 0);
    feed_no_cut(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 12345 + 100);
}

static void test_video_keyframe_every_second(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    int cut_at[16];
    int64_t closed[16];
    size_t n = feed_av(&c, 900000, 176, 25, cut_at, closed);
    /* Keyframes at 0, 1, 2, ... s; a cut only where the segment reached 2 s. */
    assert_int_equal(n, 4);
    assert_int_equal(cut_at[0], 0);
    assert_int_equal(cut_at[1], 50);
    assert_int_equal(cut_at[2], 100);
    assert_int_equal(cut_at[3], 150);
    assert_int_equal(closed[1], 2 * SEC);
    assert_int_equal(closed[2], 2 * SEC);
    assert_int_equal(closed[3], 2 * SEC);
    /* Open segment: frames 150..175 plus the last frame's length. */
    assert_int_equal(sl_hls_cutter_duration(&c), 26 * VIDEO_STEP);
}

static void test_video_keyframe_every_three_seconds(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    int cut_at[16];
    int64_t closed[16];
    size_t n = feed_av(&c, 0, 226, 75, cut_at, closed);
    /* Past the target at 2 s but no keyframe before 3 s: 3 s segments. */
    assert_int_equal(n, 4);
    assert_int_equal(cut_at[1], 75);
    assert_int_equal(cut_at[2], 150);
    assert_int_equal(cut_at[3], 225);
    assert_int_equal(closed[1], 3 * SEC);
    assert_int_equal(closed[3], 3 * SEC);
}

static void test_video_keyframe_before_target_does_not_cut(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 0, 0, &disc));
    feed_no_cut(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, TARGET - 1);
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, TARGET);
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, TARGET + 1, TARGET + 1, &disc));
    assert_false(disc);
    assert_int_equal(c.closed_duration_ts, TARGET + 1);
}

static void test_audio_only_cuts_by_time(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, false);
    int cuts[8];
    int64_t closed[8];
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        bool disc = true;
        if (feed(&c, SL_MEDIA_AUDIO, 0, (int64_t)i * AAC_STEP, (int64_t)i * AAC_STEP, &disc)) {
            cuts[n] = i;
            closed[n++] = c.closed_duration_ts;
        }
        assert_false(disc);
    }
    /* 93 frames make 178560 ticks; a 94th would end at 180480, past 2 s: cut before
     * it, so every segment stays within the target. */
    assert_int_equal(n, 3);
    assert_int_equal(cuts[0], 0);
    assert_int_equal(cuts[1], 93);
    assert_int_equal(cuts[2], 186);
    assert_int_equal(closed[1], 93 * AAC_STEP);
    assert_int_equal(closed[2], 93 * AAC_STEP);
    assert_int_equal(sl_hls_cutter_duration(&c), 14 * AAC_STEP);
}

static void test_audio_only_switches_to_keyframes_when_video_comes(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, false);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_AUDIO, 0, 0, 0, &disc));
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, 1000);
    assert_true(c.has_video);
    /* Audio past the target no longer cuts; the next keyframe does. */
    feed_no_cut(&c, SL_MEDIA_AUDIO, 0, TARGET + 10);
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, TARGET + 20);
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, TARGET + 30, TARGET + 30, &disc));
    assert_false(disc);
}

static void test_config_and_data_frames_ignored(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    bool disc = true;
    assert_false(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_CONFIG | SL_FRAME_KEY, 0, 0, &disc));
    assert_false(disc);
    assert_false(feed(&c, SL_MEDIA_DATA, 0, 0, 0, &disc));
    assert_false(c.started);
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 5000, 5000, &disc));
    /* A config frame far in the past or future is not a jump. */
    assert_false(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_CONFIG, 0, 0, &disc));
    assert_false(feed(&c, SL_MEDIA_AUDIO, SL_FRAME_CONFIG, 100 * SEC, 0, &disc));
    assert_false(disc);
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, 5000 + VIDEO_STEP);
}

static void test_jump_backwards_cuts_with_discontinuity(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    int cut_at[4];
    int64_t closed[4];
    /* 1.2 s of audio and video from 10 s, no cut after the first frame. */
    assert_int_equal(feed_av(&c, 10 * SEC, 30, 25, cut_at, closed), 1);
    int64_t start = c.seg_start_ts;

    /* The publisher's clock restarts at 0: the audio frame notices first. */
    bool disc = false;
    assert_true(feed(&c, SL_MEDIA_AUDIO, 0, 0, 0, &disc));
    assert_true(disc);
    assert_int_equal(c.seg_start_ts, 0);
    /* Old timeline: video frames 0..29 each lasting one step. */
    assert_int_equal(c.closed_duration_ts, 30 * VIDEO_STEP);
    assert_int_equal(start, 10 * SEC);

    /* The video track follows on the new timeline (not a key frame): no second cut. */
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, 100);
    feed_no_cut(&c, SL_MEDIA_AUDIO, 0, AAC_STEP);
    feed_no_cut(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 100 + VIDEO_STEP);
    /* The frame steps survived the jump: the estimate still counts one frame. */
    assert_int_equal(sl_hls_cutter_duration(&c), 100 + 2 * VIDEO_STEP);
}

static void test_small_backward_step_is_a_jump_within_a_track_only(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 10000, 10000, &disc));
    /* Audio interleaved slightly behind video is normal. */
    feed_no_cut(&c, SL_MEDIA_AUDIO, 0, 9000);
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, 10000 + VIDEO_STEP);
    /* Equal dts within a track is tolerated. */
    feed_no_cut(&c, SL_MEDIA_AUDIO, 0, 9000);
    /* Video going back one tick is not. */
    assert_true(feed(&c, SL_MEDIA_VIDEO, 0, 10000 + VIDEO_STEP - 1, 0, &disc));
    assert_true(disc);
}

static void test_jump_forward_cuts_with_discontinuity(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 0, 0, &disc));
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, VIDEO_STEP);
    /* A 3 s hole is a slow frame, not a jump (threshold: 2 x target = 4 s). */
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, VIDEO_STEP + 3 * SEC);
    /* 4 s exactly is still not a jump; more is. */
    feed_no_cut(&c, SL_MEDIA_VIDEO, 0, VIDEO_STEP + 7 * SEC);
    assert_true(feed(&c, SL_MEDIA_VIDEO, 0, VIDEO_STEP + 11 * SEC + 1, 0, &disc));
    assert_true(disc);
    /* Old timeline: up to the frame at 7 s + one step, whose step was 4 s. */
    assert_int_equal(c.closed_duration_ts, VIDEO_STEP + 7 * SEC + 4 * SEC);
    assert_int_equal(c.seg_start_ts, VIDEO_STEP + 11 * SEC + 1);
}

static void test_gap_threshold_bounds(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, SEC / 4, true);
    assert_int_equal(c.gap_ts, SL_HLS_GAP_MIN_TS);
    assert_int_equal(c.max_ts, SL_HLS_SEGMENT_MAX_TS);
    sl_hls_cutter_init(&c, 8 * SEC, true);
    assert_int_equal(c.gap_ts, SL_HLS_GAP_MAX_TS);
    assert_int_equal(c.max_ts, SL_HLS_SEGMENT_MAX_TS);
    sl_hls_cutter_init(&c, 20 * SEC, true);
    assert_int_equal(c.max_ts, 60 * SEC);
    sl_hls_cutter_init(&c, -5, true);
    assert_int_equal(c.target_ts, 1);
}

static void test_video_resuming_after_audio_is_not_a_jump(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 0, 0, &disc));
    /* Video pauses 20 s while audio carries on: the timeline is continuous. */
    for (int64_t t = AAC_STEP; t < 20 * SEC; t += AAC_STEP) feed_no_cut(&c, SL_MEDIA_AUDIO, 0, t);
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 20 * SEC, 20 * SEC, &disc));
    assert_false(disc);
    assert_int_equal(c.closed_duration_ts, 20 * SEC);
}

static void test_forced_cut_without_keyframes(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, true);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_VIDEO, SL_FRAME_KEY, 0, 0, &disc));
    int64_t dts = VIDEO_STEP;
    for (; dts < SL_HLS_SEGMENT_MAX_TS; dts += VIDEO_STEP) feed_no_cut(&c, SL_MEDIA_VIDEO, 0, dts);
    assert_true(feed(&c, SL_MEDIA_VIDEO, 0, dts, dts, &disc));
    assert_false(disc);
    assert_int_equal(c.closed_duration_ts, SL_HLS_SEGMENT_MAX_TS);
}

static void test_extreme_timestamps_do_not_overflow(void **state)
{
    (void)state;
    sl_hls_cutter_t c;
    sl_hls_cutter_init(&c, TARGET, false);
    bool disc;
    assert_true(feed(&c, SL_MEDIA_AUDIO, 0, INT64_MIN, 0, &disc));
    assert_true(feed(&c, SL_MEDIA_AUDIO, 0, INT64_MAX, 0, &disc));
    assert_true(disc);
    assert_true(feed(&c, SL_MEDIA_AUDIO, 0, INT64_MIN, 0, &disc));
    assert_true(disc);
    assert_int_equal(c.closed_duration_ts, 0);
}

/* ---- window ---- */

static void test_window_init_limits(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 0, 2), SL_ERR_CONFIG);
    assert_int_equal(sl_hls_window_init(&w, SL_HLS_WINDOW_MAX, 1), SL_ERR_CONFIG);
    assert_int_equal(sl_hls_window_init(&w, 1, SIZE_MAX), SL_ERR_CONFIG);
    assert_int_equal(sl_hls_window_init(&w, SL_HLS_WINDOW_MAX - 1, 1), SL_OK);
    assert_int_equal(sl_hls_window_listed_count(&w), 0);
    assert_null(sl_hls_window_find(&w, 0));
    assert_int_equal(sl_hls_window_disc_seq(&w), 0);
    sl_hls_window_free(&w);
}

static void test_window_slides_and_releases_oldest(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 3, 1), SL_OK);
    sl_buf_t *bufs[6];
    for (int i = 0; i < 6; i++) {
        bufs[i] = sl_buf_from(&i, sizeof(i));
        assert_non_null(bufs[i]);
        sl_buf_ref(bufs[i]); /* the test keeps one reference to watch the count */
        sl_hls_segment_t seg = segment((int64_t)(i + 1) * 1000, false, bufs[i]);
        assert_int_equal(sl_hls_window_push(&w, &seg), (uint64_t)i);
        assert_int_equal(seg.seq, (uint64_t)i);
        assert_null(seg.data);
        assert_int_equal(bufs[i]->refcnt, 2);
    }
    /* 4 held (3 listed + 1 extra): segments 0 and 1 were released. */
    assert_int_equal(bufs[0]->refcnt, 1);
    assert_int_equal(bufs[1]->refcnt, 1);
    assert_int_equal(bufs[2]->refcnt, 2);
    assert_int_equal(sl_hls_window_listed_count(&w), 3);
    assert_int_equal(sl_hls_window_listed_at(&w, 0)->seq, 3);
    assert_int_equal(sl_hls_window_listed_at(&w, 2)->seq, 5);
    assert_int_equal(sl_hls_window_listed_at(&w, 2)->duration_ts, 6000);
    assert_ptr_equal(sl_hls_window_listed_at(&w, 1)->data, bufs[4]);

    /* The extra segment is no longer listed but still served. */
    assert_ptr_equal(sl_hls_window_find(&w, 2)->data, bufs[2]);
    assert_ptr_equal(sl_hls_window_find(&w, 5)->data, bufs[5]);
    assert_null(sl_hls_window_find(&w, 1));
    assert_null(sl_hls_window_find(&w, 6));
    assert_null(sl_hls_window_find(&w, UINT64_MAX));

    sl_hls_window_free(&w);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(bufs[i]->refcnt, 1);
        sl_buf_unref(bufs[i]);
    }
}

static void test_window_partial_fill_and_continued_numbering(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 5, 0), SL_OK);
    w.next_seq = 1000;
    sl_hls_segment_t seg = segment(-7, false, NULL);
    assert_int_equal(sl_hls_window_push(&w, &seg), 1000);
    assert_int_equal(sl_hls_window_listed_count(&w), 1);
    assert_int_equal(sl_hls_window_listed_at(&w, 0)->duration_ts, 0);
    assert_int_equal(sl_hls_window_find(&w, 1000)->seq, 1000);
    assert_null(sl_hls_window_find(&w, 999));
    sl_hls_window_free(&w);
}

static void test_window_find_across_numbering_wrap(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 3, 0), SL_OK);
    w.next_seq = UINT64_MAX - 1;
    for (int i = 0; i < 3; i++) {
        sl_hls_segment_t seg = segment(SEC, false, NULL);
        sl_hls_window_push(&w, &seg);
    }
    assert_int_equal(sl_hls_window_find(&w, UINT64_MAX - 1)->seq, UINT64_MAX - 1);
    assert_int_equal(sl_hls_window_find(&w, UINT64_MAX)->seq, UINT64_MAX);
    assert_int_equal(sl_hls_window_find(&w, 0)->seq, 0);
    assert_null(sl_hls_window_find(&w, 1));
    assert_null(sl_hls_window_find(&w, UINT64_MAX - 2));
    sl_hls_window_free(&w);
}

static void test_window_discontinuity_sequence(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 2, 1), SL_OK);
    /* Segment 1 follows a discontinuity, so does segment 3. */
    uint64_t want[] = {0, 0, 0, 1, 1, 2, 2};
    for (int i = 0; i < 7; i++) {
        sl_hls_segment_t seg = segment(SEC, i == 1 || i == 3, NULL);
        sl_hls_window_push(&w, &seg);
        assert_int_equal(sl_hls_window_disc_seq(&w), want[i]);
    }
    assert_int_equal(w.disc_released, 2);
    sl_hls_window_free(&w);
}

static void test_window_max_duration_never_decreases(void **state)
{
    (void)state;
    sl_hls_window_t w;
    assert_int_equal(sl_hls_window_init(&w, 2, 0), SL_OK);
    int64_t durations[] = {180000, 216000, 543600, 180000, 180000, 180000};
    int64_t want[] = {180000, 216000, 543600, 543600, 543600, 543600};
    for (size_t i = 0; i < SL_ARRAY_SIZE(durations); i++) {
        sl_hls_segment_t seg = segment(durations[i], false, NULL);
        sl_hls_window_push(&w, &seg);
        assert_int_equal(w.max_duration_ts, want[i]);
    }
    sl_hls_window_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_frame_cuts),
        cmocka_unit_test(test_video_keyframe_every_second),
        cmocka_unit_test(test_video_keyframe_every_three_seconds),
        cmocka_unit_test(test_video_keyframe_before_target_does_not_cut),
        cmocka_unit_test(test_audio_only_cuts_by_time),
        cmocka_unit_test(test_audio_only_switches_to_keyframes_when_video_comes),
        cmocka_unit_test(test_config_and_data_frames_ignored),
        cmocka_unit_test(test_jump_backwards_cuts_with_discontinuity),
        cmocka_unit_test(test_small_backward_step_is_a_jump_within_a_track_only),
        cmocka_unit_test(test_jump_forward_cuts_with_discontinuity),
        cmocka_unit_test(test_gap_threshold_bounds),
        cmocka_unit_test(test_video_resuming_after_audio_is_not_a_jump),
        cmocka_unit_test(test_forced_cut_without_keyframes),
        cmocka_unit_test(test_extreme_timestamps_do_not_overflow),
        cmocka_unit_test(test_window_init_limits),
        cmocka_unit_test(test_window_slides_and_releases_oldest),
        cmocka_unit_test(test_window_partial_fill_and_continued_numbering),
        cmocka_unit_test(test_window_find_across_numbering_wrap),
        cmocka_unit_test(test_window_discontinuity_sequence),
        cmocka_unit_test(test_window_max_duration_never_decreases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
