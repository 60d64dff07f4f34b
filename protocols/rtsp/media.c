/* RTSP media: RTP in from publishers (reordered, depacketized, pushed to the hub)
 * and RTP out to players, from packets made once per stream and shared by all its
 * players (the "RTSP output" attached to the stream). */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/rand.h>

#include "protocols/rtp/reorder.h"
#include "protocols/rtp/output.h"
#include "protocols/rtp/rtcp.h"
#include "protocols/rtp/rtp_aac.h"
#include "protocols/rtp/rtp_h264.h"
#include "protocols/rtp/rtp_h265.h"
#include "protocols/rtp/rtp_opus.h"
#include "protocols/rtp/sdp.h"
#include "protocols/rtsp/media.h"
#include "sluice/admit.h"
#include "sluice/log.h"

/* Reordering over UDP: how many packets, and how long a gap may hold them. */
#define REORDER_WINDOW 128
#define REORDER_DELAY_MS 300
/* Sender reports to players, per track. */
#define SR_INTERVAL_MS 5000

static uint64_t unix_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

static uint32_t random_u32(void)
{
    uint32_t x = 0;
    if (RAND_bytes((uint8_t *)&x, sizeof(x)) != 1) x = (uint32_t)unix_us();
    return x;
}

/* ---- publishing: RTP in ------------------------------------------------- */

struct rtsp_media_in {
    rtsp_session_t *s;
    rtsp_track_t *t;
    sl_frame_t *config; /* from the SDP, pushed when publishing starts, or NULL */
    sl_rtcp_rx_stats_t rx; /* for the receiver reports we send the publisher */
    uint32_t source_ssrc;
    sl_rtp_reorder_t reorder;
    union {
        sl_rtp_nal_depacketizer_t nal;
        sl_rtp_aac_depack_t aac;
        sl_rtp_opus_depack_t opus;
    } d;
};

static int emit_frame(void *arg, sl_frame_t *f)
{
    rtsp_media_in_t *in = arg;
    rtsp_session_t *s = in->s;
    if (s->stream == NULL) return SL_OK;
    return sl_stream_push(s->stream, f, uv_now(s->srv->loop));
}

/* A packet released in order by the reorder buffer. */
static int depacketize(void *arg, sl_buf_t *pkt, uint32_t lost_before)
{
    rtsp_media_in_t *in = arg;
    sl_rtp_packet_t p;
    if (sl_rtp_parse(pkt->data, pkt->len, &p) != SL_OK || p.payload_type != in->t->pt) return SL_OK;
    uint64_t now = uv_now(in->s->srv->loop);
    in->source_ssrc = p.ssrc;
    (void)sl_rtcp_rx_packet(&in->rx, p.seq, p.timestamp, (uint32_t)(now * in->t->clock / 1000));
    switch (in->t->codec) {
    case SL_CODEC_H264: return sl_rtp_h264_depacketize(&in->d.nal, &p, emit_frame, in);
    case SL_CODEC_H265: return sl_rtp_h265_depacketize(&in->d.nal, &p, emit_frame, in);
    case SL_CODEC_AAC: return sl_rtp_aac_depack_push(&in->d.aac, &p);
    case SL_CODEC_OPUS: return sl_rtp_opus_depack_push(&in->d.opus, &p);
    default: return SL_OK;
    }
}

