/* The management API: routes, authorization and JSON answers. Documented in
 * docs/api.md and docs/api.yaml (OpenAPI 3).
 *
 *   GET    /api/v1/server
 *   GET    /api/v1/streams                  GET, DELETE /api/v1/streams/{app}/{name}
 *   GET    /api/v1/clients                  GET, DELETE /api/v1/clients/{id}
 *   GET    /api/v1/relays                   relay sessions (pushes and pulls)
 *   GET, POST /api/v1/pulls                  DELETE /api/v1/pulls/{id} (sources)
 *   GET    /metrics                         Prometheus text format 0.0.4
 *   GET    /api/query_whole_streams[?top=N] POST /api/query_stream, /api/kick_off_client
 *                                           (XIU's routes and envelope)
 */
#include "sluice/api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocols/relay/relay.h"
#include "sluice/auth.h"
#include "sluice/log.h"
#include "src/api/views.h"

#define V1 "/api/v1/"

typedef struct sl_api {
    sl_server_t *srv;
    sl_http_server_t *http;
} api_t;

static int respond_json(sl_http_conn_t *c, int status, cJSON *doc)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL) return sl_http_respond_error(c, 500, NULL);
    int rc = sl_http_respond_ex(c, status, "application/json", "Cache-Control: no-store\r\n", text, strlen(text));
    cJSON_free(text);
    return rc;
}

static int respond_error(sl_http_conn_t *c, int status, const char *message)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", message);
    return respond_json(c, status, doc);
}

/* XIU's envelope: {"error_code": 0, "desp": "succ", "data": ...}. */
static int respond_xiu(sl_http_conn_t *c, int status, int code, const char *desp, cJSON *data)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "error_code", code);
    cJSON_AddStringToObject(doc, "desp", desp);
    cJSON_AddItemToObject(doc, "data", data != NULL ? data : cJSON_CreateNull());
    return respond_json(c, status, doc);
}

static bool authorized(const sl_config_t *cfg, const sl_http_request_t *req)
{
    if (cfg->api.token[0] == '\0') return true;
    size_t len;
    const char *h = sl_http_header_get(req, "Authorization", &len);
    char given[sizeof(cfg->api.token) + 1];
    if (h == NULL || len <= 7 || strncasecmp(h, "Bearer ", 7) != 0 || len - 7 >= sizeof(given)) return false;
    memcpy(given, h + 7, len - 7);
    given[len - 7] = '\0';
    return sl_auth_equal(given, cfg->api.token);
}

/* The id of "/api/v1/clients/123", 0 when it is not a number. */
static uint64_t parse_id(const char *s)
{
    uint64_t v = 0;
    if (*s == '\0' || strlen(s) > 19) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

static int kick(sl_http_conn_t *c, sl_conn_t *victim)
{
    uint64_t id = victim->id;
    SL_INFO("api %s: kicking client %llu (%s %s)", sl_http_conn_peer(c), (unsigned long long)id,
            sl_proto_name(victim->proto), victim->remote);
    victim->close(victim, "kicked through the API");
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "kicked", (double)id);
    return respond_json(c, 200, doc);
}

typedef struct stream_list {
    sl_server_t *srv;
    cJSON *array;
} stream_list_t;

static void add_stream(sl_stream_t *s, void *arg)
{
    stream_list_t *l = arg;
    cJSON_AddItemToArray(l->array, sl_api_stream_json(l->srv, s));
}

static int streams(api_t *a, sl_http_conn_t *c, const sl_http_request_t *req, const char *key)
{
    if (key[0] == '\0') {
        if (strcmp(req->method, "GET") != 0) return respond_error(c, 405, "use GET");
        cJSON *doc = cJSON_CreateObject();
        stream_list_t l = {a->srv, cJSON_AddArrayToObject(doc, "streams")};
        sl_hub_foreach(a->srv->hub, add_stream, &l);
        return respond_json(c, 200, doc);
    }
    sl_stream_t *s = sl_hub_key_valid(key) ? sl_hub_find(a->srv->hub, key) : NULL;
    if (s == NULL) return respond_error(c, 404, "no such stream");
    if (strcmp(req->method, "GET") == 0) return respond_json(c, 200, sl_api_stream_json(a->srv, s));
    if (strcmp(req->method, "DELETE") != 0) return respond_error(c, 405, "use GET or DELETE");
    for (sl_list_t *pos = a->srv->conns.next; pos != &a->srv->conns; pos = pos->next) {
        sl_conn_t *x = sl_container_of(pos, sl_conn_t, link);
        if (x->role == SL_ROLE_PUBLISHER && strcmp(x->key, key) == 0) return kick(c, x);
    }
    return respond_error(c, 409, "the stream has no publisher session to kick");
}

