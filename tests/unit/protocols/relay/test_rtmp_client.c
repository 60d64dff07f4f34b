#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocols/flv/flv.h"
#include "protocols/relay/rtmp_client.h"
#include "protocols/rtmp/amf0.h"
#include "protocols/rtmp/message.h"

/* A fake server built from the server-side cores: handshake, chunk reader, AMF0
 * writer, control message writers. It records every message the client sends. */

#define MAX_MSGS 64

typedef struct rec_msg {
    uint32_t csid;
    uint8_t type;
    uint32_t stream_id;
    uint32_t timestamp;
    sl_buf_t *body;
} rec_msg_t;

typedef struct server {
    sl_rtmp_handshake_t hs;
    bool hs_done;
    sl_rtmp_reader_t reader;
    uint32_t chunk_size; /* what the server writes with */
    sl_bytes_t out;      /* bytes for the client */
    uint64_t sent_after_handshake;
    rec_msg_t msgs[MAX_MSGS];
    unsigned n_msgs, taken; /* recorded, and already checked by the test */
} server_t;

#define MAX_FRAMES 16

typedef struct harness {
    sl_rtmp_client_t c;
    sl_bytes_t cout; /* client bytes not yet given to the server */
    server_t s;
    size_t split;    /* feed sizes, 0 = everything at once */
    int last_rc;     /* of the last client feed */
    int ready, ends, errors;
    char code[128], description[128];
    sl_frame_t *frames[MAX_FRAMES];
    unsigned n_frames;
    int frame_rc; /* what on_frame returns */
} harness_t;

static int record(void *arg, const sl_rtmp_msg_t *m)
{
    server_t *s = arg;
    assert_true(s->n_msgs < MAX_MSGS);
    s->msgs[s->n_msgs++] = (rec_msg_t){m->csid, m->type, m->stream_id, m->timestamp, sl_buf_ref(m->body)};
    return SL_OK;
}

static void server_init(server_t *s)
{
    memset(s, 0, sizeof(*s));
    sl_rtmp_handshake_init_server(&s->hs);
    sl_rtmp_reader_init(&s->reader, 1 << 20);
    s->chunk_size = SL_RTMP_DEFAULT_CHUNK_SIZE;
    sl_bytes_init(&s->out);
}

static void server_free(server_t *s)
{
    for (unsigned i = 0; i < s->n_msgs; i++) sl_buf_unref(s->msgs[i].body);
    sl_rtmp_reader_free(&s->reader);
    sl_bytes_free(&s->out);
}

static void server_feed(server_t *s, const uint8_t *p, size_t n)
{
    if (!s->hs_done) {
        size_t used = 0;
        int rc = sl_rtmp_handshake_feed(&s->hs, p, n, &used, &s->out);
        if (rc == SL_ERR_AGAIN) return;
        assert_int_equal(rc, SL_OK);
        s->hs_done = true;
        p += used;
        n -= used;
    }
    assert_int_equal(sl_rtmp_reader_feed(&s->reader, p, n, record, s), SL_OK);
}

/* The next recorded message, which the test then checks. */
static rec_msg_t *next_msg(harness_t *h)
{
    assert_true(h->s.taken < h->s.n_msgs);
    return &h->s.msgs[h->s.taken++];
}

static void no_more_msgs(harness_t *h) { assert_int_equal(h->s.taken, h->s.n_msgs); }

/* Client callbacks. */

static void on_ready(void *arg) { ((harness_t *)arg)->ready++; }

static int on_frame(void *arg, sl_frame_t *f)
{
    harness_t *h = arg;
    assert_true(h->n_frames < MAX_FRAMES);
    h->frames[h->n_frames++] = sl_frame_ref(f);
    return h->frame_rc;
}

static void on_error(void *arg, const char *code, const char *description)
{
    harness_t *h = arg;
    h->errors++;
    snprintf(h->code, sizeof(h->code), "%s", code);
    snprintf(h->description, sizeof(h->description), "%s", description);
}

static void on_end(void *arg) { ((harness_t *)arg)->ends++; }

static const sl_rtmp_client_ops_t ops = {on_ready, on_frame, on_error, on_end};

static void h_init_cfg(harness_t *h, sl_rtmp_client_mode_t mode, const char *url, uint32_t chunk_size,
                       uint32_t max_message)
{
    memset(h, 0, sizeof(*h));
    server_init(&h->s);
    sl_bytes_init(&h->cout);
    sl_rtmp_url_t u;
    assert_int_equal(sl_rtmp_url_parse(url, &u), SL_OK);
    sl_rtmp_client_cfg_t cfg = {.mode = mode, .url = &u, .chunk_size = chunk_size, .max_message_bytes = max_message};
    assert_int_equal(sl_rtmp_client_init(&h->c, &cfg, &ops, h, &h->cout), SL_OK);
    /* C0C1: version 3, then a digest block with Flash Player's version. */
    assert_int_equal(h->cout.len, 1 + SL_RTMP_HANDSHAKE_SIZE);
    assert_int_equal(h->cout.data[0], 3);
}

static void h_init(harness_t *h, sl_rtmp_client_mode_t mode, const char *url)
{
    h_init_cfg(h, mode, url, 0, 0);
}

static void h_free(harness_t *h)
{
    for (unsigned i = 0; i < h->n_frames; i++) sl_frame_unref(h->frames[i]);
    sl_rtmp_client_free(&h->c);
    sl_bytes_free(&h->cout);
    server_free(&h->s);
}

/* Client bytes to the server. */
static void to_server(harness_t *h)
{
    sl_bytes_t pending = h->cout;
    sl_bytes_init(&h->cout);
    size_t step = h->split ? h->split : pending.len;
    for (size_t off = 0; off < pending.len; off += step)
        server_feed(&h->s, pending.data + off, SL_MIN(step, pending.len - off));
    sl_bytes_free(&pending);
}

/* Server bytes to the client; returns the last feed's result. */
static int to_client(harness_t *h)
{
    sl_bytes_t pending = h->s.out;
    sl_bytes_init(&h->s.out);
    size_t step = h->split ? h->split : SL_MAX(pending.len, (size_t)1);
    int rc = SL_OK;
    for (size_t off = 0; off < pending.len && rc == SL_OK; off += step)
        rc = sl_rtmp_client_feed(&h->c, pending.data + off, SL_MIN(step, pending.len - off), &h->cout);
    sl_bytes_free(&pending);
    h->last_rc = rc;
    return rc;
}

/* Both ways until nobody has anything to say. */
static int pump(harness_t *h)
{
    int rc = SL_OK;
    while (rc == SL_OK && (h->cout.len > 0 || h->s.out.len > 0)) {
        to_server(h);
        rc = to_client(h);
    }
    to_server(h);
    return rc;
}

/* Server-side writers. */

