#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "protocols/rtmp/chunk.h"
#include "protocols/rtmp/message.h"

#define MAX_MSGS 80

/* Keeps a reference to every delivered message. */
typedef struct collector {
    int n;
    sl_rtmp_msg_t m[MAX_MSGS];
    int stop_at; /* return stop_rc after this many messages, when stop_rc != 0 */
    int stop_rc;
} collector_t;

static int collect(void *arg, const sl_rtmp_msg_t *msg)
{
    collector_t *c = arg;
    assert_true(c->n < MAX_MSGS);
    c->m[c->n] = *msg;
    sl_buf_ref(msg->body);
    c->n++;
    return c->stop_rc != 0 && c->n == c->stop_at ? c->stop_rc : 0;
}

static void collector_free(collector_t *c)
{
    for (int i = 0; i < c->n; i++) sl_buf_unref(c->m[i].body);
    c->n = 0;
}

static void assert_msg(const sl_rtmp_msg_t *m, uint32_t csid, uint8_t type, uint32_t stream_id,
                       uint32_t timestamp, const uint8_t *body, size_t len)
{
    assert_int_equal(m->csid, csid);
    assert_int_equal(m->type, type);
    assert_int_equal(m->stream_id, stream_id);
    assert_int_equal(m->timestamp, timestamp);
    assert_int_equal(m->body->len, len);
    if (len > 0) assert_memory_equal(m->body->data, body, len);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* Feeds a whole byte string in one call and expects rc. */
static int feed_all(sl_rtmp_reader_t *r, const uint8_t *p, size_t n, collector_t *c)
{
    return sl_rtmp_reader_feed(r, p, n, collect, c);
}

/* ---- round trips through the writer, at every split ---- */

typedef struct rt_stream {
    sl_bytes_t wire;
    uint8_t a[1000], b[300], d[10000];
    uint32_t chunk_size;
} rt_stream_t;

/* Several messages, including an extended timestamp and an empty one, written with
 * chunk_size (announced first by Set Chunk Size when it is not the default). */
static void rt_build(rt_stream_t *s, uint32_t chunk_size)
{
    sl_bytes_init(&s->wire);
    s->chunk_size = chunk_size;
    fill(s->a, sizeof(s->a), 1);
    fill(s->b, sizeof(s->b), 2);
    fill(s->d, sizeof(s->d), 3);
    if (chunk_size != SL_RTMP_DEFAULT_CHUNK_SIZE)
        assert_int_equal(sl_rtmp_write_set_chunk_size(&s->wire, chunk_size), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&s->wire, 6, SL_RTMP_MSG_VIDEO, 1, 1000, s->a,
                                         sizeof(s->a), chunk_size), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&s->wire, 4, SL_RTMP_MSG_AUDIO, 1, 0x01000000, s->b,
                                         sizeof(s->b), chunk_size), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&s->wire, 3, SL_RTMP_MSG_COMMAND_AMF0, 0, 5, NULL, 0,
                                         chunk_size), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&s->wire, 320, SL_RTMP_MSG_VIDEO, 1, 0xFFFFFF, s->d,
                                         sizeof(s->d), chunk_size), SL_OK);
}

static void rt_check(const rt_stream_t *s, const collector_t *c)
{
    int i = 0;
    if (s->chunk_size != SL_RTMP_DEFAULT_CHUNK_SIZE) {
        uint8_t cs[4];
        sl_wr_be32(cs, s->chunk_size);
        assert_msg(&c->m[i++], 2, SL_RTMP_MSG_SET_CHUNK_SIZE, 0, 0, cs, 4);
    }
    assert_int_equal(c->n, i + 4);
    assert_msg(&c->m[i++], 6, SL_RTMP_MSG_VIDEO, 1, 1000, s->a, sizeof(s->a));
    assert_msg(&c->m[i++], 4, SL_RTMP_MSG_AUDIO, 1, 0x01000000, s->b, sizeof(s->b));
    assert_msg(&c->m[i++], 3, SL_RTMP_MSG_COMMAND_AMF0, 0, 5, NULL, 0);
    assert_msg(&c->m[i++], 320, SL_RTMP_MSG_VIDEO, 1, 0xFFFFFF, s->d, sizeof(s->d));
}

