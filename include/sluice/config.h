/* The server configuration, loaded from YAML (libyaml) and validated at start.
 *
 * Every key has a default, so an empty file is a valid configuration. An unknown key,
 * a wrong type or an out-of-range value is an error naming the file, line and column.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>

#include "sluice/common.h"

#define SL_CONFIG_MAX_LISTEN 8
#define SL_CONFIG_MAX_ERRORS 16

/* One "host:port" listen address. IPv6 hosts are written "[::1]:1935" in YAML and
 * stored here without brackets. */
typedef struct sl_listen_addr {
    char host[64];
    uint16_t port;
} sl_listen_addr_t;

typedef struct sl_listen_list {
    sl_listen_addr_t addr[SL_CONFIG_MAX_LISTEN];
    int count;
} sl_listen_list_t;

/* An inclusive range of UDP ports, written "10000-10999" in YAML. */
typedef struct sl_port_range {
    uint16_t min, max;
} sl_port_range_t;

/* A list of rules, each one string: "pattern target target...". */
#define SL_CONFIG_MAX_RULES 16
#define SL_CONFIG_RULE_MAX 1024
typedef struct sl_rule_list {
    char rule[SL_CONFIG_MAX_RULES][SL_CONFIG_RULE_MAX];
    int count;
} sl_rule_list_t;

/* relay.sources: "KEY URL [transport=tcp|udp|auto] [always_on]", one per camera or
 * remote stream; hundreds are expected, so the list is long and its rows short. */
#define SL_CONFIG_MAX_SOURCES 1024
#define SL_CONFIG_SOURCE_MAX 512
typedef struct sl_source_list {
    char rule[SL_CONFIG_MAX_SOURCES][SL_CONFIG_SOURCE_MAX];
    int count;
} sl_source_list_t;

