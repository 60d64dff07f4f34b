#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocols/rtmp/handshake.h"

#define HS SL_RTMP_HANDSHAKE_SIZE

/* The keys, written out independently of the module under test. */
static const uint8_t key_tail[32] = {0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0,
                                     0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80,
                                     0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};
static const char fp_text[] = "Genuine Adobe Flash Player 001";
static const char fms_text[] = "Genuine Adobe Flash Media Server 001";

static void full_key(uint8_t *key, const char *text)
{
    memcpy(key, text, strlen(text));
    memcpy(key + strlen(text), key_tail, 32);
}

static void hmac(const void *key, size_t key_len, const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n));
    assert_int_equal(n, 32);
}

/* Layout A ("digest first") uses bytes 8..11, layout B ("key first") 772..775. */
static size_t offset_a(const uint8_t *b) { return (size_t)(b[8] + b[9] + b[10] + b[11]) % 728 + 12; }
static size_t offset_b(const uint8_t *b) { return (size_t)(b[772] + b[773] + b[774] + b[775]) % 728 + 776; }

static void digest_at(const uint8_t *b, size_t off, const char *text, uint8_t out[32])
{
    uint8_t joined[HS - 32];
    memcpy(joined, b, off);
    memcpy(joined + off, b + off + 32, HS - off - 32);
    hmac(text, strlen(text), joined, sizeof(joined), out);
}

static bool digest_ok(const uint8_t *b, size_t off, const char *text)
{
    uint8_t d[32];
    digest_at(b, off, text, d);
    return memcmp(d, b + off, 32) == 0;
}

/* The last 32 bytes of an S2/C2 sign its first 1504 with HMAC(full key, digest). */
static bool signature_ok(const uint8_t *b, const char *text, const uint8_t *peer_digest)
{
    uint8_t key[68], k[32], sig[32];
    full_key(key, text);
    hmac(key, strlen(text) + 32, peer_digest, 32, k);
    hmac(k, 32, b, HS - 32, sig);
    return memcmp(sig, b + HS - 32, 32) == 0;
}

/* A fixed C1 whose layout-A and layout-B digests were computed with Python's hmac
 * module: a known answer independent of both OpenSSL and the module. */
static void pattern_c1(uint8_t *c1)
{
    for (size_t i = 0; i < HS; i++) c1[i] = (uint8_t)(i * 7 + 3);
    memcpy(c1, (const uint8_t[]){0, 0, 0, 0, 9, 0, 124, 2}, 8);
}

static const uint8_t kat_digest_a[32] = {0x61, 0x2a, 0xf3, 0x7c, 0x38, 0xc4, 0xa1, 0xb7, 0x4e, 0x57, 0x37,
                                         0xfc, 0x40, 0x21, 0xde, 0xd1, 0x7e, 0xd9, 0x2a, 0x94, 0x31, 0xc1,
                                         0x9b, 0xc6, 0x65, 0xcf, 0x42, 0x11, 0x31, 0xba, 0xd8, 0xa6};
static const uint8_t kat_digest_b[32] = {0xe6, 0xa7, 0xfb, 0xdd, 0xa4, 0xaa, 0xb5, 0x03, 0xb4, 0xe6, 0x93,
                                         0xe9, 0x2d, 0x6f, 0x18, 0xd9, 0xd4, 0xb8, 0x9f, 0x3e, 0xf0, 0xe9,
                                         0x5f, 0xff, 0xe7, 0x67, 0xa4, 0x83, 0x0a, 0xa3, 0x71, 0x09};

/* Feeds everything at once (step 0) or in pieces of step bytes, checking that
 * the handshake waits until the last needed byte and reports what it used. */
static int feed(sl_rtmp_handshake_t *hs, const uint8_t *data, size_t len, size_t step, size_t *consumed,
                sl_bytes_t *out)
{
    if (step == 0) return sl_rtmp_handshake_feed(hs, data, len, consumed, out);
    size_t used = 0;
    int rc = SL_ERR_AGAIN;
    while (used < len && rc == SL_ERR_AGAIN) {
        size_t n = SL_MIN(step, len - used), c = 0;
        rc = sl_rtmp_handshake_feed(hs, data + used, n, &c, out);
        if (rc == SL_ERR_AGAIN) assert_int_equal(c, n);
        used += c;
    }
    *consumed = used;
    return rc;
}

