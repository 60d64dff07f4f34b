/* Token authentication and URL query values. See include/sluice/token.h for the
 * algorithms. */
#include "sluice/token.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "sluice/auth.h"

#define MD5_LEN 16
#define SHA256_LEN 32

int sl_token_kind_parse(const char *text, sl_token_kind_t *out)
{
    static const sl_token_kind_t KINDS[] = {SL_TOKEN_NONE, SL_TOKEN_SIMPLE, SL_TOKEN_MD5, SL_TOKEN_HMAC};
    for (size_t i = 0; i < SL_ARRAY_SIZE(KINDS); i++) {
        if (strcmp(text, sl_token_kind_name(KINDS[i])) == 0) {
            *out = KINDS[i];
            return SL_OK;
        }
    }
    return SL_ERR_CONFIG;
}

const char *sl_token_kind_name(sl_token_kind_t kind)
{
    switch (kind) {
    case SL_TOKEN_NONE: return "none";
    case SL_TOKEN_SIMPLE: return "simple";
    case SL_TOKEN_MD5: return "md5";
    case SL_TOKEN_HMAC: return "hmac";
    }
    return "?";
}

const char *sl_direction_name(sl_direction_t dir) { return dir == SL_DIR_PUBLISH ? "publish" : "play"; }

/* Digests */

/* MD5(secret || name), XIU's md5 token. */
static int md5_token(const char *secret, const char *name, uint8_t out[MD5_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
             EVP_DigestUpdate(ctx, name, strlen(name)) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1 &&
             len == MD5_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? SL_OK : SL_ERR_UNSUPPORTED;
}

/* HMAC-SHA256(secret, "<app>/<name>:<expires>:<direction>"), fed in parts so that no
 * length of app or name needs a buffer. */
static int hmac_token(const char *secret, const char *app, const char *name, sl_direction_t dir,
                      uint64_t expires, uint8_t out[SHA256_LEN])
{
    char exp_text[24];
    snprintf(exp_text, sizeof(exp_text), "%" PRIu64, expires);
    const char *parts[] = {app, "/", name, ":", exp_text, ":", sl_direction_name(dir)};
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t len = 0;
    int ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) == 1;
    for (size_t i = 0; ok && i < SL_ARRAY_SIZE(parts); i++)
        ok = EVP_MAC_update(ctx, (const unsigned char *)parts[i], strlen(parts[i])) == 1;
    ok = ok && EVP_MAC_final(ctx, out, &len, SHA256_LEN) == 1 && len == SHA256_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? SL_OK : SL_ERR_UNSUPPORTED;
}

/* The digest a token of this kind stands for, and its length. */
static int token_digest(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                        sl_direction_t dir, uint64_t expires, uint8_t out[SHA256_LEN], size_t *len)
{
    if (kind == SL_TOKEN_MD5) {
        *len = MD5_LEN;
        return md5_token(secret, name, out);
    }
    *len = SHA256_LEN;
    return hmac_token(secret, app, name, dir, expires, out);
}

/* Hex */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes exactly 2*n hex digits of either case into out; false for any other length
 * or character. Only the token's shape decides how long this takes, never the
 * secret. */
