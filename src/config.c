/* The configuration loader: YAML text over the defaults, driven by one key table.
 *
 * libyaml's event API is walked directly rather than its document tree: aliases are
 * refused before they cost anything (a tree would let "&a [*a]" loop and makes every
 * alias lookup linear), and the walk only descends into sections the table knows, so
 * its depth is bounded by the table, not by the input. Errors are collected, not
 * returned at the first one; only a YAML syntax error ends the walk.
 */
#include "sluice/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "protocols/relay/source.h"
#include "protocols/relay/url.h"
#include "sluice/http_client.h"
#include "sluice/log.h"
#include "sluice/token.h"

/* A configuration is a few kilobytes; the cap keeps libyaml's work bounded. */
#define CONFIG_MAX_BYTES (1024 * 1024)
/* Longest dotted key path; longer keys cannot be in the table. */
#define PATH_MAX_LEN 128
/* Bytes of a value quoted in an error message, so the message keeps its key. */
#define SHOW_MAX 32
#define SHOW_BUF (SHOW_MAX + 8)
/* Deepest nesting skipped over. No key needs more than three levels, and libyaml's
 * scanner rechecks every open flow level on each token, so unbounded nesting would
 * cost quadratic time before the walk saw it. */
#define SKIP_MAX_DEPTH 32

enum key_type {
    KT_SECTION, KT_BOOL, KT_U32, KT_INT, KT_STRING, KT_LOG_LEVEL, KT_LISTEN, KT_PORT_RANGE, KT_RULES, KT_SOURCES
};

struct key_def {
    const char *path;  /* dotted key, spelled as the field path in sl_config_t */
    enum key_type type;
    size_t off;        /* offsetof the field */
    uint32_t min, max; /* integer range; the longest length for strings; list size */
};

/* The offset of field `f`, which must have type T or the build fails: the table
 * writes through the offset with the width its key type implies. */
#define FIELD(f, T) \
    (offsetof(sl_config_t, f) + 0 * sizeof(char[_Generic(((sl_config_t *)0)->f, T: 1)]))

#define SECTION(f) { #f, KT_SECTION, 0, 0, 0 }
#define BOOL(f) { #f, KT_BOOL, FIELD(f, bool), 0, 1 }
#define U32(f, lo, hi) { #f, KT_U32, FIELD(f, uint32_t), lo, hi }
#define INT(f, lo, hi) { #f, KT_INT, FIELD(f, int), lo, hi }
#define STRING(f) { #f, KT_STRING, FIELD(f, char *), 0, sizeof(((sl_config_t *)0)->f) - 1 }
#define LOG_LEVEL(f) { #f, KT_LOG_LEVEL, FIELD(f, int), 0, 0 }
#define LISTEN(f) { #f, KT_LISTEN, FIELD(f, sl_listen_list_t), 1, SL_CONFIG_MAX_LISTEN }
#define PORT_RANGE(f) { #f, KT_PORT_RANGE, FIELD(f, sl_port_range_t), 1024, 65535 }
#define RULES(f) { #f, KT_RULES, FIELD(f, sl_rule_list_t), 0, SL_CONFIG_MAX_RULES }
#define SOURCES(f) { #f, KT_SOURCES, FIELD(f, sl_source_list_t), 0, SL_CONFIG_MAX_SOURCES }

/* Every key the file may hold. A key inside a section needs its SECTION row. Keep
 * config/sluice.yaml and docs/config.md in step with this table. */