static void s_chunked(server_t *s, uint32_t csid, uint8_t type, uint32_t stream_id, uint32_t ts, const void *body,
                      size_t len)
{
    size_t before = s->out.len;
    assert_int_equal(sl_rtmp_chunk_write(&s->out, csid, type, stream_id, ts, body, len, s->chunk_size), SL_OK);
    s->sent_after_handshake += s->out.len - before;
}

static void s_control(server_t *s, int rc, size_t before)
{
    assert_int_equal(rc, SL_OK);
    s->sent_after_handshake += s->out.len - before;
}

static void s_set_chunk_size(server_t *s, uint32_t size)
{
    size_t before = s->out.len;
    s_control(s, sl_rtmp_write_set_chunk_size(&s->out, size), before);
    s->chunk_size = size;
}

static void s_window(server_t *s, uint32_t size)
{
    size_t before = s->out.len;
    s_control(s, sl_rtmp_write_window_ack_size(&s->out, size), before);
}

/* An info object {level, code, description}. */
static void put_info(sl_bytes_t *b, const char *level, const char *code, const char *description)
{
    assert_int_equal(sl_amf0_put_object_begin(b), SL_OK);
    assert_int_equal(sl_amf0_put_key(b, "level"), SL_OK);
    assert_int_equal(sl_amf0_put_string(b, level), SL_OK);
    assert_int_equal(sl_amf0_put_key(b, "code"), SL_OK);
    assert_int_equal(sl_amf0_put_string(b, code), SL_OK);
    if (description != NULL) {
        assert_int_equal(sl_amf0_put_key(b, "description"), SL_OK);
        assert_int_equal(sl_amf0_put_string(b, description), SL_OK);
    }
    assert_int_equal(sl_amf0_put_object_end(b), SL_OK);
}

static void s_send_body(server_t *s, uint32_t stream_id, sl_bytes_t *b)
{
    s_chunked(s, 3, SL_RTMP_MSG_COMMAND_AMF0, stream_id, 0, b->data, b->len);
    sl_bytes_free(b);
}

static void s_connect_result(server_t *s, const char *name, double txn, const char *level, const char *code,
                             const char *description)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_amf0_put_string(&b, name), SL_OK);
    assert_int_equal(sl_amf0_put_number(&b, txn), SL_OK);
    assert_int_equal(sl_amf0_put_object_begin(&b), SL_OK);
    assert_int_equal(sl_amf0_put_key(&b, "fmsVer"), SL_OK);
    assert_int_equal(sl_amf0_put_string(&b, "FMS/3,0,1,123"), SL_OK);
    assert_int_equal(sl_amf0_put_object_end(&b), SL_OK);
    put_info(&b, level, code, description);
    s_send_body(s, 0, &b);
}

/* _result / _error: name, txn, null, then a number (>= 0) or nothing. */
static void s_result_num(server_t *s, const char *name, double txn, double value, bool with_value)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_amf0_put_string(&b, name), SL_OK);
    assert_int_equal(sl_amf0_put_number(&b, txn), SL_OK);
    assert_int_equal(sl_amf0_put_null(&b), SL_OK);
    if (with_value) assert_int_equal(sl_amf0_put_number(&b, value), SL_OK);
    s_send_body(s, 0, &b);
}

static void s_call_error(server_t *s, double txn, const char *code, const char *description)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_amf0_put_string(&b, "_error"), SL_OK);
    assert_int_equal(sl_amf0_put_number(&b, txn), SL_OK);
    assert_int_equal(sl_amf0_put_null(&b), SL_OK);
    put_info(&b, "error", code, description);
    s_send_body(s, 0, &b);
}

static void s_status(server_t *s, uint32_t stream_id, const char *level, const char *code, const char *description)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_amf0_put_string(&b, "onStatus"), SL_OK);
    assert_int_equal(sl_amf0_put_number(&b, 0), SL_OK);
    assert_int_equal(sl_amf0_put_null(&b), SL_OK);
    put_info(&b, level, code, description);
    s_send_body(s, stream_id, &b);
}

/* Checks of what the client sent. */

static sl_amf0_doc_t *decode_command(const rec_msg_t *m, const char *name, double txn, size_t count)
{
    assert_int_equal(m->type, SL_RTMP_MSG_COMMAND_AMF0);
    sl_amf0_doc_t *doc = NULL;
    assert_int_equal(sl_amf0_decode(m->body->data, m->body->len, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), count);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 0)), name);
    double t = -1;
    assert_true(sl_amf0_num(sl_amf0_doc_get(doc, 1), &t));
    assert_true(t == txn);
    return doc;
}

static void assert_prop_string(const sl_amf0_value_t *obj, const char *key, const char *want)
{
    const char *got = sl_amf0_str(sl_amf0_prop(obj, key));
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void assert_prop_number(const sl_amf0_value_t *obj, const char *key, double want)
{
    double got = NAN;
    assert_true(sl_amf0_num(sl_amf0_prop(obj, key), &got));
    assert_true(got == want);
}

/* A call of the publish sequence: name, txn, null, stream name. */
static void expect_call(harness_t *h, const char *name, double txn, const char *stream_name)
{
    rec_msg_t *m = next_msg(h);
    assert_int_equal(m->csid, 3);
    assert_int_equal(m->stream_id, 0);
    sl_amf0_doc_t *doc = decode_command(m, name, txn, stream_name ? 4 : 3);
    assert_int_equal(sl_amf0_doc_get(doc, 2)->type, SL_AMF0_NULL);
    if (stream_name) assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 3)), stream_name);
    sl_amf0_doc_free(doc);
}

static void expect_control(harness_t *h, uint8_t type, uint32_t value)
{
    rec_msg_t *m = next_msg(h);
    assert_int_equal(m->csid, 2);
    assert_int_equal(m->stream_id, 0);
    assert_int_equal(m->type, type);
    uint32_t v = 0;
    assert_int_equal(sl_rtmp_control_parse(type, m->body->data, m->body->len, &v), SL_OK);
    assert_int_equal(v, value);
}

/* Handshake, then the client's Set Chunk Size and connect. */
static const sl_amf0_value_t *connect_phase(harness_t *h, sl_amf0_doc_t **doc, uint32_t chunk_size)
{
    to_server(h);
    assert_int_equal(h->s.out.len, 1 + 2 * SL_RTMP_HANDSHAKE_SIZE);
    assert_int_equal(to_client(h), SL_OK);
    /* C2, then the chunk stream. */
    assert_true(h->cout.len > SL_RTMP_HANDSHAKE_SIZE);
    to_server(h);
    assert_true(h->s.hs_done);
    expect_control(h, SL_RTMP_MSG_SET_CHUNK_SIZE, chunk_size);
    assert_int_equal(h->s.reader.chunk_size, chunk_size);
    rec_msg_t *m = next_msg(h);
    assert_int_equal(m->csid, 3);
    assert_int_equal(m->stream_id, 0);
    *doc = decode_command(m, "connect", 1, 3);
    const sl_amf0_value_t *obj = sl_amf0_doc_get(*doc, 2);
    assert_int_equal(obj->type, SL_AMF0_OBJECT);
    no_more_msgs(h);
    return obj;
}