static void test_simple_server(void **state)
{
    uint8_t c0c1[1 + HS];
    c0c1[0] = 3;
    for (size_t i = 1; i <= HS; i++) c0c1[i] = (uint8_t)(i * 13);
    memcpy(c0c1 + 1, (const uint8_t[]){0, 0, 0x12, 0x34, 0, 0, 0, 0}, 8);

    sl_rtmp_handshake_t hs;
    sl_rtmp_handshake_init_server(&hs);
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t used;
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, sizeof(c0c1), &used, &out), SL_ERR_AGAIN);
    assert_int_equal(used, sizeof(c0c1));
    assert_int_equal(out.len, 1 + 2 * HS);
    assert_int_equal(out.data[0], 3);
    /* S1: time 0, zero version, then random. */
    assert_memory_equal(out.data + 1, ((const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0}), 8);
    /* S2 echoes C1. */
    assert_memory_equal(out.data + 1 + HS, c0c1 + 1, HS);
    assert_int_equal(sl_rtmp_handshake_mode(&hs), SL_RTMP_HS_SIMPLE);
    assert_false(sl_rtmp_handshake_is_complex(&hs));

    /* C2 followed by the first bytes of the chunk stream, which stay unconsumed. */
    uint8_t c2[HS + 5];
    memcpy(c2, out.data + 1, HS);
    memset(c2 + HS, 0xee, 5);
    size_t before = out.len;
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c2, sizeof(c2), &used, &out), SL_OK);
    assert_int_equal(used, HS);
    assert_int_equal(out.len, before);
    /* Complete is final. */
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c2 + HS, 5, &used, &out), SL_OK);
    assert_int_equal(used, 0);
    sl_bytes_free(&out);
}

/* A C2 that does not echo S1 is accepted: clients differ. */
static void test_server_accepts_any_c2(void **state)
{
    uint8_t c0c1[1 + HS] = {3};
    sl_rtmp_handshake_t hs;
    sl_rtmp_handshake_init_server(&hs);
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t used;
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, sizeof(c0c1), &used, &out), SL_ERR_AGAIN);
    uint8_t c2[HS];
    memset(c2, 0x5a, sizeof(c2));
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c2, sizeof(c2), &used, &out), SL_OK);
    sl_bytes_free(&out);
}

/* Client and server in memory; step as in feed(). */
static void round_trip(size_t step)
{
    sl_rtmp_handshake_t client, server;
    sl_bytes_t c_out, s_out;
    sl_bytes_init(&c_out);
    sl_bytes_init(&s_out);
    size_t used;

    assert_int_equal(sl_rtmp_handshake_init_client(&client, &c_out), SL_OK);
    assert_int_equal(c_out.len, 1 + HS);
    const uint8_t *c1 = c_out.data + 1;
    assert_int_equal(c_out.data[0], 3);
    assert_memory_equal(c1 + 4, ((const uint8_t[]){0x09, 0x00, 0x7c, 0x02}), 4);
    assert_true(digest_ok(c1, offset_a(c1), fp_text));

    sl_rtmp_handshake_init_server(&server);
    assert_int_equal(feed(&server, c_out.data, c_out.len, step, &used, &s_out), SL_ERR_AGAIN);
    assert_int_equal(used, 1 + HS);
    assert_int_equal(s_out.len, 1 + 2 * HS);
    assert_true(sl_rtmp_handshake_is_complex(&server));
    assert_int_equal(sl_rtmp_handshake_mode(&server), SL_RTMP_HS_COMPLEX);

    /* What ffmpeg checks before it plays: S1's digest (same layout as C1, key
     * text of the FMS key) and S2's signature over C1's digest. */
    const uint8_t *s1 = s_out.data + 1, *s2 = s1 + HS;
    assert_int_equal(s_out.data[0], 3);
    assert_memory_equal(s1 + 4, ((const uint8_t[]){0x04, 0x05, 0x00, 0x01}), 4);
    assert_true(digest_ok(s1, offset_a(s1), fms_text));
    assert_false(digest_ok(s1, offset_a(s1), fp_text));
    assert_true(signature_ok(s2, fms_text, c1 + offset_a(c1)));

    assert_int_equal(feed(&client, s_out.data, s_out.len, step, &used, &c_out), SL_OK);
    assert_int_equal(used, 1 + 2 * HS);
    assert_true(sl_rtmp_handshake_is_complex(&client));
    assert_int_equal(c_out.len, 1 + 2 * HS);
    const uint8_t *c2 = c_out.data + 1 + HS;
    s1 = s_out.data + 1;
    assert_true(signature_ok(c2, fp_text, s1 + offset_a(s1)));

    assert_int_equal(feed(&server, c2, HS, step, &used, &s_out), SL_OK);
    assert_int_equal(used, HS);
    assert_int_equal(s_out.len, 1 + 2 * HS);
    sl_bytes_free(&c_out);
    sl_bytes_free(&s_out);
}

