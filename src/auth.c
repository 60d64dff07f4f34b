/* Basic and Digest authentication, and base64. See include/sluice/auth.h for the
 * stateless nonce scheme. */
#include "sluice/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <strings.h>

/* Base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sl_base64_encode(const uint8_t *data, size_t len, sl_bytes_t *out)
{
    size_t n = (len + 2) / 3 * 4;
    if (n == 0) return SL_OK; /* out->data may be NULL: no pointer arithmetic on it */
    if (sl_bytes_reserve(out, n) != SL_OK) return SL_ERR_NOMEM;
    char *p = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t x = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *p++ = B64[x >> 18];
        *p++ = B64[(x >> 12) & 63];
        *p++ = B64[(x >> 6) & 63];
        *p++ = B64[x & 63];
    }
    if (i < len) {
        uint32_t x = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        *p++ = B64[x >> 18];
        *p++ = B64[(x >> 12) & 63];
        *p++ = i + 1 < len ? B64[(x >> 6) & 63] : '=';
        *p++ = '=';
    }
    out->len += n;
    return SL_OK;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* The decoded size of s[0..len), with the length of its digits (padding removed) in
 * *digits, or SIZE_MAX when the length or padding is impossible. */
static size_t b64_size(const char *s, size_t len, size_t *digits)
{
    size_t n = len, pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    /* With padding the text is whole quads; without, a lone sixth of a byte cannot
     * be. */
    if ((pad > 0 && len % 4 != 0) || n % 4 == 1) return SIZE_MAX;
    *digits = n;
    return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* Decodes `digits` base64 digits into dst (room for their decoded size). */
static int b64_decode_to(const char *s, size_t digits, uint8_t *dst)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < digits; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) return SL_ERR_PROTO;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *dst++ = (uint8_t)(acc >> bits);
        }
    }
    return SL_OK;
}

int sl_base64_decode(const char *s, size_t len, sl_bytes_t *out)
{
    size_t digits;
    size_t n = b64_size(s, len, &digits);
    if (n == SIZE_MAX) return SL_ERR_PROTO;
    if (n == 0) return SL_OK; /* as in sl_base64_encode */
    if (sl_bytes_reserve(out, n) != SL_OK) return SL_ERR_NOMEM;
    if (b64_decode_to(s, digits, out->data + out->len) != SL_OK) return SL_ERR_PROTO;
    out->len += n;
    return SL_OK;
}

/* Shared */

bool sl_auth_equal(const char *a, const char *b)
{
    unsigned char ha[32], hb[32];
    if (EVP_Digest(a, strlen(a), ha, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(b, strlen(b), hb, NULL, EVP_sha256(), NULL) != 1)
        return false;
    /* Equal digests of different strings would need a SHA-256 collision. */
    return CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0;
}

int sl_auth_secret_new(uint8_t secret[SL_AUTH_SECRET_LEN])
{
    return RAND_bytes(secret, SL_AUTH_SECRET_LEN) == 1 ? SL_OK : SL_ERR_IO;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Control characters other than HTAB, which quoted strings may hold (RFC 9110 5.6.4). */
static bool is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if (is_ctl((unsigned char)*s)) return true;
    return false;
}

/* Skips the scheme name (case-insensitive) and the blanks after it; NULL when the
 * value has another scheme or nothing after it. */
static const char *skip_scheme(const char *p, const char *end, const char *scheme)
{
    size_t n = strlen(scheme);
    if ((size_t)(end - p) <= n || strncasecmp(p, scheme, n) != 0 || !is_blank(p[n])) return NULL;
    p += n;
    while (p < end && is_blank(*p)) p++;
    return p < end ? p : NULL;
}

/* Appends s as a quoted-string, escaping '"' and '\'. */
static int put_quoted(sl_bytes_t *out, const char *s)
{
    if (sl_bytes_put_u8(out, '"') != SL_OK) return SL_ERR_NOMEM;
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\') && sl_bytes_put_u8(out, '\\') != SL_OK) return SL_ERR_NOMEM;
        if (sl_bytes_put_u8(out, (uint8_t)*s) != SL_OK) return SL_ERR_NOMEM;
    }
    return sl_bytes_put_u8(out, '"');
}

