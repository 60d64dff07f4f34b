/* Basic and Digest authentication and base64, against the RFC 2617 and RFC 7616
 * examples and values computed independently with Python's hashlib, hmac and base64. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "sluice/auth.h"

/* RFC 2617 section 3.5. */
static const char RFC2617[] = "Digest username=\"Mufasa\",\n"
                              "                 realm=\"testrealm@host.com\",\n"
                              "                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\n"
                              "                 uri=\"/dir/index.html\",\n"
                              "                 qop=auth,\n"
                              "                 nc=00000001,\n"
                              "                 cnonce=\"0a4f113b\",\n"
                              "                 response=\"6629fae49393a05397450978507c4ef1\",\n"
                              "                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

static int parse(const char *s, sl_digest_t *d) { return sl_digest_parse(s, strlen(s), d); }

/* The RFC's example folds its header over lines; HTTP parsers hand over the value
 * unfolded, so the newlines become blanks here. */
static void unfold(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) out[i] = in[i] == '\n' ? ' ' : in[i];
    out[i] = '\0';
}

static void test_base64(void **state)
{
    static const struct {
        const char *plain, *b64;
    } v[] = {{"", ""},
             {"f", "Zg=="},
             {"fo", "Zm8="},
             {"foo", "Zm9v"},
             {"foob", "Zm9vYg=="},
             {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"},
             {"Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(v); i++) {
        sl_bytes_t b;
        sl_bytes_init(&b);
        assert_int_equal(sl_base64_encode((const uint8_t *)v[i].plain, strlen(v[i].plain), &b), SL_OK);
        assert_int_equal(b.len, strlen(v[i].b64));
        if (b.len) assert_memory_equal(b.data, v[i].b64, b.len);
        b.len = 0;
        assert_int_equal(sl_base64_decode(v[i].b64, strlen(v[i].b64), &b), SL_OK);
        assert_int_equal(b.len, strlen(v[i].plain));
        if (b.len) assert_memory_equal(b.data, v[i].plain, b.len);
        sl_bytes_free(&b);
    }
    /* Every byte value, and the unpadded form. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    sl_bytes_t e, d;
    sl_bytes_init(&e);
    sl_bytes_init(&d);
    assert_int_equal(sl_base64_encode(all, sizeof(all), &e), SL_OK);
    assert_int_equal(e.len, 344);
    assert_int_equal(sl_base64_decode((char *)e.data, e.len, &d), SL_OK);
    assert_int_equal(sl_base64_decode((char *)e.data, e.len - 2, &d), SL_OK); /* "==" dropped */
    assert_int_equal(d.len, 512);
    assert_memory_equal(d.data, all, 256);
    assert_memory_equal(d.data + 256, all, 256);

    static const char *const bad[] = {
        "Zg=", "Z", "Zm9v=", "Zg===", "Z=g=", "Zm9 v", "Zm9v\n", "Zm-v", "=", "Zm9vY"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        assert_int_equal(sl_base64_decode(bad[i], strlen(bad[i]), &d), SL_ERR_PROTO);
        assert_int_equal(d.len, 512);
    }
    sl_bytes_free(&e);
    sl_bytes_free(&d);
}

static void test_equal(void **state)
{
    assert_true(sl_auth_equal("", ""));
    assert_true(sl_auth_equal("Circle Of Life", "Circle Of Life"));
    assert_false(sl_auth_equal("Circle Of Life", "Circle Of Lif"));
    assert_false(sl_auth_equal("Circle Of Life", "circle Of Life"));
    assert_false(sl_auth_equal("", "x"));
}

static void test_basic(void **state)
{
    sl_basic_creds_t c;
    const char *h = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
    assert_int_equal(sl_basic_parse(h, strlen(h), &c), SL_OK);
    assert_string_equal(c.user, "Aladdin");
    assert_string_equal(c.password, "open sesame");
    /* Not NUL-terminated: the length bounds it. */
    const char slice[] = "bAsIc  dXNlcjpwYTpzcw==  trailing";
    assert_int_equal(sl_basic_parse(slice, strlen(slice) - strlen("trailing"), &c), SL_OK);
    assert_string_equal(c.user, "user");
    assert_string_equal(c.password, "pa:ss");
    h = "Basic OnB3"; /* ":pw": an empty user */
    assert_int_equal(sl_basic_parse(h, strlen(h), &c), SL_OK);
    assert_string_equal(c.user, "");
    assert_string_equal(c.password, "pw");

    static const char *const bad[] = {
        "Basic",
        "Basic ",
        "Basicx QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Digest QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== extra",
        "Basic QWxhZGRpbg==",     /* "Aladdin": no colon */
        "Basic dXNlcjpwdwpldmls", /* "user:pw\nevil" */
        "Basic dXNlcgA6cHc=",     /* "user\0:pw" */
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=",
        "Basic QWxh*GRpbjpvcGVuIHNlc2FtZQ==",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++)
        assert_int_equal(sl_basic_parse(bad[i], strlen(bad[i]), &c), SL_ERR_PROTO);

    assert_int_equal(sl_basic_parse(NULL, 0, &c), SL_ERR_PROTO);

    /* A 256-byte user is over the limit. */
    char user[300], line[600];
    memset(user, 'u', 256);
    memcpy(user + 256, ":p", 3);
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_base64_encode((uint8_t *)user, strlen(user), &b), SL_OK);
    snprintf(line, sizeof(line), "Basic %.*s", (int)b.len, (char *)b.data);
    assert_int_equal(sl_basic_parse(line, strlen(line), &c), SL_ERR_TOO_BIG);

    /* The client side, and the challenge. */
    b.len = 0;
    assert_int_equal(sl_basic_authorization("Aladdin", "open sesame", &b), SL_OK);
    assert_int_equal(b.len, strlen("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    assert_memory_equal(b.data, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", b.len);
    assert_int_equal(sl_basic_authorization("a:b", "c", &b), SL_ERR_PROTO);
    assert_int_equal(sl_basic_authorization("a", "c\r\n", &b), SL_ERR_PROTO);
    b.len = 0;
    assert_int_equal(sl_basic_challenge("my \"realm\"", &b), SL_OK);
    const char want[] = "Basic realm=\"my \\\"realm\\\"\", charset=\"UTF-8\"";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    assert_int_equal(sl_basic_challenge("a\nb", &b), SL_ERR_PROTO);
    assert_int_equal(b.len, strlen(want));
    sl_bytes_free(&b);
}

static void test_rfc2617(void **state)
{
    char h[sizeof(RFC2617)];
    unfold(RFC2617, h, sizeof(h));
    sl_digest_t d;
    assert_int_equal(parse(h, &d), SL_OK);
    assert_string_equal(d.username, "Mufasa");
    assert_string_equal(d.realm, "testrealm@host.com");
    assert_string_equal(d.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
    assert_string_equal(d.uri, "/dir/index.html");
    assert_string_equal(d.qop, "auth");
    assert_string_equal(d.nc, "00000001");
    assert_string_equal(d.cnonce, "0a4f113b");
    assert_string_equal(d.response, "6629fae49393a05397450978507c4ef1");
    assert_string_equal(d.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
    assert_int_equal(d.have, SL_DIGEST_USERNAME | SL_DIGEST_REALM | SL_DIGEST_NONCE | SL_DIGEST_URI |
                                 SL_DIGEST_QOP | SL_DIGEST_NC | SL_DIGEST_CNONCE | SL_DIGEST_RESPONSE |
                                 SL_DIGEST_OPAQUE);
    assert_string_equal(d.algorithm, "");

    const char *realm = "testrealm@host.com";
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/index.html", "Mufasa", realm, "Circle Of Life"),
                     SL_OK);
    assert_int_equal(sl_digest_verify(&d, "GET", NULL, "Mufasa", realm, "Circle Of Life"), SL_OK);
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/index.html", "Mufasa", realm, "Circle of Life"),
                     SL_ERR_AUTH);
    assert_int_equal(sl_digest_verify(&d, "POST", "/dir/index.html", "Mufasa", realm, "Circle Of Life"),
                     SL_ERR_AUTH);
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/other.html", "Mufasa", realm, "Circle Of Life"),
                     SL_ERR_AUTH);
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/index.html", "mufasa", realm, "Circle Of Life"),
                     SL_ERR_AUTH);
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/index.html", "Mufasa", "other", "Circle Of Life"),
                     SL_ERR_AUTH);
    /* The response in upper case is the same digest. */
    strcpy(d.response, "6629FAE49393A05397450978507C4EF1");
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/index.html", "Mufasa", realm, "Circle Of Life"),
                     SL_OK);
    /* Any change of what the response covers breaks it. */
    sl_digest_t t = d;
    strcpy(t.nc, "00000002");
    assert_int_equal(sl_digest_verify(&t, "GET", "/dir/index.html", "Mufasa", realm, "Circle Of Life"),
                     SL_ERR_AUTH);
    t = d;
    strcpy(t.cnonce, "0a4f113c");
    assert_int_equal(sl_digest_verify(&t, "GET", "/dir/index.html", "Mufasa", realm, "Circle Of Life"),
                     SL_ERR_AUTH);
    t = d;
    t.have &= ~(unsigned)SL_DIGEST_QOP;
    assert_int_equal(sl_digest_verify(&t, "GET", "/dir/index.html", "Mufasa", realm, "Circle Of Life"),
                     SL_ERR_AUTH);
}