static int clients(api_t *a, sl_http_conn_t *c, const sl_http_request_t *req, const char *id_text)
{
    if (id_text[0] == '\0') {
        if (strcmp(req->method, "GET") != 0) return respond_error(c, 405, "use GET");
        cJSON *doc = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(doc, "clients");
        for (sl_list_t *pos = a->srv->conns.next; pos != &a->srv->conns; pos = pos->next)
            cJSON_AddItemToArray(list, sl_api_client_json(sl_container_of(pos, sl_conn_t, link)));
        return respond_json(c, 200, doc);
    }
    uint64_t id = parse_id(id_text);
    sl_conn_t *x = id != 0 ? sl_server_find_conn(a->srv, id) : NULL;
    if (x == NULL) return respond_error(c, 404, "no such client");
    if (strcmp(req->method, "GET") == 0) return respond_json(c, 200, sl_api_client_json(x));
    if (strcmp(req->method, "DELETE") == 0) return kick(c, x);
    return respond_error(c, 405, "use GET or DELETE");
}

static void add_relay(const sl_relay_info_t *r, void *arg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "kind", r->kind);
    cJSON_AddStringToObject(o, "stream", r->stream);
    cJSON_AddStringToObject(o, "target", r->target);
    cJSON_AddStringToObject(o, "state", r->state);
    cJSON_AddNumberToObject(o, "retries", r->retries);
    cJSON_AddNumberToObject(o, "bytes_in", (double)r->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)r->bytes_out);
    if (r->last_error != NULL) cJSON_AddStringToObject(o, "last_error", r->last_error);
    else cJSON_AddNullToObject(o, "last_error");
    cJSON_AddItemToArray(arg, o);
}

static int relays(api_t *a, sl_http_conn_t *c)
{
    cJSON *doc = cJSON_CreateObject();
    sl_relay_foreach(a->srv, add_relay, cJSON_AddArrayToObject(doc, "relays"));
    return respond_json(c, 200, doc);
}

/* ---- sources ---------------------------------------------------------------------- */

typedef struct source_filter {
    cJSON *into;
    uint64_t id; /* 0: every source */
} source_filter_t;

static void add_source(const sl_source_info_t *s, void *arg)
{
    source_filter_t *f = arg;
    if (f->id != 0 && s->id != f->id) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    cJSON_AddStringToObject(o, "stream", s->stream);
    cJSON_AddStringToObject(o, "url", s->url);
    if (s->transport != NULL) cJSON_AddStringToObject(o, "transport", s->transport);
    else cJSON_AddNullToObject(o, "transport");
    cJSON_AddBoolToObject(o, "on_demand", s->on_demand);
    cJSON_AddStringToObject(o, "state", s->state);
    cJSON_AddNumberToObject(o, "retries", s->retries);
    cJSON_AddNumberToObject(o, "bytes_in", (double)s->bytes_in);
    if (s->last_error != NULL) cJSON_AddStringToObject(o, "last_error", s->last_error);
    else cJSON_AddNullToObject(o, "last_error");
    cJSON_AddItemToArray(f->into, o);
}

/* The source entry of a POST body {"stream": "cams/door", "url": "rtsp://...",
 * "transport": "tcp", "on_demand": true}, as relay.sources writes it. */