static int put_str(sl_bytes_t *out, const char *s) { return sl_bytes_append(out, s, strlen(s)); }

/* Basic */

int sl_basic_parse(const char *value, size_t len, sl_basic_creds_t *out)
{
    if (len == 0) return SL_ERR_PROTO; /* value may then be NULL */
    const char *end = value + len;
    const char *p = skip_scheme(value, end, "Basic");
    if (!p) return SL_ERR_PROTO;
    const char *tok = p;
    while (p < end && !is_blank(*p)) p++;
    size_t tok_len = (size_t)(p - tok);
    while (p < end && is_blank(*p)) p++;
    if (p != end) return SL_ERR_PROTO;

    /* user ":" password, each at most SL_AUTH_MAX_FIELD bytes. */
    uint8_t text[2 * SL_AUTH_MAX_FIELD + 1];
    size_t digits;
    size_t n = b64_size(tok, tok_len, &digits);
    if (n == SIZE_MAX) return SL_ERR_PROTO;
    if (n > sizeof(text)) return SL_ERR_TOO_BIG;
    if (b64_decode_to(tok, digits, text) != SL_OK) return SL_ERR_PROTO;
    for (size_t i = 0; i < n; i++)
        if (is_ctl(text[i])) return SL_ERR_PROTO;
    const uint8_t *colon = memchr(text, ':', n);
    if (!colon) return SL_ERR_PROTO;
    size_t user_len = (size_t)(colon - text), pass_len = n - user_len - 1;
    if (user_len > SL_AUTH_MAX_FIELD || pass_len > SL_AUTH_MAX_FIELD) return SL_ERR_TOO_BIG;
    memcpy(out->user, text, user_len);
    out->user[user_len] = '\0';
    memcpy(out->password, colon + 1, pass_len);
    out->password[pass_len] = '\0';
    return SL_OK;
}

int sl_basic_challenge(const char *realm, sl_bytes_t *out)
{
    if (has_ctl(realm)) return SL_ERR_PROTO;
    size_t start = out->len;
    if (put_str(out, "Basic realm=") != SL_OK || put_quoted(out, realm) != SL_OK ||
        put_str(out, ", charset=\"UTF-8\"") != SL_OK) {
        out->len = start;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}

int sl_basic_authorization(const char *user, const char *password, sl_bytes_t *out)
{
    if (strchr(user, ':') || has_ctl(user) || has_ctl(password)) return SL_ERR_PROTO;
    sl_bytes_t text;
    sl_bytes_init(&text);
    size_t start = out->len;
    int rc = SL_ERR_NOMEM;
    if (put_str(&text, user) != SL_OK || sl_bytes_put_u8(&text, ':') != SL_OK ||
        put_str(&text, password) != SL_OK)
        goto out;
    if (put_str(out, "Basic ") != SL_OK || sl_base64_encode(text.data, text.len, out) != SL_OK) {
        out->len = start;
        goto out;
    }
    rc = SL_OK;
out:
    /* The vector held the password: wipe it before it goes back to the allocator. */
    if (text.data) OPENSSL_cleanse(text.data, text.cap);
    sl_bytes_free(&text);
    return rc;
}

/* Digest */

typedef struct digest_field {
    const char *name;
    unsigned bit;
    size_t off, cap; /* where in sl_digest_t, and its size with the NUL */
} digest_field_t;

#define FIELD(n, b)                                                                                     \
    {                                                                                                   \
#n, b, offsetof(sl_digest_t, n), sizeof(((sl_digest_t *)0)->n)                                  \
    }
static const digest_field_t DIGEST_FIELDS[] = {
    FIELD(username, SL_DIGEST_USERNAME), FIELD(realm, SL_DIGEST_REALM),
    FIELD(nonce, SL_DIGEST_NONCE),       FIELD(uri, SL_DIGEST_URI),
    FIELD(response, SL_DIGEST_RESPONSE), FIELD(algorithm, SL_DIGEST_ALGORITHM),
    FIELD(cnonce, SL_DIGEST_CNONCE),     FIELD(nc, SL_DIGEST_NC),
    FIELD(qop, SL_DIGEST_QOP),           FIELD(opaque, SL_DIGEST_OPAQUE),
};
#undef FIELD

/* Reads one value at *pp, quoted or a bare token, unquoted into buf (cap bytes with
 * the NUL). */
static int read_value(const char **pp, const char *end, char *buf, size_t cap, size_t *len)
{
    const char *p = *pp;
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++;; p++) {
            if (p == end) return SL_ERR_PROTO; /* unterminated */
            if (*p == '"') break;
            if (*p == '\\' && ++p == end) return SL_ERR_PROTO;
            if (is_ctl((unsigned char)*p)) return SL_ERR_PROTO;
            if (n + 1 >= cap) return SL_ERR_TOO_BIG;
            buf[n++] = *p;
        }
        p++;
    } else {
        for (; p < end && !is_blank(*p) && *p != ','; p++) {
            if (is_ctl((unsigned char)*p) || *p == '"') return SL_ERR_PROTO;
            if (n + 1 >= cap) return SL_ERR_TOO_BIG;
            buf[n++] = *p;
        }
        if (n == 0) return SL_ERR_PROTO;
    }
    buf[n] = '\0';
    *len = n;
    *pp = p;
    return SL_OK;
}