static void rt_at_splits(uint32_t chunk_size)
{
    rt_stream_t s;
    rt_build(&s, chunk_size);
    const uint8_t *w = s.wire.data;
    size_t n = s.wire.len;
    sl_rtmp_reader_t r;
    collector_t c = {0};

    /* All at once. */
    sl_rtmp_reader_init(&r, 1 << 20);
    assert_int_equal(feed_all(&r, w, n, &c), SL_OK);
    rt_check(&s, &c);
    assert_int_equal(sl_rtmp_reader_bytes(&r), n);
    collector_free(&c);
    sl_rtmp_reader_free(&r);

    /* One byte at a time. */
    sl_rtmp_reader_init(&r, 1 << 20);
    for (size_t i = 0; i < n; i++) assert_int_equal(feed_all(&r, w + i, 1, &c), SL_OK);
    rt_check(&s, &c);
    assert_int_equal(sl_rtmp_reader_bytes(&r), n);
    collector_free(&c);
    sl_rtmp_reader_free(&r);

    /* Every 2-way split, empty feeds included. */
    for (size_t split = 0; split <= n; split++) {
        sl_rtmp_reader_init(&r, 1 << 20);
        assert_int_equal(feed_all(&r, w, split, &c), SL_OK);
        assert_int_equal(feed_all(&r, w + split, n - split, &c), SL_OK);
        rt_check(&s, &c);
        collector_free(&c);
        sl_rtmp_reader_free(&r);
    }
    sl_bytes_free(&s.wire);
}

static void test_roundtrip_chunk_128(void **state) { rt_at_splits(128); }
static void test_roundtrip_chunk_4096(void **state) { rt_at_splits(4096); }

/* ---- hand-built headers ---- */

static void test_header_formats(void **state)
{
    static const uint8_t wire[] = {
        /* fmt 0, csid 3: ts 1000, len 4, type 9, stream 1 (little-endian) */
        0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x04, 0x09, 0x01, 0x00, 0x00, 0x00,
        0xA0, 0xA1, 0xA2, 0xA3,
        /* fmt 1: delta 20, len 3, type 8 */
        0x43, 0x00, 0x00, 0x14, 0x00, 0x00, 0x03, 0x08, 0xB0, 0xB1, 0xB2,
        /* fmt 2: delta 30 */
        0x83, 0x00, 0x00, 0x1E, 0xC0, 0xC1, 0xC2,
        /* fmt 3 starting a new message: reuses delta 30, len 3, type 8 */
        0xC3, 0xD0, 0xD1, 0xD2,
    };
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, wire, sizeof(wire), &c), SL_OK);
    assert_int_equal(c.n, 4);
    assert_msg(&c.m[0], 3, 9, 1, 1000, (const uint8_t[]){0xA0, 0xA1, 0xA2, 0xA3}, 4);
    assert_msg(&c.m[1], 3, 8, 1, 1020, (const uint8_t[]){0xB0, 0xB1, 0xB2}, 3);
    assert_msg(&c.m[2], 3, 8, 1, 1050, (const uint8_t[]){0xC0, 0xC1, 0xC2}, 3);
    assert_msg(&c.m[3], 3, 8, 1, 1080, (const uint8_t[]){0xD0, 0xD1, 0xD2}, 3);
    assert_int_equal(sl_rtmp_reader_bytes(&r), sizeof(wire));
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

/* A fmt 3 new message right after a fmt 0 one has delta 0: the same timestamp, even
 * when an earlier fmt 2 on that chunk stream had a delta. */
