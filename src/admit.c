#include "sluice/admit.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "sluice/http_client.h"
#include "sluice/log.h"

/* A hook request in flight. At shutdown requests are left to finish (each within
 * hooks.timeout_ms), so the last on_unpublish and on_record events still go out. */
struct sl_admission {
    sl_server_t *srv;
    const char *event;
    sl_admit_cb cb; /* NULL for events that decide nothing, or once cancelled */
    void *arg;
    char key[SL_STREAM_KEY_MAX];
    uint64_t client_id;
};

static bool covers(const struct sl_auth_rule *r, const char *key)
{
    char app[SL_STREAM_KEY_MAX], patterns[sizeof(r->apps)], *save = NULL;
    const char *slash = strchr(key, '/');
    snprintf(app, sizeof(app), "%.*s", slash != NULL ? (int)(slash - key) : (int)strlen(key), key);
    snprintf(patterns, sizeof(patterns), "%s", r->apps);
    for (char *p = strtok_r(patterns, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save))
        if (fnmatch(p, app, 0) == 0) return true;
    return false;
}

/* The token of the rule covering the stream: SL_OK or SL_ERR_AUTH with why. */
static int check_token(const sl_server_t *srv, const sl_admit_req_t *req, const char **why)
{
    const struct sl_auth_rule *r = req->dir == SL_DIR_PUBLISH ? &srv->cfg->auth.publish : &srv->cfg->auth.play;
    if (r->kind == SL_TOKEN_NONE || !covers(r, req->key)) return SL_OK;
    char token[SL_TOKEN_HEX_MAX * 4] = "", expires[32] = "", app[SL_STREAM_KEY_MAX];
    if (req->bearer != NULL && req->bearer[0] != '\0') snprintf(token, sizeof(token), "%s", req->bearer);
    else if (sl_query_get(req->query, "token", token, sizeof(token)) != SL_OK) token[0] = '\0';
    if (sl_query_get(req->query, "expires", expires, sizeof(expires)) != SL_OK) expires[0] = '\0';
    const char *slash = strchr(req->key, '/');
    snprintf(app, sizeof(app), "%.*s", slash != NULL ? (int)(slash - req->key) : 0, req->key);
    const char *reason = NULL;
    int rc = sl_token_verify((sl_token_kind_t)r->kind, r->secret, app, slash != NULL ? slash + 1 : req->key, req->dir,
                             token, expires, (uint64_t)(sl_unix_ms() / 1000), &reason);
    if (rc == SL_OK) return SL_OK;
    *why = reason != NULL && strcmp(reason, "expired") == 0 ? "token expired" : "wrong or missing token";
    return SL_ERR_AUTH;
}