/* RFC 7616 section 3.9.1, the MD5 example: algorithm named, values in another order. */
static void test_rfc7616(void **state)
{
    const char *h =
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
        "algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
        "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
        "response=\"8ca523f5e9506fed4657c9700eebdbec\", "
        "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    sl_digest_t d;
    assert_int_equal(parse(h, &d), SL_OK);
    assert_string_equal(d.algorithm, "MD5");
    assert_int_equal(sl_digest_verify(&d, "GET", "/dir/index.html", "Mufasa", "http-auth@example.org",
                                      "Circle of Life"),
                     SL_OK);
}

/* What live555 and ffmpeg send to an RTSP server that offered no qop. */
static void test_no_qop(void **state)
{
    const char *h =
        "Digest username=\"admin\", realm=\"sluice\", nonce=\"0123456789abcdef\", "
        "uri=\"rtsp://127.0.0.1:8554/live/cam\", response=\"6f292146e1089ddcc145fc479ee9d29d\"";
    sl_digest_t d;
    assert_int_equal(parse(h, &d), SL_OK);
    const char *uri = "rtsp://127.0.0.1:8554/live/cam";
    assert_int_equal(sl_digest_verify(&d, "DESCRIBE", uri, "admin", "sluice", "s3cret"), SL_OK);
    assert_int_equal(sl_digest_verify(&d, "SETUP", uri, "admin", "sluice", "s3cret"), SL_ERR_AUTH);
    assert_int_equal(sl_digest_verify(&d, "DESCRIBE", uri, "admin", "sluice", "s3cre"), SL_ERR_AUTH);
    /* The RFC 2617 example without qop (and so without nc and cnonce). */
    h = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
        "uri=\"/dir/index.html\", response=\"670fd8c2df070c60b045671b8b24ff02\"";
    assert_int_equal(parse(h, &d), SL_OK);
    assert_int_equal(
        sl_digest_verify(&d, "GET", "/dir/index.html", "Mufasa", "testrealm@host.com", "Circle Of Life"),
        SL_OK);
}

