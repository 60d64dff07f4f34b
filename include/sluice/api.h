/* The management API and Prometheus metrics, on their own HTTP listener
 * (api.listen). Routes and documents: docs/api.md and docs/api.yaml. */
#ifndef SLUICE_API_H
#define SLUICE_API_H

#include "sluice/server.h"

/* Listens on api.listen when api.enabled. SL_ERR_IO when an address cannot be bound. */
int sl_api_start(sl_server_t *srv) SL_MUST_CHECK;
/* Closes the listener and its connections (server shutdown). */
void sl_api_stop(sl_server_t *srv);

#endif
