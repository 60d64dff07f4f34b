/* SDP parsing, lookups, codec parameters and writing, against descriptions written
 * by real tools (ffmpeg -sdp_file output, copied verbatim) and ones written by hand
 * after what gst-rtsp-server, IP cameras and Chrome send. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "protocols/codec/h264.h"
#include "protocols/codec/h265.h"
#include "protocols/rtp/sdp.h"

/* ffmpeg -f lavfi -t 1 -i testsrc2=size=1280x720:rate=30 -f lavfi -t 1 -i sine
 *   -map 0:v -c:v libx264 -profile:v high -flags +global_header -f rtp rtp://127.0.0.1:5004
 *   -map 1:a -c:a aac -ac 2 -ar 44100 -f rtp rtp://127.0.0.1:5006 -sdp_file x.sdp
 * Note the blank after ';' before sprop-parameter-sets and config, as ffmpeg writes. */
static const char FFMPEG_H264_AAC[] =
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\r\n"
    "m=video 5004 RTP/AVP 96\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1; "
    "sprop-parameter-sets=Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=,aOvjyyLA; "
    "profile-level-id=64001F\r\n"
    "m=audio 5006 RTP/AVP 97\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "b=AS:128\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
    "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; "
    "config=121056E500\r\n";

/* The same with -c:v libx265 and -c:a libopus -ac 2 -ar 48000. */
static const char FFMPEG_H265_OPUS[] =
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\r\n"
    "m=video 5008 RTP/AVP 96\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "a=rtpmap:96 H265/90000\r\n"
    "a=fmtp:96 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwBdlZgJ; "
    "sprop-sps=QgEBAWAAAAMAkAAAAwAAAwBdoAKAgC0WWVmkkyvAWgIAAAMAAgAAAwA8EA==; sprop-pps=RAHBcrRiQA==\r\n"
    "m=audio 5010 RTP/AVP 97\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "b=AS:96\r\n"
    "a=rtpmap:97 opus/48000/2\r\n"
    "a=fmtp:97 sprop-stereo=1\r\n";

/* What ffmpeg's RTSP muxer ANNOUNCEs (libavformat/sdp.c with a=control:streamid=N
 * and the session c= line), for a baseline stream. */
static const char FFMPEG_ANNOUNCE[] =
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat 59.27.100\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "b=AS:2000\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LADdkBQfsBEAAAAwAQAAADA8DxQqSA,aMuDyyA=; "
    "profile-level-id=42C00D\r\n"
    "a=control:streamid=0\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "b=AS:128\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/48000/1\r\n"
    "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; "
    "config=1188\r\n"
    "a=control:streamid=1\r\n";

/* gst-rtsp-server's DESCRIBE answer shape: session control "*", media-level c=,
 * lowercase profile-level-id, unpadded sprop, extra attributes. */
static const char GSTREAMER[] =
    "v=0\r\n"
    "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:2000\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=framerate:30\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA,aOvjyyLA;"
    "profile-level-id=64001f;level-asymmetry-allowed=1\r\n"
    "a=control:stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n";

/* An IP camera's answer (Hikvision shape): LF line endings, absolute control URLs,
 * e= and b= lines, vendor attributes, blanks after ';'. */
static const char CAMERA[] =
    "v=0\n"
    "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64\n"
    "s=Media Presentation\n"
    "e=NONE\n"
    "b=AS:5050\n"
    "t=0 0\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast\n"
    "m=video 0 RTP/AVP 96\n"
    "c=IN IP4 0.0.0.0\n"
    "b=AS:5000\n"
    "a=recvonly\n"
    "a=x-dimensions:1920,1080\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast\n"
    "a=rtpmap:96 H264/90000\n"
    "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "
    "sprop-parameter-sets=Z0LADdkBQfsBEAAAAwAQAAADA8DxQqSA,aMuDyyA=\n"
    "a=Media_header:MEDIAINFO="
    "494D4B48010100000400000100000000000000000000000000000000000000000000000000000000;\n"
    "a=appversion:1.0\n";

/* A Chrome WHIP offer, trimmed to a few payload types per section. */
static const char CHROME_OFFER[] =
    "v=0\r\n"
    "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1 2\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS 7b3f3f1c-4a3e-4bd4-a6b4-31c2f3f1a1a1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:1467250027 1 udp 2122260223 192.168.1.10 46243 typ host generation 0 network-id 1\r\n"
    "a=candidate:3825285787 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active generation 0\r\n"
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:"
    "52:CE:E6:0F\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=sendonly\r\n"
    "a=msid:7b3f3f1c-4a3e-4bd4-a6b4-31c2f3f1a1a1 1a2b3c4d-aaaa-bbbb-cccc-0123456789ab\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:1234567890 cname:a1b2c3d4e5f6\r\n"
    "a=ssrc:1234567890 msid:7b3f3f1c-4a3e-4bd4-a6b4-31c2f3f1a1a1 "
    "1a2b3c4d-aaaa-bbbb-cccc-0123456789ab\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45 46\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:"
    "52:CE:E6:0F\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:45 AV1/90000\r\n"
    "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
    "a=rtpmap:46 rtx/90000\r\n"
    "a=fmtp:46 apt=45\r\n"
    "a=ssrc-group:FID 2233445566 3344556677\r\n"
    "a=ssrc:2233445566 cname:a1b2c3d4e5f6\r\n"
    "a=ssrc:3344556677 cname:a1b2c3d4e5f6\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
    "a=mid:2\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:262144\r\n";

/* Parameter sets of the x264/x265 streams in tests/unit/protocols/codec. */
static const char SPS_720[] = "6764001facd9405005bb0110000003001000000303c0f1831960";
static const char PPS_720[] = "68ebe3cb22c0";
static const char SPS_1080[] = "67640028acd940780227e5c044000003000400000300c83c60c658";
static const char SPS_240[] = "6742c00dd90141fb0110000003001000000303c0f142a480";
static const char PPS_240[] = "68cb83cb20";
static const char VPS_H265[] = "40010c01ffff01600000030090000003000003005d959809";
static const char SPS_H265[] = "42010101600000030090000003000003005da00280802d165959a4932bc05a0200"
                               "00030002000003003c10";
static const char PPS_H265[] = "4401c172b46240";
static const uint8_t ASC_44_STEREO[] = {0x12, 0x10, 0x56, 0xe5, 0x00};