int sl__rtsp_media_in_new(rtsp_session_t *s, rtsp_track_t *t, const rtsp_sdp_media_t *m)
{
    rtsp_media_in_t *in = calloc(1, sizeof(*in));
    if (in == NULL) return SL_ERR_NOMEM;
    in->s = s;
    in->t = t;
    sl_rtcp_rx_init(&in->rx);
    int rc = sl_rtp_reorder_init(&in->reorder, REORDER_WINDOW, REORDER_DELAY_MS, depacketize, in);
    if (rc != SL_OK) {
        free(in);
        return rc;
    }
    switch (t->codec) {
    case SL_CODEC_H264:
        sl_rtp_h264_depacketizer_init(&in->d.nal);
        if (m->ps_len[1] > 0 && m->ps_len[2] > 0)
            rc = sl_rtp_h264_depacketizer_set_sprop(&in->d.nal, m->ps[1], m->ps_len[1], m->ps[2], m->ps_len[2]);
        break;
    case SL_CODEC_H265:
        sl_rtp_h265_depacketizer_init(&in->d.nal);
        if (m->ps_len[0] > 0 && m->ps_len[1] > 0 && m->ps_len[2] > 0)
            rc = sl_rtp_h265_depacketizer_set_sprop(&in->d.nal, m->ps[0], m->ps_len[0], m->ps[1], m->ps_len[1],
                                                    m->ps[2], m->ps_len[2]);
        break;
    case SL_CODEC_AAC: rc = sl_rtp_aac_depack_init(&in->d.aac, &m->aac, emit_frame, in); break;
    case SL_CODEC_OPUS: sl_rtp_opus_depack_init(&in->d.opus, emit_frame, in); break;
    default: rc = SL_ERR_UNSUPPORTED;
    }
    if (rc != SL_OK) {
        sl_rtp_reorder_free(&in->reorder);
        free(in);
        return rc;
    }
    t->in = in;
    return SL_OK;
}

static void media_in_free(rtsp_track_t *t)
{
    rtsp_media_in_t *in = t->in;
    if (in == NULL) return;
    sl_rtp_reorder_free(&in->reorder);
    sl_frame_unref(in->config);
    if (t->codec == SL_CODEC_H264 || t->codec == SL_CODEC_H265) sl_rtp_h264_depacketizer_free(&in->d.nal);
    if (t->codec == SL_CODEC_AAC) sl_rtp_aac_depack_free(&in->d.aac);
    free(in);
    t->in = NULL;
}

int sl__rtsp_on_rtp(rtsp_session_t *s, rtsp_track_t *t, const uint8_t *data, size_t len)
{
    if (s->state != RTSP_RECORDING || t->in == NULL) return SL_OK;
    uint64_t now = uv_now(s->srv->loop);
    int rc = sl_rtp_reorder_push(&t->in->reorder, data, len, now);
    if (rc == SL_OK) rc = sl_rtp_reorder_poll(&t->in->reorder, now);
    /* A malformed packet is dropped, not fatal: UDP brings all sorts. */
    return rc == SL_ERR_PROTO ? SL_OK : rc;
}

/* A publisher's sender reports give the LSR/DLSR of our receiver reports; a
 * player's receiver reports only keep its session alive (the caller noted that). */
void sl__rtsp_on_rtcp(rtsp_session_t *s, rtsp_track_t *t, const uint8_t *data, size_t len)
{
    if (t->in == NULL) return;
    size_t pos = 0;
    sl_rtcp_packet_t p;
    sl_rtcp_report_t r;
    while (sl_rtcp_next(data, len, &pos, &p) == 1)
        if (p.type == SL_RTCP_SR && sl_rtcp_parse_report(&p, &r) == SL_OK)
            sl_rtcp_rx_sr(&t->in->rx, r.sender.ntp, uv_now(s->srv->loop));
}

/* Sends an RTCP packet on the track's RTCP channel or port. */
static int send_rtcp(rtsp_session_t *s, rtsp_track_t *t, const sl_bytes_t *rtcp)
{
    if (!t->tcp) return sl__rtsp_udp_send(t, true, rtcp->data, rtcp->len);
    uint8_t h[4] = {'$', (uint8_t)(t->channel + 1)};
    sl_wr_be16(h + 2, (uint16_t)rtcp->len);
    int rc = sl_bytes_append(&s->out, h, 4);
    if (rc == SL_OK) rc = sl_bytes_append(&s->out, rtcp->data, rtcp->len);
    sl__rtsp_schedule_flush(s);
    return rc;
}

