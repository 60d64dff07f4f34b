#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/rtmp/amf0.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void assert_bytes(const sl_bytes_t *v, const uint8_t *want, size_t want_len)
{
    assert_int_equal(v->len, want_len);
    assert_memory_equal(v->data, want, want_len);
}

/* Appends raw bytes, for hand-written encodings. */
static void raw(sl_bytes_t *v, const void *p, size_t n)
{
    assert_int_equal(sl_bytes_append(v, p, n), SL_OK);
}

/* A prop/key name as it appears on the wire: u16 length + bytes. */
static void raw_key(sl_bytes_t *v, const char *k)
{
    assert_int_equal(sl_amf0_put_key(v, k), SL_OK);
}

static void raw_string(sl_bytes_t *v, const char *s)
{
    assert_int_equal(sl_amf0_put_string(v, s), SL_OK);
}

static void test_put_scalars(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_amf0_put_number(&v, 1.0), SL_OK);
    assert_bytes(&v, BYTES(0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0));
    v.len = 0;
    assert_int_equal(sl_amf0_put_number(&v, -2.5), SL_OK);
    assert_bytes(&v, BYTES(0x00, 0xc0, 0x04, 0, 0, 0, 0, 0, 0));
    v.len = 0;
    assert_int_equal(sl_amf0_put_bool(&v, true), SL_OK);
    assert_int_equal(sl_amf0_put_bool(&v, false), SL_OK);
    assert_bytes(&v, BYTES(0x01, 0x01, 0x01, 0x00));
    v.len = 0;
    assert_int_equal(sl_amf0_put_string(&v, "app"), SL_OK);
    assert_int_equal(sl_amf0_put_string(&v, ""), SL_OK);
    assert_bytes(&v, BYTES(0x02, 0x00, 0x03, 'a', 'p', 'p', 0x02, 0x00, 0x00));
    v.len = 0;
    assert_int_equal(sl_amf0_put_null(&v), SL_OK);
    assert_bytes(&v, BYTES(0x05));
    sl_bytes_free(&v);
}

static void test_put_long_string(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    char *s = malloc(70001);
    memset(s, 'x', 70000);
    s[70000] = '\0';
    assert_int_equal(sl_amf0_put_string(&v, s), SL_OK);
    assert_int_equal(v.len, 5 + 70000);
    assert_memory_equal(v.data, ((const uint8_t[]){0x0c, 0x00, 0x01, 0x11, 0x70}), 5);
    assert_memory_equal(v.data + 5, s, 70000);

    /* The largest short string stays short. */
    v.len = 0;
    s[65535] = '\0';
    assert_int_equal(sl_amf0_put_string(&v, s), SL_OK);
    assert_int_equal(v.len, 3 + 65535);
    assert_memory_equal(v.data, ((const uint8_t[]){0x02, 0xff, 0xff}), 3);
    free(s);
    sl_bytes_free(&v);
}

static void test_put_containers(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_amf0_put_object_begin(&v), SL_OK);
    assert_int_equal(sl_amf0_put_key(&v, "a"), SL_OK);
    assert_int_equal(sl_amf0_put_number(&v, 1.0), SL_OK);
    assert_int_equal(sl_amf0_put_key(&v, "bc"), SL_OK);
    assert_int_equal(sl_amf0_put_null(&v), SL_OK);
    assert_int_equal(sl_amf0_put_object_end(&v), SL_OK);
    assert_bytes(&v, BYTES(0x03, 0x00, 0x01, 'a', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                           0x00, 0x02, 'b', 'c', 0x05, 0x00, 0x00, 0x09));
    v.len = 0;
    assert_int_equal(sl_amf0_put_ecma_begin(&v, 0x01020304), SL_OK);
    assert_int_equal(sl_amf0_put_object_end(&v), SL_OK);
    assert_bytes(&v, BYTES(0x08, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x09));
    sl_bytes_free(&v);
}

static void test_put_key_too_long(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    raw(&v, "ab", 2);
    char *k = malloc(65537);
    memset(k, 'k', 65536);
    k[65536] = '\0';
    assert_int_equal(sl_amf0_put_key(&v, k), SL_ERR_TOO_BIG);
    assert_bytes(&v, (const uint8_t *)"ab", 2);
    free(k);
    sl_bytes_free(&v);
}

