#include "sluice/buf.h"

#include <assert.h>
#include <stdlib.h>

sl_buf_t *sl_buf_new(size_t cap)
{
    sl_buf_t *b = malloc(sizeof(*b) + cap);
    if (b == NULL) return NULL;
    b->refcnt = 1;
    b->len = 0;
    b->cap = cap;
    return b;
}

sl_buf_t *sl_buf_from(const void *data, size_t len)
{
    sl_buf_t *b = sl_buf_new(len);
    if (b == NULL) return NULL;
    if (len > 0) memcpy(b->data, data, len);
    b->len = len;
    return b;
}

sl_buf_t *sl_buf_ref(sl_buf_t *b)
{
    assert(b->refcnt > 0);
    b->refcnt++;
    return b;
}

void sl_buf_unref(sl_buf_t *b)
{
    if (b == NULL) return;
    assert(b->refcnt > 0);
    if (--b->refcnt == 0) free(b);
}

/* A vector's storage is laid out as an sl_buf_t (header, then the bytes), so
 * sl_bytes_to_buf hands it over without a copy: encoders build a frame's wire form
 * once and it becomes the shared buffer as it is. */
#define BUF_HEADER offsetof(sl_buf_t, data)

static sl_buf_t *storage_of(const sl_bytes_t *v) { return (sl_buf_t *)(v->data - BUF_HEADER); }

void sl_bytes_init(sl_bytes_t *v)
{
    v->data = NULL;
    v->len = v->cap = 0;
}

void sl_bytes_free(sl_bytes_t *v)
{
    if (v->data != NULL) free(storage_of(v));
    sl_bytes_init(v);
}

int sl_bytes_reserve(sl_bytes_t *v, size_t extra)
{
    if (v->cap - v->len >= extra) return SL_OK;
    if (extra > SIZE_MAX / 2 - v->len) return SL_ERR_NOMEM;
    size_t cap = v->cap ? v->cap : 64;
    while (cap - v->len < extra) cap *= 2;
    sl_buf_t *b = realloc(v->data != NULL ? storage_of(v) : NULL, BUF_HEADER + cap);
    if (b == NULL) return SL_ERR_NOMEM;
    v->data = b->data;
    v->cap = cap;
    return SL_OK;
}

int sl_bytes_append(sl_bytes_t *v, const void *data, size_t len)
{
    if (len == 0) return SL_OK;
    int rc = sl_bytes_reserve(v, len);
    if (rc != SL_OK) return rc;
    memcpy(v->data + v->len, data, len);
    v->len += len;
    return SL_OK;
}

int sl_bytes_put_u8(sl_bytes_t *v, uint8_t x) { return sl_bytes_append(v, &x, 1); }

int sl_bytes_put_be16(sl_bytes_t *v, uint16_t x)
{
    uint8_t b[2];
    sl_wr_be16(b, x);
    return sl_bytes_append(v, b, 2);
}

int sl_bytes_put_be24(sl_bytes_t *v, uint32_t x)
{
    uint8_t b[3];
    sl_wr_be24(b, x);
    return sl_bytes_append(v, b, 3);
}

int sl_bytes_put_be32(sl_bytes_t *v, uint32_t x)
{
    uint8_t b[4];
    sl_wr_be32(b, x);
    return sl_bytes_append(v, b, 4);
}

int sl_bytes_put_le32(sl_bytes_t *v, uint32_t x)
{
    uint8_t b[4];
    sl_wr_le32(b, x);
    return sl_bytes_append(v, b, 4);
}

int sl_bytes_put_be64(sl_bytes_t *v, uint64_t x)
{
    uint8_t b[8];
    sl_wr_be32(b, (uint32_t)(x >> 32));
    sl_wr_be32(b + 4, (uint32_t)x);
    return sl_bytes_append(v, b, 8);
}

sl_buf_t *sl_bytes_to_buf(sl_bytes_t *v)
{
    if (v->data == NULL) return sl_buf_new(0);
    sl_buf_t *b = storage_of(v);
    b->refcnt = 1;
    b->len = v->len;
    b->cap = v->cap;
    sl_bytes_init(v);
    return b;
}
