/* The rtsp player of sluice-bench: a placeholder until the real one lands. */
#include "bench.h"

#include "sluice/common.h"

static int rtsp_start(bench_player_t *p)
{
    (void)p;
    return SL_ERR_UNSUPPORTED;
}

static void rtsp_stop(bench_player_t *p)
{
    bench_player_closed(p);
}

const bench_proto_t bench_proto_rtsp = {.name = "rtsp", .start = rtsp_start, .stop = rtsp_stop};
