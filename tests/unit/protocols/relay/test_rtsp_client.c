#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocols/relay/rtsp_client.h"

/* The client against scripted server answers: every request it writes is checked
 * byte for byte, every answer is fed as a camera or MediaMTX would send it. */

#define MAX_PACKETS 16

typedef struct packet {
    int track;
    bool rtcp;
    uint8_t data[8];
    size_t len;
} packet_t;

typedef struct harness {
    sl_rtsp_client_t c;
    sl_rtsp_url_t url;
    sl_bytes_t out;
    size_t checked; /* bytes of out the test has already compared */
    size_t step;    /* feed in pieces of this size, 0 = all at once */
    int last_rc;
    int ready, errors, status;
    char reason[SL_RTSP_CLIENT_REASON_MAX];
    packet_t packets[MAX_PACKETS];
    int n_packets;
    int rtp_rc;         /* what on_rtp returns */
    uint16_t udp_ports; /* the next port udp_port hands out */
    int udp_calls;
} harness_t;

static int udp_port(void *arg, int track, uint16_t *port)
{
    harness_t *h = arg;
    assert_int_equal(track, h->udp_calls);
    h->udp_calls++;
    *port = h->udp_ports;
    h->udp_ports += 2;
    return SL_OK;
}

static void on_ready(void *arg) { ((harness_t *)arg)->ready++; }

static void record(harness_t *h, int track, bool rtcp, const uint8_t *data, size_t len)
{
    assert_true(h->n_packets < MAX_PACKETS);
    packet_t *p = &h->packets[h->n_packets++];
    p->track = track;
    p->rtcp = rtcp;
    p->len = len;
    memcpy(p->data, data, SL_MIN(len, sizeof(p->data)));
}

static int on_rtp(void *arg, int track, const uint8_t *data, size_t len)
{
    harness_t *h = arg;
    record(h, track, false, data, len);
    return h->rtp_rc;
}

static void on_rtcp(void *arg, int track, const uint8_t *data, size_t len)
{
    record(arg, track, true, data, len);
}

static void on_error(void *arg, int status, const char *reason)
{
    harness_t *h = arg;
    h->errors++;
    h->status = status;
    snprintf(h->reason, sizeof(h->reason), "%s", reason);
}

static const sl_rtsp_client_ops_t ops = {udp_port, on_ready, on_rtp, on_rtcp, on_error};

static harness_t *start(const char *url, sl_rtsp_client_transport_t transport, const char *cnonce)
{
    harness_t *h = test_calloc(1, sizeof(*h));
    assert_non_null(h);
    sl_bytes_init(&h->out);
    h->udp_ports = 50000;
    assert_int_equal(sl_rtsp_url_parse(url, &h->url), SL_OK);
    sl_rtsp_client_cfg_t cfg = {.url = &h->url, .transport = transport, .cnonce = cnonce};
    assert_int_equal(sl_rtsp_client_init(&h->c, &cfg, &ops, h, &h->out), SL_OK);
    return h;
}

static void finish(harness_t *h)
{
    sl_rtsp_client_free(&h->c);
    sl_rtsp_client_free(&h->c); /* twice is allowed */
    sl_bytes_free(&h->out);
    test_free(h);
}

/* The bytes the client wrote since the last check must be exactly `want`. */
static void expect_sent(harness_t *h, const char *want)
{
    size_t n = h->out.len - h->checked;
    const char *got = (const char *)h->out.data + h->checked;
    if (n != strlen(want) || memcmp(got, want, n) != 0) {
        print_error("sent:\n%.*s\nwanted:\n%s\n", (int)n, got, want);
        fail();
    }
    h->checked = h->out.len;
}

static void expect_nothing_sent(harness_t *h) { assert_int_equal(h->out.len, h->checked); }

static int feed_bytes(harness_t *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t step = h->step != 0 ? h->step : len;
    int rc = SL_OK;
    for (size_t off = 0; off < len && rc == SL_OK; off += step)
        rc = sl_rtsp_client_feed(&h->c, p + off, SL_MIN(step, len - off), &h->out);
    h->last_rc = rc;
    return rc;
}

static int feed(harness_t *h, const char *text) { return feed_bytes(h, text, strlen(text)); }

static void serve(harness_t *h, const char *text) { assert_int_equal(feed(h, text), SL_OK); }

/* A 200 to DESCRIBE with `headers` (complete lines) and the SDP as body. */
static int serve_sdp(harness_t *h, unsigned cseq, const char *headers, const char *sdp)
{
    char msg[8192];
    int n = snprintf(msg, sizeof(msg),
                     "RTSP/1.0 200 OK\r\nCSeq: %u\r\n%sContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
                     cseq, headers, strlen(sdp), sdp);
    assert_true(n > 0 && (size_t)n < sizeof(msg));
    return feed(h, msg);
}

/* A Hikvision-like description: H.264, a PCMU track sluice does not take, AAC. */
static const char sdp_cam[] = "v=0\r\n"
                              "o=- 1 1 IN IP4 10.0.0.2\r\n"
                              "s=Media Presentation\r\n"
                              "t=0 0\r\n"
                              "a=control:*\r\n"
                              "m=video 0 RTP/AVP 96\r\n"
                              "a=rtpmap:96 H264/90000\r\n"
                              "a=fmtp:96 packetization-mode=1\r\n"
                              "a=control:trackID=1\r\n"
                              "m=audio 0 RTP/AVP 0\r\n"
                              "a=control:trackID=2\r\n"
                              "m=audio 0 RTP/AVP 97\r\n"
                              "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
                              "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
                              "indexdeltalength=3;config=1190\r\n"
                              "a=control:trackID=3\r\n";

