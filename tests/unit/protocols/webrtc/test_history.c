/* Tests for the RTP packet history (protocols/webrtc/history.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protocols/webrtc/history.h"

/* A buffer holding two fake packets back to back, as a send batch would. */
static sl_buf_t *two_packets(void)
{
    sl_buf_t *b = sl_buf_new(64);
    assert_non_null(b);
    for (int i = 0; i < 64; i++) b->data[i] = (uint8_t)i;
    b->len = 64;
    return b;
}

static void test_put_get_slice(void **state)
{
    (void)state;
    sl_rtp_history_t h;
    sl_rtp_history_init(&h);
    sl_buf_t *b = two_packets();
    sl_rtp_history_put(&h, 1000, b, b->data, 20);
    sl_rtp_history_put(&h, 1001, b, b->data + 20, 44);
    assert_int_equal(b->refcnt, 3);

    const uint8_t *data = NULL;
    size_t len = 0;
    assert_ptr_equal(sl_rtp_history_get(&h, 1001, &data, &len), b);
    assert_ptr_equal(data, b->data + 20);
    assert_int_equal(len, 44);
    assert_int_equal(data[0], 20);
    assert_ptr_equal(sl_rtp_history_get(&h, 1000, &data, &len), b);
    assert_ptr_equal(data, b->data);
    assert_int_equal(len, 20);

    sl_rtp_history_free(&h);
    assert_int_equal(b->refcnt, 1);
    sl_buf_unref(b);
}

static void test_never_stored(void **state)
{
    (void)state;
    sl_rtp_history_t h;
    sl_rtp_history_init(&h);
    const uint8_t *data = (const uint8_t *)"x";
    size_t len = 7;
    assert_null(sl_rtp_history_get(&h, 0, &data, &len));
    sl_buf_t *b = two_packets();
    sl_rtp_history_put(&h, 10, b, b->data, 10);
    assert_null(sl_rtp_history_get(&h, 11, &data, &len));
    assert_null(sl_rtp_history_get(&h, 9, &data, &len));
    /* Same slot (10 + 512), different number. */
    assert_null(sl_rtp_history_get(&h, 10 + SL_RTP_HISTORY_SIZE, &data, &len));
    assert_null(sl_rtp_history_get(&h, (uint16_t)(10 - SL_RTP_HISTORY_SIZE), &data, &len));
    /* Untouched on a miss. */
    assert_string_equal((const char *)data, "x");
    assert_int_equal(len, 7);
    sl_rtp_history_free(&h);
    sl_buf_unref(b);
}

/* Fills seq..seq+n-1, each packet in its own buffer (released here: the history
 * holds the only reference). */
static void put_run(sl_rtp_history_t *h, uint16_t seq, int n, sl_buf_t **bufs)
{
    for (int i = 0; i < n; i++) {
        uint8_t byte = (uint8_t)i;
        sl_buf_t *b = sl_buf_from(&byte, 1);
        assert_non_null(b);
        sl_rtp_history_put(h, (uint16_t)(seq + i), b, b->data, 1);
        if (bufs) bufs[i] = b;
        sl_buf_unref(b);
    }
}

static void test_wrap_and_eviction(void **state)
{
    (void)state;
    sl_rtp_history_t h;
    sl_rtp_history_init(&h);
    /* 65000 .. 65000+1099 wraps through 0. */
    put_run(&h, 65000, 1100, NULL);
    uint16_t newest = (uint16_t)(65000 + 1099);
    assert_int_equal(newest, 563);
    const uint8_t *data;
    size_t len;
    for (int back = 0; back < SL_RTP_HISTORY_SIZE; back++) {
        uint16_t seq = (uint16_t)(newest - back);
        assert_non_null(sl_rtp_history_get(&h, seq, &data, &len));
        assert_int_equal(len, 1);
        assert_int_equal(data[0], (uint8_t)(1099 - back));
    }
    /* One past the window: evicted. */
    assert_null(sl_rtp_history_get(&h, (uint16_t)(newest - SL_RTP_HISTORY_SIZE), &data, &len));
    assert_null(sl_rtp_history_get(&h, 65000, &data, &len));
    assert_null(sl_rtp_history_get(&h, (uint16_t)(newest + 1), &data, &len));
    sl_rtp_history_free(&h);
}

