#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protocols/rtmp/chunk.h"
#include "protocols/rtmp/message.h"

/* The 12-byte header every control message starts with: fmt 0, csid 2, timestamp 0,
 * then length and type, message stream 0. */
#define CTRL_HDR(len, type) 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, (len), (type), 0x00, 0x00, 0x00, 0x00

static void assert_bytes(sl_bytes_t *out, const uint8_t *want, size_t n)
{
    assert_int_equal(out->len, n);
    assert_memory_equal(out->data, want, n);
    sl_bytes_free(out);
}

static void test_encode_protocol_control(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);

    assert_int_equal(sl_rtmp_write_set_chunk_size(&out, 4096), SL_OK);
    static const uint8_t scs[] = {CTRL_HDR(4, 1), 0x00, 0x00, 0x10, 0x00};
    assert_bytes(&out, scs, sizeof(scs));

    assert_int_equal(sl_rtmp_write_abort(&out, 7), SL_OK);
    static const uint8_t abort_[] = {CTRL_HDR(4, 2), 0x00, 0x00, 0x00, 0x07};
    assert_bytes(&out, abort_, sizeof(abort_));

    assert_int_equal(sl_rtmp_write_ack(&out, 0x12345678), SL_OK);
    static const uint8_t ack[] = {CTRL_HDR(4, 3), 0x12, 0x34, 0x56, 0x78};
    assert_bytes(&out, ack, sizeof(ack));

    assert_int_equal(sl_rtmp_write_window_ack_size(&out, 2500000), SL_OK);
    static const uint8_t was[] = {CTRL_HDR(4, 5), 0x00, 0x26, 0x25, 0xA0};
    assert_bytes(&out, was, sizeof(was));

    assert_int_equal(sl_rtmp_write_set_peer_bandwidth(&out, 2500000, SL_RTMP_BW_DYNAMIC), SL_OK);
    static const uint8_t spb[] = {CTRL_HDR(5, 6), 0x00, 0x26, 0x25, 0xA0, 0x02};
    assert_bytes(&out, spb, sizeof(spb));
}

static void test_encode_user_control(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);

    assert_int_equal(sl_rtmp_write_stream_begin(&out, 1), SL_OK);
    static const uint8_t begin[] = {CTRL_HDR(6, 4), 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    assert_bytes(&out, begin, sizeof(begin));

    assert_int_equal(sl_rtmp_write_stream_eof(&out, 0x01020304), SL_OK);
    static const uint8_t eof[] = {CTRL_HDR(6, 4), 0x00, 0x01, 0x01, 0x02, 0x03, 0x04};
    assert_bytes(&out, eof, sizeof(eof));

    assert_int_equal(sl_rtmp_write_stream_is_recorded(&out, 1), SL_OK);
    static const uint8_t rec[] = {CTRL_HDR(6, 4), 0x00, 0x04, 0x00, 0x00, 0x00, 0x01};
    assert_bytes(&out, rec, sizeof(rec));

    assert_int_equal(sl_rtmp_write_ping_request(&out, 0xDEADBEEF), SL_OK);
    static const uint8_t ping[] = {CTRL_HDR(6, 4), 0x00, 0x06, 0xDE, 0xAD, 0xBE, 0xEF};
    assert_bytes(&out, ping, sizeof(ping));

    assert_int_equal(sl_rtmp_write_ping_response(&out, 0xDEADBEEF), SL_OK);
    static const uint8_t pong[] = {CTRL_HDR(6, 4), 0x00, 0x07, 0xDE, 0xAD, 0xBE, 0xEF};
    assert_bytes(&out, pong, sizeof(pong));
}

/* Encoders append to what is there, and leave it untouched on a refused value. */
static void test_encode_appends_and_refuses(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtmp_write_ack(&out, 1), SL_OK);
    assert_int_equal(sl_rtmp_write_ack(&out, 2), SL_OK);
    assert_int_equal(out.len, 32);
    assert_int_equal(out.data[31], 2);
    assert_int_equal(sl_rtmp_write_set_chunk_size(&out, 0), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_write_set_chunk_size(&out, 0x1000000), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_write_set_peer_bandwidth(&out, 1, 3), SL_ERR_PROTO);
    assert_int_equal(out.len, 32);
    assert_int_equal(sl_rtmp_write_set_chunk_size(&out, 0xFFFFFF), SL_OK);
    assert_int_equal(out.len, 48);
    sl_bytes_free(&out);
}

