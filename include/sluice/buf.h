/* Byte buffers.
 *
 * sl_buf_t: an immutable-once-shared, reference-counted block of bytes. The event
 * loop is single-threaded, so the count needs no atomics; it must never go below 0.
 *
 * sl_bytes_t: a growable byte vector that encoders append to (not shared).
 * sl_reader_t: a bounds-checked big-endian cursor that parsers read from. A read past
 * the end sets `err` and returns 0, so a parser may read several fields and check
 * `err` once.
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdbool.h>
#include <string.h>

#include "sluice/common.h"

typedef struct sl_buf {
    uint32_t refcnt;
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated in data */
    uint8_t data[];
} sl_buf_t;

/* A new buffer with room for `cap` bytes, len 0, one reference owned by the caller.
 * NULL when out of memory. */
sl_buf_t *sl_buf_new(size_t cap);
/* A new buffer holding a copy of data[0..len), one reference owned by the caller. */
sl_buf_t *sl_buf_from(const void *data, size_t len);
/* Adds a reference; returns b for chaining. */
sl_buf_t *sl_buf_ref(sl_buf_t *b);
/* Drops a reference; frees on the last one. NULL is ignored. */
void sl_buf_unref(sl_buf_t *b);

typedef struct sl_bytes {
    uint8_t *data;
    size_t len, cap;
} sl_bytes_t;

/* All appends return SL_OK or SL_ERR_NOMEM; a vector that failed once keeps
 * its old content. sl_bytes_free leaves it empty and reusable. */
void sl_bytes_init(sl_bytes_t *v);
void sl_bytes_free(sl_bytes_t *v);
int sl_bytes_reserve(sl_bytes_t *v, size_t extra) SL_MUST_CHECK;
int sl_bytes_append(sl_bytes_t *v, const void *data, size_t len) SL_MUST_CHECK;
int sl_bytes_put_u8(sl_bytes_t *v, uint8_t x) SL_MUST_CHECK;
int sl_bytes_put_be16(sl_bytes_t *v, uint16_t x) SL_MUST_CHECK;
int sl_bytes_put_be24(sl_bytes_t *v, uint32_t x) SL_MUST_CHECK;
int sl_bytes_put_be32(sl_bytes_t *v, uint32_t x) SL_MUST_CHECK;
int sl_bytes_put_le32(sl_bytes_t *v, uint32_t x) SL_MUST_CHECK;
int sl_bytes_put_be64(sl_bytes_t *v, uint64_t x) SL_MUST_CHECK;
/* Turns the content into an sl_buf_t (one reference, owned by the caller) without
 * copying it, and leaves v empty. NULL only when v was empty and no memory was left. */
sl_buf_t *sl_bytes_to_buf(sl_bytes_t *v);

typedef struct sl_reader {
    const uint8_t *p, *end;
    bool err; /* set by any read past the end */
} sl_reader_t;

static inline void sl_reader_init(sl_reader_t *r, const void *data, size_t len)
{
    r->p = data;
    /* NULL + 0 is undefined behaviour in C, and UBSan says so. */
    r->end = len > 0 ? r->p + len : r->p;
    r->err = false;
}

static inline size_t sl_reader_left(const sl_reader_t *r) { return (size_t)(r->end - r->p); }

static inline bool sl_reader_need(sl_reader_t *r, size_t n)
{
    if (r->err || sl_reader_left(r) < n) {
        r->err = true;
        return false;
    }
    return true;
}

static inline uint8_t sl_rd_u8(sl_reader_t *r)
{
    if (!sl_reader_need(r, 1)) return 0;
    return *r->p++;
}

static inline uint16_t sl_rd_be16(sl_reader_t *r)
{
    if (!sl_reader_need(r, 2)) return 0;
    uint16_t x = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return x;
}

static inline uint32_t sl_rd_be24(sl_reader_t *r)
{
    if (!sl_reader_need(r, 3)) return 0;
    uint32_t x = (uint32_t)r->p[0] << 16 | (uint32_t)r->p[1] << 8 | r->p[2];
    r->p += 3;
    return x;
}

static inline uint32_t sl_rd_be32(sl_reader_t *r)
{
    if (!sl_reader_need(r, 4)) return 0;
    uint32_t x = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return x;
}

static inline uint32_t sl_rd_le32(sl_reader_t *r)
{
    if (!sl_reader_need(r, 4)) return 0;
    uint32_t x = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 | r->p[0];
    r->p += 4;
    return x;
}

static inline uint64_t sl_rd_be64(sl_reader_t *r)
{
    uint64_t hi = sl_rd_be32(r);
    return hi << 32 | sl_rd_be32(r);
}

/* Returns a pointer to the next n bytes and skips them, or NULL (err set). */
static inline const uint8_t *sl_rd_bytes(sl_reader_t *r, size_t n)
{
    if (!sl_reader_need(r, n)) return NULL;
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static inline void sl_wr_be16(uint8_t *p, uint16_t x) { p[0] = (uint8_t)(x >> 8); p[1] = (uint8_t)x; }
static inline void sl_wr_be24(uint8_t *p, uint32_t x) { p[0] = (uint8_t)(x >> 16); p[1] = (uint8_t)(x >> 8); p[2] = (uint8_t)x; }
static inline void sl_wr_be32(uint8_t *p, uint32_t x) { p[0] = (uint8_t)(x >> 24); p[1] = (uint8_t)(x >> 16); p[2] = (uint8_t)(x >> 8); p[3] = (uint8_t)x; }
static inline void sl_wr_le32(uint8_t *p, uint32_t x) { p[3] = (uint8_t)(x >> 24); p[2] = (uint8_t)(x >> 16); p[1] = (uint8_t)(x >> 8); p[0] = (uint8_t)x; }

#endif
