/* RTSP framing (RFC 2326 10.12): requests and '$' interleaved binary data share one
 * TCP stream. I/O-free: finds the next complete unit in a buffer. */
#ifndef SLUICE_RTSP_FRAMING_H
#define SLUICE_RTSP_FRAMING_H

#include "sluice/http.h"

typedef struct sl_rtsp_unit {
    bool is_data;
    /* The request head parsed (also when its body is then refused as too big, so
     * the refusal can carry the request's CSeq). */
    bool has_head;
    /* A request: head parsed into `req`, body (Content-Length bytes) in req.body. */
    sl_http_request_t req;
    /* Interleaved data: channel and payload, pointing into the buffer. */
    uint8_t channel;
    const uint8_t *data;
    size_t len;
} sl_rtsp_unit_t;

/* Looks at buf[0..len) for one complete unit. Returns its size in bytes (> 0) and
 * fills *out (pointers into buf); 0 when the unit is not complete yet;
 * SL_ERR_PROTO for a malformed request head; SL_ERR_TOO_BIG for a head over max_head
 * or a body over max_body. */
int sl_rtsp_next_unit(const uint8_t *buf, size_t len, size_t max_head, size_t max_body, sl_rtsp_unit_t *out);

#endif
