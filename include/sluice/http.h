/* The one HTTP/1.1 server of sluice. It serves HTTP-FLV now and HLS, WHIP/WHEP and
 * the API later, each as a handler. The request parser is I/O-free and shared with
 * RTSP, whose messages have the same shape.
 */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stdbool.h>
#include <uv.h>

#include "sluice/buf.h"
#include "sluice/common.h"
#include "sluice/config.h"

#define SL_HTTP_MAX_HEADERS 64
#define SL_HTTP_MAX_PATH 2048

typedef struct sl_http_header {
    const char *name; /* slices of the parsed input, not NUL-terminated */
    size_t name_len;
    const char *value; /* leading and trailing blanks trimmed */
    size_t value_len;
} sl_http_header_t;

typedef struct sl_http_request {
    char method[16];             /* NUL-terminated, as sent: "GET", "OPTIONS", "ANNOUNCE" */
    char path[SL_HTTP_MAX_PATH]; /* NUL-terminated target before '?', not decoded */
    char query[SL_HTTP_MAX_PATH]; /* NUL-terminated text after '?', "" when absent */
    int version_major, version_minor;
    sl_http_header_t headers[SL_HTTP_MAX_HEADERS];
    int header_count;
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked (bodies refused by the server: 411) */
    bool keep_alive;        /* from the version and the Connection header */
    const uint8_t *body;    /* set by the server once the whole body is in */
    size_t body_len;
} sl_http_request_t;

/* Parses a request head (request line and headers, through the blank line) from
 * buf[0..len). `proto` is "HTTP" or "RTSP": the protocol name the version must carry.
 * Returns the head's length in bytes (> 0) and fills `req`, whose header slices point
 * into buf; SL_ERR_AGAIN when the head is not complete yet and shorter than
 * max_head; SL_ERR_TOO_BIG when the head is (or will be) longer than max_head, a
 * path is longer than SL_HTTP_MAX_PATH or there are more than SL_HTTP_MAX_HEADERS
 * headers; SL_ERR_PROTO for malformed input. */
int sl_http_parse_request(sl_http_request_t *req, const char *proto, const char *buf, size_t len,
                          size_t max_head);

/* The value of header `name` (case-insensitive), or NULL; its length in *len. */
const char *sl_http_header_get(const sl_http_request_t *req, const char *name, size_t *len);

/* The reason phrase of a status code ("Not Found"), "Unknown" for others. */
const char *sl_http_status_text(int status);

typedef struct sl_http_server sl_http_server_t;
typedef struct sl_http_conn sl_http_conn_t;

/* A handler answers a request through the sl_http_respond* or sl_http_stream_*
 * functions and returns SL_OK, or returns SL_ERR_NOT_FOUND to let the next handler
 * try. When no handler takes a request the server answers 404. */
typedef int (*sl_http_handler_fn)(void *arg, sl_http_conn_t *c, const sl_http_request_t *req);

/* A server on `loop` with limits and CORS from `cfg` (borrowed; must outlive it). */
sl_http_server_t *sl_http_server_new(uv_loop_t *loop, const sl_config_t *cfg);
/* Binds and listens; SL_ERR_IO with a log line when the address cannot be bound. */
int sl_http_server_listen(sl_http_server_t *s, const sl_listen_addr_t *addr) SL_MUST_CHECK;
/* Handlers are tried in the order they were added. */
int sl_http_server_add_handler(sl_http_server_t *s, sl_http_handler_fn fn, void *arg) SL_MUST_CHECK;
/* Stops listening and closes every connection (streams get their on_close). Frees
 * the server once every handle is closed; `done` is then called if not NULL. */
void sl_http_server_close(sl_http_server_t *s, void (*done)(void *arg), void *arg);
/* Open connections, for stats. */
size_t sl_http_server_conn_count(const sl_http_server_t *s);

/* A complete response with Content-Length. Connection persistence follows the
 * request. The body is copied. */
int sl_http_respond(sl_http_conn_t *c, int status, const char *content_type, const void *body,
                    size_t len);
/* sl_http_respond with extra header lines: `headers` is NULL or complete
 * "Name: value\r\n" lines (a WHIP Location, an HLS Cache-Control), copied like the
 * body. Values must not contain CR or LF. */
int sl_http_respond_ex(sl_http_conn_t *c, int status, const char *content_type,
                       const char *headers, const void *body, size_t len);
/* sl_http_respond_ex with a shared body sent by reference, not copied: the
 * connection takes a reference on `body` until it is written (HLS segments). */
int sl_http_respond_buf(sl_http_conn_t *c, int status, const char *content_type,
                        const char *headers, sl_buf_t *body);
/* For a handler that answers later (after returning SL_OK): fn(arg) runs once if
 * the connection closes before the answer, from the close path; `c` must not be
 * used after it. An answer (sl_http_respond*) ends the registration, and
 * sl_http_stream_begin replaces it with its own. */
void sl_http_conn_on_close(sl_http_conn_t *c, void (*fn)(void *arg), void *arg);
/* A short text/plain response "404 Not Found\n" (or `detail` when not NULL). */
int sl_http_respond_error(sl_http_conn_t *c, int status, const char *detail);

/* Streaming responses (chunked transfer encoding), for live media.
 * on_close(arg) is called exactly once when the connection goes away for any reason
 * (peer closed, error, server shutdown, or sl_http_conn_close) while the stream is
 * open; `c` must not be used after it. Any write still pending has had its on_written
 * called (status < 0) before on_close. */
int sl_http_stream_begin(sl_http_conn_t *c, int status, const char *content_type,
                         void (*on_close)(void *arg), void *arg) SL_MUST_CHECK;
/* Sends bufs as one HTTP chunk. When the socket takes it all at once, returns
 * SL_HTTP_WRITTEN and on_written is not called. Otherwise returns SL_HTTP_QUEUED:
 * the buffers must stay valid until on_written(arg, status) runs (status 0 or a
 * libuv error); chunks without bytes are always queued, so on_written then runs on
 * a later loop turn. At most one write may be in flight per connection; returns
 * SL_ERR_BUSY otherwise, or another error (the connection is then closed). */
#define SL_HTTP_WRITTEN 0
#define SL_HTTP_QUEUED 1
int sl_http_stream_write(sl_http_conn_t *c, const uv_buf_t *bufs, unsigned nbufs,
                         void (*on_written)(void *arg, int status), void *arg) SL_MUST_CHECK;
/* Ends the stream with the last chunk; the connection is then closed (a live stream
 * has no natural successor request). on_close runs. */
void sl_http_stream_end(sl_http_conn_t *c);
/* Closes the connection at once. */
void sl_http_conn_close(sl_http_conn_t *c);
/* "127.0.0.1:53412" and the client id used in log lines. */
const char *sl_http_conn_peer(const sl_http_conn_t *c);
uint64_t sl_http_conn_id(const sl_http_conn_t *c);

#endif