static void test_fmt3_after_fmt0(void **state)
{
    static const uint8_t wire[] = {
        0x05, 0x00, 0x00, 0x64, 0x00, 0x00, 0x01, 0x08, 0x01, 0x00, 0x00, 0x00, 0xAA,
        0x85, 0x00, 0x00, 0x05, 0xAB,
        0x05, 0x00, 0x00, 0xC8, 0x00, 0x00, 0x01, 0x08, 0x01, 0x00, 0x00, 0x00, 0xAC,
        0xC5, 0xBB,
    };
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, wire, sizeof(wire), &c), SL_OK);
    assert_int_equal(c.n, 4);
    assert_msg(&c.m[0], 5, 8, 1, 100, (const uint8_t[]){0xAA}, 1);
    assert_msg(&c.m[1], 5, 8, 1, 105, (const uint8_t[]){0xAB}, 1);
    assert_msg(&c.m[2], 5, 8, 1, 200, (const uint8_t[]){0xAC}, 1);
    assert_msg(&c.m[3], 5, 8, 1, 200, (const uint8_t[]){0xBB}, 1);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

static void check_basic_header(uint32_t csid, const uint8_t *basic, size_t basic_len)
{
    uint8_t wire[32];
    static const uint8_t rest[] = {0x00, 0x00, 0x07, 0x00, 0x00, 0x02, 0x14,
                                   0x00, 0x00, 0x00, 0x00, 0x55, 0x66};
    memcpy(wire, basic, basic_len);
    memcpy(wire + basic_len, rest, sizeof(rest));
    size_t n = basic_len + sizeof(rest);

    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, wire, n, &c), SL_OK);
    assert_int_equal(c.n, 1);
    assert_msg(&c.m[0], csid, 20, 0, 7, (const uint8_t[]){0x55, 0x66}, 2);
    collector_free(&c);
    sl_rtmp_reader_free(&r);

    /* The writer produces exactly these bytes. */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtmp_chunk_write(&out, csid, 20, 0, 7, (const uint8_t[]){0x55, 0x66}, 2,
                                         128), SL_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, wire, n);
    sl_bytes_free(&out);
}

static void test_basic_headers(void **state)
{
    check_basic_header(2, (const uint8_t[]){0x02}, 1);
    check_basic_header(3, (const uint8_t[]){0x03}, 1);
    check_basic_header(63, (const uint8_t[]){0x3F}, 1);
    check_basic_header(64, (const uint8_t[]){0x00, 0x00}, 2);
    check_basic_header(319, (const uint8_t[]){0x00, 0xFF}, 2);
    check_basic_header(320, (const uint8_t[]){0x01, 0x00, 0x01}, 3);
    check_basic_header(65599, (const uint8_t[]){0x01, 0xFF, 0xFF}, 3);
}

/* 3-byte basic header form used for a small csid: still csid 64 + value. */
static void test_basic_header_long_form_small_csid(void **state)
{
    static const uint8_t wire[] = {0x01, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x08,
                                   0x00, 0x00, 0x00, 0x00, 0x42};
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, wire, sizeof(wire), &c), SL_OK);
    assert_int_equal(c.n, 1);
    assert_msg(&c.m[0], 69, 8, 0, 1, (const uint8_t[]){0x42}, 1);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

