/* Fuzzes the RTMP chunk reader, and the writer against it.
 *
 * Input: two bytes choosing where the rest is split into three feeds (and the chunk
 * size of the re-write), then the chunk stream. Every message the reader delivers is
 * written again with sl_rtmp_chunk_write and read back by a fresh reader, which must
 * deliver it unchanged.
 */
#include <stdlib.h>

#include "protocols/rtmp/chunk.h"
#include "protocols/rtmp/message.h"

#define MAX_MESSAGE (1u << 20)

static const uint32_t rewrite_chunk_sizes[] = {1, 128, 4096, SL_RTMP_MAX_CHUNK_SIZE};

typedef struct fuzz_ctx {
    uint32_t chunk_size;       /* for the re-write */
    const sl_rtmp_msg_t *want; /* the message the fresh reader must give back */
    int seen;                  /* messages the fresh reader delivered */
} fuzz_ctx_t;

static int check_reread(void *arg, const sl_rtmp_msg_t *msg)
{
    fuzz_ctx_t *ctx = arg;
    /* The first message is our Set Chunk Size, unless the default size is used. */
    if (ctx->seen++ == 0 && ctx->chunk_size != SL_RTMP_DEFAULT_CHUNK_SIZE) return 0;
    const sl_rtmp_msg_t *w = ctx->want;
    if (msg->csid != w->csid || msg->type != w->type || msg->stream_id != w->stream_id ||
        msg->timestamp != w->timestamp || msg->body->len != w->body->len ||
        memcmp(msg->body->data, w->body->data, w->body->len) != 0)
        abort();
    return 0;
}

static int rewrite(void *arg, const sl_rtmp_msg_t *msg)
{
    fuzz_ctx_t *ctx = arg;
    sl_bytes_t out;
    sl_bytes_init(&out);
    if (ctx->chunk_size != SL_RTMP_DEFAULT_CHUNK_SIZE &&
        sl_rtmp_write_set_chunk_size(&out, ctx->chunk_size) != SL_OK)
        abort();
    if (sl_rtmp_chunk_write(&out, msg->csid, msg->type, msg->stream_id, msg->timestamp,
                            msg->body->data, msg->body->len, ctx->chunk_size) != SL_OK)
        abort();

    sl_rtmp_reader_t again;
    sl_rtmp_reader_init(&again, MAX_MESSAGE);
    fuzz_ctx_t check = {.chunk_size = ctx->chunk_size, .want = msg};
    int expected = ctx->chunk_size != SL_RTMP_DEFAULT_CHUNK_SIZE ? 2 : 1;
    if (sl_rtmp_reader_feed(&again, out.data, out.len, check_reread, &check) != SL_OK ||
        check.seen != expected || sl_rtmp_reader_bytes(&again) != out.len)
        abort();
    sl_rtmp_reader_free(&again);
    sl_bytes_free(&out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    size_t a = data[0] % (n + 1);
    size_t b = a + data[1] % (n - a + 1);
    fuzz_ctx_t ctx = {.chunk_size = rewrite_chunk_sizes[(data[0] ^ data[1]) & 3]};

    sl_rtmp_reader_t r;
    sl_rtmp_reader_init(&r, MAX_MESSAGE);
    int rc = sl_rtmp_reader_feed(&r, p, a, rewrite, &ctx);
    if (rc == SL_OK) rc = sl_rtmp_reader_feed(&r, p + a, b - a, rewrite, &ctx);
    if (rc == SL_OK) rc = sl_rtmp_reader_feed(&r, p + b, n - b, rewrite, &ctx);
    /* Without an error every byte is consumed. */
    if (rc == SL_OK && sl_rtmp_reader_bytes(&r) != n) abort();
    sl_rtmp_reader_free(&r);
    return 0;
}
