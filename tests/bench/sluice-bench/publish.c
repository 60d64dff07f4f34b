/* The publisher of sluice-bench: an FLV file sent over RTMP in real time by its own
 * timestamps, looped with the timestamps going on, every video frame stamped (the
 * SEI NAL of bench.h) the moment it goes to the socket. The file is read whole and
 * turned into frames by the server's FLV demuxer; the relay's I/O-free RTMP client
 * does the protocol; this file only times, stamps and writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "protocols/flv/flv.h"
#include "protocols/relay/rtmp_client.h"

#define FILE_MAX (512u << 20)
#define MAX_TAG_BYTES (16u << 20)
#define MAX_CONFIGS 8
#define SEND_QUEUE_LIMIT (64u << 20) /* a server this far behind is not reading */
#define FRAMES_PER_PUMP 10000        /* bounds one timer callback */
#define STOP_TIMEOUT_MS 2000
#define DEFAULT_INTERVAL SL_MS_TO_TS(40)

typedef struct publisher {
    uv_loop_t *loop;
    bench_publish_result_t *out;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    uv_timer_t pump_timer, second_timer, end_timer;
    sl_rtmp_client_t client;
    sl_bytes_t wire; /* what the client appended, written at once */

    /* The file: codec configs and metadata, sent once, then the media frames in
     * file order; a loop lasts `duration` (90 kHz). */
    sl_frame_t *configs[MAX_CONFIGS];
    size_t config_count;
    sl_frame_t **frames;
    size_t frame_count, frame_cap;
    int64_t first_dts, duration;

    bool ready, stopping, closing;
    size_t next;      /* the next frame to send */
    uint64_t loops;   /* times the file was sent whole */
    uint32_t number;  /* of the next stamp */
    uint64_t ready_ms; /* loop time of NetStream.Publish.Start: frame time 0 */
    uint64_t t0_us;
    bench_publish_result_t at_last_second;
} publisher_t;

/* Outlives the publisher: the result points to it. */
static char error_text[160];

/* ---- reading the file ------------------------------------------------------------------ */

static int keep_frame(publisher_t *pub, sl_frame_t *f)
{
    if ((f->flags & SL_FRAME_CONFIG) || f->media == SL_MEDIA_DATA) {
        if (pub->config_count == MAX_CONFIGS) {
            sl_frame_unref(f);
            return SL_OK;
        }
        pub->configs[pub->config_count++] = f;
        return SL_OK;
    }
    if (pub->frame_count == pub->frame_cap) {
        size_t cap = pub->frame_cap ? pub->frame_cap * 2 : 1024;
        sl_frame_t **grown = realloc(pub->frames, cap * sizeof(*grown));
        if (grown == NULL) {
            sl_frame_unref(f);
            return SL_ERR_NOMEM;
        }
        pub->frames = grown;
        pub->frame_cap = cap;
    }
    pub->frames[pub->frame_count++] = f;
    return SL_OK;
}

static int on_file_tag(void *arg, uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body, size_t len)
{
    sl_frame_t *f = NULL;
    int rc = sl_flv_tag_to_frame(tag_type, ts_ms, buf, body, len, &f);
    if (rc == SL_ERR_UNSUPPORTED) return SL_OK; /* a codec RTMP frames cannot carry */
    if (rc != SL_OK || f == NULL) return rc;
    return keep_frame(arg, f);
}

/* How long one pass of the file lasts: from its first frame to its last, plus one
 * video frame interval so the next pass does not start on the last frame's time. */
static void measure_loop(publisher_t *pub)
{
    int64_t first_video = -1, last_video = -1, last = pub->frames[0]->dts;
    size_t videos = 0;
    pub->first_dts = pub->frames[0]->dts;
    for (size_t i = 0; i < pub->frame_count; i++) {
        const sl_frame_t *f = pub->frames[i];
        last = SL_MAX(last, f->dts);
        if (f->media != SL_MEDIA_VIDEO) continue;
        if (first_video < 0) first_video = f->dts;
        last_video = f->dts;
        videos++;
    }
    int64_t interval = videos > 1 ? (last_video - first_video) / (int64_t)(videos - 1) : DEFAULT_INTERVAL;
    pub->duration = last - pub->first_dts + (interval > 0 ? interval : DEFAULT_INTERVAL);
}

