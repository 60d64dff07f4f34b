#include "protocols/codec/aac.h"

#include <string.h>

#include "protocols/codec/bits.h"
#include "sluice/buf.h"

#define RATE_INDEX_EXPLICIT 15
#define MAX_ADTS_FRAME 8191 /* 13-bit aac_frame_length */

static const int sample_rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                     22050, 16000, 12000, 11025, 8000,  7350};

/* Channels per channelConfiguration (ISO 14496-3 table 1.19); -1 is reserved. */
static const int config_channels[16] = {0, 1, 2, 3, 4, 5, 6, 8, -1, -1, -1, 7, 8, 24, 8, -1};

static int read_object_type(sl_bits_t *b)
{
    int type = (int)sl_bits_read(b, 5);
    if (type == 31) type = 32 + (int)sl_bits_read(b, 6); /* audioObjectTypeExt */
    if (type == 0) b->err = true;
    return type;
}

static void read_sample_rate(sl_bits_t *b, int *rate, int *index)
{
    *index = (int)sl_bits_read(b, 4);
    if (*index == RATE_INDEX_EXPLICIT) {
        *rate = (int)sl_bits_read(b, 24);
        if (*rate == 0) b->err = true;
        for (int i = 0; i < (int)SL_ARRAY_SIZE(sample_rates); i++) {
            if (sample_rates[i] == *rate) *index = i;
        }
    } else if (*index < (int)SL_ARRAY_SIZE(sample_rates)) {
        *rate = sample_rates[*index];
    } else {
        b->err = true;
    }
}

int sl_aac_parse_config(const uint8_t *asc, size_t len, sl_aac_config_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 2) return SL_ERR_PROTO; /* also keeps NULL + 0 out of the reader */
    sl_bits_t b;
    sl_bits_init(&b, asc, len, false);
    out->object_type = read_object_type(&b);
    read_sample_rate(&b, &out->sample_rate, &out->sample_rate_index);
    out->channels = config_channels[sl_bits_read(&b, 4)];
    if (out->channels < 0) return SL_ERR_PROTO;
    if (out->object_type == SL_AAC_SBR || out->object_type == SL_AAC_PS) {
        /* Explicit hierarchical signalling: the output rate, then the core coder. */
        int ext_index;
        out->ext_object_type = out->object_type;
        read_sample_rate(&b, &out->ext_sample_rate, &ext_index);
        out->object_type = read_object_type(&b);
        if (out->object_type == SL_AAC_SBR || out->object_type == SL_AAC_PS) return SL_ERR_PROTO;
    }
    return b.err ? SL_ERR_PROTO : SL_OK;
}

/* The channelConfiguration below `limit` for a channel count, or -1. */
static int channel_config(int channels, int limit)
{
    for (int c = 0; c < limit; c++) {
        if (config_channels[c] == channels) return c;
    }
    return -1;
}

int sl_aac_build_config(const sl_aac_config_t *cfg, uint8_t out[2])
{
    int chan = channel_config(cfg->channels, 16);
    if (cfg->object_type < 1 || cfg->object_type >= 31 || cfg->sample_rate_index < 0 ||
        cfg->sample_rate_index >= (int)SL_ARRAY_SIZE(sample_rates) || chan < 1)
        return SL_ERR_UNSUPPORTED;
    /* GASpecificConfig: 1024-sample frames, no core coder, no extension flag (all 0). */
    sl_wr_be16(out, (uint16_t)(cfg->object_type << 11 | cfg->sample_rate_index << 7 | chan << 3));
    return SL_OK;
}

int sl_aac_adts_header(const sl_aac_config_t *cfg, size_t frame_len, uint8_t out[SL_AAC_ADTS_HEADER_LEN])
{
    int chan = channel_config(cfg->channels, 8);
    if (cfg->object_type < 1 || cfg->object_type > 4 || cfg->sample_rate_index < 0 ||
        cfg->sample_rate_index >= (int)SL_ARRAY_SIZE(sample_rates) || chan < 0)
        return SL_ERR_UNSUPPORTED;
    if (frame_len > MAX_ADTS_FRAME - SL_AAC_ADTS_HEADER_LEN) return SL_ERR_TOO_BIG;
    unsigned len = (unsigned)frame_len + SL_AAC_ADTS_HEADER_LEN;
    out[0] = 0xff;
    out[1] = 0xf1; /* syncword end, MPEG-4, layer 0, protection_absent */
    out[2] = (uint8_t)((cfg->object_type - 1) << 6 | cfg->sample_rate_index << 2 | chan >> 2);
    out[3] = (uint8_t)((chan & 3) << 6 | len >> 11);
    out[4] = (uint8_t)(len >> 3);
    out[5] = (uint8_t)((len & 7) << 5 | 0x1f); /* buffer fullness 0x7ff: variable rate */
    out[6] = 0xfc;                             /* one raw data block */
    return SL_OK;
}

int sl_aac_parse_adts(const uint8_t *data, size_t len, sl_aac_config_t *cfg, size_t *header_len,
                      size_t *frame_len)
{
    if (len < SL_AAC_ADTS_HEADER_LEN) return SL_ERR_AGAIN;
    /* 12-bit syncword and layer 00; the MPEG-2/MPEG-4 ID bit may be either. */
    if (data[0] != 0xff || (data[1] & 0xf6) != 0xf0) return SL_ERR_PROTO;
    size_t hlen = (data[1] & 1) ? 7 : 9;
    int index = (data[2] >> 2) & 0xf;
    int chan = (data[2] & 1) << 2 | data[3] >> 6;
    size_t flen = (size_t)(data[3] & 3) << 11 | (size_t)data[4] << 3 | data[5] >> 5;
    if (index >= (int)SL_ARRAY_SIZE(sample_rates) || flen <= hlen) return SL_ERR_PROTO;
    if ((data[6] & 3) != 0) return SL_ERR_UNSUPPORTED;
    if (len < hlen) return SL_ERR_AGAIN;
    memset(cfg, 0, sizeof(*cfg));
    cfg->object_type = (data[2] >> 6) + 1;
    cfg->sample_rate_index = index;
    cfg->sample_rate = sample_rates[index];
    cfg->channels = config_channels[chan];
    *header_len = hlen;
    *frame_len = flen;
    return SL_OK;
}