/* ---- parsing, and round trips through the chunk reader ---- */

typedef struct last_msg {
    int n;
    uint8_t type;
    uint8_t body[16];
    size_t len;
} last_msg_t;

static int keep_last(void *arg, const sl_rtmp_msg_t *msg)
{
    last_msg_t *m = arg;
    assert_true(msg->body->len <= sizeof(m->body));
    m->n++;
    m->type = msg->type;
    m->len = msg->body->len;
    memcpy(m->body, msg->body->data, m->len);
    return 0;
}

/* Reads the one message in out back through a reader. */
static last_msg_t read_back(sl_bytes_t *out)
{
    last_msg_t m = {0};
    sl_rtmp_reader_t r;
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(sl_rtmp_reader_feed(&r, out->data, out->len, keep_last, &m), SL_OK);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(out);
    assert_int_equal(m.n, 1);
    return m;
}

static void test_control_round_trip(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    uint32_t v = 0;

    assert_int_equal(sl_rtmp_write_set_chunk_size(&out, 60000), SL_OK);
    last_msg_t m = read_back(&out);
    assert_int_equal(m.type, SL_RTMP_MSG_SET_CHUNK_SIZE);
    assert_int_equal(sl_rtmp_control_parse(m.type, m.body, m.len, &v), SL_OK);
    assert_int_equal(v, 60000);

    assert_int_equal(sl_rtmp_write_abort(&out, 9), SL_OK);
    m = read_back(&out);
    assert_int_equal(sl_rtmp_control_parse(m.type, m.body, m.len, &v), SL_OK);
    assert_int_equal(v, 9);

    assert_int_equal(sl_rtmp_write_ack(&out, 0xFFFFFFFF), SL_OK);
    m = read_back(&out);
    assert_int_equal(m.type, SL_RTMP_MSG_ACK);
    assert_int_equal(sl_rtmp_control_parse(m.type, m.body, m.len, &v), SL_OK);
    assert_int_equal(v, 0xFFFFFFFF);

    assert_int_equal(sl_rtmp_write_window_ack_size(&out, 5000000), SL_OK);
    m = read_back(&out);
    assert_int_equal(m.type, SL_RTMP_MSG_WINDOW_ACK_SIZE);
    assert_int_equal(sl_rtmp_control_parse(m.type, m.body, m.len, &v), SL_OK);
    assert_int_equal(v, 5000000);

    uint8_t limit = 9;
    assert_int_equal(sl_rtmp_write_set_peer_bandwidth(&out, 5000000, SL_RTMP_BW_SOFT), SL_OK);
    m = read_back(&out);
    assert_int_equal(m.type, SL_RTMP_MSG_SET_PEER_BANDWIDTH);
    assert_int_equal(sl_rtmp_peer_bandwidth_parse(m.body, m.len, &v, &limit), SL_OK);
    assert_int_equal(v, 5000000);
    assert_int_equal(limit, SL_RTMP_BW_SOFT);
}

static void test_user_control_round_trip(void **state)
{
    static const struct {
        int (*write)(sl_bytes_t *, uint32_t);
        uint16_t event;
    } cases[] = {
        {sl_rtmp_write_stream_begin, SL_RTMP_UC_STREAM_BEGIN},
        {sl_rtmp_write_stream_eof, SL_RTMP_UC_STREAM_EOF},
        {sl_rtmp_write_stream_is_recorded, SL_RTMP_UC_STREAM_IS_RECORDED},
        {sl_rtmp_write_ping_request, SL_RTMP_UC_PING_REQUEST},
        {sl_rtmp_write_ping_response, SL_RTMP_UC_PING_RESPONSE},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        sl_bytes_t out;
        sl_bytes_init(&out);
        assert_int_equal(cases[i].write(&out, 0x80000001u + (uint32_t)i), SL_OK);
        last_msg_t m = read_back(&out);
        assert_int_equal(m.type, SL_RTMP_MSG_USER_CONTROL);
        uint16_t event = 0xFFFF;
        uint32_t value = 0;
        assert_int_equal(sl_rtmp_user_control_parse(m.body, m.len, &event, &value), SL_OK);
        assert_int_equal(event, cases[i].event);
        assert_int_equal(value, 0x80000001u + (uint32_t)i);
    }
}