static bool entry_of(const cJSON *body, char *entry, size_t cap)
{
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(body, "stream");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(body, "url");
    const cJSON *transport = cJSON_GetObjectItemCaseSensitive(body, "transport");
    const cJSON *on_demand = cJSON_GetObjectItemCaseSensitive(body, "on_demand");
    if (!cJSON_IsString(stream) || !cJSON_IsString(url) || (transport != NULL && !cJSON_IsString(transport)) ||
        (on_demand != NULL && !cJSON_IsBool(on_demand)))
        return false;
    /* Words are separated by spaces in an entry: none may hide in a value. */
    if (strchr(stream->valuestring, ' ') != NULL || strchr(url->valuestring, ' ') != NULL ||
        (transport != NULL && strchr(transport->valuestring, ' ') != NULL))
        return false;
    int n = snprintf(entry, cap, "%s %s%s%s%s", stream->valuestring, url->valuestring,
                     transport != NULL ? " transport=" : "", transport != NULL ? transport->valuestring : "",
                     cJSON_IsFalse(on_demand) ? " always_on" : "");
    return n > 0 && (size_t)n < cap;
}

static int add_pull(api_t *a, sl_http_conn_t *c, const sl_http_request_t *req)
{
    cJSON *body = cJSON_ParseWithLength((const char *)req->body, req->body_len);
    char entry[SL_CONFIG_SOURCE_MAX];
    bool ok = cJSON_IsObject(body) && entry_of(body, entry, sizeof(entry));
    cJSON_Delete(body);
    if (!ok)
        return respond_error(c, 400, "expected {\"stream\": \"app/name\", \"url\": \"rtsp://...\", "
                                     "\"transport\": \"auto|tcp|udp\", \"on_demand\": true}");
    sl_source_spec_t spec;
    const char *why;
    if (sl_source_spec_parse(entry, &spec, &why) != SL_OK) return respond_error(c, 400, why);
    uint64_t id;
    int rc = sl_relay_add_source(a->srv, &spec, &id);
    if (rc == SL_ERR_BUSY) return respond_error(c, 409, "the stream is a source already");
    if (rc != SL_OK) return respond_error(c, 503, sl_strerror(rc));
    char shown[SL_CONFIG_SOURCE_MAX];
    sl_source_url_redact(spec.url, shown, sizeof(shown));
    SL_INFO("api %s: source %s <- %s added (id %llu)", sl_http_conn_peer(c), spec.key, shown, (unsigned long long)id);
    cJSON *list = cJSON_CreateArray();
    source_filter_t f = {.into = list, .id = id};
    sl_relay_foreach_source(a->srv, add_source, &f);
    cJSON *doc = cJSON_DetachItemFromArray(list, 0);
    cJSON_Delete(list);
    return respond_json(c, 201, doc);
}

static int pulls(api_t *a, sl_http_conn_t *c, const sl_http_request_t *req, const char *rest)
{
    if (rest[0] != '\0') {
        uint64_t id = parse_id(rest);
        if (strcmp(req->method, "DELETE") != 0) return respond_error(c, 405, "use DELETE");
        if (id == 0 || sl_relay_remove_source(a->srv, id) != SL_OK) return respond_error(c, 404, "no such pull");
        SL_INFO("api %s: source %llu removed", sl_http_conn_peer(c), (unsigned long long)id);
        return sl_http_respond(c, 204, NULL, NULL, 0);
    }
    if (strcmp(req->method, "POST") == 0) return add_pull(a, c, req);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return respond_error(c, 405, "use GET or POST");
    cJSON *doc = cJSON_CreateObject();
    source_filter_t f = {.into = cJSON_AddArrayToObject(doc, "pulls")};
    sl_relay_foreach_source(a->srv, add_source, &f);
    return respond_json(c, 200, doc);
}

static int metrics(api_t *a, sl_http_conn_t *c)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    int rc = sl_api_metrics(a->srv, &out);
    if (rc == SL_OK)
        rc = sl_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    else
        rc = sl_http_respond_error(c, 500, NULL);
    sl_bytes_free(&out);
    return rc;
}

/* ---- XIU's routes ---------------------------------------------------------------- */

typedef struct top_n {
    sl_stream_t *s;
    size_t players;
} top_n_t;

