/* FLV: tag bodies <-> frames, FLV file tags, and a streaming FLV demuxer.
 *
 * FLV is used two ways: RTMP audio/video/data message bodies are exactly FLV tag
 * bodies; HTTP-FLV (and FLV files) are a 9-byte header, then tags (11-byte tag
 * header, body, 4-byte PreviousTagSize). Everything here is I/O-free.
 *
 * Video: legacy AVC (codec id 7), HEVC as codec id 12 (the convention of SRS,
 * nginx-rtmp forks and OBS plugins), and Enhanced RTMP v1 ('avc1', 'hvc1').
 * Audio: AAC. Data: AMF0 "onMetaData" (with or without "@setDataFrame").
 */
#ifndef SLUICE_PROTOCOLS_FLV_H
#define SLUICE_PROTOCOLS_FLV_H

#include <stdbool.h>

#include "sluice/frame.h"

enum { SL_FLV_TAG_AUDIO = 8, SL_FLV_TAG_VIDEO = 9, SL_FLV_TAG_SCRIPT = 18 };

enum {
    SL_FLV_FILE_HEADER_LEN = 13, /* 9-byte header + PreviousTagSize0 */
    SL_FLV_TAG_HEADER_LEN = 11,
    SL_FLV_PREV_SIZE_LEN = 4,
};

/* Turns one tag body (an RTMP message body, or the body of an FLV file tag) into a
 * frame. `body` must point into buf->data: the frame's payload is a slice of `buf`
 * (no copy) and the frame takes its own reference on buf; the caller keeps its own.
 * ts_ms is the tag's timestamp already unwrapped to 64 bits by the caller.
 * On success *out is a new frame (the caller owns one reference) or NULL for a tag
 * that carries nothing to forward (AVC end of sequence, a command/info frame, an
 * empty body, a script tag other than onMetaData / @setDataFrame onMetaData).
 * SL_ERR_UNSUPPORTED for other codecs, SL_ERR_PROTO for a truncated or malformed
 * body or an absurd timestamp, SL_ERR_NOMEM. *out is NULL on every error. */
int sl_flv_tag_to_frame(uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                        size_t len, sl_frame_t **out) SL_MUST_CHECK;

/* The tags of an RTMP aggregate message (body[0..len) inside buf): a run of FLV
 * tags (header, body, previous tag size) whose timestamps are shifted so that the
 * first equals ts_ms. Calls fn for each audio, video and script tag (others are
 * skipped) until fn returns non-zero, which is returned. SL_ERR_PROTO when the
 * run is truncated. */
typedef int (*sl_flv_tag_fn)(void *arg, uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                             size_t len);
int sl_flv_aggregate_foreach(sl_buf_t *buf, const uint8_t *body, size_t len, int64_t ts_ms, sl_flv_tag_fn fn,
                             void *arg) SL_MUST_CHECK;

/* Appends the tag body of a frame to `out` (video: 5-byte legacy header with codec
 * id 7 or 12, packet type 0 for CONFIG frames else 1, and the composition time
 * pts - dts in ms; audio AAC: 0xAF then 0 for CONFIG else 1; data: payload as is).
 * The frame is only read. SL_ERR_UNSUPPORTED for codecs FLV cannot carry (Opus),
 * SL_ERR_NOMEM (out keeps its old content). */
int sl_flv_frame_body(const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;
/* Exact length of what sl_flv_frame_body appends; 0 if unsupported. */
size_t sl_flv_frame_body_len(const sl_frame_t *f);

/* The frame as a complete FLV file tag: 11-byte header (type, body size, the dts in
 * ms as 24 bits + 8 extended bits, clamped at 0, stream id 0), body, 4-byte
 * PreviousTagSize = 11 + body size. Built once and cached on the frame
 * (SL_ENC_FLV_TAG, param 0), so every HTTP-FLV viewer of a stream shares it.
 * Returns a borrowed pointer (the frame owns it; take a reference to keep it past
 * the frame), NULL for an unsupported codec, a body over 2^24 - 1 bytes, or no
 * memory. */
sl_buf_t *sl_flv_frame_tag(sl_frame_t *f);

/* Writes the 13-byte start of an FLV stream: "FLV", version 1, flags (4 audio |
 * 1 video), header size 9, PreviousTagSize0 = 0. */
void sl_flv_file_header(uint8_t out[SL_FLV_FILE_HEADER_LEN], bool has_audio, bool has_video);

/* Called by the demuxer for each complete audio, video or script tag. `buf` is
 * borrowed for the call (take a reference to keep it); body points into buf->data.
 * ts_ms is unwrapped to 64 bits. A non-zero return stops the demuxer. */
typedef int (*sl_flv_tag_fn)(void *arg, uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf,
                             const uint8_t *body, size_t len);

/* A streaming FLV demuxer: the file header and tags may arrive in any split. */
typedef struct sl_flv_demuxer {
    uint32_t max_tag_bytes;
    int err;           /* sticky: once set, every feed returns it */
    uint8_t state;     /* internal step, see flv.c */
    uint8_t tag_type;  /* of the tag being read */
    uint8_t hdr[SL_FLV_TAG_HEADER_LEN]; /* file header, PreviousTagSize or tag header */
    size_t have;       /* bytes in hdr, or of the body read so far */
    size_t body_len;   /* declared size of the tag being read */
    sl_buf_t *body;    /* the body being filled; NULL while skipping a tag */
    bool ts_started;
    uint32_t last_ts32;
    int64_t last_ts;   /* unwrapped ms of the previous tag */
} sl_flv_demuxer_t;

/* Prepares a demuxer (embedded in its owner) that refuses tags whose body is over
 * max_tag_bytes. */
void sl_flv_demuxer_init(sl_flv_demuxer_t *d, uint32_t max_tag_bytes);
/* Releases the partial tag the demuxer may hold. The demuxer can be init'ed again. */
void sl_flv_demuxer_free(sl_flv_demuxer_t *d);
/* Consumes data[0..len) (only read; nothing is kept past the call but a partial tag
 * copied into the demuxer's own buffer), calling on_tag for every complete tag.
 * Tag types other than 8/9/18 are skipped. SL_ERR_PROTO for a bad signature,
 * version or header size, SL_ERR_TOO_BIG for a tag body over max_tag_bytes,
 * SL_ERR_NOMEM; a non-zero callback return stops and is returned. Errors are
 * sticky: the stream cannot be resynchronised, so the caller closes it. */
int sl_flv_demuxer_feed(sl_flv_demuxer_t *d, const uint8_t *data, size_t len,
                        sl_flv_tag_fn on_tag, void *arg) SL_MUST_CHECK;

#endif
