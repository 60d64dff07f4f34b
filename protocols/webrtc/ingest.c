/* WHIP ingest: SRTP-decrypted RTP from a browser → reorder buffer → depacketizer →
 * the hub. Losses are asked for again with NACKs, keyframes with PLIs (when a
 * viewer joins, when a WHEP viewer asks, and every hls.segment_duration_ms so HLS
 * segments and the GOP cache have keyframes: browsers make them only on request),
 * and the browser gets receiver reports. */
#include <stdlib.h>
#include <string.h>

#include "protocols/webrtc/peer.h"
#include "sluice/log.h"

/* Reordering: the packets of about a second of HD video; a gap holds them at most
 * this long, enough for one or two NACK round trips on a sane network. */
#define REORDER_WINDOW 512
#define REORDER_DELAY_MS 200
#define PLI_MIN_INTERVAL_MS 500
#define RR_INTERVAL_MS 1000
#define MAX_NACKS 64

/* Each depacketizer starts its clock at 0 on its first packet, and audio and video
 * do not start together: frames get their track's offset, the arrival time of its
 * first packet, so the tracks line up. */
static int emit_frame(void *arg, sl_frame_t *f)
{
    wr_in_track_t *t = arg;
    wr_peer_t *p = t->peer;
    if (p->stream == NULL) return SL_OK;
    f->pts += t->offset;
    f->dts += t->offset;
    return sl_stream_push(p->stream, f, uv_now(p->m->srv->loop));
}

static int depacketize(void *arg, sl_buf_t *pkt, uint32_t lost_before)
{
    wr_in_track_t *t = arg;
    sl_rtp_packet_t rtp;
    if (sl_rtp_parse(pkt->data, pkt->len, &rtp) != SL_OK) return SL_OK;
    if (lost_before > 0 && t->media == SL_MEDIA_VIDEO) t->peer->pli_wanted = true;
    switch (t->codec) {
    case SL_CODEC_H264: return sl_rtp_h264_depacketize(&t->d.nal, &rtp, emit_frame, t);
    case SL_CODEC_H265: return sl_rtp_h265_depacketize(&t->d.nal, &rtp, emit_frame, t);
    case SL_CODEC_OPUS: return sl_rtp_opus_depack_push(&t->d.opus, &rtp);
    default: return SL_OK;
    }
}

static void track_free(wr_in_track_t *t)
{
    if (t == NULL) return;
    sl_rtp_reorder_free(&t->reorder);
    if (t->codec == SL_CODEC_H264 || t->codec == SL_CODEC_H265) sl_rtp_h264_depacketizer_free(&t->d.nal);
    free(t);
}

static wr_in_track_t *track_new(wr_peer_t *p, int index)
{
    const sl_webrtc_track_t *tr = &p->tracks[index];
    wr_in_track_t *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    t->peer = p;
    t->media = tr->media;
    t->codec = tr->codec;
    t->pt = tr->pt;
    t->clock = tr->clock;
    t->nack = tr->nack;
    sl_rtcp_rx_init(&t->rx);
    if (sl_rtp_reorder_init(&t->reorder, REORDER_WINDOW, REORDER_DELAY_MS, depacketize, t) != SL_OK ||
        sl_nack_init(&t->losses, NULL) != SL_OK) {
        free(t);
        return NULL;
    }
    if (t->codec == SL_CODEC_H264) sl_rtp_h264_depacketizer_init(&t->d.nal);
    else if (t->codec == SL_CODEC_H265) sl_rtp_h265_depacketizer_init(&t->d.nal);
    else sl_rtp_opus_depack_init(&t->d.opus, emit_frame, t);
    return t;
}

static void on_keyframe_request(void *arg)
{
    wr_peer_t *p = arg;
    p->pli_wanted = true;
}

const char *wr_ingest_start(wr_peer_t *p)
{
    for (int i = 0; i < p->track_count; i++) {
        const sl_webrtc_track_t *tr = &p->tracks[i];
        if (tr->codec == SL_CODEC_NONE || tr->media > SL_MEDIA_AUDIO || p->in[tr->media] != NULL) continue;
        if ((p->in[tr->media] = track_new(p, i)) == NULL) return "out of memory";
    }
    int rc = sl_hub_publish(p->m->srv->hub, p->key, &p->stream);
    if (rc != SL_OK) return rc == SL_ERR_BUSY ? "the stream already has a publisher" : sl_strerror(rc);
    sl_stream_on_keyframe_request(p->stream, on_keyframe_request, p);
    SL_INFO("client %llu webrtc WHIP publish %s: %s%s%s", (unsigned long long)p->id, p->key,
            p->in[SL_MEDIA_VIDEO] ? sl_codec_name(p->in[SL_MEDIA_VIDEO]->codec) : "",
            p->in[SL_MEDIA_VIDEO] && p->in[SL_MEDIA_AUDIO] ? " + " : "",
            p->in[SL_MEDIA_AUDIO] ? "opus" : "");
    if (p->in[SL_MEDIA_AUDIO] != NULL) {
        SL_INFO("stream %s: Opus audio goes to WebRTC and RTSP players; RTMP, HTTP-FLV and HLS carry its video "
                "only (no transcoding)",
                p->key);
        uint8_t head[SL_OPUS_HEAD_LEN];
        sl_rtp_opus_head(2, head);
        sl_frame_t *config = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_CONFIG, 0, 0, head, sizeof(head));
        rc = config != NULL ? sl_stream_push(p->stream, config, uv_now(p->m->srv->loop)) : SL_ERR_NOMEM;
        sl_frame_unref(config);
        if (rc != SL_OK) return sl_strerror(rc);
    }
    p->pli_wanted = true;
    return NULL;
}