/* The server's answer to connect, as ours sends it. */
static void accept_connect(harness_t *h)
{
    s_window(&h->s, 2500000);
    size_t before = h->s.out.len;
    s_control(&h->s, sl_rtmp_write_set_peer_bandwidth(&h->s.out, 2500000, SL_RTMP_BW_DYNAMIC), before);
    s_set_chunk_size(&h->s, 4096);
    s_connect_result(&h->s, "_result", 1, "status", "NetConnection.Connect.Success", "Connection succeeded.");
    assert_int_equal(to_client(h), SL_OK);
    to_server(h);
}

/* Everything up to the publish command, checked; returns with publish sent. */
static void publish_until_publish(harness_t *h, const char *url, const char *name)
{
    h_init(h, SL_RTMP_CLIENT_PUBLISH, url);
    sl_amf0_doc_t *doc;
    const sl_amf0_value_t *obj = connect_phase(h, &doc, 4096);
    assert_int_equal(obj->count, 4);
    assert_prop_string(obj, "app", "live");
    assert_prop_string(obj, "type", "nonprivate");
    assert_prop_string(obj, "flashVer", "FMLE/3.0 (compatible; sluice)");
    assert_prop_string(obj, "tcUrl", "rtmp://example.com:1935/live");
    sl_amf0_doc_free(doc);

    accept_connect(h);
    expect_control(h, SL_RTMP_MSG_WINDOW_ACK_SIZE, 2500000);
    expect_call(h, "releaseStream", 2, name);
    expect_call(h, "FCPublish", 3, name);
    expect_call(h, "createStream", 4, NULL);
    no_more_msgs(h);

    /* releaseStream's answer changes nothing; createStream's gives stream 1. */
    s_result_num(&h->s, "_result", 2, 0, false);
    s_result_num(&h->s, "_result", 4, 1, true);
    assert_int_equal(to_client(h), SL_OK);
    to_server(h);
    rec_msg_t *m = next_msg(h);
    assert_int_equal(m->csid, 8);
    assert_int_equal(m->stream_id, 1);
    doc = decode_command(m, "publish", 5, 5);
    assert_int_equal(sl_amf0_doc_get(doc, 2)->type, SL_AMF0_NULL);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 3)), name);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 4)), "live");
    sl_amf0_doc_free(doc);
    no_more_msgs(h);
    assert_int_equal(h->ready, 0);
}

static void publish_ready(harness_t *h)
{
    publish_until_publish(h, "rtmp://example.com/live/key?token=t", "key?token=t");
    size_t before = h->s.out.len;
    s_control(&h->s, sl_rtmp_write_stream_begin(&h->s.out, 1), before);
    s_status(&h->s, 1, "status", "NetStream.Publish.Start", "Start publishing");
    assert_int_equal(to_client(h), SL_OK);
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->cout.len, 0);
}

/* The frames of the tests: an avcC, an IDR, an AudioSpecificConfig, AAC. */
static const uint8_t avcc[] = {0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1f, 0x01, 0x00, 0x02, 0x68, 0xee};
static const uint8_t idr[] = {0x00, 0x00, 0x00, 0x03, 0x65, 0x88, 0x84};
static const uint8_t asc[] = {0x12, 0x10};
static const uint8_t aac[] = {0x21, 0x00, 0x49, 0x90};
/* "onMetaData", ECMA array {width: 1280}. */
static const uint8_t meta[] = {0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0x08, 0, 0, 0, 1,
                               0x00, 0x05, 'w', 'i', 'd', 't', 'h', 0x00, 0x40, 0x94, 0, 0, 0, 0, 0, 0, 0, 0, 0x09};

static void send_ok(harness_t *h, sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts_ms, int64_t pts_ms,
                    const void *data, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(media, codec, flags, SL_MS_TO_TS(dts_ms), SL_MS_TO_TS(pts_ms), data, len);
    assert_non_null(f);
    assert_int_equal(sl_rtmp_client_send_frame(&h->c, f, &h->cout), SL_OK);
    sl_frame_unref(f);
}

static void expect_media(harness_t *h, uint32_t csid, uint8_t type, uint32_t ts, const uint8_t *prefix,
                         size_t prefix_len, const uint8_t *payload, size_t len)
{
    rec_msg_t *m = next_msg(h);
    assert_int_equal(m->csid, csid);
    assert_int_equal(m->type, type);
    assert_int_equal(m->stream_id, 1);
    assert_int_equal(m->timestamp, ts);
    assert_int_equal(m->body->len, prefix_len + len);
    assert_memory_equal(m->body->data, prefix, prefix_len);
    assert_memory_equal(m->body->data + prefix_len, payload, len);
}

