/* HLS recording: a stream's segments and its playlist written to disk with
 * libuv's asynchronous file operations, so a slow or full disk never stalls the
 * event loop or the live stream. */
#ifndef SLUICE_PROTOCOLS_HLS_RECORD_H
#define SLUICE_PROTOCOLS_HLS_RECORD_H

#include <uv.h>

#include "protocols/hls/segmenter.h"

typedef struct sl_hls_recorder sl_hls_recorder_t;

/* Creates the directory root/{app}/{name}/{YYYYMMDD-HHMMSS} for the stream `key`
 * (validated: it can never escape root) and returns a recorder writing there, or
 * NULL with a log line when the directory cannot be made. target_s is the
 * configured segment duration. */
sl_hls_recorder_t *sl_hls_recorder_start(uv_loop_t *loop, const char *root, const char *key,
                                         int target_s);
/* Queues a finished segment (a new reference is taken on seg->data) and the
 * playlist that lists it. Write errors are logged once per recording and skipped. */
void sl_hls_recorder_add(sl_hls_recorder_t *r, const sl_hls_segment_t *seg);
/* Queues the final playlist (with #EXT-X-ENDLIST); once every queued write is
 * done, done(arg, key, dir) runs (when not NULL: the on_record hook) and the
 * recorder frees itself. r must not be used afterwards. */
void sl_hls_recorder_finish(sl_hls_recorder_t *r, void (*done)(void *arg, const char *key, const char *dir), void *arg);
/* The directory being written, for logs. */
const char *sl_hls_recorder_dir(const sl_hls_recorder_t *r);

#endif