void wr_ingest_stop(wr_peer_t *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->in[i] != NULL && p->stream != NULL && sl_rtp_reorder_flush(&p->in[i]->reorder) != SL_OK)
            SL_DEBUG("client %llu webrtc %s: last packets of track %d dropped", (unsigned long long)p->id, p->key, i);
        track_free(p->in[i]);
        p->in[i] = NULL;
    }
    if (p->stream != NULL) {
        SL_INFO("client %llu webrtc WHIP unpublish %s", (unsigned long long)p->id, p->key);
        sl_stream_unpublish(p->stream);
        p->stream = NULL;
    }
}

static wr_in_track_t *track_of(wr_peer_t *p, uint8_t pt)
{
    for (int i = 0; i < 2; i++)
        if (p->in[i] != NULL && p->in[i]->pt == pt) return p->in[i];
    return NULL;
}

void wr_ingest_on_rtp(wr_peer_t *p, const uint8_t *data, size_t len)
{
    sl_rtp_packet_t rtp;
    if (p->stream == NULL || sl_rtp_parse(data, len, &rtp) != SL_OK) return;
    wr_in_track_t *t = track_of(p, rtp.payload_type);
    if (t == NULL) return; /* RTX, FEC or padding-only probes we did not accept */
    uint64_t now = uv_now(p->m->srv->loop);
    if (!t->started) {
        if (p->media_start_ms == 0) p->media_start_ms = now;
        t->started = true;
        t->offset = (int64_t)(now - p->media_start_ms) * 90;
    }
    t->ssrc = rtp.ssrc;
    (void)sl_rtcp_rx_packet(&t->rx, rtp.seq, rtp.timestamp, (uint32_t)(now * t->clock / 1000));
    if (t->nack) (void)sl_nack_on_packet(&t->losses, rtp.seq, now);
    int rc = sl_rtp_reorder_push(&t->reorder, data, len, now);
    if (rc == SL_OK) rc = sl_rtp_reorder_poll(&t->reorder, now);
    if (rc == SL_ERR_NOMEM) wr_peer_close(p, "out of memory");
}

void wr_ingest_on_rtcp(wr_peer_t *p, const sl_rtcp_packet_t *pkt)
{
    sl_rtcp_report_t r;
    if (pkt->type != SL_RTCP_SR || sl_rtcp_parse_report(pkt, &r) != SL_OK) return;
    for (int i = 0; i < 2; i++)
        if (p->in[i] != NULL && p->in[i]->ssrc == r.ssrc) sl_rtcp_rx_sr(&p->in[i]->rx, r.sender.ntp, uv_now(p->m->srv->loop));
}

static void send_nacks(wr_peer_t *p, wr_in_track_t *t, uint64_t now)
{
    uint16_t seqs[MAX_NACKS];
    int n = sl_nack_collect(&t->losses, now, 0, seqs, MAX_NACKS);
    if (n <= 0) return;
    sl_bytes_t rtcp;
    sl_bytes_init(&rtcp);
    if (sl_rtcp_build_nack(&rtcp, (uint32_t)p->id, t->ssrc, seqs, (size_t)n) == SL_OK) wr_peer_send_rtcp(p, &rtcp);
    sl_bytes_free(&rtcp);
}

static void send_pli(wr_peer_t *p, uint64_t now)
{
    wr_in_track_t *v = p->in[SL_MEDIA_VIDEO];
    uint64_t every = p->m->srv->cfg->hls.segment_duration_ms;
    if (v == NULL || !v->started || now - p->last_pli_ms < PLI_MIN_INTERVAL_MS) return;
    if (!p->pli_wanted && now - p->last_pli_ms < every) return;
    p->pli_wanted = false;
    p->last_pli_ms = now;
    sl_bytes_t rtcp;
    sl_bytes_init(&rtcp);
    if (sl_rtcp_build_pli(&rtcp, (uint32_t)p->id, v->ssrc) == SL_OK) wr_peer_send_rtcp(p, &rtcp);
    sl_bytes_free(&rtcp);
}

static void send_receiver_reports(wr_peer_t *p, uint64_t now)
{
    if (now - p->last_rr_ms < RR_INTERVAL_MS) return;
    p->last_rr_ms = now;
    for (int i = 0; i < 2; i++) {
        wr_in_track_t *t = p->in[i];
        if (t == NULL || !t->rx.started) continue;
        sl_rtcp_report_block_t rb;
        sl_rtcp_rx_report(&t->rx, t->ssrc, now, &rb);
        sl_bytes_t rtcp;
        sl_bytes_init(&rtcp);
        if (sl_rtcp_build_rr_sdes(&rtcp, (uint32_t)p->id, &rb, "sluice", 6) == SL_OK) wr_peer_send_rtcp(p, &rtcp);
        sl_bytes_free(&rtcp);
    }
}

void wr_ingest_tick(wr_peer_t *p, uint64_t now_ms)
{
    for (int i = 0; i < 2 && !p->closing; i++) {
        wr_in_track_t *t = p->in[i];
        if (t == NULL) continue;
        if (sl_rtp_reorder_poll(&t->reorder, now_ms) == SL_ERR_NOMEM) {
            wr_peer_close(p, "out of memory");
            return;
        }
        if (t->nack) send_nacks(p, t, now_ms);
    }
    send_pli(p, now_ms);
    send_receiver_reports(p, now_ms);
}
