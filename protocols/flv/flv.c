#include "protocols/flv/flv.h"

#include <string.h>

/* Legacy video tag header: frame type (high nibble) | codec id (low nibble). */
enum {
    FLV_FRAME_KEY = 1,
    FLV_FRAME_INTER = 2,
    FLV_FRAME_COMMAND = 5, /* video info / command frame: no picture */
    FLV_CODEC_AVC = 7,
    FLV_CODEC_HEVC = 12,
    FLV_AVC_SEQ_HEADER = 0,
    FLV_AVC_NALU = 1,
    FLV_AVC_END_OF_SEQ = 2,
    FLV_SOUND_AAC = 10,
    FLV_AAC_SEQ_HEADER = 0,
    FLV_AAC_RAW = 1,
    FLV_VIDEO_PREFIX_LEN = 5,
    FLV_AUDIO_PREFIX_LEN = 2,
};

/* Enhanced RTMP v1 video: bit 7 of the first byte marks an ExVideoTagHeader. */
enum {
    EX_HEADER = 0x80,
    EX_SEQUENCE_START = 0,
    EX_CODED_FRAMES = 1,
    EX_SEQUENCE_END = 2,
    EX_CODED_FRAMES_X = 3,
    EX_METADATA = 4,
};

#define FOURCC(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* A tag timestamp beyond this is hostile: far past any real stream and close
 * enough to INT64_MAX / 90 that converting it to 90 kHz ticks, plus a composition
 * time, could overflow. */
#define FLV_MAX_TS_MS (INT64_MAX / (SL_CLOCK_HZ / 1000) / 4)

/* AMF0 strings as they start a script tag: marker 0x02, be16 length, bytes. */
static const uint8_t AMF_SET_DATA_FRAME[] = "\x02\x00\x0d@setDataFrame";
static const uint8_t AMF_ON_META_DATA[] = "\x02\x00\x0aonMetaData";
#define AMF_SET_DATA_FRAME_LEN (sizeof(AMF_SET_DATA_FRAME) - 1)
#define AMF_ON_META_DATA_LEN (sizeof(AMF_ON_META_DATA) - 1)

static int32_t sign_extend24(uint32_t x)
{
    return x & 0x800000 ? (int32_t)x - 0x1000000 : (int32_t)x;
}

static bool starts_with(const uint8_t *p, size_t len, const uint8_t *prefix, size_t n)
{
    return len >= n && memcmp(p, prefix, n) == 0;
}

/* The frame for payload body[off..len), or NULL (SL_OK) when it is empty: an empty
 * config or access unit has nothing a decoder could use. */
static int make_frame(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts_ms,
                      int64_t cts_ms, sl_buf_t *buf, const uint8_t *body, size_t len,
                      size_t off, sl_frame_t **out)
{
    if (off >= len) return SL_OK;
    *out = sl_frame_new(media, codec, flags, SL_MS_TO_TS(dts_ms), SL_MS_TO_TS(dts_ms + cts_ms),
                        buf, body + off, len - off);
    return *out != NULL ? SL_OK : SL_ERR_NOMEM;
}

static int enhanced_video_to_frame(int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                                   size_t len, sl_frame_t **out)
{
    sl_reader_t r;
    sl_reader_init(&r, body, len);
    uint8_t b0 = sl_rd_u8(&r);
    unsigned frame_type = (b0 >> 4) & 7, pkt_type = b0 & 0x0f;
    if (frame_type == FLV_FRAME_COMMAND || pkt_type == EX_SEQUENCE_END ||
        pkt_type == EX_METADATA)
        return SL_OK;
    /* MPEG2TSSequenceStart (5) and the v2 multitrack/ModEx types are not handled. */
    if (pkt_type > EX_METADATA) return SL_ERR_UNSUPPORTED;
    uint32_t fourcc = sl_rd_be32(&r);
    if (r.err) return SL_ERR_PROTO;
    sl_codec_t codec;
    if (fourcc == FOURCC('a', 'v', 'c', '1'))
        codec = SL_CODEC_H264;
    else if (fourcc == FOURCC('h', 'v', 'c', '1'))
        codec = SL_CODEC_H265;
    else
        return SL_ERR_UNSUPPORTED;
    if (pkt_type == EX_SEQUENCE_START)
        return make_frame(SL_MEDIA_VIDEO, codec, SL_FRAME_CONFIG, ts_ms, 0, buf, body, len,
                          len - sl_reader_left(&r), out);
    int32_t cts = 0;
    if (pkt_type == EX_CODED_FRAMES) cts = sign_extend24(sl_rd_be24(&r));
    if (r.err) return SL_ERR_PROTO;
    uint8_t flags = frame_type == FLV_FRAME_KEY ? SL_FRAME_KEY : 0;
    return make_frame(SL_MEDIA_VIDEO, codec, flags, ts_ms, cts, buf, body, len,
                      len - sl_reader_left(&r), out);
}