static void test_extended_timestamps(void **state)
{
    uint8_t body[200];
    fill(body, sizeof(body), 9);
    sl_bytes_t w;
    sl_bytes_init(&w);
    /* fmt 0 with extended timestamp 0x01020304, two chunks of 128 + 72. */
    static const uint8_t h0[] = {0x04, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xC8, 0x09,
                                 0x01, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04};
    static const uint8_t h3[] = {0xC4, 0x01, 0x02, 0x03, 0x04};
    assert_int_equal(sl_bytes_append(&w, h0, sizeof(h0)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body, 128), SL_OK);
    assert_int_equal(sl_bytes_append(&w, h3, sizeof(h3)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body + 128, 72), SL_OK);
    size_t first = w.len;

    /* The writer agrees byte for byte. */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtmp_chunk_write(&out, 4, 9, 1, 0x01020304, body, sizeof(body), 128),
                     SL_OK);
    assert_int_equal(out.len, first);
    assert_memory_equal(out.data, w.data, first);
    sl_bytes_free(&out);

    /* fmt 3 starting a new message after the extended header: 4 bytes again, delta 0. */
    assert_int_equal(sl_bytes_append(&w, h3, sizeof(h3)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body, 128), SL_OK);
    assert_int_equal(sl_bytes_append(&w, h3, sizeof(h3)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body + 128, 72), SL_OK);
    /* fmt 2 with an extended delta 0x01000000, its continuation repeating it. */
    static const uint8_t h2[] = {0x84, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t h3b[] = {0xC4, 0x01, 0x00, 0x00, 0x00};
    assert_int_equal(sl_bytes_append(&w, h2, sizeof(h2)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body, 128), SL_OK);
    assert_int_equal(sl_bytes_append(&w, h3b, sizeof(h3b)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body + 128, 72), SL_OK);
    /* fmt 2 with a plain delta: the continuation has no extended bytes any more. */
    static const uint8_t h2b[] = {0x84, 0x00, 0x00, 0x10};
    assert_int_equal(sl_bytes_append(&w, h2b, sizeof(h2b)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body, 128), SL_OK);
    assert_int_equal(sl_bytes_put_u8(&w, 0xC4), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body + 128, 72), SL_OK);

    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    for (size_t i = 0; i < w.len; i++) assert_int_equal(feed_all(&r, w.data + i, 1, &c), SL_OK);
    assert_int_equal(c.n, 4);
    assert_msg(&c.m[0], 4, 9, 1, 0x01020304, body, sizeof(body));
    assert_msg(&c.m[1], 4, 9, 1, 0x01020304, body, sizeof(body));
    assert_msg(&c.m[2], 4, 9, 1, 0x02020304, body, sizeof(body));
    assert_msg(&c.m[3], 4, 9, 1, 0x02020314, body, sizeof(body));
    collector_free(&c);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&w);
}

/* Timestamps are delivered as 32-bit values that wrap. */
static void test_timestamp_wraps(void **state)
{
    static const uint8_t wire[] = {
        0x04, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x09, 0x01, 0x00, 0x00, 0x00,
        0xFF, 0xFF, 0xFF, 0xF0, 0x11,
        0x84, 0x00, 0x00, 0x20, 0x22,
    };
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, wire, sizeof(wire), &c), SL_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.m[0].timestamp, 0xFFFFFFF0u);
    assert_int_equal(c.m[1].timestamp, 0x10);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

static void test_interleaved(void **state)
{
    uint8_t a[300], b[200];
    fill(a, sizeof(a), 4);
    fill(b, sizeof(b), 5);
    sl_bytes_t wa, wb, w;
    sl_bytes_init(&wa);
    sl_bytes_init(&wb);
    sl_bytes_init(&w);
    assert_int_equal(sl_rtmp_chunk_write(&wa, 4, 9, 1, 40, a, sizeof(a), 128), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&wb, 6, 8, 1, 45, b, sizeof(b), 128), SL_OK);
    /* a: 12+128, 1+128, 1+44; b: 12+128, 1+72 */
    assert_int_equal(wa.len, 12 + 128 + 1 + 128 + 1 + 44);
    assert_int_equal(wb.len, 12 + 128 + 1 + 72);
    assert_int_equal(sl_bytes_append(&w, wa.data, 140), SL_OK);
    assert_int_equal(sl_bytes_append(&w, wb.data, 140), SL_OK);
    assert_int_equal(sl_bytes_append(&w, wa.data + 140, 129), SL_OK);
    assert_int_equal(sl_bytes_append(&w, wb.data + 140, 73), SL_OK);
    assert_int_equal(sl_bytes_append(&w, wa.data + 269, 45), SL_OK);

    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, w.data, w.len, &c), SL_OK);
    assert_int_equal(c.n, 2);
    assert_msg(&c.m[0], 6, 8, 1, 45, b, sizeof(b));
    assert_msg(&c.m[1], 4, 9, 1, 40, a, sizeof(a));
    collector_free(&c);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&wa);
    sl_bytes_free(&wb);
    sl_bytes_free(&w);
}

