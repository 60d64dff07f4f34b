/* RTSP connections: accept, framing of requests and interleaved RTP ('$'),
 * responses, writes and the session timeout. Requests are handled in methods.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/rtsp/framing.h"
#include "protocols/rtsp/rtsp.h"
#include "protocols/rtsp/session.h"
#include "sluice/admit.h"
#include "sluice/log.h"

/* Bytes received and not yet understood, at most: a request head and body, or an
 * interleaved packet (64 KiB), whichever is larger. */
static size_t max_pending(const rtsp_session_t *s)
{
    const sl_config_t *cfg = s->srv->cfg;
    return SL_MAX((size_t)cfg->limits.http_max_header_bytes + cfg->limits.http_max_body_bytes, (size_t)65536 + 4);
}

static void on_handle_closed(uv_handle_t *h)
{
    rtsp_session_t *s = h->data;
    if (--s->open_handles > 0) return;
    sl_iobatch_free(&s->batch);
    sl_bytes_free(&s->out);
    sl_bytes_free(&s->in);
    free(s);
}

void sl__rtsp_close(rtsp_session_t *s, const char *reason)
{
    if (s->closing) return;
    s->closing = true;
    SL_INFO("client %llu rtsp close %s%s%s: %s", (unsigned long long)s->id, s->peer, s->key[0] ? " " : "", s->key,
            reason);
    sl_admit_cancel(s->admission);
    s->admission = NULL;
    sl_relay_wait_cancel(&s->pull_wait);
    s->pulling = false;
    sl__rtsp_stop_media(s);
    sl__rtsp_free_tracks(s);
    sl_server_cancel(&s->flush);
    sl_server_remove_conn(s->srv, &s->conn);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
}

static void close_from_server(sl_conn_t *c, const char *reason)
{
    sl__rtsp_close(sl_container_of(c, rtsp_session_t, conn), reason);
}

static void flush(rtsp_session_t *s);

/* A write is over: true when the session goes on. */
static bool written(rtsp_session_t *s, int status)
{
    s->writing = false;
    sl_iobatch_release(&s->batch);
    if (s->closing) return false;
    if (status < 0) {
        sl__rtsp_close(s, uv_strerror(status));
        return false;
    }
    return true;
}

static void on_write(uv_write_t *req, int status)
{
    rtsp_session_t *s = req->data;
    if (written(s, status)) flush(s);
}

/* Responses first, then every RTP packet ready for a player: one write. */
static void flush(rtsp_session_t *s)
{
    if (s->closing || s->writing) return;
    bool ok = true;
    if (s->out.len > 0) {
        sl_buf_t *b = sl_bytes_to_buf(&s->out);
        ok = b != NULL && sl_iobatch_add(&s->batch, b, b->data, b->len) == SL_OK;
        sl_buf_unref(b);
    }
    if (ok && s->state == RTSP_PLAYING) ok = sl__rtsp_take_packets(s) == SL_OK;
    if (!ok) {
        sl_iobatch_release(&s->batch);
        sl__rtsp_close(s, "out of memory");
        return;
    }
    if (s->batch.count == 0) {
        if (s->state == RTSP_PLAYING && sl_subscriber_eof(&s->sub)) sl__rtsp_close(s, "stream ended");
        return;
    }
    s->write_req.data = s;
    s->conn.bytes_out += s->batch.bytes;
    s->writing = true;
    int rc = sl_iov_write((uv_stream_t *)&s->tcp, &s->write_req, s->batch.iov, (unsigned)s->batch.count, on_write);
    /* Written at once: nothing came in meanwhile, but the stream may have ended. */
    if (rc != SL_IOV_QUEUED && written(s, rc) && s->state == RTSP_PLAYING && sl_subscriber_eof(&s->sub)) flush(s);
}

static void run_flush(sl_deferred_t *d) { flush(sl_container_of(d, rtsp_session_t, flush)); }

void sl__rtsp_schedule_flush(rtsp_session_t *s)
{
    if (!s->closing) sl_server_defer(s->srv, &s->flush);
}

