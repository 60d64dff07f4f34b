/* The HTTP/1.1 client sluice uses to call out: hooks POST a small JSON document to
 * the operator's web service and read a short answer.
 *
 * Three layers, usable on their own:
 * - sl_http_url_parse: "http://host[:port][/path][?query]", I/O-free, also used by
 *   the config loader to refuse a bad hook URL at start-up;
 * - sl_http_response_*: an I/O-free, incremental response parser with bounded head
 *   and body, fuzzed;
 * - sl_http_post: one request on the libuv loop (resolve, connect, write, read),
 *   bounded by one timer for the whole exchange, ending in exactly one callback.
 * Only plain http is spoken: no TLS, no redirects, no keep-alive (every request is
 * "Connection: close" on its own connection).
 */
#ifndef SLUICE_HTTP_CLIENT_H
#define SLUICE_HTTP_CLIENT_H

#include <stdbool.h>
#include <uv.h>

#include "sluice/buf.h"
#include "sluice/common.h"
#include "sluice/http.h"

#define SL_HTTP_URL_MAX_HOST 253   /* a DNS name's longest text form */
#define SL_HTTP_URL_MAX_TARGET 2047 /* path and query */

#define SL_HTTP_CLIENT_MAX_HEAD 8192      /* status line, headers and each trailer section */
#define SL_HTTP_CLIENT_MAX_HEADERS 32
#define SL_HTTP_CLIENT_MAX_LINE 1024      /* a chunk-size line or a trailer line */
#define SL_HTTP_CLIENT_MAX_BODY (64 * 1024)
#define SL_HTTP_CLIENT_DEFAULT_TIMEOUT_MS 3000

/* ---- URL ------------------------------------------------------------------ */

typedef struct sl_http_url {
    char host[SL_HTTP_URL_MAX_HOST + 1];     /* NUL-terminated; an IPv6 literal without brackets */
    char target[SL_HTTP_URL_MAX_TARGET + 1]; /* "/path?query", "/" when the URL has no path */
    uint16_t port;                           /* 80 when absent */
    int family; /* AF_INET or AF_INET6 for an address literal, AF_UNSPEC for a name */
} sl_http_url_t;

/* Parses an absolute http URL. The scheme is case-insensitive; the host is an IPv4
 * address, a bracketed IPv6 address (no zone) or a DNS name (letters, digits, '-',
 * '_', '.'); the port is 1..65535; path and query are visible ASCII (already
 * percent-encoded where needed), so nothing in the result can break a request line.
 * Returns SL_OK, SL_ERR_UNSUPPORTED for https:// (no TLS here) or SL_ERR_CONFIG for
 * anything else. When why is not NULL it is set to a static English sentence
 * explaining the refusal (NULL on success), for the config loader's error line. */
int sl_http_url_parse(sl_http_url_t *u, const char *url, const char **why) SL_MUST_CHECK;

/* ---- Response parser ------------------------------------------------------ */

typedef struct sl_http_response {
    /* Valid once sl_http_response_feed or sl_http_response_eof returned SL_OK. */
    int version_minor; /* HTTP/1.0 or HTTP/1.1 */
    int status;        /* 200..599 for a final answer (1xx interim answers are skipped) */
    const char *reason; /* slice of the head, not NUL-terminated, may be empty */
    size_t reason_len;
    sl_http_header_t headers[SL_HTTP_CLIENT_MAX_HEADERS]; /* slices of the head */
    int header_count;
    int64_t content_length; /* -1 when absent */
    bool chunked;
    /* The decoded body, owned by the parser, followed by a NUL byte not counted in
     * body_len (so a JSON or text body can be handed to a C-string API). Never NULL
     * once complete. */
    const uint8_t *body;
    size_t body_len;

    /* Parser state: private. */
    int state;
    int err;
    size_t max_body;
    size_t head_len;
    uint64_t remaining; /* bytes left in the Content-Length body or the current chunk */
    size_t line_len;
    size_t trailer_len;
    sl_bytes_t body_buf;
    char head[SL_HTTP_CLIENT_MAX_HEAD];
    char line[SL_HTTP_CLIENT_MAX_LINE];
} sl_http_response_t;

/* Prepares r for one response whose decoded body may be at most max_body bytes
 * (0 means SL_HTTP_CLIENT_MAX_BODY). */