/* One video track with the given control line ("" for none). */
static void video_sdp(char *buf, size_t cap, const char *session_control, const char *control)
{
    snprintf(buf, cap,
             "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=x\r\nt=0 0\r\n%sm=video 0 RTP/AVP 96\r\n"
             "a=rtpmap:96 H264/90000\r\n%s",
             session_control, control);
}

#define CAM_URL "rtsp://cam.local/Streaming/Channels/101"
#define CAM_BASE CAM_URL "/"
#define DIGEST_HDR "WWW-Authenticate: Digest realm=\"IP Camera(12345)\", nonce=\"6b3a8c1e5f\", stale=\"FALSE\"\r\n"
/* The Authorization answering DIGEST_HDR for a request on uri (no qop: the form
 * cameras use); response values computed with Python's hashlib. */
#define DIGEST_AUTH(uri, response)                                                                                \
    "Authorization: Digest username=\"admin\", realm=\"IP Camera(12345)\", nonce=\"6b3a8c1e5f\", uri=\"" uri    \
    "\", response=\"" response "\"\r\n"

static const uint8_t rtp_video[] = {'$', 0, 0, 4, 0x80, 0x60, 0x00, 0x01};
static const uint8_t rtcp_audio[] = {'$', 3, 0, 2, 0x81, 0xc8};

/* OPTIONS, DESCRIBE with a Digest challenge, two SETUPs, PLAY, as a Hikvision
 * camera answers them, with exact request bytes throughout. */
static void run_camera_exchange(harness_t *h)
{
    expect_sent(h, "OPTIONS " CAM_URL " RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: sluice\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, "
             "SET_PARAMETER, GET_PARAMETER\r\nDate:  Mon, Jan 01 2024 00:00:00 GMT\r\n\r\n");
    expect_sent(h, "DESCRIBE " CAM_URL " RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: sluice\r\n"
                   "Accept: application/sdp\r\n\r\n");
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n" DIGEST_HDR "\r\n");
    expect_sent(h, "DESCRIBE " CAM_URL " RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: sluice\r\n"
                   DIGEST_AUTH(CAM_URL, "9460b6130d02cf081a5551438b63f34d")
                   "Accept: application/sdp\r\n\r\n");
    assert_int_equal(serve_sdp(h, 3, "Content-Base: " CAM_BASE "\r\n", sdp_cam), SL_OK);
    assert_int_equal(sl_rtsp_client_track_count(&h->c), 2);
    expect_sent(h, "SETUP " CAM_BASE "trackID=1 RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: sluice\r\n"
                   DIGEST_AUTH(CAM_BASE "trackID=1", "626854a11a2208fd9abb53df826e5074")
                   "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession:       7b2c5a1f;timeout=30\r\n"
             "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1A2b3C4d;mode=\"play\"\r\n\r\n");
    expect_sent(h, "SETUP " CAM_BASE "trackID=3 RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: sluice\r\nSession: 7b2c5a1f\r\n"
                   DIGEST_AUTH(CAM_BASE "trackID=3", "b416ee0da774d71ff72102621953c90b")
                   "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 7b2c5a1f;timeout=30\r\n"
             "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n");
    expect_sent(h, "PLAY " CAM_BASE " RTSP/1.0\r\nCSeq: 6\r\nUser-Agent: sluice\r\nSession: 7b2c5a1f\r\n"
                   DIGEST_AUTH(CAM_BASE, "c8690f1824430276e06c994080e6c719")
                   "Range: npt=0.000-\r\n\r\n");
    /* Media before PLAY's answer, and between it and the next message. */
    assert_int_equal(feed_bytes(h, rtp_video, sizeof(rtp_video)), SL_OK);
    assert_int_equal(h->ready, 0);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 6\r\nSession: 7b2c5a1f\r\nRTP-Info: url=" CAM_BASE
             "trackID=1;seq=1;rtptime=0\r\n\r\n");
    assert_int_equal(feed_bytes(h, rtcp_audio, sizeof(rtcp_audio)), SL_OK);
}