static void test_set_chunk_size_mid_stream(void **state)
{
    uint8_t body[1000];
    fill(body, sizeof(body), 6);
    sl_bytes_t w;
    sl_bytes_init(&w);
    /* The reserved top bit is ignored: 0x80001000 means 4096. */
    static const uint8_t scs[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01,
                                  0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00};
    assert_int_equal(sl_rtmp_chunk_write(&w, 4, 9, 1, 0, body, sizeof(body), 128), SL_OK);
    assert_int_equal(sl_bytes_append(&w, scs, sizeof(scs)), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&w, 4, 9, 1, 33, body, sizeof(body), 4096), SL_OK);

    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1 << 16);
    assert_int_equal(feed_all(&r, w.data, w.len, &c), SL_OK);
    assert_int_equal(c.n, 3);
    assert_msg(&c.m[0], 4, 9, 1, 0, body, sizeof(body));
    assert_msg(&c.m[1], 2, 1, 0, 0, scs + 12, 4);
    assert_msg(&c.m[2], 4, 9, 1, 33, body, sizeof(body));
    assert_int_equal(r.chunk_size, 4096);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&w);
}

static void test_abort(void **state)
{
    uint8_t body[300];
    fill(body, sizeof(body), 7);
    sl_bytes_t w, part;
    sl_bytes_init(&w);
    sl_bytes_init(&part);
    assert_int_equal(sl_rtmp_chunk_write(&part, 4, 9, 1, 0, body, sizeof(body), 128), SL_OK);
    /* First chunk of the 300-byte message only, then abort csid 4. */
    assert_int_equal(sl_bytes_append(&w, part.data, 12 + 128), SL_OK);
    assert_int_equal(sl_rtmp_write_abort(&w, 4), SL_OK);
    /* A new fmt 0 message on csid 4 starts from scratch. */
    assert_int_equal(sl_rtmp_chunk_write(&w, 4, 8, 1, 9, body, 10, 128), SL_OK);

    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, w.data, w.len, &c), SL_OK);
    assert_int_equal(c.n, 2);
    assert_msg(&c.m[0], 2, SL_RTMP_MSG_ABORT, 0, 0, (const uint8_t[]){0, 0, 0, 4}, 4);
    assert_msg(&c.m[1], 4, 8, 1, 9, body, 10);
    assert_int_equal(r.pending, 0);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&w);
    sl_bytes_free(&part);
}

/* A fmt 1 header mid-message that restates the message continues it. */
static void test_restated_header_mid_message(void **state)
{
    uint8_t body[200];
    fill(body, sizeof(body), 8);
    sl_bytes_t w;
    sl_bytes_init(&w);
    static const uint8_t h0[] = {0x04, 0x00, 0x00, 0x0A, 0x00, 0x00, 0xC8, 0x09,
                                 0x01, 0x00, 0x00, 0x00};
    static const uint8_t h1[] = {0x44, 0x00, 0x00, 0x05, 0x00, 0x00, 0xC8, 0x09};
    assert_int_equal(sl_bytes_append(&w, h0, sizeof(h0)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body, 128), SL_OK);
    assert_int_equal(sl_bytes_append(&w, h1, sizeof(h1)), SL_OK);
    assert_int_equal(sl_bytes_append(&w, body + 128, 72), SL_OK);

    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, w.data, w.len, &c), SL_OK);
    assert_int_equal(c.n, 1);
    assert_msg(&c.m[0], 4, 9, 1, 10, body, sizeof(body));
    collector_free(&c);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&w);
}

/* ---- errors ---- */

static void expect_error(const uint8_t *wire, size_t n, uint32_t max, int rc, int delivered)
{
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, max);
    assert_int_equal(feed_all(&r, wire, n, &c), rc);
    assert_int_equal(c.n, delivered);
    /* Errors are sticky. */
    assert_int_equal(feed_all(&r, (const uint8_t[]){0x03}, 1, &c), rc);
    collector_free(&c);
    sl_rtmp_reader_free(&r);

    /* The same one byte at a time. */
    sl_rtmp_reader_init(&r, max);
    int got = SL_OK;
    for (size_t i = 0; i < n && got == SL_OK; i++) got = feed_all(&r, wire + i, 1, &c);
    assert_int_equal(got, rc);
    assert_int_equal(c.n, delivered);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

