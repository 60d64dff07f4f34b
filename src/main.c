/* sluice: a live streaming media server. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/config.h"
#include "sluice/log.h"
#include "sluice/server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluice [-c FILE] [--check-config]\n"
            "  -c, --config FILE   configuration file (default config/sluice.yaml)\n"
            "      --check-config  validate the configuration and exit (0 valid, 1 not)\n"
            "  -v, --version       print the version and exit\n"
            "  -h, --help          this help\n");
}

static int load_config(sl_config_t *cfg, const char *path)
{
    sl_config_errors_t errs;
    sl_config_defaults(cfg);
    if (sl_config_load(cfg, path, &errs) == SL_OK) return SL_OK;
    for (int i = 0; i < errs.count; i++) fprintf(stderr, "%s\n", errs.msg[i]);
    return SL_ERR_CONFIG;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = "config/sluice.yaml";
    int check_only = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'k': check_only = 1; break;
        case 'v': printf("sluice %s\n", SLUICE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    static sl_config_t cfg;
    if (load_config(&cfg, path) != SL_OK) return 1;
    if (check_only) {
        printf("%s: ok\n", path);
        return 0;
    }
    sl_log_set_level(cfg.log_level);
    /* A viewer that hangs up mid-write must be an EPIPE error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    SL_INFO("sluice %s starting with %s", SLUICE_VERSION, path);

    uv_loop_t loop;
    uv_loop_init(&loop);
    static sl_server_t srv;
    int rc = sl_server_init(&srv, &loop, &cfg);
    uv_run(&loop, UV_RUN_DEFAULT);
    sl_server_free(&srv);
    if (uv_loop_close(&loop) != 0) SL_WARN("event loop closed with handles still open");
    if (rc != SL_OK) {
        SL_ERROR("start-up failed: %s", sl_strerror(rc));
        return 1;
    }
    SL_INFO("stopped");
    return 0;
}
