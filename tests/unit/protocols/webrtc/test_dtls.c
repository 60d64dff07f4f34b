/* DTLS endpoints: two in-process peers hand each other datagrams. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "protocols/rtp/rtp.h"
#include "protocols/webrtc/dtls.h"

typedef struct pair {
    sl_dtls_ctx_t *sctx, *cctx;
    sl_dtls_t *server, *client;
} pair_t;

static int setup(void **state)
{
    pair_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    assert_int_equal(sl_dtls_ctx_new(NULL, NULL, &p->sctx), SL_OK);
    assert_int_equal(sl_dtls_ctx_new(NULL, NULL, &p->cctx), SL_OK);
    p->server = sl_dtls_new(p->sctx, true);
    assert_non_null(p->server);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    pair_t *p = *state;
    sl_dtls_free(p->server);
    sl_dtls_free(p->client);
    sl_dtls_ctx_free(p->sctx);
    sl_dtls_ctx_free(p->cctx);
    free(p);
    return 0;
}

static void new_client(pair_t *p)
{
    p->client = sl_dtls_new(p->cctx, false);
    assert_non_null(p->client);
}

/* Moves every datagram from one endpoint to the other (or drops them); checks
 * each fits the MTU. Returns how many moved. */
static int pump(sl_dtls_t *from, sl_dtls_t *to, bool drop, sl_bytes_t *app_out, int *feed_err)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    int n = sl_dtls_take_output(from, &out);
    assert_true(n >= 0);
    size_t pos = 0, len;
    const uint8_t *dg;
    int seen = 0;
    while ((dg = sl_rtp_next_packet(out.data, out.len, &pos, &len))) {
        seen++;
        assert_true(len <= SL_DTLS_MTU);
        assert_true(sl_dtls_is_dtls(dg, len));
        if (drop) continue;
        int err = sl_dtls_feed(to, dg, len, app_out);
        if (feed_err) *feed_err = err;
        else assert_int_equal(err, SL_OK);
    }
    assert_int_equal(seen, n);
    assert_int_equal(pos, out.len);
    sl_bytes_free(&out);
    return n;
}

static void handshake(pair_t *p)
{
    for (int round = 0; round < 10; round++) {
        pump(p->client, p->server, false, NULL, NULL);
        pump(p->server, p->client, false, NULL, NULL);
        if (sl_dtls_handshake_done(p->server) && sl_dtls_handshake_done(p->client)) return;
    }
    fail_msg("handshake did not complete in 10 rounds");
}

static void test_is_dtls(void **state)
{
    const uint8_t stun[] = {0x00, 0x01}, dtls[] = {22}, rtp[] = {0x80}, top[] = {63}, low[] = {19}, high[] = {64};
    assert_false(sl_dtls_is_dtls(stun, sizeof(stun)));
    assert_true(sl_dtls_is_dtls(dtls, 1));
    assert_true(sl_dtls_is_dtls(top, 1));
    assert_false(sl_dtls_is_dtls(low, 1));
    assert_false(sl_dtls_is_dtls(high, 1));
    assert_false(sl_dtls_is_dtls(rtp, 1));
    assert_false(sl_dtls_is_dtls(dtls, 0));
}