static void test_camera_tcp_digest(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/Streaming/Channels/101", SL_RTSP_CLIENT_TCP, "0a4f113b");
    run_camera_exchange(h);
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->errors, 0);

    const sl_rtsp_client_track_t *v = sl_rtsp_client_track(&h->c, 0), *a = sl_rtsp_client_track(&h->c, 1);
    assert_null(sl_rtsp_client_track(&h->c, 2));
    assert_null(sl_rtsp_client_track(&h->c, -1));
    assert_string_equal(v->url, CAM_BASE "trackID=1");
    assert_int_equal(v->codec, SL_CODEC_H264);
    assert_int_equal(v->pt, 96);
    assert_int_equal(v->clock, 90000);
    assert_int_equal(v->rtp_channel, 0);
    assert_int_equal(v->rtcp_channel, 1);
    assert_true(v->has_ssrc);
    assert_int_equal(v->ssrc, 0x1a2b3c4d);
    assert_ptr_equal(v->media, &sl_rtsp_client_sdp(&h->c)->media[0]);
    assert_int_equal(a->codec, SL_CODEC_AAC);
    assert_int_equal(a->clock, 48000);
    assert_ptr_equal(a->media, &sl_rtsp_client_sdp(&h->c)->media[2]);
    assert_false(a->has_ssrc);

    assert_int_equal(h->n_packets, 2);
    assert_int_equal(h->packets[0].track, 0);
    assert_false(h->packets[0].rtcp);
    assert_int_equal(h->packets[0].len, 4);
    assert_memory_equal(h->packets[0].data, rtp_video + 4, 4);
    assert_int_equal(h->packets[1].track, 1);
    assert_true(h->packets[1].rtcp);
    assert_memory_equal(h->packets[1].data, rtcp_audio + 4, 2);

    /* timeout=30: keep-alives every 15 s, GET_PARAMETER since Public lists it. */
    assert_int_equal(sl_rtsp_client_keepalive_ms(&h->c), 15000);
    assert_int_equal(sl_rtsp_client_keepalive(&h->c, &h->out), SL_OK);
    expect_sent(h, "GET_PARAMETER " CAM_BASE " RTSP/1.0\r\nCSeq: 7\r\nUser-Agent: sluice\r\nSession: 7b2c5a1f\r\n"
                   DIGEST_AUTH(CAM_BASE, "de39635997481168f6b7915505695e8f")
                   "\r\n");
    /* Its answer, even a refusal, changes nothing. */
    serve(h, "RTSP/1.0 451 Parameter Not Understood\r\nCSeq: 7\r\n\r\n");
    expect_nothing_sent(h);

    static const uint8_t rr[] = {0x81, 0xc9, 0x00, 0x01};
    assert_int_equal(sl_rtsp_client_send_rtcp(&h->c, 1, rr, sizeof(rr), &h->out), SL_OK);
    static const uint8_t framed[] = {'$', 3, 0, 4, 0x81, 0xc9, 0x00, 0x01};
    assert_int_equal(h->out.len - h->checked, sizeof(framed));
    assert_memory_equal(h->out.data + h->checked, framed, sizeof(framed));
    h->checked = h->out.len;
    assert_int_equal(sl_rtsp_client_send_rtcp(&h->c, 2, rr, sizeof(rr), &h->out), SL_ERR_NOT_FOUND);

    assert_int_equal(sl_rtsp_client_teardown(&h->c, &h->out), SL_OK);
    expect_sent(h, "TEARDOWN " CAM_BASE " RTSP/1.0\r\nCSeq: 8\r\nUser-Agent: sluice\r\nSession: 7b2c5a1f\r\n"
                   DIGEST_AUTH(CAM_BASE, "595de635165562c737d1a989ddc869c9")
                   "\r\n");
    assert_int_equal(sl_rtsp_client_feed(&h->c, (const uint8_t *)"RTSP", 4, &h->out), SL_ERR_CLOSED);
    assert_int_equal(sl_rtsp_client_keepalive(&h->c, &h->out), SL_ERR_CLOSED);
    /* Once only. */
    assert_int_equal(sl_rtsp_client_teardown(&h->c, &h->out), SL_OK);
    expect_nothing_sent(h);
    assert_int_equal(h->errors, 0);
    finish(h);
}

/* The same exchange with every byte fed on its own: heads, bodies and interleaved
 * frames split at every boundary. */
static void test_byte_by_byte(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/Streaming/Channels/101", SL_RTSP_CLIENT_TCP, "0a4f113b");
    h->step = 1;
    run_camera_exchange(h);
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->n_packets, 2);
    assert_int_equal(h->packets[0].len, 4);
    assert_int_equal(h->packets[1].len, 2);
    assert_int_equal(h->errors, 0);
    finish(h);
}

/* Digest with qop=auth, opaque and algorithm: nc counts requests on one nonce. */
static void test_digest_qop(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/s", SL_RTSP_CLIENT_TCP, "0a4f113b");
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n");
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"
             "WWW-Authenticate: Digest realm=\"IP Camera(12345)\", nonce=\"n0nce2\", qop=\"auth\", "
             "opaque=\"xyz\", algorithm=MD5\r\n\r\n");
    expect_sent(h, "DESCRIBE rtsp://cam.local/s RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: sluice\r\n"
                   "Authorization: Digest username=\"admin\", realm=\"IP Camera(12345)\", nonce=\"n0nce2\", "
                   "uri=\"rtsp://cam.local/s\", response=\"bf9d462b1eec356b771ca9965c83ff83\", algorithm=MD5, "
                   "opaque=\"xyz\", qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"
                   "Accept: application/sdp\r\n\r\n");
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "a=control:trackID=1\r\n");
    assert_int_equal(serve_sdp(h, 3, "", sdp), SL_OK);
    expect_sent(h, "SETUP rtsp://cam.local/s/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: sluice\r\n"
                   "Authorization: Digest username=\"admin\", realm=\"IP Camera(12345)\", nonce=\"n0nce2\", "
                   "uri=\"rtsp://cam.local/s/trackID=1\", response=\"44ecc5edbbba194fe524b0a7308b616c\", "
                   "algorithm=MD5, opaque=\"xyz\", qop=auth, nc=00000002, cnonce=\"0a4f113b\"\r\n"
                   "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
    finish(h);
}

/* Basic, and a camera that wants credentials for OPTIONS already. */
static void test_basic(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/s", SL_RTSP_CLIENT_TCP, NULL);
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n");
    expect_sent(h, "OPTIONS rtsp://cam.local/s RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: sluice\r\n"
                   "Authorization: Basic YWRtaW46c2VjcmV0\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n");
    expect_sent(h, "DESCRIBE rtsp://cam.local/s RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: sluice\r\n"
                   "Authorization: Basic YWRtaW46c2VjcmV0\r\nAccept: application/sdp\r\n\r\n");
    assert_int_equal(h->errors, 0);
    finish(h);
}

