#include "protocols/relay/rtmp_client.h"

#include <string.h>

#include "protocols/flv/flv.h"
#include "protocols/rtmp/amf0.h"
#include "protocols/rtmp/message.h"

/* Chunk streams of what we send: commands, data, audio and video on nginx-rtmp's,
 * publish and play on 8, where ffmpeg and librtmp send them. */
enum { CSID_COMMAND = 3, CSID_DATA = 5, CSID_AUDIO = 6, CSID_VIDEO = 7, CSID_STREAM_COMMAND = 8 };

enum {
    ST_HANDSHAKE,  /* C0C1 sent, waiting for S0S1S2 */
    ST_CONNECTING, /* connect sent */
    ST_CREATING,   /* createStream sent */
    ST_STARTING,   /* publish or play sent */
    ST_READY,      /* Publish.Start or Play.Start received */
    ST_OVER,       /* err is set */
};

#define MIN_CHUNK_SIZE 128
#define MAX_CHUNK_SIZE 65536

#define FLASH_VER_PUBLISH "FMLE/3.0 (compatible; sluice)"
/* What ffmpeg says when it plays; FMS-style servers treat an FMLE client as an
 * encoder. */
#define FLASH_VER_PLAY "LNX 9,0,124,2"
/* ffmpeg's "live or recorded" start (-2 s), so a pull works from servers that
 * serve a stream either way. */
#define PLAY_START_MS (-2000.0)