static void test_error_fresh_csid(void **state)
{
    expect_error((const uint8_t[]){0xC5, 0x00}, 2, 1000, SL_ERR_PROTO, 0);
    expect_error((const uint8_t[]){0x85, 0x00, 0x00, 0x01, 0x00}, 5, 1000, SL_ERR_PROTO, 0);
    expect_error((const uint8_t[]){0x45, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x08, 0x00}, 9,
                 1000, SL_ERR_PROTO, 0);
    /* Known csid 3 does not make csid 5 known. */
    expect_error((const uint8_t[]){0x03, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0xC5, 0x00}, 14, 1000,
                 SL_ERR_PROTO, 1);
}

static void test_error_too_long(void **state)
{
    /* Declared length 1001 against a 1000-byte limit: refused at the header. */
    static const uint8_t wire[] = {0x03, 0, 0, 0, 0x00, 0x03, 0xE9, 0x09, 0, 0, 0, 0};
    expect_error(wire, sizeof(wire), 1000, SL_ERR_TOO_BIG, 0);
    static const uint8_t ok[] = {0x03, 0, 0, 0, 0x00, 0x00, 0x00, 0x09, 0, 0, 0, 0};
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 0);
    assert_int_equal(feed_all(&r, ok, sizeof(ok), &c), SL_OK);
    assert_int_equal(c.n, 1);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

static void test_error_length_changes(void **state)
{
    uint8_t w[12 + 128 + 8];
    static const uint8_t h0[] = {0x04, 0, 0, 0, 0x00, 0x01, 0x2C, 0x09, 1, 0, 0, 0};
    static const uint8_t h1[] = {0x44, 0, 0, 0, 0x00, 0x01, 0x2D, 0x09};
    memcpy(w, h0, 12);
    memset(w + 12, 0x5A, 128);
    memcpy(w + 140, h1, 8);
    expect_error(w, sizeof(w), 1000, SL_ERR_PROTO, 0);
    /* Same length, other type. */
    w[147] = 0x08;
    w[146] = 0x2C;
    expect_error(w, sizeof(w), 1000, SL_ERR_PROTO, 0);
}

static void chunk_size_message(uint8_t *w, uint32_t size)
{
    static const uint8_t h[] = {0x02, 0, 0, 0, 0x00, 0x00, 0x04, 0x01, 0, 0, 0, 0};
    memcpy(w, h, 12);
    sl_wr_be32(w + 12, size);
}

static void test_error_chunk_size(void **state)
{
    uint8_t w[16];
    chunk_size_message(w, 0x06400000); /* 100 MB */
    expect_error(w, sizeof(w), 1000, SL_ERR_TOO_BIG, 0);
    chunk_size_message(w, 0x01000000);
    expect_error(w, sizeof(w), 1000, SL_ERR_TOO_BIG, 0);
    chunk_size_message(w, 0);
    expect_error(w, sizeof(w), 1000, SL_ERR_PROTO, 0);
    chunk_size_message(w, 0x80000000); /* 0 once the reserved bit is cleared */
    expect_error(w, sizeof(w), 1000, SL_ERR_PROTO, 0);
    /* A short body. */
    static const uint8_t shortb[] = {0x02, 0, 0, 0, 0x00, 0x00, 0x03, 0x01, 0, 0, 0, 0, 0, 1, 0};
    expect_error(shortb, sizeof(shortb), 1000, SL_ERR_PROTO, 0);
    /* The largest accepted. */
    chunk_size_message(w, 0xFFFFFF);
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, w, sizeof(w), &c), SL_OK);
    assert_int_equal(r.chunk_size, 0xFFFFFF);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
}

static void test_error_too_many_csids(void **state)
{
    sl_bytes_t w;
    sl_bytes_init(&w);
    for (uint32_t csid = 3; csid < 3 + 65; csid++)
        assert_int_equal(sl_rtmp_chunk_write(&w, csid, 8, 1, 0, NULL, 0, 128), SL_OK);
    expect_error(w.data, w.len, 1000, SL_ERR_TOO_BIG, 64);
    sl_bytes_free(&w);
}

