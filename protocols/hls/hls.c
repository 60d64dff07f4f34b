/* The HLS glue: follows published streams through the hub (an internal subscriber
 * per stream), cuts and muxes segments, keeps the window, answers HTTP, hands
 * finished segments to the recorder. */
#include "protocols/hls/hls.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "protocols/hls/path.h"
#include "protocols/hls/playlist.h"
#include "protocols/hls/record.h"
#include "protocols/hls/segmenter.h"
#include "protocols/hls/ts_mux.h"
#include "protocols/relay/relay.h"
#include "sluice/admit.h"
#include "sluice/log.h"
#include "sluice/transcode.h"

/* Segments kept after they leave the playlist, for players a poll behind. */
#define WINDOW_EXTRA 2
/* A playlist request for a stream that has no segment yet waits this long. */
#define FIRST_SEGMENT_WAIT_MS 15000
/* The window of a stream whose publisher left stays servable this long. */
#define KEEP_AFTER_END_MS 30000

typedef struct sl_hls_module {
    sl_server_t *srv;
    sl_hub_observer_t observer;
    sl_list_t streams;
    uv_timer_t sweep;
} hls_module_t;

typedef struct hls_stream {
    sl_list_t link;
    hls_module_t *mod;
    char key[SL_STREAM_KEY_MAX];
    sl_subscriber_t sub;
    /* MPEG-TS here carries AAC only: while live, Opus audio is transcoded for us. */
    sl_transcode_t *transcode;
    bool aac_missed; /* a segment declared the transcoded AAC track and got no config */
    sl_deferred_t work;
    bool live;      /* subscribed to a published stream */
    bool restarted; /* the next segment follows a publisher restart */
    uint64_t ended_ms;

    sl_hls_cutter_t cutter;
    sl_hls_window_t window;
    sl_ts_muxer_t ts;
    bool ts_ready;
    uint8_t vcodec, acodec; /* the muxer's tracks */
    sl_bytes_t bytes;       /* the open segment */
    sl_hls_segment_t seg;
    bool seg_open;
    sl_hls_recorder_t *rec;
    sl_list_t waiting; /* playlist requests waiting for the first segment */
    /* One relay pull wait for all the playlist requests of a stream this (edge)
     * server does not have yet. */
    sl_relay_wait_t pull;
    bool pulling;
    uint64_t frames_dropped;
} hls_stream_t;

typedef struct waiting {
    sl_list_t link;
    hls_stream_t *hs;
    sl_http_conn_t *conn;
    uint64_t deadline_ms;
    char query[SL_HTTP_MAX_PATH];
} waiting_t;

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static uint64_t now_ms(const hls_module_t *m) { return uv_now(m->srv->loop); }
static int target_s(const hls_module_t *m) { return (int)((m->srv->cfg->hls.segment_duration_ms + 999) / 1000); }

static hls_stream_t *find_stream(hls_module_t *m, const char *key)
{
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &m->streams) {
        hls_stream_t *hs = sl_container_of(pos, hls_stream_t, link);
        if (strcmp(hs->key, key) == 0) return hs;
    }
    return NULL;
}

/* ---- answering -------------------------------------------------------- */

/* query: the request's, repeated on segment URIs so that they carry its token. */
static int respond_playlist(hls_stream_t *hs, sl_http_conn_t *c, const char *query)
{
    sl_bytes_t text;
    sl_bytes_init(&text);
    int rc = sl_hls_playlist_live(&hs->window, target_s(hs->mod), query, &text);
    if (rc == SL_OK)
        rc = sl_http_respond_ex(c, 200, "application/vnd.apple.mpegurl", "Cache-Control: no-cache\r\n",
                                text.data, text.len);
    else
        rc = sl_http_respond_error(c, 404, "no segment yet");
    sl_bytes_free(&text);
    return rc;
}

static void waiting_free(waiting_t *w)
{
    sl_list_remove(&w->link);
    free(w);
}

/* The last request waiting for a pull went away: nobody needs the pull any more. */
static void stop_pull_wait(hls_stream_t *hs)
{
    if (!hs->pulling) return;
    sl_relay_wait_cancel(&hs->pull);
    hs->pulling = false;
    if (!hs->live) hs->ended_ms = now_ms(hs->mod);
}

static void on_waiting_conn_closed(void *arg)
{
    waiting_t *w = arg;
    hls_stream_t *hs = w->hs;
    waiting_free(w);
    if (sl_list_empty(&hs->waiting)) stop_pull_wait(hs);
}

