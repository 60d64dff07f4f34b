/* DTLS endpoints over OpenSSL with memory BIOs: see dtls.h.
 *
 * Reads go through a memory BIO that holds exactly one datagram at a time: feed
 * writes it, OpenSSL consumes it, and anything left after a failure is discarded
 * so the next datagram starts clean. Writes go through a small custom BIO that
 * appends every BIO_write to the endpoint's output list as one datagram: OpenSSL's
 * DTLS layer buffers a flight and flushes once per datagram (it sizes records from
 * the MTU and the bytes already pending), so each write it makes is exactly what a
 * datagram socket would have sent. A plain memory BIO would merge them.
 */
#include "protocols/webrtc/dtls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"
#define CERT_DAYS 30
/* Output waiting to be taken is bounded: a caller that never drains it makes the
 * endpoint fail instead of growing. A whole handshake flight is a few kB. */
#define OUT_QUEUE_MAX (256 * 1024)
#define MAX_DATAGRAM 65535
#define MAX_TIMEOUT_US (60u * 1000 * 1000)

struct sl_dtls_ctx {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *out_method;
    unsigned retransmit_ms;
    char fingerprint[SL_DTLS_FINGERPRINT_LEN];
};

struct sl_dtls {
    SSL *ssl;
    BIO *rbio; /* owned by ssl */
    sl_bytes_t out; /* length-prefixed datagrams to send */
    int out_count;
    unsigned retransmit_ms;
    bool failed; /* fatal error: the endpoint accepts nothing more */
    bool closed; /* close_notify sent or received */
};

/* ---- certificate ---- */

static int format_fingerprint(X509 *cert, char out[SL_DTLS_FINGERPRINT_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32) return SL_ERR_NOMEM;
    char *p = out + sprintf(out, "sha-256 ");
    for (unsigned int i = 0; i < n; i++) p += sprintf(p, i + 1 < n ? "%02X:" : "%02X", md[i]);
    return SL_OK;
}

static int set_random_serial(X509 *cert)
{
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) return SL_ERR_NOMEM;
    rnd[0] &= 0x7f; /* serials are positive */
    BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    if (!bn) return SL_ERR_NOMEM;
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return serial ? SL_OK : SL_ERR_NOMEM;
}

/* A fresh P-256 key and a self-signed certificate for it. Browsers only check it
 * against the SDP fingerprint, so nothing but the key matters much; the validity
 * starts a day back for peers with a skewed clock. */
static int make_self_signed(EVP_PKEY **pkey_out, X509 **cert_out)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pkey) return SL_ERR_NOMEM;
    X509 *cert = X509_new();
    if (!cert) goto fail_key;
    if (X509_set_version(cert, X509_VERSION_3) != 1 || set_random_serial(cert) != SL_OK) goto fail_cert;
    if (!X509_gmtime_adj(X509_getm_notBefore(cert), -86400L) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), CERT_DAYS * 86400L))
        goto fail_cert;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sluice", -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, pkey) != 1 ||
        X509_sign(cert, pkey, EVP_sha256()) <= 0)
        goto fail_cert;
    *pkey_out = pkey;
    *cert_out = cert;
    return SL_OK;

fail_cert:
    X509_free(cert);
fail_key:
    EVP_PKEY_free(pkey);
    return SL_ERR_NOMEM;
}

static int load_pem(const char *cert_path, const char *key_path, EVP_PKEY **pkey_out, X509 **cert_out)
{
    BIO *b = BIO_new_file(cert_path, "r");
    if (!b) return SL_ERR_CONFIG;
    X509 *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!cert) return SL_ERR_CONFIG;
    b = BIO_new_file(key_path, "r");
    if (!b) goto fail;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!pkey) goto fail;
    *pkey_out = pkey;
    *cert_out = cert;
    return SL_OK;

fail:
    X509_free(cert);
    return SL_ERR_CONFIG;
}

/* ---- the output BIO ---- */

static int out_write(BIO *b, const char *data, int len)
{
    sl_dtls_t *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    if (len > MAX_DATAGRAM || d->out.len + 2 + (size_t)len > OUT_QUEUE_MAX) return -1;
    if (sl_bytes_put_be16(&d->out, (uint16_t)len) != SL_OK) return -1;
    if (sl_bytes_append(&d->out, data, (size_t)len) != SL_OK) {
        d->out.len -= 2;
        return -1;
    }
    d->out_count++;
    return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; /* every write is already a datagram */
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING: return 0;
    default: return 0; /* no MTU query, no peer address, no overhead */
    }
}

static int out_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int out_destroy(BIO *b) { return 1; }

static BIO_METHOD *make_out_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sluice dtls out");
    if (!m) return NULL;
    if (BIO_meth_set_write(m, out_write) != 1 || BIO_meth_set_ctrl(m, out_ctrl) != 1 ||
        BIO_meth_set_create(m, out_create) != 1 || BIO_meth_set_destroy(m, out_destroy) != 1) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- context ---- */

