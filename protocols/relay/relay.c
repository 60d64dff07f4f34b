/* The relay module: follows the hub for pushes, runs pulls, ticks every second. */
#include <stdlib.h>

#include "protocols/relay/module.h"

uint32_t sl__relay_backoff(const struct sl_relay *r, uint32_t current)
{
    return current == 0 ? SL_RELAY_RETRY_FIRST_MS : SL_MIN(current * 2, r->srv->cfg->relay.retry_max_ms);
}

static void on_publish(sl_hub_observer_t *o, sl_stream_t *s)
{
    sl__relay_push_on_publish(sl_container_of(o, struct sl_relay, observer), s);
}

static void on_unpublish(sl_hub_observer_t *o, sl_stream_t *s)
{
    sl__relay_push_on_unpublish(sl_container_of(o, struct sl_relay, observer), s);
}

static void on_tick(uv_timer_t *t) { sl__relay_pull_tick(t->data); }

int sl_relay_start(sl_server_t *srv)
{
    struct sl_relay *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    r->srv = srv;
    sl_list_init(&r->pushes);
    sl_list_init(&r->pulls);
    r->observer.on_publish = on_publish;
    r->observer.on_unpublish = on_unpublish;
    sl_hub_observe(srv->hub, &r->observer);
    uv_timer_init(srv->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, 1000, 1000);
    srv->relay = r;
    int rc = sl__relay_pull_start(r);
    if (rc != SL_OK) sl_relay_stop(srv);
    return rc;
}

void sl_relay_foreach(sl_server_t *srv, void (*fn)(const sl_relay_info_t *info, void *arg), void *arg)
{
    if (srv->relay == NULL) return;
    sl__relay_push_foreach(srv->relay, fn, arg);
    sl__relay_pull_foreach(srv->relay, fn, arg);
}

static void free_relay(uv_handle_t *h) { free(h->data); }

void sl_relay_stop(sl_server_t *srv)
{
    struct sl_relay *r = srv->relay;
    if (r == NULL) return;
    srv->relay = NULL;
    sl__relay_push_stop_all(r);
    sl__relay_pull_stop_all(r);
    sl_hub_unobserve(&r->observer);
    uv_close((uv_handle_t *)&r->tick, free_relay);
}