static const char *load_file(publisher_t *pub, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return "cannot open the file";
    uint8_t *data = malloc(FILE_MAX);
    size_t len = data != NULL ? fread(data, 1, FILE_MAX, fp) : 0;
    bool whole = data != NULL && feof(fp) && !ferror(fp);
    fclose(fp);
    if (!whole) {
        free(data);
        return data == NULL ? "out of memory" : "the file cannot be read or is over 512 MB";
    }
    sl_flv_demuxer_t d;
    sl_flv_demuxer_init(&d, MAX_TAG_BYTES);
    int rc = sl_flv_demuxer_feed(&d, data, len, on_file_tag, pub);
    sl_flv_demuxer_free(&d);
    free(data);
    if (rc != SL_OK) return "the file is not FLV that frames can carry";
    if (pub->frame_count == 0) return "the file has no audio or video frame";
    measure_loop(pub);
    return NULL;
}

/* ---- ending ----------------------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {}

/* Closes every handle; bench_publish_run returns once they are closed. */
static void close_all(publisher_t *pub)
{
    if (pub->closing) return;
    pub->closing = true;
    pub->out->seconds = (double)(bench_now_us() - pub->t0_us) / 1e6;
    uv_close((uv_handle_t *)&pub->tcp, on_closed);
    uv_close((uv_handle_t *)&pub->pump_timer, on_closed);
    uv_close((uv_handle_t *)&pub->second_timer, on_closed);
    uv_close((uv_handle_t *)&pub->end_timer, on_closed);
}

static void fail(publisher_t *pub, const char *why)
{
    if (pub->out->error == NULL && !pub->stopping) {
        snprintf(error_text, sizeof(error_text), "%s", why);
        pub->out->error = error_text;
    }
    close_all(pub);
}

/* ---- writing -------------------------------------------------------------------------- */

/* Writes what the client appended to wire; false once the publisher failed. */
static bool send_wire(publisher_t *pub)
{
    if (pub->wire.len == 0 || pub->closing) return !pub->closing;
    int rc = bench_write((uv_stream_t *)&pub->tcp, pub->wire.data, pub->wire.len);
    pub->out->bytes += pub->wire.len;
    pub->wire.len = 0;
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&pub->tcp);
    pub->out->send_queue_max_bytes = SL_MAX(pub->out->send_queue_max_bytes, (uint64_t)queued);
    if (rc != 0) fail(pub, uv_strerror(rc));
    else if (queued > SEND_QUEUE_LIMIT) fail(pub, "the server does not read (send queue over 64 MB)");
    return !pub->closing;
}

/* A copy of f for this pass of the file: timestamps moved on by the passes before,
 * and for video the stamp in front, timed now. */
static sl_frame_t *frame_to_send(publisher_t *pub, const sl_frame_t *f)
{
    int64_t shift = (int64_t)pub->loops * pub->duration;
    if (f->media != SL_MEDIA_VIDEO)
        return sl_frame_new(f->media, f->codec, f->flags, f->dts + shift, f->pts + shift, f->buf, f->data, f->len);
    sl_buf_t *b = sl_buf_new(64 + f->len);
    if (b == NULL) return NULL;
    b->len = bench_stamp_write(b->data, 64, bench_now_us(), pub->number++);
    memcpy(b->data + b->len, f->data, f->len);
    b->len += f->len;
    sl_frame_t *stamped = sl_frame_new(f->media, f->codec, f->flags, f->dts + shift, f->pts + shift, b, b->data, b->len);
    sl_buf_unref(b);
    return stamped;
}