/* Answers every request waiting on hs: with the playlist once there is one. */
static void answer_waiting(hls_stream_t *hs, bool expired_only)
{
    uint64_t now = now_ms(hs->mod);
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &hs->waiting) {
        waiting_t *w = sl_container_of(pos, waiting_t, link);
        if (expired_only && now < w->deadline_ms) continue;
        sl_http_conn_t *c = w->conn;
        char query[SL_HTTP_MAX_PATH];
        snprintf(query, sizeof(query), "%s", w->query);
        waiting_free(w);
        (void)respond_playlist(hs, c, query);
    }
}

/* The pull failed: the window of a stream that ended recently is still what it has
 * to show, otherwise status. */
static void fail_waiting(hls_stream_t *hs, int status, const char *detail)
{
    if (hs->window.count > 0) {
        answer_waiting(hs, false);
        return;
    }
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &hs->waiting) {
        waiting_t *w = sl_container_of(pos, waiting_t, link);
        sl_http_conn_t *c = w->conn;
        waiting_free(w);
        (void)sl_http_respond_error(c, status, detail);
    }
}

/* The requests that waited for a pull now wait for the first segment, for as long
 * as any request would. */
static void restart_deadlines(hls_stream_t *hs)
{
    uint64_t deadline = now_ms(hs->mod) + FIRST_SEGMENT_WAIT_MS;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &hs->waiting) sl_container_of(pos, waiting_t, link)->deadline_ms = deadline;
}

static int wait_first_segment(hls_stream_t *hs, sl_http_conn_t *c, const char *query)
{
    waiting_t *w = calloc(1, sizeof(*w));
    if (w == NULL) return sl_http_respond_error(c, 503, NULL);
    w->hs = hs;
    w->conn = c;
    snprintf(w->query, sizeof(w->query), "%s", query);
    w->deadline_ms = now_ms(hs->mod) + FIRST_SEGMENT_WAIT_MS;
    sl_list_insert_tail(&hs->waiting, &w->link);
    sl_http_conn_on_close(c, on_waiting_conn_closed, w);
    return SL_OK;
}

/* ---- segments ---------------------------------------------------------- */

static void set_config(hls_stream_t *hs, const sl_frame_t *config)
{
    int rc = sl_ts_muxer_set_config(&hs->ts, config);
    if (rc != SL_OK) SL_WARN("hls %s: %s config refused: %s", hs->key, sl_codec_name(config->codec), sl_strerror(rc));
}

/* Whether the muxer gets an AAC track: the stream has AAC audio (the publisher's,
 * or made of its Opus by the transcoder), or is about to. The transcoder's config
 * may come after the first keyframe (it is deferred work like the muxer, and a
 * muxer attached to a running stream is served its GOP cache first); the track is
 * declared then and its config taken from the log.
 * A transcoder that never delivers (it refused this audio) must not leave every
 * segment with an empty audio track that players wait on: one segment without its
 * config and the track is dropped, until a config shows up. */
static bool wants_aac(const hls_stream_t *hs, const sl_frame_t *aac_config)
{
    if (aac_config != NULL) return true;
    const sl_frame_t *ac = sl_stream_audio_config(hs->sub.stream);
    return hs->transcode != NULL && !hs->aac_missed && ac != NULL && ac->codec == SL_CODEC_OPUS;
}

/* The muxer's tracks follow the stream's codec configs; a change of tracks makes a
 * new muxer (and a discontinuity). */
static bool prepare_muxer(hls_stream_t *hs)
{
    const sl_frame_t *vc = sl_stream_video_config(hs->sub.stream);
    const sl_frame_t *ac = sl_stream_audio_config_of(hs->sub.stream, SL_CODEC_AAC);
    /* MPEG-TS here carries H.264, H.265 and AAC: a stream with Opus audio (from
     * WebRTC) and no transcoder is served as video-only HLS rather than not at all. */
    uint8_t v = vc != NULL && (vc->codec == SL_CODEC_H264 || vc->codec == SL_CODEC_H265) ? vc->codec : SL_CODEC_NONE;
    uint8_t a = wants_aac(hs, ac) ? SL_CODEC_AAC : SL_CODEC_NONE;
    if (hs->ts_ready && v == hs->vcodec && a == hs->acodec) return false;
    if (hs->ts_ready) sl_ts_muxer_free(&hs->ts);
    hs->ts_ready = sl_ts_muxer_init(&hs->ts, v, a) == SL_OK;
    hs->vcodec = v;
    hs->acodec = a;
    if (hs->ts_ready && v != SL_CODEC_NONE) set_config(hs, vc);
    if (hs->ts_ready && ac != NULL && a != SL_CODEC_NONE) set_config(hs, ac);
    return true;
}