/* Basic and Digest offered, in that order: Digest is taken. A Digest challenge we
 * cannot answer (SHA-256) is passed over. A random cnonce when none is set. */
static void test_prefers_digest(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/s", SL_RTSP_CLIENT_TCP, NULL);
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n"
             "WWW-Authenticate: Digest realm=\"cam\", nonce=\"a\", algorithm=SHA-256, qop=\"auth\"\r\n"
             "WWW-Authenticate: Digest realm=\"cam\", nonce=\"b\", qop=\"auth\"\r\n\r\n");
    const char *sent = (const char *)h->out.data + h->checked;
    size_t n = h->out.len - h->checked;
    static const char prefix[] = "OPTIONS rtsp://cam.local/s RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: sluice\r\n"
                                 "Authorization: Digest username=\"admin\", realm=\"cam\", nonce=\"b\", ";
    assert_true(n > sizeof(prefix) - 1);
    assert_memory_equal(sent, prefix, sizeof(prefix) - 1);
    const char *cn = strstr(sent, "cnonce=\"");
    assert_non_null(cn);
    assert_int_equal(strspn(cn + 8, "0123456789abcdef"), 16);
    assert_memory_equal(cn + 24, "\"\r\n\r\n", 5);
    finish(h);
}

/* A stale nonce is answered again with the new one; a second plain 401 is final. */
static void test_stale_then_wrong(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/Streaming/Channels/101", SL_RTSP_CLIENT_TCP, "0a4f113b");
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm=\"IP Camera(12345)\", "
             "nonce=\"old\"\r\n\r\n");
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n"
             "WWW-Authenticate: Digest realm=\"IP Camera(12345)\", nonce=\"6b3a8c1e5f\", stale=true\r\n\r\n");
    expect_sent(h, "DESCRIBE " CAM_URL " RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: sluice\r\n"
                   DIGEST_AUTH(CAM_URL, "9460b6130d02cf081a5551438b63f34d")
                   "Accept: application/sdp\r\n\r\n");
    assert_int_equal(h->errors, 0);
    assert_int_equal(feed(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 4\r\n" DIGEST_HDR "\r\n"), SL_ERR_AUTH);
    expect_nothing_sent(h);
    assert_int_equal(h->errors, 1);
    assert_int_equal(h->status, 401);
    assert_string_equal(h->reason, "Unauthorized");
    assert_int_equal(feed(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 5\r\n" DIGEST_HDR "\r\n"), SL_ERR_AUTH);
    assert_int_equal(h->errors, 1);
    finish(h);
}

/* A server that says stale forever is given up on after a few answers. */
static void test_stale_forever(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/s", SL_RTSP_CLIENT_TCP, "c");
    int rc = SL_OK;
    unsigned cseq = 1;
    for (; cseq < 20 && rc == SL_OK; cseq++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "RTSP/1.0 401 Unauthorized\r\nCSeq: %u\r\n"
                 "WWW-Authenticate: Digest realm=\"r\", nonce=\"n%u\", stale=TRUE\r\n\r\n",
                 cseq, cseq);
        rc = feed(h, msg);
    }
    assert_int_equal(rc, SL_ERR_AUTH);
    assert_int_equal(cseq - 1, 5); /* the first answer, three stale retries, then final */
    assert_int_equal(h->errors, 1);
    finish(h);
}

static void test_no_credentials(void **state)
{
    harness_t *h = start("rtsp://cam.local/s", SL_RTSP_CLIENT_TCP, NULL);
    h->checked = h->out.len;
    assert_int_equal(feed(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n" DIGEST_HDR "\r\n"), SL_ERR_AUTH);
    expect_nothing_sent(h);
    assert_int_equal(h->errors, 1);
    assert_int_equal(h->status, 401);
    finish(h);
}

/* A 401 with no scheme we know, or none at all, is final. */
static void test_unknown_scheme(void **state)
{
    harness_t *h = start("rtsp://u:p@cam.local/s", SL_RTSP_CLIENT_TCP, NULL);
    h->checked = h->out.len;
    assert_int_equal(feed(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Negotiate\r\n\r\n"),
                     SL_ERR_AUTH);
    expect_nothing_sent(h);
    finish(h);
}

/* Answers to DESCRIBE, SETUP and PLAY that end the client, by status. */
static void test_refusals(void **state)
{
    static const struct {
        const char *status_line;
        int err, status;
        const char *reason;
    } cases[] = {
        {"RTSP/1.0 404 Stream Not Found", SL_ERR_NOT_FOUND, 404, "Stream Not Found"},
        {"RTSP/1.0 403 Forbidden", SL_ERR_AUTH, 403, "Forbidden"},
        {"RTSP/1.0 503 Service Unavailable", SL_ERR_CLOSED, 503, "Service Unavailable"},
        {"RTSP/1.0 302 Moved", SL_ERR_CLOSED, 302, "Moved"},
        {"RTSP/1.0 404", SL_ERR_NOT_FOUND, 404, ""},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        harness_t *h = start("rtsp://cam.local/s", SL_RTSP_CLIENT_TCP, NULL);
        serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
        h->checked = h->out.len;
        char msg[256];
        snprintf(msg, sizeof(msg), "%s\r\nCSeq: 2\r\n\r\n", cases[i].status_line);
        assert_int_equal(feed(h, msg), cases[i].err);
        expect_nothing_sent(h);
        assert_int_equal(h->errors, 1);
        assert_int_equal(h->status, cases[i].status);
        assert_string_equal(h->reason, cases[i].reason);
        assert_int_equal(sl_rtsp_client_feed(&h->c, (const uint8_t *)"x", 1, &h->out), cases[i].err);
        /* No session yet: nothing to tear down. */
        assert_int_equal(sl_rtsp_client_teardown(&h->c, &h->out), SL_OK);
        expect_nothing_sent(h);
        assert_int_equal(sl_rtsp_client_feed(&h->c, (const uint8_t *)"x", 1, &h->out), cases[i].err);
        finish(h);
    }
}

/* OPTIONS refused (404, 501): DESCRIBE goes out anyway, and keep-alives use
 * OPTIONS since nothing said GET_PARAMETER works. */
static void test_options_refused(void **state)
{
    harness_t *h = start("rtsp://cam.local/s", SL_RTSP_CLIENT_TCP, NULL);
    serve(h, "RTSP/1.0 501 Not Implemented\r\nCSeq: 1\r\n\r\n");
    h->checked = h->out.len;
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "");
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_OK);
    /* No control: the track is the base URL itself. */
    expect_sent(h, "SETUP rtsp://cam.local/s RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: sluice\r\n"
                   "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
    assert_int_equal(sl_rtsp_client_keepalive(&h->c, &h->out), SL_ERR_AGAIN);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: abc\r\nTransport: RTP/AVP/TCP;interleaved=6\r\n\r\n");
    expect_sent(h, "PLAY rtsp://cam.local/s RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: sluice\r\nSession: abc\r\n"
                   "Range: npt=0.000-\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n");
    assert_int_equal(h->ready, 1);
    assert_int_equal(sl_rtsp_client_track(&h->c, 0)->rtp_channel, 6);
    assert_int_equal(sl_rtsp_client_track(&h->c, 0)->rtcp_channel, 7);
    assert_int_equal(sl_rtsp_client_keepalive_ms(&h->c), 30000);
    assert_int_equal(sl_rtsp_client_keepalive(&h->c, &h->out), SL_OK);
    expect_sent(h, "OPTIONS rtsp://cam.local/s RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: sluice\r\nSession: abc\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n");
    /* Granted channels: 6 is RTP; 0 (asked for) now means nothing. */
    static const uint8_t data[] = {'$', 6, 0, 1, 0xaa, '$', 0, 0, 1, 0xbb, '$', 7, 0, 0};
    assert_int_equal(feed_bytes(h, data, sizeof(data)), SL_OK);
    assert_int_equal(h->n_packets, 2);
    assert_false(h->packets[0].rtcp);
    assert_int_equal(h->packets[0].data[0], 0xaa);
    assert_true(h->packets[1].rtcp);
    assert_int_equal(h->packets[1].len, 0);
    finish(h);
}

static void test_unsupported_transport(void **state)
{
    harness_t *h = start("rtsp://cam.local/s", SL_RTSP_CLIENT_UDP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "a=control:trackID=0\r\n");
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_OK);
    h->checked = h->out.len;
    assert_int_equal(feed(h, "RTSP/1.0 461 Unsupported Transport\r\nCSeq: 3\r\n\r\n"), SL_ERR_UNSUPPORTED);
    assert_int_equal(h->status, 461);
    assert_string_equal(h->reason, "Unsupported Transport");
    expect_nothing_sent(h);
    finish(h);
}

/* UDP, as MediaMTX answers: ports from the glue, the server's ports read back. */
static void test_udp(void **state)
{
    harness_t *h = start("rtsp://mediamtx:8554/cam", SL_RTSP_CLIENT_UDP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, PAUSE, "
             "GET_PARAMETER, TEARDOWN\r\nServer: gortsplib\r\n\r\n");
    h->checked = h->out.len;
    static const char sdp[] = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Stream\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                              "m=video 0 RTP/AVP 96\r\na=control:rtsp://mediamtx:8554/cam/trackID=0\r\n"
                              "a=rtpmap:96 H264/90000\r\n"
                              "m=audio 0 RTP/AVP 111\r\na=control:rtsp://mediamtx:8554/cam/trackID=1\r\n"
                              "a=rtpmap:111 opus/48000/2\r\n";
    assert_int_equal(serve_sdp(h, 2, "Content-Base: rtsp://mediamtx:8554/cam/\r\n", sdp), SL_OK);
    assert_int_equal(h->udp_calls, 1);
    expect_sent(h, "SETUP rtsp://mediamtx:8554/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: sluice\r\n"
                   "Transport: RTP/AVP;unicast;client_port=50000-50001\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 9f1e2d3c4b5a6978;timeout=60\r\n"
             "Transport: RTP/AVP;unicast;client_port=50000-50001;server_port=8000-8001;ssrc=0000BEEF\r\n\r\n");
    expect_sent(h, "SETUP rtsp://mediamtx:8554/cam/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: sluice\r\n"
                   "Session: 9f1e2d3c4b5a6978\r\nTransport: RTP/AVP;unicast;client_port=50002-50003\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 9f1e2d3c4b5a6978;timeout=60\r\n"
             "Transport: RTP/AVP;unicast;client_port=50002-50003;server_port=9000\r\n\r\n");
    expect_sent(h, "PLAY rtsp://mediamtx:8554/cam/ RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: sluice\r\n"
                   "Session: 9f1e2d3c4b5a6978\r\nRange: npt=0.000-\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 9f1e2d3c4b5a6978;timeout=60\r\n\r\n");
    assert_int_equal(h->ready, 1);
    const sl_rtsp_client_track_t *v = sl_rtsp_client_track(&h->c, 0), *a = sl_rtsp_client_track(&h->c, 1);
    assert_int_equal(v->client_port, 50000);
    assert_int_equal(v->server_port, 8000);
    assert_int_equal(v->server_rtcp_port, 8001);
    assert_true(v->has_ssrc);
    assert_int_equal(v->ssrc, 0xbeef);
    assert_int_equal(a->codec, SL_CODEC_OPUS);
    assert_int_equal(a->client_port, 50002);
    assert_int_equal(a->server_port, 9000);
    assert_int_equal(a->server_rtcp_port, 9001);
    assert_int_equal(sl_rtsp_client_send_rtcp(&h->c, 0, (const uint8_t *)"x", 1, &h->out), SL_ERR_UNSUPPORTED);
    /* Interleaved bytes mean nothing over UDP. */
    assert_int_equal(feed_bytes(h, rtp_video, sizeof(rtp_video)), SL_OK);
    assert_int_equal(h->n_packets, 0);
    assert_int_equal(sl_rtsp_client_keepalive(&h->c, &h->out), SL_OK);
    expect_sent(h, "GET_PARAMETER rtsp://mediamtx:8554/cam/ RTSP/1.0\r\nCSeq: 6\r\nUser-Agent: sluice\r\n"
                   "Session: 9f1e2d3c4b5a6978\r\n\r\n");
    finish(h);
}

/* Where track and aggregate URLs come from. */
static void test_url_resolution(void **state)
{
    static const struct {
        const char *headers, *session_control, *control, *track, *aggregate;
    } cases[] = {
        /* Content-Base with a trailing slash, relative control. */
        {"Content-Base: rtsp://h/a/\r\n", "", "a=control:trackID=1\r\n", "rtsp://h/a/trackID=1", "rtsp://h/a/"},
        /* Without: a '/' goes in between. */
        {"Content-Base: rtsp://h/a\r\n", "a=control:*\r\n", "a=control:trackID=1\r\n", "rtsp://h/a/trackID=1",
         "rtsp://h/a"},
        /* '*' and absolute controls; an absolute session control is the aggregate. */
        {"Content-Base: rtsp://h/a/\r\n", "a=control:rtsp://h/agg\r\n", "a=control:*\r\n", "rtsp://h/a/",
         "rtsp://h/agg"},
        {"", "", "a=control:RTSP://other/x/track1\r\n", "RTSP://other/x/track1", "rtsp://cam/s?token=1"},
        /* Content-Location when there is no Content-Base. */
        {"Content-Location: rtsp://h/loc\r\n", "", "a=control:t1\r\n", "rtsp://h/loc/t1", "rtsp://h/loc"},
        /* Content-Base wins over Content-Location; one that is no rtsp URL is passed over. */
        {"Content-Location: rtsp://h/loc\r\nContent-Base: rtsp://h/base/\r\n", "", "a=control:t1\r\n",
         "rtsp://h/base/t1", "rtsp://h/base/"},
        {"Content-Base: /relative\r\n", "", "a=control:t1\r\n", "rtsp://cam/s?token=1/t1", "rtsp://cam/s?token=1"},
        /* The request URL, query kept, and a query control. */
        {"", "", "a=control:?ctype=video\r\n", "rtsp://cam/s?token=1?ctype=video", "rtsp://cam/s?token=1"},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        harness_t *h = start("rtsp://cam/s?token=1", SL_RTSP_CLIENT_TCP, NULL);
        serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
        char sdp[512];
        video_sdp(sdp, sizeof(sdp), cases[i].session_control, cases[i].control);
        assert_int_equal(serve_sdp(h, 2, cases[i].headers, sdp), SL_OK);
        assert_string_equal(sl_rtsp_client_track(&h->c, 0)->url, cases[i].track);
        assert_string_equal(h->c.aggregate, cases[i].aggregate);
        finish(h);
    }
}

/* A control with a space cannot go into a request line. */
static void test_bad_control(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "a=control:track 1\r\n");
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_ERR_PROTO);
    assert_int_equal(h->errors, 1);
    assert_int_equal(h->status, 0);
    finish(h);
}

static void test_no_usable_track(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    h->checked = h->out.len;
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0 8\r\n"
                              "m=video 0 RTP/AVP 26\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_ERR_UNSUPPORTED);
    expect_nothing_sent(h);
    assert_int_equal(h->errors, 1);
    assert_int_equal(h->status, 0);
    assert_int_equal(sl_rtsp_client_track_count(&h->c), 0);
    finish(h);
}

/* At most SL_RTSP_CLIENT_MAX_TRACKS are set up. */
static void test_track_limit(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    char sdp[2048] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=0 0\r\n";
    for (int i = 0; i < 6; i++) {
        char m[128];
        snprintf(m, sizeof(m), "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:t%d\r\n", i);
        strcat(sdp, m);
    }
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_OK);
    assert_int_equal(sl_rtsp_client_track_count(&h->c), SL_RTSP_CLIENT_MAX_TRACKS);
    assert_string_equal(sl_rtsp_client_track(&h->c, 3)->url, "rtsp://cam/s/t3");
    finish(h);
}

