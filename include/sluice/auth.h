/* HTTP and RTSP authentication: Basic (RFC 7617) and Digest with MD5 (RFC 7616,
 * RFC 2617), for the server side (challenge, parse, verify) and for relay clients
 * (answer a challenge). Also base64 (RFC 4648), which Basic and SDP share.
 *
 * I/O-free: header values in, header values out. The caller reads the Authorization
 * header, looks up the user's password and writes WWW-Authenticate.
 *
 * Digest nonces are stateless: a nonce is the time it was made and an HMAC-SHA256 of
 * that time under a server secret, so any nonce the server made can be checked, and
 * aged out, without keeping a table:
 *     nonce = hex64(now_s) || hex(HMAC-SHA256(secret, be64(now_s))[0..16))
 * (48 lowercase hex digits). The price is that a captured request can be replayed
 * until its nonce expires; keep max_age short (tens of seconds to minutes) when that
 * matters. A secret made at start-up invalidates every nonce of an earlier run, which
 * clients handle as a stale nonce.
 */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stdbool.h>

#include "sluice/buf.h"
#include "sluice/common.h"

#define SL_AUTH_SECRET_LEN 32
#define SL_DIGEST_NONCE_LEN 48
/* Bounds of parsed fields (bytes, without the NUL); longer ones are SL_ERR_TOO_BIG. */
#define SL_AUTH_MAX_FIELD 255
#define SL_AUTH_MAX_URI 2047

/* Base64 */

/* Appends the base64 of data[0..len) with '=' padding to `out` (caller-owned; no NUL
 * is added). SL_OK or SL_ERR_NOMEM (out then unchanged). */
int sl_base64_encode(const uint8_t *data, size_t len, sl_bytes_t *out) SL_MUST_CHECK;
/* Decodes s[0..len) (standard alphabet; the final padding may be omitted; no
 * whitespace) and appends the bytes to `out` (caller-owned). SL_OK, SL_ERR_PROTO for
 * any other character, misplaced padding or a dangling sixth of a byte (out then
 * unchanged), SL_ERR_NOMEM. */
int sl_base64_decode(const char *s, size_t len, sl_bytes_t *out) SL_MUST_CHECK;

/* Shared */

/* True when the NUL-terminated strings a and b are equal, in a time that depends on
 * neither their content nor where they differ (both are hashed, then compared), so a
 * password check does not leak how much of a guess was right. */
bool sl_auth_equal(const char *a, const char *b);
/* Fills secret with random bytes (OpenSSL RAND_bytes), for Digest nonces. SL_OK, or
 * SL_ERR_IO when the random generator fails. */
int sl_auth_secret_new(uint8_t secret[SL_AUTH_SECRET_LEN]) SL_MUST_CHECK;

/* Basic */

typedef struct sl_basic_creds {
    char user[SL_AUTH_MAX_FIELD + 1];
    char password[SL_AUTH_MAX_FIELD + 1];
} sl_basic_creds_t;

/* Parses an Authorization header value "Basic <base64 of user:password>" (scheme
 * case-insensitive) from value[0..len), which need not be NUL-terminated. SL_OK;
 * SL_ERR_PROTO for another scheme, bad base64, no ':' or a control character other
 * than HTAB in the decoded text; SL_ERR_TOO_BIG for a user or password over
 * SL_AUTH_MAX_FIELD bytes. */
int sl_basic_parse(const char *value, size_t len, sl_basic_creds_t *out) SL_MUST_CHECK;
/* Appends the WWW-Authenticate value `Basic realm="<realm>", charset="UTF-8"` to out
 * (caller-owned). SL_OK, SL_ERR_PROTO when realm holds a control character,
 * SL_ERR_NOMEM. */
int sl_basic_challenge(const char *realm, sl_bytes_t *out) SL_MUST_CHECK;
/* Appends the Authorization value "Basic <base64>" for a relay client. SL_OK,
 * SL_ERR_PROTO when user holds ':' or either holds a control character,
 * SL_ERR_NOMEM. */
int sl_basic_authorization(const char *user, const char *password, sl_bytes_t *out) SL_MUST_CHECK;

/* Digest */

/* Which fields of sl_digest_t a header carried. */
enum sl_digest_field {
    SL_DIGEST_USERNAME = 1 << 0,
    SL_DIGEST_REALM = 1 << 1,
    SL_DIGEST_NONCE = 1 << 2,
    SL_DIGEST_URI = 1 << 3,
    SL_DIGEST_RESPONSE = 1 << 4,
    SL_DIGEST_ALGORITHM = 1 << 5,
    SL_DIGEST_CNONCE = 1 << 6,
    SL_DIGEST_NC = 1 << 7,
    SL_DIGEST_QOP = 1 << 8,
    SL_DIGEST_OPAQUE = 1 << 9,
    SL_DIGEST_STALE = 1 << 10,
};

/* The parameters of a Digest header, either direction: an Authorization (username,
 * uri, response, cnonce, nc, qop) or a WWW-Authenticate challenge (realm, nonce,
 * opaque, algorithm, qop as a list such as "auth,auth-int", stale). Unquoted and
 * NUL-terminated; absent fields are "" and their bit in `have` is clear. */