static void close_segment(hls_stream_t *hs, int64_t duration_ts)
{
    if (!hs->seg_open) return;
    hs->seg_open = false;
    if (hs->acodec == SL_CODEC_AAC && !hs->ts.audio_ready) hs->aac_missed = true;
    sl_buf_t *data = sl_bytes_to_buf(&hs->bytes);
    sl_bytes_free(&hs->bytes);
    if (data == NULL) return;
    hs->seg.duration_ts = duration_ts;
    hs->seg.data = sl_buf_ref(data);
    sl_hls_window_push(&hs->window, &hs->seg);
    hs->seg.data = data;
    if (hs->rec != NULL) sl_hls_recorder_add(hs->rec, &hs->seg);
    hs->seg.data = NULL;
    sl_buf_unref(data);
    answer_waiting(hs, false);
}

static void open_segment(hls_stream_t *hs, bool discontinuity)
{
    bool new_tracks = prepare_muxer(hs);
    hs->seg = (sl_hls_segment_t){
        .start_ts = hs->cutter.seg_start_ts,
        .pdt_ms = wall_ms(),
        .discontinuity = discontinuity || hs->restarted || (new_tracks && hs->window.count > 0),
    };
    hs->restarted = false;
    hs->seg_open = hs->ts_ready && sl_ts_muxer_write_tables(&hs->ts, &hs->bytes) == SL_OK;
}

static void mux_frame(hls_stream_t *hs, const sl_frame_t *f)
{
    if (f->media == SL_MEDIA_DATA) return;
    /* Opus (the publisher's, or made of its AAC for WebRTC players) is not for
     * MPEG-TS, and must not reach the cutter either: interleaved with the AAC track
     * made of it, whose frames come a few tens of ms late, its timestamps would look
     * like an audio clock going backwards, a discontinuity at every frame. */
    if (f->media == SL_MEDIA_AUDIO && f->codec != SL_CODEC_AAC) return;
    if (f->flags & SL_FRAME_CONFIG) {
        if (hs->ts_ready && (f->codec == hs->vcodec || f->codec == hs->acodec)) set_config(hs, f);
        return;
    }
    /* Video that starts after the audio (an RTSP publisher's first keyframe comes a
     * GOP late) starts a segment of its own at its first keyframe, so its muxer has
     * the video track from there on. */
    if (f->media == SL_MEDIA_VIDEO && (f->flags & SL_FRAME_KEY) && hs->seg_open && hs->vcodec == SL_CODEC_NONE) {
        int64_t duration = f->dts - hs->cutter.seg_start_ts;
        sl_hls_cutter_init(&hs->cutter, SL_MS_TO_TS(hs->mod->srv->cfg->hls.segment_duration_ms), true);
        hs->cutter.closed_duration_ts = duration;
        close_segment(hs, duration);
    }
    bool discontinuity;
    if (sl_hls_cutter_should_cut(&hs->cutter, f, &discontinuity)) {
        close_segment(hs, hs->cutter.closed_duration_ts);
        open_segment(hs, discontinuity);
    }
    /* Frames before their track's config, or of a track the muxer lacks, are dropped. */
    if (!hs->seg_open || sl_ts_muxer_write_frame(&hs->ts, f, &hs->bytes) != SL_OK) hs->frames_dropped++;
}

static void drain(hls_stream_t *hs)
{
    sl_frame_t *f;
    while ((f = sl_subscriber_next(&hs->sub)) != NULL) mux_frame(hs, f);
}

static void run_work(sl_deferred_t *d) { drain(sl_container_of(d, hls_stream_t, work)); }

static void on_ready(sl_subscriber_t *sub)
{
    hls_stream_t *hs = sl_container_of(sub, hls_stream_t, sub);
    sl_server_defer(hs->mod->srv, &hs->work);
}

/* The muxer runs in the loop, never behind: it cannot lag, so this does not happen;
 * if it ever did, the stream would simply stop being segmented until republished.
 * Its transcoder is released later (attach, stream_free), not while the hub walks
 * the stream's subscribers, the transcoder's among them. */