/* Receiver reports to a publisher, per track (RFC 3550 6.4.2): loss and jitter. */
void sl__rtsp_send_receiver_reports(rtsp_session_t *s)
{
    uint64_t now = uv_now(s->srv->loop);
    if (now - s->last_report_ms < SR_INTERVAL_MS) return;
    s->last_report_ms = now;
    for (int i = 0; i < s->track_count; i++) {
        rtsp_track_t *t = &s->tracks[i];
        if (!t->setup || t->in == NULL || !t->in->rx.started) continue;
        sl_rtcp_report_block_t rb;
        sl_rtcp_rx_report(&t->in->rx, t->in->source_ssrc, now, &rb);
        sl_bytes_t rtcp;
        sl_bytes_init(&rtcp);
        if (sl_rtcp_build_rr_sdes(&rtcp, (uint32_t)s->id, &rb, "sluice", 6) == SL_OK) (void)send_rtcp(s, t, &rtcp);
        sl_bytes_free(&rtcp);
    }
}

int sl__rtsp_start_publish(rtsp_session_t *s)
{
    int rc = sl_hub_publish(s->srv->hub, s->key, &s->stream);
    if (rc != SL_OK) return rc;
    s->state = RTSP_RECORDING;
    s->conn.role = SL_ROLE_PUBLISHER;
    /* The SDP's codec configs go first, so every output knows every track before
     * the first media frame (RTP brings configs in-band only with the media). */
    for (int i = 0; i < s->track_count && rc == SL_OK; i++) {
        rtsp_media_in_t *in = s->tracks[i].in;
        if (in != NULL && in->config != NULL) rc = sl_stream_push(s->stream, in->config, uv_now(s->srv->loop));
    }
    return rc;
}

/* ---- playing: the stream's shared RTP output ------------------------------ */

static void on_player_ready(sl_subscriber_t *sub)
{
    sl__rtsp_schedule_flush(sl_container_of(sub, rtsp_session_t, sub));
}

static void on_player_too_slow(sl_subscriber_t *sub)
{
    rtsp_session_t *s = sl_container_of(sub, rtsp_session_t, sub);
    sl__rtsp_close(s, "too slow: queue limit exceeded");
}

static const sl_subscriber_ops_t player_ops = {.on_ready = on_player_ready, .on_too_slow = on_player_too_slow};

int sl__rtsp_start_play(rtsp_session_t *s)
{
    sl_stream_t *stream = sl_hub_find(s->srv->hub, s->key);
    if (stream == NULL) return SL_ERR_NOT_FOUND;
    sl_rtp_output_t *o = sl_rtp_output_acquire(s->srv, stream);
    if (o == NULL) return SL_ERR_NOMEM;
    int rc = sl_hub_subscribe(s->srv->hub, s->key, &s->sub, &player_ops, uv_now(s->srv->loop));
    if (rc != SL_OK) {
        sl_rtp_output_release(o);
        return rc;
    }
    s->output = o;
    s->subscribed = true;
    s->state = RTSP_PLAYING;
    s->conn.role = SL_ROLE_PLAYER;
    return SL_OK;
}

static void hook_event(rtsp_session_t *s, const char *event, sl_direction_t dir)
{
    sl_admit_req_t req = {.proto = SL_PROTO_RTSP, .dir = dir, .client_id = s->id, .key = s->key, .query = s->query,
                          .remote = s->peer};
    sl_hook_event(s->srv, event, &req);
}

