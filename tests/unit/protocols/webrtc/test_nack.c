/* Tests for the receiver-side NACK loss tracker (protocols/webrtc/nack.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protocols/webrtc/nack.h"

static void init(sl_nack_t *t, const sl_nack_config_t *cfg)
{
    assert_int_equal(sl_nack_init(t, cfg), SL_OK);
}

static void feed(sl_nack_t *t, uint16_t seq, uint64_t now_ms, sl_nack_verdict_t want)
{
    assert_int_equal(sl_nack_on_packet(t, seq, now_ms), want);
}

/* Collects at now_ms and checks the numbers asked for are exactly want[0..n). */
static void expect_collect(sl_nack_t *t, uint64_t now_ms, uint32_t rtt_ms, const uint16_t *want, int n)
{
    uint16_t got[SL_NACK_MAX_MISSING + 8];
    int r = sl_nack_collect(t, now_ms, rtt_ms, got, SL_ARRAY_SIZE(got));
    assert_int_equal(r, n);
    for (int i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
}

static void expect_none(sl_nack_t *t, uint64_t now_ms, uint32_t rtt_ms)
{
    expect_collect(t, now_ms, rtt_ms, NULL, 0);
}

static void expect_due(const sl_nack_t *t, uint32_t rtt_ms, uint64_t want)
{
    uint64_t when = 0;
    assert_true(sl_nack_next_due(t, rtt_ms, &when));
    assert_int_equal(when, want);
}

static void test_config(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    assert_int_equal(t.cfg.max_jump, 512);
    assert_int_equal(t.cfg.max_asks, 10);
    assert_int_equal(t.cfg.max_age_ms, 1000);
    assert_int_equal(t.cfg.min_interval_ms, 10);
    assert_int_equal(t.cfg.default_rtt_ms, 100);

    sl_nack_config_t c = {.max_jump = 32767, .max_asks = 3};
    init(&t, &c);
    assert_int_equal(t.cfg.max_jump, 32767);
    assert_int_equal(t.cfg.max_asks, 3);
    assert_int_equal(t.cfg.max_age_ms, 1000);

    c.max_jump = 32768;
    assert_int_equal(sl_nack_init(&t, &c), SL_ERR_CONFIG);
}

static void test_first_packet_and_in_order(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    uint64_t when = 77;
    assert_false(sl_nack_next_due(&t, 0, &when));
    assert_int_equal(when, 77);
    expect_none(&t, 0, 0);

    /* Starting anywhere, even just below the wrap, is no loss. */
    feed(&t, 65534, 0, SL_NACK_RESTARTED);
    feed(&t, 65535, 1, SL_NACK_NEWEST);
    feed(&t, 0, 2, SL_NACK_NEWEST);
    feed(&t, 1, 3, SL_NACK_NEWEST);
    assert_false(sl_nack_next_due(&t, 0, &when));
    expect_none(&t, 10, 0);
    assert_int_equal(t.stats.received, 4);
    assert_int_equal(t.stats.resets, 0);
    assert_int_equal(t.stats.lost, 0);
}

static void test_gaps_exact(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 100, 0, SL_NACK_RESTARTED);
    feed(&t, 103, 5, SL_NACK_NEWEST);
    feed(&t, 104, 6, SL_NACK_NEWEST);
    feed(&t, 107, 7, SL_NACK_NEWEST);
    feed(&t, 109, 8, SL_NACK_NEWEST);
    /* The first ask is due as soon as the number went missing. */
    expect_due(&t, 0, 5);
    expect_collect(&t, 8, 0, (const uint16_t[]){101, 102, 105, 106, 108}, 5);
    assert_int_equal(t.stats.asked, 5);
    /* Not again before the retry interval (100 ms assumed with no RTT). */
    expect_none(&t, 9, 0);
    expect_due(&t, 0, 108);
}

static void test_wraparound(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 65532, 0, SL_NACK_RESTARTED);
    feed(&t, 2, 1, SL_NACK_NEWEST);
    expect_collect(&t, 1, 0, (const uint16_t[]){65533, 65534, 65535, 0, 1}, 5);
    /* A late 65535 is behind 2 across the wrap: recovered, not a restart. */
    feed(&t, 65535, 2, SL_NACK_RECOVERED);
    feed(&t, 0, 2, SL_NACK_RECOVERED);
    expect_collect(&t, 101, 0, (const uint16_t[]){65533, 65534, 1}, 3);
    feed(&t, 4, 102, SL_NACK_NEWEST);
    expect_collect(&t, 102, 0, (const uint16_t[]){3}, 1);
    assert_int_equal(t.stats.recovered, 2);
}