static char *event_body(const char *event, const sl_admit_req_t *req)
{
    cJSON *o = cJSON_CreateObject();
    const char *slash = strchr(req->key, '/');
    char app[SL_STREAM_KEY_MAX];
    snprintf(app, sizeof(app), "%.*s", slash != NULL ? (int)(slash - req->key) : 0, req->key);
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddStringToObject(o, "stream", req->key);
    cJSON_AddStringToObject(o, "app", app);
    cJSON_AddStringToObject(o, "name", slash != NULL ? slash + 1 : req->key);
    cJSON_AddNumberToObject(o, "client_id", (double)req->client_id);
    cJSON_AddStringToObject(o, "protocol", sl_proto_name(req->proto));
    cJSON_AddStringToObject(o, "direction", sl_direction_name(req->dir));
    cJSON_AddStringToObject(o, "remote_address", req->remote != NULL ? req->remote : "");
    cJSON_AddStringToObject(o, "query", req->query != NULL ? req->query : "");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void on_hook_answer(void *arg, int status, const uint8_t *body, size_t len)
{
    sl_admission_t *a = arg;
    bool failed = status < 0 && status != SL_ERR_CLOSED;
    if (failed) a->srv->hook_failures++;
    if (a->cb != NULL && status != SL_ERR_CLOSED) {
        const char *why = NULL;
        int rc = SL_OK;
        if (failed && !a->srv->cfg->hooks.fail_open) {
            rc = SL_ERR_AUTH;
            why = "the hook service failed (hooks.fail_open is false)";
        } else if (status >= 300) {
            rc = SL_ERR_AUTH;
            why = strcmp(a->event, "on_publish") == 0 ? "denied by the on_publish hook" : "denied by the on_play hook";
        }
        if (rc != SL_OK) {
            SL_WARN("client %llu %s %s: %s (%d)", (unsigned long long)a->client_id, a->event, a->key, why, status);
        } else if (failed) {
            SL_WARN("client %llu %s %s: hook failed, allowed (hooks.fail_open)", (unsigned long long)a->client_id,
                    a->event, a->key);
        }
        a->cb(a->arg, rc, why);
    }
    free(a);
}

static sl_admission_t *post(sl_server_t *srv, const char *event, const char *url, const char *body, const char *key,
                            uint64_t client_id)
{
    sl_admission_t *a = calloc(1, sizeof(*a));
    if (a == NULL) return NULL;
    a->srv = srv;
    a->event = event;
    a->client_id = client_id;
    snprintf(a->key, sizeof(a->key), "%s", key);
    if (sl_http_post(srv->loop, url, "application/json", body, strlen(body), srv->cfg->hooks.timeout_ms, on_hook_answer,
                     a, NULL) != SL_OK) {
        srv->hook_failures++;
        free(a);
        return NULL;
    }
    return a;
}

int sl_admit_token(sl_server_t *srv, const sl_admit_req_t *req, const char **why)
{
    if (check_token(srv, req, why) == SL_OK) return SL_OK;
    srv->auth_failures[req->proto]++;
    SL_WARN("client %llu %s %s %s from %s refused: %s", (unsigned long long)req->client_id, sl_proto_name(req->proto),
            sl_direction_name(req->dir), req->key, req->remote != NULL ? req->remote : "?", *why);
    return SL_ERR_AUTH;
}

int sl_admit(sl_server_t *srv, const sl_admit_req_t *req, sl_admit_cb cb, void *arg, sl_admission_t **pending,
             const char **why)
{
    *pending = NULL;
    if (sl_admit_token(srv, req, why) != SL_OK) return SL_ERR_AUTH;
    const char *event = req->dir == SL_DIR_PUBLISH ? "on_publish" : "on_play";
    const char *url = req->dir == SL_DIR_PUBLISH ? srv->cfg->hooks.on_publish : srv->cfg->hooks.on_play;
    if (url[0] == '\0') return SL_OK;
    char *body = event_body(event, req);
    sl_admission_t *a = body != NULL ? post(srv, event, url, body, req->key, req->client_id) : NULL;
    cJSON_free(body);
    if (a == NULL) {
        if (srv->cfg->hooks.fail_open) return SL_OK;
        *why = "the hook service failed (hooks.fail_open is false)";
        return SL_ERR_AUTH;
    }
    a->cb = cb;
    a->arg = arg;
    *pending = a;
    return SL_ERR_AGAIN;
}

void sl_admit_cancel(sl_admission_t *a)
{
    if (a != NULL) a->cb = NULL;
}

void sl_hook_event(sl_server_t *srv, const char *event, const sl_admit_req_t *req)
{
    const char *url = strcmp(event, "on_unpublish") == 0 ? srv->cfg->hooks.on_unpublish : srv->cfg->hooks.on_stop;
    if (url[0] == '\0') return;
    char *body = event_body(event, req);
    if (body != NULL) (void)post(srv, event, url, body, req->key, req->client_id);
    cJSON_free(body);
}

void sl_hook_record(sl_server_t *srv, const char *key, const char *path)
{
    const char *url = srv->cfg->hooks.on_record;
    if (url[0] == '\0') return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "on_record");
    cJSON_AddStringToObject(o, "stream", key);
    cJSON_AddStringToObject(o, "path", path);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (body != NULL) (void)post(srv, "on_record", url, body, key, 0);
    cJSON_free(body);
}
