/* Token authentication and query values. The digests were computed independently:
 *   python3 -c 'import hashlib; print(hashlib.md5(b"xiu_keytest").hexdigest())'
 *   printf 'live/cam1:1700000000:publish' | openssl dgst -sha256 -hmac s3cr3t
 * and likewise for the other inputs named beside each value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "sluice/token.h"

/* md5("xiu_key" "test") */
static const char MD5_TEST[] = "2dc40c1dd87dc38a0d58660fdaf3e871";
/* HMAC-SHA256("s3cr3t", "live/cam1:1700000000:publish") and ":play" */
static const char HMAC_PUB[] = "235db9f6c5399bb0199c994e352c894265d241d4a1a1dc88b05320ecbf40993d";
static const char HMAC_PLAY[] = "8ff7ab6c0aba4e86947e5ebe85f79b323279abcc03bc3ad27221a14d71958799";
/* HMAC-SHA256("s3cr3t", "live/cam1:18446744073709551615:play") */
static const char HMAC_MAX[] = "548c49e8b1481d5336e76691d625a08714f8e5f485faa0a0e62f1077731739c5";

#define EXP 1700000000u

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'f') *s = (char)(*s - 32);
}

static void test_kind_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        sl_token_kind_t kind;
    } ok[] = {{"none", SL_TOKEN_NONE}, {"simple", SL_TOKEN_SIMPLE}, {"md5", SL_TOKEN_MD5}, {"hmac", SL_TOKEN_HMAC}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(ok); i++) {
        sl_token_kind_t k = SL_TOKEN_NONE;
        assert_int_equal(sl_token_kind_parse(ok[i].text, &k), SL_OK);
        assert_int_equal(k, ok[i].kind);
        assert_string_equal(sl_token_kind_name(k), ok[i].text);
    }
    static const char *const bad[] = {"", "MD5", "hmac ", "sha256", "simplex", "no"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        sl_token_kind_t k = SL_TOKEN_HMAC;
        assert_int_equal(sl_token_kind_parse(bad[i], &k), SL_ERR_CONFIG);
        assert_int_equal(k, SL_TOKEN_HMAC);
    }
    assert_string_equal(sl_token_kind_name((sl_token_kind_t)42), "?");
    assert_string_equal(sl_direction_name(SL_DIR_PUBLISH), "publish");
    assert_string_equal(sl_direction_name(SL_DIR_PLAY), "play");
}

/* Verifies and returns the reason, "" for success. */
static const char *check(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                         sl_direction_t dir, const char *token, const char *expires, uint64_t now)
{
    const char *why = "unset";
    int rc = sl_token_verify(kind, secret, app, name, dir, token, expires, now, &why);
    if (rc == SL_OK) {
        assert_null(why);
        return "";
    }
    assert_int_equal(rc, SL_ERR_AUTH);
    assert_non_null(why);
    return why;
}

static void test_none(void **state)
{
    (void)state;
    assert_string_equal(check(SL_TOKEN_NONE, NULL, "live", "cam1", SL_DIR_PUBLISH, NULL, NULL, 0), "");
    assert_string_equal(check(SL_TOKEN_NONE, "x", "live", "cam1", SL_DIR_PLAY, "junk", "junk", 0), "");
}

static void test_simple(void **state)
{
    (void)state;
    const char *s = "pa$$ word";
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "live", "cam1", SL_DIR_PUBLISH, "pa$$ word", NULL, 0), "");
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "x", "y", SL_DIR_PLAY, "pa$$ word", NULL, 0), "");
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "live", "cam1", SL_DIR_PUBLISH, "pa$$ wor", NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "live", "cam1", SL_DIR_PUBLISH, "pa$$ words", NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "live", "cam1", SL_DIR_PUBLISH, "PA$$ WORD", NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "live", "cam1", SL_DIR_PUBLISH, "", NULL, 0), "missing");
    assert_string_equal(check(SL_TOKEN_SIMPLE, s, "live", "cam1", SL_DIR_PUBLISH, NULL, NULL, 0), "missing");
    /* An empty secret must not let an empty (or any) token in. */
    assert_string_equal(check(SL_TOKEN_SIMPLE, "", "live", "cam1", SL_DIR_PUBLISH, "", NULL, 0), "no secret");
    assert_string_equal(check(SL_TOKEN_SIMPLE, NULL, "live", "cam1", SL_DIR_PUBLISH, "x", NULL, 0), "no secret");
    /* The reason is optional. */
    assert_int_equal(sl_token_verify(SL_TOKEN_SIMPLE, s, "a", "b", SL_DIR_PLAY, "no", NULL, 0, NULL), SL_ERR_AUTH);
    assert_int_equal(sl_token_verify(SL_TOKEN_SIMPLE, s, "a", "b", SL_DIR_PLAY, s, NULL, 0, NULL), SL_OK);
}

