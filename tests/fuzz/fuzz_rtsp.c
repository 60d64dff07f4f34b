/* Walks arbitrary bytes as an RTSP connection does: request after request and '$'
 * interleaved packet after packet, until more bytes are needed or an error. Each
 * unit must lie inside what was left of the input, its payload or body inside the
 * unit, and no error may be other than the documented ones. Two limit pairs: the
 * server's defaults, and small ones taken from the first byte, which reach the size
 * checks with small inputs. */
#include <stdlib.h>
#include <string.h>

#include "protocols/rtsp/framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_rtsp_unit_t unit;

static void check_unit(const uint8_t *at, size_t left, size_t max_head, size_t max_body, int n)
{
    const uint8_t *end = at + n;
    if ((size_t)n > left) abort();
    if (unit.is_data) {
        if (at[0] != '$' || unit.channel != at[1] || n != (int)(4 + unit.len)) abort();
        if (unit.data != at + 4 || unit.data + unit.len > end) abort();
        return;
    }
    if (at[0] == '$' || unit.req.method[0] == '\0') abort();
    if (unit.req.chunked || unit.req.body_len > max_body) abort();
    if (unit.req.body_len != (unit.req.content_length > 0 ? (size_t)unit.req.content_length : 0)) abort();
    if (unit.req.body < at || unit.req.body + unit.req.body_len != end) abort();
    if ((size_t)(unit.req.body - at) > max_head) abort();
    for (int i = 0; i < unit.req.header_count; i++) {
        const sl_http_header_t *h = &unit.req.headers[i];
        if ((const uint8_t *)h->name < at || (const uint8_t *)h->value + h->value_len > unit.req.body) abort();
    }
}

static void walk(const uint8_t *buf, size_t len, size_t max_head, size_t max_body)
{
    size_t pos = 0;
    for (;;) {
        int n = sl_rtsp_next_unit(buf + pos, len - pos, max_head, max_body, &unit);
        if (n == 0) return;
        if (n < 0) {
            if (n != SL_ERR_PROTO && n != SL_ERR_TOO_BIG) abort();
            return;
        }
        check_unit(buf + pos, len - pos, max_head, max_body, n);
        pos += (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past the end is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL) return 0;
    if (size > 0) memcpy(buf, data, size);
    walk(buf, size, 16384, 1048576);
    if (size > 0) walk(buf, size, (size_t)buf[0] * 4 + 1, (size_t)buf[0] / 2);
    free(buf);
    return 0;
}
