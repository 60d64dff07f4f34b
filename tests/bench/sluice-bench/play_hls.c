/* The HLS player of sluice-bench: one HTTP/1.1 keep-alive connection per player,
 * one request at a time, as a browser player's worker would do it:
 *
 *   GET the playlist URL; a multivariant playlist names a media playlist (its
 *   first variant), which is fetched instead;
 *   start at the live edge as hls.js does: the third segment from the end;
 *   GET every segment from there in order, reload the media playlist every half
 *   target duration, skip a segment that is gone (404) or that left the window.
 *
 * Responses are read with the server's HTTP response parser (sluice/http_client.h)
 * and segments demuxed with its MPEG-TS demuxer (protocols/hls/ts_demux.h): each
 * H.264 PES is an Annex B access unit, each AAC PES holds ADTS frames.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"
#include "protocols/codec/aac.h"
#include "protocols/codec/h264.h"
#include "protocols/hls/ts_demux.h"
#include "sluice/http_client.h"

/* Each player reads into its own buffer, allocated with it; the response parser
 * gathers the body, so the read size only sets how many reads a segment takes. */
#define READ_BUFFER (16 * 1024)
/* Bounds on what the server sends: a playlist, a segment. */
#define MAX_PLAYLIST_BODY (1u << 20)
#define MAX_SEGMENT_BODY (64u << 20)
/* Segments of the last playlist remembered; a live window is a handful. */
#define MAX_LISTED 64
/* hls.js starts this many segments from the end of a live playlist. */
#define LIVE_EDGE_SEGMENTS 3
/* When a playlist names no EXT-X-TARGETDURATION (it must), in seconds. */
#define DEFAULT_TARGET_S 2
#define TARGET_MAX (SL_HTTP_URL_MAX_TARGET + 1)

typedef enum { REQ_NONE, REQ_PLAYLIST, REQ_SEGMENT } request_kind_t;

/* A segment of the last media playlist: its URI is a slice of the playlist text. */
typedef struct listed {
    uint64_t seq;
    size_t off, len;
} listed_t;

typedef struct hls_player {
    bench_player_t *p;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t reload;
    int open_handles;
    bool closing, connected, stalled, reload_due, started;
    sl_http_url_t url;
    char media_target[TARGET_MAX]; /* the media playlist's path and query */

    request_kind_t in_flight;
    sl_http_response_t resp;

    sl_bytes_t playlist; /* the last media playlist's text, NUL-terminated */
    listed_t listed[MAX_LISTED];
    int listed_count;
    uint64_t next_seq; /* the next segment to fetch */

    sl_ts_demuxer_t demux;
    uint8_t read_buf[READ_BUFFER];
} hls_player_t;

typedef struct write_req {
    uv_write_t req;
    uint8_t data[];
} write_req_t;

/* ---- closing -------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    hls_player_t *r = h->data;
    if (--r->open_handles > 0) return;
    bench_player_t *p = r->p;
    p->proto_state = NULL;
    sl_http_response_free(&r->resp);
    sl_bytes_free(&r->playlist);
    sl_ts_demuxer_free(&r->demux);
    free(r);
    bench_player_closed(p);
}

static void close_player(hls_player_t *r)
{
    if (r->closing) return;
    r->closing = true;
    uv_close((uv_handle_t *)&r->reload, on_handle_closed);
    uv_close((uv_handle_t *)&r->tcp, on_handle_closed);
}

static void fail(hls_player_t *r, const char *message)
{
    if (r->closing) return;
    bench_player_failed(r->p, message);
    close_player(r);
}

/* ---- requests ------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    hls_player_t *r = req->handle->data;
    free(req);
    if (status < 0 && status != UV_ECANCELED) fail(r, "hls: write failed");
}

/* Sends "GET target" (a path and query the caller checked); a request is sent
 * every second or two, a copy each is nothing. */
static void send_get(hls_player_t *r, const char *target, request_kind_t kind)
{
    char head[TARGET_MAX + SL_HTTP_URL_MAX_HOST + 128];
    int n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: sluice-bench\r\n\r\n",
                     target, r->url.host, (unsigned)r->url.port);
    write_req_t *w = n > 0 && (size_t)n < sizeof(head) ? malloc(sizeof(*w) + (size_t)n) : NULL;
    if (w == NULL) {
        fail(r, "hls: request too long");
        return;
    }
    memcpy(w->data, head, (size_t)n);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, on_written) != 0) {
        free(w);
        fail(r, "hls: write failed");
        return;
    }
    sl_http_response_free(&r->resp);
    sl_http_response_init(&r->resp, kind == REQ_SEGMENT ? MAX_SEGMENT_BODY : MAX_PLAYLIST_BODY);
    r->in_flight = kind;
}