static void test_decode_scalars(void **state)
{
    static const uint8_t body[] = {
        0x00, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, /* pi */
        0x01, 0x00,                                         /* false */
        0x01, 0x07,                                         /* true: any non-zero */
        0x02, 0x00, 0x03, 'a', 0x00, 'b',                   /* binary-safe string */
        0x0c, 0x00, 0x00, 0x00, 0x02, 'h', 'i',             /* long string */
        0x0f, 0x00, 0x00, 0x00, 0x01, '<',                  /* XML document */
        0x05, 0x06, 0x07, 0x00, 0x01, 0x0d,                 /* null, undefined, reference, unsupported */
        0x0b, 0x42, 0x71, 0x76, 0x59, 0x2e, 0x00, 0x00, 0x00, 0xff, 0xc4, /* date, tz -60 */
    };
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(body, sizeof(body), &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), 11);

    double d = 0;
    assert_true(sl_amf0_num(sl_amf0_doc_get(doc, 0), &d));
    assert_true(d > 3.14159265 && d < 3.14159266);
    bool b = true;
    assert_true(sl_amf0_bool(sl_amf0_doc_get(doc, 1), &b));
    assert_false(b);
    assert_true(sl_amf0_bool(sl_amf0_doc_get(doc, 2), &b));
    assert_true(b);

    const sl_amf0_value_t *s = sl_amf0_doc_get(doc, 3);
    assert_int_equal(s->type, SL_AMF0_STRING);
    assert_int_equal(s->len, 3);
    assert_memory_equal(s->str, "a\0b", 4);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 4)), "hi");
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 5)), "<");

    assert_int_equal(sl_amf0_doc_get(doc, 6)->type, SL_AMF0_NULL);
    assert_int_equal(sl_amf0_doc_get(doc, 7)->type, SL_AMF0_UNDEFINED);
    assert_int_equal(sl_amf0_doc_get(doc, 8)->type, SL_AMF0_UNDEFINED);
    assert_int_equal(sl_amf0_doc_get(doc, 9)->type, SL_AMF0_UNDEFINED);

    const sl_amf0_value_t *date = sl_amf0_doc_get(doc, 10);
    assert_int_equal(date->type, SL_AMF0_DATE);
    assert_true(date->num == 1200000000000.0);
    assert_int_equal(date->tz, -60);
    assert_null(sl_amf0_doc_get(doc, 11));
    sl_amf0_doc_free(doc);
}

static void test_decode_empty(void **state)
{
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(NULL, 0, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), 0);
    assert_null(sl_amf0_doc_get(doc, 0));
    sl_amf0_doc_free(doc);
}

/* The connect command ffmpeg sends when publishing. */
static void build_connect(sl_bytes_t *v)
{
    raw_string(v, "connect");
    assert_int_equal(sl_amf0_put_number(v, 1), SL_OK);
    assert_int_equal(sl_amf0_put_object_begin(v), SL_OK);
    raw_key(v, "app");
    raw_string(v, "live");
    raw_key(v, "type");
    raw_string(v, "nonprivate");
    raw_key(v, "flashVer");
    raw_string(v, "FMLE/3.0 (compatible; FMSc/1.0)");
    raw_key(v, "tcUrl");
    raw_string(v, "rtmp://127.0.0.1:1935/live");
    assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
}