/* Stray answers with another CSeq, provisional ones and blank lines are passed
 * over; an answer without CSeq is taken. */
static void test_strays(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n\r\n\r\nRTSP/1.0 100 Continue\r\nCSeq: 1\r\n\r\n"
             "RTSP/1.0 200 OK\r\nCSeq: x1\r\n\r\n");
    expect_nothing_sent(h);
    serve(h, "RTSP/1.0 200 OK\r\n\r\n");
    expect_sent(h, "DESCRIBE rtsp://cam/s RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: sluice\r\n"
                   "Accept: application/sdp\r\n\r\n");
    /* A stray DESCRIBE-like answer with a body: skipped whole. */
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nv=0\r\n");
    expect_nothing_sent(h);
    assert_int_equal(sl_rtsp_client_track_count(&h->c), 0);
    assert_int_equal(h->errors, 0);
    finish(h);
}

/* Requests of the server are refused, with their CSeq; their body is skipped. */
static void test_server_request(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    h->checked = h->out.len;
    serve(h, "ANNOUNCE rtsp://cam/s RTSP/1.0\r\nCSeq: 41\r\nContent-Length: 3\r\n\r\nv=0"
             "GET_PARAMETER rtsp://cam/s RTSP/1.0\r\n\r\n");
    expect_sent(h, "RTSP/1.0 501 Not Implemented\r\nCSeq: 41\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    expect_sent(h, "DESCRIBE rtsp://cam/s RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: sluice\r\n"
                   "Accept: application/sdp\r\n\r\n");
    finish(h);
}

