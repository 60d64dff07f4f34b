/* A batch of buffers for one vectored write: the iovecs and the references that keep
 * them alive until the write completes. Viewers gather every frame of a loop turn
 * into one batch, so shared encodings go to the socket without a copy. */
#ifndef SLUICE_IOBATCH_H
#define SLUICE_IOBATCH_H

#include <uv.h>

#include "sluice/buf.h"
#include "sluice/hub.h"

typedef struct sl_iobatch {
    uv_buf_t *iov;
    sl_buf_t **refs;
    size_t count, cap;
    size_t bytes;
} sl_iobatch_t;

/* An encoder of a frame for one wire format: returns a buffer owned by the frame's
 * cache (borrowed), or NULL when the format cannot carry the frame. */
typedef sl_buf_t *(*sl_frame_encoder_fn)(sl_frame_t *f, uint32_t param);

void sl_iobatch_init(sl_iobatch_t *b);
/* Adds data[0..len) of buf; takes a new reference on buf. */
int sl_iobatch_add(sl_iobatch_t *b, sl_buf_t *buf, const void *data, size_t len) SL_MUST_CHECK;
/* Adds a copy of small bytes (headers, command replies). */
int sl_iobatch_add_copy(sl_iobatch_t *b, const void *data, size_t len) SL_MUST_CHECK;
/* Takes every frame ready for sub, encoded by `encode`. Returns the number of
 * frames added, or SL_ERR_NOMEM. */
int sl_iobatch_take_frames(sl_iobatch_t *b, sl_subscriber_t *sub, sl_frame_encoder_fn encode,
                           uint32_t param) SL_MUST_CHECK;
/* Drops the references (after the write completed); the batch is reusable. */
void sl_iobatch_release(sl_iobatch_t *b);
void sl_iobatch_free(sl_iobatch_t *b);

/* Writes iov[0..n) to a socket. What it takes at once goes with uv_try_write: no
 * request, no callback on a later loop turn, no change of the poll set, which is
 * most of what a write costs a viewer beyond the kernel. Only a remainder goes
 * through uv_write(req, cb); iov is then adjusted in place. Returns SL_IOV_WRITTEN
 * (cb will not run), SL_IOV_QUEUED (cb will) or a libuv error. */
#define SL_IOV_WRITTEN 0
#define SL_IOV_QUEUED 1
int sl_iov_write(uv_stream_t *s, uv_write_t *req, uv_buf_t *iov, unsigned n, uv_write_cb cb) SL_MUST_CHECK;

#endif
