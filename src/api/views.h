/* Internal to src/api: the JSON documents (views.c) and the metrics (metrics.c). */
#ifndef SLUICE_SRC_API_VIEWS_H
#define SLUICE_SRC_API_VIEWS_H

#include <cJSON.h>

#include "sluice/server.h"

/* Bytes by protocol, closed sessions and live ones together. */
typedef struct sl_api_totals {
    uint64_t in[SL_PROTO_COUNT], out[SL_PROTO_COUNT];
    uint64_t all_in, all_out;
} sl_api_totals_t;
void sl_api_totals(sl_server_t *srv, sl_api_totals_t *t);

/* New cJSON objects, owned by the caller. */
cJSON *sl_api_server_json(sl_server_t *srv);
cJSON *sl_api_stream_json(sl_server_t *srv, sl_stream_t *s);
cJSON *sl_api_client_json(const sl_conn_t *c);
/* A stream as XIU's query_whole_streams shows it; only_id != 0 keeps only that
 * subscriber (none when it is the publisher's id), as XIU's query_stream does. */
cJSON *sl_api_xiu_stream_json(sl_server_t *srv, sl_stream_t *s, uint64_t only_id);

/* The Prometheus text exposition of the server, appended to out. */
int sl_api_metrics(sl_server_t *srv, sl_bytes_t *out) SL_MUST_CHECK;

#endif
