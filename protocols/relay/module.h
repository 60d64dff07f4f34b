/* Internal to protocols/relay: the module that push.c and pull.c share. */
#ifndef SLUICE_RELAY_MODULE_H
#define SLUICE_RELAY_MODULE_H

#include "protocols/relay/relay.h"

/* The first wait between two attempts; it doubles up to relay.retry_max_ms. */
#define SL_RELAY_RETRY_FIRST_MS 1000

struct sl_relay {
    sl_server_t *srv;
    sl_hub_observer_t observer;
    sl_list_t pushes;
    sl_list_t pulls;
    uv_timer_t tick; /* every second: idle pulls, lost origins, keep-alives */
};

/* The next backoff after `current` (0 before the first). */
uint32_t sl__relay_backoff(const struct sl_relay *r, uint32_t current);

/* push.c */
void sl__relay_push_on_publish(struct sl_relay *r, sl_stream_t *s);
void sl__relay_push_on_unpublish(struct sl_relay *r, sl_stream_t *s);
void sl__relay_push_stop_all(struct sl_relay *r);
void sl__relay_push_foreach(struct sl_relay *r, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg);

/* pull.c */
int sl__relay_pull_start(struct sl_relay *r) SL_MUST_CHECK;
void sl__relay_pull_tick(struct sl_relay *r);
void sl__relay_pull_stop_all(struct sl_relay *r);
void sl__relay_pull_foreach(struct sl_relay *r, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg);

#endif