static const struct key_def keys[] = {
    LOG_LEVEL(log_level),

    SECTION(rtmp),
    BOOL(rtmp.enabled),
    LISTEN(rtmp.listen),
    U32(rtmp.chunk_size, 128, 65536),

    SECTION(http),
    BOOL(http.enabled),
    LISTEN(http.listen),
    STRING(http.cors_origin),

    SECTION(rtsp),
    BOOL(rtsp.enabled),
    LISTEN(rtsp.listen),
    PORT_RANGE(rtsp.udp_port_range),
    U32(rtsp.session_timeout_ms, 5000, 3600000),
    STRING(rtsp.user),
    STRING(rtsp.password),

    SECTION(hls),
    BOOL(hls.enabled),
    U32(hls.segment_duration_ms, 500, 60000),
    U32(hls.playlist_length, 2, 60),
    BOOL(hls.on_demand),

    SECTION(record),
    BOOL(record.enabled),
    STRING(record.path),
    STRING(record.streams),

    SECTION(webrtc),
    BOOL(webrtc.enabled),
    U32(webrtc.udp_port, 1, 65535),
    STRING(webrtc.candidates),
    STRING(webrtc.ice_servers),
    STRING(webrtc.cert_file),
    STRING(webrtc.key_file),

    SECTION(auth),
    SECTION(auth.publish),
    STRING(auth.publish.type),
    STRING(auth.publish.secret),
    STRING(auth.publish.apps),
    SECTION(auth.play),
    STRING(auth.play.type),
    STRING(auth.play.secret),
    STRING(auth.play.apps),

    SECTION(hooks),
    STRING(hooks.on_publish),
    STRING(hooks.on_unpublish),
    STRING(hooks.on_play),
    STRING(hooks.on_stop),
    STRING(hooks.on_record),
    U32(hooks.timeout_ms, 100, 60000),
    BOOL(hooks.fail_open),

    SECTION(transcode),
    BOOL(transcode.enabled),
    U32(transcode.opus_bitrate, 16000, 256000),
    U32(transcode.aac_bitrate, 32000, 320000),

    SECTION(relay),
    RULES(relay.push),
    RULES(relay.pull),
    SOURCES(relay.sources),
    U32(relay.pull_timeout_ms, 1000, 120000),
    U32(relay.idle_timeout_ms, 1000, 3600000),
    U32(relay.retry_max_ms, 1000, 600000),

    SECTION(api),
    BOOL(api.enabled),
    LISTEN(api.listen),
    STRING(api.token),

    SECTION(hub),
    INT(hub.gop_cache, 0, 8),

    SECTION(limits),
    U32(limits.max_connections, 1, 1000000),
    U32(limits.viewer_queue_soft_ms, 100, 600000),
    U32(limits.viewer_queue_hard_ms, 100, 600000),
    U32(limits.viewer_queue_hard_bytes, 65536, 1073741824),
    U32(limits.rtmp_max_message_bytes, 65536, 16777215),
    U32(limits.http_max_header_bytes, 1024, 1048576),
    U32(limits.http_max_body_bytes, 1024, 67108864),
    U32(limits.handshake_timeout_ms, 100, 600000),
    U32(limits.idle_timeout_ms, 1000, 3600000),
};

#define NKEYS SL_ARRAY_SIZE(keys)

struct key_state {
    bool seen;        /* the key appeared; a second time is a duplicate */
    bool failed;      /* its value was rejected, so cross-field checks skip it */
    yaml_mark_t mark; /* where the key appeared */
};

struct parse {
    yaml_parser_t parser;
    const char *name;
    const char *text; /* to place reader errors, which carry only a byte offset */
    size_t len;
    sl_config_t cfg; /* the working copy, committed only when there is no error */
    sl_config_errors_t *errs;
    bool errors_full;
    int fatal; /* SL_ERR_CONFIG after a syntax error, SL_ERR_NOMEM; ends the walk */
    struct key_state state[NKEYS];
};

void sl_config_defaults(sl_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = SL_LOG_INFO;

    cfg->rtmp.enabled = true;
    strcpy(cfg->rtmp.listen.addr[0].host, "0.0.0.0");
    cfg->rtmp.listen.addr[0].port = 1935;
    cfg->rtmp.listen.count = 1;
    cfg->rtmp.chunk_size = 4096;

    cfg->http.enabled = true;
    strcpy(cfg->http.listen.addr[0].host, "0.0.0.0");
    cfg->http.listen.addr[0].port = 8080;
    cfg->http.listen.count = 1;
    strcpy(cfg->http.cors_origin, "*");

    cfg->rtsp.enabled = true;
    strcpy(cfg->rtsp.listen.addr[0].host, "0.0.0.0");
    cfg->rtsp.listen.addr[0].port = 8554;
    cfg->rtsp.listen.count = 1;
    cfg->rtsp.udp_port_range.min = 10000;
    cfg->rtsp.udp_port_range.max = 10999;
    cfg->rtsp.session_timeout_ms = 60000;

    cfg->hls.enabled = true;
    cfg->hls.segment_duration_ms = 2000;
    cfg->hls.playlist_length = 6;

    strcpy(cfg->record.path, "/var/lib/sluice/recordings");
    strcpy(cfg->record.streams, "*");

    cfg->webrtc.enabled = true;
    cfg->webrtc.udp_port = 8000;

    strcpy(cfg->auth.publish.type, "none");
    strcpy(cfg->auth.publish.apps, "*");
    strcpy(cfg->auth.play.type, "none");
    strcpy(cfg->auth.play.apps, "*");
    cfg->hooks.timeout_ms = 3000;

    cfg->transcode.enabled = true;
    cfg->transcode.opus_bitrate = 64000;
    cfg->transcode.aac_bitrate = 128000;
    cfg->relay.pull_timeout_ms = 10000;
    cfg->relay.idle_timeout_ms = 10000;
    cfg->relay.retry_max_ms = 30000;

    cfg->api.enabled = true;
    strcpy(cfg->api.listen.addr[0].host, "127.0.0.1");
    cfg->api.listen.addr[0].port = 8081;
    cfg->api.listen.count = 1;

    cfg->hub.gop_cache = 1;

    cfg->limits.max_connections = 1000;
    cfg->limits.viewer_queue_soft_ms = 3000;
    cfg->limits.viewer_queue_hard_ms = 10000;
    cfg->limits.viewer_queue_hard_bytes = 33554432;
    cfg->limits.rtmp_max_message_bytes = 8388608;
    cfg->limits.http_max_header_bytes = 16384;
    cfg->limits.http_max_body_bytes = 1048576;
    cfg->limits.handshake_timeout_ms = 10000;
    cfg->limits.idle_timeout_ms = 30000;
}

