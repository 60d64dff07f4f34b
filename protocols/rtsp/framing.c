#include "protocols/rtsp/framing.h"

static int next_data(const uint8_t *buf, size_t len, sl_rtsp_unit_t *out)
{
    if (len < 4) return 0;
    size_t n = (size_t)buf[2] << 8 | buf[3];
    if (len < 4 + n) return 0;
    out->is_data = true;
    out->channel = buf[1];
    out->data = buf + 4;
    out->len = n;
    return (int)(4 + n);
}

static int next_request(const uint8_t *buf, size_t len, size_t max_head, size_t max_body, sl_rtsp_unit_t *out)
{
    sl_http_request_t *req = &out->req;
    out->has_head = false;
    int head = sl_http_parse_request(req, "RTSP", (const char *)buf, len, max_head);
    if (head == SL_ERR_AGAIN) return 0;
    if (head < 0) return head;
    out->has_head = true;
    if (req->content_length > (int64_t)max_body || req->chunked) return req->chunked ? SL_ERR_PROTO : SL_ERR_TOO_BIG;
    size_t body = req->content_length > 0 ? (size_t)req->content_length : 0;
    if (len - (size_t)head < body) return 0;
    out->is_data = false;
    req->body = buf + head;
    req->body_len = body;
    return (int)((size_t)head + body);
}

int sl_rtsp_next_unit(const uint8_t *buf, size_t len, size_t max_head, size_t max_body, sl_rtsp_unit_t *out)
{
    if (len == 0) return 0;
    return buf[0] == '$' ? next_data(buf, len, out) : next_request(buf, len, max_head, max_body, out);
}
