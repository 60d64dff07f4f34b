/* Token authentication of publishers and players, the one check every protocol makes:
 * RTMP (the query after the stream name or in tcUrl), RTSP (the URL query), HTTP-FLV
 * and HLS (the URL query), WHIP/WHEP (an "Authorization: Bearer" token or the query).
 * The protocol glue finds the token (and, for hmac, `expires`) with sl_query_get and
 * asks sl_token_verify; a refusal tells the client nothing more than "not authorized".
 *
 * Algorithms, over the stream key "app/name":
 *   simple  token = secret.
 *   md5     token = lowercase hex MD5(secret || name), name without the app, as XIU
 *           (harlanc/xiu, library/common/src/auth.rs) computes it for RTMP, HTTP-FLV
 *           and HLS, so its users keep their tokens. (XIU's RTSP hashes the URL path
 *           instead; sluice uses the name on every protocol.) The token does not
 *           expire and is the same for publishing and playing.
 *   hmac    the query carries expires=<unix seconds>&token=<hex HMAC-SHA256(secret,
 *           "<app>/<name>:<expires>:<direction>")>, direction "publish" or "play",
 *           expires in decimal without sign; refused at and after `expires`.
 * Hex digests are accepted in either case and compared in constant time.
 *
 * I/O-free: strings in, a verdict out.
 */
#ifndef SLUICE_TOKEN_H
#define SLUICE_TOKEN_H

#include "sluice/buf.h"
#include "sluice/common.h"

typedef enum { SL_TOKEN_NONE, SL_TOKEN_SIMPLE, SL_TOKEN_MD5, SL_TOKEN_HMAC } sl_token_kind_t;
typedef enum { SL_DIR_PUBLISH, SL_DIR_PLAY } sl_direction_t;

/* Longest token sl_token_sign writes for md5 and hmac (64 hex digits), with the NUL.
 * A simple token is the secret itself and as long as it. */
#define SL_TOKEN_HEX_MAX 65

/* Parses a configured algorithm name, "none", "simple", "md5" or "hmac" (exactly,
 * lowercase) into *out. SL_OK or SL_ERR_CONFIG. */
int sl_token_kind_parse(const char *text, sl_token_kind_t *out) SL_MUST_CHECK;
/* The configuration name of an algorithm (static), "?" for an unknown value. */
const char *sl_token_kind_name(sl_token_kind_t kind);
/* "publish" or "play" (static), as signed into hmac tokens and written in logs. */
const char *sl_direction_name(sl_direction_t dir);

/* Verifies that a client may publish or play app/name. All strings are borrowed and
 * NUL-terminated; app and name must not be NULL; secret may be NULL (refused like
 * ""); token and expires are the decoded query values (or the Bearer token), NULL
 * when absent; expires is read only by hmac; now_s is the wall clock in
 * Unix seconds. SL_TOKEN_NONE accepts everything. Returns SL_OK or SL_ERR_AUTH, and
 * when `why` is not NULL points it at a static reason for the server's log, never for
 * the client: "missing" (no or empty token, or hmac without expires), "malformed"
 * (expires not a decimal number that fits 64 bits), "expired" (only for a token that
 * is otherwise right), "wrong", "no secret" (an empty or NULL configured secret
 * refuses everyone rather than accept an empty token) or "digest unavailable" (MD5
 * under FIPS). SL_OK leaves *why NULL. */
int sl_token_verify(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                    sl_direction_t dir, const char *token, const char *expires, uint64_t now_s,
                    const char **why) SL_MUST_CHECK;

/* Writes the token a client must send into out[0..cap) with a NUL: the secret for
 * simple, 32 lowercase hex digits for md5 (dir and expires unused), 64 for hmac. For
 * documentation, tests, relay clients and links handed out by an operator. SL_OK;
 * SL_ERR_TOO_BIG when cap is too small (out is then "" when cap > 0);
 * SL_ERR_UNSUPPORTED for SL_TOKEN_NONE or when the digest is unavailable (MD5 under
 * FIPS); SL_ERR_CONFIG for an empty secret. secret must not be NULL. */
int sl_token_sign(sl_token_kind_t kind, const char *secret, const char *app, const char *name,
                  sl_direction_t dir, uint64_t expires, char *out, size_t cap) SL_MUST_CHECK;

/* Finds `key` in a URL query "a=1&token=x" (a leading '?' is skipped; pairs are split
 * at '&'; a pair without '=' has the empty value; keys are compared after
 * percent-decoding; the first match wins, so a later duplicate cannot override it)
 * and writes its percent-decoded value with a NUL into out[0..cap). '+' stays '+':
 * stream keys are pasted into OBS and ffmpeg as written, and a space must be sent as
 * %20. query may be NULL (no query). SL_OK; SL_ERR_NOT_FOUND; SL_ERR_TOO_BIG when the
 * value needs more than cap bytes with its NUL; SL_ERR_PROTO when the value holds a
 * bad escape or an escaped NUL. On any error out is "" when cap > 0. */
int sl_query_get(const char *query, const char *key, char *out, size_t cap) SL_MUST_CHECK;

/* Appends "key=value" to out (caller-owned; no NUL), both percent-encoded except for
 * unreserved characters (RFC 3986 2.3), preceded by '&' when out is not empty and its
 * last byte is neither '?' nor '&'. For the query of a link that must carry the
 * credentials a client used (HLS segment URIs) or a signed one. SL_OK or SL_ERR_NOMEM
 * (out then unchanged). */
int sl_query_put(sl_bytes_t *out, const char *key, const char *value) SL_MUST_CHECK;

#endif
