/* The JSON documents of the API: the server, streams and clients, in sluice's own
 * shape (/api/v1) and in XIU's (its /api/query_* routes). Built from the hub and
 * the server's client registry at the time of the request. */
#include "src/api/views.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "protocols/codec/info.h"

/* "2026-11-22T02:17:00.123Z" */
static void iso_time(uint64_t unix_ms, char out[32])
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(unix_ms % 1000));
}

static const char *role_name(uint8_t role)
{
    return role == SL_ROLE_PUBLISHER ? "publisher" : role == SL_ROLE_PLAYER ? "player" : "idle";
}

cJSON *sl_api_client_json(const sl_conn_t *c)
{
    cJSON *o = cJSON_CreateObject();
    char t[32];
    iso_time(c->connected_ms, t);
    cJSON_AddNumberToObject(o, "id", (double)c->id);
    cJSON_AddStringToObject(o, "protocol", sl_proto_name(c->proto));
    cJSON_AddStringToObject(o, "role", role_name(c->role));
    if (c->key[0] != '\0' && c->role != SL_ROLE_NONE) cJSON_AddStringToObject(o, "stream", c->key);
    else cJSON_AddNullToObject(o, "stream");
    cJSON_AddStringToObject(o, "remote_address", c->remote);
    cJSON_AddStringToObject(o, "connected", t);
    cJSON_AddNumberToObject(o, "bytes_in", (double)c->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)c->bytes_out);
    cJSON_AddNumberToObject(o, "bitrate_in", (double)sl_conn_bitrate_in(c));
    cJSON_AddNumberToObject(o, "bitrate_out", (double)sl_conn_bitrate_out(c));
    return o;
}

/* The clients of one stream, found in one walk of the registry. */
typedef struct stream_clients {
    const sl_conn_t *publisher;
    size_t players[SL_PROTO_COUNT], player_count;
    uint64_t bytes_out, bitrate_out;
} stream_clients_t;

static void gather(sl_server_t *srv, const char *key, stream_clients_t *sc)
{
    memset(sc, 0, sizeof(*sc));
    for (sl_list_t *pos = srv->conns.next; pos != &srv->conns; pos = pos->next) {
        const sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        if (c->role == SL_ROLE_NONE || strcmp(c->key, key) != 0) continue;
        if (c->role == SL_ROLE_PUBLISHER) {
            sc->publisher = c;
            continue;
        }
        sc->players[c->proto]++;
        sc->player_count++;
        sc->bytes_out += c->bytes_out;
        sc->bitrate_out += sl_conn_bitrate_out(c);
    }
}

static cJSON *track_json(const sl_frame_t *config, double measured_fps)
{
    if (config == NULL) return cJSON_CreateNull();
    sl_codec_info_t info;
    sl_codec_info_of(config, &info);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "codec", info.codec);
    if (info.profile != NULL) cJSON_AddStringToObject(o, "profile", info.profile);
    if (config->media == SL_MEDIA_VIDEO) {
        if (info.level > 0) cJSON_AddNumberToObject(o, "level", info.level);
        cJSON_AddNumberToObject(o, "width", info.width);
        cJSON_AddNumberToObject(o, "height", info.height);
        cJSON_AddNumberToObject(o, "fps", measured_fps);
    } else {
        cJSON_AddNumberToObject(o, "sample_rate", info.sample_rate);
        cJSON_AddNumberToObject(o, "channels", info.channels);
    }
    return o;
}

cJSON *sl_api_stream_json(sl_server_t *srv, sl_stream_t *s)
{
    const char *key = sl_stream_key(s);
    sl_stream_stats_t st;
    sl_stream_get_stats(s, uv_now(srv->loop), &st);
    stream_clients_t sc;
    gather(srv, key, &sc);
    cJSON *o = cJSON_CreateObject();
    char t[32];
    const char *slash = strchr(key, '/');
    cJSON_AddStringToObject(o, "key", key);
    cJSON *app = cJSON_CreateString(key);
    if (app != NULL && slash != NULL) app->valuestring[slash - key] = '\0';
    cJSON_AddItemToObject(o, "app", app);
    cJSON_AddStringToObject(o, "name", slash != NULL ? slash + 1 : key);
    iso_time(sl_unix_ms() - st.age_ms, t);
    cJSON_AddStringToObject(o, "started", t);
    cJSON_AddItemToObject(o, "publisher", sc.publisher ? sl_api_client_json(sc.publisher) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "video", track_json(sl_stream_video_config(s), st.fps));
    cJSON_AddItemToObject(o, "audio", track_json(sl_stream_audio_config(s), 0));
    cJSON_AddNumberToObject(o, "bitrate_in", (double)st.bitrate);
    cJSON_AddNumberToObject(o, "bitrate_out", (double)sc.bitrate_out);
    cJSON_AddNumberToObject(o, "bytes_in", (double)(sc.publisher ? sc.publisher->bytes_in : st.bytes_in));
    cJSON_AddNumberToObject(o, "bytes_out", (double)sc.bytes_out);
    cJSON_AddNumberToObject(o, "frames_in", (double)st.frames_in);
    cJSON *gop = cJSON_AddObjectToObject(o, "gop");
    cJSON_AddNumberToObject(gop, "frames", (double)st.gop_frames);
    cJSON_AddNumberToObject(gop, "ms", (double)st.gop_ms);
    cJSON *subs = cJSON_AddObjectToObject(o, "subscribers");
    cJSON_AddNumberToObject(subs, "total", (double)sc.player_count);
    for (int p = 0; p < SL_PROTO_SESSIONS; p++) cJSON_AddNumberToObject(subs, sl_proto_name(p), (double)sc.players[p]);
    return o;
}