static void test_complex_all_at_once(void **state) { round_trip(0); }
static void test_complex_byte_by_byte(void **state) { round_trip(1); }
static void test_complex_odd_pieces(void **state) { round_trip(1000); }

static void test_known_answer(void **state)
{
    uint8_t c1[HS];
    pattern_c1(c1);
    assert_int_equal(offset_a(c1), 290);
    assert_int_equal(offset_b(c1), 942);
    uint8_t d[32];
    digest_at(c1, 290, fp_text, d);
    assert_memory_equal(d, kat_digest_a, 32);
    digest_at(c1, 942, fp_text, d);
    assert_memory_equal(d, kat_digest_b, 32);
}

/* Server fed the known-answer C1 with its digest in the given layout. */
static void server_on_pattern(size_t off, const uint8_t *digest, bool layout_b)
{
    uint8_t c0c1[1 + HS];
    c0c1[0] = 3;
    pattern_c1(c0c1 + 1);
    memcpy(c0c1 + 1 + off, digest, 32);

    sl_rtmp_handshake_t hs;
    sl_rtmp_handshake_init_server(&hs);
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t used;
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, sizeof(c0c1), &used, &out), SL_ERR_AGAIN);
    assert_int_equal(sl_rtmp_handshake_mode(&hs), SL_RTMP_HS_COMPLEX);
    const uint8_t *s1 = out.data + 1, *s2 = s1 + HS;
    size_t s1_off = layout_b ? offset_b(s1) : offset_a(s1);
    assert_true(digest_ok(s1, s1_off, fms_text));
    assert_true(signature_ok(s2, fms_text, digest));

    /* A client accepts that S1 whatever its layout, and signs C2 over its digest. */
    sl_rtmp_handshake_t client;
    sl_bytes_t c_out;
    sl_bytes_init(&c_out);
    assert_int_equal(sl_rtmp_handshake_init_client(&client, &c_out), SL_OK);
    assert_int_equal(feed(&client, out.data, out.len, 0, &used, &c_out), SL_OK);
    assert_true(sl_rtmp_handshake_is_complex(&client));
    assert_true(signature_ok(c_out.data + 1 + HS, fp_text, s1 + s1_off));
    sl_bytes_free(&c_out);
    sl_bytes_free(&out);
}

static void test_layout_digest_first(void **state) { server_on_pattern(290, kat_digest_a, false); }
static void test_layout_key_first(void **state) { server_on_pattern(942, kat_digest_b, true); }

/* A C1 that claims a version but whose digest does not verify gets the simple
 * answer: zero version in S1, S2 echoing C1. */
static void expect_fallback(const uint8_t *c0c1)
{
    sl_rtmp_handshake_t hs;
    sl_rtmp_handshake_init_server(&hs);
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t used;
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, 1 + HS, &used, &out), SL_ERR_AGAIN);
    assert_int_equal(sl_rtmp_handshake_mode(&hs), SL_RTMP_HS_FALLBACK);
    assert_false(sl_rtmp_handshake_is_complex(&hs));
    assert_memory_equal(out.data + 1 + 4, ((const uint8_t[]){0, 0, 0, 0}), 4);
    assert_memory_equal(out.data + 1 + HS, c0c1 + 1, HS);
    sl_bytes_free(&out);
}

