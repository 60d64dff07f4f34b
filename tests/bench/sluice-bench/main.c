/* sluice-bench: the command line, the run of N players (start at the ramp rate,
 * stall some, stop them all at the end), what they count, and the report. The
 * protocols are in play_*.c, the publisher in publish.c; bench.h is the contract. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "bench.h"
#include "sluice/common.h"

#define BUCKET_US 100                     /* latency resolution: 0.1 ms */
#define HIST_BUCKETS (10 * 1000 * 10 + 1) /* up to 10 s, then one bucket for the rest */
#define MAX_ERRORS 32
#define ERROR_TEXT_MAX 120
#define RAMP_TICK_MS 10
#define STOP_TIMEOUT_MS 5000

typedef enum { MODE_PUBLISH, MODE_PLAY } run_mode_t;

typedef struct options {
    run_mode_t mode;
    const char *url, *file, *json;
    int players;
    double ramp; /* players per second, 0: all at once */
    unsigned seconds;
    double stall_pct;
} options_t;

/* Latency samples in 0.1 ms buckets: percentiles exact to the bucket, memory fixed
 * whatever the number of players and seconds. */
typedef struct histogram {
    uint64_t count, max_us;
    uint64_t bucket[HIST_BUCKETS];
} histogram_t;

typedef struct error_count {
    char text[ERROR_TEXT_MAX];
    uint64_t count;
} error_count_t;

/* Totals of the players that do not stall, for the report and the second lines. */
typedef struct totals {
    uint64_t video_frames, audio_frames, dropped, bytes;
} totals_t;

static struct run {
    options_t opt;
    uv_loop_t loop;
    const bench_proto_t *proto;
    bench_player_t *players;
    int started, connected, failed, stalled, closed;
    uint64_t t0_us, end_us;
    bool stopping, finished, stop_timed_out;
    uv_timer_t ramp_timer, second_timer, end_timer;
    histogram_t *latency, *latency_second;
    totals_t total, at_last_second;
    error_count_t errors[MAX_ERRORS];
    int error_kinds;
    uint64_t errors_untold; /* messages past MAX_ERRORS kinds */
} g;

uint64_t bench_now_us(void) { return uv_hrtime() / 1000; }

/* ---- histograms ------------------------------------------------------------------ */