/* Partial messages together may not declare more than 4 * max_message_bytes. */
static void test_error_too_many_partial_bytes(void **state)
{
    sl_bytes_t w;
    sl_bytes_init(&w);
    static const uint8_t h[] = {0x00, 0, 0, 0, 0x00, 0x03, 0xE8, 0x09, 1, 0, 0, 0};
    for (uint8_t csid = 3; csid < 8; csid++) {
        assert_int_equal(sl_bytes_append(&w, h, sizeof(h)), SL_OK);
        w.data[w.len - sizeof(h)] = csid;
        assert_int_equal(sl_bytes_append(&w, (const uint8_t[128]){0}, 128), SL_OK);
    }
    expect_error(w.data, w.len, 1000, SL_ERR_TOO_BIG, 0);
    sl_bytes_free(&w);
}

static void test_callback_stops(void **state)
{
    sl_bytes_t w;
    sl_bytes_init(&w);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sl_rtmp_chunk_write(&w, 3, 8, 1, (uint32_t)i, (const uint8_t[]){1}, 1, 128),
                         SL_OK);
    sl_rtmp_reader_t r;
    collector_t c = {.stop_at = 2, .stop_rc = 7};
    sl_rtmp_reader_init(&r, 1000);
    assert_int_equal(feed_all(&r, w.data, w.len, &c), 7);
    assert_int_equal(c.n, 2);
    assert_int_equal(feed_all(&r, w.data, w.len, &c), 7);
    assert_int_equal(c.n, 2);
    collector_free(&c);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&w);
}

/* Freed with partial messages on two chunk streams: ASan reports any leak. */
static void test_free_mid_message(void **state)
{
    uint8_t body[500];
    fill(body, sizeof(body), 1);
    sl_bytes_t a, b;
    sl_bytes_init(&a);
    sl_bytes_init(&b);
    assert_int_equal(sl_rtmp_chunk_write(&a, 4, 9, 1, 0, body, sizeof(body), 128), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&b, 6, 8, 1, 0, body, sizeof(body), 128), SL_OK);
    sl_rtmp_reader_t r;
    collector_t c = {0};
    sl_rtmp_reader_init(&r, 1000);
    /* Two chunks of a, one of b, then a chunk header of a and a few payload bytes. */
    assert_int_equal(feed_all(&r, a.data, 12 + 128 + 1 + 128, &c), SL_OK);
    assert_int_equal(feed_all(&r, b.data, 12 + 128, &c), SL_OK);
    assert_int_equal(feed_all(&r, a.data + 269, 11, &c), SL_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(r.pending, 1000);
    sl_rtmp_reader_free(&r);
    sl_bytes_free(&a);
    sl_bytes_free(&b);
}

/* ---- writer ---- */

static void test_write_byte_exact(void **state)
{
    uint8_t body[130];
    fill(body, sizeof(body), 3);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtmp_chunk_write(&out, 5, 9, 0x01020304, 0x00ABCDEF, body, sizeof(body),
                                         128), SL_OK);
    static const uint8_t h0[] = {0x05, 0xAB, 0xCD, 0xEF, 0x00, 0x00, 0x82, 0x09,
                                 0x04, 0x03, 0x02, 0x01};
    assert_int_equal(out.len, 12 + 128 + 1 + 2);
    assert_memory_equal(out.data, h0, 12);
    assert_memory_equal(out.data + 12, body, 128);
    assert_int_equal(out.data[140], 0xC5);
    assert_memory_equal(out.data + 141, body + 128, 2);
    sl_bytes_free(&out);

    /* Exactly a multiple of the chunk size: no empty trailing chunk. */
    assert_int_equal(sl_rtmp_chunk_write(&out, 5, 9, 0, 0, body, 128, 64), SL_OK);
    assert_int_equal(out.len, 12 + 64 + 1 + 64);
    sl_bytes_free(&out);

    /* csid 400 with the extended timestamp on every chunk. */
    assert_int_equal(sl_rtmp_chunk_write(&out, 400, 8, 1, 0xFFFFFFFF, body, sizeof(body), 100),
                     SL_OK);
    static const uint8_t e0[] = {0x01, 0x50, 0x01, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x82, 0x08,
                                 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF};
    static const uint8_t e3[] = {0xC1, 0x50, 0x01, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(out.len, sizeof(e0) + 100 + sizeof(e3) + 30);
    assert_memory_equal(out.data, e0, sizeof(e0));
    assert_memory_equal(out.data + sizeof(e0), body, 100);
    assert_memory_equal(out.data + sizeof(e0) + 100, e3, sizeof(e3));
    assert_memory_equal(out.data + sizeof(e0) + 100 + sizeof(e3), body + 100, 30);
    sl_bytes_free(&out);
}

