/* Calls the public contract (sluice/http.h) lacks, implemented by src/http and
 * used by its tests; to be moved into the contract.
 */
#ifndef SLUICE_HTTP_SERVER_INTERNAL_H
#define SLUICE_HTTP_SERVER_INTERNAL_H

#include "sluice/http.h"

/* sl_http_respond with extra header lines: `headers` is NULL or a string of
 * complete "Name: value\r\n" lines (e.g. a WHIP "Location", an HLS "Cache-Control"),
 * copied like the body. The caller must not put CR or LF inside a value.
 * It belongs in sluice/http.h: move the prototype there when the contract is next
 * revised. */
int sl_http_respond_ex(sl_http_conn_t *c, int status, const char *content_type,
                       const char *headers, const void *body, size_t len);

/* For a handler that answers later (after returning SL_OK): fn(arg) runs once if
 * the connection closes before the answer, from the close path; `c` must not be
 * used after it. The registration ends with the answer (sl_http_respond*), and
 * sl_http_stream_begin replaces it with its own. Without it a late answer could
 * reach a connection already freed. Belongs in sluice/http.h too. */
void sl_http_conn_on_close(sl_http_conn_t *c, void (*fn)(void *arg), void *arg);

#endif
