/* Fuzzes the MPEG-TS demuxer. The first byte chooses how the rest is split across
 * feeds (low 7 bits: piece size, 0 for all at once) and, with its top bit, a small
 * PES limit. The input is demuxed twice, whole and split, and both runs must deliver
 * the same PES; every input byte must end up in a packet or counted as skipped. */
#include <stdlib.h>
#include <string.h>

#include "protocols/hls/ts_demux.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define TS_MAX ((INT64_C(1) << 33) - 1)

typedef struct run {
    size_t max_pes;
    uint64_t hash; /* FNV-1a over everything delivered */
    uint64_t count;
} run_t;

static void mix(run_t *r, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) r->hash = (r->hash ^ p[i]) * 0x100000001b3ULL;
}

static int on_pes(void *arg, const sl_ts_pes_t *pes)
{
    run_t *r = arg;
    CHECK(pes->len <= r->max_pes);
    CHECK(pes->pts >= -1 && pes->pts <= TS_MAX);
    CHECK(pes->dts >= -1 && pes->dts <= TS_MAX);
    CHECK(pes->pcr >= -1 && pes->pcr <= TS_MAX);
    CHECK(pes->dts == -1 || pes->pts != -1);
    int64_t v[] = {pes->pid, pes->stream_type, pes->stream_id, pes->random_access, pes->pts, pes->dts, pes->pcr,
                   (int64_t)pes->len};
    mix(r, v, sizeof(v));
    if (pes->len > 0) mix(r, pes->data, pes->len);
    r->count++;
    return 0;
}

static run_t demux(const uint8_t *data, size_t len, size_t step, size_t max_pes)
{
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, max_pes);
    run_t r = {.max_pes = max_pes, .hash = 0xcbf29ce484222325ULL, .count = 0};
    size_t off = 0;
    while (off < len) {
        size_t n = step == 0 || step > len - off ? len - off : step;
        CHECK(sl_ts_demuxer_feed(&d, data + off, n, on_pes, &r) == SL_OK);
        off += n;
    }
    CHECK(sl_ts_demuxer_finish(&d, on_pes, &r) == SL_OK);
    CHECK(d.stats.packets * SL_TS_PACKET_LEN + d.stats.skipped_bytes == len);
    CHECK(d.es_count >= 0 && d.es_count <= SL_TS_DEMUX_MAX_ES);
    /* Nothing is pending after finish: a second one delivers nothing. */
    uint64_t count = r.count;
    CHECK(sl_ts_demuxer_finish(&d, on_pes, &r) == SL_OK);
    CHECK(r.count == count);
    sl_ts_demuxer_free(&d);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] & 0x7F;
    size_t max_pes = data[0] & 0x80 ? 4096 : SL_TS_DEMUX_MAX_PES;
    run_t whole = demux(data + 1, size - 1, 0, max_pes);
    run_t split = demux(data + 1, size - 1, step, max_pes);
    CHECK(whole.count == split.count && whole.hash == split.hash);
    return 0;
}