static void test_reorder_cancels(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 10, 0, SL_NACK_RESTARTED);
    feed(&t, 13, 1, SL_NACK_NEWEST);
    /* 11 was only reordered: it arrives before the first collect. */
    feed(&t, 11, 2, SL_NACK_RECOVERED);
    expect_collect(&t, 2, 20, (const uint16_t[]){12}, 1);
    /* The retransmission of 12 ends the asking. */
    feed(&t, 12, 30, SL_NACK_RECOVERED);
    uint64_t when = 0;
    assert_false(sl_nack_next_due(&t, 20, &when));
    expect_none(&t, 1000, 20);
    /* Arriving again is a harmless duplicate. */
    feed(&t, 12, 31, SL_NACK_IGNORED);
    feed(&t, 11, 31, SL_NACK_IGNORED);
    assert_int_equal(t.stats.recovered, 2);
    assert_int_equal(t.stats.asked, 1);
    assert_int_equal(t.stats.lost, 0);
    assert_int_equal(t.count, 0);
}

static void test_retries_spaced_and_capped(void **state)
{
    (void)state;
    sl_nack_config_t c = {.max_asks = 3};
    sl_nack_t t;
    init(&t, &c);
    feed(&t, 1, 0, SL_NACK_RESTARTED);
    feed(&t, 3, 0, SL_NACK_NEWEST);
    expect_collect(&t, 0, 50, (const uint16_t[]){2}, 1);
    expect_due(&t, 50, 50);
    expect_none(&t, 49, 50);
    expect_collect(&t, 50, 50, (const uint16_t[]){2}, 1);
    /* The interval follows the RTT given at each collect. */
    expect_due(&t, 30, 80);
    expect_none(&t, 79, 30);
    expect_collect(&t, 80, 30, (const uint16_t[]){2}, 1);
    /* Asked three times: one more interval for the copy, then given up. */
    expect_due(&t, 30, 110);
    expect_none(&t, 109, 30);
    assert_int_equal(t.count, 1);
    assert_int_equal(t.stats.lost, 0);
    expect_none(&t, 110, 30);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.stats.lost, 1);
    assert_int_equal(t.stats.asked, 3);
    /* The copy arriving after all is too late to count. */
    feed(&t, 2, 120, SL_NACK_IGNORED);
    assert_int_equal(t.stats.recovered, 0);
}

static void test_interval_floor_and_default(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 1, 0, SL_NACK_RESTARTED);
    feed(&t, 3, 0, SL_NACK_NEWEST);
    expect_collect(&t, 0, 2, (const uint16_t[]){2}, 1);
    /* A 2 ms RTT is raised to the 10 ms floor. */
    expect_due(&t, 2, 10);
    expect_none(&t, 9, 2);
    expect_collect(&t, 10, 2, (const uint16_t[]){2}, 1);
    /* No RTT measured: 100 ms. */
    expect_due(&t, 0, 110);
    expect_none(&t, 109, 0);
    expect_collect(&t, 110, 0, (const uint16_t[]){2}, 1);
}

static void test_max_age(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 1, 1000, SL_NACK_RESTARTED);
    feed(&t, 3, 1000, SL_NACK_NEWEST);
    expect_collect(&t, 1000, 400, (const uint16_t[]){2}, 1);
    expect_collect(&t, 1400, 400, (const uint16_t[]){2}, 1);
    expect_collect(&t, 1800, 400, (const uint16_t[]){2}, 1);
    /* The next ask would be at 2200, but the number is a second old at 2000. */
    expect_due(&t, 400, 2000);
    expect_none(&t, 1999, 400);
    assert_int_equal(t.count, 1);
    expect_none(&t, 2000, 400);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.stats.lost, 1);

    /* Never asked (no collect ran) still ages out. */
    feed(&t, 5, 3000, SL_NACK_NEWEST);
    expect_none(&t, 4000, 400);
    assert_int_equal(t.stats.lost, 2);
    assert_int_equal(t.stats.asked, 3);
}

