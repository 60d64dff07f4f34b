#include "sluice/iobatch.h"

#include <stdlib.h>

void sl_iobatch_init(sl_iobatch_t *b) { memset(b, 0, sizeof(*b)); }

static int grow(sl_iobatch_t *b)
{
    size_t cap = b->cap ? b->cap * 2 : 16;
    uv_buf_t *iov = realloc(b->iov, cap * sizeof(*iov));
    if (iov == NULL) return SL_ERR_NOMEM;
    b->iov = iov;
    sl_buf_t **refs = realloc(b->refs, cap * sizeof(*refs));
    if (refs == NULL) return SL_ERR_NOMEM;
    b->refs = refs;
    b->cap = cap;
    return SL_OK;
}

int sl_iobatch_add(sl_iobatch_t *b, sl_buf_t *buf, const void *data, size_t len)
{
    if (b->count == b->cap && grow(b) != SL_OK) return SL_ERR_NOMEM;
    b->iov[b->count] = uv_buf_init((char *)data, (unsigned)len);
    b->refs[b->count] = sl_buf_ref(buf);
    b->count++;
    b->bytes += len;
    return SL_OK;
}

int sl_iobatch_add_copy(sl_iobatch_t *b, const void *data, size_t len)
{
    sl_buf_t *buf = sl_buf_from(data, len);
    if (buf == NULL) return SL_ERR_NOMEM;
    int rc = sl_iobatch_add(b, buf, buf->data, len);
    sl_buf_unref(buf);
    return rc;
}

int sl_iobatch_take_frames(sl_iobatch_t *b, sl_subscriber_t *sub, sl_frame_encoder_fn encode,
                           uint32_t param)
{
    int n = 0;
    sl_frame_t *f;
    while ((f = sl_subscriber_next(sub)) != NULL) {
        sl_buf_t *wire = encode(f, param);
        if (wire == NULL) continue;
        if (sl_iobatch_add(b, wire, wire->data, wire->len) != SL_OK) return SL_ERR_NOMEM;
        n++;
    }
    return n;
}

void sl_iobatch_release(sl_iobatch_t *b)
{
    for (size_t i = 0; i < b->count; i++) sl_buf_unref(b->refs[i]);
    b->count = 0;
    b->bytes = 0;
}

void sl_iobatch_free(sl_iobatch_t *b)
{
    sl_iobatch_release(b);
    free(b->iov);
    free(b->refs);
    sl_iobatch_init(b);
}