static void hist_add(histogram_t *h, uint64_t us)
{
    uint64_t b = us / BUCKET_US;
    h->bucket[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
    h->count++;
    if (us > h->max_us) h->max_us = us;
}

/* Nearest-rank percentile q (0..1) in ms, rounded down to the bucket; -1 without
 * samples. The last bucket holds everything over 10 s and answers the maximum. */
static double hist_percentile_ms(const histogram_t *h, double q)
{
    if (h->count == 0) return -1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;
    if (rank == 0) rank = 1;
    for (size_t b = 0; b < HIST_BUCKETS - 1; b++) {
        seen += h->bucket[b];
        if (seen >= rank) return (double)(b * BUCKET_US) / 1000.0;
    }
    return (double)h->max_us / 1000.0;
}

/* ---- what the modules report ------------------------------------------------------- */

void bench_player_connected(bench_player_t *p)
{
    if (p->connected) return;
    p->connected = true;
    g.connected++;
}

void bench_player_bytes(bench_player_t *p, size_t n)
{
    p->bytes += n;
    if (!p->stall) g.total.bytes += n;
}

static void count_stamp(bench_player_t *p, uint64_t now_us, uint64_t send_us, uint32_t number)
{
    if (p->have_number && number > p->last_number) {
        uint64_t lost = number - p->last_number - 1;
        p->dropped += lost;
        if (!p->stall) g.total.dropped += lost;
    }
    p->have_number = true;
    p->last_number = number;
    if (p->stall || send_us < p->start_us || now_us < send_us) return;
    hist_add(g.latency, now_us - send_us);
    hist_add(g.latency_second, now_us - send_us);
}

bool bench_player_video(bench_player_t *p, const uint8_t *au, size_t len, bool avcc, bool key)
{
    if (p->stalled) return true;
    uint64_t now = bench_now_us();
    bool first_key = key && p->first_key_us == 0;
    if (first_key) p->first_key_us = now;
    p->video_frames++;
    if (!p->stall) g.total.video_frames++;
    uint64_t send_us;
    uint32_t number;
    if (bench_stamp_find(au, len, avcc, &send_us, &number)) count_stamp(p, now, send_us, number);
    if (!(p->stall && first_key)) return false;
    p->stalled = true;
    g.stalled++;
    return true;
}

void bench_player_audio(bench_player_t *p)
{
    if (p->stalled) return;
    p->audio_frames++;
    if (!p->stall) g.total.audio_frames++;
}

static void count_error(const char *message)
{
    for (int i = 0; i < g.error_kinds; i++) {
        if (strncmp(g.errors[i].text, message, ERROR_TEXT_MAX - 1) == 0) {
            g.errors[i].count++;
            return;
        }
    }
    if (g.error_kinds == MAX_ERRORS) {
        g.errors_untold++;
        return;
    }
    error_count_t *e = &g.errors[g.error_kinds++];
    snprintf(e->text, sizeof(e->text), "%s", message);
    e->count = 1;
}

void bench_player_failed(bench_player_t *p, const char *message)
{
    /* Our own stop is no failure, whatever the module saw while closing. */
    if (p->failed || g.stopping) return;
    p->failed = true;
    g.failed++;
    count_error(message);
}

static void finish_if_all_closed(void);

void bench_player_closed(bench_player_t *p)
{
    if (p->closed) return;
    p->closed = true;
    g.closed++;
    finish_if_all_closed();
}

/* ---- writing for the modules ------------------------------------------------------- */

typedef struct queued_write {
    uv_write_t req;
    uint8_t data[];
} queued_write_t;

static void on_queued_written(uv_write_t *req, int status)
{
    free(sl_container_of(req, queued_write_t, req));
}

int bench_write(uv_stream_t *s, const uint8_t *data, size_t len)
{
    size_t done = 0;
    /* Bytes go in order: nothing may overtake what libuv still holds. */
    if (uv_stream_get_write_queue_size(s) == 0 && len > 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write(s, &b, 1);
        if (n < 0 && n != UV_EAGAIN) return n;
        if (n > 0) done = (size_t)n;
    }
    if (done == len) return 0;
    queued_write_t *w = malloc(sizeof(*w) + (len - done));
    if (w == NULL) return UV_ENOMEM;
    memcpy(w->data, data + done, len - done);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(len - done));
    int rc = uv_write(&w->req, s, &b, 1, on_queued_written);
    if (rc != 0) free(w);
    return rc;
}

/* ---- the run ------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) {}

static void finish_if_all_closed(void)
{
    if (!g.stopping || g.finished || g.closed < g.started) return;
    g.finished = true;
    uv_close((uv_handle_t *)&g.ramp_timer, on_timer_closed);
    uv_close((uv_handle_t *)&g.second_timer, on_timer_closed);
    uv_close((uv_handle_t *)&g.end_timer, on_timer_closed);
}

/* Whether player i is among the --stall share: spread evenly, exactly
 * floor(N * PCT / 100) of them. */
static bool stalls(int i)
{
    return floor((i + 1) * g.opt.stall_pct / 100.0) > floor(i * g.opt.stall_pct / 100.0);
}

static void start_player(bench_player_t *p)
{
    g.started++;
    p->start_us = bench_now_us();
    int rc = g.proto->start(p);
    if (rc == 0) return;
    bench_player_failed(p, "the player could not start");
    p->closed = true; /* a module whose start fails holds nothing */
    g.closed++;
}

