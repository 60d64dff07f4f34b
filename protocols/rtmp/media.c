/* RTMP media: received audio/video/data messages become frames of the published
 * stream; frames become chunked messages shared by every RTMP player. */
#include "protocols/flv/flv.h"
#include "protocols/rtmp/message.h"
#include "protocols/rtmp/session.h"
#include "sluice/log.h"

static int push_tag(void *arg, uint8_t type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                    size_t len)
{
    rtmp_session_t *s = arg;
    sl_frame_t *f = NULL;
    int rc = sl_flv_tag_to_frame(type, ts_ms, buf, body, len, &f);
    if (rc == SL_ERR_UNSUPPORTED) {
        if (!s->warned_codec)
            SL_WARN("client %llu rtmp %s: unsupported codec in a %s message, dropping those",
                    (unsigned long long)s->id, s->key, type == SL_FLV_TAG_AUDIO ? "audio" : "video");
        s->warned_codec = true;
        return SL_OK;
    }
    if (rc != SL_OK || f == NULL) return rc;
    rc = sl_stream_push(s->stream, f, uv_now(s->srv->loop));
    sl_frame_unref(f);
    return rc;
}


int sl__rtmp_publish_message(rtmp_session_t *s, const sl_rtmp_msg_t *m)
{
    int64_t ts_ms = sl_rtmp_clock_unwrap(&s->clock, m->timestamp);
    switch (m->type) {
    case SL_RTMP_MSG_AUDIO: return push_tag(s, SL_FLV_TAG_AUDIO, ts_ms, m->body, m->body->data, m->body->len);
    case SL_RTMP_MSG_VIDEO: return push_tag(s, SL_FLV_TAG_VIDEO, ts_ms, m->body, m->body->data, m->body->len);
    case SL_RTMP_MSG_DATA_AMF0:
        return push_tag(s, SL_FLV_TAG_SCRIPT, ts_ms, m->body, m->body->data, m->body->len);
    case SL_RTMP_MSG_AGGREGATE:
        return sl_flv_aggregate_foreach(m->body, m->body->data, m->body->len, ts_ms, push_tag, s);
    default: return SL_OK;
    }
}

static uint8_t message_type(const sl_frame_t *f)
{
    switch (f->media) {
    case SL_MEDIA_VIDEO: return SL_RTMP_MSG_VIDEO;
    case SL_MEDIA_AUDIO: return SL_RTMP_MSG_AUDIO;
    default: return SL_RTMP_MSG_DATA_AMF0;
    }
}

static uint32_t chunk_stream(const sl_frame_t *f)
{
    switch (f->media) {
    case SL_MEDIA_VIDEO: return SL_RTMP_CSID_VIDEO;
    case SL_MEDIA_AUDIO: return SL_RTMP_CSID_AUDIO;
    default: return SL_RTMP_CSID_DATA;
    }
}

sl_buf_t *sl__rtmp_frame_message(sl_frame_t *f, uint32_t chunk_size)
{
    sl_buf_t *msg = sl_frame_enc_get(f, SL_ENC_RTMP, chunk_size);
    if (msg != NULL) return msg;
    /* The message body is the FLV tag body: share the tag's encoding work. */
    sl_buf_t *tag = sl_flv_frame_tag(f);
    if (tag == NULL) return NULL;
    const uint8_t *body = tag->data + SL_FLV_TAG_HEADER_LEN;
    size_t len = tag->len - SL_FLV_TAG_HEADER_LEN - SL_FLV_PREV_SIZE_LEN;
    /* Every message gets a full (fmt 0) header with its absolute timestamp, so the
     * same bytes are right for every player whenever it joined. */
    uint32_t ts = (uint32_t)SL_MAX(SL_TS_TO_MS(f->dts), 0);
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_bytes_reserve(&out, sl_rtmp_chunk_bound(len, chunk_size)) != SL_OK ||
        sl_rtmp_chunk_write(&out, chunk_stream(f), message_type(f), SL_RTMP_STREAM_ID, ts, body, len, chunk_size) !=
            SL_OK) {
        sl_bytes_free(&out);
        return NULL;
    }
    msg = sl_bytes_to_buf(&out);
    sl_bytes_free(&out);
    if (msg == NULL) return NULL;
    return sl_frame_enc_set(f, SL_ENC_RTMP, chunk_size, msg);
}