typedef struct hexbuf {
    uint8_t data[256];
    size_t len;
} hexbuf_t;

static hexbuf_t hex(const char *s)
{
    hexbuf_t h = {.len = 0};
    size_t n = strlen(s);
    assert_true(n % 2 == 0 && n / 2 <= sizeof(h.data));
    for (size_t i = 0; i < n; i += 2) {
        unsigned x;
        assert_int_equal(sscanf(s + i, "%2x", &x), 1);
        h.data[h.len++] = (uint8_t)x;
    }
    return h;
}

static sl_sdp_t *parse_ok(const char *text)
{
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse(text, strlen(text), &sdp), SL_OK);
    assert_non_null(sdp);
    return sdp;
}

static int parse_rc(const char *text)
{
    sl_sdp_t *sdp = (sl_sdp_t *)1;
    int rc = sl_sdp_parse(text, strlen(text), &sdp);
    if (rc != SL_OK) assert_null(sdp);
    sl_sdp_free(sdp);
    return rc;
}

static void assert_bytes(const sl_bytes_t *b, const uint8_t *want, size_t len)
{
    assert_int_equal(b->len, len);
    assert_memory_equal(b->data, want, len);
}

static void assert_h264_record(const sl_bytes_t *rec, const char *sps, const char *pps)
{
    hexbuf_t s = hex(sps), p = hex(pps);
    sl_bytes_t want;
    sl_bytes_init(&want);
    assert_int_equal(sl_h264_build_config(s.data, s.len, p.data, p.len, &want), SL_OK);
    assert_bytes(rec, want.data, want.len);
    sl_bytes_free(&want);
}

static void assert_h265_record(const sl_bytes_t *rec)
{
    hexbuf_t v = hex(VPS_H265), s = hex(SPS_H265), p = hex(PPS_H265);
    sl_bytes_t want;
    sl_bytes_init(&want);
    assert_int_equal(sl_h265_build_config(v.data, v.len, s.data, s.len, p.data, p.len, &want), SL_OK);
    assert_bytes(rec, want.data, want.len);
    sl_bytes_free(&want);
}

static void test_ffmpeg_h264_aac(void **state)
{
    sl_sdp_t *sdp = parse_ok(FFMPEG_H264_AAC);
    assert_string_equal(sdp->origin.username, "-");
    assert_string_equal(sdp->origin.sess_id, "0");
    assert_string_equal(sdp->origin.sess_version, "0");
    assert_string_equal(sdp->origin.nettype, "IN");
    assert_string_equal(sdp->origin.addrtype, "IP4");
    assert_string_equal(sdp->origin.address, "127.0.0.1");
    assert_string_equal(sdp->name, "No Name");
    assert_null(sdp->conn.address);
    assert_int_equal(sdp->start, 0);
    assert_int_equal(sdp->stop, 0);
    assert_null(sdp->control);
    assert_int_equal(sdp->attr_count, 1);
    assert_string_equal(sl_sdp_session_attr_get(sdp, "tool"), "libavformat LIBAVFORMAT_VERSION");
    assert_int_equal(sdp->media_count, 2);

    const sl_sdp_media_t *v = &sdp->media[0];
    assert_string_equal(v->type, "video");
    assert_int_equal(v->port, 5004);
    assert_string_equal(v->proto, "RTP/AVP");
    assert_string_equal(v->formats, "96");
    assert_int_equal(v->pt_count, 1);
    assert_int_equal(v->pts[0], 96);
    assert_string_equal(v->conn.nettype, "IN");
    assert_string_equal(v->conn.addrtype, "IP4");
    assert_string_equal(v->conn.address, "127.0.0.1");
    assert_null(v->control);
    assert_int_equal(v->dir, SL_SDP_DIR_NONE);
    assert_int_equal(v->attr_count, 0);
    assert_int_equal(v->rtpmap_count, 1);
    const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(v, 96);
    assert_non_null(r);
    assert_string_equal(r->encoding, "H264");
    assert_int_equal(r->clock, 90000);
    assert_int_equal(r->channels, 0);
    assert_int_equal(sl_sdp_codec_of(r), SL_CODEC_H264);
    const sl_sdp_fmtp_t *f = sl_sdp_fmtp_of(v, 96);
    assert_non_null(f);
    assert_int_equal(f->param_count, 3);
    assert_string_equal(f->params[0].key, "packetization-mode");
    assert_string_equal(f->params[0].value, "1");
    assert_string_equal(f->params[1].key, "sprop-parameter-sets");
    assert_string_equal(f->params[1].value, "Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=,aOvjyyLA");
    assert_string_equal(f->params[2].key, "profile-level-id");
    assert_string_equal(sl_sdp_fmtp_get(v, 96, "PROFILE-LEVEL-ID"), "64001F");
    assert_null(sl_sdp_fmtp_get(v, 97, "profile-level-id"));
    assert_null(sl_sdp_fmtp_get(v, 96, "config"));

    const sl_sdp_media_t *a = &sdp->media[1];
    assert_string_equal(a->type, "audio");
    assert_int_equal(a->port, 5006);
    r = sl_sdp_rtpmap_get(a, 97);
    assert_string_equal(r->encoding, "MPEG4-GENERIC");
    assert_int_equal(r->clock, 44100);
    assert_int_equal(r->channels, 2);
    assert_int_equal(sl_sdp_codec_of(r), SL_CODEC_AAC);
    assert_int_equal(sl_sdp_fmtp_of(a, 97)->param_count, 6);
    assert_string_equal(sl_sdp_fmtp_get(a, 97, "config"), "121056E500");
    assert_string_equal(sl_sdp_fmtp_get(a, 97, "mode"), "AAC-hbr");

    /* The hub configurations: the record of the x264 parameter sets, the ASC. */
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(v, 96, &codec, &cfg), SL_OK);
    assert_int_equal(codec, SL_CODEC_H264);
    assert_h264_record(&cfg, SPS_720, PPS_720);
    cfg.len = 0;
    assert_int_equal(sl_sdp_media_config(a, 97, &codec, &cfg), SL_OK);
    assert_int_equal(codec, SL_CODEC_AAC);
    assert_bytes(&cfg, ASC_44_STEREO, sizeof(ASC_44_STEREO));
    sl_bytes_free(&cfg);
    sl_sdp_free(sdp);
}

