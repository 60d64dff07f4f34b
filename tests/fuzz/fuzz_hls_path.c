/* Fuzzes the HLS request router and the recording directory builder: whatever they
 * accept must be a key that cannot leave a directory, a directory under the root,
 * and the two must agree on which keys are safe. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/hls/path.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define ROOT "/srv/rec"
enum { KEY_MAX = 4096, DIR_MAX = 8192, STAMP_LEN = 15 }; /* YYYYMMDD-HHMMSS */

static void check_key_shape(const char *key)
{
    size_t len = strlen(key);
    CHECK(len > 0 && key[0] != '/' && key[len - 1] != '/' && strchr(key, '/') != NULL);
    CHECK(strstr(key, "..") == NULL && strstr(key, "//") == NULL && strstr(key, "/.") == NULL);
    CHECK(key[0] != '.' && strchr(key, '\\') == NULL && strchr(key, '%') == NULL);
    for (const char *p = key; *p; p++) CHECK(*p > ' ' && *p < 0x7f);
    CHECK(sl_hls_key_safe(key));
}

/* A directory built for `key` must be exactly ROOT/key/stamp. */
static void check_dir(const char *dir, const char *key)
{
    size_t root_len = strlen(ROOT), key_len = strlen(key);
    CHECK(strncmp(dir, ROOT "/", root_len + 1) == 0);
    CHECK(strncmp(dir + root_len + 1, key, key_len) == 0);
    CHECK(dir[root_len + 1 + key_len] == '/');
    CHECK(strlen(dir) == root_len + 1 + key_len + 1 + STAMP_LEN);
}

static void check_routed(const char *path, const char *key, int kind, uint64_t seq)
{
    check_key_shape(key);
    size_t key_len = strlen(key);
    CHECK(path[0] == '/' && strncmp(path + 1, key, key_len) == 0 && path[key_len + 1] == '/');
    const char *file = path + key_len + 2;
    if (kind == SL_HLS_PLAYLIST) {
        CHECK(seq == 0 && strcmp(file, SL_HLS_PLAYLIST_NAME) == 0);
    } else {
        CHECK(kind == SL_HLS_SEGMENT);
        char *end;
        CHECK(file[0] >= '0' && file[0] <= '9');
        CHECK(strtoull(file, &end, 10) == seq && strcmp(end, ".ts") == 0);
    }
    char dir[DIR_MAX];
    CHECK(sl_hls_record_dir(ROOT, key, 0, dir, sizeof(dir)) == SL_OK);
    check_dir(dir, key);
}

/* Taking the input as a key: record_dir and the router must agree. */
static void check_as_key(const char *input, int64_t ms)
{
    char dir[DIR_MAX];
    int rc = sl_hls_record_dir(ROOT, input, ms, dir, sizeof(dir));
    CHECK(rc == SL_OK || rc == SL_ERR_PROTO || rc == SL_ERR_TOO_BIG);
    if (rc != SL_OK) CHECK(dir[0] == '\0');
    if (rc == SL_OK) {
        check_key_shape(input);
        check_dir(dir, input);
    }

    static char path[KEY_MAX + 64];
    if (strlen(input) > KEY_MAX) return;
    snprintf(path, sizeof(path), "/%s/" SL_HLS_PLAYLIST_NAME, input);
    char key[KEY_MAX + 1];
    int kind;
    uint64_t seq;
    int route_rc = sl_hls_route(path, key, sizeof(key), &kind, &seq);
    CHECK((route_rc == SL_OK) == sl_hls_key_safe(input));
    if (route_rc == SL_OK) CHECK(strcmp(key, input) == 0 && kind == SL_HLS_PLAYLIST);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) return 0;
    if (size > 0) memcpy(s, data, size);
    s[size] = '\0';

    char key[256];
    int kind = -1;
    uint64_t seq = 1;
    int rc = sl_hls_route(s, key, sizeof(key), &kind, &seq);
    CHECK(rc == SL_OK || rc == SL_ERR_PROTO || rc == SL_ERR_NOT_FOUND);
    if (rc == SL_OK)
        check_routed(s, key, kind, seq);
    else
        CHECK(key[0] == '\0' && kind == 0 && seq == 0);

    int64_t ms = 0;
    if (size >= sizeof(ms)) memcpy(&ms, data, sizeof(ms));
    check_as_key(s, ms);
    check_as_key(s, INT64_C(1795255200123));
    free(s);
    return 0;
}