void sl__rtsp_stop_media(rtsp_session_t *s)
{
    if (s->state == RTSP_RECORDING && s->stream != NULL) {
        for (int i = 0; i < s->track_count; i++)
            if (s->tracks[i].in != NULL && sl_rtp_reorder_flush(&s->tracks[i].in->reorder) != SL_OK)
                SL_DEBUG("client %llu rtsp: last packets of track %d dropped", (unsigned long long)s->id, i);
        SL_INFO("client %llu rtsp unpublish %s", (unsigned long long)s->id, s->key);
        sl_stream_unpublish(s->stream);
        hook_event(s, "on_unpublish", SL_DIR_PUBLISH);
        s->stream = NULL;
        s->state = RTSP_READY_RECORD;
        s->conn.role = SL_ROLE_NONE;
    }
    if (s->subscribed) {
        sl_subscriber_detach(&s->sub);
        hook_event(s, "on_stop", SL_DIR_PLAY);
        sl_rtp_output_release(s->output);
        s->output = NULL;
        s->subscribed = false;
        s->state = RTSP_READY_PLAY;
        s->conn.role = SL_ROLE_NONE;
    }
}

void sl__rtsp_free_tracks(rtsp_session_t *s)
{
    for (int i = 0; i < s->track_count; i++) {
        media_in_free(&s->tracks[i]);
        sl__rtsp_udp_close(&s->tracks[i]);
    }
    memset(s->tracks, 0, sizeof(s->tracks));
    s->track_count = 0;
}

/* The player's track for frames of `media`, if it set it up. */
static rtsp_track_t *player_track(rtsp_session_t *s, uint8_t media)
{
    for (int i = 0; i < s->track_count; i++)
        if (s->tracks[i].media == media && s->tracks[i].setup) return &s->tracks[i];
    return NULL;
}

/* Over TCP each packet gets its '$' header: 4 bytes per packet, in one small buffer
 * per frame, next to the shared packet bytes. */
static int add_interleaved(rtsp_session_t *s, rtsp_track_t *t, sl_buf_t *packets)
{
    size_t pos = 0, n = 0, len;
    while (sl_rtp_next_packet(packets->data, packets->len, &pos, &len) != NULL) n++;
    sl_buf_t *heads = sl_buf_new(4 * n);
    if (heads == NULL) return SL_ERR_NOMEM;
    heads->len = 4 * n;
    int rc = SL_OK;
    pos = 0;
    for (size_t i = 0; i < n && rc == SL_OK; i++) {
        const uint8_t *p = sl_rtp_next_packet(packets->data, packets->len, &pos, &len);
        uint8_t *h = heads->data + 4 * i;
        h[0] = '$';
        h[1] = t->channel;
        sl_wr_be16(h + 2, (uint16_t)len);
        rc = sl_iobatch_add(&s->batch, heads, h, 4);
        if (rc == SL_OK) rc = sl_iobatch_add(&s->batch, packets, p, len);
    }
    sl_buf_unref(heads);
    return rc;
}

static void count_sent(rtsp_track_t *t, const sl_buf_t *packets)
{
    size_t pos = 0, len;
    const uint8_t *p;
    while ((p = sl_rtp_next_packet(packets->data, packets->len, &pos, &len)) != NULL) {
        t->packets++;
        t->octets += (uint32_t)(len - SL_RTP_HEADER_LEN);
        t->last_rtp_ts = sl_rd_be32(&(sl_reader_t){.p = p + 4, .end = p + 8});
    }
    t->last_send_us = unix_us();
}

/* A sender report per track every few seconds, so players can line audio up with
 * video (RFC 3550 6.4.1). */
static int send_reports(rtsp_session_t *s)
{
    uint64_t now = uv_now(s->srv->loop);
    if (now - s->last_report_ms < SR_INTERVAL_MS) return SL_OK;
    s->last_report_ms = now;
    int rc = SL_OK;
    for (int i = 0; i < s->track_count && rc == SL_OK; i++) {
        rtsp_track_t *t = &s->tracks[i];
        if (!t->setup || t->packets == 0) continue;
        sl_rtcp_sender_info_t si = {.ntp = sl_rtcp_ntp_from_unix_us(t->last_send_us), .rtp_ts = t->last_rtp_ts,
                                    .packet_count = t->packets, .octet_count = t->octets};
        sl_bytes_t rtcp;
        sl_bytes_init(&rtcp);
        rc = sl_rtcp_build_sr_sdes(&rtcp, s->output->track[t->media].ssrc, &si, NULL, "sluice", 6);
        if (rc == SL_OK) rc = send_rtcp(s, t, &rtcp);
        sl_bytes_free(&rtcp);
    }
    return rc;
}