typedef struct whole {
    top_n_t *items;
    size_t n, cap;
} whole_t;

static void collect(sl_stream_t *s, void *arg)
{
    whole_t *w = arg;
    if (w->n == w->cap) return;
    sl_stream_stats_t st;
    sl_stream_get_stats(s, 0, &st);
    w->items[w->n++] = (top_n_t){s, st.subscribers};
}

static int by_players(const void *x, const void *y)
{
    const top_n_t *a = x, *b = y;
    return a->players < b->players ? 1 : a->players > b->players ? -1 : 0;
}

static int xiu_whole_streams(api_t *a, sl_http_conn_t *c, const sl_http_request_t *req)
{
    whole_t w = {.cap = sl_hub_stream_count(a->srv->hub)};
    w.items = calloc(w.cap + 1, sizeof(*w.items));
    if (w.items == NULL) return respond_xiu(c, 503, -1, "out of memory", NULL);
    sl_hub_foreach(a->srv->hub, collect, &w);
    size_t top = w.n;
    const char *q = strstr(req->query, "top=");
    if (q != NULL && (q == req->query || q[-1] == '&')) top = SL_MIN(top, (size_t)strtoul(q + 4, NULL, 10));
    qsort(w.items, w.n, sizeof(*w.items), by_players);
    cJSON *data = cJSON_CreateArray();
    for (size_t i = 0; i < top; i++) cJSON_AddItemToArray(data, sl_api_xiu_stream_json(a->srv, w.items[i].s, 0));
    free(w.items);
    return respond_xiu(c, 200, 0, "succ", data);
}

/* {"identifier": {"<protocol>": {"app_name": "live", "stream_name": "cam"}}}, or
 * RTSP's {"rtsp": {"stream_path": "live/cam"}}, into "app/name". */
static bool xiu_key(const cJSON *body, char *key, size_t cap)
{
    const cJSON *ident = cJSON_GetObjectItemCaseSensitive(body, "identifier");
    const cJSON *proto = ident != NULL ? ident->child : NULL;
    if (!cJSON_IsObject(proto)) return false;
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(proto, "stream_path");
    const cJSON *app = cJSON_GetObjectItemCaseSensitive(proto, "app_name");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(proto, "stream_name");
    int n;
    if (cJSON_IsString(path)) n = snprintf(key, cap, "%s", path->valuestring);
    else if (cJSON_IsString(app) && cJSON_IsString(name)) n = snprintf(key, cap, "%s/%s", app->valuestring, name->valuestring);
    else return false;
    return n > 0 && (size_t)n < cap && sl_hub_key_valid(key);
}

/* XIU sends ids as strings; numbers are taken too. */
static uint64_t xiu_id(const cJSON *body, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, field);
    if (cJSON_IsString(v)) return parse_id(v->valuestring);
    if (cJSON_IsNumber(v) && v->valuedouble >= 1) return (uint64_t)v->valuedouble;
    return 0;
}

static int xiu_query_stream(api_t *a, sl_http_conn_t *c, const cJSON *body)
{
    char key[SL_STREAM_KEY_MAX];
    if (!xiu_key(body, key, sizeof(key))) return respond_xiu(c, 400, -1, "identifier missing or invalid", NULL);
    sl_stream_t *s = sl_hub_find(a->srv->hub, key);
    if (s == NULL) return respond_xiu(c, 404, -1, "no such stream", NULL);
    cJSON *data = cJSON_CreateArray();
    cJSON_AddItemToArray(data, sl_api_xiu_stream_json(a->srv, s, xiu_id(body, "uuid")));
    return respond_xiu(c, 200, 0, "succ", data);
}

static int xiu_kick(api_t *a, sl_http_conn_t *c, const cJSON *body)
{
    uint64_t id = xiu_id(body, "id");
    if (id == 0) id = xiu_id(body, "uuid");
    sl_conn_t *x = id != 0 ? sl_server_find_conn(a->srv, id) : NULL;
    if (x == NULL) return respond_xiu(c, 404, -1, "no such client", NULL);
    SL_INFO("api %s: kicking client %llu (%s %s)", sl_http_conn_peer(c), (unsigned long long)id,
            sl_proto_name(x->proto), x->remote);
    x->close(x, "kicked through the API");
    return respond_xiu(c, 200, 0, "succ", NULL);
}

