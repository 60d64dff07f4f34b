/* The hls player of sluice-bench: a placeholder until the real one lands. */
#include "bench.h"

#include "sluice/common.h"

static int hls_start(bench_player_t *p)
{
    (void)p;
    return SL_ERR_UNSUPPORTED;
}

static void hls_stop(bench_player_t *p)
{
    bench_player_closed(p);
}

const bench_proto_t bench_proto_hls = {.name = "hls", .start = hls_start, .stop = hls_stop};
