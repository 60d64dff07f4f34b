#include "protocols/rtmp/chunk.h"

#include "protocols/rtmp/message.h"

/* The partial messages of all chunk streams together may declare at most this many
 * times max_message_bytes. Real clients interleave a handful of streams (audio, video,
 * data, commands); a hostile one could otherwise make the reader allocate
 * SL_RTMP_MAX_CHUNK_STREAMS maximal buffers from headers alone. */
#define SL_RTMP_PENDING_FACTOR 4

#define EXTENDED_TS 0xFFFFFFu

/* Message header size by chunk fmt (spec 5.3.1.2). */
static const uint8_t msg_header_len[4] = {11, 7, 3, 0};

void sl_rtmp_reader_init(sl_rtmp_reader_t *r, uint32_t max_message_bytes)
{
    memset(r, 0, sizeof(*r));
    r->chunk_size = SL_RTMP_DEFAULT_CHUNK_SIZE;
    r->max_message_bytes = SL_MIN(max_message_bytes, SL_RTMP_MAX_MESSAGE_LEN);
}

void sl_rtmp_reader_free(sl_rtmp_reader_t *r)
{
    for (unsigned i = 0; i < r->n_streams; i++) {
        sl_buf_unref(r->streams[i].body);
        r->streams[i].body = NULL;
    }
    r->n_streams = 0;
    r->pending = 0;
    r->cur = NULL;
}

uint64_t sl_rtmp_reader_bytes(const sl_rtmp_reader_t *r) { return r->bytes; }

/* Size of the basic header announced by its first byte (spec 5.3.1.1). */
static size_t basic_header_len(uint8_t b0)
{
    switch (b0 & 0x3f) {
    case 0: return 2;
    case 1: return 3;
    default: return 1;
    }
}

static uint32_t basic_header_csid(const uint8_t *h)
{
    switch (h[0] & 0x3f) {
    case 0: return 64u + h[1];
    case 1: return 64u + h[1] + ((uint32_t)h[2] << 8);
    default: return h[0] & 0x3fu;
    }
}

static sl_rtmp_chunk_stream_t *find_stream(sl_rtmp_reader_t *r, uint32_t csid)
{
    for (unsigned i = 0; i < r->n_streams; i++)
        if (r->streams[i].csid == csid) return &r->streams[i];
    return NULL;
}

/* The full length of the header being gathered, as far as its bytes so far tell: the
 * first byte gives the basic header's size and the fmt; the timestamp field of a fmt
 * 0/1/2 header, or the chunk stream's state for fmt 3, whether 4 extended timestamp
 * bytes follow. A result above hdr_len means "gather up to there and ask again". */
static int header_need(sl_rtmp_reader_t *r, size_t *need)
{
    if (r->hdr_len == 0) {
        *need = 1;
        return SL_OK;
    }
    unsigned fmt = r->hdr[0] >> 6;
    size_t basic = basic_header_len(r->hdr[0]);
    size_t n = basic + msg_header_len[fmt];
    if (r->hdr_len < n) {
        *need = n;
        return SL_OK;
    }
    bool extended;
    if (fmt < 3) {
        const uint8_t *ts = r->hdr + basic;
        extended = ((uint32_t)ts[0] << 16 | (uint32_t)ts[1] << 8 | ts[2]) == EXTENDED_TS;
    } else {
        const sl_rtmp_chunk_stream_t *cs = find_stream(r, basic_header_csid(r->hdr));
        if (cs == NULL) return SL_ERR_PROTO;
        extended = cs->extended;
    }
    *need = n + (extended ? 4 : 0);
    return SL_OK;
}

/* Copies header bytes from the input until the header is complete (*done) or the
 * input runs out. */
static int gather_header(sl_rtmp_reader_t *r, const uint8_t **data, size_t *len, bool *done)
{
    for (;;) {
        size_t need;
        int rc = header_need(r, &need);
        if (rc != SL_OK) return rc;
        if (r->hdr_len == need) {
            *done = true;
            return SL_OK;
        }
        if (*len == 0) {
            *done = false;
            return SL_OK;
        }
        size_t n = SL_MIN(need - r->hdr_len, *len);
        memcpy(r->hdr + r->hdr_len, *data, n);
        r->hdr_len = (uint8_t)(r->hdr_len + n);
        r->bytes += n;
        *data += n;
        *len -= n;
    }
}

static void begin_chunk(sl_rtmp_reader_t *r, sl_rtmp_chunk_stream_t *cs)
{
    r->cur = cs;
    r->chunk_left = SL_MIN(r->chunk_size, cs->length - (uint32_t)cs->body->len);
}