static void test_collect_bounded_by_max(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 0, 0, SL_NACK_RESTARTED);
    feed(&t, 6, 0, SL_NACK_NEWEST);
    uint16_t got[2];
    assert_int_equal(sl_nack_collect(&t, 0, 0, got, 2), 2);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 2);
    /* The rest are still due now. */
    expect_due(&t, 0, 0);
    assert_int_equal(sl_nack_collect(&t, 1, 0, got, 2), 2);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 4);
    assert_int_equal(sl_nack_collect(&t, 1, 0, got, 0), 0);
    expect_collect(&t, 2, 0, (const uint16_t[]){5}, 1);
    assert_int_equal(t.stats.asked, 5);
    expect_due(&t, 0, 100);
}

static void test_overflow_oldest_dropped(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 1000, 0, SL_NACK_RESTARTED);
    feed(&t, 1201, 0, SL_NACK_NEWEST); /* 1001..1200 missing: 200 */
    assert_int_equal(t.count, 200);
    feed(&t, 1302, 5, SL_NACK_NEWEST); /* 1202..1301: 100 more, 44 oldest evicted */
    assert_int_equal(t.count, SL_NACK_MAX_MISSING);
    assert_int_equal(t.stats.lost, 44);

    uint16_t want[SL_NACK_MAX_MISSING];
    int n = 0;
    for (uint16_t s = 1045; s <= 1200; s++) want[n++] = s;
    for (uint16_t s = 1202; s <= 1301; s++) want[n++] = s;
    assert_int_equal(n, SL_NACK_MAX_MISSING);
    expect_collect(&t, 5, 0, want, n);
    /* An evicted number arriving late is just ignored. */
    feed(&t, 1001, 6, SL_NACK_IGNORED);
    feed(&t, 1045, 6, SL_NACK_RECOVERED);

    /* One gap larger than the whole set keeps its newest numbers only. */
    init(&t, NULL);
    feed(&t, 65400, 0, SL_NACK_RESTARTED);
    feed(&t, (uint16_t)(65400 + 301), 0, SL_NACK_NEWEST); /* 300 missing, across the wrap */
    assert_int_equal(t.count, SL_NACK_MAX_MISSING);
    assert_int_equal(t.stats.lost, 300 - SL_NACK_MAX_MISSING);
    assert_int_equal(t.missing[0].seq, 65400 + 45);
    assert_int_equal(t.missing[SL_NACK_MAX_MISSING - 1].seq, (uint16_t)(65400 + 300));
}

static void test_reset_on_forward_jump(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 1000, 0, SL_NACK_RESTARTED);
    feed(&t, 1003, 0, SL_NACK_NEWEST); /* 1001, 1002 missing */
    /* Skipping 513 numbers is a restart, not 513 losses. */
    feed(&t, 1003 + 514, 1, SL_NACK_RESTARTED);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.stats.resets, 1);
    assert_int_equal(t.stats.lost, 2);
    expect_none(&t, 1, 0);
    feed(&t, 1003 + 516, 2, SL_NACK_NEWEST);
    expect_collect(&t, 2, 0, (const uint16_t[]){1003 + 515}, 1);

    /* Skipping exactly max_jump is still loss (capped by the set). */
    init(&t, NULL);
    feed(&t, 0, 0, SL_NACK_RESTARTED);
    feed(&t, 513, 0, SL_NACK_NEWEST);
    assert_int_equal(t.count, SL_NACK_MAX_MISSING);
    assert_int_equal(t.stats.lost, 512 - SL_NACK_MAX_MISSING);
    assert_int_equal(t.stats.resets, 0);

    /* A smaller configured limit, across the wrap. */
    sl_nack_config_t c = {.max_jump = 5};
    init(&t, &c);
    feed(&t, 65533, 0, SL_NACK_RESTARTED);
    feed(&t, 3, 0, SL_NACK_NEWEST); /* skips 5 */
    assert_int_equal(t.count, 5);
    feed(&t, 10, 0, SL_NACK_RESTARTED); /* skips 6 */
    assert_int_equal(t.count, 0);
    assert_int_equal(t.stats.lost, 5);
}

