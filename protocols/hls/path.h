/* Safe names for HLS: request paths to stream keys, stream keys to directories.
 *
 * Both directions accept the same stream keys: "app/name" with one or more name
 * segments, each segment non-empty, not starting with '.', made only of ASCII
 * letters, digits and "-_.~+=@,", and no ".." anywhere. Nothing is ever
 * percent-decoded: a '%' is refused, so "%2e%2e" cannot become "..". A key accepted
 * here can therefore be joined under a directory without escaping it, and when
 * shorter than SL_STREAM_KEY_MAX it is also a valid hub key (sl_hub_key_valid).
 */
#ifndef SLUICE_PROTOCOLS_HLS_PATH_H
#define SLUICE_PROTOCOLS_HLS_PATH_H

#include <stdbool.h>

#include "sluice/common.h"

enum sl_hls_kind {
    SL_HLS_PLAYLIST = 1, /* ".../index.m3u8" */
    SL_HLS_SEGMENT = 2,  /* ".../<digits>.ts" */
};

#define SL_HLS_PLAYLIST_NAME "index.m3u8"

/* True when key is a stream key as described above. */
bool sl_hls_key_safe(const char *key);

/* Routes a request path (the part before '?', not decoded):
 * "/{app}/{name...}/index.m3u8" gives kind SL_HLS_PLAYLIST and seq 0,
 * "/{app}/{name...}/{1 to 20 digits}.ts" gives SL_HLS_SEGMENT and the number in *seq;
 * *key receives "app/name..." NUL-terminated.
 * SL_ERR_PROTO for a path no stream could ever have (not starting with '/', a
 * refused character, an empty, "." or ".." segment, ".." anywhere, a key that does
 * not fit key_size, a number of more than 20 digits or past UINT64_MAX): the
 * server answers 400.
 * SL_ERR_NOT_FOUND for a clean path that is not an HLS resource (a key with a single
 * segment, another file name): the server answers 404.
 * On error key is "" (when key_size > 0), *kind 0 and *seq 0. */
int sl_hls_route(const char *path, char *key, size_t key_size, int *kind,
                 uint64_t *seq) SL_MUST_CHECK;

/* Writes the recording directory "root/app/name.../YYYYMMDD-HHMMSS" (UTC time of
 * unix_ms) into out[out_size]. Trailing slashes of root are dropped ("/" stays the
 * file system root); root itself is configuration and is not checked beyond being
 * non-empty. SL_ERR_PROTO for an empty root, a key refused by sl_hls_key_safe, or a
 * time before 1970 or after year 9999; SL_ERR_TOO_BIG when the result does not fit.
 * On error out is "" (when out_size > 0). */
int sl_hls_record_dir(const char *root, const char *key, int64_t unix_ms, char *out,
                      size_t out_size) SL_MUST_CHECK;

#endif
