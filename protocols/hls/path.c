#include "protocols/hls/path.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEGMENT_SUFFIX ".ts"
enum { SEQ_DIGITS_MAX = 20 }; /* UINT64_MAX has 20 digits */

/* Letters, digits and a few punctuation marks that mean nothing to a shell, a URL
 * or a file system. '/' separates segments and is handled by the callers. */
static bool char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != '\0' && strchr("-_.~+=@,", c) != NULL;
}

/* Checks one path segment s[0..len) other than the empty one: allowed characters,
 * no leading dot (refuses ".", ".." and hidden files at once) and no "..". */
static bool segment_ok(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        if (!char_ok((unsigned char)s[i])) return false;
        if (s[i] == '.' && s[i - 1] == '.') return false;
    }
    return true;
}

/* Checks key[0..len): SL_OK for "app/name...", SL_ERR_NOT_FOUND for a single clean
 * segment, SL_ERR_PROTO for anything unsafe. */
static int check_key(const char *key, size_t len)
{
    size_t segments = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && key[i] != '/') continue;
        if (!segment_ok(key + start, i - start)) return SL_ERR_PROTO;
        segments++;
        start = i + 1;
    }
    return segments >= 2 ? SL_OK : SL_ERR_NOT_FOUND;
}

bool sl_hls_key_safe(const char *key) { return check_key(key, strlen(key)) == SL_OK; }

/* Parses "<digits>.ts". SL_ERR_NOT_FOUND when the name has another shape,
 * SL_ERR_PROTO when the number is too long for a sequence number. */
static int parse_segment_name(const char *name, size_t len, uint64_t *seq)
{
    size_t suffix = strlen(SEGMENT_SUFFIX);
    if (len <= suffix || memcmp(name + len - suffix, SEGMENT_SUFFIX, suffix) != 0)
        return SL_ERR_NOT_FOUND;
    size_t digits = len - suffix;
    uint64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        if (name[i] < '0' || name[i] > '9') return SL_ERR_NOT_FOUND;
        unsigned d = (unsigned)(name[i] - '0');
        if (digits > SEQ_DIGITS_MAX || v > (UINT64_MAX - d) / 10) return SL_ERR_PROTO;
        v = v * 10 + d;
    }
    *seq = v;
    return SL_OK;
}

/* Everything that decides between 400 and 404, once the outputs are cleared. */
static int route(const char *path, char *key, size_t key_size, int *kind, uint64_t *seq)
{
    if (path[0] != '/') return SL_ERR_PROTO;
    const char *last = strrchr(path, '/');
    const char *file = last + 1;
    size_t file_len = strlen(file);
    if (file_len > 0 && !segment_ok(file, file_len)) return SL_ERR_PROTO;
    /* With a single slash there is no key at all: clean, but not ours. */
    int key_rc = last == path ? SL_ERR_NOT_FOUND : check_key(path + 1, (size_t)(last - path - 1));
    if (key_rc == SL_ERR_PROTO) return key_rc;

    int file_rc = SL_ERR_NOT_FOUND;
    if (strcmp(file, SL_HLS_PLAYLIST_NAME) == 0) {
        *kind = SL_HLS_PLAYLIST;
        file_rc = SL_OK;
    } else if ((file_rc = parse_segment_name(file, file_len, seq)) == SL_OK) {
        *kind = SL_HLS_SEGMENT;
    }
    if (file_rc == SL_ERR_PROTO) return file_rc;
    if (key_rc != SL_OK) return key_rc;
    if (file_rc != SL_OK) return file_rc;

    size_t key_len = (size_t)(last - path - 1);
    if (key_len >= key_size) return SL_ERR_PROTO;
    memcpy(key, path + 1, key_len);
    key[key_len] = '\0';
    return SL_OK;
}

int sl_hls_route(const char *path, char *key, size_t key_size, int *kind, uint64_t *seq)
{
    if (key_size > 0) key[0] = '\0';
    *kind = 0;
    *seq = 0;
    int rc = route(path, key, key_size, kind, seq);
    if (rc != SL_OK) {
        *kind = 0;
        *seq = 0;
    }
    return rc;
}

/* Writes "YYYYMMDD-HHMMSS" of unix_ms (UTC) into out[16]. */
static int format_stamp(int64_t unix_ms, char out[16])
{
    const int64_t year_10000_ms = INT64_C(253402300800000);
    if (unix_ms < 0 || unix_ms >= year_10000_ms) return SL_ERR_PROTO;
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || strftime(out, 16, "%Y%m%d-%H%M%S", &tm) != 15)
        return SL_ERR_PROTO;
    return SL_OK;
}

int sl_hls_record_dir(const char *root, const char *key, int64_t unix_ms, char *out,
                      size_t out_size)
{
    if (out_size > 0) out[0] = '\0';
    size_t root_len = strlen(root);
    if (root_len == 0 || !sl_hls_key_safe(key)) return SL_ERR_PROTO;
    while (root_len > 0 && root[root_len - 1] == '/') root_len--;
    char stamp[16];
    int rc = format_stamp(unix_ms, stamp);
    if (rc != SL_OK) return rc;
    if (root_len >= out_size || root_len > INT_MAX) return SL_ERR_TOO_BIG;
    int n = snprintf(out, out_size, "%.*s/%s/%s", (int)root_len, root, key, stamp);
    if (n < 0 || (size_t)n >= out_size) {
        out[0] = '\0';
        return SL_ERR_TOO_BIG;
    }
    return SL_OK;
}