static void test_parse_syntax(void **state)
{
    sl_digest_t d;
    /* Names in any case, blanks around '=', commas inside quotes, escapes, empty
     * list elements, unknown names, bare tokens. */
    const char *h = "DIGEST  ,UserName = \"a, \\\"b\\\\\" ,, REALM=r,\tfoo=\"x,y\" , bar=baz,"
                    "Nonce=\"\",stale=TRUE ,";
    assert_int_equal(parse(h, &d), SL_OK);
    assert_string_equal(d.username, "a, \"b\\");
    assert_string_equal(d.realm, "r");
    assert_string_equal(d.nonce, "");
    assert_true(d.have & SL_DIGEST_NONCE);
    assert_true(d.stale);
    assert_false(d.have & SL_DIGEST_URI);
    /* A tab is allowed inside quotes (qdtext), other control characters are not. */
    assert_int_equal(parse("Digest realm=\"a\tb\"", &d), SL_OK);
    assert_string_equal(d.realm, "a\tb");
    assert_int_equal(parse("Digest stale=false", &d), SL_OK);
    assert_false(d.stale);
    assert_true(d.have & SL_DIGEST_STALE);

    static const char *const bad[] = {
        "Digest",
        "Digest ",
        "Basic realm=\"x\"",
        "Digestrealm=\"x\"",
        "Digest realm",
        "Digest realm=",
        "Digest realm=,nonce=1",
        "Digest =x",
        "Digest realm=\"x",
        "Digest realm=\"x\\",
        "Digest realm=\"x\" nonce=\"y\"",
        "Digest realm=\"x\"y",
        "Digest realm=x\"y\"",
        "Digest realm=\"a\", REALM=\"b\"",
        "Digest stale=true, stale=false",
        "Digest realm=\"a\rb\"",
        "Digest re\"alm=x",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) assert_int_equal(parse(bad[i], &d), SL_ERR_PROTO);
    assert_int_equal(sl_digest_parse(NULL, 0, &d), SL_ERR_PROTO);
    /* A NUL inside the value's length. */
    assert_int_equal(sl_digest_parse("Digest realm=\"a\0b\"", 19, &d), SL_ERR_PROTO);
    /* Bounded by the length given, not a NUL. */
    assert_int_equal(sl_digest_parse("Digest realm=abc, nonce=", 16, &d), SL_OK);
    assert_string_equal(d.realm, "abc");

    /* Field sizes. */
    char big[3000];
    int n = snprintf(big, sizeof(big), "Digest realm=\"%0256d\"", 0);
    assert_int_equal(sl_digest_parse(big, (size_t)n, &d), SL_ERR_TOO_BIG);
    n = snprintf(big, sizeof(big), "Digest realm=\"%0255d\"", 0);
    assert_int_equal(sl_digest_parse(big, (size_t)n, &d), SL_OK);
    n = snprintf(big, sizeof(big), "Digest uri=\"%02047d\"", 0);
    assert_int_equal(sl_digest_parse(big, (size_t)n, &d), SL_OK);
    assert_int_equal(strlen(d.uri), 2047);
    n = snprintf(big, sizeof(big), "Digest uri=%02048d", 0);
    assert_int_equal(sl_digest_parse(big, (size_t)n, &d), SL_ERR_TOO_BIG);
    /* An unknown name may be as long as a uri, no longer. */
    n = snprintf(big, sizeof(big), "Digest x=\"%02048d\"", 0);
    assert_int_equal(sl_digest_parse(big, (size_t)n, &d), SL_ERR_TOO_BIG);
}

