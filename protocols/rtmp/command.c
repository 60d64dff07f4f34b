/* RTMP messages after the handshake: protocol control, commands (connect,
 * createStream, publish, play, ...) with the replies ffmpeg, OBS, librtmp and
 * GStreamer wait for, and media handed to media.c. */
#include <stdio.h>
#include <string.h>

#include "protocols/rtmp/amf0.h"
#include "protocols/rtmp/message.h"
#include "protocols/rtmp/session.h"
#include "sluice/admit.h"
#include "sluice/log.h"

typedef struct command {
    const char *name;
    double txn;
    const sl_amf0_value_t *object; /* the command object (often null) */
    const sl_amf0_doc_t *doc;      /* every value: name, txn, object, arguments... */
} command_t;

/* The i-th argument after the command object. */
static const sl_amf0_value_t *arg(const command_t *c, size_t i) { return sl_amf0_doc_get(c->doc, 3 + i); }

static uint32_t out_chunk_size(const rtmp_session_t *s)
{
    return s->state >= RTMP_CONNECTED ? s->srv->cfg->rtmp.chunk_size : SL_RTMP_DEFAULT_CHUNK_SIZE;
}

/* Queues one AMF0 command or data message whose body is in `body`. */
static int send_amf(rtmp_session_t *s, uint8_t type, uint32_t stream_id, sl_bytes_t *body)
{
    int rc = sl_rtmp_chunk_write(&s->out, SL_RTMP_CSID_COMMAND, type, stream_id, 0, body->data, body->len,
                                 out_chunk_size(s));
    sl_bytes_free(body);
    sl__rtmp_schedule_flush(s);
    return rc;
}

/* _result or _error: name, transaction id, a properties object or null, info. */
static int send_result(rtmp_session_t *s, const char *name, double txn, sl_bytes_t *info)
{
    sl_bytes_t body;
    sl_bytes_init(&body);
    int rc = sl_amf0_put_string(&body, name);
    rc |= sl_amf0_put_number(&body, txn);
    rc |= sl_amf0_put_null(&body);
    if (info != NULL) rc |= sl_bytes_append(&body, info->data, info->len);
    else rc |= sl_amf0_put_null(&body);
    if (rc != SL_OK) {
        sl_bytes_free(&body);
        return SL_ERR_NOMEM;
    }
    return send_amf(s, SL_RTMP_MSG_COMMAND_AMF0, 0, &body);
}

static int put_prop_string(sl_bytes_t *b, const char *key, const char *value)
{
    int rc = sl_amf0_put_key(b, key);
    return rc | sl_amf0_put_string(b, value);
}

static int put_prop_number(sl_bytes_t *b, const char *key, double value)
{
    int rc = sl_amf0_put_key(b, key);
    return rc | sl_amf0_put_number(b, value);
}

/* onStatus on the media stream: the NetStream events players and publishers wait for. */
static int send_status(rtmp_session_t *s, const char *level, const char *code, const char *description)
{
    sl_bytes_t body;
    sl_bytes_init(&body);
    int rc = sl_amf0_put_string(&body, "onStatus");
    rc |= sl_amf0_put_number(&body, 0);
    rc |= sl_amf0_put_null(&body);
    rc |= sl_amf0_put_object_begin(&body);
    rc |= put_prop_string(&body, "level", level);
    rc |= put_prop_string(&body, "code", code);
    rc |= put_prop_string(&body, "description", description);
    rc |= put_prop_string(&body, "details", s->key);
    rc |= put_prop_number(&body, "clientid", (double)s->id);
    rc |= sl_amf0_put_object_end(&body);
    if (rc != SL_OK) {
        sl_bytes_free(&body);
        return SL_ERR_NOMEM;
    }
    return send_amf(s, SL_RTMP_MSG_COMMAND_AMF0, SL_RTMP_STREAM_ID, &body);
}

/* Refuses a publish or play: the error status, then the connection closes. */
static int refuse(rtmp_session_t *s, const char *code, const char *description)
{
    SL_WARN("client %llu rtmp %s: %s", (unsigned long long)s->id, s->key, description);
    s->close_after_write = true;
    return send_status(s, "error", code, description);
}

