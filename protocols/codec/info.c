#include "protocols/codec/info.h"

#include <string.h>

#include "protocols/codec/aac.h"
#include "protocols/codec/h264.h"
#include "protocols/codec/h265.h"

static void h264_info(const sl_frame_t *f, sl_codec_info_t *out)
{
    sl_h264_config_t c;
    sl_h264_sps_info_t sps;
    if (sl_h264_parse_config(f->data, f->len, &c) != SL_OK) return;
    out->profile = sl_h264_profile_name(c.profile);
    out->level = c.level / 10.0;
    if (c.sps_count > 0 && sl_h264_parse_sps(c.sps[0], c.sps_len[0], &sps) == SL_OK) {
        out->width = sps.width;
        out->height = sps.height;
        out->fps = sps.fps;
    }
}

static void h265_info(const sl_frame_t *f, sl_codec_info_t *out)
{
    sl_h265_config_t c;
    sl_h265_sps_info_t sps;
    if (sl_h265_parse_config(f->data, f->len, &c) != SL_OK) return;
    out->profile = sl_h265_profile_name(c.ptl.profile_idc);
    out->level = c.ptl.level_idc / 30.0;
    if (c.sps_count > 0 && sl_h265_parse_sps(c.sps[0], c.sps_len[0], &sps) == SL_OK) {
        out->width = sps.width;
        out->height = sps.height;
        out->fps = sps.fps;
    }
}

static const char *aac_profile(int object_type, int ext)
{
    if (ext == SL_AAC_PS) return "HE-AACv2";
    if (ext == SL_AAC_SBR) return "HE-AAC";
    switch (object_type) {
    case 1: return "Main";
    case 2: return "LC";
    case 3: return "SSR";
    case 4: return "LTP";
    default: return NULL;
    }
}

static void aac_info(const sl_frame_t *f, sl_codec_info_t *out)
{
    sl_aac_config_t c;
    if (sl_aac_parse_config(f->data, f->len, &c) != SL_OK) return;
    out->profile = aac_profile(c.object_type, c.ext_object_type);
    out->sample_rate = c.ext_sample_rate ? c.ext_sample_rate : c.sample_rate;
    out->channels = c.channels;
}

/* OpusHead (RFC 7845 5.1): channel count at byte 9; Opus always runs at 48 kHz. */
static void opus_info(const sl_frame_t *f, sl_codec_info_t *out)
{
    out->sample_rate = 48000;
    if (f->len >= 19 && memcmp(f->data, "OpusHead", 8) == 0) out->channels = f->data[9];
}

void sl_codec_info_of(const sl_frame_t *config, sl_codec_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->codec = sl_codec_name(config->codec);
    switch (config->codec) {
    case SL_CODEC_H264: h264_info(config, out); break;
    case SL_CODEC_H265: h265_info(config, out); break;
    case SL_CODEC_AAC: aac_info(config, out); break;
    case SL_CODEC_OPUS: opus_info(config, out); break;
    default: break;
    }
}