/* ---- listen addresses ---- */

static bool parse_port(const char *s, uint16_t *port)
{
    size_t n = strlen(s);
    uint32_t v = 0;
    if (n == 0 || n > 5) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v < 1 || v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

/* Parses one address into `out`; returns NULL, or why the text is not an address. */
static const char *parse_addr(sl_listen_addr_t *out, const char *s)
{
    const char *host, *colon;
    size_t hlen;
    int af;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close) return "expected ']' after an IPv6 address";
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        if (*colon != ':') return "expected a port after ']', as in [::1]:1935";
        af = AF_INET6;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return "expected host:port, [IPv6]:port or :port";
        host = s;
        hlen = (size_t)(colon - s);
        if (memchr(host, ':', hlen)) return "an IPv6 address must be in brackets, as in [::1]:1935";
        af = AF_INET;
    }
    uint16_t port;
    if (!parse_port(colon + 1, &port)) return "the port must be a number from 1 to 65535";
    char h[sizeof(out->host)];
    if (hlen >= sizeof(h)) return "the host is too long";
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    if (hlen == 0 && af == AF_INET) strcpy(h, "0.0.0.0");
    unsigned char bin[16];
    if (inet_pton(af, h, bin) != 1)
        return af == AF_INET6 ? "not an IPv6 address"
                              : "the host must be an IPv4 address or a bracketed IPv6 address "
                                "(names are not resolved)";
    memcpy(out->host, h, sizeof(h));
    out->port = port;
    return NULL;
}

int sl_listen_addr_parse(sl_listen_addr_t *out, const char *text)
{
    return parse_addr(out, text) ? SL_ERR_CONFIG : SL_OK;
}

/* ---- error messages ---- */

static void vreport(struct parse *p, const yaml_mark_t *m, const char *fmt, va_list ap)
{
    sl_config_errors_t *e = p->errs;
    if (p->errors_full) return;
    if (e->count == SL_CONFIG_MAX_ERRORS) {
        /* Say so rather than drop errors silently; the last slot carries it. */
        snprintf(e->msg[e->count - 1], sizeof(e->msg[0]), "%s: more errors follow, not shown",
                 p->name);
        p->errors_full = true;
        return;
    }
    char *out = e->msg[e->count++];
    size_t cap = sizeof(e->msg[0]);
    int n = m ? snprintf(out, cap, "%s:%zu:%zu: ", p->name, m->line + 1, m->column + 1)
              : snprintf(out, cap, "%s: ", p->name);
    if (n < 0) {
        out[0] = '\0';
        return;
    }
    if ((size_t)n < cap) vsnprintf(out + n, cap - (size_t)n, fmt, ap);
}

static void report(struct parse *p, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct parse *p, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(p, m, fmt, ap);
    va_end(ap);
}

/* Copies at most SHOW_MAX bytes of a value for a message, cut on a UTF-8 boundary,
 * control bytes replaced, so a hostile value cannot garble the line it is shown in. */
static const char *show(char out[SHOW_BUF], const yaml_char_t *s, size_t len)
{
    size_t n = len;
    if (n > SHOW_MAX) {
        n = SHOW_MAX;
        while (n > 0 && (s[n] & 0xC0) == 0x80) n--;
    }
    for (size_t i = 0; i < n; i++) out[i] = (s[i] < 0x20 || s[i] == 0x7F) ? '?' : (char)s[i];
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* What a node is, for "got ..." in a message: a quoted scalar or the kind of node. */
static const char *describe(char out[SHOW_BUF], const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_ALIAS_EVENT: return "an alias";
    case YAML_SCALAR_EVENT: {
        char v[SHOW_BUF];
        snprintf(out, SHOW_BUF, "'%s'", show(v, ev->data.scalar.value, ev->data.scalar.length));
        return out;
    }
    default: return "something else";
    }
}

/* Places a reader error, which libyaml gives as a byte offset, on a line and column. */
static yaml_mark_t mark_of_offset(const struct parse *p, size_t offset)
{
    yaml_mark_t m = { offset, 0, 0 };
    for (size_t i = 0; i < offset && i < p->len; i++) {
        if (p->text[i] == '\n') {
            m.line++;
            m.column = 0;
        } else {
            m.column++;
        }
    }
    return m;
}