static void on_too_slow(sl_subscriber_t *sub)
{
    hls_stream_t *hs = sl_container_of(sub, hls_stream_t, sub);
    SL_WARN("hls %s: fell behind, segmenting stops until the stream is published again", hs->key);
    hs->live = false;
}

static const sl_subscriber_ops_t muxer_ops = {.on_ready = on_ready, .on_too_slow = on_too_slow};

/* ---- stream lifetime --------------------------------------------------- */

static void on_recorded(void *arg, const char *key, const char *dir) { sl_hook_record(arg, key, dir); }

static bool wants_recording(const sl_config_t *cfg, const char *key)
{
    if (!cfg->record.enabled) return false;
    char patterns[sizeof(cfg->record.streams)], *save = NULL;
    snprintf(patterns, sizeof(patterns), "%s", cfg->record.streams);
    for (char *p = strtok_r(patterns, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save))
        if (fnmatch(p, key, 0) == 0) return true;
    return false;
}

static hls_stream_t *stream_new(hls_module_t *m, const char *key)
{
    hls_stream_t *hs = calloc(1, sizeof(*hs));
    if (hs == NULL) return NULL;
    if (sl_hls_window_init(&hs->window, m->srv->cfg->hls.playlist_length, WINDOW_EXTRA) != SL_OK) {
        free(hs);
        return NULL;
    }
    hs->mod = m;
    snprintf(hs->key, sizeof(hs->key), "%s", key);
    sl_list_init(&hs->work.link);
    hs->work.run = run_work;
    sl_list_init(&hs->waiting);
    sl_bytes_init(&hs->bytes);
    sl_list_insert_tail(&m->streams, &hs->link);
    return hs;
}

static void release_transcode(hls_stream_t *hs)
{
    sl_transcode_release(hs->transcode);
    hs->transcode = NULL;
}

static void stream_free(hls_stream_t *hs)
{
    /* Still held only after the muxer fell behind (see on_too_slow). */
    release_transcode(hs);
    sl_relay_wait_cancel(&hs->pull);
    answer_waiting(hs, false);
    sl_server_cancel(&hs->work);
    sl_list_remove(&hs->link);
    if (hs->ts_ready) sl_ts_muxer_free(&hs->ts);
    sl_hls_window_free(&hs->window);
    sl_bytes_free(&hs->bytes);
    free(hs);
}

/* Starts segmenting the live stream `key`; the HLS state of a key outlives its
 * publisher, so a republished stream continues the numbering after a
 * discontinuity. SL_ERR_NOT_FOUND when nobody publishes key. */
static int attach(hls_module_t *m, const char *key, hls_stream_t **out)
{
    hls_stream_t *hs = find_stream(m, key);
    bool fresh = hs == NULL;
    if (fresh && (hs = stream_new(m, key)) == NULL) return SL_ERR_NOMEM;
    int rc = sl_hub_subscribe(m->srv->hub, key, &hs->sub, &muxer_ops, now_ms(m));
    if (rc != SL_OK) {
        if (fresh) stream_free(hs);
        return rc;
    }
    /* The muxer runs whether or not anyone watches: HLS players keep a pulled
     * stream alive through their requests (sl_relay_touch), not through it. */
    sl_subscriber_set_passive(&hs->sub);
    release_transcode(hs);
    hs->transcode = sl_transcode_want(m->srv, hs->sub.stream, SL_CODEC_AAC);
    hs->aac_missed = false;
    const sl_config_t *cfg = m->srv->cfg;
    hs->live = true;
    /* A stream made to wait for a pull has no segments to be discontinuous with. */
    hs->restarted = hs->window.count > 0;
    sl_hls_cutter_init(&hs->cutter, SL_MS_TO_TS(cfg->hls.segment_duration_ms), sl_stream_has_video(hs->sub.stream));
    if (wants_recording(cfg, key))
        hs->rec = sl_hls_recorder_start(m->srv->loop, cfg->record.path, key, target_s(m));
    SL_INFO("hls %s: segmenting%s", key, hs->restarted ? " (after a restart)" : "");
    *out = hs;
    return SL_OK;
}

/* The publisher left: everything it sent is muxed, the last segment closed, the
 * recording finished. */
