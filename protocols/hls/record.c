#include "protocols/hls/record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "protocols/hls/path.h"
#include "protocols/hls/playlist.h"
#include "sluice/hub.h"
#include "sluice/list.h"
#include "sluice/log.h"

/* Writes waiting behind a slow disk, at most: past it segments are dropped (and
 * logged) rather than held in memory. */
#define MAX_QUEUED 64

typedef struct job {
    sl_list_t link;
    char path[PATH_MAX + 64]; /* the directory, a '/' and a file name */
    bool atomic; /* write path.tmp, then rename: readers never see half a playlist */
    sl_buf_t *data;
} job_t;

struct sl_hls_recorder {
    uv_loop_t *loop;
    char dir[PATH_MAX];
    char key[SL_STREAM_KEY_MAX];
    int target_s;
    sl_hls_list_t list;
    sl_list_t jobs;
    size_t queued;
    job_t *cur;
    uv_fs_t req;
    uv_file fd;
    size_t written;
    char tmp[PATH_MAX + 72];
    bool finished, error_logged;
    void (*done)(void *arg, const char *key, const char *dir);
    void *done_arg;
};

static void next_job(sl_hls_recorder_t *r);

static void fail(sl_hls_recorder_t *r, const char *what, int err)
{
    /* One line per recording: a full disk would otherwise log every segment. */
    if (!r->error_logged)
        SL_ERROR("record %s: %s %s: %s (the live stream goes on; further errors not logged)", r->key,
                 what, r->cur != NULL ? r->cur->path : r->dir, uv_strerror(err));
    r->error_logged = true;
}

static void job_done(sl_hls_recorder_t *r)
{
    job_t *j = r->cur;
    r->cur = NULL;
    sl_buf_unref(j->data);
    free(j);
    r->queued--;
    next_job(r);
}

static void on_renamed(uv_fs_t *req)
{
    sl_hls_recorder_t *r = req->data;
    if (req->result < 0) fail(r, "cannot rename", (int)req->result);
    uv_fs_req_cleanup(req);
    job_done(r);
}

static void on_closed(uv_fs_t *req)
{
    sl_hls_recorder_t *r = req->data;
    bool ok = req->result == 0 && r->written == r->cur->data->len;
    if (req->result < 0) fail(r, "cannot close", (int)req->result);
    uv_fs_req_cleanup(req);
    if (ok && r->cur->atomic && uv_fs_rename(r->loop, &r->req, r->tmp, r->cur->path, on_renamed) == 0) return;
    job_done(r);
}

static void close_file(sl_hls_recorder_t *r)
{
    if (uv_fs_close(r->loop, &r->req, r->fd, on_closed) != 0) job_done(r);
}

static void write_more(sl_hls_recorder_t *r);

static void on_written(uv_fs_t *req)
{
    sl_hls_recorder_t *r = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    if (n <= 0) {
        fail(r, "cannot write", n < 0 ? (int)n : UV_EIO);
        close_file(r);
        return;
    }
    r->written += (size_t)n;
    write_more(r);
}

static void write_more(sl_hls_recorder_t *r)
{
    sl_buf_t *d = r->cur->data;
    if (r->written == d->len) {
        close_file(r);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)d->data + r->written, (unsigned)(d->len - r->written));
    if (uv_fs_write(r->loop, &r->req, r->fd, &b, 1, (int64_t)r->written, on_written) != 0) close_file(r);
}

static void on_opened(uv_fs_t *req)
{
    sl_hls_recorder_t *r = req->data;
    ssize_t fd = req->result;
    uv_fs_req_cleanup(req);
    if (fd < 0) {
        fail(r, "cannot create", (int)fd);
        job_done(r);
        return;
    }
    r->fd = (uv_file)fd;
    r->written = 0;
    write_more(r);
}

static void free_recorder(sl_hls_recorder_t *r)
{
    SL_INFO("record %s: finished %s (%zu segments)", r->key, r->dir, r->list.len);
    if (r->done != NULL) r->done(r->done_arg, r->key, r->dir);
    sl_hls_list_free(&r->list);
    free(r);
}