static void test_write_appends_and_errors(void **state)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_bytes_put_u8(&out, 0xEE), SL_OK);
    assert_int_equal(sl_rtmp_chunk_write(&out, 1, 8, 0, 0, NULL, 0, 128), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_chunk_write(&out, 65600, 8, 0, 0, NULL, 0, 128), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_chunk_write(&out, 3, 8, 0, 0, NULL, 0, 0), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_chunk_write(&out, 3, 8, 0, 0, NULL, 0, 0x1000000), SL_ERR_PROTO);
    static const uint8_t dummy[1];
    assert_int_equal(sl_rtmp_chunk_write(&out, 3, 8, 0, 0, dummy, 0x1000000, 128),
                     SL_ERR_TOO_BIG);
    assert_int_equal(out.len, 1);
    assert_int_equal(sl_rtmp_chunk_write(&out, 3, 8, 0, 0, NULL, 0, 128), SL_OK);
    static const uint8_t want[] = {0xEE, 0x03, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    sl_bytes_free(&out);
}

static void test_bound(void **state)
{
    static const size_t lens[] = {0, 1, 127, 128, 129, 1000, 4096, 70000};
    static const uint32_t sizes[] = {1, 2, 128, 4096, 0xFFFFFF};
    uint8_t *body = calloc(1, 70000);
    assert_non_null(body);
    for (size_t i = 0; i < SL_ARRAY_SIZE(lens); i++) {
        for (size_t j = 0; j < SL_ARRAY_SIZE(sizes); j++) {
            sl_bytes_t out;
            sl_bytes_init(&out);
            assert_int_equal(sl_rtmp_chunk_write(&out, 65599, 9, 1, 0xFFFFFFFF, body, lens[i],
                                                 sizes[j]), SL_OK);
            assert_int_equal(out.len, sl_rtmp_chunk_bound(lens[i], sizes[j]));
            sl_bytes_free(&out);
            assert_int_equal(sl_rtmp_chunk_write(&out, 3, 9, 1, 0, body, lens[i], sizes[j]),
                             SL_OK);
            assert_true(out.len <= sl_rtmp_chunk_bound(lens[i], sizes[j]));
            sl_bytes_free(&out);
        }
    }
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_chunk_128),
        cmocka_unit_test(test_roundtrip_chunk_4096),
        cmocka_unit_test(test_header_formats),
        cmocka_unit_test(test_fmt3_after_fmt0),
        cmocka_unit_test(test_basic_headers),
        cmocka_unit_test(test_basic_header_long_form_small_csid),
        cmocka_unit_test(test_extended_timestamps),
        cmocka_unit_test(test_timestamp_wraps),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_set_chunk_size_mid_stream),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_restated_header_mid_message),
        cmocka_unit_test(test_error_fresh_csid),
        cmocka_unit_test(test_error_too_long),
        cmocka_unit_test(test_error_length_changes),
        cmocka_unit_test(test_error_chunk_size),
        cmocka_unit_test(test_error_too_many_csids),
        cmocka_unit_test(test_error_too_many_partial_bytes),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_free_mid_message),
        cmocka_unit_test(test_write_byte_exact),
        cmocka_unit_test(test_write_appends_and_errors),
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