static int video_to_frame(int64_t ts_ms, sl_buf_t *buf, const uint8_t *body, size_t len,
                          sl_frame_t **out)
{
    if (body[0] & EX_HEADER) return enhanced_video_to_frame(ts_ms, buf, body, len, out);
    unsigned frame_type = body[0] >> 4, codec_id = body[0] & 0x0f;
    if (frame_type == FLV_FRAME_COMMAND) return SL_OK;
    sl_codec_t codec;
    if (codec_id == FLV_CODEC_AVC)
        codec = SL_CODEC_H264;
    else if (codec_id == FLV_CODEC_HEVC)
        codec = SL_CODEC_H265;
    else
        return SL_ERR_UNSUPPORTED;
    if (len < 2) return SL_ERR_PROTO;
    uint8_t pkt_type = body[1];
    /* Some muxers send end of sequence without the composition time. */
    if (pkt_type == FLV_AVC_END_OF_SEQ) return SL_OK;
    if (pkt_type != FLV_AVC_SEQ_HEADER && pkt_type != FLV_AVC_NALU) return SL_ERR_PROTO;
    if (len < FLV_VIDEO_PREFIX_LEN) return SL_ERR_PROTO;
    if (pkt_type == FLV_AVC_SEQ_HEADER)
        return make_frame(SL_MEDIA_VIDEO, codec, SL_FRAME_CONFIG, ts_ms, 0, buf, body, len,
                          FLV_VIDEO_PREFIX_LEN, out);
    sl_reader_t r;
    sl_reader_init(&r, body + 2, 3);
    int32_t cts = sign_extend24(sl_rd_be24(&r));
    uint8_t flags = frame_type == FLV_FRAME_KEY ? SL_FRAME_KEY : 0;
    return make_frame(SL_MEDIA_VIDEO, codec, flags, ts_ms, cts, buf, body, len,
                      FLV_VIDEO_PREFIX_LEN, out);
}

static int audio_to_frame(int64_t ts_ms, sl_buf_t *buf, const uint8_t *body, size_t len,
                          sl_frame_t **out)
{
    if (body[0] >> 4 != FLV_SOUND_AAC) return SL_ERR_UNSUPPORTED;
    if (len < FLV_AUDIO_PREFIX_LEN) return SL_ERR_PROTO;
    uint8_t flags;
    if (body[1] == FLV_AAC_SEQ_HEADER)
        flags = SL_FRAME_CONFIG;
    else if (body[1] == FLV_AAC_RAW)
        flags = 0;
    else
        return SL_ERR_PROTO;
    return make_frame(SL_MEDIA_AUDIO, SL_CODEC_AAC, flags, ts_ms, 0, buf, body, len,
                      FLV_AUDIO_PREFIX_LEN, out);
}

/* Only metadata is forwarded; RTMP publishers wrap it in "@setDataFrame", which
 * belongs to the publish command and not to what viewers receive. Other script
 * tags (onCuePoint, onTextData, ...) are dropped. */
static int script_to_frame(int64_t ts_ms, sl_buf_t *buf, const uint8_t *body, size_t len,
                           sl_frame_t **out)
{
    size_t off = 0;
    if (starts_with(body, len, AMF_SET_DATA_FRAME, AMF_SET_DATA_FRAME_LEN))
        off = AMF_SET_DATA_FRAME_LEN;
    if (!starts_with(body + off, len - off, AMF_ON_META_DATA, AMF_ON_META_DATA_LEN)) return SL_OK;
    return make_frame(SL_MEDIA_DATA, SL_CODEC_AMF0, 0, ts_ms, 0, buf, body, len, off, out);
}