/* The fields a chunk header carries; absent ones are taken from the chunk stream. */
typedef struct header {
    unsigned fmt;
    uint32_t ts_field; /* timestamp (fmt 0) or delta (fmt 1/2), extended resolved */
    uint32_t length;
    uint8_t type;
    uint32_t stream_id;
} header_t;

static int start_message(sl_rtmp_reader_t *r, sl_rtmp_chunk_stream_t *cs, const header_t *h)
{
    if (h->fmt == 0) {
        cs->timestamp = h->ts_field;
        cs->delta = 0;
    } else if (h->fmt < 3) {
        cs->delta = h->ts_field;
        cs->timestamp += h->ts_field;
    } else {
        cs->timestamp += cs->delta;
    }
    cs->length = h->length;
    cs->type = h->type;
    cs->stream_id = h->stream_id;
    if (h->length > r->max_message_bytes) return SL_ERR_TOO_BIG;
    if (r->pending + h->length > (uint64_t)r->max_message_bytes * SL_RTMP_PENDING_FACTOR)
        return SL_ERR_TOO_BIG;
    /* One allocation per message, of its declared length: chunks are copied in place. */
    cs->body = sl_buf_new(h->length);
    if (cs->body == NULL) return SL_ERR_NOMEM;
    r->pending += h->length;
    begin_chunk(r, cs);
    return SL_OK;
}

/* Decodes the complete header in r->hdr and prepares to read the chunk's payload. */
static int process_header(sl_rtmp_reader_t *r)
{
    size_t basic = basic_header_len(r->hdr[0]);
    uint32_t csid = basic_header_csid(r->hdr);
    header_t h = {.fmt = r->hdr[0] >> 6};

    sl_rtmp_chunk_stream_t *cs = find_stream(r, csid);
    if (cs == NULL) {
        /* Only a fmt 0 header says everything about a message. */
        if (h.fmt != 0) return SL_ERR_PROTO;
        if (r->n_streams == SL_RTMP_MAX_CHUNK_STREAMS) return SL_ERR_TOO_BIG;
        cs = &r->streams[r->n_streams++];
        memset(cs, 0, sizeof(*cs));
        cs->csid = csid;
    }
    h.length = cs->length;
    h.type = cs->type;
    h.stream_id = cs->stream_id;

    sl_reader_t rd;
    sl_reader_init(&rd, r->hdr + basic, r->hdr_len - basic);
    if (h.fmt < 3) h.ts_field = sl_rd_be24(&rd);
    if (h.fmt < 2) {
        h.length = sl_rd_be24(&rd);
        h.type = sl_rd_u8(&rd);
    }
    if (h.fmt == 0) h.stream_id = sl_rd_le32(&rd);
    if (h.fmt < 3) {
        cs->extended = h.ts_field == EXTENDED_TS;
        if (cs->extended) h.ts_field = sl_rd_be32(&rd);
    }
    /* A fmt 3 header's extended bytes repeat what the message's header said: the
     * chunk stream's state already has it, they are only skipped. */

    if (cs->body == NULL) return start_message(r, cs, &h);
    /* A header in the middle of a message may only restate it. */
    if (h.length != cs->length || h.type != cs->type || h.stream_id != cs->stream_id)
        return SL_ERR_PROTO;
    begin_chunk(r, cs);
    return SL_OK;
}

/* Protocol control messages that change how the reader parses what follows. */
static int apply_control(sl_rtmp_reader_t *r, uint8_t type, const sl_buf_t *body)
{
    if (type != SL_RTMP_MSG_SET_CHUNK_SIZE && type != SL_RTMP_MSG_ABORT) return SL_OK;
    uint32_t value;
    int rc = sl_rtmp_control_parse(type, body->data, body->len, &value);
    if (rc != SL_OK) return rc;
    if (type == SL_RTMP_MSG_SET_CHUNK_SIZE) {
        if (value == 0) return SL_ERR_PROTO;
        if (value > SL_RTMP_MAX_CHUNK_SIZE) return SL_ERR_TOO_BIG;
        r->chunk_size = value;
        return SL_OK;
    }
    sl_rtmp_chunk_stream_t *cs = find_stream(r, value);
    if (cs != NULL && cs->body != NULL) {
        r->pending -= cs->length;
        sl_buf_unref(cs->body);
        cs->body = NULL;
    }
    return SL_OK;
}