static void test_decode_connect(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    build_connect(&v);
    /* The encoding is checked against hand-written bytes once, then decoded. */
    static const uint8_t head[] = {0x02, 0x00, 0x07, 'c', 'o', 'n', 'n', 'e', 'c', 't', 0x00, 0x3f,
                                   0xf0, 0, 0, 0, 0, 0, 0, 0x03, 0x00, 0x03, 'a', 'p', 'p',
                                   0x02, 0x00, 0x04, 'l', 'i', 'v', 'e'};
    assert_true(v.len > sizeof(head));
    assert_memory_equal(v.data, head, sizeof(head));
    assert_memory_equal(v.data + v.len - 3, ((const uint8_t[]){0, 0, 9}), 3);

    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), 3);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 0)), "connect");
    double txn = 0;
    assert_true(sl_amf0_num(sl_amf0_doc_get(doc, 1), &txn));
    assert_true(txn == 1.0);
    const sl_amf0_value_t *obj = sl_amf0_doc_get(doc, 2);
    assert_int_equal(obj->type, SL_AMF0_OBJECT);
    assert_int_equal(obj->count, 4);
    assert_null(obj->class_name);
    assert_string_equal(sl_amf0_str(sl_amf0_prop(obj, "app")), "live");
    assert_string_equal(sl_amf0_str(sl_amf0_prop(obj, "type")), "nonprivate");
    assert_string_equal(sl_amf0_str(sl_amf0_prop(obj, "flashVer")), "FMLE/3.0 (compatible; FMSc/1.0)");
    assert_string_equal(sl_amf0_str(sl_amf0_prop(obj, "tcUrl")), "rtmp://127.0.0.1:1935/live");
    assert_string_equal(obj->first->key, "app");
    assert_string_equal(obj->first->next->next->next->key, "tcUrl");
    assert_null(obj->first->next->next->next->next);

    /* Absent keys, prefixes of keys, wrong types and NULLs all give NULL/false. */
    assert_null(sl_amf0_prop(obj, "ap"));
    assert_null(sl_amf0_prop(obj, "swfUrl"));
    assert_null(sl_amf0_prop(sl_amf0_doc_get(doc, 0), "app"));
    assert_null(sl_amf0_prop(NULL, "app"));
    assert_null(sl_amf0_str(sl_amf0_doc_get(doc, 1)));
    assert_null(sl_amf0_str(NULL));
    double d = 42;
    assert_false(sl_amf0_num(sl_amf0_doc_get(doc, 0), &d));
    assert_false(sl_amf0_num(NULL, &d));
    assert_true(d == 42);
    assert_int_equal(sl_amf0_doc_count(NULL), 0);
    assert_null(sl_amf0_doc_get(NULL, 0));

    sl_amf0_doc_free(doc);
    sl_bytes_free(&v);
}

static void test_decode_publish(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    raw_string(&v, "publish");
    assert_int_equal(sl_amf0_put_number(&v, 5), SL_OK);
    assert_int_equal(sl_amf0_put_null(&v), SL_OK);
    raw_string(&v, "cam?token=x");
    raw_string(&v, "live");
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), 5);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 0)), "publish");
    double txn = 0;
    assert_true(sl_amf0_num(sl_amf0_doc_get(doc, 1), &txn));
    assert_true(txn == 5.0);
    assert_int_equal(sl_amf0_doc_get(doc, 2)->type, SL_AMF0_NULL);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 3)), "cam?token=x");
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 4)), "live");
    sl_amf0_doc_free(doc);
    sl_bytes_free(&v);
}

/* "@setDataFrame", "onMetaData", ECMA array, the way ffmpeg's FLV muxer writes it
 * (its count is what it announces, not necessarily what follows). */
static void build_metadata(sl_bytes_t *v, uint32_t announced)
{
    raw_string(v, "@setDataFrame");
    raw_string(v, "onMetaData");
    assert_int_equal(sl_amf0_put_ecma_begin(v, announced), SL_OK);
    raw_key(v, "duration");
    assert_int_equal(sl_amf0_put_number(v, 0), SL_OK);
    raw_key(v, "width");
    assert_int_equal(sl_amf0_put_number(v, 1280), SL_OK);
    raw_key(v, "height");
    assert_int_equal(sl_amf0_put_number(v, 720), SL_OK);
    raw_key(v, "videocodecid");
    assert_int_equal(sl_amf0_put_number(v, 7), SL_OK);
    raw_key(v, "stereo");
    assert_int_equal(sl_amf0_put_bool(v, true), SL_OK);
    raw_key(v, "encoder");
    raw_string(v, "Lavf58.76.100");
    assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
}

