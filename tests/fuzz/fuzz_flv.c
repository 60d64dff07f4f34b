/* Fuzzes the FLV demuxer and tag parser, and checks that every frame they produce
 * survives frame -> FLV tag -> frame with the same timing, flags and payload. */
#include <stdlib.h>
#include <string.h>

#include "protocols/flv/flv.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

enum { MAX_TAG = 1 << 20 };

/* Re-encodes f as a file tag and parses that back. */
static void check_roundtrip(sl_frame_t *f, int64_t ts_ms)
{
    sl_buf_t *tag = sl_flv_frame_tag(f);
    CHECK(tag != NULL);
    CHECK(sl_flv_frame_tag(f) == tag);
    size_t body_len = sl_flv_frame_body_len(f);
    CHECK(tag->len == SL_FLV_TAG_HEADER_LEN + body_len + SL_FLV_PREV_SIZE_LEN);

    sl_bytes_t v;
    sl_bytes_init(&v);
    CHECK(sl_flv_frame_body(f, &v) == SL_OK);
    CHECK(v.len == body_len);
    CHECK(body_len == 0 || memcmp(v.data, tag->data + SL_FLV_TAG_HEADER_LEN, body_len) == 0);
    sl_bytes_free(&v);

    const uint8_t *p = tag->data;
    uint32_t ts = (uint32_t)p[7] << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
    CHECK(ts == (uint32_t)(ts_ms < 0 ? 0 : ts_ms));
    sl_frame_t *g = NULL;
    CHECK(sl_flv_tag_to_frame(p[0], ts, tag, p + SL_FLV_TAG_HEADER_LEN, body_len, &g) == SL_OK);
    CHECK(g != NULL);
    CHECK(g->media == f->media && g->codec == f->codec && g->flags == f->flags);
    CHECK(g->dts == SL_MS_TO_TS(ts));
    CHECK(g->pts - g->dts == f->pts - f->dts);
    CHECK(g->len == f->len && memcmp(g->data, f->data, f->len) == 0);
    sl_frame_unref(g);
}

static void parse_one(uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                      size_t len)
{
    sl_frame_t *f = (sl_frame_t *)1;
    int rc = sl_flv_tag_to_frame(tag_type, ts_ms, buf, body, len, &f);
    CHECK(rc == SL_OK || rc == SL_ERR_PROTO || rc == SL_ERR_UNSUPPORTED);
    if (rc != SL_OK) {
        CHECK(f == NULL);
        return;
    }
    if (f == NULL) return;
    CHECK(f->data >= body && f->data + f->len == body + len && f->len > 0);
    check_roundtrip(f, ts_ms);
    sl_frame_unref(f);
}

static int on_tag(void *arg, uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf,
                  const uint8_t *body, size_t len)
{
    CHECK(len <= MAX_TAG && body == buf->data && len == buf->len);
    parse_one(tag_type, ts_ms, buf, body, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_flv_demuxer_t d;
    sl_flv_demuxer_init(&d, MAX_TAG);
    int rc = sl_flv_demuxer_feed(&d, data, size, on_tag, NULL);
    CHECK(rc == SL_OK || rc == SL_ERR_PROTO || rc == SL_ERR_TOO_BIG);
    sl_flv_demuxer_free(&d);

    /* The input also as one bare tag body (an RTMP message): type byte, then body. */
    if (size >= 1) {
        static const uint8_t types[] = {SL_FLV_TAG_AUDIO, SL_FLV_TAG_VIDEO, SL_FLV_TAG_SCRIPT};
        sl_buf_t *b = sl_buf_from(data + 1, size - 1);
        CHECK(b != NULL);
        parse_one(types[data[0] % 3], data[0], b, b->data, b->len);
        sl_buf_unref(b);
    }
    return 0;
}