cJSON *sl_api_server_json(sl_server_t *srv)
{
    cJSON *o = cJSON_CreateObject();
    char t[32];
    uint64_t now = sl_unix_ms();
    iso_time(srv->started_ms, t);
    cJSON_AddStringToObject(o, "version", SLUICE_VERSION);
    cJSON_AddStringToObject(o, "started", t);
    cJSON_AddNumberToObject(o, "uptime_s", (double)((now - srv->started_ms) / 1000));
    cJSON_AddNumberToObject(o, "streams", (double)sl_hub_stream_count(srv->hub));
    cJSON_AddNumberToObject(o, "connections", (double)srv->conn_count);
    sl_api_totals_t tot;
    sl_api_totals(srv, &tot);
    cJSON_AddNumberToObject(o, "bytes_in", (double)tot.all_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)tot.all_out);
    cJSON *protos = cJSON_AddObjectToObject(o, "protocols");
    for (int p = 0; p < SL_PROTO_SESSIONS; p++) {
        cJSON *x = cJSON_AddObjectToObject(protos, sl_proto_name(p));
        cJSON_AddNumberToObject(x, "connections", (double)srv->proto_conns[p]);
        cJSON_AddNumberToObject(x, "bytes_in", (double)tot.in[p]);
        cJSON_AddNumberToObject(x, "bytes_out", (double)tot.out[p]);
    }
    return o;
}

void sl_api_totals(sl_server_t *srv, sl_api_totals_t *t)
{
    memset(t, 0, sizeof(*t));
    for (int p = 0; p < SL_PROTO_COUNT; p++) {
        t->in[p] = srv->closed_bytes_in[p];
        t->out[p] = srv->closed_bytes_out[p];
    }
    for (sl_list_t *pos = srv->conns.next; pos != &srv->conns; pos = pos->next) {
        const sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        t->in[c->proto] += c->bytes_in;
        t->out[c->proto] += c->bytes_out;
    }
    for (int p = 0; p < SL_PROTO_COUNT; p++) {
        t->all_in += t->in[p];
        t->all_out += t->out[p];
    }
}

/* ---- XIU's shapes ------------------------------------------------------------ */

/* XIU names protocols "rtmp", "httpflv", "rtsp", "webrtc" in identifiers and
 * "PlayerRtmp", "PlayerHttpFlv"... as subscriber types. */
static const char *xiu_proto(uint8_t p)
{
    static const char *const names[SL_PROTO_COUNT] = {"rtmp", "rtsp", "httpflv", "webrtc", "hls"};
    return p < SL_PROTO_COUNT ? names[p] : "rtmp";
}

static const char *xiu_sub_type(uint8_t p)
{
    static const char *const names[SL_PROTO_COUNT] = {"PlayerRtmp", "PlayerRtsp", "PlayerHttpFlv", "PlayerWebrtc", "PlayerHls"};
    return p < SL_PROTO_COUNT ? names[p] : "PlayerRtmp";
}

/* {"rtmp": {"app_name", "stream_name"}}; RTSP's is {"rtsp": {"stream_path"}}. */
static cJSON *xiu_identifier(uint8_t proto, const char *key)
{
    cJSON *id = cJSON_CreateObject();
    cJSON *x = cJSON_AddObjectToObject(id, xiu_proto(proto));
    if (proto == SL_PROTO_RTSP) {
        cJSON_AddStringToObject(x, "stream_path", key);
        return id;
    }
    const char *slash = strchr(key, '/');
    char app[SL_STREAM_KEY_MAX];
    snprintf(app, sizeof(app), "%.*s", slash ? (int)(slash - key) : 0, key);
    cJSON_AddStringToObject(x, "app_name", app);
    cJSON_AddStringToObject(x, "stream_name", slash ? slash + 1 : key);
    return id;
}