void sl_http_response_init(sl_http_response_t *r, size_t max_body);
/* Frees the body; r may be initialised again. */
void sl_http_response_free(sl_http_response_t *r);
/* Feeds the next bytes of the stream; data is not kept. Returns:
 *   SL_OK           the response is complete; *used (if not NULL) is the number of
 *                   bytes of data that belonged to it, the rest is not looked at;
 *   SL_ERR_AGAIN    all of data was taken, more is needed (or the body runs until
 *                   the connection closes: call sl_http_response_eof then);
 *   SL_ERR_PROTO    malformed: status line not "HTTP/1.0|1.1 NNN reason" with
 *                   NNN in 100..599, bad header line, obsolete line folding, bad or
 *                   conflicting Content-Length, a transfer coding other than a
 *                   single "chunked", a 101 answer, bad chunk framing;
 *   SL_ERR_TOO_BIG  head over SL_HTTP_CLIENT_MAX_HEAD, more than
 *                   SL_HTTP_CLIENT_MAX_HEADERS headers, a chunk or trailer line
 *                   over SL_HTTP_CLIENT_MAX_LINE, a body over max_body (said as
 *                   soon as a Content-Length or chunk size announces it);
 *   SL_ERR_NOMEM.
 * Errors are sticky; feeding a complete response returns SL_OK with *used 0. */
int sl_http_response_feed(sl_http_response_t *r, const void *data, size_t len, size_t *used) SL_MUST_CHECK;
/* The connection closed. SL_OK when that completes the response (a body delimited
 * by the close, or a response already complete); SL_ERR_PROTO when it was cut
 * short; a sticky error is returned again. */
int sl_http_response_eof(sl_http_response_t *r) SL_MUST_CHECK;
/* The value of header `name` (case-insensitive) of a complete response, or NULL;
 * its length in *len when len is not NULL. Points into r. */
const char *sl_http_response_header(const sl_http_response_t *r, const char *name, size_t *len);

/* ---- Client --------------------------------------------------------------- */

typedef struct sl_http_client_req sl_http_client_req_t;

/* Called exactly once per request that sl_http_post accepted:
 *   status > 0: the HTTP status of the final answer (200, 403, 500...), body and
 *               len its decoded body (NUL-terminated as above; may be empty);
 *   status < 0 (body NULL, len 0):
 *     SL_ERR_TIMEOUT  timeout_ms passed before a complete answer;
 *     SL_ERR_IO      the name did not resolve, no address accepted the connection
 *                    (refused, unreachable), the connection was reset, or it was
 *                    closed before a single byte of answer;
 *     SL_ERR_PROTO   the answer was malformed or cut short by the close;
 *     SL_ERR_TOO_BIG the answer's head or body is over the limits above;
 *     SL_ERR_NOMEM;
 *     SL_ERR_CLOSED  sl_http_client_cancel was called (the callback runs inside it).
 * The body is valid only during the call. The request is finished when the
 * callback starts: the pointer from sl_http_post must not be used any more (its
 * memory is freed by the client once its libuv handles have closed). The callback
 * may start new requests and cancel other ones. Runs on the loop's thread, like
 * everything here. Every failure except SL_ERR_CLOSED
 * is logged once at WARN with its precise cause (the libuv error, the URL). */
typedef void (*sl_http_client_cb)(void *arg, int status, const uint8_t *body, size_t len);

/* Starts `POST <target> HTTP/1.1` to `url` with Host, Content-Type (content_type,
 * or "application/json" when NULL), Content-Length, "Connection: close" and
 * "User-Agent: sluice/<SLUICE_VERSION>", then body[0..len) (copied; the caller's
 * buffer may go at once). timeout_ms bounds everything from this call to the
 * complete answer (0 means SL_HTTP_CLIENT_DEFAULT_TIMEOUT_MS). Names are resolved
 * with uv_getaddrinfo (the libuv thread pool) and each address is tried in turn;
 * address literals are used directly. Nothing here blocks the loop.
 * cb must not be NULL; the loop must outlive the request.
 * Returns SL_OK and sets *out (may be NULL if the caller never cancels): cb will
 * then run exactly once, never from inside sl_http_post. Otherwise returns the
 * error and cb never runs: what sl_http_url_parse returns for the URL,
 * SL_ERR_CONFIG for a content_type with control characters, SL_ERR_NOMEM. */
int sl_http_post(uv_loop_t *loop, const char *url, const char *content_type, const void *body,
                 size_t len, uint32_t timeout_ms, sl_http_client_cb cb, void *arg,
                 sl_http_client_req_t **out) SL_MUST_CHECK;

/* Abandons a request whose callback has not run yet: the callback runs before this
 * returns, with SL_ERR_CLOSED, and the request's handles are closed and freed by
 * later loop iterations (run the loop until it is empty before uv_loop_close; a
 * name resolution already under way in the thread pool holds the loop until it
 * ends). Calling it from inside this request's own callback does nothing; calling
 * it after that callback returned is a use after free. NULL is ignored. */
void sl_http_client_cancel(sl_http_client_req_t *r);

#endif
