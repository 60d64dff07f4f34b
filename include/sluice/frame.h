/* sl_frame_t: one access unit travelling from an ingest session through the hub to
 * every viewer.
 *
 * Payload is canonical whatever the ingest protocol:
 *  - video: length-prefixed NAL units (4-byte big-endian lengths, AVCC style);
 *    a CONFIG frame carries the decoder configuration record instead
 *    (AVCDecoderConfigurationRecord / HEVCDecoderConfigurationRecord);
 *  - audio: one raw access unit (AAC without ADTS, an Opus packet);
 *    a CONFIG frame carries the AudioSpecificConfig;
 *  - data: an AMF0 "onMetaData" body (name string + ECMA array), no @setDataFrame.
 *
 * Timestamps are int64 in SL_CLOCK_HZ (90 kHz) ticks on one clock per stream.
 *
 * A frame is immutable once published, with one exception: `enc`, a cache of the
 * frame's wire encodings (FLV tag, RTMP chunked message). The first viewer that needs
 * an encoding builds it; every later viewer of that stream shares it by reference.
 * That cache is the "encode once, send many" of the architecture.
 */
#ifndef SLUICE_FRAME_H
#define SLUICE_FRAME_H

#include "sluice/buf.h"

#define SL_CLOCK_HZ 90000
#define SL_MS_TO_TS(ms) ((int64_t)(ms) * (SL_CLOCK_HZ / 1000))
#define SL_TS_TO_MS(ts) ((ts) / (SL_CLOCK_HZ / 1000))

typedef enum sl_media {
    SL_MEDIA_VIDEO = 0,
    SL_MEDIA_AUDIO = 1,
    SL_MEDIA_DATA = 2,
} sl_media_t;

typedef enum sl_codec {
    SL_CODEC_NONE = 0,
    SL_CODEC_H264,
    SL_CODEC_H265,
    SL_CODEC_AAC,
    SL_CODEC_OPUS,
    SL_CODEC_AMF0, /* data frames */
} sl_codec_t;

enum sl_frame_flags {
    SL_FRAME_KEY = 1 << 0,    /* video: a random access point (IDR / IRAP) */
    SL_FRAME_CONFIG = 1 << 1, /* payload is the codec configuration, not media */
    /* Audio the transcoder made from the publisher's, in another codec: the stream
     * then carries both, and each output takes the codec it can carry. */
    SL_FRAME_DERIVED = 1 << 2,
};

/* Cached wire encodings, indexed by kind. */
typedef enum sl_enc_kind {
    SL_ENC_FLV_TAG = 0, /* full FLV tag: 11-byte header, body, 4-byte previous size */
    SL_ENC_RTMP,        /* chunked RTMP message; enc_param = chunk size */
    SL_ENC_RTP,         /* length-prefixed RTP packets of the stream's RTSP output */
    SL_ENC_COUNT
} sl_enc_kind_t;

typedef struct sl_frame {
    uint32_t refcnt;
    uint8_t media; /* sl_media_t */
    uint8_t codec; /* sl_codec_t */
    uint8_t flags; /* sl_frame_flags */
    int64_t dts, pts;
    /* The payload is a slice of `buf`, so an ingest session can hand over the
     * buffer it assembled the message in without copying. */
    sl_buf_t *buf;
    const uint8_t *data;
    size_t len;
    sl_buf_t *enc[SL_ENC_COUNT];
    uint32_t enc_param[SL_ENC_COUNT];
} sl_frame_t;

/* A new frame whose payload is data[0..len), a slice of `buf`. Takes a new reference
 * on buf (the caller keeps its own). One frame reference is owned by the caller.
 * NULL when out of memory. */
sl_frame_t *sl_frame_new(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts,
                         int64_t pts, sl_buf_t *buf, const uint8_t *data, size_t len);
/* A new frame holding a private copy of data[0..len). */
sl_frame_t *sl_frame_copy_of(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts,
                             int64_t pts, const void *data, size_t len);
sl_frame_t *sl_frame_ref(sl_frame_t *f);
/* Drops a reference; the last one frees the payload reference and cached encodings. */
void sl_frame_unref(sl_frame_t *f);

/* The cached encoding of `kind` built with `param`, or NULL. Borrowed: take a
 * reference to keep it past the frame. */
sl_buf_t *sl_frame_enc_get(const sl_frame_t *f, sl_enc_kind_t kind, uint32_t param);
/* Stores an encoding (the frame takes over the caller's reference on `enc`),
 * replacing one built with another param. Returns enc, borrowed. */
sl_buf_t *sl_frame_enc_set(sl_frame_t *f, sl_enc_kind_t kind, uint32_t param, sl_buf_t *enc);

/* Codec names as used in logs and the API ("h264", "aac", ...). */
const char *sl_codec_name(sl_codec_t codec);

#endif