static void report_syntax(struct parse *p)
{
    const yaml_parser_t *y = &p->parser;
    if (y->error == YAML_MEMORY_ERROR) {
        p->fatal = SL_ERR_NOMEM;
        report(p, NULL, "out of memory");
        return;
    }
    p->fatal = SL_ERR_CONFIG;
    const char *problem = y->problem ? y->problem : "invalid YAML";
    if (y->error == YAML_READER_ERROR) {
        yaml_mark_t m = mark_of_offset(p, y->problem_offset);
        report(p, &m, "syntax error: %s", problem);
        return;
    }
    report(p, &y->problem_mark, "syntax error: %s%s%s", problem, y->context ? " " : "",
           y->context ? y->context : "");
}

/* ---- the event walk ---- */

/* The next event, owned by the caller; false after a syntax or memory error. */
static bool next(struct parse *p, yaml_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (p->fatal) return false;
    if (!yaml_parser_parse(&p->parser, ev)) {
        report_syntax(p);
        return false;
    }
    /* libyaml only yields no event past the stream's end, which the walk never asks
     * for; treat it as the end of input rather than loop. */
    if (ev->type == YAML_NO_EVENT) {
        p->fatal = SL_ERR_CONFIG;
        report(p, NULL, "unexpected end of input");
        return false;
    }
    return true;
}

/* Consumes the rest of the node that `first` (still the caller's) starts: nothing for
 * a scalar or alias, through the matching end for a collection. Iterative, so the
 * nesting of ignored input costs no stack. */
static bool skip_node(struct parse *p, const yaml_event_t *first)
{
    if (first->type != YAML_MAPPING_START_EVENT && first->type != YAML_SEQUENCE_START_EVENT)
        return true;
    size_t depth = 1;
    while (depth > 0) {
        yaml_event_t ev;
        if (!next(p, &ev)) return false;
        if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT) {
            if (++depth > SKIP_MAX_DEPTH) {
                report(p, &ev.start_mark, "nested deeper than %d levels", SKIP_MAX_DEPTH);
                p->fatal = SL_ERR_CONFIG;
                yaml_event_delete(&ev);
                return false;
            }
        } else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
    }
    return true;
}

static bool is_null(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* The scalar's text when it holds no NUL byte, else NULL. */
static const char *scalar_text(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    return strlen(v) == ev->data.scalar.length ? v : NULL;
}

static void *field(struct parse *p, const struct key_def *k)
{
    return (char *)&p->cfg + k->off;
}

static int find_key(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].path, path) == 0) return (int)i;
    return -1;
}

/* The table row for key `name` under section `prefix` ("" at the top), or -1. */
static int lookup(const char *prefix, const yaml_event_t *key)
{
    const char *name = scalar_text(key);
    char path[PATH_MAX_LEN];
    /* A dotted key at the top would bypass its section; keys are nested only. */
    if (!name || strchr(name, '.')) return -1;
    int n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
    if (n < 0 || (size_t)n >= sizeof(path)) return -1;
    return find_key(path);
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const words[] = { "true", "yes", "on", "false", "no", "off" };
    for (size_t i = 0; i < SL_ARRAY_SIZE(words); i++) {
        if (strcasecmp(v, words[i]) == 0) {
            *out = i < 3;
            return true;
        }
    }
    return false;
}

/* Plain decimal digits only: no sign, no YAML 1.1 octal, hex or underscores. Ten
 * digits at most, so the value always fits and out-of-range is caught by the caller. */
static bool parse_uint(const yaml_char_t *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 10) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool set_integer(struct parse *p, const struct key_def *k, const yaml_event_t *val)
{
    uint64_t v;
    char buf[SHOW_BUF];
    if (val->type != YAML_SCALAR_EVENT ||
        !parse_uint(val->data.scalar.value, val->data.scalar.length, &v) || v < k->min ||
        v > k->max) {
        report(p, &val->start_mark, "%s: expected an integer from %u to %u, got %s", k->path,
               k->min, k->max, describe(buf, val));
        return false;
    }
    if (k->type == KT_INT)
        *(int *)field(p, k) = (int)v;
    else
        *(uint32_t *)field(p, k) = (uint32_t)v;
    return true;
}

static bool set_bool(struct parse *p, const struct key_def *k, const yaml_event_t *val)
{
    const char *v = val->type == YAML_SCALAR_EVENT ? scalar_text(val) : NULL;
    char buf[SHOW_BUF];
    if (!v || !parse_bool(v, (bool *)field(p, k))) {
        report(p, &val->start_mark, "%s: expected true or false, got %s", k->path,
               describe(buf, val));
        return false;
    }
    return true;
}

static bool set_log_level(struct parse *p, const struct key_def *k, const yaml_event_t *val)
{
    const char *v = val->type == YAML_SCALAR_EVENT ? scalar_text(val) : NULL;
    int level = v ? sl_log_level_parse(v) : -1;
    char buf[SHOW_BUF];
    if (level < 0) {
        report(p, &val->start_mark, "%s: expected error, warn, info or debug, got %s", k->path,
               describe(buf, val));
        return false;
    }
    *(int *)field(p, k) = level;
    return true;
}