int sl_flv_tag_to_frame(uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                        size_t len, sl_frame_t **out)
{
    *out = NULL;
    if (ts_ms > FLV_MAX_TS_MS || ts_ms < -FLV_MAX_TS_MS) return SL_ERR_PROTO;
    if (len == 0) return SL_OK;
    switch (tag_type) {
    case SL_FLV_TAG_VIDEO: return video_to_frame(ts_ms, buf, body, len, out);
    case SL_FLV_TAG_AUDIO: return audio_to_frame(ts_ms, buf, body, len, out);
    case SL_FLV_TAG_SCRIPT: return script_to_frame(ts_ms, buf, body, len, out);
    default: return SL_ERR_UNSUPPORTED;
    }
}

/* Writes the bytes that precede the payload in the frame's tag body into
 * prefix[0..5) and returns their count, or SL_ERR_UNSUPPORTED. */
static int body_prefix(const sl_frame_t *f, uint8_t prefix[FLV_VIDEO_PREFIX_LEN])
{
    bool config = f->flags & SL_FRAME_CONFIG;
    switch (f->codec) {
    case SL_CODEC_H264:
    case SL_CODEC_H265: {
        uint8_t codec_id = f->codec == SL_CODEC_H264 ? FLV_CODEC_AVC : FLV_CODEC_HEVC;
        /* Configs are written as key frames, as every muxer does. */
        bool key = config || (f->flags & SL_FRAME_KEY);
        /* Convert absolute times, not the delta, so the cts matches what a reader
         * gets by subtracting the tag's ms timestamp from the ms pts. */
        int64_t cts = config ? 0 : SL_TS_TO_MS(f->pts) - SL_TS_TO_MS(f->dts);
        cts = SL_MAX(SL_MIN(cts, 0x7fffff), -0x800000);
        prefix[0] = (uint8_t)((key ? FLV_FRAME_KEY : FLV_FRAME_INTER) << 4 | codec_id);
        prefix[1] = config ? FLV_AVC_SEQ_HEADER : FLV_AVC_NALU;
        sl_wr_be24(prefix + 2, (uint32_t)cts & 0xffffff);
        return FLV_VIDEO_PREFIX_LEN;
    }
    case SL_CODEC_AAC:
        /* AAC, 44 kHz, 16-bit, stereo: the fixed header the FLV spec asks for AAC. */
        prefix[0] = 0xaf;
        prefix[1] = config ? FLV_AAC_SEQ_HEADER : FLV_AAC_RAW;
        return FLV_AUDIO_PREFIX_LEN;
    case SL_CODEC_AMF0:
        return 0;
    default:
        return SL_ERR_UNSUPPORTED;
    }
}

static uint8_t tag_type_of(const sl_frame_t *f)
{
    switch (f->media) {
    case SL_MEDIA_VIDEO: return SL_FLV_TAG_VIDEO;
    case SL_MEDIA_AUDIO: return SL_FLV_TAG_AUDIO;
    default: return SL_FLV_TAG_SCRIPT;
    }
}

int sl_flv_frame_body(const sl_frame_t *f, sl_bytes_t *out)
{
    uint8_t prefix[FLV_VIDEO_PREFIX_LEN];
    int n = body_prefix(f, prefix);
    if (n < 0) return n;
    int rc = sl_bytes_reserve(out, (size_t)n + f->len);
    if (rc != SL_OK) return rc;
    /* Cannot fail after the reserve. */
    rc = sl_bytes_append(out, prefix, (size_t)n);
    if (rc == SL_OK) rc = sl_bytes_append(out, f->data, f->len);
    return rc;
}

size_t sl_flv_frame_body_len(const sl_frame_t *f)
{
    uint8_t prefix[FLV_VIDEO_PREFIX_LEN];
    int n = body_prefix(f, prefix);
    return n < 0 ? 0 : (size_t)n + f->len;
}

sl_buf_t *sl_flv_frame_tag(sl_frame_t *f)
{
    sl_buf_t *tag = sl_frame_enc_get(f, SL_ENC_FLV_TAG, 0);
    if (tag != NULL) return tag;
    uint8_t prefix[FLV_VIDEO_PREFIX_LEN];
    int n = body_prefix(f, prefix);
    if (n < 0) return NULL;
    size_t body_len = (size_t)n + f->len;
    if (body_len > 0xffffff) return NULL;
    size_t total = SL_FLV_TAG_HEADER_LEN + body_len + SL_FLV_PREV_SIZE_LEN;
    tag = sl_buf_new(total);
    if (tag == NULL) return NULL;
    uint8_t *p = tag->data;
    /* FLV timestamps are 32-bit ms that wrap; readers unwrap them. */
    uint32_t ts = (uint32_t)SL_MAX(SL_TS_TO_MS(f->dts), 0);
    p[0] = tag_type_of(f);
    sl_wr_be24(p + 1, (uint32_t)body_len);
    sl_wr_be24(p + 4, ts & 0xffffff);
    p[7] = (uint8_t)(ts >> 24);
    sl_wr_be24(p + 8, 0);
    memcpy(p + SL_FLV_TAG_HEADER_LEN, prefix, (size_t)n);
    if (f->len > 0) memcpy(p + SL_FLV_TAG_HEADER_LEN + n, f->data, f->len);
    sl_wr_be32(p + SL_FLV_TAG_HEADER_LEN + body_len, (uint32_t)(SL_FLV_TAG_HEADER_LEN + body_len));
    tag->len = total;
    return sl_frame_enc_set(f, SL_ENC_FLV_TAG, 0, tag);
}

