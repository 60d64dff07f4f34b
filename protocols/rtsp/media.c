/* RTSP media: RTP in from publishers (reordered, depacketized, pushed to the hub)
 * and RTP out to players, from packets made once per stream and shared by all its
 * players (the "RTSP output" attached to the stream). */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/rand.h>

#include "protocols/rtp/ingest.h"
#include "protocols/rtp/output.h"
#include "protocols/rtp/rtcp.h"
#include "protocols/rtp/sdp.h"
#include "protocols/rtsp/session.h"
#include "sluice/admit.h"
#include "sluice/log.h"

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

/* A frame of a publisher's track: into its stream once RECORD started it. */
static int emit_frame(void *arg, sl_frame_t *f)
{
    rtsp_session_t *s = arg;
    if (s->stream == NULL) return SL_OK;
    return sl_stream_push(s->stream, f, uv_now(s->srv->loop));
}

int sl__rtsp_on_rtp(rtsp_session_t *s, rtsp_track_t *t, const uint8_t *data, size_t len)
{
    if (s->state != RTSP_RECORDING || t->in == NULL) return SL_OK;
    return sl_rtp_ingest_packet(t->in, data, len, uv_now(s->srv->loop));
}

/* A publisher's sender reports give the LSR/DLSR of our receiver reports; a
 * player's receiver reports only keep its session alive (the caller noted that). */
void sl__rtsp_on_rtcp(rtsp_session_t *s, rtsp_track_t *t, const uint8_t *data, size_t len)
{
    if (t->in != NULL) sl_rtp_ingest_rtcp(t->in, data, len, uv_now(s->srv->loop));
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
        if (!t->setup || t->in == NULL) continue;
        sl_bytes_t rtcp;
        sl_bytes_init(&rtcp);
        /* Nothing to report before the first packet (SL_ERR_AGAIN). */
        if (sl_rtp_ingest_report(t->in, (uint32_t)s->id, now, &rtcp) == SL_OK) (void)send_rtcp(s, t, &rtcp);
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
        sl_frame_t *config = s->tracks[i].in != NULL ? sl_rtp_ingest_config(s->tracks[i].in) : NULL;
        if (config != NULL) rc = sl_stream_push(s->stream, config, uv_now(s->srv->loop));
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
    sl_subscriber_set_batched(&s->sub);
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
            if (s->tracks[i].in != NULL && sl_rtp_ingest_flush(s->tracks[i].in) != SL_OK)
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
        sl_rtp_ingest_free(s->tracks[i].in);
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
        /* DESCRIBE offered the publisher's audio, which RTSP carries whether AAC or
         * Opus: the transcoder's audio in the other codec is for other players. */
        if (f->flags & SL_FRAME_DERIVED) continue;
        sl_buf_t *packets = sl_frame_enc_get(f, SL_ENC_RTP, 0);
        rtsp_track_t *t = packets != NULL ? player_track(s, f->media) : NULL;
        /* A codec other than the one described (the publisher changed) has no place. */
        if (t == NULL || t->codec != f->codec) continue;
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

/* A publisher's track from one SDP media section. */
static int track_from_sdp(rtsp_session_t *s, const sl_sdp_media_t *sm)
{
    if (s->track_count == RTSP_MAX_TRACKS) return SL_ERR_UNSUPPORTED;
    sl_rtp_ingest_t *in;
    int rc = sl_rtp_ingest_new(sm, emit_frame, s, &in);
    if (rc != SL_OK) return rc;
    const sl_rtp_ingest_info_t *info = sl_rtp_ingest_info(in);
    rtsp_track_t *t = &s->tracks[s->track_count++];
    *t = (rtsp_track_t){.media = info->media, .codec = info->codec, .pt = info->pt, .clock = info->clock, .in = in};
    snprintf(t->control, sizeof(t->control), "%s", sm->control != NULL ? sm->control : "");
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
