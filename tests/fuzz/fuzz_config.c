/* Fuzzes the configuration loader: any text must give SL_OK with a sane config, or
 * errors that are all NUL-terminated; never a crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/config.h"

static void check_listen(const sl_listen_list_t *l)
{
    if (l->count < 1 || l->count > SL_CONFIG_MAX_LISTEN) abort();
    for (int i = 0; i < l->count; i++)
        if (!memchr(l->addr[i].host, '\0', sizeof(l->addr[i].host)) || l->addr[i].port == 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_config_t cfg;
    sl_config_errors_t errs;
    /* Poison the messages, so one left unterminated would be caught. */
    memset(&errs, 'x', sizeof(errs));
    sl_config_defaults(&cfg);
    int rc = sl_config_parse(&cfg, "fuzz.yaml", (const char *)data, size, &errs);
    if (errs.count < 0 || errs.count > SL_CONFIG_MAX_ERRORS) abort();
    for (int i = 0; i < errs.count; i++)
        if (!memchr(errs.msg[i], '\0', sizeof(errs.msg[i])) || strlen(errs.msg[i]) == 0) abort();
    if (rc == SL_OK) {
        if (errs.count != 0) abort();
        check_listen(&cfg.rtmp.listen);
        check_listen(&cfg.http.listen);
        if (!memchr(cfg.http.cors_origin, '\0', sizeof(cfg.http.cors_origin))) abort();
        if (cfg.limits.viewer_queue_soft_ms >= cfg.limits.viewer_queue_hard_ms) abort();
        if (cfg.hub.gop_cache < 0 || cfg.hub.gop_cache > 8) abort();
    } else if (rc != SL_ERR_CONFIG && rc != SL_ERR_NOMEM) {
        abort();
    } else if (errs.count == 0) {
        abort();
    }
    return 0;
}