static void test_publish_sequence(void **state)
{
    (void)state;
    harness_t h;
    publish_ready(&h);

    /* The stream was joined late: timestamps count from the first media frame. */
    send_ok(&h, SL_MEDIA_DATA, SL_CODEC_AMF0, 0, 3000, 3000, meta, sizeof(meta));
    send_ok(&h, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 1000, 1000, avcc, sizeof(avcc));
    send_ok(&h, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 1000, 1000, asc, sizeof(asc));
    send_ok(&h, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 5000, 5080, idr, sizeof(idr));
    send_ok(&h, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 4990, 4990, aac, sizeof(aac));
    send_ok(&h, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 5023, 5023, aac, sizeof(aac));
    send_ok(&h, SL_MEDIA_VIDEO, SL_CODEC_H264, 0, 5040, 5040, idr, sizeof(idr));
    to_server(&h);

    static const uint8_t set_data_frame[] = "\x02\x00\x0d@setDataFrame";
    expect_media(&h, 5, SL_RTMP_MSG_DATA_AMF0, 0, set_data_frame, 16, meta, sizeof(meta));
    expect_media(&h, 7, SL_RTMP_MSG_VIDEO, 0, (const uint8_t *)"\x17\x00\x00\x00\x00", 5, avcc, sizeof(avcc));
    expect_media(&h, 6, SL_RTMP_MSG_AUDIO, 0, (const uint8_t *)"\xaf\x00", 2, asc, sizeof(asc));
    /* Composition time 80 ms. */
    expect_media(&h, 7, SL_RTMP_MSG_VIDEO, 0, (const uint8_t *)"\x17\x01\x00\x00\x50", 5, idr, sizeof(idr));
    /* Before the base: clamped to 0. */
    expect_media(&h, 6, SL_RTMP_MSG_AUDIO, 0, (const uint8_t *)"\xaf\x01", 2, aac, sizeof(aac));
    expect_media(&h, 6, SL_RTMP_MSG_AUDIO, 23, (const uint8_t *)"\xaf\x01", 2, aac, sizeof(aac));
    expect_media(&h, 7, SL_RTMP_MSG_VIDEO, 40, (const uint8_t *)"\x27\x01\x00\x00\x00", 5, idr, sizeof(idr));
    no_more_msgs(&h);

    /* What the server's ingest makes of them: the frames again. */
    sl_frame_t *f = NULL;
    rec_msg_t *m = &h.s.msgs[h.s.taken - 4];
    assert_int_equal(sl_flv_tag_to_frame(SL_FLV_TAG_VIDEO, m->timestamp, m->body, m->body->data, m->body->len, &f),
                     SL_OK);
    assert_int_equal(f->flags, SL_FRAME_KEY);
    assert_int_equal(f->pts - f->dts, SL_MS_TO_TS(80));
    assert_memory_equal(f->data, idr, sizeof(idr));
    sl_frame_unref(f);
    m = &h.s.msgs[h.s.taken - 7];
    assert_int_equal(sl_flv_tag_to_frame(SL_FLV_TAG_SCRIPT, 0, m->body, m->body->data, m->body->len, &f), SL_OK);
    assert_int_equal(f->media, SL_MEDIA_DATA);
    assert_int_equal(f->len, sizeof(meta));
    sl_frame_unref(f);

    /* Opus has no FLV form; nothing is written and the client goes on. */
    sl_frame_t *opus = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, 0, 0, aac, sizeof(aac));
    assert_int_equal(sl_rtmp_client_send_frame(&h.c, opus, &h.cout), SL_ERR_UNSUPPORTED);
    sl_frame_t *bad_data = sl_frame_copy_of(SL_MEDIA_DATA, SL_CODEC_NONE, 0, 0, 0, aac, sizeof(aac));
    assert_int_equal(sl_rtmp_client_send_frame(&h.c, bad_data, &h.cout), SL_ERR_UNSUPPORTED);
    assert_int_equal(h.cout.len, 0);
    sl_frame_unref(opus);
    sl_frame_unref(bad_data);
    send_ok(&h, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 5100, 5100, aac, sizeof(aac));
    to_server(&h);
    expect_media(&h, 6, SL_RTMP_MSG_AUDIO, 100, (const uint8_t *)"\xaf\x01", 2, aac, sizeof(aac));
    assert_int_equal(h.errors + h.ends, 0);
    h_free(&h);
}

static void test_publish_before_ready(void **state)
{
    (void)state;
    harness_t h;
    publish_until_publish(&h, "rtmp://example.com/live/key", "key");
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, 0, aac, sizeof(aac));
    assert_int_equal(sl_rtmp_client_send_frame(&h.c, f, &h.cout), SL_ERR_AGAIN);
    assert_int_equal(h.cout.len, 0);
    /* A status other than Publish.Start (and a warning) does not make it ready. */
    s_status(&h.s, 1, "warning", "NetStream.Publish.Idle", NULL);
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(sl_rtmp_client_send_frame(&h.c, f, &h.cout), SL_ERR_AGAIN);
    sl_frame_unref(f);
    h_free(&h);
}

static void test_publish_bad_name(void **state)
{
    (void)state;
    harness_t h;
    publish_until_publish(&h, "rtmp://example.com/live/key", "key");
    s_status(&h.s, 1, "error", "NetStream.Publish.BadName", "Already publishing");
    assert_int_equal(to_client(&h), SL_ERR_BUSY);
    assert_int_equal(h.errors, 1);
    assert_string_equal(h.code, "NetStream.Publish.BadName");
    assert_string_equal(h.description, "Already publishing");
    assert_int_equal(h.ready, 0);
    /* Over: later input changes nothing, frames are refused with the same error. */
    s_status(&h.s, 1, "status", "NetStream.Publish.Start", NULL);
    assert_int_equal(to_client(&h), SL_ERR_BUSY);
    assert_int_equal(h.ready, 0);
    assert_int_equal(h.errors, 1);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, 0, aac, sizeof(aac));
    assert_int_equal(sl_rtmp_client_send_frame(&h.c, f, &h.cout), SL_ERR_BUSY);
    sl_frame_unref(f);
    h_free(&h);
}

static void test_publish_release_error_ignored(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, SL_RTMP_CLIENT_PUBLISH, "rtmp://example.com/live/key");
    sl_amf0_doc_t *doc;
    connect_phase(&h, &doc, 4096);
    sl_amf0_doc_free(doc);
    accept_connect(&h);
    h.s.taken = h.s.n_msgs;
    /* Some servers answer releaseStream and FCPublish with _error: OBS goes on. */
    s_call_error(&h.s, 2, "NetConnection.Call.Failed", "no such method");
    s_call_error(&h.s, 3, "NetConnection.Call.Failed", "no such method");
    s_result_num(&h.s, "_result", 4, 1, true);
    assert_int_equal(to_client(&h), SL_OK);
    to_server(&h);
    rec_msg_t *m = next_msg(&h);
    doc = decode_command(m, "publish", 5, 5);
    sl_amf0_doc_free(doc);
    assert_int_equal(h.errors, 0);
    h_free(&h);
}

static void test_connect_rejected(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, SL_RTMP_CLIENT_PUBLISH, "rtmp://example.com/live/key");
    sl_amf0_doc_t *doc;
    connect_phase(&h, &doc, 4096);
    sl_amf0_doc_free(doc);
    s_call_error(&h.s, 1, "NetConnection.Connect.Rejected", "bad token");
    assert_int_equal(to_client(&h), SL_ERR_AUTH);
    assert_int_equal(h.errors, 1);
    assert_string_equal(h.code, "NetConnection.Connect.Rejected");
    assert_string_equal(h.description, "bad token");
    /* Nothing more is sent. */
    assert_int_equal(h.cout.len, 0);
    h_free(&h);
}

static void test_create_stream_error_and_close(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, SL_RTMP_CLIENT_PLAY, "rtmp://example.com/live/key");
    sl_amf0_doc_t *doc;
    connect_phase(&h, &doc, 4096);
    sl_amf0_doc_free(doc);
    accept_connect(&h);
    /* An _error for another transaction is not ours. */
    s_call_error(&h.s, 9, "NetConnection.Call.Failed", "x");
    assert_int_equal(to_client(&h), SL_OK);
    s_call_error(&h.s, 2, "NetConnection.Call.Failed", "no streams left");
    assert_int_equal(to_client(&h), SL_ERR_CLOSED);
    assert_string_equal(h.code, "NetConnection.Call.Failed");
    h_free(&h);

    /* A "close" call from the server ends the client. */
    h_init(&h, SL_RTMP_CLIENT_PLAY, "rtmp://example.com/live/key");
    connect_phase(&h, &doc, 4096);
    sl_amf0_doc_free(doc);
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_amf0_put_string(&b, "close"), SL_OK);
    assert_int_equal(sl_amf0_put_number(&b, 0), SL_OK);
    assert_int_equal(sl_amf0_put_null(&b), SL_OK);
    s_send_body(&h.s, 0, &b);
    assert_int_equal(to_client(&h), SL_ERR_CLOSED);
    assert_int_equal(h.errors, 1);
    assert_string_equal(h.code, "NetConnection.Connect.Closed");
    h_free(&h);
}