/* Stores a value under its name; unknown names are skipped. */
static int store_param(sl_digest_t *out, const char *name, size_t name_len, const char *v, size_t v_len)
{
    if (name_len == 5 && strncasecmp(name, "stale", 5) == 0) {
        if (out->have & SL_DIGEST_STALE) return SL_ERR_PROTO;
        out->have |= SL_DIGEST_STALE;
        out->stale = strcasecmp(v, "true") == 0;
        return SL_OK;
    }
    for (size_t i = 0; i < SL_ARRAY_SIZE(DIGEST_FIELDS); i++) {
        const digest_field_t *f = &DIGEST_FIELDS[i];
        if (strlen(f->name) != name_len || strncasecmp(f->name, name, name_len) != 0) continue;
        if (out->have & f->bit) return SL_ERR_PROTO;
        if (v_len >= f->cap) return SL_ERR_TOO_BIG;
        memcpy((char *)out + f->off, v, v_len + 1);
        out->have |= f->bit;
        return SL_OK;
    }
    return SL_OK;
}

int sl_digest_parse(const char *value, size_t len, sl_digest_t *out)
{
    if (len == 0) return SL_ERR_PROTO; /* value may then be NULL */
    const char *end = value + len;
    const char *p = skip_scheme(value, end, "Digest");
    if (!p) return SL_ERR_PROTO;
    memset(out, 0, sizeof(*out));
    char buf[SL_AUTH_MAX_URI + 1];
    for (;;) {
        /* Empty list elements are allowed (RFC 9110 5.6.1). */
        while (p < end && (is_blank(*p) || *p == ',')) p++;
        if (p == end) return SL_OK;
        const char *name = p;
        while (p < end && !is_blank(*p) && *p != '=' && *p != ',' && *p != '"') {
            if (is_ctl((unsigned char)*p)) return SL_ERR_PROTO;
            p++;
        }
        size_t name_len = (size_t)(p - name);
        while (p < end && is_blank(*p)) p++;
        if (name_len == 0 || p == end || *p != '=') return SL_ERR_PROTO;
        p++;
        while (p < end && is_blank(*p)) p++;
        size_t v_len;
        int rc = read_value(&p, end, buf, sizeof(buf), &v_len);
        if (rc != SL_OK) return rc;
        while (p < end && is_blank(*p)) p++;
        if (p < end && *p != ',') return SL_ERR_PROTO;
        if ((rc = store_param(out, name, name_len, buf, v_len)) != SL_OK) return rc;
    }
}

static void to_hex(const uint8_t *data, size_t len, char *out)
{
    static const char HEX[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = HEX[data[i] >> 4];
        out[2 * i + 1] = HEX[data[i] & 15];
    }
    out[2 * len] = '\0';
}

/* The nonce of time ts; see the scheme in auth.h. */
static int make_nonce(const uint8_t *secret, uint64_t ts, char out[SL_DIGEST_NONCE_LEN + 1])
{
    uint8_t be[8], mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    sl_wr_be32(be, (uint32_t)(ts >> 32));
    sl_wr_be32(be + 4, (uint32_t)ts);
    if (!HMAC(EVP_sha256(), secret, SL_AUTH_SECRET_LEN, be, sizeof(be), mac, &mac_len) || mac_len < 16)
        return SL_ERR_UNSUPPORTED;
    to_hex(be, 8, out);
    to_hex(mac, 16, out + 16);
    return SL_OK;
}