/* Strings go into HTTP headers and log lines, so control characters are refused. */
static bool set_string(struct parse *p, const struct key_def *k, const yaml_event_t *val)
{
    char buf[SHOW_BUF];
    if (val->type != YAML_SCALAR_EVENT || is_null(val)) {
        report(p, &val->start_mark, "%s: expected a string (\"\" for an empty one), got %s",
               k->path, val->type == YAML_SCALAR_EVENT ? "null" : describe(buf, val));
        return false;
    }
    const yaml_char_t *v = val->data.scalar.value;
    size_t len = val->data.scalar.length;
    if (len > k->max) {
        report(p, &val->start_mark, "%s: longer than %u bytes", k->path, k->max);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] < 0x20 || v[i] == 0x7F) {
            report(p, &val->start_mark, "%s: control characters are not allowed", k->path);
            return false;
        }
    }
    memcpy(field(p, k), v, len);
    ((char *)field(p, k))[len] = '\0';
    return true;
}

/* Adds one address of a listen value to `list`; the caller skips a non-scalar item. */
static bool add_listen(struct parse *p, const struct key_def *k, sl_listen_list_t *list,
                       const yaml_event_t *item)
{
    char buf[SHOW_BUF];
    const char *text = item->type == YAML_SCALAR_EVENT ? scalar_text(item) : NULL;
    if (!text) {
        report(p, &item->start_mark, "%s: expected an address \"host:port\", got %s", k->path,
               describe(buf, item));
        return false;
    }
    sl_listen_addr_t a;
    const char *why = parse_addr(&a, text);
    if (why) {
        report(p, &item->start_mark, "%s: %s: %s", k->path, describe(buf, item), why);
        return false;
    }
    for (int i = 0; i < list->count; i++) {
        if (list->addr[i].port == a.port && strcmp(list->addr[i].host, a.host) == 0) {
            report(p, &item->start_mark, "%s: %s is listed twice", k->path, describe(buf, item));
            return false;
        }
    }
    list->addr[list->count++] = a;
    return true;
}

/* The items of a listen sequence, after its start event. False only when fatal. */
static bool read_listen_items(struct parse *p, const struct key_def *k, sl_listen_list_t *list,
                              bool *ok)
{
    int items = 0;
    for (;;) {
        yaml_event_t item;
        if (!next(p, &item)) return false;
        if (item.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&item);
            return true;
        }
        if (++items > SL_CONFIG_MAX_LISTEN) {
            if (items == SL_CONFIG_MAX_LISTEN + 1)
                report(p, &item.start_mark, "%s: at most %d addresses", k->path,
                       SL_CONFIG_MAX_LISTEN);
            *ok = false;
        } else if (!add_listen(p, k, list, &item)) {
            *ok = false;
        }
        bool more = skip_node(p, &item);
        yaml_event_delete(&item);
        if (!more) return false;
    }
}

/* A listen value is one address or a sequence of 1..SL_CONFIG_MAX_LISTEN of them, and
 * replaces the default list as a whole. */
static bool set_listen(struct parse *p, const struct key_def *k, const yaml_event_t *val,
                       bool *ok)
{
    sl_listen_list_t list;
    char buf[SHOW_BUF];
    memset(&list, 0, sizeof(list));
    *ok = true;
    if (val->type == YAML_SCALAR_EVENT) {
        *ok = add_listen(p, k, &list, val);
    } else if (val->type == YAML_SEQUENCE_START_EVENT) {
        if (!read_listen_items(p, k, &list, ok)) return false;
        if (*ok && list.count == 0) {
            report(p, &val->start_mark, "%s: expected 1 to %d addresses, got none", k->path,
                   SL_CONFIG_MAX_LISTEN);
            *ok = false;
        }
    } else {
        report(p, &val->start_mark, "%s: expected an address or a list of addresses, got %s",
               k->path, describe(buf, val));
        *ok = false;
        return skip_node(p, val);
    }
    if (*ok) memcpy(field(p, k), &list, sizeof(list));
    return true;
}

/* "MIN-MAX": ports from k->min to k->max, MIN even (RTP takes the even port of a
 * pair, RTCP the odd one) and at least one pair. */
static bool set_port_range(struct parse *p, const struct key_def *k, const yaml_event_t *val)
{
    const char *v = val->type == YAML_SCALAR_EVENT ? scalar_text(val) : NULL;
    const char *dash = v ? strchr(v, '-') : NULL;
    uint64_t lo = 0, hi = 0;
    char buf[SHOW_BUF];
    if (!dash || !parse_uint((const yaml_char_t *)v, (size_t)(dash - v), &lo) ||
        !parse_uint((const yaml_char_t *)dash + 1, strlen(dash + 1), &hi) ||
        lo < k->min || hi > k->max || lo % 2 != 0 || hi < lo + 1) {
        report(p, &val->start_mark,
               "%s: expected \"MIN-MAX\" with %u <= MIN < MAX <= %u and MIN even, got %s", k->path,
               k->min, k->max, describe(buf, val));
        return false;
    }
    sl_port_range_t *r = field(p, k);
    r->min = (uint16_t)lo;
    r->max = (uint16_t)hi;
    return true;
}

