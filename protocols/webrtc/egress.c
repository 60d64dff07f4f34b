/* WHEP egress: the stream's RTP packets, made once for all players
 * (protocols/rtp/output.h), are copied per viewer only to be rewritten (the
 * viewer's SSRC from our answer, the payload type from its offer, its own
 * sequence numbers, so frames it skips leave no gap it would NACK) and encrypted
 * with its SRTP keys. The plain packets stay referenced in a history for NACKs.
 *
 * Audio goes out as Opus only: the publisher's, or the transcoder's track made of
 * its AAC (sluice/transcode.h), whose packets the output makes apart; the other
 * audio track of the stream is skipped. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/rand.h>

#include "protocols/webrtc/peer.h"
#include "sluice/log.h"

#define SR_INTERVAL_MS 1000

/* A viewer joins with the GOP cache, up to a GOP of frames at once. Sent in one
 * burst it overflows receive buffers (a 2 s GOP at 1 Mbit/s is 250 kB, more than
 * Linux's default 208 KiB) and its loss is the keyframe the viewer needs, so it
 * goes out at PACE_SPEEDUP times the stream's bitrate (at least PACE_MIN_BPS
 * bytes per second) after a first PACE_DEPTH bytes, which hold the keyframe. */
#define PACE_SPEEDUP 8
#define PACE_MIN_BPS 1000000
#define PACE_DEPTH 65536

static uint64_t unix_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* Rewrites a shared packet for track t under sequence number seq, protects and
 * sends it. */
static void send_packet(wr_peer_t *p, wr_out_track_t *t, const uint8_t *data, size_t len, uint16_t seq)
{
    uint8_t pkt[WR_MAX_PACKET + SL_SRTP_TAILROOM];
    if (len < SL_RTP_HEADER_LEN || len > WR_MAX_PACKET) return;
    memcpy(pkt, data, len);
    pkt[1] = (uint8_t)((pkt[1] & 0x80) | t->pt);
    sl_wr_be16(pkt + 2, seq);
    sl_wr_be32(pkt + 8, t->ssrc);
    wr_peer_send_protected(p, pkt, len, sizeof(pkt), false);
}

static void send_frame(wr_peer_t *p, wr_out_track_t *t, sl_buf_t *packets)
{
    size_t pos = 0, len;
    const uint8_t *d;
    while ((d = sl_rtp_next_packet(packets->data, packets->len, &pos, &len)) != NULL) {
        uint16_t seq = t->seq++;
        if (t->history != NULL) sl_rtp_history_put(t->history, seq, packets, d, len);
        send_packet(p, t, d, len, seq);
        t->packets++;
        t->octets += (uint32_t)(len - SL_RTP_HEADER_LEN);
        t->last_rtp_ts = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    }
    t->last_send_us = unix_us();
}

static void flush(wr_peer_t *p)
{
    if (!p->subscribed || p->too_slow) return;
    sl_rtp_output_catch_up(p->output);
    sl_frame_t *f;
    for (;;) {
        if (p->catching_up && p->pace_budget <= 0) break; /* the tick goes on */
        if ((f = sl_subscriber_next(&p->sub)) == NULL) {
            p->catching_up = false;
            break;
        }
        if (f->media > SL_MEDIA_AUDIO) continue;
        if (f->pts != f->dts && f->media == SL_MEDIA_VIDEO && sl_stream_note_once(p->sub.stream, SL_STREAM_NOTE_WHEP_BFRAMES))
            SL_WARN("stream %s has B-frames, which browsers do not decode over WebRTC: WHEP players will stall; "
                    "publish without them (x264: -bf 0; OBS: profile baseline)",
                    p->key);
        wr_out_track_t *t = &p->out[f->media];
        sl_buf_t *packets = t->active ? sl_frame_enc_get(f, SL_ENC_RTP, 0) : NULL;
        /* A codec other than the one negotiated has no place: the stream's other
         * audio track, or a codec the publisher changed to. */
        if (packets != NULL && f->codec == p->tracks[t->index].codec) {
            send_frame(p, t, packets);
            p->pace_budget -= (int64_t)packets->len;
        }
    }
    if (sl_subscriber_eof(&p->sub)) wr_peer_close(p, "stream ended");
}

static void run_flush(sl_deferred_t *d) { flush(sl_container_of(d, wr_peer_t, flush)); }

static void on_ready(sl_subscriber_t *sub)
{
    wr_peer_t *p = sl_container_of(sub, wr_peer_t, sub);
    sl_server_defer(p->m->srv, &p->flush);
}

static void on_too_slow(sl_subscriber_t *sub)
{
    /* Detached already; the next tick closes the session. */
    sl_container_of(sub, wr_peer_t, sub)->too_slow = true;
}

static const sl_subscriber_ops_t viewer_ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

