#include "protocols/rtmp/message.h"

#include "protocols/rtmp/chunk.h"

/* Appends a control message (chunk stream 2, message stream 0, timestamp 0). The
 * bodies are at most 6 bytes, so the chunk size only has to exceed that. */
static int write_control(sl_bytes_t *out, uint8_t type, const uint8_t *body, size_t len)
{
    return sl_rtmp_chunk_write(out, SL_RTMP_CSID_CONTROL, type, 0, 0, body, len,
                               SL_RTMP_DEFAULT_CHUNK_SIZE);
}

static int write_u32(sl_bytes_t *out, uint8_t type, uint32_t value)
{
    uint8_t body[4];
    sl_wr_be32(body, value);
    return write_control(out, type, body, sizeof(body));
}

int sl_rtmp_write_set_chunk_size(sl_bytes_t *out, uint32_t size)
{
    if (size == 0 || size > SL_RTMP_MAX_CHUNK_SIZE) return SL_ERR_PROTO;
    return write_u32(out, SL_RTMP_MSG_SET_CHUNK_SIZE, size);
}

int sl_rtmp_write_abort(sl_bytes_t *out, uint32_t csid)
{
    return write_u32(out, SL_RTMP_MSG_ABORT, csid);
}

int sl_rtmp_write_ack(sl_bytes_t *out, uint32_t seq)
{
    return write_u32(out, SL_RTMP_MSG_ACK, seq);
}

int sl_rtmp_write_window_ack_size(sl_bytes_t *out, uint32_t size)
{
    return write_u32(out, SL_RTMP_MSG_WINDOW_ACK_SIZE, size);
}

int sl_rtmp_write_set_peer_bandwidth(sl_bytes_t *out, uint32_t size, uint8_t limit_type)
{
    if (limit_type > SL_RTMP_BW_DYNAMIC) return SL_ERR_PROTO;
    uint8_t body[5];
    sl_wr_be32(body, size);
    body[4] = limit_type;
    return write_control(out, SL_RTMP_MSG_SET_PEER_BANDWIDTH, body, sizeof(body));
}

static int write_user_control(sl_bytes_t *out, uint16_t event, uint32_t value)
{
    uint8_t body[6];
    sl_wr_be16(body, event);
    sl_wr_be32(body + 2, value);
    return write_control(out, SL_RTMP_MSG_USER_CONTROL, body, sizeof(body));
}

int sl_rtmp_write_stream_begin(sl_bytes_t *out, uint32_t stream_id)
{
    return write_user_control(out, SL_RTMP_UC_STREAM_BEGIN, stream_id);
}

int sl_rtmp_write_stream_eof(sl_bytes_t *out, uint32_t stream_id)
{
    return write_user_control(out, SL_RTMP_UC_STREAM_EOF, stream_id);
}

int sl_rtmp_write_stream_is_recorded(sl_bytes_t *out, uint32_t stream_id)
{
    return write_user_control(out, SL_RTMP_UC_STREAM_IS_RECORDED, stream_id);
}

int sl_rtmp_write_ping_request(sl_bytes_t *out, uint32_t timestamp)
{
    return write_user_control(out, SL_RTMP_UC_PING_REQUEST, timestamp);
}

int sl_rtmp_write_ping_response(sl_bytes_t *out, uint32_t timestamp)
{
    return write_user_control(out, SL_RTMP_UC_PING_RESPONSE, timestamp);
}

int sl_rtmp_control_parse(uint8_t type, const uint8_t *body, size_t len, uint32_t *value)
{
    switch (type) {
    case SL_RTMP_MSG_SET_CHUNK_SIZE:
    case SL_RTMP_MSG_ABORT:
    case SL_RTMP_MSG_ACK:
    case SL_RTMP_MSG_WINDOW_ACK_SIZE:
        break;
    default:
        return SL_ERR_UNSUPPORTED;
    }
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint32_t v = sl_rd_be32(&rd);
    if (rd.err) return SL_ERR_PROTO;
    /* The top bit of a chunk size is reserved and must be ignored. */
    *value = type == SL_RTMP_MSG_SET_CHUNK_SIZE ? v & 0x7FFFFFFFu : v;
    return SL_OK;
}

int sl_rtmp_peer_bandwidth_parse(const uint8_t *body, size_t len, uint32_t *size,
                                 uint8_t *limit_type)
{
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint32_t s = sl_rd_be32(&rd);
    uint8_t limit = sl_rd_u8(&rd);
    if (rd.err || limit > SL_RTMP_BW_DYNAMIC) return SL_ERR_PROTO;
    *size = s;
    *limit_type = limit;
    return SL_OK;
}

/* Body bytes after the event type that a known event needs; 0 for unknown ones. */
static size_t user_control_need(uint16_t event)
{
    switch (event) {
    case SL_RTMP_UC_STREAM_BEGIN:
    case SL_RTMP_UC_STREAM_EOF:
    case SL_RTMP_UC_STREAM_DRY:
    case SL_RTMP_UC_STREAM_IS_RECORDED:
    case SL_RTMP_UC_PING_REQUEST:
    case SL_RTMP_UC_PING_RESPONSE:
        return 4;
    case SL_RTMP_UC_SET_BUFFER_LENGTH:
        return 8;
    default:
        return 0;
    }
}

int sl_rtmp_user_control_parse(const uint8_t *body, size_t len, uint16_t *event,
                               uint32_t *value)
{
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint16_t ev = sl_rd_be16(&rd);
    if (rd.err || sl_reader_left(&rd) < user_control_need(ev)) return SL_ERR_PROTO;
    /* Unknown events (SWF verification, ...) may carry fewer than 4 bytes. */
    *value = sl_reader_left(&rd) >= 4 ? sl_rd_be32(&rd) : 0;
    *event = ev;
    return SL_OK;
}