/* Interleaved data on a channel no track has, and before SETUP is answered, is
 * dropped. */
static void test_unknown_channel(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    static const uint8_t data[] = {'$', 0, 0, 2, 1, 2, '$', 9, 0, 0};
    assert_int_equal(feed_bytes(h, data, sizeof(data)), SL_OK);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "");
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_OK);
    /* SETUP asked for channel 0 but is not answered yet. */
    assert_int_equal(feed_bytes(h, data, sizeof(data)), SL_OK);
    assert_int_equal(h->n_packets, 0);
    /* An empty Transport keeps the channels asked for. */
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: s\r\nTransport:\r\n\r\n");
    assert_int_equal(feed_bytes(h, data, sizeof(data)), SL_OK);
    assert_int_equal(h->n_packets, 1);
    assert_int_equal(h->packets[0].len, 2);
    assert_int_equal(h->errors, 0);
    finish(h);
}

/* on_rtp's error stops the client without on_error. */
static void test_rtp_error(void **state)
{
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "");
    assert_int_equal(serve_sdp(h, 2, "", sdp), SL_OK);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: s\r\nTransport: RTP/AVP/TCP;interleaved=8-10\r\n\r\n");
    assert_int_equal(sl_rtsp_client_track(&h->c, 0)->rtcp_channel, 10);
    h->rtp_rc = SL_ERR_BUSY;
    static const uint8_t data[] = {'$', 8, 0, 1, 1, '$', 8, 0, 1, 2};
    assert_int_equal(feed_bytes(h, data, sizeof(data)), SL_ERR_BUSY);
    assert_int_equal(h->n_packets, 1);
    assert_int_equal(h->errors, 0);
    /* The session is still released. */
    h->checked = h->out.len;
    assert_int_equal(sl_rtsp_client_teardown(&h->c, &h->out), SL_OK);
    expect_sent(h, "TEARDOWN rtsp://cam/s RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: sluice\r\nSession: s\r\n\r\n");
    assert_int_equal(sl_rtsp_client_feed(&h->c, data, 1, &h->out), SL_ERR_BUSY);
    finish(h);
}