/* Peers use self-signed certificates, which chain verification rejects. Accept
 * any: the caller authenticates the certificate by its SDP fingerprint. */
static int accept_any_cert(int preverify_ok, X509_STORE_CTX *store) { return 1; }

static int setup_ssl_ctx(sl_dtls_ctx_t *ctx, EVP_PKEY *pkey, X509 *cert)
{
    /* One method for both roles: sluice is the server, tests and relays connect. */
    ctx->ssl_ctx = SSL_CTX_new(DTLS_method());
    if (!ctx->ssl_ctx) return SL_ERR_NOMEM;
    if (SSL_CTX_set_min_proto_version(ctx->ssl_ctx, DTLS1_2_VERSION) != 1) return SL_ERR_NOMEM;
    if (SSL_CTX_use_certificate(ctx->ssl_ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx->ssl_ctx, pkey) != 1 ||
        SSL_CTX_check_private_key(ctx->ssl_ctx) != 1)
        return SL_ERR_CONFIG;
    /* WebRTC requires a certificate from both sides (RFC 8827 6.5). */
    SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any_cert);
    /* Unlike nearly every other OpenSSL call, 0 means success here. */
    if (SSL_CTX_set_tlsext_use_srtp(ctx->ssl_ctx, SRTP_PROFILES) != 0) return SL_ERR_NOMEM;
    SSL_CTX_set_read_ahead(ctx->ssl_ctx, 1);
    return format_fingerprint(cert, ctx->fingerprint);
}

int sl_dtls_ctx_new(const char *cert_path, const char *key_path, sl_dtls_ctx_t **out)
{
    if ((cert_path == NULL) != (key_path == NULL)) return SL_ERR_CONFIG;
    sl_dtls_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) return SL_ERR_NOMEM;
    ctx->retransmit_ms = 1000;
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    int err = cert_path ? load_pem(cert_path, key_path, &pkey, &cert) : make_self_signed(&pkey, &cert);
    if (err) goto fail;
    err = setup_ssl_ctx(ctx, pkey, cert);
    if (err) goto fail_ssl;
    ctx->out_method = make_out_method();
    if (!ctx->out_method) {
        err = SL_ERR_NOMEM;
        goto fail_ssl;
    }
    /* The SSL_CTX holds its own references. */
    X509_free(cert);
    EVP_PKEY_free(pkey);
    *out = ctx;
    return SL_OK;

fail_ssl:
    SSL_CTX_free(ctx->ssl_ctx);
    X509_free(cert);
    EVP_PKEY_free(pkey);
fail:
    free(ctx);
    ERR_clear_error();
    return err;
}

void sl_dtls_ctx_free(sl_dtls_ctx_t *ctx)
{
    if (!ctx) return;
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->out_method);
    free(ctx);
}

const char *sl_dtls_ctx_fingerprint(const sl_dtls_ctx_t *ctx) { return ctx->fingerprint; }

void sl_dtls_ctx_set_retransmit_ms(sl_dtls_ctx_t *ctx, unsigned ms)
{
    ctx->retransmit_ms = SL_MIN(SL_MAX(ms, SL_DTLS_MIN_RETRANSMIT_MS), 60000u);
}

bool sl_dtls_is_dtls(const uint8_t *data, size_t len) { return len > 0 && data[0] >= 20 && data[0] <= 63; }

/* ---- endpoint ---- */

/* OpenSSL asks for the next retransmission timeout: timer_us is 0 for the first
 * one of a flight, the previous value otherwise. */
static unsigned int timer_cb(SSL *ssl, unsigned int timer_us)
{
    const sl_dtls_t *d = SSL_get_app_data(ssl);
    if (timer_us == 0) return d->retransmit_ms * 1000u;
    return timer_us >= MAX_TIMEOUT_US / 2 ? MAX_TIMEOUT_US : timer_us * 2;
}

/* Maps the result of an SSL call; also marks the endpoint dead or closed. */
static int ssl_result(sl_dtls_t *d, int r)
{
    switch (SSL_get_error(d->ssl, r)) {
    case SSL_ERROR_NONE:
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return SL_OK;
    case SSL_ERROR_ZERO_RETURN: d->closed = true; return SL_ERR_CLOSED;
    default: d->failed = true; return SL_ERR_PROTO;
    }
}

static int attach_bios(sl_dtls_t *d, sl_dtls_ctx_t *ctx)
{
    BIO *rbio = BIO_new(BIO_s_mem());
    if (!rbio) return SL_ERR_NOMEM;
    BIO *wbio = BIO_new(ctx->out_method);
    if (!wbio) {
        BIO_free(rbio);
        return SL_ERR_NOMEM;
    }
    /* An empty read BIO is "no datagram yet", not end of stream. */
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_data(wbio, d);
    SSL_set_bio(d->ssl, rbio, wbio);
    d->rbio = rbio;
    return SL_OK;
}