static void copy_string(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static int on_connect(rtmp_session_t *s, const command_t *c)
{
    if (s->state != RTMP_CONNECTING) return SL_ERR_PROTO;
    const char *app = sl_amf0_str(sl_amf0_prop(c->object, "app"));
    if (app == NULL) return SL_ERR_PROTO;
    copy_string(s->app, sizeof(s->app), app);
    /* Some clients put the query or a trailing slash in the app name. */
    char *q = strchr(s->app, '?');
    if (q != NULL) {
        copy_string(s->query, sizeof(s->query), q + 1);
        *q = '\0';
    }
    size_t n = strlen(s->app);
    while (n > 0 && s->app[n - 1] == '/') s->app[--n] = '\0';
    copy_string(s->tc_url, sizeof(s->tc_url), sl_amf0_str(sl_amf0_prop(c->object, "tcUrl")));
    double encoding = 0;
    sl_amf0_num(sl_amf0_prop(c->object, "objectEncoding"), &encoding);

    int rc = sl_rtmp_write_window_ack_size(&s->out, SL_RTMP_WINDOW_ACK_SIZE);
    rc |= sl_rtmp_write_set_peer_bandwidth(&s->out, SL_RTMP_WINDOW_ACK_SIZE, SL_RTMP_BW_DYNAMIC);
    rc |= sl_rtmp_write_set_chunk_size(&s->out, s->srv->cfg->rtmp.chunk_size);
    s->state = RTMP_CONNECTED;

    sl_bytes_t props;
    sl_bytes_init(&props);
    rc |= sl_amf0_put_string(&props, "_result");
    rc |= sl_amf0_put_number(&props, c->txn);
    rc |= sl_amf0_put_object_begin(&props);
    rc |= put_prop_string(&props, "fmsVer", "FMS/3,0,1,123");
    rc |= put_prop_number(&props, "capabilities", 31);
    rc |= sl_amf0_put_object_end(&props);
    rc |= sl_amf0_put_object_begin(&props);
    rc |= put_prop_string(&props, "level", "status");
    rc |= put_prop_string(&props, "code", "NetConnection.Connect.Success");
    rc |= put_prop_string(&props, "description", "Connection succeeded.");
    rc |= put_prop_number(&props, "objectEncoding", encoding);
    rc |= sl_amf0_put_object_end(&props);
    if (rc != SL_OK) {
        sl_bytes_free(&props);
        return SL_ERR_NOMEM;
    }
    SL_INFO("client %llu rtmp connect app=%s tcUrl=%s", (unsigned long long)s->id, s->app, s->tc_url);
    return send_amf(s, SL_RTMP_MSG_COMMAND_AMF0, 0, &props);
}

static int on_create_stream(rtmp_session_t *s, const command_t *c)
{
    sl_bytes_t id;
    sl_bytes_init(&id);
    if (sl_amf0_put_number(&id, SL_RTMP_STREAM_ID) != SL_OK) return SL_ERR_NOMEM;
    int rc = send_result(s, "_result", c->txn, &id);
    sl_bytes_free(&id);
    return rc;
}

/* "name?query" → s->key = "app/name", s->query = "query". False if invalid. */
static bool set_stream_key(rtmp_session_t *s, const char *name)
{
    if (name == NULL || s->state != RTMP_CONNECTED) return false;
    char buf[SL_STREAM_KEY_MAX];
    copy_string(buf, sizeof(buf), name);
    char *q = strchr(buf, '?');
    if (q != NULL) {
        copy_string(s->query, sizeof(s->query), q + 1);
        *q = '\0';
    }
    int n = snprintf(s->key, sizeof(s->key), "%s/%s", s->app, buf);
    return n > 0 && (size_t)n < sizeof(s->key) && sl_hub_key_valid(s->key);
}

static int start_publish(rtmp_session_t *s)
{
    int rc = sl_hub_publish(s->srv->hub, s->key, &s->stream);
    if (rc == SL_ERR_BUSY) return refuse(s, "NetStream.Publish.BadName", "stream is already being published");
    if (rc != SL_OK) return refuse(s, "NetStream.Publish.BadName", sl_strerror(rc));
    s->state = RTMP_PUBLISHING;
    s->conn.role = SL_ROLE_PUBLISHER;
    s->clock = (sl_rtmp_clock_t){0};
    SL_INFO("client %llu rtmp publish %s", (unsigned long long)s->id, s->key);
    rc = sl_rtmp_write_stream_begin(&s->out, SL_RTMP_STREAM_ID);
    return rc | send_status(s, "status", "NetStream.Publish.Start", "Start publishing");
}

static const sl_subscriber_ops_t player_ops;
static int wait_for_pull(rtmp_session_t *s);

/* Subscribes and starts the replies of a play. A stream the hub does not have is
 * waited for when a relay.pull rule covers it and `may_wait`; refused otherwise. */
static int start_play(rtmp_session_t *s, bool may_wait)
{
    uint64_t now = uv_now(s->srv->loop);
    int rc = sl_hub_subscribe(s->srv->hub, s->key, &s->sub, &player_ops, now);
    if (rc == SL_ERR_NOT_FOUND && may_wait) {
        rc = wait_for_pull(s);
        if (rc == SL_OK) return SL_OK;
        if (rc != SL_ERR_NOT_FOUND) return refuse(s, "NetStream.Play.Failed", sl_strerror(rc));
    }
    if (rc == SL_ERR_NOT_FOUND) return refuse(s, "NetStream.Play.StreamNotFound", "stream not found");
    if (rc != SL_OK) return refuse(s, "NetStream.Play.Failed", sl_strerror(rc));
    sl_subscriber_set_batched(&s->sub);
    s->state = RTMP_PLAYING;
    s->conn.role = SL_ROLE_PLAYER;
    s->transcode = sl_transcode_want(s->srv, s->sub.stream, SL_CODEC_AAC);
    SL_INFO("client %llu rtmp play %s", (unsigned long long)s->id, s->key);
    rc = sl_rtmp_write_stream_is_recorded(&s->out, SL_RTMP_STREAM_ID);
    rc |= sl_rtmp_write_stream_begin(&s->out, SL_RTMP_STREAM_ID);
    rc |= send_status(s, "status", "NetStream.Play.Reset", "Playing and resetting");
    rc |= send_status(s, "status", "NetStream.Play.Start", "Started playing");

    sl_bytes_t access;
    sl_bytes_init(&access);
    rc |= sl_amf0_put_string(&access, "|RtmpSampleAccess");
    rc |= sl_amf0_put_bool(&access, true);
    rc |= sl_amf0_put_bool(&access, true);
    if (rc != SL_OK) {
        sl_bytes_free(&access);
        return SL_ERR_NOMEM;
    }
    return send_amf(s, SL_RTMP_MSG_DATA_AMF0, SL_RTMP_STREAM_ID, &access);
}

/* An async step (the hook, the pull) ended with rc from what followed it. */
static void finish_async(rtmp_session_t *s, int rc)
{
    if (rc != SL_OK) sl__rtmp_close(s, sl_strerror(rc));
    else sl__rtmp_schedule_flush(s);
}

/* The pull ended. The client has had no onStatus yet: it gets the one of a play
 * that found the stream, or of one that did not. */
static void on_pulled(sl_relay_wait_t *w, int status)
{
    rtmp_session_t *s = sl_container_of(w, rtmp_session_t, pull_wait);
    s->state = RTMP_CONNECTED;
    int rc;
    if (status == SL_OK) rc = start_play(s, false);
    else if (status == SL_ERR_TIMEOUT) rc = refuse(s, "NetStream.Play.StreamNotFound", "no origin answered in time");
    else rc = refuse(s, "NetStream.Play.StreamNotFound", "stream not found");
    finish_async(s, rc);
}

/* An edge server: the stream may come from an origin. SL_ERR_NOT_FOUND when no
 * relay.pull rule covers it. */
static int wait_for_pull(rtmp_session_t *s)
{
    s->pull_wait.done = on_pulled;
    int rc = sl_relay_wait(s->srv, s->key, &s->pull_wait);
    if (rc != SL_OK) return rc;
    s->state = RTMP_PULLING;
    SL_INFO("client %llu rtmp play %s: waiting for the relay pull", (unsigned long long)s->id, s->key);
    return SL_OK;
}

static sl_admit_req_t admit_req(rtmp_session_t *s, sl_direction_t dir)
{
    return (sl_admit_req_t){.proto = SL_PROTO_RTMP, .dir = dir, .client_id = s->id, .key = s->key, .query = s->query,
                            .remote = s->peer};
}

static int refuse_admission(rtmp_session_t *s, bool publish, const char *why)
{
    return refuse(s, publish ? "NetStream.Publish.Unauthorized" : "NetStream.Play.Unauthorized", why);
}

/* The hook decided: go on as publish or play would have, or refuse. */
static void on_admitted(void *arg, int rc, const char *why)
{
    rtmp_session_t *s = arg;
    s->admission = NULL;
    s->state = RTMP_CONNECTED;
    if (rc == SL_OK) rc = s->admitting_publish ? start_publish(s) : start_play(s, true);
    else rc = refuse_admission(s, s->admitting_publish, why);
    finish_async(s, rc);
}

/* Token, then hook: the client waits for its onStatus until both said yes. */
static int admit(rtmp_session_t *s, bool publish)
{
    sl_admit_req_t req = admit_req(s, publish ? SL_DIR_PUBLISH : SL_DIR_PLAY);
    const char *why = NULL;
    int rc = sl_admit(s->srv, &req, on_admitted, s, &s->admission, &why);
    if (rc == SL_OK) return publish ? start_publish(s) : start_play(s, true);
    if (rc == SL_ERR_AUTH) return refuse_admission(s, publish, why);
    s->state = RTMP_ADMITTING;
    s->admitting_publish = publish;
    return SL_OK;
}

static int on_publish(rtmp_session_t *s, const command_t *c)
{
    if (!set_stream_key(s, sl_amf0_str(arg(c, 0))))
        return refuse(s, "NetStream.Publish.BadName", "invalid stream name");
    return admit(s, true);
}

static int on_play(rtmp_session_t *s, const command_t *c)
{
    if (!set_stream_key(s, sl_amf0_str(arg(c, 0))))
        return refuse(s, "NetStream.Play.StreamNotFound", "invalid stream name");
    return admit(s, false);
}

int sl__rtmp_end_of_stream(rtmp_session_t *s)
{
    s->close_after_write = true;
    int rc = send_status(s, "status", "NetStream.Play.UnpublishNotify", "stream is now unpublished");
    return rc | sl_rtmp_write_stream_eof(&s->out, SL_RTMP_STREAM_ID);
}

void sl__rtmp_stop_media(rtmp_session_t *s)
{
    if (s->state == RTMP_PUBLISHING) {
        SL_INFO("client %llu rtmp unpublish %s", (unsigned long long)s->id, s->key);
        sl_stream_unpublish(s->stream);
        s->stream = NULL;
        sl_admit_req_t req = admit_req(s, SL_DIR_PUBLISH);
        sl_hook_event(s->srv, "on_unpublish", &req);
    } else if (s->state == RTMP_PLAYING) {
        /* Before the detach: our subscriber may be what keeps the stream alive. */
        sl_transcode_release(s->transcode);
        s->transcode = NULL;
        sl_subscriber_detach(&s->sub);
        sl_admit_req_t req = admit_req(s, SL_DIR_PLAY);
        sl_hook_event(s->srv, "on_stop", &req);
    } else if (s->state == RTMP_PULLING) {
        SL_DEBUG("client %llu rtmp play %s: no longer waits for the relay pull", (unsigned long long)s->id, s->key);
        sl_relay_wait_cancel(&s->pull_wait);
    } else {
        return;
    }
    s->state = RTMP_CONNECTED;
    s->conn.role = SL_ROLE_NONE;
}

static int on_command(rtmp_session_t *s, const command_t *c)
{
    const char *n = c->name;
    if (strcmp(n, "connect") == 0) return on_connect(s, c);
    if (s->state < RTMP_CONNECTED) return SL_ERR_PROTO;
    if (strcmp(n, "createStream") == 0) return on_create_stream(s, c);
    /* A client that asks again while it waits for a pull has given up that wait. */
    if (s->state == RTMP_PULLING && (strcmp(n, "publish") == 0 || strcmp(n, "play") == 0))
        sl__rtmp_stop_media(s);
    if (strcmp(n, "publish") == 0) return on_publish(s, c);
    if (strcmp(n, "play") == 0) return on_play(s, c);
    if (strcmp(n, "FCUnpublish") == 0 || strcmp(n, "deleteStream") == 0 || strcmp(n, "closeStream") == 0) {
        sl__rtmp_stop_media(s);
        return strcmp(n, "FCUnpublish") == 0 ? send_result(s, "_result", c->txn, NULL) : SL_OK;
    }
    if (strcmp(n, "releaseStream") == 0 || strcmp(n, "FCPublish") == 0 || strcmp(n, "checkbw") == 0 ||
        strcmp(n, "_checkbw") == 0)
        return send_result(s, "_result", c->txn, NULL);
    if (strcmp(n, "getStreamLength") == 0) {
        sl_bytes_t len;
        sl_bytes_init(&len);
        if (sl_amf0_put_number(&len, 0) != SL_OK) return SL_ERR_NOMEM;
        int rc = send_result(s, "_result", c->txn, &len);
        sl_bytes_free(&len);
        return rc;
    }
    SL_DEBUG("client %llu rtmp ignores command %s", (unsigned long long)s->id, n);
    return SL_OK;
}

static int handle_command(rtmp_session_t *s, const uint8_t *body, size_t len)
{
    sl_amf0_doc_t *doc = NULL;
    int rc = sl_amf0_decode(body, len, &doc);
    if (rc != SL_OK) return rc;
    command_t c = {.name = sl_amf0_str(sl_amf0_doc_get(doc, 0)), .object = sl_amf0_doc_get(doc, 2), .doc = doc};
    if (c.name == NULL || !sl_amf0_num(sl_amf0_doc_get(doc, 1), &c.txn)) rc = SL_ERR_PROTO;
    else rc = on_command(s, &c);
    sl_amf0_doc_free(doc);
    return rc;
}

static int handle_user_control(rtmp_session_t *s, const sl_rtmp_msg_t *m)
{
    uint16_t event;
    uint32_t value;
    int rc = sl_rtmp_user_control_parse(m->body->data, m->body->len, &event, &value);
    if (rc != SL_OK) return rc;
    if (event != SL_RTMP_UC_PING_REQUEST) return SL_OK;
    sl__rtmp_schedule_flush(s);
    return sl_rtmp_write_ping_response(&s->out, value);
}

int sl__rtmp_on_message(void *arg, const sl_rtmp_msg_t *m)
{
    rtmp_session_t *s = arg;
    if (s->closing || s->close_after_write) return SL_OK;
    const uint8_t *body = m->body->data;
    size_t len = m->body->len;
    switch (m->type) {
    case SL_RTMP_MSG_WINDOW_ACK_SIZE:
        return sl_rtmp_control_parse(m->type, body, len, &s->peer_window);
    case SL_RTMP_MSG_USER_CONTROL:
        return handle_user_control(s, m);
    case SL_RTMP_MSG_COMMAND_AMF3:
        /* An AMF3 command message starts with a format byte, then AMF0 values. */
        if (len == 0) return SL_ERR_PROTO;
        return handle_command(s, body + 1, len - 1);
    case SL_RTMP_MSG_COMMAND_AMF0:
        return handle_command(s, body, len);
    case SL_RTMP_MSG_AUDIO:
    case SL_RTMP_MSG_VIDEO:
    case SL_RTMP_MSG_DATA_AMF0:
    case SL_RTMP_MSG_AGGREGATE:
        return s->state == RTMP_PUBLISHING ? sl__rtmp_publish_message(s, m) : SL_OK;
    default:
        /* Set Chunk Size and Abort were applied by the reader; the rest needs nothing. */
        return SL_OK;
    }
}

static void on_player_ready(sl_subscriber_t *sub)
{
    sl__rtmp_schedule_flush(sl_container_of(sub, rtmp_session_t, sub));
}

static void on_player_too_slow(sl_subscriber_t *sub)
{
    rtmp_session_t *s = sl_container_of(sub, rtmp_session_t, sub);
    /* The hub has detached it already. The transcoder is released when the session
     * is freed, not here: the hub is walking the stream's subscribers, and the
     * transcoder's may be the next one. */
    s->state = RTMP_CONNECTED;
    sl__rtmp_close(s, "too slow: queue limit exceeded");
}

static const sl_subscriber_ops_t player_ops = {
    .on_ready = on_player_ready,
    .on_too_slow = on_player_too_slow,
};
