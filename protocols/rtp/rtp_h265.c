#include "protocols/rtp/rtp_h265.h"

/* RFC 7798 4.4.2 and 4.4.3. */
#define H265_AP 48
#define H265_FU 49
/* FD_NUT: filler data, padding for constant bit rates, of no use once received. */
#define H265_NAL_FD 38

static int h265_type_of(uint8_t hdr0) { return sl_h265_nal_type(hdr0); }

/* The type sits between the F bit and the top bit of LayerId. */
static void h265_set_type(uint8_t *hdr, int type) { hdr[0] = (uint8_t)((hdr[0] & 0x81) | type << 1); }

static int layer_id(const uint8_t *hdr) { return (hdr[0] & 1) << 5 | hdr[1] >> 3; }

/* RFC 7798 4.4.2: F is the OR of the units' F bits, LayerId and TID the lowest. */
static void h265_ap_merge(uint8_t *ap, const uint8_t *nal)
{
    int f = (ap[0] | nal[0]) & 0x80;
    int lid = SL_MIN(layer_id(ap), layer_id(nal));
    int tid = SL_MIN(ap[1] & 7, nal[1] & 7);
    ap[0] = (uint8_t)(f | (ap[0] & 0x7e) | lid >> 5);
    ap[1] = (uint8_t)((lid & 0x1f) << 3 | tid);
}

static int h265_build_config(const sl_rtp_nal_depacketizer_t *d, sl_bytes_t *out)
{
    return sl_h265_build_config(d->ps[0], d->ps_len[0], d->ps[1], d->ps_len[1], d->ps[2], d->ps_len[2], out);
}

static int h265_set_config(sl_rtp_nal_packetizer_t *p, const uint8_t *rec, size_t len)
{
    sl_h265_config_t c;
    if (sl_h265_parse_config(rec, len, &c) != SL_OK) return SL_ERR_PROTO;
    const uint8_t *nal[3 * SL_H265_MAX_PS];
    size_t nal_len[3 * SL_H265_MAX_PS];
    int n = 0;
    const uint8_t *const *lists[] = {c.vps, c.sps, c.pps};
    const size_t *lens[] = {c.vps_len, c.sps_len, c.pps_len};
    const int counts[] = {c.vps_count, c.sps_count, c.pps_count};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < counts[k]; i++, n++) {
            nal[n] = lists[k][i];
            nal_len[n] = lens[k][i];
        }
    }
    return sl__rtp_nal_packetizer_set_ps(p, nal, nal_len, n);
}

static const sl__rtp_nal_fmt_t h265_fmt = {
    .codec = SL_CODEC_H265,
    .hdr_len = 2,
    .type_mask = 0x3f,
    .ap_type = H265_AP,
    .fu_type = H265_FU,
    .min_single = 0,
    .max_single = 47,
    .ps_count = 3,
    .ps_type = {SL_H265_NAL_VPS, SL_H265_NAL_SPS, SL_H265_NAL_PPS},
    .key_min = SL_H265_NAL_BLA_W_LP,
    .key_max = SL_H265_NAL_RSV_IRAP_23,
    .aud_type = SL_H265_NAL_AUD,
    .strip_mask = UINT64_C(1) << SL_H265_NAL_AUD | UINT64_C(1) << SL_H265_NAL_SEI_PREFIX |
                  UINT64_C(1) << SL_H265_NAL_SEI_SUFFIX | UINT64_C(1) << H265_NAL_FD,
    .type_of = h265_type_of,
    .set_type = h265_set_type,
    .ap_merge = h265_ap_merge,
    .build_config = h265_build_config,
    .set_config = h265_set_config,
};

void sl_rtp_h265_packetizer_init(sl_rtp_h265_packetizer_t *p, uint8_t pt, uint32_t ssrc, uint16_t first_seq,
                                 size_t mtu)
{
    sl__rtp_nal_packetizer_init(p, &h265_fmt, pt, ssrc, first_seq, mtu);
}

void sl_rtp_h265_packetizer_free(sl_rtp_h265_packetizer_t *p) { sl_bytes_free(&p->ps); }

int sl_rtp_h265_packetizer_set_config(sl_rtp_h265_packetizer_t *p, const sl_frame_t *config)
{
    return h265_set_config(p, config->data, config->len);
}

int sl_rtp_h265_packetize(sl_rtp_h265_packetizer_t *p, const sl_frame_t *f, sl_bytes_t *out)
{
    return sl__rtp_nal_packetize(p, f, out);
}

void sl_rtp_h265_depacketizer_init(sl_rtp_h265_depacketizer_t *d) { sl__rtp_nal_depacketizer_init(d, &h265_fmt); }

void sl_rtp_h265_depacketizer_free(sl_rtp_h265_depacketizer_t *d) { sl_bytes_free(&d->au); }

int sl_rtp_h265_depacketizer_set_sprop(sl_rtp_h265_depacketizer_t *d, const uint8_t *vps, size_t vps_len,
                                       const uint8_t *sps, size_t sps_len, const uint8_t *pps, size_t pps_len)
{
    const uint8_t *nal[] = {vps, sps, pps};
    const size_t len[] = {vps_len, sps_len, pps_len};
    return sl__rtp_nal_set_sprop(d, nal, len);
}

int sl_rtp_h265_depacketize(sl_rtp_h265_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit,
                            void *arg)
{
    return sl__rtp_nal_depacketize(d, pkt, emit, arg);
}
