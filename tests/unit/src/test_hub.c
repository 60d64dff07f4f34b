#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sluice/hub.h"

typedef struct viewer {
    sl_subscriber_t sub;
    int ready_calls;
    int too_slow_calls;
} viewer_t;

static void on_ready(sl_subscriber_t *sub) { sl_container_of(sub, viewer_t, sub)->ready_calls++; }
static void on_too_slow(sl_subscriber_t *sub) { sl_container_of(sub, viewer_t, sub)->too_slow_calls++; }
static const sl_subscriber_ops_t ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

static sl_config_t cfg;

static int setup(void **state)
{
    sl_config_defaults(&cfg);
    cfg.hub.gop_cache = 1;
    cfg.limits.viewer_queue_soft_ms = 1000;
    cfg.limits.viewer_queue_hard_ms = 5000;
    cfg.limits.viewer_queue_hard_bytes = 1 << 20;
    *state = sl_hub_new(&cfg);
    return *state == NULL;
}

static int teardown(void **state)
{
    sl_hub_free(*state);
    return 0;
}

/* Pushes one frame; `tag` is stored in the payload so tests can tell frames apart. */
static sl_frame_t *push(sl_stream_t *s, sl_media_t media, uint8_t flags, int tag, size_t len, uint64_t now)
{
    uint8_t data[4096] = {0};
    assert_true(len <= sizeof(data) && len >= 1);
    data[0] = (uint8_t)tag;
    sl_frame_t *f = sl_frame_copy_of(media, media == SL_MEDIA_VIDEO ? SL_CODEC_H264 : SL_CODEC_AAC, flags,
                                     SL_MS_TO_TS(now), SL_MS_TO_TS(now), data, len);
    assert_non_null(f);
    assert_int_equal(sl_stream_push(s, f, now), SL_OK);
    sl_frame_unref(f);
    return f;
}

static int next_tag(viewer_t *v)
{
    sl_frame_t *f = sl_subscriber_next(&v->sub);
    return f == NULL ? -1 : f->data[0];
}

/* A GOP: keyframe `key`, then `n` inter frames tagged key+1.. */
static void push_gop(sl_stream_t *s, int key, int n, uint64_t *now)
{
    push(s, SL_MEDIA_VIDEO, SL_FRAME_KEY, key, 100, (*now)++);
    for (int i = 1; i <= n; i++) push(s, SL_MEDIA_VIDEO, 0, key + i, 100, (*now)++);
}

static void test_key_validation(void **state)
{
    assert_true(sl_hub_key_valid("live/cam"));
    assert_true(sl_hub_key_valid("live/a/b"));
    assert_false(sl_hub_key_valid("cam"));
    assert_false(sl_hub_key_valid("/cam"));
    assert_false(sl_hub_key_valid("live/"));
    assert_false(sl_hub_key_valid("live/../x"));
    assert_false(sl_hub_key_valid("live/c m"));
    assert_false(sl_hub_key_valid("live/cam?x=1"));
    assert_false(sl_hub_key_valid(""));
}

static void test_second_publisher_refused(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s, *s2;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s2), SL_ERR_BUSY);
    assert_int_equal(sl_hub_publish(hub, "bad", &s2), SL_ERR_PROTO);
    assert_int_equal(sl_hub_stream_count(hub), 1);
    sl_stream_unpublish(s);
    assert_int_equal(sl_hub_stream_count(hub), 0);
}

static void test_play_unknown_stream(void **state)
{
    viewer_t v;
    assert_int_equal(sl_hub_subscribe(*state, "live/none", &v.sub, &ops, 0), SL_ERR_NOT_FOUND);
}

static void test_prelude_then_gop_cache(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push(s, SL_MEDIA_DATA, 0, 1, 10, now);
    push(s, SL_MEDIA_VIDEO, SL_FRAME_CONFIG, 2, 10, now);
    push(s, SL_MEDIA_AUDIO, SL_FRAME_CONFIG, 3, 10, now);
    push_gop(s, 10, 3, &now);
    push(s, SL_MEDIA_AUDIO, 0, 50, 10, now);
    push_gop(s, 20, 2, &now);

    viewer_t v = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &v.sub, &ops, now), SL_OK);
    assert_int_equal(v.ready_calls, 1);
    /* Metadata, video config, audio config, then the last GOP only (gop_cache 1). */
    int want[] = {1, 2, 3, 20, 21, 22, -1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(want); i++) assert_int_equal(next_tag(&v), want[i]);
    /* Drained: the next frame notifies once. */
    push(s, SL_MEDIA_VIDEO, 0, 23, 100, now);
    push(s, SL_MEDIA_VIDEO, 0, 24, 100, now);
    assert_int_equal(v.ready_calls, 2);
    assert_int_equal(next_tag(&v), 23);
    assert_int_equal(next_tag(&v), 24);
    assert_int_equal(next_tag(&v), -1);
    assert_false(sl_subscriber_eof(&v.sub));
    sl_subscriber_detach(&v.sub);
    sl_subscriber_detach(&v.sub); /* idempotent */
    sl_stream_unpublish(s);
}