static void test_verify_fields(void **state)
{
    const char *base = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"%s\"%s";
    static const struct {
        const char *response, *extra;
        int rc;
    } cases[] = {
        {"0123456789abcdef0123456789abcde", "", SL_ERR_PROTO},  /* 31 digits */
        {"0123456789abcdef0123456789abcdeg", "", SL_ERR_PROTO}, /* not hex */
        {"0123456789abcdef0123456789abcdef", ", algorithm=SHA-256", SL_ERR_UNSUPPORTED},
        {"0123456789abcdef0123456789abcdef", ", algorithm=MD5-sess", SL_ERR_UNSUPPORTED},
        {"0123456789abcdef0123456789abcdef", ", qop=auth-int, nc=00000001, cnonce=\"c\"",
         SL_ERR_UNSUPPORTED},
        {"0123456789abcdef0123456789abcdef", ", qop=auth, nc=00000001", SL_ERR_PROTO},
        {"0123456789abcdef0123456789abcdef", ", qop=auth, cnonce=\"c\"", SL_ERR_PROTO},
        {"0123456789abcdef0123456789abcdef", ", qop=auth, nc=1, cnonce=\"c\"", SL_ERR_PROTO},
        {"0123456789abcdef0123456789abcdef", ", algorithm=md5", SL_ERR_AUTH},
        {"0123456789abcdef0123456789abcdef", ", qop=auth, nc=0000000a, cnonce=\"c\"", SL_ERR_AUTH},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        char h[256];
        snprintf(h, sizeof(h), base, cases[i].response, cases[i].extra);
        sl_digest_t d;
        assert_int_equal(parse(h, &d), SL_OK);
        assert_int_equal(sl_digest_verify(&d, "GET", "/", "u", "r", "p"), cases[i].rc);
    }
    static const char *const missing[] = {
        "Digest realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"",
        "Digest username=\"u\", nonce=\"n\", uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"",
        "Digest username=\"u\", realm=\"r\", uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"0123456789abcdef0123456789abcdef\"",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\"",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(missing); i++) {
        sl_digest_t d;
        assert_int_equal(parse(missing[i], &d), SL_OK);
        assert_int_equal(sl_digest_verify(&d, "GET", "/", "u", "r", "p"), SL_ERR_PROTO);
    }
}