/* Play: everything up to the play command, checked. */
static void play_until_play(harness_t *h, const char *url, uint32_t stream_id)
{
    h_init(h, SL_RTMP_CLIENT_PLAY, url);
    sl_amf0_doc_t *doc;
    const sl_amf0_value_t *obj = connect_phase(h, &doc, 4096);
    assert_int_equal(obj->count, 8);
    assert_prop_string(obj, "app", "live/inst");
    assert_prop_string(obj, "flashVer", "LNX 9,0,124,2");
    assert_prop_string(obj, "tcUrl", "rtmp://origin:1936/live/inst");
    bool fpad = true;
    assert_true(sl_amf0_bool(sl_amf0_prop(obj, "fpad"), &fpad));
    assert_false(fpad);
    assert_prop_number(obj, "capabilities", 15);
    assert_prop_number(obj, "audioCodecs", 4071);
    assert_prop_number(obj, "videoCodecs", 252);
    assert_prop_number(obj, "videoFunction", 1);
    assert_null(sl_amf0_prop(obj, "type"));
    sl_amf0_doc_free(doc);

    accept_connect(h);
    expect_control(h, SL_RTMP_MSG_WINDOW_ACK_SIZE, 2500000);
    expect_call(h, "createStream", 2, NULL);
    no_more_msgs(h);

    s_result_num(&h->s, "_result", 2, stream_id, true);
    assert_int_equal(to_client(h), SL_OK);
    to_server(h);
    rec_msg_t *m = next_msg(h);
    assert_int_equal(m->csid, 8);
    assert_int_equal(m->stream_id, stream_id);
    doc = decode_command(m, "play", 3, 5);
    assert_int_equal(sl_amf0_doc_get(doc, 2)->type, SL_AMF0_NULL);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 3)), "cam1");
    double start = 0;
    assert_true(sl_amf0_num(sl_amf0_doc_get(doc, 4), &start));
    assert_true(start == -2000);
    sl_amf0_doc_free(doc);
    /* Set Buffer Length: event 3, the stream, 3000 ms. */
    m = next_msg(h);
    assert_int_equal(m->type, SL_RTMP_MSG_USER_CONTROL);
    assert_int_equal(m->csid, 2);
    assert_int_equal(m->stream_id, 0);
    uint8_t want[10] = {0, 3, 0, 0, 0, (uint8_t)stream_id, 0, 0, 0x0b, 0xb8};
    assert_int_equal(m->body->len, sizeof(want));
    assert_memory_equal(m->body->data, want, sizeof(want));
    no_more_msgs(h);
}

static void s_media(server_t *s, uint8_t type, uint32_t stream_id, uint32_t ts, const void *prefix, size_t prefix_len,
                    const void *payload, size_t len)
{
    uint8_t body[256];
    assert_true(prefix_len + len <= sizeof(body));
    memcpy(body, prefix, prefix_len);
    memcpy(body + prefix_len, payload, len);
    s_chunked(s, type == SL_RTMP_MSG_DATA_AMF0 ? 5 : type == SL_RTMP_MSG_AUDIO ? 6 : 7, type, stream_id, ts, body,
              prefix_len + len);
}

static void s_play_start(server_t *s, uint32_t stream_id)
{
    size_t before = s->out.len;
    s_control(s, sl_rtmp_write_stream_is_recorded(&s->out, stream_id), before);
    before = s->out.len;
    s_control(s, sl_rtmp_write_stream_begin(&s->out, stream_id), before);
    s_status(s, stream_id, "status", "NetStream.Play.Reset", "Playing and resetting");
    s_status(s, stream_id, "status", "NetStream.Play.Start", "Started playing");
}

static void expect_frame(harness_t *h, unsigned i, sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts_ms,
                         int64_t pts_ms, const void *data, size_t len)
{
    assert_true(i < h->n_frames);
    sl_frame_t *f = h->frames[i];
    assert_int_equal(f->media, media);
    assert_int_equal(f->codec, codec);
    assert_int_equal(f->flags, flags);
    assert_int_equal(f->dts, SL_MS_TO_TS(dts_ms));
    assert_int_equal(f->pts, SL_MS_TO_TS(pts_ms));
    assert_int_equal(f->len, len);
    assert_memory_equal(f->data, data, len);
}

/* The play sequence with the server's bytes fed in pieces of `split`. */
static void run_play(size_t split)
{
    harness_t h;
    play_until_play(&h, "rtmp://origin:1936/live/inst/cam1", 7);
    h.split = split;
    s_play_start(&h.s, 7);
    static const uint8_t sample_access[] = "\x02\x00\x11|RtmpSampleAccess\x01\x01\x01\x01";
    s_media(&h.s, SL_RTMP_MSG_DATA_AMF0, 7, 0, sample_access, sizeof(sample_access) - 1, "", 0);
    s_media(&h.s, SL_RTMP_MSG_DATA_AMF0, 7, 0, "", 0, meta, sizeof(meta));
    s_media(&h.s, SL_RTMP_MSG_VIDEO, 7, 0, "\x17\x00\x00\x00\x00", 5, avcc, sizeof(avcc));
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 7, 0, "\xaf\x00", 2, asc, sizeof(asc));
    s_media(&h.s, SL_RTMP_MSG_VIDEO, 7, 1000, "\x17\x01\x00\x00\x28", 5, idr, sizeof(idr));
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 7, 1010, "\xaf\x01", 2, aac, sizeof(aac));
    /* MP3 audio cannot become a frame: counted and dropped. */
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 7, 1020, "\x2f", 1, aac, sizeof(aac));
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(h.ready, 1);
    assert_int_equal(h.n_frames, 5);
    expect_frame(&h, 0, SL_MEDIA_DATA, SL_CODEC_AMF0, 0, 0, 0, meta, sizeof(meta));
    expect_frame(&h, 1, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, avcc, sizeof(avcc));
    expect_frame(&h, 2, SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, asc, sizeof(asc));
    expect_frame(&h, 3, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 1000, 1040, idr, sizeof(idr));
    expect_frame(&h, 4, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 1010, 1010, aac, sizeof(aac));
    assert_int_equal(sl_rtmp_client_unsupported(&h.c), 1);
    /* Nothing to answer to all that. */
    assert_int_equal(h.cout.len, 0);

    /* The publisher left: UnpublishNotify, then Stream EOF, as nginx-rtmp and we send. */
    s_status(&h.s, 7, "status", "NetStream.Play.UnpublishNotify", "stream is now unpublished");
    size_t before = h.s.out.len;
    s_control(&h.s, sl_rtmp_write_stream_eof(&h.s.out, 7), before);
    assert_int_equal(to_client(&h), SL_ERR_CLOSED);
    assert_int_equal(h.ends, 1);
    assert_int_equal(h.errors, 0);
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 7, 1030, "\xaf\x01", 2, aac, sizeof(aac));
    assert_int_equal(to_client(&h), SL_ERR_CLOSED);
    assert_int_equal(h.n_frames, 5);
    assert_int_equal(h.ends, 1);
    h_free(&h);
}

