/* GET /metrics: the server in Prometheus text format 0.0.4. Each family is written
 * whole (HELP, TYPE, then every sample), as the format asks. */
#include <string.h>

#include "sluice/prom.h"
#include "src/api/views.h"

typedef struct writer {
    sl_bytes_t *out;
    int rc;
} writer_t;

static void family(writer_t *w, const char *name, sl_prom_type_t type, const char *help)
{
    if (w->rc == SL_OK) w->rc = sl_prom_family(w->out, name, type, help);
}

static void sample(writer_t *w, const char *name, const char *label, const char *value, uint64_t v)
{
    sl_prom_label_t l = {label, value};
    if (w->rc == SL_OK) w->rc = sl_prom_sample_u64(w->out, name, label ? &l : NULL, label ? 1 : 0, v);
}

/* One sample per protocol with sessions, or also "hls" when with_hls. */
static void by_protocol(writer_t *w, const char *name, const char *help, sl_prom_type_t type, const uint64_t *v,
                        bool with_hls)
{
    family(w, name, type, help);
    for (int p = 0; p < (with_hls ? SL_PROTO_COUNT : SL_PROTO_SESSIONS); p++)
        sample(w, name, "protocol", sl_proto_name(p), v[p]);
}

static void process_metrics(writer_t *w, const sl_server_t *srv)
{
    size_t rss = 0;
    uv_rusage_t ru;
    double cpu = 0;
    if (uv_resident_set_memory(&rss) != 0) rss = 0;
    if (uv_getrusage(&ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    family(w, "process_resident_memory_bytes", SL_PROM_GAUGE, "Resident memory size in bytes.");
    sample(w, "process_resident_memory_bytes", NULL, NULL, rss);
    family(w, "process_cpu_seconds_total", SL_PROM_COUNTER, "Total user and system CPU time in seconds.");
    if (w->rc == SL_OK) w->rc = sl_prom_sample(w->out, "process_cpu_seconds_total", NULL, 0, cpu);
    family(w, "process_start_time_seconds", SL_PROM_GAUGE, "Start time of the process since the Unix epoch in seconds.");
    sample(w, "process_start_time_seconds", NULL, NULL, srv->started_ms / 1000);
}

int sl_api_metrics(sl_server_t *srv, sl_bytes_t *out)
{
    writer_t w = {out, SL_OK};
    sl_api_totals_t t;
    sl_api_totals(srv, &t);
    uint64_t clients[SL_PROTO_COUNT], publishers[SL_PROTO_COUNT] = {0};
    for (int p = 0; p < SL_PROTO_COUNT; p++) clients[p] = srv->proto_conns[p];
    for (sl_list_t *pos = srv->conns.next; pos != &srv->conns; pos = pos->next) {
        const sl_conn_t *c = sl_container_of(pos, sl_conn_t, link);
        if (c->role == SL_ROLE_PUBLISHER) publishers[c->proto]++;
    }
    family(&w, "sluice_streams", SL_PROM_GAUGE, "Live streams (with a publisher).");
    sample(&w, "sluice_streams", NULL, NULL, sl_hub_stream_count(srv->hub));
    by_protocol(&w, "sluice_clients", "Client sessions (publishers, players and idle ones).", SL_PROM_GAUGE, clients,
                false);
    by_protocol(&w, "sluice_publishers", "Client sessions publishing a stream.", SL_PROM_GAUGE, publishers, false);
    by_protocol(&w, "sluice_received_bytes_total", "Bytes received from clients.", SL_PROM_COUNTER, t.in, false);
    by_protocol(&w, "sluice_sent_bytes_total", "Bytes sent to clients.", SL_PROM_COUNTER, t.out, false);
    by_protocol(&w, "sluice_auth_failures_total", "Requests refused for missing or wrong credentials.",
                SL_PROM_COUNTER, srv->auth_failures, true);
    family(&w, "sluice_frames_dropped_total", SL_PROM_COUNTER,
           "Frames skipped by viewers that fell behind limits.viewer_queue_soft_ms.");
    sample(&w, "sluice_frames_dropped_total", NULL, NULL, sl_hub_frames_skipped(srv->hub));
    family(&w, "sluice_hook_failures_total", SL_PROM_COUNTER, "HTTP hook requests that failed or timed out.");
    sample(&w, "sluice_hook_failures_total", NULL, NULL, srv->hook_failures);
    process_metrics(&w, srv);
    return w.rc;
}
