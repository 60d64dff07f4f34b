/* RTMP connections: accept, read, the handshake, writes and timeouts. Messages
 * are handled in command.c. */
#include <stdlib.h>

#include "protocols/rtmp/message.h"
#include "protocols/rtmp/rtmp.h"
#include "protocols/rtmp/session.h"
#include "sluice/admit.h"
#include "sluice/log.h"

/* Reads land in one shared buffer: libuv calls read_cb right after alloc_cb, and
 * the handshake and chunk reader copy what they keep. */
static uint8_t read_buf[65536];

static void on_handle_closed(uv_handle_t *h)
{
    rtmp_session_t *s = h->data;
    if (--s->open_handles > 0) return;
    /* Held still only by a player ended for being too slow (see on_player_too_slow). */
    sl_transcode_release(s->transcode);
    sl_iobatch_free(&s->batch);
    sl_bytes_free(&s->out);
    sl_rtmp_reader_free(&s->reader);
    free(s);
}

void sl__rtmp_close(rtmp_session_t *s, const char *reason)
{
    if (s->closing) return;
    s->closing = true;
    SL_INFO("client %llu rtmp close %s%s%s: %s", (unsigned long long)s->id, s->peer, s->key[0] ? " " : "",
            s->key, reason);
    sl_admit_cancel(s->admission);
    s->admission = NULL;
    sl__rtmp_stop_media(s);
    sl_server_cancel(&s->flush);
    sl_server_remove_conn(s->srv, &s->conn);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
}

static void close_from_server(sl_conn_t *c, const char *reason)
{
    sl__rtmp_close(sl_container_of(c, rtmp_session_t, conn), reason);
}

static void flush(rtmp_session_t *s);

/* A write is over: true when the session goes on. */
static bool written(rtmp_session_t *s, int status)
{
    s->writing = false;
    sl_iobatch_release(&s->batch);
    if (s->closing) return false;
    if (status < 0) {
        sl__rtmp_close(s, uv_strerror(status));
        return false;
    }
    if (s->close_after_write && s->out.len == 0) {
        sl__rtmp_close(s, s->state == RTMP_PLAYING ? "stream ended" : "error reply sent");
        return false;
    }
    return true;
}

static void on_write(uv_write_t *req, int status)
{
    rtmp_session_t *s = req->data;
    if (written(s, status)) flush(s);
}

static bool add_replies(rtmp_session_t *s)
{
    if (s->out.len == 0) return true;
    sl_buf_t *replies = sl_bytes_to_buf(&s->out);
    bool ok = replies != NULL && sl_iobatch_add(&s->batch, replies, replies->data, replies->len) == SL_OK;
    sl_buf_unref(replies);
    return ok;
}

/* Sends queued replies and every frame ready for a player in one write. */
static void flush(rtmp_session_t *s)
{
    if (s->closing || s->writing) return;
    sl_iobatch_t *b = &s->batch;
    bool ok = add_replies(s);
    if (ok && s->state == RTMP_PLAYING) {
        uint32_t chunk_size = s->srv->cfg->rtmp.chunk_size;
        ok = sl_iobatch_take_frames(b, &s->sub, sl__rtmp_frame_message, chunk_size) >= 0;
        if (ok && !s->close_after_write && sl_subscriber_eof(&s->sub))
            ok = sl__rtmp_end_of_stream(s) == SL_OK && add_replies(s);
    }
    if (!ok) {
        sl_iobatch_release(b);
        sl__rtmp_close(s, "out of memory");
        return;
    }
    if (b->count == 0) return;
    s->write_req.data = s;
    s->conn.bytes_out += b->bytes;
    s->writing = true;
    int rc = sl_iov_write((uv_stream_t *)&s->tcp, &s->write_req, b->iov, (unsigned)b->count, on_write);
    /* Written at once: nothing came in meanwhile, so no flush follows. */
    if (rc != SL_IOV_QUEUED) (void)written(s, rc);
}

static void run_flush(sl_deferred_t *d) { flush(sl_container_of(d, rtmp_session_t, flush)); }

void sl__rtmp_schedule_flush(rtmp_session_t *s)
{
    if (!s->closing) sl_server_defer(s->srv, &s->flush);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    *buf = uv_buf_init((char *)read_buf, sizeof(read_buf));
}

static int feed_handshake(rtmp_session_t *s, const uint8_t **data, size_t *len)
{
    size_t used = 0;
    int rc = sl_rtmp_handshake_feed(&s->handshake, *data, *len, &used, &s->out);
    *data += used;
    *len -= used;
    if (rc == SL_ERR_AGAIN) return SL_OK;
    if (rc != SL_OK) return rc;
    s->state = RTMP_CONNECTING;
    SL_DEBUG("client %llu rtmp handshake done (%s)", (unsigned long long)s->id,
             sl_rtmp_handshake_is_complex(&s->handshake) ? "digest" : "simple");
    return SL_OK;
}