static void test_nonce(void **state)
{
    uint8_t secret[SL_AUTH_SECRET_LEN];
    for (int i = 0; i < SL_AUTH_SECRET_LEN; i++) secret[i] = (uint8_t)i;
    char nonce[SL_DIGEST_NONCE_LEN + 1];
    assert_int_equal(sl_digest_nonce_new(secret, 1700000000, nonce), SL_OK);
    /* hex64(ts) || first 16 bytes of HMAC-SHA256(secret, be64(ts)), from Python. */
    assert_string_equal(nonce, "000000006553f100a7e6b43c77f0839b4dd88db1c19d3fcc");

    bool stale = true;
    assert_int_equal(sl_digest_nonce_check(secret, nonce, 1700000000, 60, &stale), SL_OK);
    assert_false(stale);
    assert_int_equal(sl_digest_nonce_check(secret, nonce, 1700000060, 60, &stale), SL_OK);
    assert_int_equal(sl_digest_nonce_check(secret, nonce, 1700000061, 60, &stale), SL_ERR_AUTH);
    assert_true(stale);
    assert_int_equal(sl_digest_nonce_check(secret, nonce, 1699999999, 60, &stale), SL_ERR_AUTH);
    assert_true(stale);

    /* Forged: another secret, a changed time or MAC digit, a bad length or case. */
    uint8_t other[SL_AUTH_SECRET_LEN];
    memcpy(other, secret, sizeof(other));
    other[31] ^= 1;
    assert_int_equal(sl_digest_nonce_check(other, nonce, 1700000000, 60, &stale), SL_ERR_AUTH);
    assert_false(stale);
    char t[64];
    strcpy(t, nonce);
    t[15] = '1';
    assert_int_equal(sl_digest_nonce_check(secret, t, 1700000000, 60, &stale), SL_ERR_AUTH);
    assert_false(stale);
    strcpy(t, nonce);
    t[47] = 'd';
    assert_int_equal(sl_digest_nonce_check(secret, t, 1700000000, 60, &stale), SL_ERR_AUTH);
    assert_false(stale);
    strcpy(t, nonce);
    t[10] = 'F';
    assert_int_equal(sl_digest_nonce_check(secret, t, 1700000000, 60, &stale), SL_ERR_AUTH);
    assert_int_equal(sl_digest_nonce_check(secret, "", 1700000000, 60, &stale), SL_ERR_AUTH);
    snprintf(t, sizeof(t), "%sa", nonce);
    assert_int_equal(sl_digest_nonce_check(secret, t, 1700000000, 60, &stale), SL_ERR_AUTH);
    assert_int_equal(sl_digest_nonce_check(secret, "zz0000006553f100a7e6b43c77f0839b4dd88db1c19d3fcc",
                                           1700000000, 60, &stale),
                     SL_ERR_AUTH);
    assert_false(stale);

    /* Random secrets differ. */
    uint8_t s1[SL_AUTH_SECRET_LEN], s2[SL_AUTH_SECRET_LEN];
    assert_int_equal(sl_auth_secret_new(s1), SL_OK);
    assert_int_equal(sl_auth_secret_new(s2), SL_OK);
    assert_memory_not_equal(s1, s2, SL_AUTH_SECRET_LEN);
}