static void on_ramp(uv_timer_t *t)
{
    int due = g.opt.players;
    if (g.opt.ramp > 0) {
        double elapsed_s = (double)(bench_now_us() - g.t0_us) / 1e6;
        due = (int)SL_MIN((double)g.opt.players, 1.0 + floor(elapsed_s * g.opt.ramp));
    }
    while (g.started < due) start_player(&g.players[g.started]);
    if (g.started == g.opt.players) uv_timer_stop(t);
}

static void on_second(uv_timer_t *t)
{
    totals_t now = g.total, *last = &g.at_last_second;
    double p50 = hist_percentile_ms(g.latency_second, 0.5);
    fprintf(stderr, "%5.1f s  players %d/%d connected %d failed %d stalled  video %" PRIu64
                    " frames  %.2f Mbps  latency p50 ",
            (double)(bench_now_us() - g.t0_us) / 1e6, g.connected, g.opt.players, g.failed, g.stalled,
            now.video_frames - last->video_frames, (double)(now.bytes - last->bytes) * 8 / 1e6);
    if (p50 < 0) fprintf(stderr, "-\n");
    else fprintf(stderr, "%.1f ms\n", p50);
    *last = now;
    memset(g.latency_second, 0, sizeof(*g.latency_second));
}

static void on_stop_timeout(uv_timer_t *t)
{
    g.stop_timed_out = true;
    uv_stop(&g.loop);
}

static void on_end(uv_timer_t *t)
{
    g.stopping = true;
    g.end_us = bench_now_us();
    uv_timer_stop(&g.ramp_timer);
    uv_timer_stop(&g.second_timer);
    uv_timer_start(&g.end_timer, on_stop_timeout, STOP_TIMEOUT_MS, 0);
    for (int i = 0; i < g.started; i++)
        if (!g.players[i].closed) g.proto->stop(&g.players[i]);
    finish_if_all_closed();
}

static int run_players(void)
{
    g.players = calloc((size_t)g.opt.players, sizeof(*g.players));
    g.latency = calloc(1, sizeof(*g.latency));
    g.latency_second = calloc(1, sizeof(*g.latency_second));
    if (g.players == NULL || g.latency == NULL || g.latency_second == NULL) return -1;
    for (int i = 0; i < g.opt.players; i++) {
        bench_player_t *p = &g.players[i];
        *p = (bench_player_t){.loop = &g.loop, .url = g.opt.url, .index = i, .stall = stalls(i)};
    }
    uv_timer_init(&g.loop, &g.ramp_timer);
    uv_timer_init(&g.loop, &g.second_timer);
    uv_timer_init(&g.loop, &g.end_timer);
    g.t0_us = bench_now_us();
    uv_timer_start(&g.ramp_timer, on_ramp, 0, RAMP_TICK_MS);
    uv_timer_start(&g.second_timer, on_second, 1000, 1000);
    uv_timer_start(&g.end_timer, on_end, (uint64_t)g.opt.seconds * 1000, 0);
    return uv_run(&g.loop, UV_RUN_DEFAULT);
}

/* ---- the report -------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_ms(FILE *f, double ms)
{
    if (ms < 0) fprintf(f, "null");
    else fprintf(f, "%.1f", ms);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* first_frame_ms of bench.h: nearest-rank percentiles of the exact values. */
static void json_first_frame(FILE *f)
{
    uint64_t *v = malloc(sizeof(*v) * (size_t)g.opt.players);
    size_t n = 0;
    for (int i = 0; v != NULL && i < g.started; i++)
        if (g.players[i].first_key_us != 0) v[n++] = g.players[i].first_key_us - g.players[i].start_us;
    if (n > 0) qsort(v, n, sizeof(*v), cmp_u64);
    double q[3] = {0.5, 0.99, 1.0};
    const char *name[3] = {"p50", "p99", "max"};
    fprintf(f, "{");
    for (int k = 0; k < 3; k++) {
        size_t rank = (size_t)ceil(q[k] * (double)n);
        fprintf(f, "%s\"%s\":", k > 0 ? "," : "", name[k]);
        json_ms(f, n > 0 ? (double)(v[rank > 0 ? rank - 1 : 0] / 100) / 10.0 : -1);
    }
    fprintf(f, "}");
    free(v);
}