static void test_ffmpeg_h265_opus(void **state)
{
    sl_sdp_t *sdp = parse_ok(FFMPEG_H265_OPUS);
    assert_int_equal(sdp->media_count, 2);
    const sl_sdp_media_t *v = &sdp->media[0], *a = &sdp->media[1];
    assert_int_equal(sl_sdp_codec_of(sl_sdp_rtpmap_get(v, 96)), SL_CODEC_H265);
    assert_string_equal(sl_sdp_fmtp_get(v, 96, "sprop-pps"), "RAHBcrRiQA==");
    const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(a, 97);
    assert_string_equal(r->encoding, "opus");
    assert_int_equal(r->clock, 48000);
    assert_int_equal(r->channels, 2);
    assert_ptr_equal(sl_sdp_rtpmap_find(a, "OPUS"), r);
    assert_string_equal(sl_sdp_fmtp_get(a, 97, "sprop-stereo"), "1");

    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(v, 96, &codec, &cfg), SL_OK);
    assert_int_equal(codec, SL_CODEC_H265);
    assert_h265_record(&cfg);
    cfg.len = 0;
    assert_int_equal(sl_sdp_media_config(a, 97, &codec, &cfg), SL_OK);
    assert_int_equal(codec, SL_CODEC_OPUS);
    static const uint8_t opus_head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0};
    assert_int_equal(cfg.len, sizeof(opus_head));
    assert_memory_equal(cfg.data, opus_head, sizeof(opus_head));
    sl_bytes_free(&cfg);
    sl_sdp_free(sdp);
}

static void test_ffmpeg_announce(void **state)
{
    sl_sdp_t *sdp = parse_ok(FFMPEG_ANNOUNCE);
    assert_string_equal(sdp->conn.address, "127.0.0.1");
    assert_int_equal(sdp->media_count, 2);
    assert_string_equal(sdp->media[0].control, "streamid=0");
    assert_string_equal(sl_sdp_attr_get(&sdp->media[1], "control"), "streamid=1");
    assert_int_equal(sdp->media[0].port, 0);
    assert_null(sdp->media[0].conn.address);

    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(&sdp->media[0], 96, &codec, &cfg), SL_OK);
    assert_h264_record(&cfg, SPS_240, PPS_240);
    cfg.len = 0;
    assert_int_equal(sl_sdp_media_config(&sdp->media[1], 97, &codec, &cfg), SL_OK);
    const uint8_t mono48[] = {0x11, 0x88};
    assert_bytes(&cfg, mono48, sizeof(mono48));
    sl_bytes_free(&cfg);
    sl_sdp_free(sdp);
}

static void test_gstreamer(void **state)
{
    sl_sdp_t *sdp = parse_ok(GSTREAMER);
    assert_string_equal(sdp->origin.sess_id, "1188340656180883");
    assert_string_equal(sdp->name, "Session streamed with GStreamer");
    assert_string_equal(sdp->control, "*");
    assert_int_equal(sdp->attr_count, 4);
    assert_string_equal(sl_sdp_session_attr_get(sdp, "range"), "npt=now-");
    const sl_sdp_media_t *v = &sdp->media[0];
    assert_string_equal(v->conn.address, "0.0.0.0");
    assert_string_equal(v->control, "stream=0");
    assert_string_equal(sl_sdp_attr_get(v, "framerate"), "30");
    assert_string_equal(sl_sdp_attr_get(v, "mediaclk"), "sender");
    assert_null(sl_sdp_attr_get(v, "rtpmap")); /* parsed, not kept generically */
    assert_int_equal(v->attr_count, 4);
    assert_string_equal(sl_sdp_fmtp_get(v, 96, "level-asymmetry-allowed"), "1");

    /* Unpadded base64 decodes to the same record as ffmpeg's padded one. */
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(v, 96, &codec, &cfg), SL_OK);
    assert_h264_record(&cfg, SPS_720, PPS_720);
    sl_bytes_free(&cfg);
    sl_sdp_free(sdp);
}

static void test_camera(void **state)
{
    sl_sdp_t *sdp = parse_ok(CAMERA);
    assert_string_equal(sdp->origin.sess_version, "1109162014219192");
    assert_string_equal(sdp->origin.address, "192.168.1.64");
    assert_string_equal(sdp->name, "Media Presentation");
    assert_string_equal(sdp->control,
                        "rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast");
    const sl_sdp_media_t *v = &sdp->media[0];
    assert_int_equal(v->dir, SL_SDP_DIR_RECVONLY);
    assert_non_null(sl_sdp_attr_get(v, "recvonly"));
    assert_string_equal(sl_sdp_attr_get(v, "recvonly"), "");
    assert_string_equal(
        v->control, "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast");
    assert_string_equal(sl_sdp_attr_get(v, "x-dimensions"), "1920,1080");
    /* Only the first ':' separates the name. */
    assert_string_equal(
        sl_sdp_attr_get(v, "Media_header"),
        "MEDIAINFO=494D4B48010100000400000100000000000000000000000000000000000000000000000000000000;");
    assert_string_equal(sl_sdp_fmtp_get(v, 96, "profile-level-id"), "420029");
    assert_string_equal(sl_sdp_fmtp_get(v, 96, "packetization-mode"), "1");
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(v, 96, &codec, &cfg), SL_OK);
    assert_h264_record(&cfg, SPS_240, PPS_240);
    sl_bytes_free(&cfg);
    sl_sdp_free(sdp);
}