int sl__rtsp_respond(rtsp_session_t *s, const sl_http_request_t *req, int status, const char *headers,
                     const char *content_type, const void *body, size_t len)
{
    size_t cseq_len = 0;
    const char *cseq = req != NULL ? sl_http_header_get(req, "CSeq", &cseq_len) : NULL;
    char text[17] = "0";
    if (cseq != NULL) snprintf(text, sizeof(text), "%.*s", (int)SL_MIN(cseq_len, 16), cseq);
    return sl__rtsp_respond_cseq(s, text, status, headers, content_type, body, len);
}

int sl__rtsp_respond_cseq(rtsp_session_t *s, const char *cseq, int status, const char *headers,
                          const char *content_type, const void *body, size_t len)
{
    char session[96] = "", entity[160] = "", head[2048];
    if (s->session_id[0])
        snprintf(session, sizeof(session), "Session: %s;timeout=%u\r\n", s->session_id,
                 s->srv->cfg->rtsp.session_timeout_ms / 1000);
    if (content_type != NULL)
        snprintf(entity, sizeof(entity), "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, len);
    int n = snprintf(head, sizeof(head), "RTSP/1.0 %d %s\r\nCSeq: %s\r\nServer: sluice/" SLUICE_VERSION "\r\n%s%s%s\r\n",
                     status, sl_http_status_text(status), cseq, session, headers != NULL ? headers : "", entity);
    if (n < 0 || (size_t)n >= sizeof(head)) return SL_ERR_TOO_BIG;
    int rc = sl_bytes_append(&s->out, head, (size_t)n);
    if (rc == SL_OK && content_type != NULL) rc = sl_bytes_append(&s->out, body, len);
    sl__rtsp_schedule_flush(s);
    return rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char read_buf[65536];
    *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

/* Interleaved data for the track using `channel` (RTP) or channel - 1 (RTCP). */
static int on_data(rtsp_session_t *s, uint8_t channel, const uint8_t *data, size_t len)
{
    for (int i = 0; i < s->track_count; i++) {
        rtsp_track_t *t = &s->tracks[i];
        if (!t->setup || !t->tcp) continue;
        if (channel == t->channel) return sl__rtsp_on_rtp(s, t, data, len);
        if (channel == t->channel + 1) sl__rtsp_on_rtcp(s, t, data, len);
    }
    return SL_OK;
}

/* Answers a request that cannot be read, before the connection closes; `req` is
 * its head when that much was readable, for the CSeq. */
static void refuse_unreadable(rtsp_session_t *s, int err, const sl_http_request_t *req)
{
    int status = err == SL_ERR_TOO_BIG ? 413 : 400;
    SL_WARN("client %llu rtsp %s: bad request: %d %s", (unsigned long long)s->id, s->peer, status,
            sl_http_status_text(status));
    (void)sl__rtsp_respond(s, req, status, NULL, NULL, NULL, 0);
}

/* RTSP requests and interleaved packets share the connection; each starts where
 * the previous ended. */
static int consume(rtsp_session_t *s)
{
    static sl_rtsp_unit_t unit;
    const sl_config_t *cfg = s->srv->cfg;
    size_t pos = 0;
    int rc = SL_OK;
    while (rc == SL_OK && !s->closing && s->admission == NULL && !s->pulling) {
        int n = sl_rtsp_next_unit(s->in.data + pos, s->in.len - pos, cfg->limits.http_max_header_bytes,
                                  cfg->limits.http_max_body_bytes, &unit);
        if (n <= 0) {
            if (n < 0) refuse_unreadable(s, n, unit.has_head ? &unit.req : NULL);
            rc = n;
            break;
        }
        rc = unit.is_data ? on_data(s, unit.channel, unit.data, unit.len) : sl__rtsp_on_request(s, &unit.req);
        pos += (size_t)n;
    }
    memmove(s->in.data, s->in.data + pos, s->in.len - pos);
    s->in.len -= pos;
    if (rc == SL_OK && s->in.len > max_pending(s)) rc = SL_ERR_TOO_BIG;
    return rc;
}

void sl__rtsp_resume(rtsp_session_t *s)
{
    int rc = consume(s);
    if (rc != SL_OK && !s->closing) {
        flush(s);
        sl__rtsp_close(s, rc == SL_ERR_TOO_BIG ? "request too large" : sl_strerror(rc));
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rtsp_session_t *s = stream->data;
    if (s->closing || nread == 0) return;
    if (nread < 0) {
        sl__rtsp_close(s, nread == UV_EOF ? "peer closed" : uv_strerror((int)nread));
        return;
    }
    s->last_activity_ms = uv_now(s->srv->loop);
    s->conn.bytes_in += (uint64_t)nread;
    int rc = sl_bytes_append(&s->in, buf->base, (size_t)nread);
    if (rc == SL_OK) rc = consume(s);
    if (rc != SL_OK && !s->closing) {
        /* Let a refusal reach the client before the connection goes. */
        flush(s);
        sl__rtsp_close(s, rc == SL_ERR_TOO_BIG ? "request too large" : sl_strerror(rc));
    }
}

/* A session that sends nothing (no request, no RTCP, no media) for the timeout is
 * gone; players that only receive are kept alive by RTCP receiver reports or
 * GET_PARAMETER, as the protocol asks. */
static void on_timer(uv_timer_t *t)
{
    rtsp_session_t *s = t->data;
    if (s->closing) return;
    uint64_t now = uv_now(s->srv->loop);
    if (now - s->last_activity_ms >= s->srv->cfg->rtsp.session_timeout_ms) sl__rtsp_close(s, "session timeout");
    else if (s->state == RTSP_PLAYING) sl__rtsp_schedule_flush(s);
    else if (s->state == RTSP_RECORDING) sl__rtsp_send_receiver_reports(s);
}

static void on_connection(uv_stream_t *server, int status)
{
    sl_server_t *srv = server->data;
    if (status < 0 || srv->stopping) return;
    rtsp_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return;
    s->srv = srv;
    s->id = sl_next_client_id();
    sl_conn_init(&s->conn, s->id, SL_PROTO_RTSP, s->peer, s->key, close_from_server);
    sl_list_init(&s->flush.link);
    s->flush.run = run_flush;
    sl_iobatch_init(&s->batch);
    sl_bytes_init(&s->in);
    sl_bytes_init(&s->out);
    uv_tcp_init(srv->loop, &s->tcp);
    uv_timer_init(srv->loop, &s->timer);
    s->tcp.data = s->timer.data = s;
    s->open_handles = 2;
    s->last_activity_ms = uv_now(srv->loop);
    bool admitted = sl_server_add_conn(srv, &s->conn);
    int rc = uv_accept(server, (uv_stream_t *)&s->tcp);
    if (rc == 0) {
        int n = sizeof(s->peer_addr);
        sl_tcp_peer_name(&s->tcp, s->peer, sizeof(s->peer));
        rc = uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&s->peer_addr, &n);
    }
    if (rc == 0 && !admitted) {
        SL_WARN("rtsp: refusing %s: max_connections (%u) reached", s->peer, srv->cfg->limits.max_connections);
        sl__rtsp_close(s, "too many connections");
        return;
    }
    if (rc == 0) rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc == 0) rc = uv_tcp_nodelay(&s->tcp, 1);
    if (rc == 0) rc = uv_timer_start(&s->timer, on_timer, 1000, 1000);
    if (rc != 0) {
        sl__rtsp_close(s, uv_strerror(rc));
        return;
    }
    SL_INFO("client %llu rtsp connect from %s", (unsigned long long)s->id, s->peer);
}

int sl_rtsp_start(sl_server_t *srv)
{
    if (sl__rtsp_auth_init() != SL_OK) return SL_ERR_IO;
    return sl_server_listen(srv, &srv->cfg->rtsp.listen, "rtsp", on_connection);
}