sl_dtls_t *sl_dtls_new(sl_dtls_ctx_t *ctx, bool server)
{
    sl_dtls_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    sl_bytes_init(&d->out);
    d->retransmit_ms = ctx->retransmit_ms;
    d->ssl = SSL_new(ctx->ssl_ctx);
    if (!d->ssl || attach_bios(d, ctx) != SL_OK) goto fail;
    SSL_set_app_data(d->ssl, d);
    /* Our MTU, not one queried from a socket we do not have. */
    SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
    if (SSL_set_mtu(d->ssl, SL_DTLS_MTU) == 0) goto fail; /* it returns the MTU it set */
    DTLS_set_timer_cb(d->ssl, timer_cb);
    if (server) {
        SSL_set_accept_state(d->ssl);
    } else {
        SSL_set_connect_state(d->ssl);
        if (ssl_result(d, SSL_do_handshake(d->ssl)) != SL_OK) goto fail;
    }
    return d;

fail:
    ERR_clear_error();
    sl_dtls_free(d);
    return NULL;
}

void sl_dtls_free(sl_dtls_t *d)
{
    if (!d) return;
    SSL_free(d->ssl);
    sl_bytes_free(&d->out);
    free(d);
}

static int read_app(sl_dtls_t *d, sl_bytes_t *app_out)
{
    uint8_t buf[SL_DTLS_MAX_APP_DATA];
    for (;;) {
        int r = SSL_read(d->ssl, buf, sizeof(buf));
        if (r <= 0) return ssl_result(d, r);
        if (!app_out) continue;
        if (sl_bytes_put_be16(app_out, (uint16_t)r) != SL_OK) return SL_ERR_NOMEM;
        if (sl_bytes_append(app_out, buf, (size_t)r) != SL_OK) {
            app_out->len -= 2;
            return SL_ERR_NOMEM;
        }
    }
}

int sl_dtls_feed(sl_dtls_t *d, const uint8_t *datagram, size_t len, sl_bytes_t *app_out)
{
    if (d->failed) return SL_ERR_PROTO;
    if (d->closed) return SL_ERR_CLOSED;
    /* What cannot be a record (13 bytes: the smallest record header) is dropped, as
     * RFC 6347 4.1.2.7 asks of invalid records: anyone who can forge the peer's
     * address could otherwise end the session with one byte. */
    if (!sl_dtls_is_dtls(datagram, len) || len < 13 || len > MAX_DATAGRAM) return SL_OK;
    ERR_clear_error();
    if (BIO_write(d->rbio, datagram, (int)len) != (int)len) return SL_ERR_NOMEM;
    int err = SL_OK;
    if (!SSL_is_init_finished(d->ssl)) err = ssl_result(d, SSL_do_handshake(d->ssl));
    if (err == SL_OK && SSL_is_init_finished(d->ssl)) err = read_app(d, app_out);
    /* Whatever a failure left behind must not prefix the next datagram. */
    (void)BIO_reset(d->rbio);
    /* The error queue is per thread, shared by every session: leave it empty so
     * the next SSL_get_error sees only its own call. */
    ERR_clear_error();
    return err;
}

int sl_dtls_take_output(sl_dtls_t *d, sl_bytes_t *out)
{
    if (d->out.len == 0) return 0;
    if (sl_bytes_append(out, d->out.data, d->out.len) != SL_OK) return SL_ERR_NOMEM;
    int n = d->out_count;
    d->out.len = 0;
    d->out_count = 0;
    return n;
}

bool sl_dtls_handshake_done(const sl_dtls_t *d) { return !d->failed && SSL_is_init_finished(d->ssl); }