static void next_job(sl_hls_recorder_t *r)
{
    if (r->cur != NULL) return;
    if (sl_list_empty(&r->jobs)) {
        if (r->finished) free_recorder(r);
        return;
    }
    r->cur = sl_container_of(r->jobs.next, job_t, link);
    sl_list_remove(&r->cur->link);
    snprintf(r->tmp, sizeof(r->tmp), "%s%s", r->cur->path, r->cur->atomic ? ".tmp" : "");
    r->req.data = r;
    if (uv_fs_open(r->loop, &r->req, r->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, on_opened) != 0) job_done(r);
}

/* Queues data (a new reference) for dir/name. */
static void queue(sl_hls_recorder_t *r, const char *name, sl_buf_t *data, bool atomic)
{
    if (r->queued >= MAX_QUEUED) {
        fail(r, "disk too slow, dropping", UV_ENOBUFS);
        return;
    }
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL) return;
    snprintf(j->path, sizeof(j->path), "%s/%s", r->dir, name);
    j->atomic = atomic;
    j->data = sl_buf_ref(data);
    sl_list_insert_tail(&r->jobs, &j->link);
    r->queued++;
    next_job(r);
}

static void queue_playlist(sl_hls_recorder_t *r)
{
    sl_bytes_t text;
    sl_bytes_init(&text);
    if (sl_hls_playlist_vod(&r->list, r->target_s, r->finished, &text) == SL_OK) {
        sl_buf_t *b = sl_bytes_to_buf(&text);
        if (b != NULL) queue(r, SL_HLS_PLAYLIST_NAME, b, true);
        sl_buf_unref(b);
    }
    sl_bytes_free(&text);
}

/* mkdir -p for the part below root; the last component must be new, so a restart
 * within the same second gets "-1", "-2"... */
static int make_dirs(char *dir, size_t size, size_t root_len)
{
    for (char *p = dir + root_len + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int rc = mkdir(dir, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -errno;
    }
    size_t len = strlen(dir);
    for (int i = 1; i <= 9; i++) {
        if (mkdir(dir, 0755) == 0) return 0;
        if (errno != EEXIST || len + 3 >= size) return -errno;
        snprintf(dir + len, size - len, "-%d", i);
    }
    return -EEXIST;
}

sl_hls_recorder_t *sl_hls_recorder_start(uv_loop_t *loop, const char *root, const char *key, int target_s)
{
    sl_hls_recorder_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t now_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    int rc = sl_hls_record_dir(root, key, now_ms, r->dir, sizeof(r->dir));
    if (rc != SL_OK) {
        SL_WARN("record %s: not recorded: the name cannot be a directory under %s", key, root);
        free(r);
        return NULL;
    }
    /* The root itself is configuration: make it if it is missing. */
    if (mkdir(root, 0755) != 0 && errno != EEXIST) rc = -errno;
    size_t root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root_len--;
    if (rc == 0) rc = make_dirs(r->dir, sizeof(r->dir), root_len);
    if (rc != 0) {
        SL_ERROR("record %s: cannot make %s: %s (the live stream goes on)", key, r->dir, strerror(-rc));
        free(r);
        return NULL;
    }
    r->loop = loop;
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->target_s = target_s;
    sl_hls_list_init(&r->list);
    sl_list_init(&r->jobs);
    SL_INFO("record %s: recording to %s", key, r->dir);
    return r;
}

void sl_hls_recorder_add(sl_hls_recorder_t *r, const sl_hls_segment_t *seg)
{
    sl_hls_entry_t e = {.seq = seg->seq, .duration_ts = seg->duration_ts, .pdt_ms = seg->pdt_ms,
                        .discontinuity = seg->discontinuity};
    char name[32];
    if (sl_hls_list_add(&r->list, &e) != SL_OK || sl_hls_record_segment_name(seg->seq, name, sizeof(name)) != SL_OK) {
        fail(r, "cannot list segment in", UV_ENOMEM);
        return;
    }
    queue(r, name, seg->data, false);
    queue_playlist(r);
}

void sl_hls_recorder_finish(sl_hls_recorder_t *r, void (*done)(void *arg, const char *key, const char *dir), void *arg)
{
    r->finished = true;
    r->done = done;
    r->done_arg = arg;
    if (r->list.len > 0) queue_playlist(r);
    next_job(r);
}

const char *sl_hls_recorder_dir(const sl_hls_recorder_t *r) { return r->dir; }
