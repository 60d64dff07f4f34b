/* Feeds hostile datagrams to a fresh DTLS server endpoint, as the shared UDP
 * socket would. The input is a list of datagrams, each preceded by its length as
 * 2 big-endian bytes (the format sl_dtls_take_output produces, so a captured
 * client flight is a valid seed). */
#include <stdint.h>
#include <stdlib.h>

#include "protocols/rtp/rtp.h"
#include "protocols/webrtc/dtls.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Certificate generation is slow: one context for the whole run, as in sluice. */
static sl_dtls_ctx_t *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (sl_dtls_ctx_new(NULL, NULL, &ctx) != SL_OK) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_dtls_t *d = sl_dtls_new(ctx, true);
    if (!d) return 0;
    sl_bytes_t out, app;
    sl_bytes_init(&out);
    sl_bytes_init(&app);
    size_t pos = 0, len;
    const uint8_t *dg;
    while ((dg = sl_rtp_next_packet(data, size, &pos, &len))) {
        int err = sl_dtls_feed(d, dg, len, &app);
        if (sl_dtls_take_output(d, &out) < 0) break;
        (void)sl_dtls_timeout_ms(d);
        (void)sl_dtls_handle_timeout(d);
        if (err == SL_ERR_CLOSED) break;
    }
    sl_dtls_close(d);
    (void)sl_dtls_take_output(d, &out);
    sl_bytes_free(&out);
    sl_bytes_free(&app);
    sl_dtls_free(d);
    return 0;
}