static void test_eviction_releases(void **state)
{
    (void)state;
    sl_rtp_history_t h;
    sl_rtp_history_init(&h);
    sl_buf_t *old = two_packets();
    sl_rtp_history_put(&h, 5, old, old->data, 3);
    assert_int_equal(old->refcnt, 2);
    put_run(&h, 6, SL_RTP_HISTORY_SIZE - 1, NULL);
    assert_int_equal(old->refcnt, 2); /* still in the window */
    put_run(&h, (uint16_t)(5 + SL_RTP_HISTORY_SIZE), 1, NULL);
    assert_int_equal(old->refcnt, 1); /* overwritten */
    sl_rtp_history_free(&h);
    sl_buf_unref(old);
}

static void test_jump_releases_skipped(void **state)
{
    (void)state;
    sl_rtp_history_t h;
    sl_rtp_history_init(&h);
    sl_buf_t *a = two_packets(), *b = two_packets();
    sl_rtp_history_put(&h, 100, a, a->data, 4);
    sl_rtp_history_put(&h, 101, b, b->data, 4);
    /* A jump of 300 keeps 101 (and 100) inside the window. */
    put_run(&h, 400, 1, NULL);
    assert_int_equal(a->refcnt, 2);
    assert_int_equal(b->refcnt, 2);
    const uint8_t *data;
    size_t len;
    assert_ptr_equal(sl_rtp_history_get(&h, 101, &data, &len), b);
    /* A jump past the window releases everything it skips. */
    put_run(&h, 30000, 1, NULL);
    assert_int_equal(a->refcnt, 1);
    assert_int_equal(b->refcnt, 1);
    assert_null(sl_rtp_history_get(&h, 101, &data, &len));
    assert_null(sl_rtp_history_get(&h, 400, &data, &len));
    assert_non_null(sl_rtp_history_get(&h, 30000, &data, &len));
    sl_rtp_history_free(&h);
    sl_buf_unref(a);
    sl_buf_unref(b);
}

static void test_out_of_order_and_too_old(void **state)
{
    (void)state;
    sl_rtp_history_t h;
    sl_rtp_history_init(&h);
    sl_buf_t *b = two_packets();
    sl_rtp_history_put(&h, 2000, b, b->data, 1);
    sl_rtp_history_put(&h, 1990, b, b->data + 1, 2); /* late, inside the window */
    sl_rtp_history_put(&h, (uint16_t)(2000 - SL_RTP_HISTORY_SIZE), b, b->data, 3); /* too old */
    assert_int_equal(b->refcnt, 3);
    const uint8_t *data;
    size_t len;
    assert_non_null(sl_rtp_history_get(&h, 1990, &data, &len));
    assert_int_equal(len, 2);
    assert_null(sl_rtp_history_get(&h, (uint16_t)(2000 - SL_RTP_HISTORY_SIZE), &data, &len));
    /* Replacing the same number keeps one reference per slot. */
    sl_rtp_history_put(&h, 2000, b, b->data + 5, 9);
    assert_int_equal(b->refcnt, 3);
    assert_non_null(sl_rtp_history_get(&h, 2000, &data, &len));
    assert_ptr_equal(data, b->data + 5);
    assert_int_equal(len, 9);
    sl_rtp_history_free(&h);
    assert_int_equal(b->refcnt, 1);
    /* Reusable after free. */
    assert_null(sl_rtp_history_get(&h, 2000, &data, &len));
    sl_rtp_history_put(&h, 7, b, b->data, 1);
    assert_non_null(sl_rtp_history_get(&h, 7, &data, &len));
    sl_rtp_history_free(&h);
    sl_buf_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_slice),
        cmocka_unit_test(test_never_stored),
        cmocka_unit_test(test_wrap_and_eviction),
        cmocka_unit_test(test_eviction_releases),
        cmocka_unit_test(test_jump_releases_skipped),
        cmocka_unit_test(test_out_of_order_and_too_old),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
