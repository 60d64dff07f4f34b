/* Fuzzes the relay's RTMP client with hostile server bytes, in both modes, and the
 * relay URL parsers with the URL it is given.
 *
 * Input: a flags byte (bit 0: play, else publish; bit 1: the fuzzer answers the
 * handshake itself with a simple S0S1S2, so the rest is all chunk stream; bits 2-3:
 * our chunk size), a byte choosing where the server bytes are split into three
 * feeds, a URL line ending in '\n' (used when it parses with a stream name, else
 * "rtmp://origin/live/key"), then the server's bytes.
 *
 * Checked: every byte the client writes after C0C1 and C2 is a well-formed chunk
 * stream that the server's reader takes whole; an error is final; frames handed to
 * on_frame are well-formed; the URL parsers' results are consistent.
 */
#include <stdlib.h>

#include "protocols/relay/rtmp_client.h"
#include "protocols/relay/url.h"
#include "protocols/rtmp/message.h"

#define URL_LINE_MAX 1100

static const uint32_t chunk_sizes[] = {128, 4096, 65536, 1000};

typedef struct fuzz_ctx {
    sl_rtmp_client_t *c;
    bool play;
    int ready, ends, errors;
} fuzz_ctx_t;

static void on_ready(void *arg)
{
    fuzz_ctx_t *ctx = arg;
    if (++ctx->ready > 1) abort();
}

static int on_frame(void *arg, sl_frame_t *f)
{
    fuzz_ctx_t *ctx = arg;
    if (!ctx->play || f->len == 0 || f->data < f->buf->data || f->data + f->len > f->buf->data + f->buf->len)
        abort();
    if ((f->media == SL_MEDIA_DATA) != (f->codec == SL_CODEC_AMF0)) abort();
    return SL_OK;
}

static void on_error(void *arg, const char *code, const char *description)
{
    fuzz_ctx_t *ctx = arg;
    if (code == NULL || description == NULL || ++ctx->errors > 1 || ctx->ends > 0) abort();
}

static void on_end(void *arg)
{
    fuzz_ctx_t *ctx = arg;
    if (!ctx->play || ++ctx->ends > 1 || ctx->errors > 0) abort();
}

static const sl_rtmp_client_ops_t ops = {on_ready, on_frame, on_error, on_end};

static int count_msg(void *arg, const sl_rtmp_msg_t *m)
{
    (void)m;
    (*(unsigned *)arg)++;
    return SL_OK;
}

/* What the client wrote after its handshake must be whole, valid messages. */
static void check_output(const sl_bytes_t *out, bool handshake_done)
{
    size_t hs = 1 + 2 * SL_RTMP_HANDSHAKE_SIZE;
    if (!handshake_done) {
        if (out->len != 1 + SL_RTMP_HANDSHAKE_SIZE) abort();
        return;
    }
    if (out->len < hs) abort();
    sl_rtmp_reader_t r;
    sl_rtmp_reader_init(&r, SL_RTMP_MAX_MESSAGE_LEN);
    unsigned n = 0;
    if (sl_rtmp_reader_feed(&r, out->data + hs, out->len - hs, count_msg, &n) != SL_OK) abort();
    if (sl_rtmp_reader_bytes(&r) != out->len - hs || r.cur != NULL || r.hdr_len != 0) abort();
    /* At least Set Chunk Size and connect. */
    if (n < 2) abort();
    sl_rtmp_reader_free(&r);
}

/* The request URL of an RTSP URL never carries the credentials. */
static bool rtsp_ok(const sl_rtsp_url_t *u)
{
    if (u->host[0] == '\0' || u->path[0] != '/' || u->port == 0) return false;
    if (strncmp(u->request_url, "rtsp://", 7) != 0) return false;
    const char *authority = u->request_url + 7;
    const char *slash = strchr(authority, '/');
    const char *at = strchr(authority, '@');
    return slash != NULL && (at == NULL || at > slash);
}

