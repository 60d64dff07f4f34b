/* The RTP reorder buffer: in-order delivery, swaps, gaps filled late or never (released
 * by the window and by time), duplicates, old and wild packets, the 16-bit wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/rtp/reorder.h"
#include "protocols/rtp/rtp.h"

#define MAX_OUT 256

typedef struct sink {
    int count;
    uint16_t seq[MAX_OUT];
    uint32_t lost[MAX_OUT];
    int result;
} sink_t;

static int collect(void *arg, sl_buf_t *pkt, uint32_t lost_before)
{
    sink_t *s = arg;
    sl_rtp_packet_t p;
    assert_int_equal(sl_rtp_parse(pkt->data, pkt->len, &p), SL_OK);
    /* Every test packet carries its sequence number's low byte as payload. */
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(p.payload[0], (uint8_t)p.seq);
    assert_true(s->count < MAX_OUT);
    s->seq[s->count] = p.seq;
    s->lost[s->count++] = lost_before;
    return s->result;
}

static int push(sl_rtp_reorder_t *r, uint16_t seq, uint64_t now_ms)
{
    uint8_t pkt[SL_RTP_HEADER_LEN + 1];
    sl_rtp_write_header(pkt, false, 96, seq, seq * 3000u, 42);
    pkt[SL_RTP_HEADER_LEN] = (uint8_t)seq;
    return sl_rtp_reorder_push(r, pkt, sizeof(pkt), now_ms);
}

static void setup(sl_rtp_reorder_t *r, sink_t *s, uint32_t window, uint32_t max_delay_ms)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(sl_rtp_reorder_init(r, window, max_delay_ms, collect, s), SL_OK);
}

/* Pushes seqs at time 0, in that order. */
static void push_all(sl_rtp_reorder_t *r, const uint16_t *seqs, size_t n)
{
    for (size_t i = 0; i < n; i++) assert_int_equal(push(r, seqs[i], 0), SL_OK);
}

static void check_out(const sink_t *s, const uint16_t *seqs, const uint32_t *lost, int n)
{
    assert_int_equal(s->count, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s->seq[i], seqs[i]);
        assert_int_equal(s->lost[i], lost[i]);
    }
}

static void test_in_order(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 0, 100);
    assert_int_equal(r.window, SL_RTP_REORDER_DEFAULT_WINDOW);
    for (uint16_t seq = 10; seq < 13; seq++) {
        assert_int_equal(push(&r, seq, seq), SL_OK);
        assert_int_equal(s.count, seq - 9); /* out at once */
    }
    check_out(&s, (uint16_t[]){10, 11, 12}, (uint32_t[]){0, 0, 0}, 3);
    assert_int_equal(r.held, 0);
    uint64_t when;
    assert_false(sl_rtp_reorder_deadline(&r, &when));
    assert_int_equal(r.stats.released, 3);
    assert_int_equal(r.stats.lost, 0);
    sl_rtp_reorder_free(&r);
}

static void test_swapped_and_late_fill(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 16, 100);
    push_all(&r, (uint16_t[]){10, 12}, 2);
    check_out(&s, (uint16_t[]){10}, (uint32_t[]){0}, 1);
    assert_int_equal(r.held, 1);
    push_all(&r, (uint16_t[]){11}, 1);
    check_out(&s, (uint16_t[]){10, 11, 12}, (uint32_t[]){0, 0, 0}, 3);
    /* A gap filled after three later packets: all four go together. */
    push_all(&r, (uint16_t[]){14, 15, 16}, 3);
    assert_int_equal(s.count, 3);
    assert_int_equal(r.held, 3);
    push_all(&r, (uint16_t[]){13}, 1);
    check_out(&s, (uint16_t[]){10, 11, 12, 13, 14, 15, 16}, (uint32_t[]){0, 0, 0, 0, 0, 0, 0}, 7);
    assert_int_equal(r.held, 0);
    assert_int_equal(r.stats.lost, 0);
    sl_rtp_reorder_free(&r);
}