static void test_oversize(void **state)
{
    /* A head that never ends. */
    harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    char line[1024];
    memset(line, 'a', sizeof(line) - 3);
    memcpy(line + sizeof(line) - 3, "\r\n", 3);
    serve(h, "RTSP/1.0 200 OK\r\n");
    int rc = SL_OK;
    for (int i = 0; i < 20 && rc == SL_OK; i++) rc = feed(h, i == 0 ? "X-Pad: " : line);
    assert_int_equal(rc, SL_ERR_TOO_BIG);
    assert_int_equal(h->errors, 1);
    assert_int_equal(h->status, 0);
    finish(h);

    /* A body over 64 KiB is refused from its Content-Length. */
    h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    assert_int_equal(feed(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 65537\r\n\r\n"), SL_ERR_TOO_BIG);
    finish(h);
    h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    assert_int_equal(feed(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
                     SL_ERR_TOO_BIG);
    finish(h);

    /* Exactly 64 KiB is fine (here a stray, skipped). */
    h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 9\r\nContent-Length: 65536\r\n\r\n");
    static uint8_t body[65536];
    assert_int_equal(feed_bytes(h, body, sizeof(body)), SL_OK);
    assert_int_equal(h->c.in.len, 0);
    finish(h);
}

static void test_malformed(void **state)
{
    static const char *const cases[] = {
        "RTSP/1.0 2000 OK\r\n\r\n",
        "RTSP/1.0 20 OK\r\n\r\n",
        "RTSP/x.0 200 OK\r\n\r\n",
        "RTSP/1.0 099 Low\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n",
        "RTSP/1.0 200 OK\r\nNoColon\r\n\r\n",
        "RTSP/1.0 200 OK\r\n: empty name\r\n\r\n",
        "RTSP/1.0 200 OK\r\nCSeq: 1\r\n folded\r\n\r\n",
        "RTSP/1.0 200 OK\r\nX: a\001b\r\n\r\n",
        "RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n",
        "RTSP/1.0 200 OK\r\nContent-Length: \r\n\r\n",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
        if (feed(h, cases[i]) != SL_ERR_PROTO) {
            print_error("case %zu: %d\n", i, h->last_rc);
            fail();
        }
        assert_int_equal(h->errors, 1);
        finish(h);
    }
}

/* Session values: the timeout, clamped, and what cannot be echoed. */
static void test_session(void **state)
{
    static const struct {
        const char *value;
        int rc;
        const char *id;
        uint32_t ms;
    } cases[] = {
        {"abc;timeout=10", SL_OK, "abc", 5000},
        {"abc ; timeout = 90 ", SL_OK, "abc", 45000},
        {"abc;Timeout=0", SL_OK, "abc", 30000},
        {"abc;timeout=x", SL_OK, "abc", 30000},
        {"abc;timeout=999999999999", SL_OK, "abc", 30000},
        {"abc;timeout=100000", SL_OK, "abc", SL_RTSP_CLIENT_TIMEOUT_MAX * 500u},
        {"a\"b c", SL_ERR_PROTO, "", 30000},
        {";timeout=5", SL_ERR_PROTO, "", 30000},
        {"", SL_ERR_PROTO, "", 30000},
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        harness_t *h = start("rtsp://cam/s", SL_RTSP_CLIENT_TCP, NULL);
        serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
        char sdp[512];
        video_sdp(sdp, sizeof(sdp), "", "");
        assert_int_equal(serve_sdp(h, 2, "", sdp), SL_OK);
        char msg[256];
        snprintf(msg, sizeof(msg), "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: %s\r\n\r\n", cases[i].value);
        assert_int_equal(feed(h, msg), cases[i].rc);
        assert_string_equal(h->c.session, cases[i].id);
        assert_int_equal(sl_rtsp_client_keepalive_ms(&h->c), cases[i].ms);
        finish(h);
    }
}

/* A 401 to a keep-alive is not fatal; its challenge serves the next requests. */
static void test_keepalive_challenge(void **state)
{
    harness_t *h = start("rtsp://admin:secret@cam.local/Streaming/Channels/101", SL_RTSP_CLIENT_TCP, "0a4f113b");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
    char sdp[512];
    video_sdp(sdp, sizeof(sdp), "", "");
    assert_int_equal(serve_sdp(h, 2, "Content-Base: " CAM_BASE "\r\n", sdp), SL_OK);
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: s\r\n\r\n");
    serve(h, "RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n");
    assert_int_equal(h->ready, 1);
    assert_int_equal(sl_rtsp_client_keepalive(&h->c, &h->out), SL_OK);
    h->checked = h->out.len;
    serve(h, "RTSP/1.0 401 Unauthorized\r\nCSeq: 5\r\n" DIGEST_HDR "\r\n");
    expect_nothing_sent(h);
    assert_int_equal(h->errors, 0);
    assert_int_equal(sl_rtsp_client_teardown(&h->c, &h->out), SL_OK);
    expect_sent(h, "TEARDOWN " CAM_BASE " RTSP/1.0\r\nCSeq: 6\r\nUser-Agent: sluice\r\nSession: s\r\n"
                   DIGEST_AUTH(CAM_BASE, "595de635165562c737d1a989ddc869c9")
                   "\r\n");
    finish(h);
}

static void test_init_checks(void **state)
{
    sl_rtsp_client_t c;
    sl_bytes_t out;
    sl_bytes_init(&out);
    sl_rtsp_url_t url;
    assert_int_equal(sl_rtsp_url_parse("rtsp://cam/s", &url), SL_OK);
    static const sl_rtsp_client_ops_t no_udp = {0};
    sl_rtsp_client_cfg_t cfg = {.url = &url, .transport = SL_RTSP_CLIENT_UDP};
    assert_int_equal(sl_rtsp_client_init(&c, &cfg, &no_udp, NULL, &out), SL_ERR_CONFIG);
    sl_rtsp_client_free(&c);
    cfg.transport = SL_RTSP_CLIENT_TCP;
    cfg.cnonce = "a\"b";
    assert_int_equal(sl_rtsp_client_init(&c, &cfg, NULL, NULL, &out), SL_ERR_CONFIG);
    assert_int_equal(sl_rtsp_client_feed(&c, (const uint8_t *)"x", 1, &out), SL_ERR_CONFIG);
    sl_rtsp_client_free(&c);
    cfg.cnonce = NULL;
    url.request_url[0] = '\0';
    assert_int_equal(sl_rtsp_client_init(&c, &cfg, NULL, NULL, &out), SL_ERR_CONFIG);
    sl_rtsp_client_free(&c);
    assert_int_equal(out.len, 0);
    sl_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_camera_tcp_digest),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_digest_qop),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_prefers_digest),
        cmocka_unit_test(test_stale_then_wrong),
        cmocka_unit_test(test_stale_forever),
        cmocka_unit_test(test_no_credentials),
        cmocka_unit_test(test_unknown_scheme),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_options_refused),
        cmocka_unit_test(test_unsupported_transport),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_url_resolution),
        cmocka_unit_test(test_bad_control),
        cmocka_unit_test(test_no_usable_track),
        cmocka_unit_test(test_track_limit),
        cmocka_unit_test(test_strays),
        cmocka_unit_test(test_server_request),
        cmocka_unit_test(test_unknown_channel),
        cmocka_unit_test(test_rtp_error),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_keepalive_challenge),
        cmocka_unit_test(test_init_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