static void test_chrome_offer(void **state)
{
    sl_sdp_t *sdp = parse_ok(CHROME_OFFER);
    assert_string_equal(sdp->origin.sess_id, "4215775240449105457");
    assert_string_equal(sdp->name, "-");
    assert_string_equal(sl_sdp_session_attr_get(sdp, "group"), "BUNDLE 0 1 2");
    assert_string_equal(sl_sdp_session_attr_get(sdp, "extmap-allow-mixed"), "");
    assert_string_equal(sl_sdp_session_attr_get(sdp, "msid-semantic"),
                        "WMS 7b3f3f1c-4a3e-4bd4-a6b4-31c2f3f1a1a1");
    assert_null(sl_sdp_session_attr_get(sdp, "ice-ufrag"));
    assert_int_equal(sdp->media_count, 3);

    const sl_sdp_media_t *a = &sdp->media[0];
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(a->port, 9);
    assert_int_equal(a->pt_count, 8);
    const uint8_t apts[] = {111, 63, 9, 0, 8, 13, 110, 126};
    assert_memory_equal(a->pts, apts, sizeof(apts));
    assert_string_equal(a->mid, "0");
    assert_true(a->rtcp_mux);
    assert_int_equal(a->dir, SL_SDP_DIR_SENDONLY);
    assert_string_equal(sl_sdp_attr_get(a, "ice-ufrag"), "EsAw");
    assert_string_equal(sl_sdp_attr_get(a, "ice-pwd"), "P2uYro0UCOQ4zxjKXaWCBui1");
    assert_string_equal(sl_sdp_attr_get(a, "setup"), "actpass");
    assert_true(strncmp(sl_sdp_attr_get(a, "fingerprint"), "sha-256 D2:FA:", 14) == 0);
    int pos = 0;
    assert_string_equal(
        sl_sdp_attr_next(a, "candidate", &pos),
        "1467250027 1 udp 2122260223 192.168.1.10 46243 typ host generation 0 network-id 1");
    assert_string_equal(
        sl_sdp_attr_next(a, "candidate", &pos),
        "3825285787 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active generation 0");
    assert_null(sl_sdp_attr_next(a, "candidate", &pos));
    assert_null(sl_sdp_attr_next(a, "candidate", &pos));
    assert_int_equal(a->rtpmap_count, 8);
    assert_int_equal(a->fmtp_count, 2);
    const sl_sdp_rtpmap_t *opus = sl_sdp_rtpmap_find(a, "opus");
    assert_int_equal(opus->pt, 111);
    assert_string_equal(sl_sdp_fmtp_get(a, 111, "useinbandfec"), "1");
    assert_string_equal(sl_sdp_fmtp_of(a, 63)->raw, "111/111");
    assert_string_equal(sl_sdp_fmtp_of(a, 63)->params[0].key, "111/111");
    assert_string_equal(sl_sdp_fmtp_of(a, 63)->params[0].value, "");
    assert_int_equal(sl_sdp_rtpmap_get(a, 0)->clock, 8000);

    const sl_sdp_media_t *v = &sdp->media[1];
    assert_int_equal(v->pt_count, 6);
    assert_string_equal(v->formats, "96 97 102 103 45 46");
    const sl_sdp_rtpmap_t *h264 = sl_sdp_rtpmap_find(v, "h264");
    assert_non_null(h264);
    assert_int_equal(h264->pt, 102);
    assert_string_equal(sl_sdp_fmtp_get(v, 102, "profile-level-id"), "42001f");
    assert_string_equal(sl_sdp_fmtp_get(v, 103, "apt"), "102");
    assert_int_equal(sl_sdp_rtpmap_find(v, "rtx")->pt, 97);
    assert_null(sl_sdp_rtpmap_find(v, "VP9"));
    pos = 0;
    int fb = 0;
    while (sl_sdp_attr_next(v, "rtcp-fb", &pos)) fb++;
    assert_int_equal(fb, 6);
    pos = 0;
    assert_string_equal(sl_sdp_attr_next(v, "ssrc", &pos), "2233445566 cname:a1b2c3d4e5f6");
    assert_string_equal(sl_sdp_attr_next(v, "ssrc", &pos), "3344556677 cname:a1b2c3d4e5f6");
    assert_null(sl_sdp_attr_next(v, "ssrc", &pos));
    assert_string_equal(sl_sdp_attr_get(v, "ssrc-group"), "FID 2233445566 3344556677");
    assert_int_equal(sl_sdp_codec_of(sl_sdp_rtpmap_get(v, 96)), SL_CODEC_NONE);
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    /* A WebRTC offer carries no parameter sets: they come in-band. */
    assert_int_equal(sl_sdp_media_config(v, 102, &codec, &cfg), SL_ERR_NOT_FOUND);
    assert_int_equal(codec, SL_CODEC_H264);
    assert_int_equal(sl_sdp_media_config(v, 96, &codec, &cfg), SL_ERR_UNSUPPORTED);
    assert_int_equal(cfg.len, 0);

    const sl_sdp_media_t *d = &sdp->media[2];
    assert_string_equal(d->type, "application");
    assert_string_equal(d->proto, "UDP/DTLS/SCTP");
    assert_string_equal(d->formats, "webrtc-datachannel");
    assert_int_equal(d->pt_count, 0);
    assert_string_equal(d->mid, "2");
    assert_string_equal(sl_sdp_attr_get(d, "sctp-port"), "5000");
    assert_false(d->rtcp_mux);
    sl_sdp_free(sdp);
}

/* Lines the parser skips or tolerates. */
static void test_lenient(void **state)
{
    sl_sdp_t *sdp = parse_ok("\r\nv=0  \n\n"
                             "o=alice 1 2 IN IP6 ::1\n"
                             "s=\n"
                             "x=unknown type\n"
                             "a=\n"
                             "a=:orphan value\n"
                             "a=sendonly\n"
                             "m=audio 49170/2 RTP/AVP 0 8\n"
                             "i=title\n"
                             "a=rtpmap:0 PCMU/8000  \n"
                             "a=fmtp:8\n"
                             "a=fmtp:0 ;; a = 1 ;b=x=y; flag ;\n"
                             "a=control: trackID=5\n"
                             "a=inactive\n"
                             "t=1 2\n"
                             "s=ignored in a section");
    assert_string_equal(sdp->origin.username, "alice");
    assert_string_equal(sdp->origin.address, "::1");
    assert_string_equal(sdp->name, "");
    assert_int_equal(sdp->dir, SL_SDP_DIR_SENDONLY);
    assert_int_equal(sdp->attr_count, 1);
    assert_int_equal(sdp->start, 0);
    const sl_sdp_media_t *m = &sdp->media[0];
    assert_int_equal(m->port, 49170);
    assert_int_equal(m->pt_count, 2);
    assert_int_equal(m->pts[1], 8);
    assert_string_equal(sl_sdp_rtpmap_get(m, 0)->encoding, "PCMU");
    assert_string_equal(sl_sdp_fmtp_of(m, 8)->raw, "");
    assert_int_equal(sl_sdp_fmtp_of(m, 8)->param_count, 0);
    const sl_sdp_fmtp_t *f = sl_sdp_fmtp_of(m, 0);
    assert_int_equal(f->param_count, 3);
    assert_string_equal(f->params[0].key, "a");
    assert_string_equal(f->params[0].value, "1");
    assert_string_equal(f->params[1].key, "b");
    assert_string_equal(f->params[1].value, "x=y");
    assert_string_equal(f->params[2].key, "flag");
    assert_string_equal(f->params[2].value, "");
    assert_string_equal(m->control, "trackID=5");
    assert_int_equal(m->dir, SL_SDP_DIR_INACTIVE);
    sl_sdp_free(sdp);

    /* Past the first section, later m= lines open new sections with their own runs of
     * attributes. */
    sdp = parse_ok(
        "v=0\nm=video 0 RTP/AVP 96\na=x:1\na=rtpmap:96 H264/90000\nm=video 0 RTP/AVP 96\na=y:2\n");
    assert_int_equal(sdp->media[0].attr_count, 1);
    assert_int_equal(sdp->media[1].attr_count, 1);
    assert_string_equal(sdp->media[1].attrs[0].name, "y");
    assert_int_equal(sdp->media[1].rtpmap_count, 0);
    assert_null(sl_sdp_rtpmap_get(&sdp->media[1], 96));
    sl_sdp_free(sdp);
    sl_sdp_free(NULL);
}