/* A subscriber that joined before the publisher sent its configs (a relay push
 * started with the stream) gets them from the log, once, then the first keyframe;
 * one that joined after gets them from the prelude only. */
static void test_configs_after_joining(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    viewer_t early = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &early.sub, &ops, now), SL_OK);
    assert_int_equal(next_tag(&early), -1); /* an empty prelude is used up */
    push(s, SL_MEDIA_VIDEO, SL_FRAME_CONFIG, 2, 10, now);
    push(s, SL_MEDIA_AUDIO, SL_FRAME_CONFIG, 3, 10, now);
    push(s, SL_MEDIA_VIDEO, 0, 9, 100, now); /* an inter frame before any keyframe */
    push_gop(s, 10, 1, &now);
    int want_early[] = {2, 3, 10, 11, -1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(want_early); i++) assert_int_equal(next_tag(&early), want_early[i]);

    viewer_t late = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &late.sub, &ops, now), SL_OK);
    int want_late[] = {2, 3, 10, 11, -1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(want_late); i++) assert_int_equal(next_tag(&late), want_late[i]);
    /* A config change later reaches both, once. */
    push(s, SL_MEDIA_VIDEO, SL_FRAME_CONFIG, 4, 10, now);
    assert_int_equal(next_tag(&early), 4);
    assert_int_equal(next_tag(&early), -1);
    assert_int_equal(next_tag(&late), 4);
    assert_int_equal(next_tag(&late), -1);
    sl_subscriber_detach(&early.sub);
    sl_subscriber_detach(&late.sub);
    sl_stream_unpublish(s);
}

static void test_metadata_is_kept_not_logged(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 5000;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push(s, SL_MEDIA_DATA, 0, 1, 10, now);
    push_gop(s, 10, 1, &now);
    viewer_t early = {0}, late = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &early.sub, &ops, now), SL_OK);
    assert_int_equal(next_tag(&early), 1);
    assert_int_equal(next_tag(&early), 10);
    assert_int_equal(next_tag(&early), 11);
    /* A repeated onMetaData replaces the stored one; viewers already playing do
     * not see it as a frame, new ones get it first, at timestamp 0. */
    push(s, SL_MEDIA_DATA, 0, 2, 10, now);
    assert_int_equal(next_tag(&early), -1);
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &late.sub, &ops, now), SL_OK);
    sl_frame_t *meta = sl_subscriber_next(&late.sub);
    assert_non_null(meta);
    assert_int_equal(meta->data[0], 2);
    assert_int_equal(meta->dts, 0);
    assert_int_equal(next_tag(&late), 10);
    sl_subscriber_detach(&early.sub);
    sl_subscriber_detach(&late.sub);
    sl_stream_unpublish(s);
}

static void test_gop_cache_depth_two(void **state)
{
    sl_hub_t *hub = *state;
    cfg.hub.gop_cache = 2;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push_gop(s, 10, 1, &now);
    push_gop(s, 20, 1, &now);
    push_gop(s, 30, 1, &now);
    viewer_t v = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &v.sub, &ops, now), SL_OK);
    int want[] = {20, 21, 30, 31, -1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(want); i++) assert_int_equal(next_tag(&v), want[i]);
    sl_subscriber_detach(&v.sub);
    sl_stream_unpublish(s);
}

static void test_no_gop_cache_waits_for_keyframe(void **state)
{
    sl_hub_t *hub = *state;
    cfg.hub.gop_cache = 0;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push_gop(s, 10, 2, &now);
    viewer_t v = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &v.sub, &ops, now), SL_OK);
    assert_int_equal(next_tag(&v), -1);
    push(s, SL_MEDIA_VIDEO, 0, 13, 100, now);
    push(s, SL_MEDIA_AUDIO, 0, 60, 10, now);
    push_gop(s, 20, 1, &now);
    int want[] = {20, 21, -1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(want); i++) assert_int_equal(next_tag(&v), want[i]);
    assert_int_equal(v.sub.frames_skipped, 2);
    sl_subscriber_detach(&v.sub);
    sl_stream_unpublish(s);
}

