/* One audio transcoder: frames of the publisher's codec in, frames of the other
 * codec out (Opus to AAC, AAC to Opus), decoded, converted to the output's rate and
 * channels, buffered to the output codec's frame size and encoded. No I/O, no loop:
 * the server's glue (protocols/transcode/transcode.c) feeds it from a hub
 * subscriber and pushes what it makes into the same stream.
 *
 * Timestamps: the output clock is anchored on the first input frame's pts and
 * advances by the samples encoded (exact integer arithmetic in 90 kHz units, so no
 * drift over hours); when an input frame's pts departs from where the samples fed so
 * far put it by more than SL_TRANSCODER_RESYNC_MS (a gap: packet loss, a publisher
 * that paused), the buffered samples are flushed and the clock re-anchored on it. */
#ifndef SLUICE_TRANSCODE_TRANSCODER_H
#define SLUICE_TRANSCODE_TRANSCODER_H

#include "sluice/frame.h"

#define SL_TRANSCODER_RESYNC_MS 100

typedef struct sl_transcoder sl_transcoder_t;

typedef struct sl_transcoder_cfg {
    sl_codec_t to;        /* SL_CODEC_AAC or SL_CODEC_OPUS; the input is the other one */
    uint32_t bitrate;     /* bits per second of the output, e.g. 64000 (Opus), 128000 (AAC) */
} sl_transcoder_cfg_t;

/* Called for every frame made: f is borrowed for the call (sl_frame_ref to keep);
 * a non-zero return stops sl_transcoder_push and is returned by it. */
typedef int (*sl_transcoder_emit_fn)(void *arg, sl_frame_t *f);

/* A transcoder for a stream whose audio config is `source_config` (an AAC
 * AudioSpecificConfig or an OpusHead config frame, only read). The output: AAC-LC at
 * the source's rate when it is one AAC takes (48 kHz from Opus), same channels (1 or
 * 2; more are downmixed to 2); Opus at 48 kHz, same channels (1 or 2). SL_ERR_CONFIG
 * for codecs that are not Opus/AAC or equal, an unreadable config; SL_ERR_UNSUPPORTED
 * when a codec library refuses; SL_ERR_NOMEM. */
int sl_transcoder_new(const sl_transcoder_cfg_t *cfg, const sl_frame_t *source_config,
                      sl_transcoder_t **out) SL_MUST_CHECK;
/* The output's config frame (an AudioSpecificConfig from the AAC encoder's real
 * parameters, or an OpusHead), flagged SL_FRAME_CONFIG | SL_FRAME_DERIVED: borrowed,
 * valid until free; push it before the first frame. */
sl_frame_t *sl_transcoder_config(const sl_transcoder_t *t);
/* Feeds one audio frame of the source codec (configs and other media are ignored;
 * f only read) and emits the output frames now complete, flagged SL_FRAME_DERIVED
 * (AAC frames raw, as in FLV and the hub; Opus packets as in RTP). A frame the
 * decoder cannot read is skipped (the gap resyncs). SL_OK, emit's error,
 * SL_ERR_NOMEM. */
int sl_transcoder_push(sl_transcoder_t *t, const sl_frame_t *f, sl_transcoder_emit_fn emit, void *arg) SL_MUST_CHECK;
/* Time spent in push so far, for the glue's log and the benchmark (ns). */
uint64_t sl_transcoder_busy_ns(const sl_transcoder_t *t);
void sl_transcoder_free(sl_transcoder_t *t);

#endif