static void test_reset_on_backward_jump(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 5000, 0, SL_NACK_RESTARTED);
    feed(&t, 5002, 0, SL_NACK_NEWEST); /* 5001 missing */
    /* Within max_jump behind and not missing: a duplicate or stale copy. */
    feed(&t, 5002 - 512, 1, SL_NACK_IGNORED);
    feed(&t, 5002 - 511, 1, SL_NACK_IGNORED);
    assert_false(t.stray);
    /* Further behind: one stray is ignored, and what does not follow it does not
     * confirm it (but becomes the stray to follow). */
    feed(&t, 1000, 1, SL_NACK_IGNORED);
    feed(&t, 1000, 1, SL_NACK_IGNORED);
    feed(&t, 1002, 1, SL_NACK_IGNORED);
    assert_int_equal(t.count, 1);
    assert_int_equal(t.stats.resets, 0);
    /* The successor of the last stray: the sender restarted lower. */
    feed(&t, 1003, 2, SL_NACK_RESTARTED);
    assert_int_equal(t.stats.resets, 1);
    assert_int_equal(t.stats.lost, 1);
    assert_int_equal(t.count, 0);
    feed(&t, 1005, 3, SL_NACK_NEWEST);
    expect_collect(&t, 3, 0, (const uint16_t[]){1004}, 1);
    assert_int_equal(t.stats.received, 9);
}

static void test_far_late_missing_still_recovered(void **state)
{
    (void)state;
    sl_nack_config_t c = {.max_jump = 10};
    sl_nack_t t;
    init(&t, &c);
    feed(&t, 100, 0, SL_NACK_RESTARTED);
    feed(&t, 105, 0, SL_NACK_NEWEST);
    for (uint16_t s = 106; s <= 130; s++) feed(&t, s, 1, SL_NACK_NEWEST);
    /* 29 behind, beyond max_jump, but asked for: a retransmission, not a stray. */
    feed(&t, 101, 2, SL_NACK_RECOVERED);
    feed(&t, 102, 2, SL_NACK_RECOVERED);
    assert_false(t.stray);
    expect_collect(&t, 2, 0, (const uint16_t[]){103, 104}, 2);
}

static void test_duplicates(void **state)
{
    (void)state;
    sl_nack_t t;
    init(&t, NULL);
    feed(&t, 10, 0, SL_NACK_RESTARTED);
    feed(&t, 10, 0, SL_NACK_IGNORED);
    feed(&t, 11, 0, SL_NACK_NEWEST);
    feed(&t, 11, 0, SL_NACK_IGNORED);
    feed(&t, 13, 0, SL_NACK_NEWEST);
    feed(&t, 13, 0, SL_NACK_IGNORED);
    feed(&t, 10, 0, SL_NACK_IGNORED);
    expect_collect(&t, 0, 0, (const uint16_t[]){12}, 1);
    feed(&t, 12, 1, SL_NACK_RECOVERED);
    feed(&t, 12, 1, SL_NACK_IGNORED);
    assert_int_equal(t.stats.received, 9);
    assert_int_equal(t.stats.recovered, 1);
    assert_int_equal(t.stats.lost, 0);
    assert_int_equal(t.stats.resets, 0);
    assert_int_equal(t.count, 0);
}

static void test_half_space_guard(void **state)
{
    (void)state;
    /* With no clock running, a missing number must still leave the set before the
     * newest is half the number space ahead, where serial order turns around. */
    sl_nack_config_t c = {.max_age_ms = UINT32_MAX};
    sl_nack_t t;
    init(&t, &c);
    feed(&t, 0, 0, SL_NACK_RESTARTED);
    feed(&t, 2, 0, SL_NACK_NEWEST); /* 1 missing */
    for (uint32_t s = 3; s <= 32768; s++) feed(&t, (uint16_t)s, 0, SL_NACK_NEWEST);
    assert_int_equal(t.count, 1); /* 32767 behind */
    feed(&t, 32769, 0, SL_NACK_NEWEST);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.stats.lost, 1);
    feed(&t, 1, 0, SL_NACK_IGNORED);
    assert_int_equal(t.stats.recovered, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_first_packet_and_in_order),
        cmocka_unit_test(test_gaps_exact),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_reorder_cancels),
        cmocka_unit_test(test_retries_spaced_and_capped),
        cmocka_unit_test(test_interval_floor_and_default),
        cmocka_unit_test(test_max_age),
        cmocka_unit_test(test_collect_bounded_by_max),
        cmocka_unit_test(test_overflow_oldest_dropped),
        cmocka_unit_test(test_reset_on_forward_jump),
        cmocka_unit_test(test_reset_on_backward_jump),
        cmocka_unit_test(test_far_late_missing_still_recovered),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_half_space_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