void sl_flv_file_header(uint8_t out[SL_FLV_FILE_HEADER_LEN], bool has_audio, bool has_video)
{
    out[0] = 'F';
    out[1] = 'L';
    out[2] = 'V';
    out[3] = 1;
    out[4] = (uint8_t)((has_audio ? 4 : 0) | (has_video ? 1 : 0));
    sl_wr_be32(out + 5, 9);
    sl_wr_be32(out + 9, 0);
}

/* ---- streaming demuxer ---- */

/* What the demuxer is reading. The stream is: file header, then repeatedly a
 * PreviousTagSize, a tag header and a body. The PreviousTagSize values are not
 * checked: some muxers get them wrong and nothing depends on them when reading
 * forward. */
enum {
    ST_FILE_HEADER = 0,
    ST_PREV_SIZE,
    ST_TAG_HEADER,
    ST_BODY, /* filling d->body */
    ST_SKIP, /* discarding the body of a tag type we do not use */
};

enum { FLV_HEADER_LEN = 9 };

void sl_flv_demuxer_init(sl_flv_demuxer_t *d, uint32_t max_tag_bytes)
{
    memset(d, 0, sizeof(*d));
    d->max_tag_bytes = max_tag_bytes;
    d->state = ST_FILE_HEADER;
}

void sl_flv_demuxer_free(sl_flv_demuxer_t *d)
{
    sl_buf_unref(d->body);
    d->body = NULL;
}

static size_t want_of(uint8_t state)
{
    switch (state) {
    case ST_FILE_HEADER: return FLV_HEADER_LEN;
    case ST_PREV_SIZE: return SL_FLV_PREV_SIZE_LEN;
    default: return SL_FLV_TAG_HEADER_LEN;
    }
}

/* Turns a 32-bit tag timestamp into 64-bit ms. The signed difference to the
 * previous tag tells a wrap (a big step back that is really a small step forward)
 * from the small steps back of interleaved audio and video. */
static int64_t unwrap_ts(sl_flv_demuxer_t *d, uint32_t ts)
{
    if (!d->ts_started) {
        d->ts_started = true;
        d->last_ts = ts;
    } else {
        uint32_t delta = ts - d->last_ts32;
        d->last_ts += delta < 0x80000000u ? (int64_t)delta : (int64_t)delta - 0x100000000;
    }
    d->last_ts32 = ts;
    return d->last_ts;
}

static int check_file_header(const uint8_t *h)
{
    sl_reader_t r;
    sl_reader_init(&r, h, FLV_HEADER_LEN);
    const uint8_t *sig = sl_rd_bytes(&r, 3);
    uint8_t version = sl_rd_u8(&r);
    (void)sl_rd_u8(&r); /* flags: often wrong, the tags tell what is there */
    uint32_t header_size = sl_rd_be32(&r);
    if (r.err || memcmp(sig, "FLV", 3) != 0 || version != 1 || header_size != FLV_HEADER_LEN)
        return SL_ERR_PROTO;
    return SL_OK;
}

static int deliver(sl_flv_demuxer_t *d, sl_flv_tag_fn on_tag, void *arg)
{
    sl_reader_t r;
    sl_reader_init(&r, d->hdr + 4, 4);
    uint32_t ts = sl_rd_be24(&r);
    ts |= (uint32_t)sl_rd_u8(&r) << 24;
    int rc = on_tag(arg, d->tag_type, unwrap_ts(d, ts), d->body, d->body->data, d->body->len);
    sl_buf_unref(d->body);
    d->body = NULL;
    d->state = ST_PREV_SIZE;
    return rc;
}