/* The parsed description owns its strings: the input can go. */
static void test_copies_values(void **state)
{
    char *text = strdup(FFMPEG_H264_AAC);
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse(text, strlen(text), &sdp), SL_OK);
    memset(text, 'x', strlen(text));
    free(text);
    assert_string_equal(sdp->name, "No Name");
    assert_string_equal(sl_sdp_fmtp_get(&sdp->media[1], 97, "config"), "121056E500");
    sl_sdp_free(sdp);
}

static void test_malformed(void **state)
{
    assert_int_equal(parse_rc(""), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_parse(NULL, 0, &(sl_sdp_t *){NULL}), SL_ERR_PROTO);
    assert_int_equal(parse_rc("\r\n\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("o=- 0 0 IN IP4 1.2.3.4\r\nv=0\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=1\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nv=0\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\ngarbage\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\ns\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\ns=a\rb\r\n"), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_parse("v=0\ns=a\0b\n", 10, &(sl_sdp_t *){NULL}), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\no=- 0 0 IN IP4\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\no=- 0 0 IN IP4 a b\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 0 RTP/AVP 96\r\no=- 0 0 IN IP4 a\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nc=IN IP4\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nt=0\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nt=now 0\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nt=0 18446744073709551616\r\n"), SL_ERR_PROTO);
    /* m= lines missing fields or with bad values. */
    assert_int_equal(parse_rc("v=0\r\nm=video\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 0 RTP/AVP\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 0 RTP/AVP   \r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video x RTP/AVP 96\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 65536 RTP/AVP 96\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 0/ RTP/AVP 96\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 0 RTP/AVP 128\r\n"), SL_ERR_PROTO);
    assert_int_equal(parse_rc("v=0\r\nm=video 0 RTP/AVP 96 h264\r\n"), SL_ERR_PROTO);
    /* Bad rtpmap and fmtp lines in an RTP section. */
    static const char *const bad_attrs[] = {
        "a=rtpmap:96 H264",
        "a=rtpmap:96 /90000",
        "a=rtpmap:x H264/90000",
        "a=rtpmap:96 H264/0",
        "a=rtpmap:96 H264/90000/2/3",
        "a=rtpmap:96 H264/90000/0",
        "a=rtpmap:96 H264/4294967296",
        "a=rtpmap:96",
        "a=rtpmap:96 H 264/90000",
        "a=rtpmap:300 H264/90000",
        "a=fmtp:abc x=1",
        "a=fmtp:96 =1",
        "a=fmtp:",
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad_attrs); i++) {
        char text[128];
        snprintf(text, sizeof(text), "v=0\r\nm=video 0 RTP/AVP 96\r\n%s\r\n", bad_attrs[i]);
        assert_int_equal(parse_rc(text), SL_ERR_PROTO);
    }
    /* Outside RTP sections the same lines are plain attributes. */
    sl_sdp_t *sdp = parse_ok("v=0\r\na=rtpmap:bad\r\nm=application 9 UDP/DTLS/SCTP x\r\na=fmtp:x y\r\n");
    assert_string_equal(sl_sdp_session_attr_get(sdp, "rtpmap"), "bad");
    assert_string_equal(sl_sdp_attr_get(&sdp->media[0], "fmtp"), "x y");
    sl_sdp_free(sdp);
}