static void test_play_sequence(void **state)
{
    (void)state;
    run_play(0);
}

static void test_play_byte_by_byte(void **state)
{
    (void)state;
    run_play(1);
    run_play(7);
}

static void test_play_whole_session_split(void **state)
{
    (void)state;
    /* Handshake and commands too, one byte at a time both ways. */
    harness_t h;
    h_init(&h, SL_RTMP_CLIENT_PLAY, "rtmp://origin:1936/live/inst/cam1");
    h.split = 1;
    to_server(&h);
    assert_int_equal(pump(&h), SL_OK);
    accept_connect(&h);
    assert_int_equal(pump(&h), SL_OK);
    s_result_num(&h.s, "_result", 2, 1, true);
    s_play_start(&h.s, 1);
    s_media(&h.s, SL_RTMP_MSG_VIDEO, 1, 40, "\x17\x01\x00\x00\x00", 5, idr, sizeof(idr));
    assert_int_equal(pump(&h), SL_OK);
    assert_int_equal(h.ready, 1);
    assert_int_equal(h.n_frames, 1);
    expect_frame(&h, 0, SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 40, 40, idr, sizeof(idr));
    /* Set Chunk Size, connect, Window Ack Size, createStream, play, buffer length. */
    assert_int_equal(h.s.n_msgs, 6);
    h_free(&h);
}

static void test_play_not_found(void **state)
{
    (void)state;
    harness_t h;
    play_until_play(&h, "rtmp://origin:1936/live/inst/cam1", 1);
    s_status(&h.s, 1, "error", "NetStream.Play.StreamNotFound", "stream not found");
    assert_int_equal(to_client(&h), SL_ERR_NOT_FOUND);
    assert_int_equal(h.errors, 1);
    assert_string_equal(h.code, "NetStream.Play.StreamNotFound");
    assert_string_equal(h.description, "stream not found");
    assert_int_equal(h.ready + h.ends, 0);
    h_free(&h);
}

static void test_play_end_by_stream_eof(void **state)
{
    (void)state;
    harness_t h;
    play_until_play(&h, "rtmp://origin:1936/live/inst/cam1", 1);
    /* Stream EOF before Play.Start, or of another stream, is not the end. */
    size_t before = h.s.out.len;
    s_control(&h.s, sl_rtmp_write_stream_eof(&h.s.out, 1), before);
    s_play_start(&h.s, 1);
    before = h.s.out.len;
    s_control(&h.s, sl_rtmp_write_stream_eof(&h.s.out, 2), before);
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(h.ready, 1);
    assert_int_equal(h.ends, 0);
    before = h.s.out.len;
    s_control(&h.s, sl_rtmp_write_stream_eof(&h.s.out, 1), before);
    assert_int_equal(to_client(&h), SL_ERR_CLOSED);
    assert_int_equal(h.ends, 1);
    h_free(&h);
}

static void test_play_frame_callback_stops(void **state)
{
    (void)state;
    harness_t h;
    play_until_play(&h, "rtmp://origin:1936/live/inst/cam1", 1);
    s_play_start(&h.s, 1);
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 1, 0, "\xaf\x01", 2, aac, sizeof(aac));
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 1, 20, "\xaf\x01", 2, aac, sizeof(aac));
    h.frame_rc = SL_ERR_TOO_BIG;
    assert_int_equal(to_client(&h), SL_ERR_TOO_BIG);
    assert_int_equal(h.n_frames, 1);
    h_free(&h);
}

static void test_play_timestamps_and_aggregate(void **state)
{
    (void)state;
    harness_t h;
    play_until_play(&h, "rtmp://origin:1936/live/inst/cam1", 1);
    s_play_start(&h.s, 1);
    /* A wrap of the 32-bit millisecond clock moves on, not back. */
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 1, 0xFFFFFF00u, "\xaf\x01", 2, aac, sizeof(aac));
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 1, 0x100, "\xaf\x01", 2, aac, sizeof(aac));
    /* An aggregate of two audio tags at 500 and 520, shifted to the message's 0x200. */
    uint8_t agg[2 * (11 + 6 + 4)];
    uint8_t *p = agg;
    for (int i = 0; i < 2; i++) {
        uint32_t ts = 500 + 20 * (uint32_t)i;
        *p++ = SL_FLV_TAG_AUDIO;
        sl_wr_be24(p, 6);
        sl_wr_be24(p + 3, ts);
        p[6] = 0;
        sl_wr_be24(p + 7, 0);
        p += 10;
        memcpy(p, "\xaf\x01", 2);
        memcpy(p + 2, aac, 4);
        p += 6;
        sl_wr_be32(p, 17);
        p += 4;
    }
    s_chunked(&h.s, 4, SL_RTMP_MSG_AGGREGATE, 1, 0x200, agg, sizeof(agg));
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(h.n_frames, 4);
    int64_t t0 = 0xFFFFFF00ll;
    expect_frame(&h, 0, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, t0, t0, aac, sizeof(aac));
    expect_frame(&h, 1, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, t0 + 0x200, t0 + 0x200, aac, sizeof(aac));
    expect_frame(&h, 2, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, t0 + 0x300, t0 + 0x300, aac, sizeof(aac));
    expect_frame(&h, 3, SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, t0 + 0x300 + 20, t0 + 0x300 + 20, aac, sizeof(aac));

    /* An aggregate whose tag claims more than the message holds is malformed. */
    sl_wr_be24(agg + 1, 200);
    s_chunked(&h.s, 4, SL_RTMP_MSG_AGGREGATE, 1, 0x400, agg, sizeof(agg));
    assert_int_equal(to_client(&h), SL_ERR_PROTO);
    h_free(&h);
}

static void test_media_before_play_ignored(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, SL_RTMP_CLIENT_PLAY, "rtmp://origin:1936/live/inst/cam1");
    sl_amf0_doc_t *doc;
    connect_phase(&h, &doc, 4096);
    sl_amf0_doc_free(doc);
    /* Play.Start and media before our play are not ours. */
    s_status(&h.s, 1, "status", "NetStream.Play.Start", NULL);
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 1, 0, "\xaf\x01", 2, aac, sizeof(aac));
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(h.ready, 0);
    assert_int_equal(h.n_frames, 0);
    h_free(&h);

    /* A publisher takes no media from the server. */
    publish_ready(&h);
    s_media(&h.s, SL_RTMP_MSG_AUDIO, 1, 0, "\xaf\x01", 2, aac, sizeof(aac));
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(h.n_frames, 0);
    h_free(&h);
}

