#include "sluice/iobatch.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

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

#define MAX_IOV 1024 /* Linux's UIO_MAXIOV: a longer batch goes on through uv_write */

/* What uv_try_write does, as one sendmsg: writev on a socket also goes through
 * the file layer (position lock, iterator set-up), measurably dearer when a viewer
 * costs little else. Bytes written, or a libuv error. */
static ssize_t try_send(uv_stream_t *s, const uv_buf_t *iov, unsigned n)
{
    uv_os_fd_t fd;
    if (uv_stream_get_write_queue_size(s) != 0) return UV_EAGAIN; /* keep the order */
    if (uv_fileno((const uv_handle_t *)s, &fd) != 0) return uv_try_write(s, iov, n);
    /* uv_buf_t is laid out as struct iovec on Unix (libuv guarantees it). */
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = SL_MIN(n, (unsigned)MAX_IOV)};
    ssize_t sent;
    do sent = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent >= 0) return sent;
    return errno == EAGAIN || errno == EWOULDBLOCK ? UV_EAGAIN : uv_translate_sys_error(errno);
}

int sl_iov_write(uv_stream_t *s, uv_write_t *req, uv_buf_t *iov, unsigned n, uv_write_cb cb)
{
    ssize_t sent = try_send(s, iov, n);
    if (sent < 0 && sent != UV_EAGAIN) return (int)sent;
    size_t left = sent > 0 ? (size_t)sent : 0;
    while (n > 0 && left >= iov->len) {
        left -= iov->len;
        iov++;
        n--;
    }
    if (n == 0) return SL_IOV_WRITTEN;
    iov->base += left;
    iov->len -= left;
    int rc = uv_write(req, s, iov, n, cb);
    return rc < 0 ? rc : SL_IOV_QUEUED;
}