int sl__rtsp_take_packets(rtsp_session_t *s)
{
    sl_rtp_output_catch_up(s->output);
    sl_frame_t *f;
    int rc = SL_OK;
    while (rc == SL_OK && (f = sl_subscriber_next(&s->sub)) != NULL) {
        sl_buf_t *packets = sl_frame_enc_get(f, SL_ENC_RTP, 0);
        rtsp_track_t *t = packets != NULL ? player_track(s, f->media) : NULL;
        if (t == NULL) continue;
        if (t->tcp) {
            rc = add_interleaved(s, t, packets);
        } else {
            size_t pos = 0, len;
            const uint8_t *p;
            while (rc == SL_OK && (p = sl_rtp_next_packet(packets->data, packets->len, &pos, &len)) != NULL)
                rc = sl__rtsp_udp_send(t, false, p, len);
        }
        count_sent(t, packets);
    }
    return rc == SL_OK ? send_reports(s) : rc;
}

/* ---- tracks from an SDP (ANNOUNCE) or from a stream (DESCRIBE) -------------- */

/* The parameter sets of a config record, as sprop values would give them. */
static void media_from_config(rtsp_sdp_media_t *m, const sl_sdp_media_t *sm, uint8_t pt, sl_codec_t codec)
{
    sl_bytes_t units;
    sl_bytes_init(&units);
    static const char *const keys[2][3] = {{NULL, "sprop-parameter-sets", NULL}, {"sprop-vps", "sprop-sps", "sprop-pps"}};
    if (codec == SL_CODEC_H264) {
        /* SPS and PPS come together in sprop-parameter-sets. */
        const char *v = sl_sdp_fmtp_get(sm, pt, keys[0][1]);
        if (v != NULL && sl_sdp_sprop_decode(v, &units) == SL_OK) {
            sl_reader_t r;
            sl_reader_init(&r, units.data, units.len);
            for (int i = 1; i <= 2 && sl_reader_left(&r) >= 4; i++) {
                uint32_t n = sl_rd_be32(&r);
                const uint8_t *nal = sl_rd_bytes(&r, n);
                if (nal != NULL && n <= sizeof(m->ps[i])) {
                    memcpy(m->ps[i], nal, n);
                    m->ps_len[i] = n;
                }
            }
        }
    } else if (codec == SL_CODEC_H265) {
        for (int i = 0; i < 3; i++) {
            const char *v = sl_sdp_fmtp_get(sm, pt, keys[1][i]);
            units.len = 0;
            if (v == NULL || sl_sdp_sprop_decode(v, &units) != SL_OK || units.len < 4) continue;
            uint32_t n = (uint32_t)units.data[0] << 24 | units.data[1] << 16 | units.data[2] << 8 | units.data[3];
            if (n <= units.len - 4 && n <= sizeof(m->ps[i])) {
                memcpy(m->ps[i], units.data + 4, n);
                m->ps_len[i] = n;
            }
        }
    }
    sl_bytes_free(&units);
}