static void test_decode_metadata(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    build_metadata(&v, 2);
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), 3);
    assert_string_equal(sl_amf0_str(sl_amf0_doc_get(doc, 1)), "onMetaData");
    const sl_amf0_value_t *md = sl_amf0_doc_get(doc, 2);
    assert_int_equal(md->type, SL_AMF0_ECMA_ARRAY);
    assert_int_equal(md->count, 6); /* what follows, not the announced 2 */
    double w = 0, h = 0;
    assert_true(sl_amf0_num(sl_amf0_prop(md, "width"), &w));
    assert_true(sl_amf0_num(sl_amf0_prop(md, "height"), &h));
    assert_true(w == 1280 && h == 720);
    bool stereo = false;
    assert_true(sl_amf0_bool(sl_amf0_prop(md, "stereo"), &stereo));
    assert_true(stereo);
    assert_string_equal(sl_amf0_str(sl_amf0_prop(md, "encoder")), "Lavf58.76.100");

    /* Re-encoding corrects the announced count and is otherwise identical. */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_amf0_put_value(&out, md), SL_OK);
    size_t off = v.len - out.len;
    assert_memory_equal(out.data, ((const uint8_t[]){0x08, 0, 0, 0, 6}), 5);
    assert_memory_equal(out.data + 5, v.data + off + 5, out.len - 5);
    sl_bytes_free(&out);
    sl_amf0_doc_free(doc);
    sl_bytes_free(&v);
}

/* One value using every type, nested: a typed object holding an object, a
 * strict array, an ECMA array and every scalar. Its encoding is canonical, so it
 * must re-encode to the same bytes. */
static void build_everything(sl_bytes_t *v)
{
    raw(v, "\x10", 1);
    raw_key(v, "com.example.Thing");
    raw_key(v, "n");
    assert_int_equal(sl_amf0_put_number(v, 12.5), SL_OK);
    raw_key(v, "b");
    assert_int_equal(sl_amf0_put_bool(v, true), SL_OK);
    raw_key(v, "s");
    raw(v, "\x02\x00\x04" "a\0bc", 7);
    raw_key(v, "nul");
    assert_int_equal(sl_amf0_put_null(v), SL_OK);
    raw_key(v, "und");
    raw(v, "\x06", 1);
    raw_key(v, "date");
    raw(v, "\x0b\x42\x71\x76\x59\x2e\x00\x00\x00\x00\x78", 11);
    raw_key(v, "");
    raw_string(v, "empty key");
    raw_key(v, "arr");
    raw(v, "\x0a\x00\x00\x00\x03", 5);
    assert_int_equal(sl_amf0_put_number(v, 1), SL_OK);
    raw_string(v, "two");
    assert_int_equal(sl_amf0_put_object_begin(v), SL_OK);
    raw_key(v, "deep");
    assert_int_equal(sl_amf0_put_ecma_begin(v, 1), SL_OK);
    raw_key(v, "x");
    assert_int_equal(sl_amf0_put_bool(v, false), SL_OK);
    assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
    assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
    raw_key(v, "obj");
    assert_int_equal(sl_amf0_put_object_begin(v), SL_OK);
    assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
    raw_key(v, "empty");
    raw(v, "\x0a\x00\x00\x00\x00", 5);
    assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
}