static int xiu(api_t *a, sl_http_conn_t *c, const sl_http_request_t *req, const char *route)
{
    if (strcmp(route, "query_whole_streams") == 0)
        return strcmp(req->method, "GET") == 0 ? xiu_whole_streams(a, c, req) : respond_xiu(c, 405, -1, "use GET", NULL);
    bool query = strcmp(route, "query_stream") == 0, kick_off = strcmp(route, "kick_off_client") == 0;
    if (!query && !kick_off) return respond_xiu(c, 404, -1, "no such route", NULL);
    if (strcmp(req->method, "POST") != 0) return respond_xiu(c, 405, -1, "use POST", NULL);
    cJSON *body = cJSON_ParseWithLength((const char *)req->body, req->body_len);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return respond_xiu(c, 400, -1, "the body must be a JSON object", NULL);
    }
    int rc = query ? xiu_query_stream(a, c, body) : xiu_kick(a, c, body);
    cJSON_Delete(body);
    return rc;
}

static int handle(void *arg, sl_http_conn_t *c, const sl_http_request_t *req)
{
    api_t *a = arg;
    if (strcmp(req->method, "OPTIONS") == 0) return SL_ERR_NOT_FOUND; /* the server's CORS preflight */
    if (!authorized(a->srv->cfg, req)) {
        SL_WARN("api %s: %s %s refused: wrong or missing bearer token", sl_http_conn_peer(c), req->method, req->path);
        return sl_http_respond_ex(c, 401, "application/json", "WWW-Authenticate: Bearer\r\n",
                                  "{\"error\":\"bearer token required\"}", 33);
    }
    const char *p = req->path;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(p, "/metrics") == 0) return get ? metrics(a, c) : respond_error(c, 405, "use GET");
    if (strcmp(p, V1 "server") == 0)
        return get ? respond_json(c, 200, sl_api_server_json(a->srv)) : respond_error(c, 405, "use GET");
    if (strcmp(p, V1 "streams") == 0) return streams(a, c, req, "");
    if (strncmp(p, V1 "streams/", 16) == 0) return streams(a, c, req, p + 16);
    if (strcmp(p, V1 "relays") == 0) return get ? relays(a, c) : respond_error(c, 405, "use GET");
    if (strcmp(p, V1 "pulls") == 0) return pulls(a, c, req, "");
    if (strncmp(p, V1 "pulls/", 14) == 0) return pulls(a, c, req, p + 14);
    if (strcmp(p, V1 "clients") == 0) return clients(a, c, req, "");
    if (strncmp(p, V1 "clients/", 16) == 0) return clients(a, c, req, p + 16);
    if (strncmp(p, "/api/", 5) == 0 && strchr(p + 5, '/') == NULL) return xiu(a, c, req, p + 5);
    return respond_error(c, 404, "no such route");
}

int sl_api_start(sl_server_t *srv)
{
    const sl_config_t *cfg = srv->cfg;
    if (!cfg->api.enabled) return SL_OK;
    api_t *a = calloc(1, sizeof(*a));
    if (a == NULL) return SL_ERR_NOMEM;
    a->srv = srv;
    a->http = sl_http_server_new(srv->loop, cfg);
    if (a->http == NULL) {
        free(a);
        return SL_ERR_NOMEM;
    }
    srv->api = a;
    int rc = sl_http_server_add_handler(a->http, handle, a);
    for (int i = 0; i < cfg->api.listen.count && rc == SL_OK; i++) rc = sl_http_server_listen(a->http, &cfg->api.listen.addr[i]);
    if (rc == SL_OK) SL_INFO("api: listening%s", cfg->api.token[0] ? " (bearer token required)" : "");
    return rc;
}

void sl_api_stop(sl_server_t *srv)
{
    api_t *a = srv->api;
    if (a == NULL) return;
    srv->api = NULL;
    sl_http_server_close(a->http, NULL, NULL);
    free(a);
}