static void test_limits(void **state)
{
    sl_bytes_t t;
    sl_bytes_init(&t);
    /* 16 sections parse, a 17th is refused. */
    assert_int_equal(sl_bytes_append(&t, "v=0\r\n", 5), SL_OK);
    for (int i = 0; i < SL_SDP_MAX_MEDIA; i++)
        assert_int_equal(sl_bytes_append(&t, "m=audio 0 RTP/AVP 0\r\n", 21), SL_OK);
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_OK);
    assert_int_equal(sdp->media_count, SL_SDP_MAX_MEDIA);
    sl_sdp_free(sdp);
    assert_int_equal(sl_bytes_append(&t, "m=audio 0 RTP/AVP 0\r\n", 21), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_ERR_TOO_BIG);
    assert_null(sdp);

    /* A line of SL_SDP_MAX_LINE bytes parses, one more byte does not. */
    t.len = 0;
    assert_int_equal(sl_bytes_append(&t, "v=0\r\na=x:", 9), SL_OK);
    for (int i = 0; i < SL_SDP_MAX_LINE - 4; i++) assert_int_equal(sl_bytes_put_u8(&t, 'y'), SL_OK);
    assert_int_equal(sl_bytes_append(&t, "\r\n", 2), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_OK);
    assert_int_equal(strlen(sl_sdp_session_attr_get(sdp, "x")), SL_SDP_MAX_LINE - 4);
    sl_sdp_free(sdp);
    t.len -= 2;
    assert_int_equal(sl_bytes_append(&t, "y\r\n", 3), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_ERR_TOO_BIG);

    /* Attributes per section. */
    t.len = 0;
    assert_int_equal(sl_bytes_append(&t, "v=0\r\nm=video 0 RTP/AVP 96\r\n", 27), SL_OK);
    for (int i = 0; i < SL_SDP_MAX_ATTRS; i++)
        assert_int_equal(sl_bytes_append(&t, "a=ssrc:1\r\n", 10), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_OK);
    assert_int_equal(sdp->media[0].attr_count, SL_SDP_MAX_ATTRS);
    sl_sdp_free(sdp);
    assert_int_equal(sl_bytes_append(&t, "a=ssrc:1\r\n", 10), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_ERR_TOO_BIG);

    /* Payload types on one m= line. */
    t.len = 0;
    assert_int_equal(sl_bytes_append(&t, "v=0\r\nm=video 0 RTP/AVP", 22), SL_OK);
    for (int i = 0; i <= SL_SDP_MAX_FORMATS; i++) assert_int_equal(sl_bytes_append(&t, " 96", 3), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_ERR_TOO_BIG);

    /* Parameters of one fmtp line. */
    t.len = 0;
    assert_int_equal(sl_bytes_append(&t, "v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:96 ", 37), SL_OK);
    for (int i = 0; i <= SL_SDP_MAX_FMTP_PARAMS; i++)
        assert_int_equal(sl_bytes_append(&t, "k=v;", 4), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_ERR_TOO_BIG);

    /* The whole description. */
    t.len = 0;
    assert_int_equal(sl_bytes_append(&t, "v=0\r\n", 5), SL_OK);
    while (t.len <= SL_SDP_MAX_SIZE) assert_int_equal(sl_bytes_append(&t, "i=padding\r\n", 11), SL_OK);
    assert_int_equal(sl_sdp_parse((char *)t.data, t.len, &sdp), SL_ERR_TOO_BIG);
    sl_bytes_free(&t);
}

static void test_sprop_decode(void **state)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    /* Padded and unpadded forms of the same units. */
    assert_int_equal(sl_sdp_sprop_decode("Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=,aOvjyyLA", &b), SL_OK);
    hexbuf_t sps = hex(SPS_720), pps = hex(PPS_720);
    assert_int_equal(b.len, 4 + sps.len + 4 + pps.len);
    assert_int_equal(sl_rd_be32(&(sl_reader_t){b.data, b.data + 4, false}), sps.len);
    assert_memory_equal(b.data + 4, sps.data, sps.len);
    assert_memory_equal(b.data + 8 + sps.len, pps.data, pps.len);
    sl_bytes_t b2;
    sl_bytes_init(&b2);
    assert_int_equal(sl_sdp_sprop_decode("Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA,aOvjyyLA", &b2), SL_OK);
    assert_bytes(&b2, b.data, b.len);

    /* Errors leave the output as it was. */
    size_t len = b.len;
    static const char *const bad[] = {"",     ",", "aOvjyyLA,", ",aOvjyyLA",     "aOvj yyLA",
                                      "aOv*", "a", "==",        "aOvjyyLA,a=b=", "aO=j"};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        assert_int_equal(sl_sdp_sprop_decode(bad[i], &b), SL_ERR_PROTO);
        assert_int_equal(b.len, len);
    }
    sl_bytes_free(&b);
    sl_bytes_free(&b2);
}

static void test_hex_and_profile(void **state)
{
    sl_bytes_t b;
    sl_bytes_init(&b);
    assert_int_equal(sl_sdp_hex_decode("121056e500", &b), SL_OK);
    assert_bytes(&b, ASC_44_STEREO, sizeof(ASC_44_STEREO));
    assert_int_equal(sl_sdp_hex_decode("1", &b), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_hex_decode("", &b), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_hex_decode("12g0", &b), SL_ERR_PROTO);
    assert_int_equal(b.len, sizeof(ASC_44_STEREO));
    sl_bytes_free(&b);

    char pli[7];
    hexbuf_t s = hex(SPS_720), p = hex(PPS_720), s240 = hex(SPS_240);
    assert_int_equal(sl_sdp_h264_profile_level_id(s.data, s.len, pli), SL_OK);
    assert_string_equal(pli, "64001F");
    assert_int_equal(sl_sdp_h264_profile_level_id(s240.data, s240.len, pli), SL_OK);
    assert_string_equal(pli, "42C00D");
    assert_int_equal(sl_sdp_h264_profile_level_id(p.data, p.len, pli), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_h264_profile_level_id(s.data, 3, pli), SL_ERR_PROTO);
}

static void test_media_config_errors(void **state)
{
    sl_sdp_t *sdp = parse_ok("v=0\r\n"
                             "m=audio 0 RTP/AVP 97 98 99 100 101\r\n"
                             "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
                             "a=fmtp:97 config=1210\r\n"
                             "a=rtpmap:98 MPEG4-GENERIC/44100/2\r\n"
                             "a=fmtp:98 mode=AAC-hbr\r\n"
                             "a=rtpmap:99 MPEG4-GENERIC/44100/2\r\n"
                             "a=fmtp:99 mode=AAC-hbr;config=F8\r\n"
                             "a=rtpmap:100 H264/90000\r\n"
                             "a=fmtp:100 sprop-parameter-sets=aOvjyyLA\r\n"
                             "a=rtpmap:101 H265/90000\r\n"
                             "a=fmtp:101 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwBdlZgJ;sprop-sps=%%%\r\n");
    const sl_sdp_media_t *m = &sdp->media[0];
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(m, 96, &codec, &cfg), SL_ERR_NOT_FOUND);   /* no rtpmap */
    assert_int_equal(sl_sdp_media_config(m, 97, &codec, &cfg), SL_ERR_UNSUPPORTED); /* no mode */
    assert_int_equal(sl_sdp_media_config(m, 98, &codec, &cfg), SL_ERR_NOT_FOUND);   /* no config */
    assert_int_equal(sl_sdp_media_config(m, 99, &codec, &cfg), SL_ERR_PROTO);       /* not an ASC */
    assert_int_equal(sl_sdp_media_config(m, 100, &codec, &cfg), SL_ERR_NOT_FOUND);  /* PPS only */
    assert_int_equal(sl_sdp_media_config(m, 101, &codec, &cfg), SL_ERR_PROTO);      /* bad base64 */
    assert_int_equal(cfg.len, 0);
    sl_bytes_free(&cfg);
    sl_sdp_free(sdp);
}

