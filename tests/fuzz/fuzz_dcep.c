/* Fuzzes DCEP parsing (RFC 8832): hostile bytes as DATA_CHANNEL_OPEN and ACK. An
 * OPEN that parses (with a known channel type or not) must be written back byte for
 * byte, its label and protocol must lie inside the input, and an ACK is never an
 * OPEN. */
#include <stdlib.h>

#include "protocols/webrtc/dcep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return n == 0 ? p == NULL : p && p >= data && p + n <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_dcep_open_t o;
    int rc = sl_dcep_parse_open(data, size, &o);
    if (sl_dcep_is_ack(data, size) && rc != SL_ERR_PROTO) abort();
    if (rc == SL_ERR_PROTO) return 0;
    if (rc != SL_OK && rc != SL_ERR_UNSUPPORTED) abort();
    if (!inside(o.label, o.label_len, data, size) || !inside(o.protocol, o.protocol_len, data, size)) abort();
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (sl_dcep_write_open(&o, &out) == SL_OK && (out.len != size || memcmp(out.data, data, size) != 0)) abort();
    sl_bytes_free(&out);
    return 0;
}