/* The current chunk's payload is complete: delivers the message if it was its last. */
static int end_chunk(sl_rtmp_reader_t *r, sl_rtmp_msg_fn on_msg, void *arg)
{
    sl_rtmp_chunk_stream_t *cs = r->cur;
    r->cur = NULL;
    if (cs->body->len < cs->length) return SL_OK;

    sl_buf_t *body = cs->body;
    cs->body = NULL;
    r->pending -= cs->length;
    int rc = apply_control(r, cs->type, body);
    if (rc == SL_OK) {
        sl_rtmp_msg_t msg = {
            .csid = cs->csid,
            .type = cs->type,
            .stream_id = cs->stream_id,
            .timestamp = cs->timestamp,
            .body = body,
        };
        rc = on_msg(arg, &msg);
    }
    sl_buf_unref(body);
    return rc;
}

int sl_rtmp_reader_feed(sl_rtmp_reader_t *r, const uint8_t *data, size_t len,
                        sl_rtmp_msg_fn on_msg, void *arg)
{
    int rc = r->err;
    while (rc == SL_OK) {
        if (r->cur == NULL) {
            bool done;
            rc = gather_header(r, &data, &len, &done);
            if (rc != SL_OK || !done) break;
            rc = process_header(r);
            r->hdr_len = 0;
            if (rc != SL_OK) break;
        }
        sl_rtmp_chunk_stream_t *cs = r->cur;
        size_t n = SL_MIN((size_t)r->chunk_left, len);
        if (n > 0) {
            memcpy(cs->body->data + cs->body->len, data, n);
            cs->body->len += n;
            r->chunk_left -= (uint32_t)n;
            r->bytes += n;
            data += n;
            len -= n;
        }
        if (r->chunk_left > 0) break; /* the input ran out mid-chunk */
        rc = end_chunk(r, on_msg, arg);
    }
    r->err = rc;
    return rc;
}

/* Writes a basic header for csid (2..65599) at p; returns the byte after it. */
static uint8_t *put_basic_header(uint8_t *p, unsigned fmt, uint32_t csid)
{
    uint8_t f = (uint8_t)(fmt << 6);
    if (csid < 64) {
        *p++ = (uint8_t)(f | csid);
    } else if (csid < 320) {
        *p++ = f;
        *p++ = (uint8_t)(csid - 64);
    } else {
        *p++ = f | 1;
        *p++ = (uint8_t)(csid - 64);
        *p++ = (uint8_t)((csid - 64) >> 8);
    }
    return p;
}

size_t sl_rtmp_chunk_bound(size_t len, uint32_t chunk_size)
{
    size_t cs = chunk_size ? chunk_size : 1;
    size_t chunks = len == 0 ? 1 : (len - 1) / cs + 1;
    /* Continuations: a basic header of at most 3 bytes and the repeated extended
     * timestamp. */
    return len + SL_RTMP_MAX_HEADER_LEN + (chunks - 1) * 7;
}

int sl_rtmp_chunk_write(sl_bytes_t *out, uint32_t csid, uint8_t type, uint32_t stream_id,
                        uint32_t timestamp, const uint8_t *body, size_t len,
                        uint32_t chunk_size)
{
    if (csid < SL_RTMP_MIN_CSID || csid > SL_RTMP_MAX_CSID) return SL_ERR_PROTO;
    if (chunk_size == 0 || chunk_size > SL_RTMP_MAX_CHUNK_SIZE) return SL_ERR_PROTO;
    if (len > SL_RTMP_MAX_MESSAGE_LEN) return SL_ERR_TOO_BIG;
    int rc = sl_bytes_reserve(out, sl_rtmp_chunk_bound(len, chunk_size));
    if (rc != SL_OK) return rc;

    bool extended = timestamp >= EXTENDED_TS;
    uint8_t *start = out->data + out->len;
    uint8_t *p = put_basic_header(start, 0, csid);
    sl_wr_be24(p, extended ? EXTENDED_TS : timestamp);
    sl_wr_be24(p + 3, (uint32_t)len);
    p[6] = type;
    sl_wr_le32(p + 7, stream_id);
    p += 11;
    for (size_t off = 0;;) {
        if (extended) {
            sl_wr_be32(p, timestamp);
            p += 4;
        }
        size_t n = SL_MIN((size_t)chunk_size, len - off);
        if (n > 0) memcpy(p, body + off, n);
        p += n;
        off += n;
        if (off == len) break;
        p = put_basic_header(p, 3, csid);
    }
    out->len += (size_t)(p - start);
    return SL_OK;
}