static void json_errors(FILE *f)
{
    fprintf(f, "{");
    for (int i = 0; i < g.error_kinds; i++) {
        if (i > 0) fprintf(f, ",");
        json_string(f, g.errors[i].text);
        fprintf(f, ":%" PRIu64, g.errors[i].count);
    }
    if (g.errors_untold > 0) fprintf(f, "%s\"(other errors)\":%" PRIu64, g.error_kinds > 0 ? "," : "", g.errors_untold);
    fprintf(f, "}");
}

static void play_report(FILE *f)
{
    double seconds = (double)(g.end_us - g.t0_us) / 1e6;
    fprintf(f, "{\"mode\":\"play\",\"proto\":");
    json_string(f, g.proto->name);
    fprintf(f, ",\"players\":%d,\"connected\":%d,\"failed\":%d,\"stalled\":%d,\"first_frame_ms\":",
            g.opt.players, g.connected, g.failed, g.stalled);
    json_first_frame(f);
    fprintf(f, ",\"latency_ms\":{\"p50\":");
    json_ms(f, hist_percentile_ms(g.latency, 0.5));
    fprintf(f, ",\"p99\":");
    json_ms(f, hist_percentile_ms(g.latency, 0.99));
    fprintf(f, ",\"max\":");
    json_ms(f, g.latency->count > 0 ? (double)(g.latency->max_us / 100) / 10.0 : -1);
    fprintf(f, ",\"samples\":%" PRIu64 "},\"video_frames\":%" PRIu64 ",\"audio_frames\":%" PRIu64
               ",\"dropped\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"mbps\":%.3f,\"seconds\":%.3f,\"errors\":",
            g.latency->count, g.total.video_frames, g.total.audio_frames, g.total.dropped, g.total.bytes,
            seconds > 0 ? (double)g.total.bytes * 8 / 1e6 / seconds : 0.0, seconds);
    json_errors(f);
    fprintf(f, "}\n");
}

static void publish_report(FILE *f, const bench_publish_result_t *r)
{
    fprintf(f, "{\"mode\":\"publish\",\"frames\":%" PRIu64 ",\"video_frames\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"send_queue_max_bytes\":%" PRIu64 ",\"seconds\":%.3f,\"error\":",
            r->frames, r->video_frames, r->bytes, r->send_queue_max_bytes, r->seconds);
    if (r->error != NULL) json_string(f, r->error);
    else fprintf(f, "null");
    fprintf(f, "}\n");
}

/* To stdout and, with --json, to that file. */
static int write_report(const bench_publish_result_t *published)
{
    FILE *out[2] = {stdout, NULL};
    if (g.opt.json != NULL && (out[1] = fopen(g.opt.json, "w")) == NULL) {
        fprintf(stderr, "sluice-bench: cannot write %s\n", g.opt.json);
        return -1;
    }
    for (int i = 0; i < 2 && out[i] != NULL; i++) {
        if (published != NULL) publish_report(out[i], published);
        else play_report(out[i]);
    }
    fflush(stdout);
    return out[1] != NULL && fclose(out[1]) != 0 ? -1 : 0;
}