/* The DESCRIBE answer of a stream published over RTMP: x264 1080p High and AAC
 * 44100 Hz stereo, built from hub CONFIG frames. The expected text was written out by
 * hand, with the base64 from Python's base64 module. */
static void test_describe_from_config(void **state)
{
    hexbuf_t sps = hex(SPS_1080), pps = hex(PPS_720);
    sl_bytes_t rec;
    sl_bytes_init(&rec);
    assert_int_equal(sl_h264_build_config(sps.data, sps.len, pps.data, pps.len, &rec), SL_OK);
    sl_frame_t *vcfg =
        sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, rec.data, rec.len);
    const uint8_t asc[] = {0x12, 0x10};
    sl_frame_t *acfg =
        sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, asc, sizeof(asc));
    assert_non_null(vcfg);
    assert_non_null(acfg);

    sl_sdp_media_desc_t media[2];
    assert_int_equal(sl_sdp_media_from_config(vcfg, 96, &media[0]), SL_OK);
    media[0].control = "trackID=0";
    assert_int_equal(sl_sdp_media_from_config(acfg, 97, &media[1]), SL_OK);
    media[1].control = "trackID=1";
    sl_sdp_session_desc_t s = {.session_id = 1234567,
                               .session_version = 1,
                               .origin_addr = "127.0.0.1",
                               .name = "sluice",
                               .conn_addr = "0.0.0.0",
                               .control = "*"};
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_sdp_write(&s, media, 2, &out), SL_OK);
    static const char want[] =
        "v=0\r\n"
        "o=- 1234567 1 IN IP4 127.0.0.1\r\n"
        "s=sluice\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "t=0 0\r\n"
        "a=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1;profile-level-id=640028;"
        "sprop-parameter-sets=Z2QAKKzZQHgCJ+XARAAAAwAEAAADAMg8YMZY,aOvjyyLA\r\n"
        "a=control:trackID=0\r\n"
        "m=audio 0 RTP/AVP 97\r\n"
        "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
        "a=fmtp:97 "
        "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210\r\n"
        "a=control:trackID=1\r\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);

    /* And back: what a client ANNOUNCEs this way yields the same configurations. */
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse((char *)out.data, out.len, &sdp), SL_OK);
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(&sdp->media[0], 96, &codec, &cfg), SL_OK);
    assert_bytes(&cfg, rec.data, rec.len);
    cfg.len = 0;
    assert_int_equal(sl_sdp_media_config(&sdp->media[1], 97, &codec, &cfg), SL_OK);
    assert_bytes(&cfg, asc, sizeof(asc));
    assert_string_equal(sdp->media[1].control, "trackID=1");

    sl_sdp_free(sdp);
    sl_bytes_free(&cfg);
    sl_bytes_free(&out);
    sl_bytes_free(&rec);
    sl_frame_unref(vcfg);
    sl_frame_unref(acfg);
}

static void test_h265_from_codec(void **state)
{
    hexbuf_t v = hex(VPS_H265), s = hex(SPS_H265), p = hex(PPS_H265);
    sl_bytes_t rec;
    sl_bytes_init(&rec);
    assert_int_equal(sl_h265_build_config(v.data, v.len, s.data, s.len, p.data, p.len, &rec), SL_OK);
    sl_sdp_media_desc_t d;
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_H265, rec.data, rec.len, 96, &d), SL_OK);
    assert_string_equal(d.type, "video");
    assert_string_equal(d.encoding, "H265");
    assert_int_equal(d.clock, 90000);
    assert_string_equal(d.fmtp, "sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwBdlZgJ;"
                                "sprop-sps=QgEBAWAAAAMAkAAAAwAAAwBdoAKAgC0WWVmkkyvAWgIAAAMAAgAAAwA8EA==;"
                                "sprop-pps=RAHBcrRiQA==");

    sl_sdp_session_desc_t sess = {.origin_addr = "::1"};
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_sdp_write(&sess, &d, 1, &out), SL_OK);
    static const char want[] = "v=0\r\n"
                               "o=- 0 0 IN IP6 ::1\r\n"
                               "s= \r\n"
                               "t=0 0\r\n"
                               "m=video 0 RTP/AVP 96\r\n"
                               "a=rtpmap:96 H265/90000\r\n";
    assert_true(out.len > strlen(want));
    assert_memory_equal(out.data, want, strlen(want));
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse((char *)out.data, out.len, &sdp), SL_OK);
    sl_bytes_t cfg;
    sl_bytes_init(&cfg);
    sl_codec_t codec;
    assert_int_equal(sl_sdp_media_config(&sdp->media[0], 96, &codec, &cfg), SL_OK);
    assert_int_equal(codec, SL_CODEC_H265);
    assert_bytes(&cfg, rec.data, rec.len);
    assert_string_equal(sdp->name, "");
    sl_sdp_free(sdp);
    sl_bytes_free(&cfg);
    sl_bytes_free(&out);
    sl_bytes_free(&rec);
}