typedef struct sl_digest {
    unsigned have; /* sl_digest_field bits */
    char username[SL_AUTH_MAX_FIELD + 1];
    char realm[SL_AUTH_MAX_FIELD + 1];
    char nonce[SL_AUTH_MAX_FIELD + 1];
    char uri[SL_AUTH_MAX_URI + 1];
    char response[SL_AUTH_MAX_FIELD + 1];
    char algorithm[SL_AUTH_MAX_FIELD + 1];
    char cnonce[SL_AUTH_MAX_FIELD + 1];
    char nc[SL_AUTH_MAX_FIELD + 1];
    char qop[SL_AUTH_MAX_FIELD + 1];
    char opaque[SL_AUTH_MAX_FIELD + 1];
    bool stale;
} sl_digest_t;

/* Parses a header value "Digest name=value, ..." from value[0..len) (not necessarily
 * NUL-terminated): the scheme and names case-insensitive, values quoted (with
 * backslash escapes, commas allowed inside) or bare tokens, in any order, blanks
 * around '=' and ',' allowed, unknown names skipped. SL_OK; SL_ERR_PROTO for another
 * scheme, bad syntax, a name given twice or a control character other than HTAB in a
 * value; SL_ERR_TOO_BIG for a value over its field's size (over SL_AUTH_MAX_URI for a
 * name not kept). Checking that the fields a use needs are present is left to
 * sl_digest_verify and sl_digest_authorization. */
int sl_digest_parse(const char *value, size_t len, sl_digest_t *out) SL_MUST_CHECK;

/* Writes a new nonce for time now_s (seconds on any clock the checks will use too)
 * into out, NUL-terminated. SL_OK, or SL_ERR_UNSUPPORTED when HMAC fails. */
int sl_digest_nonce_new(const uint8_t secret[SL_AUTH_SECRET_LEN], uint64_t now_s,
                        char out[SL_DIGEST_NONCE_LEN + 1]) SL_MUST_CHECK;
/* Checks a nonce (NUL-terminated) against the secret. SL_OK when this server made it
 * at most max_age_s seconds before now_s; otherwise SL_ERR_AUTH with *stale set when
 * the nonce is genuine but too old (or from the future: the clock stepped back), so
 * the caller challenges again with stale=true and the client retries without asking
 * its user. */
int sl_digest_nonce_check(const uint8_t secret[SL_AUTH_SECRET_LEN], const char *nonce, uint64_t now_s,
                          uint32_t max_age_s, bool *stale) SL_MUST_CHECK;

/* Appends the WWW-Authenticate value
 *     Digest realm="<realm>", nonce="<nonce>", algorithm=MD5[, qop="auth"][, stale=true]
 * to out (caller-owned). Offer qop for HTTP clients; RTSP servers commonly leave it
 * out and sl_digest_verify accepts both forms either way. SL_OK, SL_ERR_PROTO when
 * realm or nonce holds a control character, SL_ERR_NOMEM. */
int sl_digest_challenge(const char *realm, const char *nonce, bool qop, bool stale,
                        sl_bytes_t *out) SL_MUST_CHECK;

/* Verifies a parsed Authorization for a request: the username must be `user`, the
 * realm `realm`, the uri `uri` when uri is not NULL (NULL skips that check; the
 * response covers the uri the client named either way), algorithm absent or MD5, qop
 * absent or "auth" (then with cnonce and an 8-hex-digit nc), and the response must be
 *     MD5(HA1:nonce:HA2)                    without qop,
 *     MD5(HA1:nonce:nc:cnonce:qop:HA2)      with qop=auth,
 * where HA1 = MD5(user:realm:password) and HA2 = MD5(method:uri). The nonce itself
 * is checked separately (sl_digest_nonce_check). SL_OK; SL_ERR_AUTH on any mismatch;
 * SL_ERR_PROTO when a required field is missing or malformed; SL_ERR_UNSUPPORTED for
 * another algorithm or qop, or when MD5 is unavailable (FIPS builds). */
int sl_digest_verify(const sl_digest_t *auth, const char *method, const char *uri, const char *user,
                     const char *realm, const char *password) SL_MUST_CHECK;

/* Appends the Authorization value answering a parsed challenge, for a relay client:
 * username, realm, nonce, uri, response, algorithm=MD5 when the challenge named it,
 * opaque when it had one, and qop=auth with nc (as 8 hex digits) and cnonce when the
 * challenge offered "auth". cnonce is the caller's random token.
 * SL_OK; SL_ERR_PROTO when the challenge lacks realm or nonce or a string holds a
 * control character; SL_ERR_UNSUPPORTED for another algorithm or a qop list without
 * "auth"; SL_ERR_NOMEM. */
int sl_digest_authorization(const sl_digest_t *challenge, const char *method, const char *uri,
                            const char *user, const char *password, const char *cnonce, uint32_t nc,
                            sl_bytes_t *out) SL_MUST_CHECK;

#endif