static void test_handshake_and_keys(void **state)
{
    pair_t *p = *state;
    new_client(p);
    sl_srtp_keys_t sk, ck;
    assert_int_equal(sl_dtls_srtp_keys(p->server, &sk), SL_ERR_AGAIN);
    assert_int_equal(sl_dtls_write(p->client, "x", 1), SL_ERR_AGAIN);
    assert_true(sl_dtls_timeout_ms(p->client) > 0); /* ClientHello in flight */
    handshake(p);

    assert_int_equal(sl_dtls_srtp_keys(p->server, &sk), SL_OK);
    assert_int_equal(sl_dtls_srtp_keys(p->client, &ck), SL_OK);
    assert_int_equal(sk.profile, SL_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(ck.profile, SL_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(sk.salt_len, 12);
    assert_int_equal(ck.salt_len, 12);
    assert_memory_equal(ck.local_key, sk.remote_key, SL_SRTP_KEY_LEN);
    assert_memory_equal(ck.remote_key, sk.local_key, SL_SRTP_KEY_LEN);
    assert_memory_equal(ck.local_salt, sk.remote_salt, 12);
    assert_memory_equal(ck.remote_salt, sk.local_salt, 12);
    assert_memory_not_equal(sk.local_key, sk.remote_key, SL_SRTP_KEY_LEN);
    /* Nothing to retransmit once the client has the server's Finished. */
    assert_int_equal(sl_dtls_timeout_ms(p->client), -1);
}

static void test_fingerprints(void **state)
{
    pair_t *p = *state;
    new_client(p);
    char fp[SL_DTLS_FINGERPRINT_LEN];
    assert_int_equal(sl_dtls_peer_fingerprint(p->server, fp), SL_ERR_AGAIN);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, sl_dtls_ctx_fingerprint(p->cctx)), SL_ERR_AGAIN);
    handshake(p);

    const char *sfp = sl_dtls_ctx_fingerprint(p->sctx), *cfp = sl_dtls_ctx_fingerprint(p->cctx);
    assert_int_equal(strlen(sfp), SL_DTLS_FINGERPRINT_LEN - 1);
    assert_memory_equal(sfp, "sha-256 ", 8);
    assert_string_not_equal(sfp, cfp);
    assert_int_equal(sl_dtls_peer_fingerprint(p->client, fp), SL_OK);
    assert_string_equal(fp, sfp);
    assert_int_equal(sl_dtls_peer_fingerprint(p->server, fp), SL_OK);
    assert_string_equal(fp, cfp);

    assert_int_equal(sl_dtls_verify_fingerprint(p->server, cfp), SL_OK);
    assert_int_equal(sl_dtls_verify_fingerprint(p->client, sfp), SL_OK);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, sfp), SL_ERR_AUTH);

    /* Lower case, upper-case hash name and a trailing CRLF, as SDP lines come. */
    char lower[SL_DTLS_FINGERPRINT_LEN + 4];
    snprintf(lower, sizeof(lower), "SHA-256 %s\r\n", cfp + 8);
    for (char *c = lower + 8; *c; c++) *c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, lower), SL_OK);

    /* One byte changed. */
    char bad[SL_DTLS_FINGERPRINT_LEN];
    memcpy(bad, cfp, sizeof(bad));
    bad[SL_DTLS_FINGERPRINT_LEN - 2] = bad[SL_DTLS_FINGERPRINT_LEN - 2] == '0' ? '1' : '0';
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, bad), SL_ERR_AUTH);
    /* Too short, malformed, unknown hash. */
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "sha-256 AB:CD"), SL_ERR_AUTH);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "sha-256 AB:C"), SL_ERR_PROTO);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "sha-256 AB::CD"), SL_ERR_PROTO);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "sha-256 AB:CD:"), SL_ERR_PROTO);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "sha-256 AB:CD x"), SL_ERR_PROTO);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "sha-256"), SL_ERR_PROTO);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, ""), SL_ERR_PROTO);
    assert_int_equal(sl_dtls_verify_fingerprint(p->server, "md5 AB:CD"), SL_ERR_UNSUPPORTED);
}

/* A key and self-signed certificate written as PEM, loaded back by the context:
 * its fingerprint must be the SHA-256 X509_digest of that certificate. */
static void test_pem_context(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(pkey);
    X509 *cert = X509_new();
    assert_non_null(cert);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), 42), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
    assert_int_equal(X509_set_pubkey(cert, pkey), 1);
    assert_true(X509_sign(cert, pkey, EVP_sha256()) > 0);

    char cert_path[] = "/tmp/sl_dtls_certXXXXXX", key_path[] = "/tmp/sl_dtls_keyXXXXXX";
    int cfd = mkstemp(cert_path), kfd = mkstemp(key_path);
    assert_true(cfd >= 0 && kfd >= 0);
    FILE *f = fdopen(cfd, "w");
    assert_int_equal(PEM_write_X509(f, cert), 1);
    fclose(f);
    f = fdopen(kfd, "w");
    assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);

    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(X509_digest(cert, EVP_sha256(), md, &n), 1);
    char want[SL_DTLS_FINGERPRINT_LEN] = "sha-256 ";
    for (unsigned int i = 0; i < n; i++) sprintf(want + 8 + 3 * i, i + 1 < n ? "%02X:" : "%02X", md[i]);

    sl_dtls_ctx_t *ctx = NULL;
    assert_int_equal(sl_dtls_ctx_new(cert_path, key_path, &ctx), SL_OK);
    assert_string_equal(sl_dtls_ctx_fingerprint(ctx), want);

    /* A loaded context works as a server. */
    pair_t p = {.cctx = ctx};
    assert_int_equal(sl_dtls_ctx_new(NULL, NULL, &p.sctx), SL_OK);
    p.server = sl_dtls_new(p.sctx, true);
    p.client = sl_dtls_new(ctx, false);
    handshake(&p);
    char fp[SL_DTLS_FINGERPRINT_LEN];
    assert_int_equal(sl_dtls_peer_fingerprint(p.server, fp), SL_OK);
    assert_string_equal(fp, want);
    sl_dtls_free(p.server);
    sl_dtls_free(p.client);
    sl_dtls_ctx_free(p.sctx);
    sl_dtls_ctx_free(ctx);

    /* Key of another certificate, missing files, one path only. */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    f = fopen(key_path, "w");
    assert_int_equal(PEM_write_PrivateKey(f, other, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    assert_int_equal(sl_dtls_ctx_new(cert_path, key_path, &ctx), SL_ERR_CONFIG);
    assert_int_equal(sl_dtls_ctx_new("/nonexistent/cert.pem", key_path, &ctx), SL_ERR_CONFIG);
    assert_int_equal(sl_dtls_ctx_new(cert_path, "/nonexistent/key.pem", &ctx), SL_ERR_CONFIG);
    assert_int_equal(sl_dtls_ctx_new(key_path, cert_path, &ctx), SL_ERR_CONFIG);
    assert_int_equal(sl_dtls_ctx_new(cert_path, NULL, &ctx), SL_ERR_CONFIG);
    unlink(cert_path);
    unlink(key_path);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pkey);
    X509_free(cert);
}

