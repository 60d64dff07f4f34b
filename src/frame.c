#include "sluice/frame.h"

#include <assert.h>
#include <stdlib.h>

sl_frame_t *sl_frame_new(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts,
                         int64_t pts, sl_buf_t *buf, const uint8_t *data, size_t len)
{
    sl_frame_t *f = calloc(1, sizeof(*f));
    if (f == NULL) return NULL;
    f->refcnt = 1;
    f->media = (uint8_t)media;
    f->codec = (uint8_t)codec;
    f->flags = flags;
    f->dts = dts;
    f->pts = pts;
    f->buf = sl_buf_ref(buf);
    f->data = data;
    f->len = len;
    return f;
}

sl_frame_t *sl_frame_copy_of(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts,
                             int64_t pts, const void *data, size_t len)
{
    sl_buf_t *b = sl_buf_from(data, len);
    if (b == NULL) return NULL;
    sl_frame_t *f = sl_frame_new(media, codec, flags, dts, pts, b, b->data, len);
    sl_buf_unref(b);
    return f;
}

sl_frame_t *sl_frame_ref(sl_frame_t *f)
{
    assert(f->refcnt > 0);
    f->refcnt++;
    return f;
}

void sl_frame_unref(sl_frame_t *f)
{
    if (f == NULL) return;
    assert(f->refcnt > 0);
    if (--f->refcnt > 0) return;
    for (int i = 0; i < SL_ENC_COUNT; i++) sl_buf_unref(f->enc[i]);
    sl_buf_unref(f->buf);
    free(f);
}

sl_buf_t *sl_frame_enc_get(const sl_frame_t *f, sl_enc_kind_t kind, uint32_t param)
{
    if (f->enc[kind] == NULL || f->enc_param[kind] != param) return NULL;
    return f->enc[kind];
}

sl_buf_t *sl_frame_enc_set(sl_frame_t *f, sl_enc_kind_t kind, uint32_t param, sl_buf_t *enc)
{
    sl_buf_unref(f->enc[kind]);
    f->enc[kind] = enc;
    f->enc_param[kind] = param;
    return enc;
}

const char *sl_codec_name(sl_codec_t codec)
{
    switch (codec) {
    case SL_CODEC_H264: return "h264";
    case SL_CODEC_H265: return "h265";
    case SL_CODEC_AAC: return "aac";
    case SL_CODEC_OPUS: return "opus";
    case SL_CODEC_AMF0: return "amf0";
    default: return "none";
    }
}