static void test_corrupted_digest_falls_back(void **state)
{
    uint8_t c0c1[1 + HS];
    c0c1[0] = 3;
    pattern_c1(c0c1 + 1);
    memcpy(c0c1 + 1 + 290, kat_digest_a, 32);
    c0c1[1 + 290 + 31] ^= 0x01; /* in the digest */
    expect_fallback(c0c1);
    c0c1[1 + 290 + 31] ^= 0x01;
    c0c1[1 + 1000] ^= 0x80; /* in the signed bytes */
    expect_fallback(c0c1);
    /* No digest at all, but a version: some encoders do this. */
    pattern_c1(c0c1 + 1);
    expect_fallback(c0c1);
}

static void test_bad_version(void **state)
{
    sl_rtmp_handshake_t hs;
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t used;
    uint8_t c0c1[1 + HS] = {4};

    sl_rtmp_handshake_init_server(&hs);
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, sizeof(c0c1), &used, &out), SL_ERR_PROTO);
    assert_int_equal(used, 1);
    assert_int_equal(out.len, 0);
    /* The error is final. */
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1 + 1, HS, &used, &out), SL_ERR_PROTO);
    assert_int_equal(used, 0);

    c0c1[0] = 6; /* RTMPE */
    sl_rtmp_handshake_init_server(&hs);
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, sizeof(c0c1), &used, &out), SL_ERR_UNSUPPORTED);
    c0c1[0] = 0;
    sl_rtmp_handshake_init_server(&hs);
    assert_int_equal(sl_rtmp_handshake_feed(&hs, c0c1, 1, &used, &out), SL_ERR_PROTO);
    assert_int_equal(out.len, 0);

    /* A client checks S0 the same way. */
    assert_int_equal(sl_rtmp_handshake_init_client(&hs, &out), SL_OK);
    out.len = 0;
    assert_int_equal(sl_rtmp_handshake_feed(&hs, (const uint8_t[]){0x05}, 1, &used, &out), SL_ERR_PROTO);
    assert_int_equal(out.len, 0);
    sl_bytes_free(&out);
}

/* A client talking to a simple server (or one without a valid digest) echoes S1. */
static void client_echo(const uint8_t version[4], sl_rtmp_hs_mode_t want)
{
    sl_rtmp_handshake_t hs;
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_rtmp_handshake_init_client(&hs, &out), SL_OK);
    out.len = 0;

    uint8_t s[1 + 2 * HS + 3];
    s[0] = 3;
    for (size_t i = 1; i < sizeof(s); i++) s[i] = (uint8_t)(i * 31 + 7);
    memcpy(s + 1 + 4, version, 4);
    size_t used;
    assert_int_equal(feed(&hs, s, 1 + HS, 1, &used, &out), SL_ERR_AGAIN);
    assert_int_equal(sl_rtmp_handshake_mode(&hs), want);
    assert_false(sl_rtmp_handshake_is_complex(&hs));
    assert_int_equal(out.len, 0); /* C2 waits for S2 */
    assert_int_equal(sl_rtmp_handshake_feed(&hs, s + 1 + HS, HS + 3, &used, &out), SL_OK);
    assert_int_equal(used, HS);
    assert_int_equal(out.len, HS);
    assert_memory_equal(out.data, s + 1, HS);
    sl_bytes_free(&out);
}

static void test_client_simple_server(void **state)
{
    client_echo((const uint8_t[]){0, 0, 0, 0}, SL_RTMP_HS_SIMPLE);
    client_echo((const uint8_t[]){3, 5, 1, 1}, SL_RTMP_HS_FALLBACK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_server),
        cmocka_unit_test(test_server_accepts_any_c2),
        cmocka_unit_test(test_complex_all_at_once),
        cmocka_unit_test(test_complex_byte_by_byte),
        cmocka_unit_test(test_complex_odd_pieces),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_layout_digest_first),
        cmocka_unit_test(test_layout_key_first),
        cmocka_unit_test(test_corrupted_digest_falls_back),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_client_simple_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
