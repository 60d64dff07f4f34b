/* A sample-rate converter for interleaved float PCM (44.1 kHz AAC to the 48 kHz of
 * Opus and back): band-limited interpolation with a windowed-sinc filter in
 * polyphase form, for any rational ratio of rates. I/O-free.
 *
 * Drift-free by construction: the position of every output sample is an exact
 * fraction of input samples, so after N input frames the converter has produced
 * floor(N * out_rate / in_rate) frames or one more, however long it runs (the first
 * `delay` of them lead in, see sl_resampler_delay); timestamps derived from frame
 * counts stay in step with the input's. */
#ifndef SLUICE_CODEC_RESAMPLE_H
#define SLUICE_CODEC_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/common.h"

typedef struct sl_resampler sl_resampler_t;

/* A converter from in_rate to out_rate (8000..192000 Hz each) for 1..8 interleaved
 * channels. SL_ERR_CONFIG for values out of range, or for rates whose ratio in
 * lowest terms has a term over 4096 (47999 to 48000: its exact filter table would
 * take megabytes; every usual media rate passes), SL_ERR_NOMEM. *out is owned by
 * the caller (sl_resampler_free), NULL on failure. Equal rates are allowed: frames
 * are copied. */
int sl_resampler_new(uint32_t in_rate, uint32_t out_rate, int channels, sl_resampler_t **out) SL_MUST_CHECK;
/* Consumes in[0 .. in_frames * channels) and appends the output frames it can make
 * to `out` as interleaved floats (out->len grows by frames * channels *
 * sizeof(float)); *made (if not NULL) gets the number of frames appended. SL_OK or
 * SL_ERR_NOMEM (out unchanged, the input not consumed). */
int sl_resampler_process(sl_resampler_t *r, const float *in, size_t in_frames, sl_bytes_t *out,
                         size_t *made) SL_MUST_CHECK;
/* The converter's delay, in output frames: output frame k is the input at time
 * (k - delay) / out_rate, so input frame i comes out at output frame
 * i * out_rate / in_rate + delay. 0 for equal rates, 34 for 44100 to 48000.
 * Constant for a converter. */
uint32_t sl_resampler_delay(const sl_resampler_t *r);
void sl_resampler_free(sl_resampler_t *r);

#endif
