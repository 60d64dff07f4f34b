/* Shared basics: error codes, helpers every module uses. */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_VERSION "0.1.0"

/* Every fallible function returns 0 (SL_OK) or one of these negative codes. */
enum sl_err {
    SL_OK = 0,
    SL_ERR_NOMEM = -1,       /* allocation failed */
    SL_ERR_PROTO = -2,       /* malformed input from a peer */
    SL_ERR_AGAIN = -3,       /* incomplete input: feed more bytes */
    SL_ERR_TOO_BIG = -4,     /* a configured or protocol limit was exceeded */
    SL_ERR_UNSUPPORTED = -5, /* valid but not handled (codec, command, feature) */
    SL_ERR_NOT_FOUND = -6,   /* no such stream, route or key */
    SL_ERR_BUSY = -7,        /* resource taken (stream already has a publisher) */
    SL_ERR_AUTH = -8,        /* refused by authentication */
    SL_ERR_CONFIG = -9,      /* invalid configuration */
    SL_ERR_IO = -10,         /* socket or file error */
    SL_ERR_CLOSED = -11,     /* the peer or the object is gone */
    SL_ERR_TIMEOUT = -12,    /* no answer in time */
};

/* A short static description of an sl_err code. */
const char *sl_strerror(int err);

/* A process-wide increasing id for clients (connections), used in log lines and
 * the API. Never 0. */
uint64_t sl_next_client_id(void);

#define SL_MUST_CHECK __attribute__((warn_unused_result))
#define SL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define sl_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