static void expect_app(const sl_bytes_t *app, const char *text)
{
    size_t n = strlen(text);
    assert_int_equal(app->len, 2 + n);
    assert_int_equal(app->data[0], n >> 8);
    assert_int_equal(app->data[1], n & 0xff);
    assert_memory_equal(app->data + 2, text, n);
}

static void test_app_data(void **state)
{
    pair_t *p = *state;
    new_client(p);
    handshake(p);
    sl_bytes_t app;
    sl_bytes_init(&app);

    assert_int_equal(sl_dtls_write(p->client, "hello server", 12), SL_OK);
    assert_int_equal(pump(p->client, p->server, false, &app, NULL), 1);
    expect_app(&app, "hello server");
    app.len = 0;

    /* Two records in two datagrams, in order. */
    assert_int_equal(sl_dtls_write(p->server, "one", 3), SL_OK);
    assert_int_equal(sl_dtls_write(p->server, "two", 3), SL_OK);
    assert_int_equal(pump(p->server, p->client, false, &app, NULL), 2);
    assert_int_equal(app.len, 10);
    assert_memory_equal(app.data, "\0\3one\0\3two", 10);
    app.len = 0;

    /* A full-size record survives; a larger one is refused. */
    static uint8_t big[SL_DTLS_MAX_APP_DATA + 1];
    memset(big, 0xab, sizeof(big));
    assert_int_equal(sl_dtls_write(p->client, big, sizeof(big)), SL_ERR_TOO_BIG);
    assert_int_equal(sl_dtls_write(p->client, big, 1000), SL_OK);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_dtls_take_output(p->client, &out), 1);
    assert_int_equal(sl_dtls_feed(p->server, out.data + 2, out.len - 2, &app), SL_OK);
    assert_int_equal(app.len, 1002);
    assert_memory_equal(app.data + 2, big, 1000);
    app.len = 0;

    /* A replayed record is dropped silently, as DTLS wants. */
    assert_int_equal(sl_dtls_feed(p->server, out.data + 2, out.len - 2, &app), SL_OK);
    assert_int_equal(app.len, 0);
    /* A tampered one too. */
    assert_int_equal(sl_dtls_write(p->client, "secret", 6), SL_OK);
    out.len = 0;
    assert_int_equal(sl_dtls_take_output(p->client, &out), 1);
    out.data[out.len - 1] ^= 1;
    assert_int_equal(sl_dtls_feed(p->server, out.data + 2, out.len - 2, &app), SL_OK);
    assert_int_equal(app.len, 0);
    assert_true(sl_dtls_handshake_done(p->server));

    /* Application data discarded when the caller gives no buffer. */
    assert_int_equal(sl_dtls_write(p->client, "ignored", 7), SL_OK);
    assert_int_equal(pump(p->client, p->server, false, NULL, NULL), 1);

    sl_bytes_free(&out);
    sl_bytes_free(&app);
}

static void test_retransmit(void **state)
{
    pair_t *p = *state;
    sl_dtls_ctx_set_retransmit_ms(p->cctx, 50);
    sl_dtls_ctx_set_retransmit_ms(p->sctx, 50);
    sl_dtls_free(p->server);
    p->server = sl_dtls_new(p->sctx, true);
    assert_int_equal(sl_dtls_timeout_ms(p->server), -1); /* nothing sent yet */
    new_client(p);
    int t = sl_dtls_timeout_ms(p->client);
    assert_true(t > 30 && t <= 50);
    assert_int_equal(sl_dtls_handle_timeout(p->client), SL_OK); /* not expired yet */
    assert_int_equal(pump(p->client, p->server, true, NULL, NULL), 1); /* lost ClientHello */
    assert_int_equal(pump(p->client, p->server, true, NULL, NULL), 0);

    usleep(55 * 1000);
    assert_int_equal(sl_dtls_timeout_ms(p->client), 0);
    assert_int_equal(sl_dtls_handle_timeout(p->client), SL_OK);
    /* The ClientHello again; the timer doubled. */
    t = sl_dtls_timeout_ms(p->client);
    assert_true(t > 50 && t <= 100);
    assert_int_equal(pump(p->client, p->server, false, NULL, NULL), 1);
    /* Now the server's flight is lost. OpenSSL ignores a repeated ClientHello, so
     * the server's own timer brings its flight back. */
    int n = pump(p->server, p->client, true, NULL, NULL);
    assert_true(n >= 1);
    t = sl_dtls_timeout_ms(p->server);
    assert_true(t > 30 && t <= 50);
    usleep((useconds_t)(t + 5) * 1000);
    assert_int_equal(sl_dtls_handle_timeout(p->server), SL_OK);
    /* OpenSSL resends the flight one message per datagram. */
    assert_true(pump(p->server, p->client, false, NULL, NULL) >= n);
    handshake(p);
}