static void test_chunk_sizes_both_ways(void **state)
{
    (void)state;
    harness_t h;
    /* Our chunk size 128: a player's connect (over 200 bytes) is chunked with it. */
    h_init_cfg(&h, SL_RTMP_CLIENT_PLAY, "rtmp://origin:1936/live/inst/cam1", 128, 0);
    sl_amf0_doc_t *doc;
    connect_phase(&h, &doc, 128);
    assert_true(h.s.msgs[1].body->len > 200);
    sl_amf0_doc_free(doc);
    h_free(&h);

    h_init_cfg(&h, SL_RTMP_CLIENT_PUBLISH, "rtmp://example.com/live/key", 128, 0);
    connect_phase(&h, &doc, 128);
    sl_amf0_doc_free(doc);
    /* The server's chunk size goes down to 10, then up to 70000. */
    s_set_chunk_size(&h.s, 10);
    s_connect_result(&h.s, "_result", 1, "status", "NetConnection.Connect.Success", "a description longer than ten");
    assert_int_equal(to_client(&h), SL_OK);
    to_server(&h);
    h.s.taken = h.s.n_msgs;
    s_set_chunk_size(&h.s, 70000);
    s_result_num(&h.s, "_result", 4, 1, true);
    s_status(&h.s, 1, "status", "NetStream.Publish.Start", NULL);
    assert_int_equal(to_client(&h), SL_OK);
    assert_int_equal(h.ready, 1);
    to_server(&h);
    h.s.taken = h.s.n_msgs;

    uint8_t big[1000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (uint8_t)i;
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, 0, big, sizeof(big));
    assert_int_equal(sl_rtmp_client_send_frame(&h.c, f, &h.cout), SL_OK);
    sl_frame_unref(f);
    /* 12-byte header, 1002 bytes of body, 7 one-byte continuation headers. */
    assert_int_equal(h.cout.len, 12 + 1002 + 7);
    assert_int_equal(h.cout.data[12 + 128], 0xc6);
    to_server(&h);
    rec_msg_t *m = next_msg(&h);
    assert_int_equal(m->body->len, 1002);
    assert_memory_equal(m->body->data + 2, big, sizeof(big));
    h_free(&h);
}

static void test_acks_at_window(void **state)
{
    (void)state;
    harness_t h;
    play_until_play(&h, "rtmp://origin:1936/live/inst/cam1", 1);
    s_play_start(&h.s, 1);
    s_window(&h.s, 5000);
    assert_int_equal(to_client(&h), SL_OK);
    /* Below the window so far: the connect answer and these are about 600 bytes. */
    assert_true(h.s.sent_after_handshake < 5000);
    assert_int_equal(h.cout.len, 0);

    static uint8_t big[6000];
    memcpy(big, "\xaf\x01", 2);
    s_chunked(&h.s, 6, SL_RTMP_MSG_AUDIO, 1, 0, big, sizeof(big));
    uint64_t total = h.s.sent_after_handshake;
    assert_int_equal(to_client(&h), SL_OK);
    to_server(&h);
    expect_control(&h, SL_RTMP_MSG_ACK, (uint32_t)total);
    no_more_msgs(&h);

    /* The window counts from the last ack, to the byte: 4999 bytes are not one,
     * the next byte is. */
    s_chunked(&h.s, 6, SL_RTMP_MSG_AUDIO, 1, 0, big, sizeof(big));
    sl_bytes_t more = h.s.out;
    sl_bytes_init(&h.s.out);
    assert_int_equal(sl_rtmp_client_feed(&h.c, more.data, 4999, &h.cout), SL_OK);
    assert_int_equal(h.cout.len, 0);
    assert_int_equal(sl_rtmp_client_feed(&h.c, more.data + 4999, 1, &h.cout), SL_OK);
    to_server(&h);
    expect_control(&h, SL_RTMP_MSG_ACK, (uint32_t)(total + 5000));
    assert_int_equal(sl_rtmp_client_feed(&h.c, more.data + 5000, more.len - 5000, &h.cout), SL_OK);
    assert_int_equal(h.cout.len, 0);
    no_more_msgs(&h);
    sl_bytes_free(&more);
    h_free(&h);
}

static void test_ping(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, SL_RTMP_CLIENT_PUBLISH, "rtmp://example.com/live/key");
    sl_amf0_doc_t *doc;
    connect_phase(&h, &doc, 4096);
    sl_amf0_doc_free(doc);
    size_t before = h.s.out.len;
    s_control(&h.s, sl_rtmp_write_ping_request(&h.s.out, 0x12345678), before);
    assert_int_equal(to_client(&h), SL_OK);
    /* Ping Response on chunk stream 2, message stream 0, with the same timestamp. */
    static const uint8_t pong[] = {0x02, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, 0, 7, 0x12, 0x34, 0x56, 0x78};
    assert_int_equal(h.cout.len, sizeof(pong));
    assert_memory_equal(h.cout.data, pong, sizeof(pong));
    h_free(&h);
}

static void test_hostile_handshake(void **state)
{
    (void)state;
    static const struct {
        uint8_t version;
        int rc;
    } cases[] = {{9, SL_ERR_UNSUPPORTED}, {0x42, SL_ERR_PROTO}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        harness_t h;
        h_init(&h, SL_RTMP_CLIENT_PLAY, "rtmp://h/live/key");
        uint8_t s0 = cases[i].version;
        assert_int_equal(sl_rtmp_client_feed(&h.c, &s0, 1, &h.cout), cases[i].rc);
        assert_int_equal(sl_rtmp_client_feed(&h.c, &s0, 1, &h.cout), cases[i].rc);
        assert_int_equal(h.errors, 0);
        h_free(&h);
    }
}

/* A client past connect, for the hostile message tests. */
static void connected(harness_t *h, uint32_t max_message)
{
    h_init_cfg(h, SL_RTMP_CLIENT_PLAY, "rtmp://origin:1936/live/inst/cam1", 0, max_message);
    sl_amf0_doc_t *doc;
    connect_phase(h, &doc, 4096);
    sl_amf0_doc_free(doc);
}