static void test_unpublish_drains_then_eof(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push_gop(s, 10, 1, &now);
    viewer_t v = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &v.sub, &ops, now), SL_OK);
    assert_int_equal(next_tag(&v), 10);
    sl_stream_unpublish(s);
    /* The key is free for a new publisher at once; the old stream lives on for v. */
    sl_stream_t *s2;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s2), SL_OK);
    assert_int_equal(sl_hub_stream_count(hub), 2);
    assert_false(sl_subscriber_eof(&v.sub));
    assert_int_equal(next_tag(&v), 11);
    assert_int_equal(next_tag(&v), -1);
    assert_true(sl_subscriber_eof(&v.sub));
    sl_subscriber_detach(&v.sub);
    assert_int_equal(sl_hub_stream_count(hub), 1);
    sl_stream_unpublish(s2);
    assert_int_equal(sl_hub_stream_count(hub), 0);
}

static void test_soft_limit_skips_to_keyframe(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push_gop(s, 10, 1, &now);
    viewer_t v = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &v.sub, &ops, now), SL_OK);
    /* v takes nothing while GOPs arrive every 600 ms: 1.2 s behind when the GOP
     * tagged 30 arrives, it skips to the newest keyframe then (20)... */
    for (int g = 0; g < 3; g++) {
        now += 600;
        push_gop(s, 20 + 10 * g, 1, &now);
    }
    assert_int_equal(v.too_slow_calls, 0);
    /* ...and the skip restarts the soft clock, so it is not moved again at 40. */
    assert_int_equal(next_tag(&v), 20);
    assert_int_equal(v.sub.frames_skipped, 2);
    sl_subscriber_detach(&v.sub);
    sl_stream_unpublish(s);
}

static void test_hard_limits_end_subscriber(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    push_gop(s, 10, 1, &now);
    viewer_t by_time = {0}, by_bytes = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &by_time.sub, &ops, now), SL_OK);
    /* Time: no keyframe to skip to, so it lags until the hard limit. */
    for (int i = 0; i < 60; i++) push(s, SL_MEDIA_VIDEO, 0, 12, 100, now += 100);
    assert_int_equal(by_time.too_slow_calls, 1);
    assert_null(by_time.sub.stream);

    /* Bytes: 1 MiB hard limit, 4 KB frames, no time passing. */
    push_gop(s, 20, 0, &now);
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &by_bytes.sub, &ops, now), SL_OK);
    for (int i = 0; i < 300 && by_bytes.too_slow_calls == 0; i++) push(s, SL_MEDIA_VIDEO, 0, 21, 4096, now);
    assert_int_equal(by_bytes.too_slow_calls, 1);
    sl_stream_unpublish(s);
    assert_int_equal(sl_hub_stream_count(hub), 0);
}

static void test_log_releases_frames(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    uint8_t byte = 1;
    sl_frame_t *old = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 0, 0, &byte, 1);
    assert_int_equal(sl_stream_push(s, old, now), SL_OK);
    assert_int_equal(old->refcnt, 2);
    /* A new GOP makes the old one unreachable: its frames are released. */
    push_gop(s, 20, 1, &now);
    assert_int_equal(old->refcnt, 1);
    sl_frame_unref(old);
    sl_stream_unpublish(s);
}

typedef struct watcher {
    sl_hub_observer_t obs;
    sl_hub_t *hub;
    int published, unpublished;
    int frames_at_unpublish; /* what the observer's own subscriber still had to take */
    viewer_t v;
} watcher_t;

static void on_publish(sl_hub_observer_t *o, sl_stream_t *s)
{
    watcher_t *w = sl_container_of(o, watcher_t, obs);
    w->published++;
    assert_int_equal(sl_hub_subscribe(w->hub, sl_stream_key(s), &w->v.sub, &ops, 0), SL_OK);
}

static void on_unpublish(sl_hub_observer_t *o, sl_stream_t *s)
{
    watcher_t *w = sl_container_of(o, watcher_t, obs);
    w->unpublished++;
    while (sl_subscriber_next(&w->v.sub) != NULL) w->frames_at_unpublish++;
    sl_subscriber_detach(&w->v.sub);
}

/* Drains v; returns the number of frames taken. */
static int drain(viewer_t *v)
{
    int n = 0;
    while (sl_subscriber_next(&v->sub) != NULL) n++;
    return n;
}