static int track_from_sdp(rtsp_session_t *s, const sl_sdp_media_t *sm)
{
    if (sm->pt_count == 0 || s->track_count == RTSP_MAX_TRACKS) return SL_ERR_UNSUPPORTED;
    uint8_t pt = sm->pts[0];
    const sl_sdp_rtpmap_t *map = sl_sdp_rtpmap_get(sm, pt);
    sl_codec_t codec = map != NULL ? sl_sdp_codec_of(map) : SL_CODEC_NONE;
    if (codec == SL_CODEC_NONE || map->clock == 0) return SL_ERR_UNSUPPORTED;
    rtsp_track_t *t = &s->tracks[s->track_count];
    memset(t, 0, sizeof(*t));
    t->media = codec == SL_CODEC_H264 || codec == SL_CODEC_H265 ? SL_MEDIA_VIDEO : SL_MEDIA_AUDIO;
    t->codec = (uint8_t)codec;
    t->pt = pt;
    t->clock = map->clock;
    snprintf(t->control, sizeof(t->control), "%s", sm->control != NULL ? sm->control : "");
    rtsp_sdp_media_t m;
    memset(&m, 0, sizeof(m));
    media_from_config(&m, sm, pt, codec);
    if (codec == SL_CODEC_AAC) {
        const sl_sdp_fmtp_t *fmtp = sl_sdp_fmtp_of(sm, pt);
        sl_rtp_aac_params_default(&m.aac);
        if (fmtp != NULL && sl_rtp_aac_parse_fmtp(fmtp->raw, strlen(fmtp->raw), &m.aac) != SL_OK) return SL_ERR_PROTO;
        m.aac.clock_rate = map->clock;
    }
    int rc = sl__rtsp_media_in_new(s, t, &m);
    if (rc != SL_OK) return rc;
    s->track_count++;
    sl_bytes_t config;
    sl_bytes_init(&config);
    sl_codec_t config_codec;
    if (sl_sdp_media_config(sm, pt, &config_codec, &config) == SL_OK && config.len > 0)
        t->in->config = sl_frame_copy_of(t->media, codec, SL_FRAME_CONFIG, 0, 0, config.data, config.len);
    sl_bytes_free(&config);
    return SL_OK;
}

int sl__rtsp_tracks_from_sdp(rtsp_session_t *s, const char *text, size_t len)
{
    sl_sdp_t *sdp = NULL;
    int rc = sl_sdp_parse(text, len, &sdp);
    if (rc != SL_OK) return rc;
    sl__rtsp_free_tracks(s);
    for (int i = 0; i < sdp->media_count; i++) {
        /* A section we cannot take (a data track, an unknown codec) is left out;
         * the publisher's SETUP of it gets 404. */
        if (track_from_sdp(s, &sdp->media[i]) != SL_OK)
            SL_WARN("client %llu rtsp: track %d (%s) not supported, ignored", (unsigned long long)s->id, i,
                    sdp->media[i].type);
    }
    sl_sdp_free(sdp);
    return s->track_count > 0 ? SL_OK : SL_ERR_UNSUPPORTED;
}

int sl__rtsp_tracks_from_stream(rtsp_session_t *s, sl_stream_t *stream, sl_bytes_t *sdp)
{
    const sl_frame_t *configs[2] = {sl_stream_video_config(stream), sl_stream_audio_config(stream)};
    static const uint8_t pts[2] = {SL_RTP_OUTPUT_PT_VIDEO, SL_RTP_OUTPUT_PT_AUDIO};
    sl_sdp_media_desc_t media[2];
    int n = 0;
    sl__rtsp_free_tracks(s);
    for (int i = 0; i < 2; i++) {
        if (configs[i] == NULL || sl_sdp_media_from_config(configs[i], pts[i], &media[n]) != SL_OK) continue;
        rtsp_track_t *t = &s->tracks[n];
        t->media = (uint8_t)i;
        t->codec = configs[i]->codec;
        t->pt = pts[i];
        t->clock = media[n].clock;
        snprintf(t->control, sizeof(t->control), "trackID=%d", n);
        media[n].control = t->control;
        n++;
    }
    if (n == 0) return configs[0] == NULL && configs[1] == NULL ? SL_ERR_AGAIN : SL_ERR_UNSUPPORTED;
    s->track_count = n;
    sl_sdp_session_desc_t session = {.session_id = random_u32(), .session_version = 1, .origin_addr = "127.0.0.1",
                                     .name = "sluice", .conn_addr = "0.0.0.0", .control = "*"};
    return sl_sdp_write(&session, media, n, sdp);
}