static void detach(hls_stream_t *hs)
{
    drain(hs);
    if (hs->frames_dropped > 0)
        SL_INFO("hls %s: %llu frames could not be muxed (before their codec config, or of an "
                "unsupported codec)", hs->key, (unsigned long long)hs->frames_dropped);
    hs->frames_dropped = 0;
    close_segment(hs, sl_hls_cutter_duration(&hs->cutter));
    /* Before the detach: our subscriber may be what keeps the stream alive. */
    release_transcode(hs);
    sl_subscriber_detach(&hs->sub);
    sl_server_cancel(&hs->work);
    if (hs->rec != NULL) sl_hls_recorder_finish(hs->rec, on_recorded, hs->mod->srv);
    hs->rec = NULL;
    hs->live = false;
    hs->ended_ms = now_ms(hs->mod);
    answer_waiting(hs, false);
}

/* The pull that playlist requests waited for is over. On success the stream was
 * attached when it was published (on_publish), unless that failed. */
static void on_pull_done(sl_relay_wait_t *w, int status)
{
    hls_stream_t *hs = sl_container_of(w, hls_stream_t, pull);
    hs->pulling = false;
    if (status == SL_OK && !hs->live) status = attach(hs->mod, hs->key, &hs);
    if (status == SL_OK) {
        restart_deadlines(hs);
        return;
    }
    if (!hs->live) hs->ended_ms = now_ms(hs->mod);
    if (status == SL_ERR_TIMEOUT) fail_waiting(hs, 504, "no origin answered in time");
    else if (status == SL_ERR_NOT_FOUND) fail_waiting(hs, 404, "stream not found");
    else fail_waiting(hs, 503, NULL);
}

/* A playlist request for a stream the hub does not have waits for its relay pull,
 * when a relay.pull rule covers it; hs is the stream's HLS state, if it has one. */
static int wait_pull(hls_module_t *m, hls_stream_t *hs, sl_http_conn_t *c, const char *key, const char *query)
{
    bool fresh = hs == NULL;
    if (fresh && (hs = stream_new(m, key)) == NULL) return sl_http_respond_error(c, 503, NULL);
    int rc = SL_OK;
    if (!hs->pulling) {
        hs->pull.done = on_pull_done;
        rc = sl_relay_wait(m->srv, key, &hs->pull);
        hs->pulling = rc == SL_OK;
    }
    if (rc == SL_OK) return wait_first_segment(hs, c, query);
    if (fresh) stream_free(hs);
    else if (rc == SL_ERR_NOT_FOUND && hs->window.count > 0) return respond_playlist(hs, c, query);
    return rc == SL_ERR_NOT_FOUND ? sl_http_respond_error(c, 404, "stream not found") : sl_http_respond_error(c, 503, NULL);
}

static void on_publish(sl_hub_observer_t *o, sl_stream_t *s)
{
    hls_module_t *m = sl_container_of(o, hls_module_t, observer);
    hls_stream_t *hs = find_stream(m, sl_stream_key(s));
    /* On demand, a stream whose pull players wait for is demanded already. */
    bool demanded = hs != NULL && hs->pulling;
    if (!m->srv->cfg->hls.on_demand || demanded || wants_recording(m->srv->cfg, sl_stream_key(s)))
        (void)attach(m, sl_stream_key(s), &hs);
}

static void on_unpublish(sl_hub_observer_t *o, sl_stream_t *s)
{
    hls_module_t *m = sl_container_of(o, hls_module_t, observer);
    hls_stream_t *hs = find_stream(m, sl_stream_key(s));
    if (hs != NULL && hs->sub.stream == s) detach(hs);
}

/* Expires waiting requests and forgets streams whose publisher left long ago. */
static void on_sweep(uv_timer_t *t)
{
    hls_module_t *m = t->data;
    uint64_t now = now_ms(m);
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &m->streams) {
        hls_stream_t *hs = sl_container_of(pos, hls_stream_t, link);
        /* A request waiting for the first segment of a pulled stream watches it
         * already: the pull must not go idle under it. */
        if (!sl_list_empty(&hs->waiting)) sl_relay_touch(m->srv, hs->key);
        /* Requests waiting for a pull wait for its outcome, which always comes. */
        if (hs->pulling) continue;
        answer_waiting(hs, true);
        if (!hs->live && now - hs->ended_ms > KEEP_AFTER_END_MS) stream_free(hs);
    }
}

/* ---- HTTP --------------------------------------------------------------- */