static bool hex_decode(const char *s, uint8_t *out, size_t n)
{
    if (strnlen(s, 2 * n + 1) != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value((unsigned char)s[2 * i]), lo = hex_value((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void hex_encode(const uint8_t *data, size_t n, char *out)
{
    static const char HEX[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[data[i] >> 4];
        out[2 * i + 1] = HEX[data[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Parses a decimal Unix time: digits only, no sign or blanks, at most UINT64_MAX. */
static bool parse_expires(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0') return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Verify and sign */

/* Checks a hex token against the digest for kind; why says how it failed. */
static int verify_digest(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                         sl_direction_t dir, const char *token, uint64_t expires, const char **why)
{
    uint8_t expect[SHA256_LEN], got[SHA256_LEN];
    size_t len;
    if (token_digest(kind, secret, app, name, dir, expires, expect, &len) != SL_OK) {
        *why = "digest unavailable";
        return SL_ERR_AUTH;
    }
    /* The digest length is public, so a token of another length may fail early. */
    if (!hex_decode(token, got, len) || CRYPTO_memcmp(expect, got, len) != 0) {
        *why = "wrong";
        return SL_ERR_AUTH;
    }
    return SL_OK;
}

static int verify(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                  sl_direction_t dir, const char *token, const char *expires, uint64_t now_s,
                  const char **why)
{
    if (kind == SL_TOKEN_NONE) return SL_OK;
    if (secret == NULL || *secret == '\0') {
        *why = "no secret";
        return SL_ERR_AUTH;
    }
    if (token == NULL || *token == '\0') {
        *why = "missing";
        return SL_ERR_AUTH;
    }
    switch (kind) {
    case SL_TOKEN_SIMPLE:
        if (sl_auth_equal(secret, token)) return SL_OK;
        *why = "wrong";
        return SL_ERR_AUTH;
    case SL_TOKEN_MD5: return verify_digest(kind, secret, app, name, dir, token, 0, why);
    case SL_TOKEN_HMAC: {
        uint64_t exp;
        if (expires == NULL || *expires == '\0') {
            *why = "missing";
            return SL_ERR_AUTH;
        }
        if (!parse_expires(expires, &exp)) {
            *why = "malformed";
            return SL_ERR_AUTH;
        }
        /* The MAC first, so the log calls a forged token wrong even when it is old. */
        int rc = verify_digest(kind, secret, app, name, dir, token, exp, why);
        if (rc != SL_OK) return rc;
        if (now_s >= exp) {
            *why = "expired";
            return SL_ERR_AUTH;
        }
        return SL_OK;
    }
    default: *why = "wrong"; return SL_ERR_AUTH;
    }
}

int sl_token_verify(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                    sl_direction_t dir, const char *token, const char *expires, uint64_t now_s,
                    const char **why)
{
    const char *reason = NULL;
    int rc = verify(kind, secret, app, name, dir, token, expires, now_s, &reason);
    if (why != NULL) *why = reason;
    return rc;
}

int sl_token_sign(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                  sl_direction_t dir, uint64_t expires, char *out, size_t cap)
{
    if (cap > 0) out[0] = '\0';
    if (kind != SL_TOKEN_SIMPLE && kind != SL_TOKEN_MD5 && kind != SL_TOKEN_HMAC) return SL_ERR_UNSUPPORTED;
    if (*secret == '\0') return SL_ERR_CONFIG;
    if (kind == SL_TOKEN_SIMPLE) {
        size_t n = strlen(secret);
        if (n >= cap) return SL_ERR_TOO_BIG;
        memcpy(out, secret, n + 1);
        return SL_OK;
    }
    uint8_t digest[SHA256_LEN];
    size_t len;
    int rc = token_digest(kind, secret, app, name, dir, expires, digest, &len);
    if (rc != SL_OK) return rc;
    if (2 * len >= cap) return SL_ERR_TOO_BIG;
    hex_encode(digest, len, out);
    return SL_OK;
}

/* Query strings */

/* Reads one character of a query at *pp (before end), decoding a %XX escape. -1 for a
 * bad escape. */
static int query_char(const char **pp, const char *end)
{
    const char *p = *pp;
    if (*p != '%') {
        *pp = p + 1;
        return (unsigned char)*p;
    }
    if (end - p < 3) return -1;
    int hi = hex_value((unsigned char)p[1]), lo = hex_value((unsigned char)p[2]);
    if (hi < 0 || lo < 0) return -1;
    *pp = p + 3;
    return hi << 4 | lo;
}

/* True when the encoded key [p, end) decodes to exactly `key`. */
static bool key_matches(const char *p, const char *end, const char *key)
{
    while (p < end) {
        int c = query_char(&p, end);
        /* A decoded NUL matches nothing: key holds none before its end. */
        if (c <= 0 || (unsigned char)*key != c) return false;
        key++;
    }
    return *key == '\0';
}

/* Decodes the value [p, end) into out[0..cap) with a NUL. */
static int decode_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    while (p < end) {
        int c = query_char(&p, end);
        if (c <= 0) return SL_ERR_PROTO; /* a bad escape, or a NUL that would cut the value */
        if (n + 1 >= cap) return SL_ERR_TOO_BIG;
        out[n++] = (char)c;
    }
    if (n >= cap) return SL_ERR_TOO_BIG; /* only when cap is 0 */
    out[n] = '\0';
    return SL_OK;
}

int sl_query_get(const char *query, const char *key, char *out, size_t cap)
{
    if (cap > 0) out[0] = '\0';
    if (query == NULL) return SL_ERR_NOT_FOUND;
    const char *p = query + (*query == '?');
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (key_matches(p, eq ? eq : end, key)) {
            int rc = decode_value(eq ? eq + 1 : end, end, out, cap);
            if (rc != SL_OK && cap > 0) out[0] = '\0';
            return rc;
        }
        p = amp ? amp + 1 : end;
    }
    return SL_ERR_NOT_FOUND;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int put_encoded(sl_bytes_t *out, const char *s)
{
    static const char HEX[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = is_unreserved(c) ? sl_bytes_put_u8(out, c)
                                  : sl_bytes_append(out, (const char[]){'%', HEX[c >> 4], HEX[c & 15]}, 3);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

int sl_query_put(sl_bytes_t *out, const char *key, const char *value)
{
    size_t start = out->len;
    bool sep = start > 0 && out->data[start - 1] != '?' && out->data[start - 1] != '&';
    if ((sep && sl_bytes_put_u8(out, '&') != SL_OK) || put_encoded(out, key) != SL_OK ||
        sl_bytes_put_u8(out, '=') != SL_OK || put_encoded(out, value) != SL_OK) {
        out->len = start;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}