int sl_digest_nonce_new(const uint8_t secret[SL_AUTH_SECRET_LEN], uint64_t now_s,
                        char out[SL_DIGEST_NONCE_LEN + 1])
{
    return make_nonce(secret, now_s, out);
}

int sl_digest_nonce_check(const uint8_t secret[SL_AUTH_SECRET_LEN], const char *nonce, uint64_t now_s,
                          uint32_t max_age_s, bool *stale)
{
    *stale = false;
    if (strlen(nonce) != SL_DIGEST_NONCE_LEN) return SL_ERR_AUTH;
    uint64_t ts = 0;
    for (int i = 0; i < 16; i++) {
        char c = nonce[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return SL_ERR_AUTH;
        ts = ts << 4 | (uint64_t)v;
    }
    char expect[SL_DIGEST_NONCE_LEN + 1];
    if (make_nonce(secret, ts, expect) != SL_OK) return SL_ERR_AUTH;
    if (CRYPTO_memcmp(expect, nonce, SL_DIGEST_NONCE_LEN) != 0) return SL_ERR_AUTH;
    if (ts > now_s || now_s - ts > max_age_s) {
        *stale = true;
        return SL_ERR_AUTH;
    }
    return SL_OK;
}

int sl_digest_challenge(const char *realm, const char *nonce, bool qop, bool stale, sl_bytes_t *out)
{
    if (has_ctl(realm) || has_ctl(nonce)) return SL_ERR_PROTO;
    size_t start = out->len;
    if (put_str(out, "Digest realm=") != SL_OK || put_quoted(out, realm) != SL_OK ||
        put_str(out, ", nonce=") != SL_OK || put_quoted(out, nonce) != SL_OK ||
        put_str(out, ", algorithm=MD5") != SL_OK || (qop && put_str(out, ", qop=\"auth\"") != SL_OK) ||
        (stale && put_str(out, ", stale=true") != SL_OK)) {
        out->len = start;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}

/* out = lowercase hex MD5 of the parts joined with ':'. */
static int md5_hex(char out[33], const char *const *parts, int count)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
    for (int i = 0; ok && i < count; i++)
        ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
             EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok) return SL_ERR_UNSUPPORTED;
    to_hex(md, 16, out);
    return SL_OK;
}

/* The expected response for user/realm/password over the nonce, method and uri, with
 * qop (then nc and cnonce) or without (qop NULL). */
static int digest_response(char out[33], const char *user, const char *realm, const char *password,
                           const char *method, const char *uri, const char *nonce, const char *qop,
                           const char *nc, const char *cnonce)
{
    char ha1[33], ha2[33];
    int rc = md5_hex(ha1, (const char *const[]){user, realm, password}, 3);
    if (rc == SL_OK) rc = md5_hex(ha2, (const char *const[]){method, uri}, 2);
    if (rc == SL_OK) {
        if (qop)
            rc = md5_hex(out, (const char *const[]){ha1, nonce, nc, cnonce, qop, ha2}, 6);
        else
            rc = md5_hex(out, (const char *const[]){ha1, nonce, ha2}, 3);
    }
    OPENSSL_cleanse(ha1, sizeof(ha1)); /* a password equivalent for this realm */
    return rc;
}