static void test_md5(void **state)
{
    (void)state;
    const char *k = "xiu_key";
    /* XIU hashes the name without the app, so any app and either direction passes. */
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH, MD5_TEST, NULL, 0), "");
    assert_string_equal(check(SL_TOKEN_MD5, k, "other", "test", SL_DIR_PLAY, MD5_TEST, NULL, 0), "");
    char up[sizeof(MD5_TEST)];
    memcpy(up, MD5_TEST, sizeof(up));
    upper(up);
    assert_string_equal(up, "2DC40C1DD87DC38A0D58660FDAF3E871");
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH, up, NULL, 0), "");

    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test2", SL_DIR_PUBLISH, MD5_TEST, NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_MD5, "xiu_kez", "live", "test", SL_DIR_PUBLISH, MD5_TEST, NULL, 0), "wrong");
    /* The secret itself is not an md5 token. */
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH, k, NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH, "", NULL, 0), "missing");
    /* One digit short, one too many, a non-hex digit, a hex token of another length. */
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH,
                              "2dc40c1dd87dc38a0d58660fdaf3e87", NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH,
                              "2dc40c1dd87dc38a0d58660fdaf3e8710", NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH,
                              "2dc40c1dd87dc38a0d58660fdaf3e87g", NULL, 0), "wrong");
    assert_string_equal(check(SL_TOKEN_MD5, k, "live", "test", SL_DIR_PUBLISH, HMAC_PUB, NULL, 0), "wrong");
}

static void test_hmac(void **state)
{
    (void)state;
    const char *s = "s3cr3t";
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", 0), "");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PLAY, HMAC_PLAY, "1700000000", 0), "");
    /* Wrong direction, stream, app, expiry or secret. */
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PLAY, HMAC_PUB, "1700000000", 0), "wrong");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PLAY, "1700000000", 0), "wrong");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam2", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", 0), "wrong");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "vod", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", 0), "wrong");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000001", 0), "wrong");
    assert_string_equal(check(SL_TOKEN_HMAC, "s3cr3T", "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", 0),
                        "wrong");
    /* The slash between app and name is part of the message. */
    assert_string_equal(check(SL_TOKEN_HMAC, s, "livecam1", "", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", 0), "wrong");

    /* Upper and mixed case hex. */
    char up[sizeof(HMAC_PUB)];
    memcpy(up, HMAC_PUB, sizeof(up));
    upper(up);
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, up, "1700000000", 0), "");
    up[0] = '2', up[1] = '3', up[2] = '5', up[3] = 'd';
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, up, "1700000000", 0), "");

    /* Missing and malformed parts. */
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, NULL, 0), "missing");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "", 0), "missing");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, NULL, "1700000000", 0), "missing");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, "", "1700000000", 0), "missing");
    static const char *const bad_exp[] = {"-1", "+1700000000", " 1700000000", "1700000000 ", "1.7e9",
                                          "0x65", "18446744073709551616", "99999999999999999999999"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad_exp); i++)
        assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, bad_exp[i], 0),
                            "malformed");
    /* A token of the right length with one digit off, and an overlong one. */
    char off[sizeof(HMAC_PUB)];
    memcpy(off, HMAC_PUB, sizeof(off));
    off[63] = off[63] == '0' ? '1' : '0';
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, off, "1700000000", 0), "wrong");
    char *big = malloc(100001);
    assert_non_null(big);
    memset(big, 'a', 100000);
    big[100000] = '\0';
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, big, "1700000000", 0), "wrong");
    assert_string_equal(check(SL_TOKEN_HMAC, s, big, big, SL_DIR_PUBLISH, HMAC_PUB, "1700000000", 0), "wrong");
    free(big);
}