/* Resolves a playlist URI against the path of the playlist that names it (RFC
 * 3986 for the forms playlists use): an absolute http URL keeps its path (the
 * connection is to one server anyway), "/..." is taken as is, anything else
 * replaces the last segment of base's path. false when it does not fit or holds
 * bytes a request line cannot carry. */
static bool resolve(const char *base, const char *uri, size_t len, char out[TARGET_MAX])
{
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)uri[i] <= 0x20 || uri[i] == 0x7f) return false;
    size_t keep = 0;
    if (len >= 7 && strncasecmp(uri, "http://", 7) == 0) {
        const char *path = memchr(uri + 7, '/', len - 7);
        if (path == NULL) return false;
        len -= (size_t)(path - uri);
        uri = path;
    } else if (len == 0 || uri[0] != '/') {
        size_t path_len = strcspn(base, "?");
        while (path_len > 0 && base[path_len - 1] != '/') path_len--;
        keep = path_len;
    }
    if (keep + len >= TARGET_MAX) return false;
    memmove(out, base, keep); /* out may be base itself */
    memcpy(out + keep, uri, len);
    out[keep + len] = '\0';
    return true;
}

static const listed_t *find_listed(const hls_player_t *r, uint64_t seq)
{
    if (r->listed_count == 0 || seq < r->listed[0].seq) return NULL;
    uint64_t i = seq - r->listed[0].seq;
    return i < (uint64_t)r->listed_count ? &r->listed[i] : NULL;
}

/* One request at a time: the next segment when the playlist lists it, else the
 * playlist when its reload is due. */
static void next_request(hls_player_t *r)
{
    if (r->in_flight != REQ_NONE || r->stalled || r->closing) return;
    const listed_t *seg = find_listed(r, r->next_seq);
    if (seg != NULL) {
        char target[TARGET_MAX];
        if (!resolve(r->media_target, (const char *)r->playlist.data + seg->off, seg->len, target)) {
            fail(r, "hls: bad segment URI");
            return;
        }
        send_get(r, target, REQ_SEGMENT);
    } else if (r->reload_due) {
        r->reload_due = false;
        send_get(r, r->media_target, REQ_PLAYLIST);
    }
}

static void on_reload(uv_timer_t *t)
{
    hls_player_t *r = t->data;
    r->reload_due = true;
    next_request(r);
}

/* ---- playlists ------------------------------------------------------------------ */

/* The next line of text[*pos..end) without its CR LF, advancing *pos; NULL at the
 * end. */
static const char *next_line(const char *text, size_t end, size_t *pos, size_t *len)
{
    if (*pos >= end) return NULL;
    const char *line = text + *pos;
    const char *nl = memchr(line, '\n', end - *pos);
    size_t n = nl != NULL ? (size_t)(nl - line) : end - *pos;
    *pos += n + (nl != NULL);
    if (n > 0 && line[n - 1] == '\r') n--;
    *len = n;
    return line;
}