static void check_urls(const char *line, sl_rtmp_url_t *url)
{
    sl_rtsp_url_t rtsp;
    if (sl_rtsp_url_parse(line, &rtsp) == SL_OK && !rtsp_ok(&rtsp)) abort();
    if (sl_rtmp_url_parse(line, url) == SL_OK) {
        if (url->host[0] == '\0' || url->app[0] == '\0' || url->port == 0 || strncmp(url->tc_url, "rtmp://", 7) != 0)
            abort();
        if (url->name[0] != '\0') return;
    }
    if (sl_rtmp_url_parse("rtmp://origin/live/key", url) != SL_OK) abort();
}

/* Publish, once ready: one frame of each kind, as the relay would send them. */
static void send_frames(sl_rtmp_client_t *c, sl_bytes_t *out)
{
    static const uint8_t avcc[] = {1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xee};
    static const uint8_t nalu[] = {0, 0, 0, 2, 0x65, 0x88};
    static const uint8_t meta[] = "\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09";
    sl_frame_t *frames[] = {
        sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, avcc, sizeof(avcc)),
        sl_frame_copy_of(SL_MEDIA_DATA, SL_CODEC_AMF0, 0, 0, 0, meta, sizeof(meta) - 1),
        sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 9000, 12600, nalu, sizeof(nalu)),
        sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, 9000, 9000, nalu, sizeof(nalu)),
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(frames); i++) {
        if (frames[i] == NULL) abort();
        int rc = sl_rtmp_client_send_frame(c, frames[i], out);
        if (rc != SL_OK && rc != SL_ERR_UNSUPPORTED && rc != c->err) abort();
        sl_frame_unref(frames[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t flags = data[0], split = data[1];
    data += 2;
    size -= 2;
    const uint8_t *nl = memchr(data, '\n', SL_MIN(size, (size_t)URL_LINE_MAX));
    char line[URL_LINE_MAX + 1] = "";
    if (nl != NULL) {
        memcpy(line, data, (size_t)(nl - data));
        line[nl - data] = '\0';
        size -= (size_t)(nl + 1 - data);
        data = nl + 1;
    }
    sl_rtmp_url_t url;
    check_urls(line, &url);

    fuzz_ctx_t ctx = {.play = flags & 1};
    sl_rtmp_client_t c;
    ctx.c = &c;
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_rtmp_client_cfg_t cfg = {
        .mode = ctx.play ? SL_RTMP_CLIENT_PLAY : SL_RTMP_CLIENT_PUBLISH,
        .url = &url,
        .chunk_size = chunk_sizes[(flags >> 2) & 3],
        .max_message_bytes = 1 << 20,
    };
    if (sl_rtmp_client_init(&c, &cfg, &ops, &ctx, &out) != SL_OK) abort();

    int rc = SL_OK;
    bool handshake_done = false;
    if (flags & 2) {
        /* S0, then S1 and S2 of zeros: the simple handshake. */
        static uint8_t hs[1 + 2 * SL_RTMP_HANDSHAKE_SIZE] = {SL_RTMP_HANDSHAKE_VERSION};
        rc = sl_rtmp_client_feed(&c, hs, sizeof(hs), &out);
        if (rc != SL_OK) abort();
        handshake_done = true;
    }
    size_t a = split % (size + 1);
    size_t b = a + (size_t)(split >> 3) * 37 % (size - a + 1);
    const size_t cuts[4] = {0, a, b, size};
    for (int i = 0; i < 3 && rc == SL_OK; i++) rc = sl_rtmp_client_feed(&c, data + cuts[i], cuts[i + 1] - cuts[i], &out);
    if (!(flags & 2)) handshake_done = out.len > 1 + SL_RTMP_HANDSHAKE_SIZE;
    if (rc != SL_OK && sl_rtmp_client_feed(&c, data, size, &out) != rc) abort();
    if (!ctx.play && ctx.ready && rc == SL_OK) send_frames(&c, &out);
    check_output(&out, handshake_done);

    sl_rtmp_client_free(&c);
    sl_bytes_free(&out);
    return 0;
}