static void xiu_add_track(cJSON *pub, const char *name, const sl_frame_t *config, double fps, uint64_t gop)
{
    if (config == NULL) return;
    sl_codec_info_t info;
    sl_codec_info_of(config, &info);
    cJSON *o = cJSON_AddObjectToObject(pub, name);
    char upper[16], level[16];
    size_t i = 0;
    for (; info.codec[i] && i < sizeof(upper) - 1; i++) upper[i] = (char)toupper((unsigned char)info.codec[i]);
    upper[i] = '\0';
    cJSON_AddStringToObject(o, config->media == SL_MEDIA_VIDEO ? "codec" : "sound_format", upper);
    cJSON_AddStringToObject(o, "profile", info.profile ? info.profile : "");
    if (config->media == SL_MEDIA_VIDEO) {
        snprintf(level, sizeof(level), "%.1f", info.level);
        cJSON_AddStringToObject(o, "level", level);
        cJSON_AddNumberToObject(o, "width", info.width);
        cJSON_AddNumberToObject(o, "height", info.height);
        cJSON_AddNumberToObject(o, "frame_rate", fps);
        cJSON_AddNumberToObject(o, "gop", (double)gop);
    } else {
        cJSON_AddNumberToObject(o, "samplerate", info.sample_rate);
        cJSON_AddNumberToObject(o, "channels", info.channels);
    }
}

cJSON *sl_api_xiu_stream_json(sl_server_t *srv, sl_stream_t *s, uint64_t only_id)
{
    const char *key = sl_stream_key(s);
    sl_stream_stats_t st;
    sl_stream_get_stats(s, uv_now(srv->loop), &st);
    stream_clients_t sc;
    gather(srv, key, &sc);
    cJSON *o = cJSON_CreateObject();
    char t[32];
    cJSON *pub = cJSON_AddObjectToObject(o, "publisher");
    if (sc.publisher != NULL) {
        char id[24];
        snprintf(id, sizeof(id), "%llu", (unsigned long long)sc.publisher->id);
        iso_time(sc.publisher->connected_ms, t);
        cJSON_AddStringToObject(pub, "id", id);
        cJSON_AddStringToObject(pub, "start_time", t);
        cJSON_AddItemToObject(pub, "identifier", xiu_identifier(sc.publisher->proto, key));
        cJSON_AddStringToObject(pub, "remote_address", sc.publisher->remote);
    }
    xiu_add_track(pub, "video", sl_stream_video_config(s), st.fps, st.gop_frames);
    xiu_add_track(pub, "audio", sl_stream_audio_config(s), 0, 0);
    cJSON_AddNumberToObject(pub, "recv_bitrate(kbits/s)", (double)(st.bitrate / 1000));
    cJSON_AddNumberToObject(o, "subscriber_count", (double)sc.player_count);
    cJSON *subs = cJSON_AddObjectToObject(o, "subscribers");
    for (sl_list_t *pos = srv->conns.next; pos != &srv->conns; pos = pos->next) {
        const sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        if (c->role != SL_ROLE_PLAYER || strcmp(c->key, key) != 0) continue;
        /* XIU: the id of a subscriber keeps only it; that of the publisher, none. */
        if (only_id != 0 && only_id != c->id) continue;
        char id[24];
        snprintf(id, sizeof(id), "%llu", (unsigned long long)c->id);
        iso_time(c->connected_ms, t);
        cJSON *x = cJSON_AddObjectToObject(subs, id);
        cJSON_AddStringToObject(x, "id", id);
        cJSON_AddStringToObject(x, "remote_address", c->remote);
        cJSON_AddNumberToObject(x, "send_bitrate(kbits/s)", (double)(sl_conn_bitrate_out(c) / 1000));
        cJSON_AddStringToObject(x, "start_time", t);
        cJSON_AddStringToObject(x, "sub_type", xiu_sub_type(c->proto));
        cJSON_AddNumberToObject(x, "total_send_bytes", (double)c->bytes_out);
    }
    cJSON_AddNumberToObject(o, "total_recv_bytes", (double)(sc.publisher ? sc.publisher->bytes_in : st.bytes_in));
    cJSON_AddNumberToObject(o, "total_send_bytes", (double)sc.bytes_out);
    return o;
}