static void test_audio_rides_with_video_for_batched(void **state)
{
    sl_hub_t *hub = *state;
    sl_stream_t *s;
    uint64_t now = 1000;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    viewer_t plain = {0}, batched = {0};
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &plain.sub, &ops, now), SL_OK);
    assert_int_equal(sl_hub_subscribe(hub, "live/cam", &batched.sub, &ops, now), SL_OK);
    sl_subscriber_set_batched(&batched.sub);

    /* Audio before any video wakes everyone: the stream may have no video. */
    push(s, SL_MEDIA_AUDIO, 0, 1, 10, now);
    assert_int_equal(plain.ready_calls, 1);
    assert_int_equal(batched.ready_calls, 1);
    assert_int_equal(drain(&plain), 1);
    assert_int_equal(drain(&batched), 1);

    /* With video, audio waits for the next video frame, which takes both. */
    push(s, SL_MEDIA_VIDEO, SL_FRAME_KEY, 2, 10, now);
    drain(&plain);
    assert_int_equal(drain(&batched), 1);
    push(s, SL_MEDIA_AUDIO, 0, 3, 10, now += 21);
    push(s, SL_MEDIA_AUDIO, 0, 4, 10, now += 21);
    assert_int_equal(plain.ready_calls, 3); /* once until drained */
    assert_int_equal(batched.ready_calls, 2);
    push(s, SL_MEDIA_VIDEO, 0, 5, 10, now += 1);
    assert_int_equal(batched.ready_calls, 3);
    assert_int_equal(next_tag(&batched), 3);
    assert_int_equal(next_tag(&batched), 4);
    assert_int_equal(next_tag(&batched), 5);
    assert_int_equal(next_tag(&batched), -1);
    drain(&plain);

    /* Audio waits at most SL_AUDIO_HOLD_MS when video is late. */
    push(s, SL_MEDIA_AUDIO, 0, 6, 10, now += 1);
    push(s, SL_MEDIA_AUDIO, 0, 7, 10, now += SL_AUDIO_HOLD_MS - 1);
    assert_int_equal(batched.ready_calls, 3);
    push(s, SL_MEDIA_AUDIO, 0, 8, 10, now += 1);
    assert_int_equal(batched.ready_calls, 4);
    assert_int_equal(drain(&batched), 3);

    /* Video gone for over a second: audio alone wakes everyone again. */
    push(s, SL_MEDIA_AUDIO, 0, 9, 10, now += 1001);
    assert_int_equal(batched.ready_calls, 5);
    assert_int_equal(drain(&batched), 1);

    /* The end wakes a batched subscriber with audio waiting. */
    push(s, SL_MEDIA_VIDEO, 0, 10, 10, now += 1);
    drain(&batched);
    push(s, SL_MEDIA_AUDIO, 0, 11, 10, now += 1);
    assert_int_equal(batched.ready_calls, 6);
    sl_stream_unpublish(s);
    assert_int_equal(batched.ready_calls, 7);
    assert_int_equal(next_tag(&batched), 11);
    assert_int_equal(next_tag(&batched), -1);
    assert_true(sl_subscriber_eof(&batched.sub));
    sl_subscriber_detach(&plain.sub);
    sl_subscriber_detach(&batched.sub);
}

static void test_observer_sees_publish_and_every_frame(void **state)
{
    sl_hub_t *hub = *state;
    watcher_t w = {.obs = {.on_publish = on_publish, .on_unpublish = on_unpublish}, .hub = hub};
    sl_hub_observe(hub, &w.obs);
    sl_stream_t *s;
    uint64_t now = 0;
    assert_int_equal(sl_hub_publish(hub, "live/cam", &s), SL_OK);
    assert_int_equal(w.published, 1);
    push_gop(s, 10, 4, &now);
    sl_stream_unpublish(s);
    assert_int_equal(w.unpublished, 1);
    assert_int_equal(w.frames_at_unpublish, 5);
    assert_int_equal(sl_hub_stream_count(hub), 0);
    sl_hub_unobserve(&w.obs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_validation),
        cmocka_unit_test_setup_teardown(test_second_publisher_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_play_unknown_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prelude_then_gop_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configs_after_joining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_is_kept_not_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gop_cache_depth_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_gop_cache_waits_for_keyframe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpublish_drains_then_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_soft_limit_skips_to_keyframe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hard_limits_end_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_releases_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audio_rides_with_video_for_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observer_sees_publish_and_every_frame, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