static bool send_frame(publisher_t *pub, const sl_frame_t *f)
{
    sl_frame_t *copy = frame_to_send(pub, f);
    int rc = copy != NULL ? sl_rtmp_client_send_frame(&pub->client, copy, &pub->wire) : SL_ERR_NOMEM;
    if (copy != NULL) sl_frame_unref(copy);
    if (rc != SL_OK) {
        fail(pub, sl_strerror(rc));
        return false;
    }
    pub->out->frames++;
    if (f->media == SL_MEDIA_VIDEO) pub->out->video_frames++;
    return send_wire(pub);
}

/* Milliseconds from frame time 0 at which the next frame is due. */
static uint64_t next_due_ms(const publisher_t *pub)
{
    int64_t t = pub->frames[pub->next]->dts - pub->first_dts + (int64_t)pub->loops * pub->duration;
    return (uint64_t)SL_TS_TO_MS(SL_MAX(t, 0));
}

/* Sends every frame that is due, then sleeps until the next one. */
static void on_pump(uv_timer_t *t)
{
    publisher_t *pub = t->data;
    uint64_t now_ms = uv_now(pub->loop) - pub->ready_ms;
    for (int sent = 0; sent < FRAMES_PER_PUMP && next_due_ms(pub) <= now_ms; sent++) {
        if (!send_frame(pub, pub->frames[pub->next])) return;
        if (++pub->next == pub->frame_count) {
            pub->next = 0;
            pub->loops++;
        }
    }
    uint64_t due = next_due_ms(pub);
    uv_timer_start(&pub->pump_timer, on_pump, due > now_ms ? due - now_ms : 0, 0);
}

/* ---- the RTMP client --------------------------------------------------------------- */

/* NetStream.Publish.Start: the configs go first, then the frames by their time. */
static void on_ready(void *arg)
{
    publisher_t *pub = arg;
    pub->ready = true;
    pub->ready_ms = uv_now(pub->loop);
    for (size_t i = 0; i < pub->config_count; i++) {
        int rc = sl_rtmp_client_send_frame(&pub->client, pub->configs[i], &pub->wire);
        if (rc != SL_OK && rc != SL_ERR_UNSUPPORTED) {
            fail(pub, sl_strerror(rc));
            return;
        }
    }
    uv_timer_start(&pub->pump_timer, on_pump, 0, 0);
}

static void on_refused(void *arg, const char *code, const char *description)
{
    publisher_t *pub = arg;
    char why[sizeof(error_text)];
    snprintf(why, sizeof(why), "refused: %s %s", code, description);
    fail(pub, why);
}

static const sl_rtmp_client_ops_t client_ops = {.on_ready = on_ready, .on_error = on_refused};

/* ---- the socket -------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char mem[64 * 1024];
    *buf = uv_buf_init(mem, sizeof(mem));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    publisher_t *pub = s->data;
    if (n == 0 || pub->closing) return;
    if (n < 0) {
        fail(pub, n == UV_EOF ? "the server closed the connection" : uv_strerror((int)n));
        return;
    }
    int rc = sl_rtmp_client_feed(&pub->client, (const uint8_t *)buf->base, (size_t)n, &pub->wire);
    if (send_wire(pub) && rc != SL_OK) fail(pub, sl_strerror(rc));
}

static void on_connect(uv_connect_t *req, int status)
{
    publisher_t *pub = req->data;
    if (pub->closing) return;
    if (status < 0) {
        fail(pub, uv_strerror(status));
        return;
    }
    (void)uv_tcp_nodelay(&pub->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&pub->tcp, on_alloc, on_read);
    if (rc != 0) fail(pub, uv_strerror(rc));
    else (void)send_wire(pub); /* C0C1 */
}

/* ---- timers -------------------------------------------------------------------------- */