int sl_dtls_timeout_ms(sl_dtls_t *d)
{
    struct timeval tv;
    if (d->failed || DTLSv1_get_timeout(d->ssl, &tv) != 1) return -1;
    long long ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int sl_dtls_handle_timeout(sl_dtls_t *d)
{
    if (d->failed) return SL_ERR_PROTO;
    ERR_clear_error();
    int r = (int)DTLSv1_handle_timeout(d->ssl);
    ERR_clear_error();
    if (r < 0) {
        d->failed = true;
        return SL_ERR_PROTO;
    }
    return SL_OK;
}

int sl_dtls_write(sl_dtls_t *d, const void *data, size_t len)
{
    if (d->failed) return SL_ERR_PROTO;
    if (d->closed) return SL_ERR_CLOSED;
    if (!SSL_is_init_finished(d->ssl)) return SL_ERR_AGAIN;
    if (len > SL_DTLS_MAX_APP_DATA) return SL_ERR_TOO_BIG;
    if (len == 0) return SL_OK;
    ERR_clear_error();
    int r = SSL_write(d->ssl, data, (int)len);
    int err = r == (int)len ? SL_OK : SL_ERR_PROTO;
    if (err) d->failed = true;
    ERR_clear_error();
    return err;
}

void sl_dtls_close(sl_dtls_t *d)
{
    if (!d->closed && !d->failed && SSL_is_init_finished(d->ssl)) {
        ERR_clear_error();
        (void)SSL_shutdown(d->ssl);
        ERR_clear_error();
    }
    d->closed = true;
}

/* ---- keys and fingerprints ---- */

int sl_dtls_srtp_keys(sl_dtls_t *d, sl_srtp_keys_t *keys)
{
    if (!sl_dtls_handshake_done(d)) return SL_ERR_AGAIN;
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    if (!p) return SL_ERR_UNSUPPORTED;
    size_t salt = sl_srtp_salt_len((sl_srtp_profile_t)p->id);
    if (salt == 0) return SL_ERR_UNSUPPORTED;

    /* RFC 5764 4.2: client key, server key, client salt, server salt. */
    uint8_t m[2 * (SL_SRTP_KEY_LEN + SL_SRTP_MAX_SALT_LEN)];
    size_t n = 2 * (SL_SRTP_KEY_LEN + salt);
    if (SSL_export_keying_material(d->ssl, m, n, EXPORTER_LABEL, strlen(EXPORTER_LABEL), NULL, 0, 0) != 1) {
        ERR_clear_error();
        return SL_ERR_PROTO;
    }
    const uint8_t *client_key = m, *server_key = m + SL_SRTP_KEY_LEN;
    const uint8_t *client_salt = m + 2 * SL_SRTP_KEY_LEN, *server_salt = client_salt + salt;
    bool server = SSL_is_server(d->ssl);
    memset(keys, 0, sizeof(*keys));
    keys->profile = (sl_srtp_profile_t)p->id;
    keys->salt_len = salt;
    memcpy(keys->local_key, server ? server_key : client_key, SL_SRTP_KEY_LEN);
    memcpy(keys->remote_key, server ? client_key : server_key, SL_SRTP_KEY_LEN);
    memcpy(keys->local_salt, server ? server_salt : client_salt, salt);
    memcpy(keys->remote_salt, server ? client_salt : server_salt, salt);
    OPENSSL_cleanse(m, sizeof(m));
    return SL_OK;
}

int sl_dtls_peer_fingerprint(sl_dtls_t *d, char out[SL_DTLS_FINGERPRINT_LEN])
{
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    if (!peer) return SL_ERR_AGAIN;
    return format_fingerprint(peer, out);
}

static const EVP_MD *md_by_sdp_name(const char *name, size_t len)
{
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } mds[] = {
        {"sha-1", EVP_sha1}, {"sha-224", EVP_sha224}, {"sha-256", EVP_sha256},
        {"sha-384", EVP_sha384}, {"sha-512", EVP_sha512},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(mds); i++)
        if (strlen(mds[i].name) == len && strncasecmp(mds[i].name, name, len) == 0) return mds[i].md();
    return NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses "AB:CD:..." (then optional trailing blanks) into out; returns the byte
 * count or -1. */
static int parse_hex_pairs(const char *s, uint8_t out[EVP_MAX_MD_SIZE])
{
    int n = 0;
    for (;;) {
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (lo < 0 || n == EVP_MAX_MD_SIZE) return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s != ':') break;
        s++;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    return *s == '\0' ? n : -1;
}

int sl_dtls_verify_fingerprint(sl_dtls_t *d, const char *sdp_fingerprint)
{
    const char *s = sdp_fingerprint;
    while (*s == ' ') s++;
    size_t name_len = strcspn(s, " ");
    if (name_len == 0 || s[name_len] != ' ') return SL_ERR_PROTO;
    const EVP_MD *md = md_by_sdp_name(s, name_len);
    if (!md) return SL_ERR_UNSUPPORTED;
    s += name_len;
    while (*s == ' ') s++;
    uint8_t want[EVP_MAX_MD_SIZE];
    int want_len = parse_hex_pairs(s, want);
    if (want_len < 0) return SL_ERR_PROTO;

    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    if (!peer) return SL_ERR_AGAIN;
    unsigned char have[EVP_MAX_MD_SIZE];
    unsigned int have_len = 0;
    if (X509_digest(peer, md, have, &have_len) != 1) {
        ERR_clear_error();
        return SL_ERR_NOMEM;
    }
    if ((unsigned int)want_len != have_len || CRYPTO_memcmp(want, have, have_len) != 0) return SL_ERR_AUTH;
    return SL_OK;
}
