/* What a stream's codec config says about it, for the API and the logs: the
 * profile, level and picture size of H.264/H.265, the sample rate and channels of
 * AAC/Opus. I/O-free. */
#ifndef SLUICE_PROTOCOLS_CODEC_INFO_H
#define SLUICE_PROTOCOLS_CODEC_INFO_H

#include "sluice/frame.h"

typedef struct sl_codec_info {
    const char *codec;   /* sl_codec_name: "h264", "aac", ... */
    const char *profile; /* "High", "Main", "LC", ...; NULL when unknown */
    double level;        /* 3.1 for H.264 level_idc 31 and H.265 level_idc 93; 0 when unknown */
    int width, height;   /* video: displayed size; 0 when unknown */
    double fps;          /* video: declared in the SPS (VUI), 0 when absent */
    int sample_rate, channels; /* audio */
} sl_codec_info_t;

/* Describes a CONFIG frame (borrowed). Fields a malformed or partial config does
 * not give stay 0/NULL; the codec name is always set. */
void sl_codec_info_of(const sl_frame_t *config, sl_codec_info_t *out);

#endif
