/* Fuzzes the relay's RTSP client with hostile server bytes, over TCP and UDP.
 *
 * Input: a flags byte (bit 0: UDP, else TCP; bit 1: the URL carries credentials;
 * bits 2-7: where the server bytes are cut into two feeds), then the server's
 * bytes, fed after init. Once the bytes are in, a keep-alive, an RTCP packet and a
 * TEARDOWN are asked for, as the glue would.
 *
 * Checked: everything the client writes is whole text messages whose lines hold no
 * control byte (nothing hostile can end a line or a header early); an error is final and
 * on_error comes once, only with it; callbacks name tracks that exist; track URLs
 * are rtsp:// URLs of printable bytes.
 */
#include <stdlib.h>
#include <strings.h>

#include "protocols/relay/rtsp_client.h"

typedef struct fuzz_ctx {
    sl_rtsp_client_t *c;
    int ready, errors, ports;
} fuzz_ctx_t;

static void check_track(const sl_rtsp_client_t *c, int track)
{
    if (track < 0 || track >= sl_rtsp_client_track_count(c)) abort();
}

static int udp_port(void *arg, int track, uint16_t *port)
{
    fuzz_ctx_t *ctx = arg;
    check_track(ctx->c, track);
    *port = (uint16_t)(40000 + 2 * ctx->ports++);
    return SL_OK;
}

static void on_ready(void *arg)
{
    fuzz_ctx_t *ctx = arg;
    if (++ctx->ready > 1 || ctx->errors > 0) abort();
}

static int on_rtp(void *arg, int track, const uint8_t *data, size_t len)
{
    fuzz_ctx_t *ctx = arg;
    check_track(ctx->c, track);
    if (data == NULL || len > UINT16_MAX || !ctx->c->tracks[track].setup) abort();
    return SL_OK;
}

static void on_rtcp(void *arg, int track, const uint8_t *data, size_t len)
{
    fuzz_ctx_t *ctx = arg;
    check_track(ctx->c, track);
    if (data == NULL || len > UINT16_MAX) abort();
}

static void on_error(void *arg, int status, const char *reason)
{
    fuzz_ctx_t *ctx = arg;
    if (reason == NULL || strlen(reason) >= SL_RTSP_CLIENT_REASON_MAX || ++ctx->errors > 1) abort();
    if (status != 0 && (status < 100 || status > 999)) abort();
}

static const sl_rtsp_client_ops_t ops = {udp_port, on_ready, on_rtp, on_rtcp, on_error};

static bool printable(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s <= 0x20 || *s >= 0x7f) return false;
    return true;
}

/* Whole messages: lines ending in CRLF, each message ending in an empty line, and
 * no control byte but a tab in a line. Tabs and bytes over 0x7f may be echoed from
 * the server's challenge (a nonce, a realm) as it sent them. */
static void check_output(const sl_bytes_t *out)
{
    bool line_start = true, empty_line = false;
    for (size_t i = 0; i < out->len; i++) {
        uint8_t ch = out->data[i];
        if (ch == '\r') {
            if (i + 1 >= out->len || out->data[i + 1] != '\n') abort();
            empty_line = line_start;
            line_start = true;
            i++;
            continue;
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) abort();
        line_start = false;
        empty_line = false;
    }
    if (out->len > 0 && !empty_line) abort();
}

static void check_tracks(const sl_rtsp_client_t *c)
{
    int n = sl_rtsp_client_track_count(c);
    if (n < 0 || n > SL_RTSP_CLIENT_MAX_TRACKS || (n > 0 && sl_rtsp_client_sdp(c) == NULL)) abort();
    for (int i = 0; i < n; i++) {
        const sl_rtsp_client_track_t *t = sl_rtsp_client_track(c, i);
        if (strncasecmp(t->url, "rtsp://", 7) != 0 || !printable(t->url) || t->clock == 0 ||
            t->codec == SL_CODEC_NONE || t->media == NULL)
            abort();
    }
    if (sl_rtsp_client_track(c, n) != NULL) abort();
}

/* What the glue does once the bytes are in. */
static void glue_calls(sl_rtsp_client_t *c, int rc, sl_bytes_t *out)
{
    static const uint8_t rr[] = {0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
    sl_bytes_t rtcp;
    sl_bytes_init(&rtcp);
    int krc = sl_rtsp_client_keepalive(c, out);
    if (krc != SL_OK && krc != SL_ERR_AGAIN && krc != rc) abort();
    for (int i = 0; i < sl_rtsp_client_track_count(c); i++) {
        int src = sl_rtsp_client_send_rtcp(c, i, rr, sizeof(rr), &rtcp);
        if (src == SL_OK && rtcp.len < 4 + sizeof(rr)) abort();
    }
    sl_bytes_free(&rtcp);
    if (sl_rtsp_client_keepalive_ms(c) < 500) abort();
    if (sl_rtsp_client_teardown(c, out) != SL_OK) abort();
    if (sl_rtsp_client_feed(c, (const uint8_t *)"x", 1, out) == SL_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    sl_rtsp_url_t url;
    const char *text = flags & 2 ? "rtsp://admin:secret@cam.local/Streaming/Channels/101" : "rtsp://cam.local:8554/s";
    if (sl_rtsp_url_parse(text, &url) != SL_OK) abort();

    sl_rtsp_client_t c;
    fuzz_ctx_t ctx = {.c = &c};
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_rtsp_client_cfg_t cfg = {
        .url = &url,
        .transport = flags & 1 ? SL_RTSP_CLIENT_UDP : SL_RTSP_CLIENT_TCP,
        .cnonce = "0a4f113b",
    };
    if (sl_rtsp_client_init(&c, &cfg, &ops, &ctx, &out) != SL_OK) abort();

    size_t cut = size * (flags >> 2) / 63;
    int rc = sl_rtsp_client_feed(&c, data, cut, &out);
    if (rc == SL_OK) rc = sl_rtsp_client_feed(&c, data + cut, size - cut, &out);
    if ((rc != SL_OK) != (c.err != SL_OK) || ctx.errors != (rc != SL_OK)) abort();
    if (rc != SL_OK && sl_rtsp_client_feed(&c, data, size, &out) != rc) abort();
    check_tracks(&c);
    glue_calls(&c, rc, &out);
    check_output(&out);

    sl_rtsp_client_free(&c);
    sl_bytes_free(&out);
    return 0;
}