/* Where a list of strings keeps its rows and its count: relay.push and relay.pull
 * (sl_rule_list_t) or relay.sources (sl_source_list_t). */
static char *rule_row(struct parse *p, const struct key_def *k, int i, size_t *row_max, int **count)
{
    if (k->type == KT_SOURCES) {
        sl_source_list_t *l = field(p, k);
        *row_max = SL_CONFIG_SOURCE_MAX;
        *count = &l->count;
        return l->rule[i];
    }
    sl_rule_list_t *l = field(p, k);
    *row_max = SL_CONFIG_RULE_MAX;
    *count = &l->count;
    return l->rule[i];
}

/* A list of rule strings ("pattern url url..."): a sequence of scalars, each
 * shorter than its row without control characters. Consumes the value. Written in
 * place: a list with an error fails the whole parse, which then keeps nothing. */
static bool set_rules(struct parse *p, const struct key_def *k, const yaml_event_t *val, bool *ok)
{
    char buf[SHOW_BUF];
    size_t row_max;
    int *count;
    (void)rule_row(p, k, 0, &row_max, &count);
    *count = 0;
    *ok = true;
    if (is_null(val)) return true;
    if (val->type != YAML_SEQUENCE_START_EVENT) {
        report(p, &val->start_mark, "%s: expected a list of strings, got %s", k->path, describe(buf, val));
        *ok = false;
        return skip_node(p, val);
    }
    for (;;) {
        yaml_event_t item;
        if (!next(p, &item)) return false;
        if (item.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&item);
            break;
        }
        const char *text = item.type == YAML_SCALAR_EVENT ? scalar_text(&item) : NULL;
        bool bad = text == NULL || strlen(text) >= row_max;
        for (const char *c = text; !bad && *c; c++) bad = (unsigned char)*c < 0x20 || *c == 0x7f;
        if (*count == (int)k->max) {
            report(p, &item.start_mark, "%s: at most %u %s", k->path, k->max,
                   k->type == KT_SOURCES ? "sources" : "rules");
            *ok = false;
        } else if (bad) {
            report(p, &item.start_mark, "%s: expected a string of at most %zu bytes, got %s", k->path, row_max - 1,
                   describe(buf, &item));
            *ok = false;
        } else {
            snprintf(rule_row(p, k, *count, &row_max, &count), row_max, "%s", text);
            (*count)++;
        }
        bool more = skip_node(p, &item);
        yaml_event_delete(&item);
        if (!more) return false;
    }
    return true;
}

static bool walk_mapping(struct parse *p, const char *prefix);

/* Applies the value of known key `i`. False only when the walk must end. */
static bool apply(struct parse *p, int i, const yaml_event_t *val)
{
    const struct key_def *k = &keys[i];
    char buf[SHOW_BUF];
    bool ok = false;
    if (val->type == YAML_ALIAS_EVENT) {
        report(p, &val->start_mark, "%s: aliases are not supported", k->path);
    } else if (k->type == KT_SECTION) {
        if (val->type == YAML_MAPPING_START_EVENT) return walk_mapping(p, k->path);
        /* "rtmp:" with every key below commented out is an empty section. */
        if (is_null(val)) return true;
        report(p, &val->start_mark, "%s: expected a mapping, got %s", k->path,
               describe(buf, val));
    } else if (k->type == KT_LISTEN || k->type == KT_RULES || k->type == KT_SOURCES) {
        /* These consume the whole value, a sequence included. */
        bool more = k->type == KT_LISTEN ? set_listen(p, k, val, &ok) : set_rules(p, k, val, &ok);
        p->state[i].failed = !ok;
        return more;
    } else if (k->type == KT_BOOL) {
        ok = set_bool(p, k, val);
    } else if (k->type == KT_U32 || k->type == KT_INT) {
        ok = set_integer(p, k, val);
    } else if (k->type == KT_STRING) {
        ok = set_string(p, k, val);
    } else if (k->type == KT_PORT_RANGE) {
        ok = set_port_range(p, k, val);
    } else {
        ok = set_log_level(p, k, val);
    }
    p->state[i].failed = !ok;
    return skip_node(p, val);
}

