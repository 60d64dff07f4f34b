/* relay.sources entries and POST /api/v1/pulls bodies: a stream of this server
 * pulled from a camera or another server. I/O-free. */
#ifndef SLUICE_RELAY_SOURCE_H
#define SLUICE_RELAY_SOURCE_H

#include <stdbool.h>

#include "sluice/config.h"
#include "sluice/hub.h"

typedef enum sl_source_transport {
    SL_SOURCE_AUTO, /* RTSP over UDP, over TCP when UDP is refused or brings nothing */
    SL_SOURCE_TCP,  /* RTSP interleaved on the TCP connection */
    SL_SOURCE_UDP,  /* RTSP over UDP only */
} sl_source_transport_t;

typedef struct sl_source_spec {
    char key[SL_STREAM_KEY_MAX];     /* the local stream, "app/name" */
    char url[SL_CONFIG_SOURCE_MAX];  /* rtsp://[user:pass@]host[:port]/path or rtmp://host[:port]/app/name */
    bool rtsp;                       /* else RTMP */
    sl_source_transport_t transport; /* RTSP only; AUTO when not given */
    bool always_on;                  /* pulled from start, not only while watched */
} sl_source_spec_t;

/* Parses "KEY URL [transport=tcp|udp|auto] [always_on]" (words separated by spaces)
 * into *out. SL_OK, or SL_ERR_PROTO with *why saying what is wrong (a static
 * string): a key that is not a valid stream key, a URL that is neither rtsp:// nor
 * rtmp:// with a stream name, an unknown or repeated word, transport= on an RTMP URL. */
int sl_source_spec_parse(const char *entry, sl_source_spec_t *out, const char **why) SL_MUST_CHECK;

/* The transport's name as configured: "auto", "tcp" or "udp". */
const char *sl_source_transport_name(sl_source_transport_t t);
/* Parses a transport name; SL_ERR_PROTO for another. */
int sl_source_transport_parse(const char *name, sl_source_transport_t *out) SL_MUST_CHECK;

/* Writes url into out (of size n) with the password, if any, replaced by "***", for
 * logs and the API: credentials are never shown. */
void sl_source_url_redact(const char *url, char *out, size_t n);

#endif