static void on_second(uv_timer_t *t)
{
    publisher_t *pub = t->data;
    bench_publish_result_t *now = pub->out, *last = &pub->at_last_second;
    fprintf(stderr, "%5.1f s  publish %s  frames %lu  video %lu  %.2f Mbps  send queue %zu bytes\n",
            (double)(bench_now_us() - pub->t0_us) / 1e6, pub->ready ? "live" : "connecting",
            (unsigned long)(now->frames - last->frames), (unsigned long)(now->video_frames - last->video_frames),
            (double)(now->bytes - last->bytes) * 8 / 1e6, uv_stream_get_write_queue_size((uv_stream_t *)&pub->tcp));
    *last = *now;
}

static void on_shutdown(uv_shutdown_t *req, int status) { close_all(req->data); }

static void on_stop_timeout(uv_timer_t *t) { close_all(t->data); }

/* --seconds are over: what was written goes out, then the connection ends, which
 * unpublishes the stream. */
static void on_end(uv_timer_t *t)
{
    publisher_t *pub = t->data;
    pub->stopping = true;
    uv_timer_stop(&pub->pump_timer);
    uv_timer_stop(&pub->second_timer);
    uv_timer_start(&pub->end_timer, on_stop_timeout, STOP_TIMEOUT_MS, 0);
    pub->shutdown.data = pub;
    if (uv_shutdown(&pub->shutdown, (uv_stream_t *)&pub->tcp, on_shutdown) != 0) close_all(pub);
}

/* ---- the run ----------------------------------------------------------------------- */

static const char *start(publisher_t *pub, const char *url_text, unsigned seconds)
{
    sl_rtmp_url_t url;
    struct sockaddr_in addr;
    if (sl_rtmp_url_parse(url_text, &url) != SL_OK || url.name[0] == '\0') return "the URL is not rtmp://host:port/app/name";
    if (uv_ip4_addr(url.host, url.port, &addr) != 0) return "the URL's host is not an IPv4 address";
    sl_rtmp_client_cfg_t cfg = {.mode = SL_RTMP_CLIENT_PUBLISH, .url = &url};
    if (sl_rtmp_client_init(&pub->client, &cfg, &client_ops, pub, &pub->wire) != SL_OK) return "the RTMP client cannot start";
    uv_tcp_init(pub->loop, &pub->tcp);
    uv_timer_init(pub->loop, &pub->pump_timer);
    uv_timer_init(pub->loop, &pub->second_timer);
    uv_timer_init(pub->loop, &pub->end_timer);
    pub->tcp.data = pub->pump_timer.data = pub->second_timer.data = pub->end_timer.data = pub;
    pub->connect.data = pub;
    uv_timer_start(&pub->second_timer, on_second, 1000, 1000);
    uv_timer_start(&pub->end_timer, on_end, (uint64_t)seconds * 1000, 0);
    int rc = uv_tcp_connect(&pub->connect, &pub->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc != 0) fail(pub, uv_strerror(rc));
    return NULL;
}

static void release(publisher_t *pub)
{
    sl_rtmp_client_free(&pub->client);
    sl_bytes_free(&pub->wire);
    for (size_t i = 0; i < pub->config_count; i++) sl_frame_unref(pub->configs[i]);
    for (size_t i = 0; i < pub->frame_count; i++) sl_frame_unref(pub->frames[i]);
    free(pub->frames);
    free(pub);
}

void bench_publish_run(uv_loop_t *loop, const char *url, const char *file, unsigned seconds,
                       bench_publish_result_t *out)
{
    *out = (bench_publish_result_t){0};
    publisher_t *pub = calloc(1, sizeof(*pub));
    if (pub == NULL) {
        out->error = "out of memory";
        return;
    }
    pub->loop = loop;
    pub->out = out;
    pub->t0_us = bench_now_us();
    sl_bytes_init(&pub->wire);
    const char *why = load_file(pub, file);
    if (why == NULL) why = start(pub, url, seconds);
    if (why != NULL) out->error = why;
    else (void)uv_run(loop, UV_RUN_DEFAULT);
    release(pub);
}