/* One key and its value inside a mapping. False only when the walk must end. */
static bool walk_pair(struct parse *p, const char *prefix, const yaml_event_t *key)
{
    char buf[SHOW_BUF];
    int i = -1;
    if (key->type != YAML_SCALAR_EVENT) {
        report(p, &key->start_mark, "expected a key name, got %s", describe(buf, key));
        if (!skip_node(p, key)) return false;
    } else if ((i = lookup(prefix, key)) < 0) {
        report(p, &key->start_mark, "unknown key '%s%s%s'", prefix, *prefix ? "." : "",
               show(buf, key->data.scalar.value, key->data.scalar.length));
    } else if (p->state[i].seen) {
        report(p, &key->start_mark, "duplicate key '%s' (first at line %zu)", keys[i].path,
               p->state[i].mark.line + 1);
        i = -1;
    } else {
        p->state[i].seen = true;
        p->state[i].mark = key->start_mark;
    }

    yaml_event_t val;
    if (!next(p, &val)) return false;
    bool more = i >= 0 ? apply(p, i, &val) : skip_node(p, &val);
    yaml_event_delete(&val);
    return more;
}

/* The pairs of a mapping, after its start event; `prefix` is its dotted path. */
static bool walk_mapping(struct parse *p, const char *prefix)
{
    for (;;) {
        yaml_event_t key;
        if (!next(p, &key)) return false;
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return true;
        }
        bool more = walk_pair(p, prefix, &key);
        yaml_event_delete(&key);
        if (!more) return false;
    }
}

static bool walk_root(struct parse *p)
{
    yaml_event_t ev;
    char buf[SHOW_BUF];
    if (!next(p, &ev)) return false;
    bool more = true;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        more = walk_mapping(p, "");
    } else if (!is_null(&ev)) {
        /* A document of only "---" or "~" is as empty as an empty file. */
        report(p, &ev.start_mark, "expected a mapping of keys at the top level, got %s",
               describe(buf, &ev));
        more = skip_node(p, &ev);
    }
    yaml_event_delete(&ev);
    return more;
}

/* stream-start (document-start root document-end)? stream-end: one document at most. */
static bool walk_stream(struct parse *p)
{
    yaml_event_t ev;
    if (!next(p, &ev)) return false; /* stream start */
    yaml_event_delete(&ev);
    if (!next(p, &ev)) return false;
    bool empty = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (empty) return true;
    if (!walk_root(p)) return false;
    if (!next(p, &ev)) return false; /* document end */
    yaml_event_delete(&ev);
    if (!next(p, &ev)) return false;
    if (ev.type == YAML_DOCUMENT_START_EVENT)
        report(p, &ev.start_mark, "only one YAML document is allowed");
    yaml_event_delete(&ev);
    return true;
}

/* Constraints between keys, checked once every key is read, unless a key involved
 * was itself rejected (its default would make a misleading second error). */
/* The place to point at for a key's value: where it was written, else nowhere. */
static const yaml_mark_t *mark_of(struct parse *p, const char *key)
{
    const struct key_state *st = &p->state[find_key(key)];
    return st->seen ? &st->mark : NULL;
}

static void check_auth_rule(struct parse *p, const char *name, struct sl_auth_rule *r)
{
    char key[32];
    snprintf(key, sizeof(key), "%s.type", name);
    sl_token_kind_t kind;
    if (sl_token_kind_parse(r->type, &kind) != SL_OK) {
        report(p, mark_of(p, key), "%s: expected none, simple, md5 or hmac, got \"%s\"", key, r->type);
        return;
    }
    r->kind = (int)kind;
    snprintf(key, sizeof(key), "%s.secret", name);
    if (kind != SL_TOKEN_NONE && r->secret[0] == '\0')
        report(p, mark_of(p, key), "%s: %s.type %s needs a secret", key, name, r->type);
}

static void check_hook_url(struct parse *p, const char *key)
{
    const char *url = (const char *)&p->cfg + keys[find_key(key)].off;
    const char *why = NULL;
    sl_http_url_t u;
    if (url[0] != '\0' && sl_http_url_parse(&u, url, &why) != SL_OK)
        report(p, mark_of(p, key), "%s: %s", key, why != NULL ? why : "not an http:// URL");
}

/* "PATTERN rtmp://host/app ...": a glob and at least one RTMP URL. */
static void check_relay_rules(struct parse *p, const char *key, const sl_rule_list_t *rules)
{
    for (int i = 0; i < rules->count; i++) {
        char copy[SL_CONFIG_RULE_MAX], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", rules->rule[i]);
        const char *pattern = strtok_r(copy, " ", &save);
        int targets = 0;
        for (const char *url = strtok_r(NULL, " ", &save); url != NULL; url = strtok_r(NULL, " ", &save), targets++) {
            sl_rtmp_url_t u;
            if (sl_rtmp_url_parse(url, &u) != SL_OK) {
                report(p, mark_of(p, key), "%s[%d]: \"%s\" is not an rtmp:// URL", key, i, url);
                return;
            }
        }
        if (pattern == NULL || targets == 0)
            report(p, mark_of(p, key), "%s[%d]: expected \"PATTERN rtmp://host/app ...\", got \"%s\"", key, i,
                   rules->rule[i]);
    }
}