static bool has_prefix(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

/* The decimal number after prefix on a tag line (0 when there is none). */
static uint64_t tag_number(const char *line, size_t len, const char *prefix)
{
    uint64_t v = 0;
    for (size_t i = strlen(prefix); i < len && line[i] >= '0' && line[i] <= '9' && v < UINT64_MAX / 10; i++)
        v = v * 10 + (uint64_t)(line[i] - '0');
    return v;
}

/* A multivariant playlist: the URI of its first variant becomes the playlist to
 * fetch. true when the body is one. */
static bool follow_variant(hls_player_t *r, const char *text, size_t end)
{
    size_t pos = 0, len;
    const char *line;
    bool variant = false;
    while ((line = next_line(text, end, &pos, &len)) != NULL) {
        if (has_prefix(line, len, "#EXT-X-STREAM-INF")) variant = true;
        else if (variant && len > 0 && line[0] != '#') break;
    }
    if (!variant) return false;
    if (line == NULL || !resolve(r->media_target, line, len, r->media_target)) fail(r, "hls: bad variant URI");
    else r->reload_due = true; /* next_request fetches it at once */
    return true;
}

static void add_listed(hls_player_t *r, uint64_t seq, size_t off, size_t len)
{
    if (r->listed_count == MAX_LISTED) {
        memmove(r->listed, r->listed + 1, sizeof(r->listed[0]) * (MAX_LISTED - 1));
        r->listed_count--;
    }
    r->listed[r->listed_count++] = (listed_t){.seq = seq, .off = off, .len = len};
}

/* Lists the segments of a media playlist (kept in r->playlist) and returns its
 * target duration in seconds. */
static uint64_t list_segments(hls_player_t *r)
{
    const char *text = (const char *)r->playlist.data;
    size_t end = r->playlist.len - 1, pos = 0, len;
    const char *line;
    uint64_t seq = 0, target = DEFAULT_TARGET_S;
    r->listed_count = 0;
    while ((line = next_line(text, end, &pos, &len)) != NULL) {
        if (has_prefix(line, len, "#EXT-X-MEDIA-SEQUENCE:")) seq = tag_number(line, len, "#EXT-X-MEDIA-SEQUENCE:");
        else if (has_prefix(line, len, "#EXT-X-TARGETDURATION:"))
            target = tag_number(line, len, "#EXT-X-TARGETDURATION:");
        else if (len > 0 && line[0] != '#') add_listed(r, seq++, (size_t)(line - text), len);
    }
    return target > 0 ? target : DEFAULT_TARGET_S;
}

/* The first media playlist that lists segments starts playback at the live edge;
 * every later one only moves the next segment forward when we fell behind. The
 * first media playlist starts the reloads. */
static void take_media_playlist(hls_player_t *r, const uint8_t *body, size_t len)
{
    r->playlist.len = 0;
    if (sl_bytes_append(&r->playlist, body, len) != SL_OK || sl_bytes_put_u8(&r->playlist, 0) != SL_OK) {
        fail(r, "hls: out of memory");
        return;
    }
    uint64_t target_s = list_segments(r);
    if (!uv_is_active((uv_handle_t *)&r->reload)) {
        uint64_t every = target_s * 1000 / 2;
        uv_timer_start(&r->reload, on_reload, every, every);
    }
    if (r->listed_count == 0) return;
    if (!r->started) {
        int start = r->listed_count > LIVE_EDGE_SEGMENTS ? r->listed_count - LIVE_EDGE_SEGMENTS : 0;
        r->next_seq = r->listed[start].seq;
        r->started = true;
    } else if (r->next_seq < r->listed[0].seq) {
        r->next_seq = r->listed[0].seq;
    }
}

static void on_playlist(hls_player_t *r, const sl_http_response_t *resp)
{
    if (resp->status != 200) {
        fail(r, resp->status == 404 ? "hls: playlist 404" : "hls: playlist refused");
        return;
    }
    if (!r->connected) {
        r->connected = true;
        bench_player_connected(r->p);
    }
    if (!follow_variant(r, (const char *)resp->body, resp->body_len)) take_media_playlist(r, resp->body, resp->body_len);
}

/* ---- segments ------------------------------------------------------------------- */

static int find_idr(void *opaque, const uint8_t *nal, size_t len)
{
    return len > 0 && sl_h264_nal_type(nal[0]) == SL_H264_NAL_IDR;
}

static void on_audio_pes(hls_player_t *r, const uint8_t *data, size_t len)
{
    sl_aac_config_t cfg;
    size_t header_len, frame_len;
    while (len > 0 && sl_aac_parse_adts(data, len, &cfg, &header_len, &frame_len) == SL_OK && frame_len <= len) {
        bench_player_audio(r->p);
        data += frame_len;
        len -= frame_len;
    }
}

static int on_pes(void *arg, const sl_ts_pes_t *pes)
{
    hls_player_t *r = arg;
    if (r->stalled) return SL_OK;
    if (pes->stream_type == SL_TS_STREAM_H264) {
        bool key = sl_annexb_split(pes->data, pes->len, find_idr, NULL) != 0;
        r->stalled = bench_player_video(r->p, pes->data, pes->len, false, key);
    } else if (pes->stream_type == SL_TS_STREAM_AAC_ADTS) {
        on_audio_pes(r, pes->data, pes->len);
    }
    return SL_OK;
}

/* A stalled player stops asking and reading: the connection stays open, and the
 * server's closing it after its idle timeout goes unnoticed, not as a failure. */
static void on_segment(hls_player_t *r, const sl_http_response_t *resp)
{
    r->next_seq++; /* a segment gone (404) is skipped: its frames count as dropped */
    if (resp->status == 404) return;
    if (resp->status != 200) {
        fail(r, "hls: segment refused");
        return;
    }
    int rc = sl_ts_demuxer_feed(&r->demux, resp->body, resp->body_len, on_pes, r);
    if (rc == SL_OK) rc = sl_ts_demuxer_finish(&r->demux, on_pes, r);
    if (rc != SL_OK) fail(r, "hls: out of memory");
    else if (r->stalled) {
        uv_timer_stop(&r->reload);
        uv_read_stop((uv_stream_t *)&r->tcp);
    }
}

/* ---- the connection ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    hls_player_t *r = h->data;
    *buf = uv_buf_init((char *)r->read_buf, sizeof(r->read_buf));
}

static const char *response_error(int rc)
{
    return rc == SL_ERR_TOO_BIG ? "hls: response too big" : rc == SL_ERR_NOMEM ? "hls: out of memory"
                                                                                 : "hls: bad response";
}

/* Feeds the bytes read to the response of the request in flight; a complete
 * response is handled and the next request sent. */
static void take_bytes(hls_player_t *r, const uint8_t *data, size_t len)
{
    while (len > 0 && !r->closing) {
        if (r->in_flight == REQ_NONE) {
            fail(r, "hls: bytes without a request");
            return;
        }
        size_t used = 0;
        int rc = sl_http_response_feed(&r->resp, data, len, &used);
        if (rc == SL_ERR_AGAIN) return;
        if (rc != SL_OK) {
            fail(r, response_error(rc));
            return;
        }
        request_kind_t kind = r->in_flight;
        r->in_flight = REQ_NONE;
        if (kind == REQ_PLAYLIST) on_playlist(r, &r->resp);
        else on_segment(r, &r->resp);
        data += used;
        len -= used;
        next_request(r);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    hls_player_t *r = s->data;
    if (n == 0 || r->closing) return;
    if (n < 0) {
        fail(r, n == UV_EOF ? "hls: closed by the server" : "hls: read error");
        return;
    }
    bench_player_bytes(r->p, (size_t)n);
    take_bytes(r, (const uint8_t *)buf->base, (size_t)n);
}

static void on_connect(uv_connect_t *req, int status)
{
    hls_player_t *r = req->handle->data;
    if (r->closing) return;
    if (status < 0) {
        fail(r, status == UV_ECONNREFUSED ? "hls: connection refused" : "hls: connect failed");
        return;
    }
    if (uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read) != 0) {
        fail(r, "hls: read error");
        return;
    }
    send_get(r, r->media_target, REQ_PLAYLIST);
}

/* Loopback targets only: the host must be an IPv4 address of 127.0.0.0/8. */
static int loopback_addr(const sl_http_url_t *url, struct sockaddr_in *addr)
{
    if (url->family != AF_INET || uv_ip4_addr(url->host, url->port, addr) != 0) return SL_ERR_CONFIG;
    return (ntohl(addr->sin_addr.s_addr) >> 24) == 127 ? SL_OK : SL_ERR_CONFIG;
}

static int hls_start(bench_player_t *p)
{
    hls_player_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    struct sockaddr_in addr;
    if (sl_http_url_parse(&r->url, p->url, NULL) != SL_OK || loopback_addr(&r->url, &addr) != SL_OK) {
        free(r);
        return SL_ERR_CONFIG;
    }
    r->p = p;
    memcpy(r->media_target, r->url.target, sizeof(r->media_target));
    sl_bytes_init(&r->playlist);
    sl_http_response_init(&r->resp, MAX_PLAYLIST_BODY);
    sl_ts_demuxer_init(&r->demux, SL_TS_DEMUX_MAX_PES);
    uv_tcp_init(p->loop, &r->tcp);
    uv_timer_init(p->loop, &r->reload);
    r->tcp.data = r->reload.data = r;
    r->open_handles = 2;
    p->proto_state = r;
    if (uv_tcp_connect(&r->connect, &r->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
        fail(r, "hls: connect failed");
    return SL_OK;
}

static void hls_stop(bench_player_t *p)
{
    hls_player_t *r = p->proto_state;
    if (r != NULL) close_player(r);
}

const bench_proto_t bench_proto_hls = {.name = "hls", .start = hls_start, .stop = hls_stop};
