/* Feeds arbitrary bytes to a server and to a client handshake. The first input
 * byte is the size of the pieces the rest is fed in (0: all at once), so splits
 * at every boundary are explored. Checks what the API promises: consumed never
 * exceeds what was given, a complete handshake used exactly C0+C1+C2 (or S0+S1+S2)
 * and the replies have their exact sizes. */
#include <stdlib.h>

#include "protocols/rtmp/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HS SL_RTMP_HANDSHAKE_SIZE

static int feed_all(sl_rtmp_handshake_t *hs, const uint8_t *data, size_t size, size_t step,
                    size_t *total, sl_bytes_t *out)
{
    int rc = SL_ERR_AGAIN;
    size_t used = 0;
    if (step == 0) step = size;
    while (used < size && rc == SL_ERR_AGAIN) {
        size_t n = SL_MIN(step, size - used), c = n + 1;
        rc = sl_rtmp_handshake_feed(hs, data + used, n, &c, out);
        if (c > n) abort();
        if (rc == SL_ERR_AGAIN && c != n) abort();
        used += c;
    }
    *total = used;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0];
    data++;
    size--;

    sl_rtmp_handshake_t hs;
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t used;
    sl_rtmp_handshake_init_server(&hs);
    int rc = feed_all(&hs, data, size, step, &used, &out);
    if (rc == SL_OK && used != 1 + 2 * HS) abort();
    if (out.len != 0 && out.len != 1 + 2 * HS) abort();
    if (rc == SL_OK && out.len == 0) abort();

    sl_bytes_free(&out);
    if (sl_rtmp_handshake_init_client(&hs, &out) != SL_OK) abort();
    out.len = 0;
    rc = feed_all(&hs, data, size, step, &used, &out);
    if (rc == SL_OK && (used != 1 + 2 * HS || out.len != HS)) abort();
    if (rc != SL_OK && out.len != 0) abort();
    sl_bytes_free(&out);
    return 0;
}