static void test_gap_released_by_window(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 4, 1000);
    push_all(&r, (uint16_t[]){10, 12, 13, 14}, 4);
    assert_int_equal(s.count, 1);
    assert_int_equal(r.held, 3);
    /* 15 does not fit 11..14: 11 is given up. */
    push_all(&r, (uint16_t[]){15}, 1);
    check_out(&s, (uint16_t[]){10, 12, 13, 14, 15}, (uint32_t[]){0, 1, 0, 0, 0}, 5);
    assert_int_equal(r.stats.lost, 1);
    /* 11 arriving now is late. */
    push_all(&r, (uint16_t[]){11}, 1);
    assert_int_equal(s.count, 5);
    assert_int_equal(r.stats.late, 1);

    /* A jump well past the window but under 3000: the skipped ones are lost, the new
     * packet waits for the three just before it. */
    push_all(&r, (uint16_t[]){1000}, 1);
    assert_int_equal(s.count, 5);
    assert_int_equal(r.held, 1);
    assert_int_equal(r.stats.lost, 1 + 981);
    assert_int_equal(sl_rtp_reorder_flush(&r), SL_OK);
    check_out(&s, (uint16_t[]){10, 12, 13, 14, 15, 1000}, (uint32_t[]){0, 1, 0, 0, 0, 984}, 6);
    assert_int_equal(r.stats.lost, 985);
    sl_rtp_reorder_free(&r);
}

static void test_gap_released_by_time(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 64, 50);
    assert_int_equal(push(&r, 10, 0), SL_OK);
    assert_int_equal(push(&r, 12, 10), SL_OK);
    assert_int_equal(push(&r, 13, 20), SL_OK);
    uint64_t when;
    assert_true(sl_rtp_reorder_deadline(&r, &when));
    assert_int_equal(when, 60);
    assert_int_equal(sl_rtp_reorder_poll(&r, 59), SL_OK);
    assert_int_equal(s.count, 1);
    assert_int_equal(sl_rtp_reorder_poll(&r, 60), SL_OK);
    check_out(&s, (uint16_t[]){10, 12, 13}, (uint32_t[]){0, 1, 0}, 3);
    assert_false(sl_rtp_reorder_deadline(&r, &when));

    /* Two gaps: each goes when the packet after it has waited long enough. */
    assert_int_equal(push(&r, 15, 100), SL_OK);
    assert_int_equal(push(&r, 17, 130), SL_OK);
    assert_true(sl_rtp_reorder_deadline(&r, &when));
    assert_int_equal(when, 150);
    assert_int_equal(sl_rtp_reorder_poll(&r, 150), SL_OK);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.seq[3], 15);
    assert_true(sl_rtp_reorder_deadline(&r, &when));
    assert_int_equal(when, 180);
    /* A push runs the clock too. */
    assert_int_equal(push(&r, 30, 180), SL_OK);
    check_out(&s, (uint16_t[]){10, 12, 13, 15, 17}, (uint32_t[]){0, 1, 0, 1, 1}, 5);
    assert_int_equal(r.held, 1);

    /* A later packet that waited longer than an earlier one: both go, in order. */
    sl_rtp_reorder_free(&r);
    setup(&r, &s, 64, 50);
    assert_int_equal(push(&r, 10, 0), SL_OK);
    assert_int_equal(push(&r, 14, 0), SL_OK);
    assert_int_equal(push(&r, 12, 40), SL_OK);
    assert_int_equal(sl_rtp_reorder_poll(&r, 50), SL_OK);
    check_out(&s, (uint16_t[]){10, 12, 14}, (uint32_t[]){0, 1, 1}, 3);
    assert_int_equal(r.stats.lost, 2);
    sl_rtp_reorder_free(&r);
}