static void test_hmac_expiry(void **state)
{
    (void)state;
    const char *s = "s3cr3t";
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", EXP - 1), "");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", EXP),
                        "expired");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PUBLISH, HMAC_PUB, "1700000000", EXP + 1),
                        "expired");
    /* A forged token is wrong, expired or not. */
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PLAY, HMAC_PUB, "1700000000", EXP + 1),
                        "wrong");
    /* The largest expiry there is. */
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PLAY, HMAC_MAX, "18446744073709551615",
                              UINT64_MAX - 1), "");
    assert_string_equal(check(SL_TOKEN_HMAC, s, "live", "cam1", SL_DIR_PLAY, HMAC_MAX, "18446744073709551615",
                              UINT64_MAX), "expired");
}

static void test_sign(void **state)
{
    (void)state;
    char out[SL_TOKEN_HEX_MAX];
    assert_int_equal(sl_token_sign(SL_TOKEN_MD5, "xiu_key", "live", "test", SL_DIR_PLAY, 0, out, sizeof(out)), SL_OK);
    assert_string_equal(out, MD5_TEST);
    assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "s3cr3t", "live", "cam1", SL_DIR_PUBLISH, EXP, out, sizeof(out)),
                     SL_OK);
    assert_string_equal(out, HMAC_PUB);
    assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "s3cr3t", "live", "cam1", SL_DIR_PLAY, EXP, out, sizeof(out)),
                     SL_OK);
    assert_string_equal(out, HMAC_PLAY);
    assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "s3cr3t", "live", "cam1", SL_DIR_PLAY, UINT64_MAX, out, sizeof(out)),
                     SL_OK);
    assert_string_equal(out, HMAC_MAX);
    assert_int_equal(sl_token_sign(SL_TOKEN_SIMPLE, "abc", "live", "cam1", SL_DIR_PLAY, 0, out, sizeof(out)), SL_OK);
    assert_string_equal(out, "abc");

    /* Exact fits and one byte short. */
    assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "s3cr3t", "live", "cam1", SL_DIR_PLAY, EXP, out, 65), SL_OK);
    assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "s3cr3t", "live", "cam1", SL_DIR_PLAY, EXP, out, 64),
                     SL_ERR_TOO_BIG);
    assert_string_equal(out, "");
    assert_int_equal(sl_token_sign(SL_TOKEN_MD5, "k", "live", "cam1", SL_DIR_PLAY, 0, out, 33), SL_OK);
    assert_int_equal(sl_token_sign(SL_TOKEN_MD5, "k", "live", "cam1", SL_DIR_PLAY, 0, out, 32), SL_ERR_TOO_BIG);
    assert_int_equal(sl_token_sign(SL_TOKEN_SIMPLE, "abc", "live", "cam1", SL_DIR_PLAY, 0, out, 4), SL_OK);
    assert_int_equal(sl_token_sign(SL_TOKEN_SIMPLE, "abc", "live", "cam1", SL_DIR_PLAY, 0, out, 3), SL_ERR_TOO_BIG);
    assert_string_equal(out, "");
    assert_int_equal(sl_token_sign(SL_TOKEN_SIMPLE, "abc", "live", "cam1", SL_DIR_PLAY, 0, NULL, 0), SL_ERR_TOO_BIG);

    assert_int_equal(sl_token_sign(SL_TOKEN_NONE, "abc", "live", "cam1", SL_DIR_PLAY, 0, out, sizeof(out)),
                     SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "", "live", "cam1", SL_DIR_PLAY, 0, out, sizeof(out)),
                     SL_ERR_CONFIG);

    /* What sign makes, verify takes, for both directions. */
    for (int d = 0; d < 2; d++) {
        sl_direction_t dir = d ? SL_DIR_PLAY : SL_DIR_PUBLISH;
        assert_int_equal(sl_token_sign(SL_TOKEN_HMAC, "k", "app", "n", dir, 100, out, sizeof(out)), SL_OK);
        assert_string_equal(check(SL_TOKEN_HMAC, "k", "app", "n", dir, out, "100", 99), "");
        assert_string_equal(check(SL_TOKEN_HMAC, "k", "app", "n", !dir, out, "100", 99), "wrong");
    }
}

