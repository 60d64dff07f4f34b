/* One received RTP track: reorder buffer, depacketizer, receiver statistics and the
 * codec config of the SDP. Shared by the RTSP server (publishers) and the RTSP
 * client of the relay (cameras pulled). */
#include <stdlib.h>
#include <string.h>

#include "protocols/codec/h264.h"
#include "protocols/codec/h265.h"
#include "protocols/rtp/ingest.h"
#include "protocols/rtp/reorder.h"
#include "protocols/rtp/rtcp.h"
#include "protocols/rtp/rtp_aac.h"
#include "protocols/rtp/rtp_h264.h"
#include "protocols/rtp/rtp_h265.h"
#include "protocols/rtp/rtp_opus.h"

/* Reordering over UDP: how many packets, and how long a gap may hold them. */
#define REORDER_WINDOW 128
#define REORDER_DELAY_MS 300
/* The CNAME of our receiver reports. */
#define CNAME "sluice"

struct sl_rtp_ingest {
    sl_rtp_ingest_info_t info;
    sl_rtp_ingest_emit_fn emit;
    void *arg;
    sl_frame_t *config; /* from the SDP, or NULL */
    sl_rtcp_rx_stats_t rx;
    uint32_t source_ssrc; /* of the last packet, which our reports are about */
    /* The time of the push, poll or flush releasing packets, for the arrival times
     * of the jitter: the reorder buffer's callback has no clock of its own. */
    uint64_t now_ms;
    int emit_err; /* what emit returned during the current packet */
    sl_rtp_reorder_t reorder;
    union {
        sl_rtp_nal_depacketizer_t nal;
        sl_rtp_aac_depack_t aac;
        sl_rtp_opus_depack_t opus;
    } d;
};

/* Between the depacketizers and the caller's emit, to tell the caller's errors
 * (passed back) from a payload the depacketizer could not read (dropped). */
static int emit_frame(void *arg, sl_frame_t *f)
{
    sl_rtp_ingest_t *in = arg;
    in->emit_err = in->emit(in->arg, f);
    return in->emit_err;
}

/* A packet released in sequence order by the reorder buffer. */
static int depacketize(void *arg, sl_buf_t *pkt, uint32_t lost_before)
{
    sl_rtp_ingest_t *in = arg;
    sl_rtp_packet_t p;
    if (sl_rtp_parse(pkt->data, pkt->len, &p) != SL_OK || p.payload_type != in->info.pt) return SL_OK;
    in->source_ssrc = p.ssrc;
    (void)sl_rtcp_rx_packet(&in->rx, p.seq, p.timestamp, (uint32_t)(in->now_ms * in->info.clock / 1000));
    in->emit_err = SL_OK;
    int rc;
    switch (in->info.codec) {
    case SL_CODEC_H264: rc = sl_rtp_h264_depacketize(&in->d.nal, &p, emit_frame, in); break;
    case SL_CODEC_H265: rc = sl_rtp_h265_depacketize(&in->d.nal, &p, emit_frame, in); break;
    case SL_CODEC_AAC: rc = sl_rtp_aac_depack_push(&in->d.aac, &p); break;
    default: rc = sl_rtp_opus_depack_push(&in->d.opus, &p); break;
    }
    /* A payload the depacketizer cannot read is lost like a malformed packet; the
     * packets after it still go on. */
    return rc == SL_ERR_PROTO && in->emit_err == SL_OK ? SL_OK : rc;
}

/* The first parameter set of each kind found in the sprop values: [0] VPS (H.265),
 * [1] SPS, [2] PPS. */
typedef struct sprop {
    bool h265;
    const uint8_t *nal[3];
    size_t len[3];
} sprop_t;

static int keep_parameter_set(void *opaque, const uint8_t *nal, size_t len)
{
    static const int types[2][3] = {{-1, SL_H264_NAL_SPS, SL_H264_NAL_PPS},
                                    {SL_H265_NAL_VPS, SL_H265_NAL_SPS, SL_H265_NAL_PPS}};
    sprop_t *p = opaque;
    int type = p->h265 ? nal[0] >> 1 & 0x3f : nal[0] & 0x1f;
    for (int i = 0; i < 3; i++) {
        if (type == types[p->h265][i] && p->nal[i] == NULL) {
            p->nal[i] = nal;
            p->len[i] = len;
        }
    }
    return 0;
}