/* "KEY URL [options]", each key once. */
static void check_sources(struct parse *p)
{
    const sl_source_list_t *list = &p->cfg.relay.sources;
    sl_source_spec_t spec;
    const char *why;
    for (int i = 0; i < list->count; i++) {
        if (sl_source_spec_parse(list->rule[i], &spec, &why) != SL_OK) {
            report(p, mark_of(p, "relay.sources"), "relay.sources[%d]: %s", i, why);
            continue;
        }
        size_t n = strlen(spec.key);
        for (int j = 0; j < i; j++) {
            if (strncmp(list->rule[j], spec.key, n) == 0 && list->rule[j][n] == ' ') {
                report(p, mark_of(p, "relay.sources"), "relay.sources[%d]: %s is already relay.sources[%d]", i,
                       spec.key, j);
                break;
            }
        }
    }
}

static void check_cross(struct parse *p)
{
    const struct key_state *soft = &p->state[find_key("limits.viewer_queue_soft_ms")];
    const struct key_state *hard = &p->state[find_key("limits.viewer_queue_hard_ms")];
    if (!soft->failed && !hard->failed &&
        p->cfg.limits.viewer_queue_soft_ms >= p->cfg.limits.viewer_queue_hard_ms)
        report(p, soft->seen ? &soft->mark : &hard->mark,
               "limits.viewer_queue_soft_ms (%u) must be less than "
               "limits.viewer_queue_hard_ms (%u)",
               p->cfg.limits.viewer_queue_soft_ms, p->cfg.limits.viewer_queue_hard_ms);
    const struct key_state *cert = &p->state[find_key("webrtc.cert_file")];
    const struct key_state *key = &p->state[find_key("webrtc.key_file")];
    if (!cert->failed && !key->failed && (p->cfg.webrtc.cert_file[0] == '\0') != (p->cfg.webrtc.key_file[0] == '\0'))
        report(p, cert->seen ? &cert->mark : &key->mark,
               "webrtc.cert_file and webrtc.key_file go together: set both or neither");
    check_auth_rule(p, "auth.publish", &p->cfg.auth.publish);
    check_auth_rule(p, "auth.play", &p->cfg.auth.play);
    static const char *const hooks[] = {"hooks.on_publish", "hooks.on_unpublish", "hooks.on_play", "hooks.on_stop",
                                        "hooks.on_record"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(hooks); i++) check_hook_url(p, hooks[i]);
    check_relay_rules(p, "relay.push", &p->cfg.relay.push);
    check_relay_rules(p, "relay.pull", &p->cfg.relay.pull);
    check_sources(p);
}

int sl_config_parse(sl_config_t *cfg, const char *name, const char *text, size_t len,
                    sl_config_errors_t *errs)
{
    struct parse *p = calloc(1, sizeof(*p));
    errs->count = 0;
    if (!p) {
        snprintf(errs->msg[errs->count++], sizeof(errs->msg[0]), "%s: out of memory", name);
        return SL_ERR_NOMEM;
    }
    p->name = name;
    p->text = text ? text : "";
    p->len = text ? len : 0;
    p->cfg = *cfg;
    p->errs = errs;

    int err = SL_OK;
    if (p->len > CONFIG_MAX_BYTES) {
        report(p, NULL, "larger than %d bytes", CONFIG_MAX_BYTES);
    } else if (!yaml_parser_initialize(&p->parser)) {
        report(p, NULL, "out of memory");
        err = SL_ERR_NOMEM;
    } else {
        yaml_parser_set_input_string(&p->parser, (const unsigned char *)p->text, p->len);
        if (walk_stream(p)) check_cross(p);
        yaml_parser_delete(&p->parser);
        if (p->fatal == SL_ERR_NOMEM) err = SL_ERR_NOMEM;
    }
    if (err == SL_OK && errs->count > 0) err = SL_ERR_CONFIG;
    if (err == SL_OK) *cfg = p->cfg;
    free(p);
    return err;
}

int sl_config_load(sl_config_t *cfg, const char *path, sl_config_errors_t *errs)
{
    errs->count = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errs->msg[errs->count++], sizeof(errs->msg[0]), "%s: cannot open: %s", path,
                 strerror(errno));
        return SL_ERR_IO;
    }
    /* One byte over the cap, so sl_config_parse sees an oversized file as such. */
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    int err = SL_ERR_NOMEM;
    if (!text) {
        snprintf(errs->msg[errs->count++], sizeof(errs->msg[0]), "%s: out of memory", path);
        goto out;
    }
    size_t len = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(errs->msg[errs->count++], sizeof(errs->msg[0]), "%s: cannot read: %s", path,
                 strerror(errno));
        err = SL_ERR_IO;
        goto out;
    }
    err = sl_config_parse(cfg, path, text, len, errs);
out:
    free(text);
    fclose(f);
    return err;
}