static void test_duplicates_and_old(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 64, 100);
    push_all(&r, (uint16_t[]){10, 12, 12, 10, 11, 11}, 6);
    check_out(&s, (uint16_t[]){10, 11, 12}, (uint32_t[]){0, 0, 0}, 3);
    assert_int_equal(r.stats.duplicates, 1);
    assert_int_equal(r.stats.late, 2);
    /* 64 back (the window) is late; further back is a wild jump, dropped, and does not
     * restart the numbering unless the very next packet follows it: here 200 comes
     * between 135 and 136. */
    for (uint16_t seq = 13; seq < 200; seq++) assert_int_equal(push(&r, seq, 0), SL_OK);
    assert_int_equal(s.count, 190);
    push_all(&r, (uint16_t[]){136, 135, 200, 136}, 4);
    assert_int_equal(r.stats.late, 2 + 3);
    assert_int_equal(r.stats.resets, 0);
    assert_int_equal(s.count, 191);
    assert_int_equal(s.seq[190], 200);
    sl_rtp_reorder_free(&r);
}

static void test_wrap(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 8, 100);
    push_all(&r, (uint16_t[]){65534, 65535, 1, 0, 3, 2}, 6);
    check_out(&s, (uint16_t[]){65534, 65535, 0, 1, 2, 3}, (uint32_t[]){0, 0, 0, 0, 0, 0}, 6);
    /* Late packets from before the wrap. */
    push_all(&r, (uint16_t[]){65535, 65530}, 2);
    assert_int_equal(r.stats.late, 2);
    /* The window and a gap across the wrap. */
    sl_rtp_reorder_free(&r);
    setup(&r, &s, 4, 100);
    push_all(&r, (uint16_t[]){65533, 65535, 0, 1, 2}, 5);
    check_out(&s, (uint16_t[]){65533, 65535, 0, 1, 2}, (uint32_t[]){0, 1, 0, 0, 0}, 5);
    sl_rtp_reorder_free(&r);
}

static void test_restart(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    setup(&r, &s, 16, 100);
    push_all(&r, (uint16_t[]){100, 102, 103}, 3);
    /* The sender restarts at 30000: the first is dropped, the second confirms it and
     * what was waiting goes out first. */
    push_all(&r, (uint16_t[]){30000}, 1);
    assert_int_equal(s.count, 1);
    assert_int_equal(r.stats.late, 1);
    push_all(&r, (uint16_t[]){30001, 30002}, 2);
    check_out(&s, (uint16_t[]){100, 102, 103, 30001, 30002}, (uint32_t[]){0, 1, 0, 0, 0}, 5);
    assert_int_equal(r.stats.resets, 1);
    assert_int_equal(r.stats.lost, 1);
    /* Backwards too. */
    push_all(&r, (uint16_t[]){5, 6}, 2);
    assert_int_equal(r.stats.resets, 2);
    assert_int_equal(s.count, 6);
    assert_int_equal(s.seq[5], 6);
    sl_rtp_reorder_free(&r);
}

static void test_errors(void **state)
{
    sl_rtp_reorder_t r;
    sink_t s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(sl_rtp_reorder_init(&r, SL_RTP_REORDER_MAX_WINDOW + 1, 10, collect, &s), SL_ERR_CONFIG);
    setup(&r, &s, 8, 100);
    const uint8_t not_rtp[] = {0x40, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    assert_int_equal(sl_rtp_reorder_push(&r, not_rtp, sizeof(not_rtp), 0), SL_ERR_PROTO);
    assert_int_equal(sl_rtp_reorder_push(&r, not_rtp, 5, 0), SL_ERR_PROTO);
    assert_false(r.started);
    /* A failing callback: its error comes back, and delivery continues in order. */
    push_all(&r, (uint16_t[]){1, 3}, 2);
    s.result = SL_ERR_IO;
    assert_int_equal(push(&r, 2, 0), SL_ERR_IO);
    check_out(&s, (uint16_t[]){1, 2, 3}, (uint32_t[]){0, 0, 0}, 3);
    s.result = 0;
    assert_int_equal(push(&r, 4, 0), SL_OK);
    assert_int_equal(s.count, 4);
    /* Packets still waiting at free are dropped without leaking. */
    push_all(&r, (uint16_t[]){6, 7}, 2);
    assert_int_equal(r.held, 2);
    sl_rtp_reorder_free(&r);
    assert_int_equal(s.count, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_swapped_and_late_fill),
        cmocka_unit_test(test_gap_released_by_window),
        cmocka_unit_test(test_gap_released_by_time),
        cmocka_unit_test(test_duplicates_and_old),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