static void test_hostile_messages(void **state)
{
    (void)state;
    harness_t h;
    /* Over the message size limit: refused from the header alone. */
    connected(&h, 65536);
    uint8_t hdr[12] = {0x06, 0, 0, 0, 0x01, 0x11, 0x71, SL_RTMP_MSG_AUDIO, 1, 0, 0, 0};
    assert_int_equal(sl_rtmp_client_feed(&h.c, hdr, sizeof(hdr), &h.cout), SL_ERR_TOO_BIG);
    h_free(&h);

    /* A truncated message waits for the rest without a callback. */
    connected(&h, 0);
    s_status(&h.s, 0, "error", "NetConnection.Connect.Rejected", NULL);
    sl_bytes_t all = h.s.out;
    sl_bytes_init(&h.s.out);
    assert_int_equal(sl_rtmp_client_feed(&h.c, all.data, all.len - 1, &h.cout), SL_OK);
    assert_int_equal(h.errors, 0);
    assert_int_equal(sl_rtmp_client_feed(&h.c, all.data + all.len - 1, 1, &h.cout), SL_ERR_AUTH);
    assert_int_equal(h.errors, 1);
    assert_string_equal(h.description, "");
    sl_bytes_free(&all);
    h_free(&h);

    /* A command that is not AMF0. */
    connected(&h, 0);
    s_chunked(&h.s, 3, SL_RTMP_MSG_COMMAND_AMF0, 0, 0, "\x02\x00\x09_res", 7);
    assert_int_equal(to_client(&h), SL_ERR_PROTO);
    h_free(&h);

    /* A command without a transaction id, and an empty AMF3 command. */
    connected(&h, 0);
    s_chunked(&h.s, 3, SL_RTMP_MSG_COMMAND_AMF0, 0, 0, "\x02\x00\x07_result", 10);
    assert_int_equal(to_client(&h), SL_ERR_PROTO);
    h_free(&h);
    connected(&h, 0);
    s_chunked(&h.s, 3, SL_RTMP_MSG_COMMAND_AMF3, 0, 0, "", 0);
    assert_int_equal(to_client(&h), SL_ERR_PROTO);
    h_free(&h);

    /* A user control message too short for its event. */
    connected(&h, 0);
    s_chunked(&h.s, 2, SL_RTMP_MSG_USER_CONTROL, 0, 0, "\x00\x06\x00", 3);
    assert_int_equal(to_client(&h), SL_ERR_PROTO);
    h_free(&h);

    /* An AMF3 command is read past its format byte. */
    connected(&h, 0);
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_bytes_put_u8(&b, 0), SL_OK);
    assert_int_equal(sl_amf0_put_string(&b, "_error"), SL_OK);
    assert_int_equal(sl_amf0_put_number(&b, 1), SL_OK);
    assert_int_equal(sl_amf0_put_null(&b), SL_OK);
    put_info(&b, "error", "NetConnection.Connect.Rejected", "amf3");
    s_chunked(&h.s, 3, SL_RTMP_MSG_COMMAND_AMF3, 0, 0, b.data, b.len);
    sl_bytes_free(&b);
    assert_int_equal(to_client(&h), SL_ERR_AUTH);
    assert_string_equal(h.description, "amf3");
    h_free(&h);
}

static void test_bad_stream_ids(void **state)
{
    (void)state;
    static const double ids[] = {0, -1, 1.5, 4294967296.0, NAN, INFINITY};
    for (size_t i = 0; i <= SL_ARRAY_SIZE(ids); i++) {
        harness_t h;
        connected(&h, 0);
        accept_connect(&h);
        /* The last case: no stream id at all. */
        s_result_num(&h.s, "_result", 2, i < SL_ARRAY_SIZE(ids) ? ids[i] : 0, i < SL_ARRAY_SIZE(ids));
        assert_int_equal(to_client(&h), SL_ERR_PROTO);
        h_free(&h);
    }
    /* The largest stream id is fine. */
    harness_t h;
    connected(&h, 0);
    accept_connect(&h);
    s_result_num(&h.s, "_result", 2, 4294967295.0, true);
    assert_int_equal(to_client(&h), SL_OK);
    to_server(&h);
    assert_int_equal(h.s.msgs[h.s.n_msgs - 2].stream_id, 0xFFFFFFFFu);
    h_free(&h);
}

static void test_init_checks(void **state)
{
    (void)state;
    sl_rtmp_url_t u;
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_rtmp_client_t c;
    assert_int_equal(sl_rtmp_url_parse("rtmp://h/live", &u), SL_OK);
    sl_rtmp_client_cfg_t cfg = {.mode = SL_RTMP_CLIENT_PUBLISH, .url = &u};
    /* No stream name. */
    assert_int_equal(sl_rtmp_client_init(&c, &cfg, &ops, NULL, &out), SL_ERR_PROTO);
    assert_int_equal(sl_rtmp_client_feed(&c, (const uint8_t *)"\x03", 1, &out), SL_ERR_PROTO);
    sl_rtmp_client_free(&c);
    sl_rtmp_client_free(&c);
    assert_int_equal(sl_rtmp_url_parse("rtmp://h/live/key", &u), SL_OK);
    cfg.chunk_size = 127;
    assert_int_equal(sl_rtmp_client_init(&c, &cfg, &ops, NULL, &out), SL_ERR_PROTO);
    sl_rtmp_client_free(&c);
    cfg.chunk_size = 65537;
    assert_int_equal(sl_rtmp_client_init(&c, &cfg, &ops, NULL, &out), SL_ERR_PROTO);
    sl_rtmp_client_free(&c);
    cfg.chunk_size = 0;
    cfg.mode = (sl_rtmp_client_mode_t)7;
    assert_int_equal(sl_rtmp_client_init(&c, &cfg, &ops, NULL, &out), SL_ERR_PROTO);
    sl_rtmp_client_free(&c);
    assert_int_equal(out.len, 0);
    /* Without callbacks it runs too; a play client sends no frames. */
    cfg.mode = SL_RTMP_CLIENT_PLAY;
    assert_int_equal(sl_rtmp_client_init(&c, &cfg, NULL, NULL, &out), SL_OK);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0, 0, aac, sizeof(aac));
    assert_int_equal(sl_rtmp_client_send_frame(&c, f, &out), SL_ERR_UNSUPPORTED);
    sl_frame_unref(f);
    sl_rtmp_client_free(&c);
    sl_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_sequence),
        cmocka_unit_test(test_publish_before_ready),
        cmocka_unit_test(test_publish_bad_name),
        cmocka_unit_test(test_publish_release_error_ignored),
        cmocka_unit_test(test_connect_rejected),
        cmocka_unit_test(test_create_stream_error_and_close),
        cmocka_unit_test(test_play_sequence),
        cmocka_unit_test(test_play_byte_by_byte),
        cmocka_unit_test(test_play_whole_session_split),
        cmocka_unit_test(test_play_not_found),
        cmocka_unit_test(test_play_end_by_stream_eof),
        cmocka_unit_test(test_play_frame_callback_stops),
        cmocka_unit_test(test_play_timestamps_and_aggregate),
        cmocka_unit_test(test_media_before_play_ignored),
        cmocka_unit_test(test_chunk_sizes_both_ways),
        cmocka_unit_test(test_acks_at_window),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_hostile_handshake),
        cmocka_unit_test(test_hostile_messages),
        cmocka_unit_test(test_bad_stream_ids),
        cmocka_unit_test(test_init_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