/* Acknowledges received bytes once per peer window, as the spec asks. */
static void acknowledge(rtmp_session_t *s)
{
    uint64_t total = sl_rtmp_reader_bytes(&s->reader);
    if (s->peer_window == 0 || total - s->acked_bytes < s->peer_window) return;
    s->acked_bytes = total;
    if (sl_rtmp_write_ack(&s->out, (uint32_t)total) == SL_OK) sl__rtmp_schedule_flush(s);
}

static const char *error_reason(int rc)
{
    switch (rc) {
    case SL_ERR_TOO_BIG: return "limit exceeded (message, chunk size or nesting too large)";
    case SL_ERR_PROTO: return "protocol error";
    default: return sl_strerror(rc);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rtmp_session_t *s = stream->data;
    if (s->closing || nread == 0) return;
    if (nread < 0) {
        sl__rtmp_close(s, nread == UV_EOF ? "peer closed" : uv_strerror((int)nread));
        return;
    }
    s->last_read_ms = uv_now(s->srv->loop);
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t len = (size_t)nread;
    s->conn.bytes_in += len;
    int rc = SL_OK;
    if (s->state == RTMP_HANDSHAKE) {
        rc = feed_handshake(s, &data, &len);
        if (s->out.len > 0) sl__rtmp_schedule_flush(s);
    }
    if (rc == SL_OK && s->state != RTMP_HANDSHAKE && len > 0) {
        rc = sl_rtmp_reader_feed(&s->reader, data, len, sl__rtmp_on_message, s);
        if (rc == SL_OK) acknowledge(s);
    }
    if (rc != SL_OK && !s->closing) sl__rtmp_close(s, error_reason(rc));
}

/* Closes connections stuck in the handshake or the connect phase, and publishers
 * that stopped sending. Players are bounded by the hub's queue limits instead. */
static void on_timer(uv_timer_t *t)
{
    rtmp_session_t *s = t->data;
    if (s->closing) return;
    const sl_config_t *cfg = s->srv->cfg;
    uint64_t idle = uv_now(s->srv->loop) - s->last_read_ms;
    if (s->state <= RTMP_CONNECTED && idle >= cfg->limits.handshake_timeout_ms)
        sl__rtmp_close(s, s->state == RTMP_HANDSHAKE ? "handshake timeout" : "no publish or play in time");
    else if (s->state == RTMP_PUBLISHING && idle >= cfg->limits.idle_timeout_ms)
        sl__rtmp_close(s, "publisher idle timeout");
}

static int session_start(rtmp_session_t *s)
{
    int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc == 0) rc = uv_tcp_nodelay(&s->tcp, 1);
    if (rc == 0) {
        uint64_t tick = SL_MIN(s->srv->cfg->limits.handshake_timeout_ms, 1000);
        rc = uv_timer_start(&s->timer, on_timer, tick, tick);
    }
    return rc;
}

static void on_connection(uv_stream_t *server, int status)
{
    sl_server_t *srv = server->data;
    if (status < 0 || srv->stopping) return;
    rtmp_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return;
    s->srv = srv;
    s->id = sl_next_client_id();
    sl_conn_init(&s->conn, s->id, SL_PROTO_RTMP, s->peer, s->key, close_from_server);
    sl_list_init(&s->flush.link);
    s->flush.run = run_flush;
    sl_iobatch_init(&s->batch);
    sl_bytes_init(&s->out);
    sl_rtmp_handshake_init_server(&s->handshake);
    sl_rtmp_reader_init(&s->reader, srv->cfg->limits.rtmp_max_message_bytes);
    uv_tcp_init(srv->loop, &s->tcp);
    uv_timer_init(srv->loop, &s->timer);
    s->tcp.data = s->timer.data = s;
    s->open_handles = 2;
    s->last_read_ms = uv_now(srv->loop);
    bool admitted = sl_server_add_conn(srv, &s->conn);

    int rc = uv_accept(server, (uv_stream_t *)&s->tcp);
    if (rc == 0) sl_tcp_peer_name(&s->tcp, s->peer, sizeof(s->peer));
    if (rc == 0 && !admitted) {
        SL_WARN("rtmp: refusing %s: max_connections (%u) reached", s->peer, srv->cfg->limits.max_connections);
        sl__rtmp_close(s, "too many connections");
        return;
    }
    if (rc == 0) rc = session_start(s);
    if (rc != 0) {
        sl__rtmp_close(s, uv_strerror(rc));
        return;
    }
    SL_INFO("client %llu rtmp connect from %s", (unsigned long long)s->id, s->peer);
}

int sl_rtmp_start(sl_server_t *srv)
{
    return sl_server_listen(srv, &srv->cfg->rtmp.listen, "rtmp", on_connection);
}