static void test_audio_from_codec(void **state)
{
    sl_sdp_media_desc_t d;
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_AAC, ASC_44_STEREO, sizeof(ASC_44_STEREO), 97, &d),
                     SL_OK);
    assert_string_equal(d.type, "audio");
    assert_string_equal(d.encoding, "MPEG4-GENERIC");
    assert_int_equal(d.clock, 44100);
    assert_int_equal(d.channels, 2);
    assert_string_equal(d.fmtp, "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
                                "indexdeltalength=3;config=121056E500");
    /* HE-AAC: the clock is the SBR output rate. HE-AAC v2: a mono core, stereo out. */
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00}, ps[] = {0xeb, 0x09, 0x88, 0x00};
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_AAC, he, sizeof(he), 97, &d), SL_OK);
    assert_int_equal(d.clock, 44100);
    assert_int_equal(d.channels, 2);
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_AAC, ps, sizeof(ps), 97, &d), SL_OK);
    assert_int_equal(d.clock, 48000);
    assert_int_equal(d.channels, 2);

    /* Opus: always opus/48000/2; sprop-stereo from a two-channel OpusHead. */
    const uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0x38, 0x01, 0x80, 0xbb};
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_OPUS, head, sizeof(head), 111, &d), SL_OK);
    assert_string_equal(d.encoding, "opus");
    assert_int_equal(d.clock, 48000);
    assert_int_equal(d.channels, 2);
    assert_string_equal(d.fmtp, "sprop-stereo=1");
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_OPUS, NULL, 0, 111, &d), SL_OK);
    assert_string_equal(d.fmtp, "");

    /* A record whose parameter sets do not fit SL_SDP_FMTP_CAP once in base64. */
    static uint8_t big[11 + 2400 + 6];
    const uint8_t rec_head[] = {1, 0x64, 0, 0x1f, 0xff, 0xe1, 2400 >> 8, 2400 & 0xff, 0x67, 0x64, 0, 0x1f};
    memcpy(big, rec_head, sizeof(rec_head));
    const uint8_t tail[] = {1, 0, 4, 0x68, 0xeb, 0xe3, 0xcb};
    memcpy(big + 8 + 2400, tail, sizeof(tail));
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_H264, big, 8 + 2400 + sizeof(tail), 96, &d),
                     SL_ERR_TOO_BIG);

    const uint8_t junk[] = {0x01};
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_AAC, junk, 1, 97, &d), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_H264, junk, 1, 96, &d), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_H265, junk, 1, 96, &d), SL_ERR_PROTO);
    assert_int_equal(sl_sdp_media_from_codec(SL_CODEC_AMF0, junk, 1, 96, &d), SL_ERR_UNSUPPORTED);
}

/* A WebRTC-style answer through the generic parts of the writer, parsed back. */
static void test_write_generic(void **state)
{
    static const sl_sdp_attr_t sattrs[] = {{"group", "BUNDLE 0"}, {"ice-lite", ""}};
    static const sl_sdp_attr_t mattrs[] = {{"mid", "0"},
                                           {"rtcp-mux", ""},
                                           {"rtpmap", "97 rtx/90000"},
                                           {"fmtp", "97 apt=96"},
                                           {"candidate", "1 1 udp 2130706431 192.0.2.1 8000 typ host"}};
    sl_sdp_media_desc_t m = {.type = "video",
                             .port = 9,
                             .proto = "UDP/TLS/RTP/SAVPF",
                             .pt = 96,
                             .formats = "96 97",
                             .encoding = "H264",
                             .clock = 90000,
                             .fmtp = "packetization-mode=1",
                             .conn_addr = "0.0.0.0",
                             .dir = SL_SDP_DIR_SENDONLY,
                             .attrs = mattrs,
                             .attr_count = 5};
    sl_sdp_session_desc_t s = {
        .session_id = 42, .origin_addr = "127.0.0.1", .name = "-", .attrs = sattrs, .attr_count = 2};
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_sdp_write(&s, &m, 1, &out), SL_OK);
    static const char want[] = "v=0\r\n"
                               "o=- 42 0 IN IP4 127.0.0.1\r\n"
                               "s=-\r\n"
                               "t=0 0\r\n"
                               "a=group:BUNDLE 0\r\n"
                               "a=ice-lite\r\n"
                               "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
                               "c=IN IP4 0.0.0.0\r\n"
                               "a=rtpmap:96 H264/90000\r\n"
                               "a=fmtp:96 packetization-mode=1\r\n"
                               "a=sendonly\r\n"
                               "a=mid:0\r\n"
                               "a=rtcp-mux\r\n"
                               "a=rtpmap:97 rtx/90000\r\n"
                               "a=fmtp:97 apt=96\r\n"
                               "a=candidate:1 1 udp 2130706431 192.0.2.1 8000 typ host\r\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse((char *)out.data, out.len, &sdp), SL_OK);
    const sl_sdp_media_t *pm = &sdp->media[0];
    assert_int_equal(pm->pt_count, 2);
    assert_int_equal(pm->rtpmap_count, 2);
    assert_string_equal(sl_sdp_fmtp_get(pm, 97, "apt"), "96");
    assert_int_equal(pm->dir, SL_SDP_DIR_SENDONLY);
    assert_true(pm->rtcp_mux);
    assert_string_equal(pm->mid, "0");
    assert_string_equal(sl_sdp_session_attr_get(sdp, "ice-lite"), "");
    sl_sdp_free(sdp);

    /* Fields that would break the text are refused and nothing is written. */
    size_t len = out.len;
    sl_sdp_media_desc_t bad = m;
    bad.control = "trackID=0\r\nm=evil";
    assert_int_equal(sl_sdp_write(&s, &bad, 1, &out), SL_ERR_PROTO);
    bad = m;
    bad.type = "";
    assert_int_equal(sl_sdp_write(&s, &bad, 1, &out), SL_ERR_PROTO);
    bad = m;
    bad.clock = 0;
    assert_int_equal(sl_sdp_write(&s, &bad, 1, &out), SL_ERR_PROTO);
    bad = m;
    static const sl_sdp_attr_t colon[] = {{"a:b", "c"}};
    bad.attrs = colon;
    bad.attr_count = 1;
    assert_int_equal(sl_sdp_write(&s, &bad, 1, &out), SL_ERR_PROTO);
    sl_sdp_session_desc_t bs = s;
    bs.origin_addr = "1.2.3.4 x";
    assert_int_equal(sl_sdp_write(&bs, &m, 1, &out), SL_ERR_PROTO);
    bs = s;
    bs.name = "a\nb";
    assert_int_equal(sl_sdp_write(&bs, &m, 1, &out), SL_ERR_PROTO);
    bs = s;
    bs.origin_addr = NULL;
    assert_int_equal(sl_sdp_write(&bs, &m, 1, &out), SL_ERR_PROTO);
    assert_int_equal(out.len, len);
    sl_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ffmpeg_h264_aac),
        cmocka_unit_test(test_ffmpeg_h265_opus),
        cmocka_unit_test(test_ffmpeg_announce),
        cmocka_unit_test(test_gstreamer),
        cmocka_unit_test(test_camera),
        cmocka_unit_test(test_chrome_offer),
        cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_copies_values),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_sprop_decode),
        cmocka_unit_test(test_hex_and_profile),
        cmocka_unit_test(test_media_config_errors),
        cmocka_unit_test(test_describe_from_config),
        cmocka_unit_test(test_h265_from_codec),
        cmocka_unit_test(test_audio_from_codec),
        cmocka_unit_test(test_write_generic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
