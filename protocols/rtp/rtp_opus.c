#include "protocols/rtp/rtp_opus.h"

#include <string.h>

#define MAX_PAYLOAD (65535 - SL_RTP_HEADER_LEN) /* packets carry a 16-bit length prefix */

void sl_rtp_opus_head(uint8_t channels, uint8_t out[SL_OPUS_HEAD_LEN])
{
    static const uint8_t head[SL_OPUS_HEAD_LEN] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0, 0,
                                                   0x80, 0xbb, 0, 0, 0, 0, 0};
    memcpy(out, head, sizeof(head));
    out[9] = channels;
}

void sl_rtp_opus_packer_init(sl_rtp_opus_packer_t *p, uint8_t payload_type, uint32_t ssrc, uint16_t first_seq)
{
    p->payload_type = payload_type;
    p->ssrc = ssrc;
    p->seq = first_seq;
}

int sl_rtp_opus_packetize(sl_rtp_opus_packer_t *p, const sl_frame_t *f, sl_bytes_t *out)
{
    if (f->flags & SL_FRAME_CONFIG) return SL_OK;
    if (f->len == 0) return SL_ERR_PROTO;
    if (f->len > MAX_PAYLOAD) return SL_ERR_TOO_BIG;
    if (sl_bytes_reserve(out, 2 + SL_RTP_HEADER_LEN + f->len) != SL_OK) return SL_ERR_NOMEM;
    uint8_t *w = out->data + out->len;
    sl_wr_be16(w, (uint16_t)(SL_RTP_HEADER_LEN + f->len));
    sl_rtp_write_header(w + 2, false, p->payload_type, p->seq++, sl_rtp_ts_from_hub(f->pts, SL_RTP_OPUS_RATE),
                        p->ssrc);
    memcpy(w + 2 + SL_RTP_HEADER_LEN, f->data, f->len);
    out->len += 2 + SL_RTP_HEADER_LEN + f->len;
    return SL_OK;
}

void sl_rtp_opus_depack_init(sl_rtp_opus_depack_t *d, int (*emit)(void *arg, sl_frame_t *f), void *arg)
{
    sl_rtp_clock_init(&d->clock, SL_RTP_OPUS_RATE);
    d->emit = emit;
    d->arg = arg;
    d->frames = 0;
}

int sl_rtp_opus_depack_push(sl_rtp_opus_depack_t *d, const sl_rtp_packet_t *pkt)
{
    if (pkt->payload_len == 0) return SL_OK;
    int64_t ts = sl_rtp_clock_to_hub(&d->clock, pkt->timestamp);
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, ts, ts, pkt->payload, pkt->payload_len);
    if (f == NULL) return SL_ERR_NOMEM;
    d->frames++;
    int rc = d->emit(d->arg, f);
    sl_frame_unref(f);
    return rc;
}