static void test_control_parse_errors(void **state)
{
    static const uint8_t b[] = {0x80, 0x00, 0x10, 0x00, 0x02, 0x77};
    uint32_t v = 0;
    /* The reserved top bit of a chunk size is cleared; other values keep it. */
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_SET_CHUNK_SIZE, b, 4, &v), SL_OK);
    assert_int_equal(v, 4096);
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_ACK, b, 4, &v), SL_OK);
    assert_int_equal(v, 0x80001000);
    /* Extra bytes are ignored, missing ones refused. */
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_WINDOW_ACK_SIZE, b, 6, &v), SL_OK);
    assert_int_equal(v, 0x80001000);
    v = 5;
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_ABORT, b, 3, &v), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_ACK, b, 0, &v), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_VIDEO, b, 4, &v), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_rtmp_control_parse(SL_RTMP_MSG_SET_PEER_BANDWIDTH, b, 5, &v),
                     SL_ERR_UNSUPPORTED);
    assert_int_equal(v, 5);

    uint8_t limit = 9;
    assert_int_equal(sl_rtmp_peer_bandwidth_parse(b, 4, &v, &limit), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_peer_bandwidth_parse(b + 1, 5, &v, &limit), SL_ERR_PROTO);
    assert_int_equal(limit, 9);
    assert_int_equal(sl_rtmp_peer_bandwidth_parse(b, 5, &v, &limit), SL_OK);
    assert_int_equal(v, 0x80001000);
    assert_int_equal(limit, SL_RTMP_BW_DYNAMIC);
}

static void test_user_control_parse_errors(void **state)
{
    uint16_t event = 0xFFFF;
    uint32_t value = 7;
    static const uint8_t begin_short[] = {0x00, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal(sl_rtmp_user_control_parse(begin_short, sizeof(begin_short), &event, &value),
                     SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_user_control_parse(begin_short, 1, &event, &value), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_user_control_parse(begin_short, 0, &event, &value), SL_ERR_PROTO);
    assert_int_equal(event, 0xFFFF);
    assert_int_equal(value, 7);

    /* Set Buffer Length needs the stream id and the buffer length. */
    static const uint8_t sbl[] = {0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0B, 0xB8};
    assert_int_equal(sl_rtmp_user_control_parse(sbl, 9, &event, &value), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_user_control_parse(sbl, sizeof(sbl), &event, &value), SL_OK);
    assert_int_equal(event, SL_RTMP_UC_SET_BUFFER_LENGTH);
    assert_int_equal(value, 1);

    /* An unknown event without a value (SWF verification request) is not an error. */
    static const uint8_t swfv[] = {0x00, 0x1A};
    assert_int_equal(sl_rtmp_user_control_parse(swfv, sizeof(swfv), &event, &value), SL_OK);
    assert_int_equal(event, 0x1A);
    assert_int_equal(value, 0);
    static const uint8_t unknown[] = {0x00, 0x20, 0x01, 0x02, 0x03, 0x04, 0x05};
    assert_int_equal(sl_rtmp_user_control_parse(unknown, sizeof(unknown), &event, &value), SL_OK);
    assert_int_equal(event, 0x20);
    assert_int_equal(value, 0x01020304);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_protocol_control),
        cmocka_unit_test(test_encode_user_control),
        cmocka_unit_test(test_encode_appends_and_refuses),
        cmocka_unit_test(test_control_round_trip),
        cmocka_unit_test(test_user_control_round_trip),
        cmocka_unit_test(test_control_parse_errors),
        cmocka_unit_test(test_user_control_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