const char *wr_egress_start(wr_peer_t *p)
{
    sl_server_t *srv = p->m->srv;
    sl_stream_t *stream = sl_hub_find(srv->hub, p->key);
    if (stream == NULL) return "the stream ended";
    p->output = sl_rtp_output_acquire(srv, stream);
    if (p->output == NULL) return "out of memory";
    /* The transcoder was wanted for the stream the offer was negotiated against; a
     * publisher that came back since made a new one. The stream's own is wanted
     * before the old one is let go, so when they are the same it goes on. */
    if (p->transcode != NULL) {
        sl_transcode_t *t = sl_transcode_want(srv, stream, SL_CODEC_OPUS);
        sl_transcode_release(p->transcode);
        p->transcode = t;
    }
    for (int i = 0; i < p->track_count; i++) {
        const sl_webrtc_track_t *tr = &p->tracks[i];
        if (tr->codec == SL_CODEC_NONE || tr->media > SL_MEDIA_AUDIO) continue;
        wr_out_track_t *t = &p->out[tr->media];
        t->active = true;
        t->index = i;
        t->media = tr->media;
        t->pt = tr->pt;
        t->ssrc = p->ssrcs[i];
        t->clock = tr->clock;
        if (RAND_bytes((uint8_t *)&t->seq, sizeof(t->seq)) != 1) t->seq = 0;
        if (tr->nack && tr->media == SL_MEDIA_VIDEO) {
            t->history = malloc(sizeof(*t->history));
            if (t->history == NULL) return "out of memory";
            sl_rtp_history_init(t->history);
        }
    }
    p->flush.run = run_flush;
    p->catching_up = true;
    p->pace_budget = PACE_DEPTH;
    p->pace_ms = uv_now(srv->loop);
    if (sl_hub_subscribe(srv->hub, p->key, &p->sub, &viewer_ops, uv_now(srv->loop)) != SL_OK)
        return "the stream ended";
    p->subscribed = true;
    return NULL;
}

void wr_egress_stop(wr_peer_t *p)
{
    sl_server_cancel(&p->flush);
    if (p->subscribed) sl_subscriber_detach(&p->sub);
    p->subscribed = false;
    if (p->output != NULL) sl_rtp_output_release(p->output);
    p->output = NULL;
    sl_transcode_release(p->transcode);
    p->transcode = NULL;
    for (int i = 0; i < 2; i++) {
        if (p->out[i].history == NULL) continue;
        sl_rtp_history_free(p->out[i].history);
        free(p->out[i].history);
        p->out[i].history = NULL;
    }
}

static void retransmit(wr_peer_t *p, const sl_rtcp_nack_t *nack)
{
    for (int i = 0; i < 2; i++) {
        wr_out_track_t *t = &p->out[i];
        if (!t->active || t->history == NULL || t->ssrc != nack->media_ssrc) continue;
        for (size_t k = 0; k < nack->count; k++) {
            const uint8_t *d;
            size_t len;
            if (sl_rtp_history_get(t->history, nack->seq[k], &d, &len) != NULL) send_packet(p, t, d, len, nack->seq[k]);
        }
    }
}

void wr_egress_on_rtcp(wr_peer_t *p, const sl_rtcp_packet_t *pkt)
{
    sl_rtcp_nack_t nack;
    uint32_t sender, media;
    if (sl_rtcp_parse_nack(pkt, &nack) == SL_OK) {
        retransmit(p, &nack);
    } else if (sl_rtcp_parse_pli(pkt, &sender, &media) == SL_OK) {
        if (p->subscribed && p->sub.stream != NULL) sl_stream_request_keyframe(p->sub.stream);
    }
}

/* Sender reports map each track's RTP clock to wall-clock time, which is how the
 * browser lines audio up with video (RFC 3550 6.4.1). The RTP time is that of the
 * last packet, carried forward to now. */
static void send_reports(wr_peer_t *p, uint64_t now_ms)
{
    if (now_ms - p->last_sr_ms < SR_INTERVAL_MS) return;
    p->last_sr_ms = now_ms;
    uint64_t now_us = unix_us();
    for (int i = 0; i < 2; i++) {
        wr_out_track_t *t = &p->out[i];
        if (!t->active || t->packets == 0) continue;
        uint64_t since_us = now_us - t->last_send_us;
        sl_rtcp_sender_info_t si = {.ntp = sl_rtcp_ntp_from_unix_us(now_us),
                                    .rtp_ts = t->last_rtp_ts + (uint32_t)(since_us * t->clock / 1000000),
                                    .packet_count = t->packets,
                                    .octet_count = t->octets};
        sl_bytes_t rtcp;
        sl_bytes_init(&rtcp);
        if (sl_rtcp_build_sr_sdes(&rtcp, t->ssrc, &si, NULL, "sluice", 6) == SL_OK) wr_peer_send_rtcp(p, &rtcp);
        sl_bytes_free(&rtcp);
    }
}

static void pace(wr_peer_t *p, uint64_t now_ms)
{
    sl_stream_stats_t st = {0};
    if (p->sub.stream != NULL) sl_stream_get_stats(p->sub.stream, now_ms, &st);
    uint64_t rate = st.bitrate / 8 * PACE_SPEEDUP;
    if (rate < PACE_MIN_BPS) rate = PACE_MIN_BPS;
    p->pace_budget += (int64_t)(rate * (now_ms - p->pace_ms) / 1000);
    if (p->pace_budget > PACE_DEPTH) p->pace_budget = PACE_DEPTH;
    p->pace_ms = now_ms;
    flush(p);
}

void wr_egress_tick(wr_peer_t *p, uint64_t now_ms)
{
    if (p->too_slow) {
        wr_peer_close(p, "too slow: queue limit exceeded");
        return;
    }
    if (p->catching_up && p->subscribed) {
        pace(p, now_ms);
        if (p->closing) return;
    }
    send_reports(p, now_ms);
}
