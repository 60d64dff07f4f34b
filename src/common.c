#include "sluice/common.h"

const char *sl_strerror(int err)
{
    switch (err) {
    case SL_OK: return "ok";
    case SL_ERR_NOMEM: return "out of memory";
    case SL_ERR_PROTO: return "protocol error";
    case SL_ERR_AGAIN: return "incomplete input";
    case SL_ERR_TOO_BIG: return "limit exceeded";
    case SL_ERR_UNSUPPORTED: return "unsupported";
    case SL_ERR_NOT_FOUND: return "not found";
    case SL_ERR_BUSY: return "busy";
    case SL_ERR_AUTH: return "not authorized";
    case SL_ERR_CONFIG: return "configuration error";
    case SL_ERR_IO: return "i/o error";
    case SL_ERR_CLOSED: return "closed";
    case SL_ERR_TIMEOUT: return "timed out";
    default: return "unknown error";
    }
}

uint64_t sl_next_client_id(void)
{
    static uint64_t next;
    return ++next;
}