static void test_round_trip(void **state)
{
    sl_bytes_t in, out;
    sl_bytes_init(&in);
    sl_bytes_init(&out);
    build_everything(&in);
    build_connect(&in);
    build_metadata(&in, 6);

    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(in.data, in.len, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), 1 + 3 + 3);
    for (size_t i = 0; i < sl_amf0_doc_count(doc); i++)
        assert_int_equal(sl_amf0_put_value(&out, sl_amf0_doc_get(doc, i)), SL_OK);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);

    const sl_amf0_value_t *t = sl_amf0_doc_get(doc, 0);
    assert_int_equal(t->type, SL_AMF0_OBJECT);
    assert_string_equal(t->class_name, "com.example.Thing");
    assert_int_equal(t->count, 10);
    assert_string_equal(sl_amf0_str(sl_amf0_prop(t, "")), "empty key");
    assert_int_equal(sl_amf0_prop(t, "s")->len, 4);
    assert_int_equal(sl_amf0_prop(t, "date")->tz, 120);
    const sl_amf0_value_t *arr = sl_amf0_prop(t, "arr");
    assert_int_equal(arr->type, SL_AMF0_STRICT_ARRAY);
    assert_int_equal(arr->count, 3);
    assert_null(arr->first->key);
    assert_string_equal(sl_amf0_str(arr->first->next), "two");
    bool x = true;
    assert_true(sl_amf0_bool(sl_amf0_prop(sl_amf0_prop(arr->first->next->next, "deep"), "x"), &x));
    assert_false(x);
    assert_int_equal(sl_amf0_prop(t, "obj")->count, 0);
    assert_int_equal(sl_amf0_prop(t, "empty")->count, 0);
    sl_amf0_doc_free(doc);

    /* A long string that would fit a short one is re-encoded short. */
    in.len = out.len = 0;
    raw(&in, "\x0c\x00\x00\x00\x02hi", 7);
    assert_int_equal(sl_amf0_decode(in.data, in.len, &doc), SL_OK);
    assert_int_equal(sl_amf0_put_value(&out, sl_amf0_doc_get(doc, 0)), SL_OK);
    assert_bytes(&out, BYTES(0x02, 0x00, 0x02, 'h', 'i'));
    sl_amf0_doc_free(doc);
    sl_bytes_free(&in);
    sl_bytes_free(&out);
}

static void test_truncated_everywhere(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    build_everything(&v);
    /* Every proper prefix of one value is incomplete; LeakSanitizer checks that
     * no failed decode leaves memory behind. */
    for (size_t n = 1; n < v.len; n++) {
        sl_amf0_doc_t *doc = (sl_amf0_doc_t *)&v;
        assert_int_equal(sl_amf0_decode(v.data, n, &doc), SL_ERR_PROTO);
        assert_null(doc);
    }
    sl_bytes_free(&v);

    /* In a command body, a prefix decodes to the whole values it holds, or fails. */
    sl_bytes_init(&v);
    build_connect(&v);
    for (size_t n = 0; n <= v.len; n++) {
        sl_amf0_doc_t *doc;
        int rc = sl_amf0_decode(v.data, n, &doc);
        size_t want = n == 0 ? 0 : n == 10 ? 1 : n == 19 ? 2 : n == v.len ? 3 : SIZE_MAX;
        if (want == SIZE_MAX) {
            assert_int_equal(rc, SL_ERR_PROTO);
        } else {
            assert_int_equal(rc, SL_OK);
            assert_int_equal(sl_amf0_doc_count(doc), want);
            sl_amf0_doc_free(doc);
        }
    }
    sl_bytes_free(&v);
}

static void nest(sl_bytes_t *v, size_t depth, uint8_t marker)
{
    for (size_t i = 0; i < depth; i++) {
        if (marker == 0x03) {
            raw(v, "\x03\x00\x01" "a", 4);
        } else {
            raw(v, "\x0a\x00\x00\x00\x01", 5);
        }
    }
    assert_int_equal(sl_amf0_put_null(v), SL_OK);
    for (size_t i = 0; marker == 0x03 && i < depth; i++)
        assert_int_equal(sl_amf0_put_object_end(v), SL_OK);
}

static void test_depth_limit(void **state)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    sl_amf0_doc_t *doc;

    nest(&v, SL_AMF0_MAX_DEPTH, 0x03);
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_OK);
    const sl_amf0_value_t *p = sl_amf0_doc_get(doc, 0);
    for (int i = 1; i < SL_AMF0_MAX_DEPTH; i++) p = sl_amf0_prop(p, "a");
    assert_int_equal(sl_amf0_prop(p, "a")->type, SL_AMF0_NULL);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_amf0_put_value(&out, sl_amf0_doc_get(doc, 0)), SL_OK);
    assert_bytes(&out, v.data, v.len);
    sl_bytes_free(&out);
    sl_amf0_doc_free(doc);

    v.len = 0;
    nest(&v, SL_AMF0_MAX_DEPTH + 1, 0x03);
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_ERR_TOO_BIG);
    assert_null(doc);

    v.len = 0;
    nest(&v, 10000, 0x03);
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_ERR_TOO_BIG);
    v.len = 0;
    nest(&v, 10000, 0x0a);
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_ERR_TOO_BIG);
    sl_bytes_free(&v);
}