/* A tag header is complete: decide whether to read, skip or refuse its body. */
static int start_body(sl_flv_demuxer_t *d, sl_flv_tag_fn on_tag, void *arg)
{
    d->tag_type = d->hdr[0];
    d->body_len = (size_t)d->hdr[1] << 16 | (size_t)d->hdr[2] << 8 | d->hdr[3];
    d->have = 0;
    if (d->body_len > d->max_tag_bytes) return SL_ERR_TOO_BIG;
    bool wanted = d->tag_type == SL_FLV_TAG_AUDIO || d->tag_type == SL_FLV_TAG_VIDEO ||
                  d->tag_type == SL_FLV_TAG_SCRIPT;
    if (!wanted) {
        d->state = d->body_len > 0 ? ST_SKIP : ST_PREV_SIZE;
        return SL_OK;
    }
    d->body = sl_buf_new(d->body_len);
    if (d->body == NULL) return SL_ERR_NOMEM;
    d->state = ST_BODY;
    /* An empty body is complete now; waiting for more input would delay it. */
    return d->body_len == 0 ? deliver(d, on_tag, arg) : SL_OK;
}

/* Collects a fixed-size header into d->hdr and acts on it once complete. Sets
 * *used to the bytes consumed; returns SL_OK or an error. */
static int feed_header(sl_flv_demuxer_t *d, const uint8_t *data, size_t len, size_t *used,
                       sl_flv_tag_fn on_tag, void *arg)
{
    size_t want = want_of(d->state);
    size_t n = SL_MIN(want - d->have, len);
    memcpy(d->hdr + d->have, data, n);
    d->have += n;
    *used = n;
    if (d->have < want) return SL_OK;
    d->have = 0;
    switch (d->state) {
    case ST_FILE_HEADER: {
        int rc = check_file_header(d->hdr);
        d->state = ST_PREV_SIZE;
        return rc;
    }
    case ST_PREV_SIZE:
        d->state = ST_TAG_HEADER;
        return SL_OK;
    default:
        return start_body(d, on_tag, arg);
    }
}

/* Copies (or skips) body bytes and delivers the tag once complete. Sets *used to
 * the bytes consumed. */
static int feed_body(sl_flv_demuxer_t *d, const uint8_t *data, size_t len, size_t *used,
                     sl_flv_tag_fn on_tag, void *arg)
{
    size_t n = SL_MIN(d->body_len - d->have, len);
    if (d->state == ST_BODY) {
        memcpy(d->body->data + d->have, data, n);
        d->body->len += n;
    }
    d->have += n;
    *used = n;
    if (d->have < d->body_len) return SL_OK;
    d->have = 0;
    if (d->state == ST_SKIP) {
        d->state = ST_PREV_SIZE;
        return SL_OK;
    }
    return deliver(d, on_tag, arg);
}

int sl_flv_demuxer_feed(sl_flv_demuxer_t *d, const uint8_t *data, size_t len,
                        sl_flv_tag_fn on_tag, void *arg)
{
    while (d->err == SL_OK && len > 0) {
        size_t used = 0;
        if (d->state == ST_BODY || d->state == ST_SKIP)
            d->err = feed_body(d, data, len, &used, on_tag, arg);
        else
            d->err = feed_header(d, data, len, &used, on_tag, arg);
        data += used;
        len -= used;
    }
    return d->err;
}

int sl_flv_aggregate_foreach(sl_buf_t *buf, const uint8_t *body, size_t len, int64_t ts_ms, sl_flv_tag_fn fn,
                             void *arg)
{
    sl_reader_t r;
    sl_reader_init(&r, body, len);
    int64_t shift = 0;
    bool first = true;
    while (sl_reader_left(&r) > 0) {
        uint8_t type = sl_rd_u8(&r);
        uint32_t size = sl_rd_be24(&r);
        uint32_t ts = sl_rd_be24(&r);
        ts |= (uint32_t)sl_rd_u8(&r) << 24;
        sl_rd_be24(&r); /* stream id */
        const uint8_t *tag = sl_rd_bytes(&r, size);
        sl_rd_be32(&r); /* previous tag size */
        if (r.err) return SL_ERR_PROTO;
        if (first) shift = ts_ms - ts;
        first = false;
        if (type != SL_FLV_TAG_AUDIO && type != SL_FLV_TAG_VIDEO && type != SL_FLV_TAG_SCRIPT) continue;
        int rc = fn(arg, type, shift + ts, buf, tag, size);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}