/* ---- the command line --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: sluice-bench publish URL --file SRC.flv --seconds S [--json OUT]\n"
                    "       sluice-bench play URL --players N [--ramp R] --seconds S [--stall PCT] [--json OUT]\n"
                    "URL: rtmp://127.x.x.x:PORT/app/name, http://127.x.x.x:PORT/app/name.flv,\n"
                    "     rtsp://127.x.x.x:PORT/app/name, http://127.x.x.x:PORT/app/name/index.m3u8\n");
}

/* Loopback only: the host of URL must be an IPv4 address in 127.0.0.0/8. */
static bool loopback_url(const char *url)
{
    const char *host = strstr(url, "://");
    if (host == NULL) return false;
    host += 3;
    size_t n = strcspn(host, ":/?");
    char text[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n == 0 || n >= sizeof(text)) return false;
    memcpy(text, host, n);
    text[n] = '\0';
    return inet_pton(AF_INET, text, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static bool path_ends_with(const char *url, const char *suffix)
{
    size_t n = strcspn(url, "?"), k = strlen(suffix);
    return n >= k && strncasecmp(url + n - k, suffix, k) == 0;
}

static const bench_proto_t *proto_of(const char *url)
{
    if (strncasecmp(url, "rtmp://", 7) == 0) return &bench_proto_rtmp;
    if (strncasecmp(url, "rtsp://", 7) == 0) return &bench_proto_rtsp;
    if (strncasecmp(url, "http://", 7) != 0) return NULL;
    if (path_ends_with(url, ".flv")) return &bench_proto_flv;
    if (path_ends_with(url, ".m3u8")) return &bench_proto_hls;
    return NULL;
}

/* A number in [min, max], or false. */
static bool number_arg(const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= min && v <= max)) return false;
    *out = v;
    return true;
}

static bool parse_option(options_t *o, const char *name, const char *value)
{
    double v;
    if (strcmp(name, "--file") == 0) o->file = value;
    else if (strcmp(name, "--json") == 0) o->json = value;
    else if (strcmp(name, "--players") == 0 && number_arg(value, 1, BENCH_MAX_PLAYERS, &v)) o->players = (int)v;
    else if (strcmp(name, "--ramp") == 0 && number_arg(value, 0, 1e6, &v)) o->ramp = v;
    else if (strcmp(name, "--seconds") == 0 && number_arg(value, 1, BENCH_MAX_SECONDS, &v)) o->seconds = (unsigned)v;
    else if (strcmp(name, "--stall") == 0 && number_arg(value, 0, 100, &v)) o->stall_pct = v;
    else return false;
    return true;
}

static bool parse_args(int argc, char **argv, options_t *o)
{
    if (argc < 3) return false;
    if (strcmp(argv[1], "publish") == 0) o->mode = MODE_PUBLISH;
    else if (strcmp(argv[1], "play") == 0) o->mode = MODE_PLAY;
    else return false;
    o->url = argv[2];
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc || !parse_option(o, argv[i], argv[i + 1])) {
            fprintf(stderr, "sluice-bench: bad or out-of-range option %s\n", argv[i]);
            return false;
        }
    }
    if (!loopback_url(o->url)) {
        fprintf(stderr, "sluice-bench: only 127.x.x.x targets: %s\n", o->url);
        return false;
    }
    if (o->seconds == 0) return false;
    if (o->mode == MODE_PUBLISH) return o->file != NULL && strncasecmp(o->url, "rtmp://", 7) == 0;
    return o->players > 0 && proto_of(o->url) != NULL;
}

/* Thousands of sockets need more descriptors than the usual soft limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (!parse_args(argc, argv, &g.opt)) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer gone is an error return, not a death */
    raise_fd_limit();
    if (uv_loop_init(&g.loop) != 0) return 1;
    int rc = 0;
    if (g.opt.mode == MODE_PUBLISH) {
        bench_publish_result_t r = {0};
        bench_publish_run(&g.loop, g.opt.url, g.opt.file, g.opt.seconds, &r);
        rc = write_report(&r) != 0 || r.error != NULL;
    } else {
        g.proto = proto_of(g.opt.url);
        if (run_players() < 0) {
            fprintf(stderr, "sluice-bench: out of memory\n");
            return 1;
        }
        if (g.stop_timed_out)
            fprintf(stderr, "sluice-bench: %d players still open %d ms after the stop\n", g.started - g.closed,
                    STOP_TIMEOUT_MS);
        rc = write_report(NULL) != 0;
    }
    /* Players still open after a timed-out stop keep their memory and the loop: the
     * process ends with them. */
    if (g.stop_timed_out) return rc;
    (void)uv_loop_close(&g.loop);
    free(g.players);
    free(g.latency);
    free(g.latency_second);
    return rc;
}
