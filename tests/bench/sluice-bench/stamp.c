/* The stamp of bench.h: an H.264 SEI NAL (type 6) with one user data unregistered
 * message (payload type 5) carrying BENCH_STAMP_UUID, the send time and the frame
 * number. The payload is written as RBSP with emulation prevention, so the stamp is
 * a valid NAL whatever its numbers, and read back the same way, so a stamp that
 * went through a server that re-escapes or re-frames NALs is still found. */
#include <string.h>

#include "bench.h"

#define NAL_SEI 6
#define SEI_USER_DATA_UNREGISTERED 5
#define UUID_LEN 16

/* ---- writing ------------------------------------------------------------------- */

/* The NAL body after its header, before escaping: payload type, payload size,
 * payload, rbsp trailing bits. */
static size_t stamp_rbsp(uint8_t rbsp[3 + BENCH_STAMP_PAYLOAD], uint64_t send_us, uint32_t number)
{
    size_t n = 0;
    rbsp[n++] = SEI_USER_DATA_UNREGISTERED;
    rbsp[n++] = BENCH_STAMP_PAYLOAD;
    memcpy(rbsp + n, BENCH_STAMP_UUID, UUID_LEN);
    n += UUID_LEN;
    for (int shift = 56; shift >= 0; shift -= 8) rbsp[n++] = (uint8_t)(send_us >> shift);
    for (int shift = 24; shift >= 0; shift -= 8) rbsp[n++] = (uint8_t)(number >> shift);
    rbsp[n++] = 0x80;
    return n;
}

size_t bench_stamp_write(uint8_t *out, size_t cap, uint64_t send_us, uint32_t number)
{
    uint8_t rbsp[3 + BENCH_STAMP_PAYLOAD], nal[64];
    size_t rbsp_len = stamp_rbsp(rbsp, send_us, number), n = 0;
    int zeros = 0;
    nal[n++] = NAL_SEI; /* forbidden bit 0, nal_ref_idc 0 */
    for (size_t i = 0; i < rbsp_len; i++) {
        /* Two zeros followed by 0..3 would read as a start code or an escape. */
        if (zeros >= 2 && rbsp[i] <= 3) {
            nal[n++] = 3;
            zeros = 0;
        }
        nal[n++] = rbsp[i];
        zeros = rbsp[i] == 0 ? zeros + 1 : 0;
    }
    if (cap < 4 + n) return 0;
    out[0] = out[1] = 0;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, nal, n);
    return 4 + n;
}

/* ---- reading ------------------------------------------------------------------- */

/* Reads the RBSP of a NAL, dropping emulation prevention bytes as it goes. */
typedef struct rbsp_reader {
    const uint8_t *p, *end;
    int zeros;
    bool err;
} rbsp_reader_t;

static uint8_t rbsp_byte(rbsp_reader_t *r)
{
    if (r->zeros >= 2 && r->p < r->end && *r->p == 3) {
        r->p++;
        r->zeros = 0;
    }
    if (r->p >= r->end) {
        r->err = true;
        return 0;
    }
    uint8_t b = *r->p++;
    r->zeros = b == 0 ? r->zeros + 1 : 0;
    return b;
}

/* payloadType and payloadSize are coded as runs of 0xFF plus a last byte. */
static uint32_t sei_number(rbsp_reader_t *r)
{
    uint32_t v = 0;
    uint8_t b;
    while ((b = rbsp_byte(r)) == 0xFF && !r->err && v < (1u << 24)) v += 255;
    return v + b;
}

static bool stamp_message(rbsp_reader_t *r, uint64_t *send_us, uint32_t *number)
{
    uint8_t payload[BENCH_STAMP_PAYLOAD];
    for (size_t i = 0; i < sizeof(payload); i++) payload[i] = rbsp_byte(r);
    if (r->err || memcmp(payload, BENCH_STAMP_UUID, UUID_LEN) != 0) return false;
    uint64_t t = 0;
    uint32_t n = 0;
    for (int i = 0; i < 8; i++) t = t << 8 | payload[UUID_LEN + i];
    for (int i = 0; i < 4; i++) n = n << 8 | payload[UUID_LEN + 8 + i];
    *send_us = t;
    *number = n;
    return true;
}

/* Walks the SEI messages of one SEI NAL (header byte included). */
static bool sei_find(const uint8_t *nal, size_t len, uint64_t *send_us, uint32_t *number)
{
    rbsp_reader_t r = {.p = nal + 1, .end = nal + len};
    /* Each message is at least 2 bytes; the bound keeps a hostile NAL cheap. */
    for (int messages = 0; messages < 64; messages++) {
        uint32_t type = sei_number(&r), size = sei_number(&r);
        if (r.err) return false;
        if (type == SEI_USER_DATA_UNREGISTERED && size == BENCH_STAMP_PAYLOAD)
            return stamp_message(&r, send_us, number);
        for (uint32_t i = 0; i < size && !r.err; i++) (void)rbsp_byte(&r);
        /* The rbsp trailing bits (0x80) end the list. */
        if (r.err || r.p >= r.end || *r.p == 0x80) return false;
    }
    return false;
}

static bool nal_find(const uint8_t *nal, size_t len, uint64_t *send_us, uint32_t *number)
{
    return len > 1 && (nal[0] & 0x1F) == NAL_SEI && sei_find(nal, len, send_us, number);
}

static bool avcc_find(const uint8_t *au, size_t len, uint64_t *send_us, uint32_t *number)
{
    size_t off = 0;
    while (len - off >= 4) {
        size_t n = (size_t)au[off] << 24 | (size_t)au[off + 1] << 16 | (size_t)au[off + 2] << 8 | au[off + 3];
        off += 4;
        if (n > len - off) return false;
        if (nal_find(au + off, n, send_us, number)) return true;
        off += n;
    }
    return false;
}

/* The offset just past the next start code (00 00 01) at or after off, or len. */
static size_t next_start(const uint8_t *au, size_t len, size_t off)
{
    for (size_t i = off; i + 3 <= len; i++)
        if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1) return i + 3;
    return len;
}

static bool annexb_find(const uint8_t *au, size_t len, uint64_t *send_us, uint32_t *number)
{
    size_t start = next_start(au, len, 0);
    while (start < len) {
        size_t next = next_start(au, len, start);
        /* The NAL ends before the next start code and its zero bytes (a 4-byte
         * start code or trailing_zero_8bits). */
        size_t end = next < len ? next - 3 : len;
        while (end > start && au[end - 1] == 0) end--;
        if (nal_find(au + start, end - start, send_us, number)) return true;
        start = next;
    }
    return false;
}

bool bench_stamp_find(const uint8_t *au, size_t len, bool avcc, uint64_t *send_us, uint32_t *number)
{
    if (au == NULL) return false;
    return avcc ? avcc_find(au, len, send_us, number) : annexb_find(au, len, send_us, number);
}
