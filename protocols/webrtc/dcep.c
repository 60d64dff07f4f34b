/* DCEP messages (RFC 8832): see dcep.h. */
#include "protocols/webrtc/dcep.h"

static bool known_channel_type(uint8_t t)
{
    return (t & SL_DCEP_RELIABILITY_MASK) <= SL_DCEP_PARTIAL_RELIABLE_TIMED;
}

int sl_dcep_parse_open(const uint8_t *data, size_t len, sl_dcep_open_t *out)
{
    sl_reader_t r;
    sl_reader_init(&r, data, len);
    uint8_t type = sl_rd_u8(&r);
    memset(out, 0, sizeof(*out));
    out->channel_type = sl_rd_u8(&r);
    out->priority = sl_rd_be16(&r);
    out->reliability = sl_rd_be32(&r);
    out->label_len = sl_rd_be16(&r);
    out->protocol_len = sl_rd_be16(&r);
    if (r.err || type != SL_DCEP_MSG_OPEN ||
        sl_reader_left(&r) != (size_t)out->label_len + out->protocol_len)
        return SL_ERR_PROTO;
    if (out->label_len > 0) out->label = sl_rd_bytes(&r, out->label_len);
    if (out->protocol_len > 0) out->protocol = sl_rd_bytes(&r, out->protocol_len);
    if (!known_channel_type(out->channel_type)) return SL_ERR_UNSUPPORTED;
    return SL_OK;
}

int sl_dcep_write_open(const sl_dcep_open_t *open, sl_bytes_t *out)
{
    uint8_t head[SL_DCEP_OPEN_HEADER] = {SL_DCEP_MSG_OPEN, open->channel_type};
    sl_wr_be16(head + 2, open->priority);
    sl_wr_be32(head + 4, open->reliability);
    sl_wr_be16(head + 8, open->label_len);
    sl_wr_be16(head + 10, open->protocol_len);
    size_t old = out->len;
    int rc = sl_bytes_reserve(out, sizeof(head) + open->label_len + open->protocol_len);
    if (rc == SL_OK) rc = sl_bytes_append(out, head, sizeof(head));
    if (rc == SL_OK && open->label_len > 0) rc = sl_bytes_append(out, open->label, open->label_len);
    if (rc == SL_OK && open->protocol_len > 0) rc = sl_bytes_append(out, open->protocol, open->protocol_len);
    if (rc != SL_OK) out->len = old;
    return rc;
}

int sl_dcep_write_ack(sl_bytes_t *out) { return sl_bytes_put_u8(out, SL_DCEP_MSG_ACK); }

bool sl_dcep_is_ack(const uint8_t *data, size_t len) { return len == 1 && data[0] == SL_DCEP_MSG_ACK; }