/* sl_query_get into a 64-byte buffer; returns the code and leaves the value in out. */
static int get(const char *q, const char *key, char out[64]) { return sl_query_get(q, key, out, 64); }

static void test_query_get(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(get("a=1&token=x&b=2", "token", v), SL_OK);
    assert_string_equal(v, "x");
    assert_int_equal(get("token=x", "token", v), SL_OK);
    assert_string_equal(v, "x");
    assert_int_equal(get("?token=x", "token", v), SL_OK);
    assert_string_equal(v, "x");
    /* Only one leading '?' is the separator. */
    assert_int_equal(get("??token=x", "token", v), SL_ERR_NOT_FOUND);
    /* The first of repeated keys wins, even when empty. */
    assert_int_equal(get("token=1&token=2", "token", v), SL_OK);
    assert_string_equal(v, "1");
    assert_int_equal(get("token=&token=2", "token", v), SL_OK);
    assert_string_equal(v, "");
    assert_int_equal(get("token&token=2", "token", v), SL_OK);
    assert_string_equal(v, "");
    /* Keys that contain the wanted one. */
    assert_int_equal(get("xtoken=1&token=2", "token", v), SL_OK);
    assert_string_equal(v, "2");
    assert_int_equal(get("tokenx=1&token=2", "token", v), SL_OK);
    assert_string_equal(v, "2");
    assert_int_equal(get("tok=1&token=2", "token", v), SL_OK);
    assert_string_equal(v, "2");
    assert_int_equal(get("tokenx=1&xtoken=2", "token", v), SL_ERR_NOT_FOUND);
    /* Values holding '=' and '+'; empty pairs. */
    assert_int_equal(get("&&token=a=b+c&&", "token", v), SL_OK);
    assert_string_equal(v, "a=b+c");
    assert_int_equal(get("x=1&token", "token", v), SL_OK);
    assert_string_equal(v, "");
    /* Percent-encoding in values and keys, either case of hex. */
    assert_int_equal(get("token=a%3Db%26c%2fd%20e", "token", v), SL_OK);
    assert_string_equal(v, "a=b&c/d e");
    assert_int_equal(get("tok%65n=5", "token", v), SL_OK);
    assert_string_equal(v, "5");
    assert_int_equal(get("t%6Fken=6", "token", v), SL_OK);
    assert_string_equal(v, "6");
    assert_int_equal(get("token=%e2%82%ac", "token", v), SL_OK);
    assert_string_equal(v, "\xe2\x82\xac");
    /* Not there. */
    assert_int_equal(get("", "token", v), SL_ERR_NOT_FOUND);
    assert_int_equal(get("?", "token", v), SL_ERR_NOT_FOUND);
    assert_int_equal(get("=", "token", v), SL_ERR_NOT_FOUND);
    assert_int_equal(get("&&&", "token", v), SL_ERR_NOT_FOUND);
    assert_int_equal(get("TOKEN=1", "token", v), SL_ERR_NOT_FOUND);
    assert_int_equal(sl_query_get(NULL, "token", v, sizeof(v)), SL_ERR_NOT_FOUND);
    assert_string_equal(v, "");
}