static void test_value_limit(void **state)
{
    uint8_t *nulls = malloc(SL_AMF0_MAX_VALUES + 1);
    memset(nulls, 0x05, SL_AMF0_MAX_VALUES + 1);
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(nulls, SL_AMF0_MAX_VALUES, &doc), SL_OK);
    assert_int_equal(sl_amf0_doc_count(doc), SL_AMF0_MAX_VALUES);
    assert_int_equal(sl_amf0_doc_get(doc, SL_AMF0_MAX_VALUES - 1)->type, SL_AMF0_NULL);
    sl_amf0_doc_free(doc);
    assert_int_equal(sl_amf0_decode(nulls, SL_AMF0_MAX_VALUES + 1, &doc), SL_ERR_TOO_BIG);
    free(nulls);

    /* A strict array that announces 4 billion items holds what the input has. */
    sl_bytes_t v;
    sl_bytes_init(&v);
    raw(&v, "\x0a\xff\xff\xff\xff", 5);
    for (int i = 0; i < 100; i++) assert_int_equal(sl_amf0_put_null(&v), SL_OK);
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_ERR_PROTO);
    for (int i = 0; i < SL_AMF0_MAX_VALUES; i++) assert_int_equal(sl_amf0_put_null(&v), SL_OK);
    assert_int_equal(sl_amf0_decode(v.data, v.len, &doc), SL_ERR_TOO_BIG);
    sl_bytes_free(&v);
}

static void test_hostile_lengths(void **state)
{
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(BYTES(0x02, 0xff, 0xff, 'a'), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x0c, 0xff, 0xff, 0xff, 0xff, 'a', 'b'), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x0f, 0x80, 0x00, 0x00, 0x00), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x03, 0xff, 0xff, 'k', 0x05, 0x00, 0x00, 0x09), &doc),
                     SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x10, 0xff, 0xf0, 'C', 0x00, 0x00, 0x09), &doc), SL_ERR_PROTO);
    /* Length fields themselves cut short. */
    assert_int_equal(sl_amf0_decode(BYTES(0x02, 0x00), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x0c, 0x00, 0x00, 0x00), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x08, 0x00, 0x00), &doc), SL_ERR_PROTO);
    assert_null(doc);
}

static void test_bad_markers(void **state)
{
    sl_amf0_doc_t *doc;
    assert_int_equal(sl_amf0_decode(BYTES(0x20), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0xff), &doc), SL_ERR_PROTO);
    assert_int_equal(sl_amf0_decode(BYTES(0x04), &doc), SL_ERR_PROTO); /* movieclip */
    assert_int_equal(sl_amf0_decode(BYTES(0x0e), &doc), SL_ERR_PROTO); /* recordset */
    assert_int_equal(sl_amf0_decode(BYTES(0x05, 0x09), &doc), SL_ERR_PROTO); /* stray end */
    assert_int_equal(sl_amf0_decode(BYTES(0x11, 0x01), &doc), SL_ERR_UNSUPPORTED); /* AMF3 */
    /* An object end marker where a property value belongs. */
    assert_int_equal(sl_amf0_decode(BYTES(0x03, 0x00, 0x01, 'a', 0x09), &doc), SL_ERR_PROTO);
    /* An unknown marker deep inside an otherwise valid value. */
    assert_int_equal(sl_amf0_decode(BYTES(0x0a, 0x00, 0x00, 0x00, 0x02, 0x05, 0x12), &doc), SL_ERR_PROTO);
    assert_null(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_scalars),
        cmocka_unit_test(test_put_long_string),
        cmocka_unit_test(test_put_containers),
        cmocka_unit_test(test_put_key_too_long),
        cmocka_unit_test(test_decode_scalars),
        cmocka_unit_test(test_decode_empty),
        cmocka_unit_test(test_decode_connect),
        cmocka_unit_test(test_decode_publish),
        cmocka_unit_test(test_decode_metadata),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_value_limit),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_bad_markers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
