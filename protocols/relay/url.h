/* Relay URLs: "rtmp://host[:port]/app[/inst]/name[?query]" for the RTMP client and
 * "rtsp://[user[:pass]@]host[:port][/path]" for the RTSP pull. I/O-free and safe on
 * hostile input: every part is bounded and written into fixed arrays of the result,
 * so a parsed URL holds no heap memory and may be copied by assignment.
 *
 * Hosts are an IPv4 address, a bracketed IPv6 address (stored without brackets) or
 * a name of letters, digits, '-', '_' and '.'. Bytes below 0x21, 0x7f, '\\' and '#'
 * are refused anywhere: they have no place in a URL a server or a camera expects.
 */
#ifndef SLUICE_RELAY_URL_H
#define SLUICE_RELAY_URL_H

#include <stdint.h>

#include "sluice/common.h"

#define SL_RTMP_DEFAULT_PORT 1935
#define SL_RTSP_DEFAULT_PORT 554

/* Array sizes, NUL included. A DNS name is at most 253 characters. */
#define SL_URL_HOST_MAX 256
#define SL_URL_APP_MAX 256
#define SL_URL_NAME_MAX 512
#define SL_URL_USER_MAX 128
#define SL_URL_PATH_MAX 1024
/* "rtmp://" + "[" host "]" + ":65535" + "/" + app. */
#define SL_URL_TC_URL_MAX (7 + SL_URL_HOST_MAX + 2 + 6 + 1 + SL_URL_APP_MAX)
/* "rtsp://" + "[" host "]" + ":65535" + path. */
#define SL_URL_REQUEST_MAX (7 + SL_URL_HOST_MAX + 2 + 6 + SL_URL_PATH_MAX)

typedef struct sl_rtmp_url {
    char host[SL_URL_HOST_MAX]; /* IPv6 without brackets */
    uint16_t port;              /* 1935 when absent */
    /* Everything between the host and the last '/' before the query: "live" or
     * "live/inst", as nginx-rtmp, SRS and OBS split it. Never empty. */
    char app[SL_URL_APP_MAX];
    /* The last path segment with its query kept ("key?token=x"), which is what the
     * publish or play command carries. Empty for "rtmp://host/app" and
     * "rtmp://host/app/": the caller then supplies the name (nginx-rtmp's "push
     * rtmp://host/app" pushes every stream under its own name). */
    char name[SL_URL_NAME_MAX];
    char tc_url[SL_URL_TC_URL_MAX]; /* "rtmp://host:port/app", port always written */
} sl_rtmp_url_t;

typedef struct sl_rtsp_url {
    char user[SL_URL_USER_MAX]; /* percent-decoded; empty without userinfo */
    char pass[SL_URL_USER_MAX]; /* percent-decoded; empty without a password */
    char host[SL_URL_HOST_MAX]; /* IPv6 without brackets */
    uint16_t port;              /* 554 when absent */
    char path[SL_URL_PATH_MAX]; /* "/..." with the query kept; "/" when absent */
    /* The URL for request lines, as written but without the userinfo: credentials
     * go in the Authorization header, never on the wire in clear. */
    char request_url[SL_URL_REQUEST_MAX];
} sl_rtsp_url_t;

/* Parses a NUL-terminated rtmp:// URL (scheme case-insensitive) into *out, which is
 * overwritten in full (zeroed on error). Returns SL_OK, SL_ERR_UNSUPPORTED for
 * another scheme (rtmps, rtmpt...), SL_ERR_TOO_BIG when a part overflows its array,
 * SL_ERR_PROTO for anything malformed: no host, a bad port (0, over 65535, not
 * digits), userinfo, no app, a refused byte. */
int sl_rtmp_url_parse(const char *url, sl_rtmp_url_t *out) SL_MUST_CHECK;

/* Parses a NUL-terminated rtsp:// URL (scheme case-insensitive) into *out, which is
 * overwritten in full (zeroed on error). The userinfo ends at the last '@' before
 * the path, so an unencoded '@' in a password still works; user and password are
 * split at the first ':' and percent-decoded. Returns SL_OK, SL_ERR_UNSUPPORTED
 * (another scheme), SL_ERR_TOO_BIG, SL_ERR_PROTO (as for RTMP, plus a bad or NUL
 * percent escape). */
int sl_rtsp_url_parse(const char *url, sl_rtsp_url_t *out) SL_MUST_CHECK;

#endif