static bool is_hex_string(const char *s, size_t n)
{
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

/* Checks the fields an Authorization needs and the algorithm and qop it uses. */
static int digest_check_fields(const sl_digest_t *a)
{
    unsigned need =
        SL_DIGEST_USERNAME | SL_DIGEST_REALM | SL_DIGEST_NONCE | SL_DIGEST_URI | SL_DIGEST_RESPONSE;
    if ((a->have & need) != need || !is_hex_string(a->response, 32)) return SL_ERR_PROTO;
    if ((a->have & SL_DIGEST_ALGORITHM) && strcasecmp(a->algorithm, "MD5") != 0)
        return SL_ERR_UNSUPPORTED;
    if (a->have & SL_DIGEST_QOP) {
        if (strcasecmp(a->qop, "auth") != 0) return SL_ERR_UNSUPPORTED;
        if (!(a->have & SL_DIGEST_CNONCE) || !is_hex_string(a->nc, 8)) return SL_ERR_PROTO;
    }
    return SL_OK;
}

int sl_digest_verify(const sl_digest_t *auth, const char *method, const char *uri, const char *user,
                     const char *realm, const char *password)
{
    int rc = digest_check_fields(auth);
    if (rc != SL_OK) return rc;
    if (strcmp(auth->username, user) != 0 || strcmp(auth->realm, realm) != 0 ||
        (uri && strcmp(auth->uri, uri) != 0))
        return SL_ERR_AUTH;
    bool qop = (auth->have & SL_DIGEST_QOP) != 0;
    char expect[33], got[33];
    rc = digest_response(expect, user, realm, password, method, auth->uri, auth->nonce,
                         qop ? auth->qop : NULL, auth->nc, auth->cnonce);
    if (rc != SL_OK) return rc;
    for (int i = 0; i < 33; i++) /* hex digits in either case; 32 of them and the NUL */
        got[i] = (char)(auth->response[i] >= 'A' && auth->response[i] <= 'F' ? auth->response[i] + 32
                                                                             : auth->response[i]);
    return CRYPTO_memcmp(expect, got, 32) == 0 ? SL_OK : SL_ERR_AUTH;
}

/* True when the comma-separated qop list holds the token "auth". */
static bool qop_offers_auth(const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || is_blank(*p)) p++;
        const char *tok = p;
        while (*p && *p != ',' && !is_blank(*p)) p++;
        if (p - tok == 4 && strncasecmp(tok, "auth", 4) == 0) return true;
    }
    return false;
}

/* Appends `, name=` and the value, quoted or not. */
static int put_param(sl_bytes_t *out, const char *name, const char *value, bool quoted)
{
    if (put_str(out, ", ") != SL_OK || put_str(out, name) != SL_OK || sl_bytes_put_u8(out, '=') != SL_OK)
        return SL_ERR_NOMEM;
    return quoted ? put_quoted(out, value) : put_str(out, value);
}

int sl_digest_authorization(const sl_digest_t *challenge, const char *method, const char *uri,
                            const char *user, const char *password, const char *cnonce, uint32_t nc,
                            sl_bytes_t *out)
{
    const sl_digest_t *c = challenge;
    if ((c->have & (SL_DIGEST_REALM | SL_DIGEST_NONCE)) != (SL_DIGEST_REALM | SL_DIGEST_NONCE) ||
        has_ctl(method) || has_ctl(uri) || has_ctl(user) || has_ctl(password) || has_ctl(cnonce))
        return SL_ERR_PROTO;
    bool alg = (c->have & SL_DIGEST_ALGORITHM) != 0;
    if (alg && strcasecmp(c->algorithm, "MD5") != 0) return SL_ERR_UNSUPPORTED;
    bool qop = (c->have & SL_DIGEST_QOP) != 0;
    if (qop && !qop_offers_auth(c->qop)) return SL_ERR_UNSUPPORTED;

    char nc_hex[9], response[33];
    snprintf(nc_hex, sizeof(nc_hex), "%08x", nc);
    int rc = digest_response(response, user, c->realm, password, method, uri, c->nonce,
                             qop ? "auth" : NULL, nc_hex, cnonce);
    if (rc != SL_OK) return rc;
    size_t start = out->len;
    if (put_str(out, "Digest username=") != SL_OK || put_quoted(out, user) != SL_OK ||
        put_param(out, "realm", c->realm, true) != SL_OK ||
        put_param(out, "nonce", c->nonce, true) != SL_OK || put_param(out, "uri", uri, true) != SL_OK ||
        put_param(out, "response", response, true) != SL_OK ||
        (alg && put_param(out, "algorithm", "MD5", false) != SL_OK) ||
        ((c->have & SL_DIGEST_OPAQUE) && put_param(out, "opaque", c->opaque, true) != SL_OK) ||
        (qop && (put_param(out, "qop", "auth", false) != SL_OK ||
                 put_param(out, "nc", nc_hex, false) != SL_OK ||
                 put_param(out, "cnonce", cnonce, true) != SL_OK))) {
        out->len = start;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}