/* Gives the depacketizer the parameter sets of the fmtp (sprop-parameter-sets for
 * H.264, sprop-vps/sps/pps for H.265), so the first keyframe decodes even when the
 * sender sends them only in the SDP. A value that does not decode is left out: the
 * stream may still bring its sets in-band. SL_ERR_PROTO when the depacketizer refuses
 * a set (too long). */
static int set_sprop(sl_rtp_ingest_t *in, const sl_sdp_media_t *sm)
{
    static const char *const keys[2][3] = {{"sprop-parameter-sets"}, {"sprop-vps", "sprop-sps", "sprop-pps"}};
    bool h265 = in->info.codec == SL_CODEC_H265;
    sl_bytes_t units;
    sl_bytes_init(&units);
    for (int i = 0; i < 3 && keys[h265][i] != NULL; i++) {
        const char *v = sl_sdp_fmtp_get(sm, in->info.pt, keys[h265][i]);
        if (v != NULL && sl_sdp_sprop_decode(v, &units) == SL_ERR_NOMEM) {
            sl_bytes_free(&units);
            return SL_ERR_NOMEM;
        }
    }
    sprop_t p = {.h265 = h265};
    /* Each decoded value is well formed, so the walk sees every unit. */
    (void)sl_avcc_split(units.data, units.len, keep_parameter_set, &p);
    int rc = SL_OK;
    if (!h265 && p.nal[1] != NULL && p.nal[2] != NULL)
        rc = sl_rtp_h264_depacketizer_set_sprop(&in->d.nal, p.nal[1], p.len[1], p.nal[2], p.len[2]);
    else if (h265 && p.nal[0] != NULL && p.nal[1] != NULL && p.nal[2] != NULL)
        rc = sl_rtp_h265_depacketizer_set_sprop(&in->d.nal, p.nal[0], p.len[0], p.nal[1], p.len[1], p.nal[2],
                                                p.len[2]);
    sl_bytes_free(&units);
    return rc;
}

/* AAC (RFC 3640): the fmtp says how the AU headers are laid out; without one the
 * AAC-hbr defaults hold. */
static int init_aac(sl_rtp_ingest_t *in, const sl_sdp_media_t *sm)
{
    sl_rtp_aac_params_t params;
    sl_rtp_aac_params_default(&params);
    const sl_sdp_fmtp_t *fmtp = sl_sdp_fmtp_of(sm, in->info.pt);
    if (fmtp != NULL && sl_rtp_aac_parse_fmtp(fmtp->raw, strlen(fmtp->raw), &params) != SL_OK) return SL_ERR_PROTO;
    params.clock_rate = in->info.clock;
    return sl_rtp_aac_depack_init(&in->d.aac, &params, emit_frame, in);
}

static int init_depacketizer(sl_rtp_ingest_t *in, const sl_sdp_media_t *sm)
{
    switch (in->info.codec) {
    case SL_CODEC_H264: sl_rtp_h264_depacketizer_init(&in->d.nal); return set_sprop(in, sm);
    case SL_CODEC_H265: sl_rtp_h265_depacketizer_init(&in->d.nal); return set_sprop(in, sm);
    case SL_CODEC_AAC: return init_aac(in, sm);
    case SL_CODEC_OPUS: sl_rtp_opus_depack_init(&in->d.opus, emit_frame, in); return SL_OK;
    default: return SL_ERR_UNSUPPORTED;
    }
}

/* The CONFIG frame of the SDP's codec parameters, when it has any. */
static int make_config(sl_rtp_ingest_t *in, const sl_sdp_media_t *sm)
{
    sl_bytes_t config;
    sl_bytes_init(&config);
    sl_codec_t codec;
    int rc = sl_sdp_media_config(sm, in->info.pt, &codec, &config);
    if (rc == SL_OK && config.len > 0) {
        in->config = sl_frame_copy_of(in->info.media, in->info.codec, SL_FRAME_CONFIG, 0, 0, config.data, config.len);
        if (in->config == NULL) rc = SL_ERR_NOMEM;
    }
    sl_bytes_free(&config);
    /* Parameters missing or unusable leave the config to come in-band. */
    return rc == SL_ERR_NOMEM ? rc : SL_OK;
}