static int serve_segment(hls_stream_t *hs, sl_http_conn_t *c, uint64_t seq)
{
    const sl_hls_segment_t *seg = hs != NULL ? sl_hls_window_find(&hs->window, seq) : NULL;
    if (seg == NULL) return sl_http_respond_error(c, 404, "no such segment");
    /* Segments never change once made: players and caches may keep them. */
    return sl_http_respond_buf(c, 200, "video/mp2t", "Cache-Control: public, max-age=3600\r\n", seg->data);
}

static int serve_playlist(hls_module_t *m, hls_stream_t *hs, sl_http_conn_t *c, const char *key, const char *query)
{
    if (hs == NULL || !hs->live) {
        /* On demand, the first request starts the muxer. */
        int rc = m->srv->cfg->hls.on_demand ? attach(m, key, &hs) : SL_ERR_NOT_FOUND;
        if (rc == SL_ERR_NOT_FOUND && sl_hub_find(m->srv->hub, key) == NULL) return wait_pull(m, hs, c, key, query);
        if (rc == SL_ERR_NOT_FOUND && hs != NULL && hs->window.count > 0) return respond_playlist(hs, c, query);
        if (rc != SL_OK) return sl_http_respond_error(c, 404, "stream not found");
    }
    if (sl_hls_window_listed_count(&hs->window) == 0) return wait_first_segment(hs, c, query);
    return respond_playlist(hs, c, query);
}

static bool is_hls_path(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && strcmp(path + n - 5, ".m3u8") == 0) || (n > 3 && strcmp(path + n - 3, ".ts") == 0);
}

static int handle(void *arg, sl_http_conn_t *c, const sl_http_request_t *req)
{
    hls_module_t *m = arg;
    char key[SL_STREAM_KEY_MAX];
    int kind;
    uint64_t seq;
    int rc = sl_hls_route(req->path, key, sizeof(key), &kind, &seq);
    if (rc == SL_ERR_PROTO && is_hls_path(req->path)) return sl_http_respond_error(c, 400, "bad stream name");
    if (rc != SL_OK) return SL_ERR_NOT_FOUND;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return sl_http_respond_ex(c, 405, "text/plain", "Allow: GET, HEAD\r\n", "405 Method Not Allowed\n", 23);
    /* Playlist and segments alike need the token: segment URIs carry the playlist's. */
    sl_admit_req_t ar = {.proto = SL_PROTO_HLS, .dir = SL_DIR_PLAY, .client_id = sl_http_conn_id(c), .key = key,
                         .query = req->query, .remote = sl_http_conn_peer(c)};
    const char *why = NULL;
    if (sl_admit_token(m->srv, &ar, &why) != SL_OK) return sl_http_respond_error(c, 401, why);
    /* Each request of an HLS player is on its own: this is what keeps a pulled
     * stream watched. */
    sl_relay_touch(m->srv, key);
    hls_stream_t *hs = find_stream(m, key);
    return kind == SL_HLS_SEGMENT ? serve_segment(hs, c, seq) : serve_playlist(m, hs, c, key, req->query);
}

/* ---- module ------------------------------------------------------------- */

int sl_hls_start(sl_server_t *srv)
{
    if (!srv->cfg->hls.enabled && !srv->cfg->record.enabled) return SL_OK;
    hls_module_t *m = calloc(1, sizeof(*m));
    if (m == NULL) return SL_ERR_NOMEM;
    m->srv = srv;
    sl_list_init(&m->streams);
    m->observer.on_publish = on_publish;
    m->observer.on_unpublish = on_unpublish;
    sl_hub_observe(srv->hub, &m->observer);
    uv_timer_init(srv->loop, &m->sweep);
    m->sweep.data = m;
    uv_timer_start(&m->sweep, on_sweep, 500, 500);
    srv->hls = m;
    if (srv->cfg->hls.enabled && srv->http != NULL) return sl_http_server_add_handler(srv->http, handle, m);
    return SL_OK;
}

static void on_sweep_closed(uv_handle_t *h) { free(h->data); }

void sl_hls_stop(sl_server_t *srv)
{
    hls_module_t *m = srv->hls;
    if (m == NULL) return;
    srv->hls = NULL;
    sl_list_t *pos, *tmp;
    sl_list_foreach_safe(pos, tmp, &m->streams) {
        hls_stream_t *hs = sl_container_of(pos, hls_stream_t, link);
        if (hs->live) detach(hs);
        stream_free(hs);
    }
    sl_hub_unobserve(&m->observer);
    uv_close((uv_handle_t *)&m->sweep, on_sweep_closed);
}