/* Ends the client with err (non-zero) and returns it. */
static int over(sl_rtmp_client_t *c, int err)
{
    c->state = ST_OVER;
    c->err = err;
    return err;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* What the relay should make of a refusal: retry later, fix credentials, or wait
 * for the other publisher to go. */
static int refusal_error(const char *code)
{
    if (ends_with(code, "StreamNotFound")) return SL_ERR_NOT_FOUND;
    if (ends_with(code, "Rejected") || ends_with(code, "Unauthorized")) return SL_ERR_AUTH;
    if (strcmp(code, "NetStream.Publish.BadName") == 0) return SL_ERR_BUSY;
    return SL_ERR_CLOSED;
}

static int refused(sl_rtmp_client_t *c, const char *code, const char *description)
{
    code = code != NULL ? code : "";
    description = description != NULL ? description : "";
    int err = over(c, refusal_error(code));
    if (c->ops->on_error != NULL) c->ops->on_error(c->arg, code, description);
    return err;
}

static int ended(sl_rtmp_client_t *c)
{
    int err = over(c, SL_ERR_CLOSED);
    if (c->ops->on_end != NULL) c->ops->on_end(c->arg);
    return err;
}

/* Outgoing commands. Each is built in c->scratch, then chunked into c->out in one
 * piece, so a failure leaves out as it was. */

static int begin_command(sl_rtmp_client_t *c, const char *name, double txn)
{
    c->scratch.len = 0;
    int rc = sl_amf0_put_string(&c->scratch, name);
    return rc | sl_amf0_put_number(&c->scratch, txn);
}

static int end_command(sl_rtmp_client_t *c, int rc, uint32_t csid, uint32_t stream_id)
{
    if (rc != SL_OK) return SL_ERR_NOMEM;
    return sl_rtmp_chunk_write(c->out, csid, SL_RTMP_MSG_COMMAND_AMF0, stream_id, 0, c->scratch.data,
                               c->scratch.len, c->chunk_size);
}

/* A call that expects a _result: name, a new transaction id, null, optional name. */
static int send_call(sl_rtmp_client_t *c, const char *command, const char *stream_name)
{
    int rc = begin_command(c, command, ++c->txn);
    rc |= sl_amf0_put_null(&c->scratch);
    if (stream_name != NULL) rc |= sl_amf0_put_string(&c->scratch, stream_name);
    return end_command(c, rc, CSID_COMMAND, 0);
}

static int put_string_prop(sl_bytes_t *b, const char *key, const char *value)
{
    int rc = sl_amf0_put_key(b, key);
    return rc | sl_amf0_put_string(b, value);
}

static int put_number_prop(sl_bytes_t *b, const char *key, double value)
{
    int rc = sl_amf0_put_key(b, key);
    return rc | sl_amf0_put_number(b, value);
}

/* The capabilities ffmpeg announces as a player; Wowza and FMS send no media to a
 * player that names no codecs. */
static int put_player_props(sl_bytes_t *b)
{
    int rc = sl_amf0_put_key(b, "fpad");
    rc |= sl_amf0_put_bool(b, false);
    rc |= put_number_prop(b, "capabilities", 15);
    rc |= put_number_prop(b, "audioCodecs", 4071);
    rc |= put_number_prop(b, "videoCodecs", 252);
    return rc | put_number_prop(b, "videoFunction", 1);
}

/* Our chunk size first, so that connect and everything after use it. */
static int send_connect(sl_rtmp_client_t *c)
{
    int rc = sl_rtmp_write_set_chunk_size(c->out, c->chunk_size);
    if (rc != SL_OK) return rc;
    bool publish = c->mode == SL_RTMP_CLIENT_PUBLISH;
    rc = begin_command(c, "connect", ++c->txn);
    rc |= sl_amf0_put_object_begin(&c->scratch);
    rc |= put_string_prop(&c->scratch, "app", c->url.app);
    if (publish) rc |= put_string_prop(&c->scratch, "type", "nonprivate");
    rc |= put_string_prop(&c->scratch, "flashVer", publish ? FLASH_VER_PUBLISH : FLASH_VER_PLAY);
    rc |= put_string_prop(&c->scratch, "tcUrl", c->url.tc_url);
    if (!publish) rc |= put_player_props(&c->scratch);
    rc |= sl_amf0_put_object_end(&c->scratch);
    c->txn_pending = c->txn;
    c->state = ST_CONNECTING;
    return end_command(c, rc, CSID_COMMAND, 0);
}

/* connect succeeded: our window, then the publisher's preamble and createStream. */
static int on_connected(sl_rtmp_client_t *c)
{
    int rc = sl_rtmp_write_window_ack_size(c->out, SL_RTMP_CLIENT_WINDOW);
    if (rc == SL_OK && c->mode == SL_RTMP_CLIENT_PUBLISH) {
        /* Answers to these two are not awaited: nginx-rtmp gives none, some servers
         * an _error, and OBS goes on regardless. */
        rc = send_call(c, "releaseStream", c->url.name);
        if (rc == SL_OK) rc = send_call(c, "FCPublish", c->url.name);
    }
    if (rc == SL_OK) rc = send_call(c, "createStream", NULL);
    c->txn_pending = c->txn;
    c->state = ST_CREATING;
    return rc;
}

/* User control Set Buffer Length: stream id, then the buffer in ms. */
static int send_buffer_length(sl_rtmp_client_t *c)
{
    uint8_t body[10];
    sl_wr_be16(body, SL_RTMP_UC_SET_BUFFER_LENGTH);
    sl_wr_be32(body + 2, c->stream_id);
    sl_wr_be32(body + 6, SL_RTMP_CLIENT_BUFFER_MS);
    return sl_rtmp_chunk_write(c->out, SL_RTMP_CSID_CONTROL, SL_RTMP_MSG_USER_CONTROL, 0, 0, body, sizeof(body),
                               c->chunk_size);
}

/* createStream gave us a message stream: publish or play on it. */
static int on_stream_created(sl_rtmp_client_t *c, const sl_amf0_value_t *id)
{
    double v;
    /* Stream 0 is the control stream; the comparison also refuses NaN. */
    if (!sl_amf0_num(id, &v) || !(v >= 1 && v <= UINT32_MAX) || (double)(uint32_t)v != v) return SL_ERR_PROTO;
    c->stream_id = (uint32_t)v;
    bool publish = c->mode == SL_RTMP_CLIENT_PUBLISH;
    int rc = begin_command(c, publish ? "publish" : "play", ++c->txn);
    rc |= sl_amf0_put_null(&c->scratch);
    rc |= sl_amf0_put_string(&c->scratch, c->url.name);
    if (publish) rc |= sl_amf0_put_string(&c->scratch, "live");
    else rc |= sl_amf0_put_number(&c->scratch, PLAY_START_MS);
    c->txn_pending = c->txn;
    c->state = ST_STARTING;
    rc = end_command(c, rc, CSID_STREAM_COMMAND, c->stream_id);
    if (rc == SL_OK && !publish) rc = send_buffer_length(c);
    return rc;
}

/* Incoming commands. */

typedef struct command {
    const char *name;
    double txn;
    const sl_amf0_doc_t *doc; /* name, txn, command object, arguments... */
} command_t;

static const sl_amf0_value_t *value_at(const command_t *cmd, size_t i) { return sl_amf0_doc_get(cmd->doc, i); }

/* The info object of _error and onStatus: the first argument after the command
 * object; a few servers put it in the command object's place. */
static const sl_amf0_value_t *info_object(const command_t *cmd)
{
    const sl_amf0_value_t *v = value_at(cmd, 3);
    if (v != NULL && v->type == SL_AMF0_OBJECT) return v;
    v = value_at(cmd, 2);
    return v != NULL && v->type == SL_AMF0_OBJECT ? v : NULL;
}

static const char *info_string(const sl_amf0_value_t *info, const char *key)
{
    return sl_amf0_str(sl_amf0_prop(info, key));
}

static int on_result(sl_rtmp_client_t *c, const command_t *cmd)
{
    if (cmd->txn != c->txn_pending) return SL_OK;
    if (c->state == ST_CONNECTING) return on_connected(c);
    if (c->state == ST_CREATING) return on_stream_created(c, value_at(cmd, 3));
    return SL_OK;
}

static int on_call_error(sl_rtmp_client_t *c, const command_t *cmd)
{
    if (cmd->txn != c->txn_pending || c->state == ST_READY) return SL_OK;
    const sl_amf0_value_t *info = info_object(cmd);
    return refused(c, info_string(info, "code"), info_string(info, "description"));
}

static bool is_end_code(const char *code)
{
    return strcmp(code, "NetStream.Play.UnpublishNotify") == 0 || strcmp(code, "NetStream.Play.Stop") == 0 ||
           strcmp(code, "NetStream.Play.Complete") == 0;
}

static int on_status(sl_rtmp_client_t *c, const command_t *cmd)
{
    const sl_amf0_value_t *info = info_object(cmd);
    const char *level = info_string(info, "level"), *code = info_string(info, "code");
    if (level != NULL && strcmp(level, "error") == 0) return refused(c, code, info_string(info, "description"));
    if (code == NULL || c->state < ST_STARTING) return SL_OK;
    bool publish = c->mode == SL_RTMP_CLIENT_PUBLISH;
    if (!publish && is_end_code(code)) return ended(c);
    const char *start = publish ? "NetStream.Publish.Start" : "NetStream.Play.Start";
    if (c->state != ST_STARTING || strcmp(code, start) != 0) return SL_OK;
    c->state = ST_READY;
    if (c->ops->on_ready != NULL) c->ops->on_ready(c->arg);
    return SL_OK;
}

static int on_command(sl_rtmp_client_t *c, const command_t *cmd)
{
    if (strcmp(cmd->name, "_result") == 0) return on_result(c, cmd);
    if (strcmp(cmd->name, "_error") == 0) return on_call_error(c, cmd);
    if (strcmp(cmd->name, "onStatus") == 0) return on_status(c, cmd);
    /* FMS and Wowza end a connection they drop with a "close" call. */
    if (strcmp(cmd->name, "close") == 0) return refused(c, "NetConnection.Connect.Closed", "closed by the server");
    return SL_OK; /* onBWDone, onFCPublish, _checkbw... need no answer */
}

static int handle_command(sl_rtmp_client_t *c, const uint8_t *body, size_t len)
{
    sl_amf0_doc_t *doc = NULL;
    int rc = sl_amf0_decode(body, len, &doc);
    if (rc != SL_OK) return rc;
    command_t cmd = {.name = sl_amf0_str(sl_amf0_doc_get(doc, 0)), .doc = doc};
    if (cmd.name == NULL || !sl_amf0_num(sl_amf0_doc_get(doc, 1), &cmd.txn)) rc = SL_ERR_PROTO;
    else rc = on_command(c, &cmd);
    sl_amf0_doc_free(doc);
    return rc;
}

static int handle_user_control(sl_rtmp_client_t *c, const sl_rtmp_msg_t *m)
{
    uint16_t event;
    uint32_t value;
    int rc = sl_rtmp_user_control_parse(m->body->data, m->body->len, &event, &value);
    if (rc != SL_OK) return rc;
    if (event == SL_RTMP_UC_PING_REQUEST) return sl_rtmp_write_ping_response(c->out, value);
    if (event == SL_RTMP_UC_STREAM_EOF && c->mode == SL_RTMP_CLIENT_PLAY && c->state == ST_READY &&
        value == c->stream_id)
        return ended(c);
    return SL_OK;
}

/* Play: media. */


static int deliver_tag(void *arg, uint8_t type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body,
                       size_t len)
{
    sl_rtmp_client_t *c = arg;
    sl_frame_t *f = NULL;
    int rc = sl_flv_tag_to_frame(type, ts_ms, buf, body, len, &f);
    if (rc == SL_ERR_UNSUPPORTED) {
        c->unsupported++;
        return SL_OK;
    }
    if (rc != SL_OK || f == NULL) return rc;
    rc = c->ops->on_frame != NULL ? c->ops->on_frame(c->arg, f) : SL_OK;
    sl_frame_unref(f);
    return rc;
}


static int handle_media(sl_rtmp_client_t *c, const sl_rtmp_msg_t *m)
{
    /* Media before our play, or to a publisher, is not ours to take. */
    if (c->mode != SL_RTMP_CLIENT_PLAY || c->state < ST_STARTING) return SL_OK;
    int64_t ts_ms = sl_rtmp_clock_unwrap(&c->clock, m->timestamp);
    const uint8_t *body = m->body->data;
    size_t len = m->body->len;
    switch (m->type) {
    case SL_RTMP_MSG_AUDIO: return deliver_tag(c, SL_FLV_TAG_AUDIO, ts_ms, m->body, body, len);
    case SL_RTMP_MSG_VIDEO: return deliver_tag(c, SL_FLV_TAG_VIDEO, ts_ms, m->body, body, len);
    case SL_RTMP_MSG_DATA_AMF0: return deliver_tag(c, SL_FLV_TAG_SCRIPT, ts_ms, m->body, body, len);
    default: return sl_flv_aggregate_foreach(m->body, body, len, ts_ms, deliver_tag, c);
    }
}

static int on_message(void *arg, const sl_rtmp_msg_t *m)
{
    sl_rtmp_client_t *c = arg;
    const uint8_t *body = m->body->data;
    size_t len = m->body->len;
    switch (m->type) {
    case SL_RTMP_MSG_WINDOW_ACK_SIZE:
        return sl_rtmp_control_parse(m->type, body, len, &c->window);
    case SL_RTMP_MSG_USER_CONTROL:
        return handle_user_control(c, m);
    case SL_RTMP_MSG_COMMAND_AMF3:
        /* An AMF3 command message starts with a format byte, then AMF0 values. */
        if (len == 0) return SL_ERR_PROTO;
        return handle_command(c, body + 1, len - 1);
    case SL_RTMP_MSG_COMMAND_AMF0:
        return handle_command(c, body, len);
    case SL_RTMP_MSG_AUDIO:
    case SL_RTMP_MSG_VIDEO:
    case SL_RTMP_MSG_DATA_AMF0:
    case SL_RTMP_MSG_AGGREGATE:
        return handle_media(c, m);
    default:
        /* Set Chunk Size and Abort were applied by the reader; Set Peer Bandwidth
         * and Acknowledgements need nothing from a client that sends little. */
        return SL_OK;
    }
}

/* An Acknowledgement each time another window of bytes has come in. */
static int maybe_ack(sl_rtmp_client_t *c)
{
    uint64_t bytes = sl_rtmp_reader_bytes(&c->reader);
    if (c->window == 0 || bytes - c->acked_bytes < c->window) return SL_OK;
    c->acked_bytes = bytes;
    return sl_rtmp_write_ack(c->out, (uint32_t)bytes);
}

int sl_rtmp_client_init(sl_rtmp_client_t *c, const sl_rtmp_client_cfg_t *cfg, const sl_rtmp_client_ops_t *ops,
                        void *arg, sl_bytes_t *out)
{
    static const sl_rtmp_client_ops_t no_ops;
    memset(c, 0, sizeof(*c));
    c->ops = ops != NULL ? ops : &no_ops;
    c->arg = arg;
    c->mode = (uint8_t)cfg->mode;
    c->url = *cfg->url;
    c->chunk_size = cfg->chunk_size != 0 ? cfg->chunk_size : SL_RTMP_CLIENT_CHUNK_SIZE;
    sl_bytes_init(&c->scratch);
    sl_rtmp_reader_init(&c->reader,
                        cfg->max_message_bytes != 0 ? cfg->max_message_bytes : SL_RTMP_CLIENT_MAX_MESSAGE);
    /* The URL may come from anywhere: make sure its strings end inside the arrays. */
    c->url.app[sizeof(c->url.app) - 1] = '\0';
    c->url.name[sizeof(c->url.name) - 1] = '\0';
    c->url.tc_url[sizeof(c->url.tc_url) - 1] = '\0';
    if (c->url.app[0] == '\0' || c->url.name[0] == '\0' || c->chunk_size < MIN_CHUNK_SIZE ||
        c->chunk_size > MAX_CHUNK_SIZE || (cfg->mode != SL_RTMP_CLIENT_PUBLISH && cfg->mode != SL_RTMP_CLIENT_PLAY))
        return over(c, SL_ERR_PROTO);
    c->state = ST_HANDSHAKE;
    int rc = sl_rtmp_handshake_init_client(&c->handshake, out);
    return rc != SL_OK ? over(c, rc) : SL_OK;
}

int sl_rtmp_client_feed(sl_rtmp_client_t *c, const uint8_t *data, size_t len, sl_bytes_t *out)
{
    if (c->err != SL_OK) return c->err;
    c->out = out;
    size_t used = 0;
    int rc = SL_OK;
    if (c->state == ST_HANDSHAKE) {
        rc = sl_rtmp_handshake_feed(&c->handshake, data, len, &used, out);
        if (rc == SL_OK) rc = send_connect(c);
        else if (rc == SL_ERR_AGAIN) rc = SL_OK; /* every byte was taken */
    }
    if (rc == SL_OK && used < len) rc = sl_rtmp_reader_feed(&c->reader, data + used, len - used, on_message, c);
    if (rc == SL_OK) rc = maybe_ack(c);
    c->out = NULL;
    /* A refusal or end already set err; anything else ends the client here. */
    if (rc != SL_OK && c->err == SL_OK) over(c, rc);
    return c->err;
}

/* Publish timestamps, relative to the first media frame: see the header. */
static uint32_t publish_ts(sl_rtmp_client_t *c, const sl_frame_t *f)
{
    int64_t ms = SL_TS_TO_MS(f->dts);
    if (!c->base_set) {
        if (f->media == SL_MEDIA_DATA || (f->flags & SL_FRAME_CONFIG)) return 0;
        c->base_set = true;
        c->base_ms = ms;
    }
    int64_t rel = ms - c->base_ms;
    /* Past 2^32 ms the RTMP timestamp wraps, as the protocol intends. */
    return rel > 0 ? (uint32_t)rel : 0;
}

/* The message body of f into c->scratch; its type and chunk stream. */
static int frame_body(sl_rtmp_client_t *c, const sl_frame_t *f, uint8_t *type, uint32_t *csid)
{
    c->scratch.len = 0;
    switch (f->media) {
    case SL_MEDIA_VIDEO:
        *type = SL_RTMP_MSG_VIDEO;
        *csid = CSID_VIDEO;
        return sl_flv_frame_body(f, &c->scratch);
    case SL_MEDIA_AUDIO:
        *type = SL_RTMP_MSG_AUDIO;
        *csid = CSID_AUDIO;
        return sl_flv_frame_body(f, &c->scratch);
    default:
        if (f->codec != SL_CODEC_AMF0) return SL_ERR_UNSUPPORTED;
        *type = SL_RTMP_MSG_DATA_AMF0;
        *csid = CSID_DATA;
        /* A publisher hands metadata to the server to keep, hence the wrapper. */
        int rc = sl_amf0_put_string(&c->scratch, "@setDataFrame");
        return rc == SL_OK ? sl_bytes_append(&c->scratch, f->data, f->len) : rc;
    }
}

int sl_rtmp_client_send_frame(sl_rtmp_client_t *c, const sl_frame_t *f, sl_bytes_t *out)
{
    if (c->err != SL_OK) return c->err;
    if (c->mode != SL_RTMP_CLIENT_PUBLISH) return SL_ERR_UNSUPPORTED;
    if (c->state != ST_READY) return SL_ERR_AGAIN;
    uint8_t type;
    uint32_t csid;
    int rc = frame_body(c, f, &type, &csid);
    if (rc != SL_OK) return rc;
    return sl_rtmp_chunk_write(out, csid, type, c->stream_id, publish_ts(c, f), c->scratch.data, c->scratch.len,
                               c->chunk_size);
}

uint64_t sl_rtmp_client_unsupported(const sl_rtmp_client_t *c) { return c->unsupported; }

void sl_rtmp_client_free(sl_rtmp_client_t *c)
{
    sl_rtmp_reader_free(&c->reader);
    sl_bytes_free(&c->scratch);
}