static void test_challenge(void **state)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_digest_challenge("sluice", "abc", false, false, &b), SL_OK);
    const char w1[] = "Digest realm=\"sluice\", nonce=\"abc\", algorithm=MD5";
    assert_int_equal(b.len, strlen(w1));
    assert_memory_equal(b.data, w1, b.len);
    b.len = 0;
    assert_int_equal(sl_digest_challenge("a\"b", "abc", true, true, &b), SL_OK);
    const char w2[] = "Digest realm=\"a\\\"b\", nonce=\"abc\", algorithm=MD5, qop=\"auth\", stale=true";
    assert_int_equal(b.len, strlen(w2));
    assert_memory_equal(b.data, w2, b.len);
    /* What we write we read. */
    sl_digest_t d;
    assert_int_equal(sl_digest_parse((char *)b.data, b.len, &d), SL_OK);
    assert_string_equal(d.realm, "a\"b");
    assert_string_equal(d.qop, "auth");
    assert_true(d.stale);
    assert_int_equal(sl_digest_challenge("a\r\n", "abc", true, true, &b), SL_ERR_PROTO);
    assert_int_equal(b.len, strlen(w2));
    sl_bytes_free(&b);
}

/* A relay client answers a challenge; the server side verifies the answer. */
static void test_client_answer(void **state)
{
    sl_digest_t c;
    const char *ch =
        "Digest realm=\"r\\\"x\", nonce=\"n1\", qop=\"auth-int, auth\", opaque=\"op\", algorithm=MD5";
    assert_int_equal(parse(ch, &c), SL_OK);
    sl_bytes_t b;
    sl_bytes_init(&b);
    const char *uri = "rtsp://h/s/trackID=0";
    assert_int_equal(sl_digest_authorization(&c, "SETUP", uri, "u", "pw", "c1", 2, &b), SL_OK);
    const char want[] =
        "Digest username=\"u\", realm=\"r\\\"x\", nonce=\"n1\", uri=\"rtsp://h/s/trackID=0\", "
        "response=\"9d1f6c6aadfaa8a4325487463dc4da2d\", algorithm=MD5, opaque=\"op\", qop=auth, "
        "nc=00000002, cnonce=\"c1\"";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    sl_digest_t a;
    assert_int_equal(sl_digest_parse((char *)b.data, b.len, &a), SL_OK);
    assert_int_equal(sl_digest_verify(&a, "SETUP", uri, "u", "r\"x", "pw"), SL_OK);

    /* Without qop in the challenge. */
    assert_int_equal(parse("Digest realm=\"r\\\"x\", nonce=\"n1\"", &c), SL_OK);
    b.len = 0;
    assert_int_equal(sl_digest_authorization(&c, "SETUP", uri, "u", "pw", "c1", 1, &b), SL_OK);
    const char want2[] =
        "Digest username=\"u\", realm=\"r\\\"x\", nonce=\"n1\", uri=\"rtsp://h/s/trackID=0\", "
        "response=\"276c3fe1cf283121be5f15f0678b664f\"";
    assert_int_equal(b.len, strlen(want2));
    assert_memory_equal(b.data, want2, b.len);

    size_t len = b.len;
    assert_int_equal(parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", &c), SL_OK);
    assert_int_equal(sl_digest_authorization(&c, "GET", "/", "u", "p", "c", 1, &b), SL_ERR_UNSUPPORTED);
    assert_int_equal(parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256", &c), SL_OK);
    assert_int_equal(sl_digest_authorization(&c, "GET", "/", "u", "p", "c", 1, &b), SL_ERR_UNSUPPORTED);
    assert_int_equal(parse("Digest realm=\"r\"", &c), SL_OK);
    assert_int_equal(sl_digest_authorization(&c, "GET", "/", "u", "p", "c", 1, &b), SL_ERR_PROTO);
    assert_int_equal(parse("Digest realm=\"r\", nonce=\"n\"", &c), SL_OK);
    assert_int_equal(sl_digest_authorization(&c, "GET", "/\r\n", "u", "p", "c", 1, &b), SL_ERR_PROTO);
    assert_int_equal(b.len, len);
    sl_bytes_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_basic),         cmocka_unit_test(test_rfc2617),
        cmocka_unit_test(test_rfc7616),       cmocka_unit_test(test_no_qop),
        cmocka_unit_test(test_parse_syntax),  cmocka_unit_test(test_verify_fields),
        cmocka_unit_test(test_nonce),         cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_client_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