static void test_query_get_hostile(void **state)
{
    (void)state;
    char v[64];
    /* Bad escapes in the wanted value; the output is emptied. */
    static const char *const bad[] = {"token=%", "token=%4", "token=%zz", "token=ab%g1", "token=%00",
                                      "token=a%00b", "token=%%41"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        strcpy(v, "stale");
        assert_int_equal(get(bad[i], "token", v), SL_ERR_PROTO);
        assert_string_equal(v, "");
    }
    /* A bad escape elsewhere does not matter; a bad or NUL-escaped key matches nothing. */
    assert_int_equal(get("x=%zz&token=ok", "token", v), SL_OK);
    assert_string_equal(v, "ok");
    assert_int_equal(get("tok%zzen=1&token=2", "token", v), SL_OK);
    assert_string_equal(v, "2");
    assert_int_equal(get("token%00=1&token=2", "token", v), SL_OK);
    assert_string_equal(v, "2");
    assert_int_equal(get("tok%=1", "tok", v), SL_ERR_NOT_FOUND);

    /* Sizes: the value and its NUL must fit. */
    assert_int_equal(sl_query_get("token=abc", "token", v, 4), SL_OK);
    assert_string_equal(v, "abc");
    strcpy(v, "stale");
    assert_int_equal(sl_query_get("token=abc", "token", v, 3), SL_ERR_TOO_BIG);
    assert_string_equal(v, "");
    assert_int_equal(sl_query_get("token=%41%42%43", "token", v, 4), SL_OK);
    assert_string_equal(v, "ABC");
    assert_int_equal(sl_query_get("token=", "token", v, 1), SL_OK);
    assert_string_equal(v, "");
    assert_int_equal(sl_query_get("token=", "token", NULL, 0), SL_ERR_TOO_BIG);
    assert_int_equal(sl_query_get("token=a", "token", NULL, 0), SL_ERR_TOO_BIG);

    /* An overlong query: a long value is refused, a long other key is skipped. */
    size_t n = 100000;
    char *q = malloc(n + 16);
    assert_non_null(q);
    memcpy(q, "token=", 6);
    memset(q + 6, 'a', n);
    q[6 + n] = '\0';
    assert_int_equal(get(q, "token", v), SL_ERR_TOO_BIG);
    memset(q, 'k', n);
    memcpy(q + n, "=1&token=z", 11);
    assert_int_equal(get(q, "token", v), SL_OK);
    assert_string_equal(v, "z");
    free(q);
}

static void test_query_put(void **state)
{
    (void)state;
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_query_put(&b, "token", "a b&c=d/é~-._"), SL_OK);
    assert_int_equal(sl_query_put(&b, "expires", "1700000000"), SL_OK);
    assert_int_equal(sl_bytes_put_u8(&b, 0), SL_OK);
    assert_string_equal((char *)b.data, "token=a%20b%26c%3Dd%2F%C3%A9~-._&expires=1700000000");
    b.len = 0;

    /* After '?' or '&' no separator is added; after anything else one is. */
    assert_int_equal(sl_bytes_append(&b, "seg1.ts?", 8), SL_OK);
    assert_int_equal(sl_query_put(&b, "k y", "+"), SL_OK);
    assert_int_equal(sl_bytes_put_u8(&b, '&'), SL_OK);
    assert_int_equal(sl_query_put(&b, "e", ""), SL_OK);
    assert_int_equal(sl_query_put(&b, "f", "1"), SL_OK);
    assert_int_equal(sl_bytes_put_u8(&b, 0), SL_OK);
    assert_string_equal((char *)b.data, "seg1.ts?k%20y=%2B&e=&f=1");

    /* What put writes, get reads back. */
    char v[64];
    assert_int_equal(sl_query_get(strchr((char *)b.data, '?'), "k y", v, sizeof(v)), SL_OK);
    assert_string_equal(v, "+");
    b.len = 0;
    const char *odd = "%&=?#+ \x01\x7f\xff";
    assert_int_equal(sl_query_put(&b, "token", odd), SL_OK);
    assert_int_equal(sl_bytes_put_u8(&b, 0), SL_OK);
    assert_int_equal(sl_query_get((char *)b.data, "token", v, sizeof(v)), SL_OK);
    assert_string_equal(v, odd);
    sl_bytes_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_parse), cmocka_unit_test(test_none),
        cmocka_unit_test(test_simple),     cmocka_unit_test(test_md5),
        cmocka_unit_test(test_hmac),       cmocka_unit_test(test_hmac_expiry),
        cmocka_unit_test(test_sign),       cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_query_get_hostile), cmocka_unit_test(test_query_put),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