static void test_retransmit_backoff(void **state)
{
    pair_t *p = *state;
    sl_dtls_ctx_set_retransmit_ms(p->cctx, 1); /* raised to the minimum */
    new_client(p);
    int prev = sl_dtls_timeout_ms(p->client);
    assert_true(prev > 30 && prev <= SL_DTLS_MIN_RETRANSMIT_MS);
    /* Each expiry resends the flight once and doubles the timer. */
    for (int i = 0; i < 3; i++) {
        usleep((useconds_t)(prev + 5) * 1000);
        assert_int_equal(sl_dtls_handle_timeout(p->client), SL_OK);
        int t = sl_dtls_timeout_ms(p->client);
        assert_true(t > prev + 15 && t <= 2 * prev + 20);
        prev = t;
    }
    assert_int_equal(pump(p->client, p->server, true, NULL, NULL), 4);
}

static void test_garbage(void **state)
{
    pair_t *p = *state;
    const uint8_t stun[20] = {0x00, 0x01};
    /* What cannot be a record is dropped without harm to the endpoint. */
    assert_int_equal(sl_dtls_feed(p->server, stun, sizeof(stun), NULL), SL_OK);
    const uint8_t shorty[5] = {22, 0xfe, 0xfd, 0, 0};
    assert_int_equal(sl_dtls_feed(p->server, shorty, sizeof(shorty), NULL), SL_OK);
    assert_int_equal(sl_dtls_feed(p->server, shorty, 0, NULL), SL_OK);

    /* DTLS-looking records with junk inside: dropped or refused, never done. */
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)(i * 37 + 11);
    junk[0] = 22;
    junk[1] = 0xfe;
    junk[2] = 0xfd;
    junk[11] = 0;
    junk[12] = 187; /* record length: the rest of the datagram */
    int err = sl_dtls_feed(p->server, junk, sizeof(junk), NULL);
    assert_true(err == SL_OK || err == SL_ERR_PROTO);
    assert_false(sl_dtls_handshake_done(p->server));
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_true(sl_dtls_take_output(p->server, &out) >= 0);
    sl_bytes_free(&out);

    /* A fresh server still completes a handshake after junk that it dropped. */
    sl_dtls_t *s2 = sl_dtls_new(p->sctx, true);
    assert_non_null(s2);
    junk[12] = 250; /* longer than the datagram: dropped */
    assert_int_equal(sl_dtls_feed(s2, junk, sizeof(junk), NULL), SL_OK);
    sl_dtls_free(p->server);
    p->server = s2;
    new_client(p);
    handshake(p);
    assert_int_equal(sl_dtls_write(p->server, "ok", 2), SL_OK);
}

static void test_close(void **state)
{
    pair_t *p = *state;
    new_client(p);
    handshake(p);
    sl_dtls_close(p->client);
    assert_int_equal(sl_dtls_write(p->client, "x", 1), SL_ERR_CLOSED);
    int err = SL_OK;
    assert_int_equal(pump(p->client, p->server, false, NULL, &err), 1); /* close_notify */
    assert_int_equal(err, SL_ERR_CLOSED);
    const uint8_t any[13] = {23, 0xfe, 0xfd};
    assert_int_equal(sl_dtls_feed(p->server, any, sizeof(any), NULL), SL_ERR_CLOSED);
    assert_int_equal(sl_dtls_write(p->server, "x", 1), SL_ERR_CLOSED);
    /* Closing before the handshake sends nothing. */
    sl_dtls_t *c = sl_dtls_new(p->cctx, false);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_dtls_take_output(c, &out), 1);
    sl_dtls_close(c);
    assert_int_equal(sl_dtls_take_output(c, &out), 0);
    sl_bytes_free(&out);
    sl_dtls_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_dtls),
        cmocka_unit_test_setup_teardown(test_handshake_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprints, setup, teardown),
        cmocka_unit_test(test_pem_context),
        cmocka_unit_test_setup_teardown(test_app_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmit_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