typedef struct sl_config {
    int log_level; /* sl_log_level, key "log_level": error | warn | info | debug */

    struct {
        bool enabled;           /* rtmp.enabled, default true */
        sl_listen_list_t listen; /* rtmp.listen, default ["0.0.0.0:1935"] */
        uint32_t chunk_size;    /* rtmp.chunk_size: outgoing chunk size, 128..65536, default 4096 */
    } rtmp;

    struct {
        bool enabled;           /* http.enabled, default true */
        sl_listen_list_t listen; /* http.listen, default ["0.0.0.0:8080"] */
        char cors_origin[128];  /* http.cors_origin, default "*"; "" sends no CORS headers */
    } http;

    struct {
        bool enabled;            /* rtsp.enabled, default true */
        sl_listen_list_t listen; /* rtsp.listen, default ["0.0.0.0:8554"] */
        sl_port_range_t udp_port_range; /* rtsp.udp_port_range: RTP/RTCP port pairs for UDP
                                           transport, default 10000-10999 */
        uint32_t session_timeout_ms; /* rtsp.session_timeout_ms: a session with no request
                                        and no RTCP is closed, 5000..3600000, default 60000 */
        char user[64];      /* rtsp.user: when set, every request but OPTIONS needs
                               Digest (or Basic) credentials; default "" (open) */
        char password[128]; /* rtsp.password */
    } rtsp;

    struct {
        bool enabled;                 /* hls.enabled, default true */
        uint32_t segment_duration_ms; /* hls.segment_duration_ms: target, 500..60000, default 2000 */
        uint32_t playlist_length;     /* hls.playlist_length: segments in the live window, 2..60, default 6 */
        bool on_demand;               /* hls.on_demand: mux only once someone asks, default false */
    } hls;

    struct {
        bool enabled;      /* record.enabled, default false */
        char path[512];    /* record.path, default "/var/lib/sluice/recordings" */
        char streams[512]; /* record.streams: space-separated glob patterns of stream keys, default "*" */
    } record;

    struct {
        bool enabled;        /* webrtc.enabled, default true: WHIP and WHEP on the HTTP listener */
        uint32_t udp_port;   /* webrtc.udp_port: the one UDP port of every session, default 8000 */
        char candidates[512]; /* webrtc.candidates: space-separated IPs or host names the
                                 answers offer as host candidates; default "" = the
                                 addresses of the host's interfaces */
        char ice_servers[512]; /* webrtc.ice_servers: space-separated stun:/turn: URLs
                                  announced in OPTIONS Link headers; default "" */
        char cert_file[512];  /* webrtc.cert_file, webrtc.key_file: PEM certificate and key */
        char key_file[512];   /*   for DTLS; default "" = a self-signed P-256 one per start */
    } webrtc;

    /* auth.publish and auth.play: who may publish and play (docs/auth.md). */
    struct {
        struct sl_auth_rule {
            char type[16];    /* auth.X.type: none | simple | md5 | hmac, default none */
            char secret[256]; /* auth.X.secret: the shared secret of the type */
            char apps[512];   /* auth.X.apps: space-separated glob patterns of the apps
                                 the rule covers, default "*" */
            int kind;         /* sl_token_kind_t of type, set by the loader */
        } publish, play;
    } auth;

    /* hooks: HTTP POSTs to the operator's service (docs/hooks.md). */
    struct {
        char on_publish[512];   /* hooks.on_publish: URL; a non-2xx answer denies; "" none */
        char on_unpublish[512]; /* hooks.on_unpublish */
        char on_play[512];      /* hooks.on_play: a non-2xx answer denies */
        char on_stop[512];      /* hooks.on_stop: a player left */
        char on_record[512];    /* hooks.on_record: a recording was finished */
        uint32_t timeout_ms;    /* hooks.timeout_ms, 100..60000, default 3000 */
        bool fail_open;         /* hooks.fail_open: allow when the hook service fails
                                   (no answer, error), default false: deny */
    } hooks;

    /* relay: streams pushed to other servers and pulled from them (docs/relay.md). */
    struct {
        sl_rule_list_t push;   /* relay.push: "PATTERN rtmp://host/app ...": every stream whose
                                  key matches the glob PATTERN is republished to each target
                                  app under its own name; default none */
        sl_rule_list_t pull;   /* relay.pull: "PATTERN rtmp://origin/app ...": a player asking
                                  for a missing stream whose key matches makes it pulled from
                                  the first origin that has it; default none */
        sl_source_list_t sources; /* relay.sources: streams pulled from cameras or servers
                                  (rtsp:// or rtmp://), on demand or always; default none */
        uint32_t pull_timeout_ms; /* relay.pull_timeout_ms: how long a player waits for a
                                  pull, 1000..120000, default 10000 */
        uint32_t idle_timeout_ms; /* relay.idle_timeout_ms: a pull stops this long after its
                                  last viewer, 1000..3600000, default 10000 */
        uint32_t retry_max_ms; /* relay.retry_max_ms: the longest wait between reconnects
                                  (backoff from 1 s, doubling), default 30000 */
    } relay;

    /* transcode: Opus <-> AAC for WebRTC (docs/transcode.md); built with libopus and
     * libavcodec. */
    struct {
        bool enabled;          /* transcode.enabled, default true */
        uint32_t opus_bitrate; /* transcode.opus_bitrate, 16000..256000, default 64000 */
        uint32_t aac_bitrate;  /* transcode.aac_bitrate, 32000..320000, default 128000 */
    } transcode;

    struct {
        bool enabled;            /* api.enabled, default true: the management API and /metrics */
        sl_listen_list_t listen; /* api.listen, default ["127.0.0.1:8081"] */
        char token[256];         /* api.token: when set, requests need "Authorization: Bearer
                                    <token>"; default "" (open: keep api.listen private) */
    } api;

    struct {
        int gop_cache; /* hub.gop_cache: GOPs kept for instant start, 0..8, default 1 */
    } hub;

    struct {
        uint32_t max_connections;        /* limits.max_connections, per protocol, default 1000 */
        uint32_t viewer_queue_soft_ms;   /* limits.viewer_queue_soft_ms, default 3000: skip to next keyframe */
        uint32_t viewer_queue_hard_ms;   /* limits.viewer_queue_hard_ms, default 10000: disconnect */
        uint32_t viewer_queue_hard_bytes; /* limits.viewer_queue_hard_bytes, default 33554432: disconnect */
        uint32_t rtmp_max_message_bytes; /* limits.rtmp_max_message_bytes, default 8388608 */
        uint32_t http_max_header_bytes;  /* limits.http_max_header_bytes, default 16384 */
        uint32_t http_max_body_bytes;    /* limits.http_max_body_bytes, default 1048576 */
        uint32_t handshake_timeout_ms;   /* limits.handshake_timeout_ms, default 10000 */
        uint32_t idle_timeout_ms;        /* limits.idle_timeout_ms: no bytes from a publisher
                                            or HTTP client, default 30000 */
    } limits;
} sl_config_t;

typedef struct sl_config_errors {
    char msg[SL_CONFIG_MAX_ERRORS][256]; /* "FILE:LINE:COL: message" */
    int count;
} sl_config_errors_t;

/* Fills `cfg` with every default. */
void sl_config_defaults(sl_config_t *cfg);

/* Loads YAML text over the defaults. `name` is used in error messages. Returns SL_OK,
 * or SL_ERR_CONFIG with every error found (up to SL_CONFIG_MAX_ERRORS) in `errs`. */
int sl_config_parse(sl_config_t *cfg, const char *name, const char *text, size_t len,
                    sl_config_errors_t *errs) SL_MUST_CHECK;

/* Reads and parses a file; a file that cannot be read is one error in `errs`. */
int sl_config_load(sl_config_t *cfg, const char *path, sl_config_errors_t *errs) SL_MUST_CHECK;

/* Parses "host:port", "[v6]:port" or ":port" (meaning 0.0.0.0). */
int sl_listen_addr_parse(sl_listen_addr_t *out, const char *text) SL_MUST_CHECK;

#endif