int sl_rtp_ingest_new(const sl_sdp_media_t *sm, sl_rtp_ingest_emit_fn emit, void *arg, sl_rtp_ingest_t **out)
{
    if (sm->pt_count == 0) return SL_ERR_UNSUPPORTED;
    uint8_t pt = sm->pts[0];
    const sl_sdp_rtpmap_t *map = sl_sdp_rtpmap_get(sm, pt);
    sl_codec_t codec = map != NULL ? sl_sdp_codec_of(map) : SL_CODEC_NONE;
    if (codec == SL_CODEC_NONE || map->clock == 0) return SL_ERR_UNSUPPORTED;
    sl_rtp_ingest_t *in = calloc(1, sizeof(*in));
    if (in == NULL) return SL_ERR_NOMEM;
    in->info = (sl_rtp_ingest_info_t){
        .media = codec == SL_CODEC_H264 || codec == SL_CODEC_H265 ? SL_MEDIA_VIDEO : SL_MEDIA_AUDIO,
        .codec = (uint8_t)codec,
        .pt = pt,
        .clock = map->clock,
    };
    in->emit = emit;
    in->arg = arg;
    sl_rtcp_rx_init(&in->rx);
    int rc = sl_rtp_reorder_init(&in->reorder, REORDER_WINDOW, REORDER_DELAY_MS, depacketize, in);
    if (rc != SL_OK) {
        free(in);
        return rc;
    }
    /* The depacketizers' free functions are safe on the zeroed union, so one free
     * undoes a partial setup. */
    rc = init_depacketizer(in, sm);
    if (rc == SL_OK) rc = make_config(in, sm);
    if (rc != SL_OK) {
        sl_rtp_ingest_free(in);
        return rc;
    }
    *out = in;
    return SL_OK;
}

void sl_rtp_ingest_free(sl_rtp_ingest_t *in)
{
    if (in == NULL) return;
    sl_rtp_reorder_free(&in->reorder);
    sl_frame_unref(in->config);
    if (in->info.codec == SL_CODEC_H264 || in->info.codec == SL_CODEC_H265) sl_rtp_h264_depacketizer_free(&in->d.nal);
    if (in->info.codec == SL_CODEC_AAC) sl_rtp_aac_depack_free(&in->d.aac);
    free(in);
}

const sl_rtp_ingest_info_t *sl_rtp_ingest_info(const sl_rtp_ingest_t *in) { return &in->info; }

sl_frame_t *sl_rtp_ingest_config(const sl_rtp_ingest_t *in) { return in->config; }

int sl_rtp_ingest_packet(sl_rtp_ingest_t *in, const uint8_t *data, size_t len, uint64_t now_ms)
{
    /* Not an RTP packet: dropped, not fatal, UDP brings all sorts. Checked here so
     * that the reorder buffer's SL_ERR_PROTO can only be emit's. */
    sl_rtp_packet_t p;
    if (sl_rtp_parse(data, len, &p) != SL_OK) return SL_OK;
    in->now_ms = now_ms;
    return sl_rtp_reorder_push(&in->reorder, data, len, now_ms);
}

int sl_rtp_ingest_poll(sl_rtp_ingest_t *in, uint64_t now_ms)
{
    in->now_ms = now_ms;
    return sl_rtp_reorder_poll(&in->reorder, now_ms);
}

int sl_rtp_ingest_flush(sl_rtp_ingest_t *in) { return sl_rtp_reorder_flush(&in->reorder); }

void sl_rtp_ingest_rtcp(sl_rtp_ingest_t *in, const uint8_t *data, size_t len, uint64_t now_ms)
{
    size_t pos = 0;
    sl_rtcp_packet_t p;
    sl_rtcp_report_t r;
    while (sl_rtcp_next(data, len, &pos, &p) == 1)
        if (p.type == SL_RTCP_SR && sl_rtcp_parse_report(&p, &r) == SL_OK) sl_rtcp_rx_sr(&in->rx, r.sender.ntp, now_ms);
}

int sl_rtp_ingest_report(sl_rtp_ingest_t *in, uint32_t our_ssrc, uint64_t now_ms, sl_bytes_t *out)
{
    if (!in->rx.started) return SL_ERR_AGAIN;
    sl_rtcp_report_block_t rb;
    sl_rtcp_rx_report(&in->rx, in->source_ssrc, now_ms, &rb);
    return sl_rtcp_build_rr_sdes(out, our_ssrc, &rb, CNAME, strlen(CNAME));
}
