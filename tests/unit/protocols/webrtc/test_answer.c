/* Tests for WebRTC offer negotiation and answers (protocols/webrtc/answer.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "fixtures.h"
#include "protocols/webrtc/answer.h"

#define UFRAG "sLu1cE42"
#define PWD "abcdefghijklmnopqrstuvwx"
#define OUR_FP "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"

static sl_sdp_t *parse(const char *text)
{
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse(text, strlen(text), &sdp), SL_OK);
    return sdp;
}

/* text with every occurrence of `from` replaced by `to`; the caller frees it. */
static char *replace(const char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + fl, from)) n++;
    assert_true(n > 0);
    char *out = malloc(strlen(text) + n * tl + 1), *w = out;
    assert_non_null(out);
    for (const char *p = text, *q; (q = strstr(p, from)) != NULL; p = q + fl) {
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, tl);
        w += tl;
        text = q + fl;
    }
    strcpy(w, text);
    return out;
}

typedef struct result {
    int rc;
    sl_webrtc_track_t tracks[SL_WEBRTC_MAX_TRACKS];
    int n;
    sl_webrtc_offer_info_t info;
    const char *reason;
} result_t;

static void negotiate(const char *text, bool publish, sl_codec_t codec, int profile, result_t *r)
{
    sl_sdp_t *sdp = parse(text);
    r->rc = sl_webrtc_negotiate(sdp, publish, codec, profile, r->tracks, &r->n, &r->info, &r->reason);
    sl_sdp_free(sdp);
}

static void test_chrome_whip(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHIP, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_null(r.reason);
    assert_int_equal(r.n, 2);
    const sl_webrtc_track_t *a = &r.tracks[0], *v = &r.tracks[1];
    assert_int_equal(a->media, SL_MEDIA_AUDIO);
    assert_int_equal(a->codec, SL_CODEC_OPUS);
    assert_int_equal(a->pt, 111);
    assert_int_equal(a->clock, 48000);
    assert_int_equal(a->channels, 2);
    assert_string_equal(a->mid, "0");
    assert_string_equal(a->fmtp, "minptime=10;useinbandfec=1");
    assert_false(a->nack);
    assert_int_equal(a->rtx_pt, 0);
    assert_int_equal(a->dir, SL_SDP_DIR_RECVONLY);
    /* Constrained baseline 106 wins over the earlier plain baseline 102. */
    assert_int_equal(v->media, SL_MEDIA_VIDEO);
    assert_int_equal(v->codec, SL_CODEC_H264);
    assert_int_equal(v->pt, 106);
    assert_int_equal(v->clock, 90000);
    assert_int_equal(v->profile, 0x42);
    assert_string_equal(v->mid, "1");
    assert_string_equal(v->fmtp, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    assert_true(v->nack);
    assert_true(v->pli);
    assert_int_equal(v->rtx_pt, 107);
    assert_int_equal(v->dir, SL_SDP_DIR_RECVONLY);

    assert_string_equal(r.info.ice_ufrag, "Xk2s");
    assert_string_equal(r.info.ice_pwd, "Lh2bXzvWmSwUoUR7rTD1aX3p");
    assert_string_equal(r.info.fingerprint, FX_FP);
    assert_string_equal(r.info.fingerprint_alg, "sha-256");
    assert_string_equal(r.info.fingerprint_value, &FX_FP[8]);
    assert_int_equal(r.info.setup, SL_WEBRTC_SETUP_ACTPASS);
    assert_int_equal(r.info.bundle_count, 2);
    assert_string_equal(r.info.bundle_mids[0], "0");
    assert_string_equal(r.info.bundle_mids[1], "1");
    assert_int_equal(r.info.candidate_count, 2);
}

static void test_chrome_whip_h265_wanted_but_absent(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHIP, true, SL_CODEC_H265, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.tracks[1].pt, 106);

    char *h265 = replace(FX_CHROME_WHIP, "a=rtpmap:45 AV1/90000", "a=rtpmap:45 H265/90000");
    negotiate(h265, true, SL_CODEC_H265, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.tracks[1].codec, SL_CODEC_H265);
    assert_int_equal(r.tracks[1].pt, 45);
    assert_int_equal(r.tracks[1].rtx_pt, 46);
    /* Not wanted: H.264 as before. */
    negotiate(h265, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.tracks[1].pt, 106);
    free(h265);
}

static void test_chrome_whep_profiles(void **state)
{
    (void)state;
    static const struct {
        int profile, pt;
    } cases[] = {{100, 112}, {77, 127}, {66, 102}, {0, 102}, {88 /* extended: not offered */, 102}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        result_t r;
        negotiate(FX_CHROME_WHEP, false, SL_CODEC_H264, cases[i].profile, &r);
        assert_int_equal(r.rc, SL_OK);
        assert_int_equal(r.tracks[1].pt, cases[i].pt);
        assert_int_equal(r.tracks[1].dir, SL_SDP_DIR_SENDONLY);
        assert_int_equal(r.tracks[0].pt, 111);
        assert_int_equal(r.tracks[0].dir, SL_SDP_DIR_SENDONLY);
    }
    result_t r;
    negotiate(FX_CHROME_WHEP, false, SL_CODEC_H264, 100, &r);
    assert_int_equal(r.tracks[1].rtx_pt, 113);
    assert_string_equal(r.tracks[1].fmtp, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f");
    assert_int_equal(r.info.candidate_count, 2);
}

static void test_whep_audio_only_stream(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHEP, false, SL_CODEC_NONE, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.tracks[0].codec, SL_CODEC_OPUS);
    assert_int_equal(r.tracks[1].codec, SL_CODEC_NONE);
    assert_string_equal(r.tracks[1].mid, "1");
    assert_int_equal(r.tracks[1].pt, 96); /* the offer's first, for the m= line */
    /* An H.265 stream and a browser without H.265: video rejected too. */
    negotiate(FX_CHROME_WHEP, false, SL_CODEC_H265, 1, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.tracks[1].codec, SL_CODEC_NONE);
}

static void test_direction_mismatch_rejects_section(void **state)
{
    (void)state;
    result_t r;
    /* A WHIP endpoint given a player's offer has nothing to receive. */
    negotiate(FX_CHROME_WHEP, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_ERR_UNSUPPORTED);
    assert_non_null(strstr(r.reason, "no usable track"));
    negotiate(FX_CHROME_WHIP, false, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_ERR_UNSUPPORTED);
    assert_string_equal(r.reason,
                        "no usable track: the offer receives neither H.264 (packetization-mode=1) video nor "
                        "opus/48000/2 audio");
}

static void test_firefox_whip(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_FIREFOX_WHIP, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.tracks[0].pt, 109);
    assert_string_equal(r.tracks[0].fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    /* 97 is H.264 too but packetization-mode 0. */
    assert_int_equal(r.tracks[1].pt, 126);
    assert_int_equal(r.tracks[1].rtx_pt, 127);
    assert_true(r.tracks[1].nack);
    assert_true(r.tracks[1].pli);
    assert_string_equal(r.info.ice_ufrag, "7a1e44c2");
    assert_string_equal(r.info.ice_pwd, "3b5c0e2a9d4f61c8e7a2b90d5f13c6e4");
    assert_string_equal(r.info.fingerprint_value,
                        "1D:9B:3E:57:A8:6F:0C:44:12:D1:95:E2:7A:60:BB:39:C8:04:5F:EE:23:71:9A:D6:48:0B:C3:7F:51:E9:26:8A");
    assert_int_equal(r.info.candidate_count, 0);
}

static void expect_refusal(const char *text, int rc, const char *reason)
{
    result_t r;
    negotiate(text, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, rc);
    assert_int_equal(r.n, 0);
    assert_non_null(r.reason);
    assert_string_equal(r.reason, reason);
}

static void test_refusals(void **state)
{
    (void)state;
    char *t = replace(FX_CHROME_WHIP, "a=fingerprint:", "a=x-fingerprint:");
    expect_refusal(t, SL_ERR_PROTO, "the offer has no a=fingerprint (DTLS-SRTP is required)");
    free(t);
    t = replace(FX_FIREFOX_WHIP, "a=fingerprint:", "a=x-fingerprint:");
    expect_refusal(t, SL_ERR_PROTO, "the offer has no a=fingerprint (DTLS-SRTP is required)");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=setup:actpass", "a=setup:passive");
    expect_refusal(t, SL_ERR_UNSUPPORTED,
                   "a=setup:passive: the server is DTLS-passive, the offer must be active or actpass");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=setup:actpass", "a=setup:active");
    result_t r;
    negotiate(t, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.info.setup, SL_WEBRTC_SETUP_ACTIVE);
    free(t);
    t = replace(FX_CHROME_WHIP, "a=ice-pwd:", "a=x-ice-pwd:");
    expect_refusal(t, SL_ERR_PROTO, "the offer has no a=ice-ufrag and a=ice-pwd");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=ice-ufrag:Xk2s", "a=ice-ufrag:X k2s");
    expect_refusal(t, SL_ERR_PROTO, "malformed a=ice-ufrag or a=ice-pwd");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=group:BUNDLE 0 1\r\n", "");
    expect_refusal(t, SL_ERR_UNSUPPORTED,
                   "the offer has 2 m= sections but no a=group:BUNDLE (one transport is required)");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
    expect_refusal(t, SL_ERR_UNSUPPORTED, "m= section mid 1 is not in the BUNDLE group");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=mid:1", "a=mid:0");
    expect_refusal(t, SL_ERR_PROTO, "a=mid:0 is used twice");
    free(t);
    t = replace(FX_CHROME_WHIP, "a=fingerprint:sha-256 8C", "a=fingerprint:sha-256 8Z");
    expect_refusal(t, SL_ERR_PROTO, "malformed a=fingerprint value");
    free(t);
    expect_refusal(FX_NO_CODEC, SL_ERR_UNSUPPORTED,
                   "no usable track: the offer sends neither H.264 (packetization-mode=1) video nor "
                   "opus/48000/2 audio");
}

static void test_single_section_without_bundle(void **state)
{
    (void)state;
    char *t = replace(FX_NO_CODEC, "a=group:BUNDLE 0 1\r\n", "");
    char *cut = strstr(t, "m=video");
    *cut = '\0';
    char *opus = replace(t, "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 opus/48000/2");
    result_t r;
    negotiate(opus, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.info.bundle_count, 0);
    assert_int_equal(r.tracks[0].pt, 0);
    assert_int_equal(r.tracks[0].codec, SL_CODEC_OPUS);
    assert_int_equal(r.info.setup, SL_WEBRTC_SETUP_ACTPASS);

    sl_bytes_t out;
    sl_bytes_init(&out);
    const char *ips[] = {"192.0.2.1"};
    assert_int_equal(sl_webrtc_write_answer(&r.info, r.tracks, r.n, UFRAG, PWD, OUR_FP, ips, 1, 8443, NULL, &out),
                     SL_OK);
    assert_int_equal(sl_bytes_put_u8(&out, 0), SL_OK);
    /* Exact bytes: no BUNDLE group, since the offer had none. */
    /* The session id is a hash of the ufrag: take it from the output, check the rest. */
    const char *o = strstr((const char *)out.data, "o=- ");
    assert_non_null(o);
    char id[32];
    assert_int_equal(sscanf(o, "o=- %31[0-9] ", id), 1);
    char *want = replace("v=0\r\n"
                         "o=- @ID@ 1 IN IP4 127.0.0.1\r\n"
                         "s=-\r\n"
                         "t=0 0\r\n"
                         "a=ice-lite\r\n"
                         "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
                         "c=IN IP4 0.0.0.0\r\n"
                         "a=rtpmap:0 opus/48000/2\r\n"
                         "a=recvonly\r\n"
                         "a=mid:0\r\n"
                         "a=ice-ufrag:" UFRAG "\r\n"
                         "a=ice-pwd:" PWD "\r\n"
                         "a=fingerprint:" OUR_FP "\r\n"
                         "a=setup:passive\r\n"
                         "a=rtcp-mux\r\n"
                         "a=candidate:1 1 udp 2130706431 192.0.2.1 8443 typ host\r\n"
                         "a=end-of-candidates\r\n",
                         "@ID@", id);
    /* Exact bytes: no BUNDLE group, since the offer had none. */
    assert_string_equal((const char *)out.data, want);
    free(want);
    sl_bytes_free(&out);
    free(opus);
    free(t);
}

/* Checks one accepted section of a parsed answer written by answer_for(). */
static void check_answer_section(const sl_sdp_media_t *m, const char *type, const char *mid, uint8_t pt,
                                 sl_sdp_dir_t dir)
{
    assert_string_equal(m->type, type);
    assert_int_equal(m->port, 9);
    assert_string_equal(m->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(m->pt_count, 1);
    assert_int_equal(m->pts[0], pt);
    assert_string_equal(m->mid, mid);
    assert_int_equal(m->dir, dir);
    assert_true(m->rtcp_mux);
    assert_string_equal(m->conn.address, "0.0.0.0");
    assert_string_equal(sl_sdp_attr_get(m, "setup"), "passive");
    assert_string_equal(sl_sdp_attr_get(m, "ice-ufrag"), UFRAG);
    assert_string_equal(sl_sdp_attr_get(m, "ice-pwd"), PWD);
    assert_string_equal(sl_sdp_attr_get(m, "fingerprint"), OUR_FP);
    assert_non_null(sl_sdp_attr_get(m, "end-of-candidates"));
    int pos = 0;
    assert_string_equal(sl_sdp_attr_next(m, "candidate", &pos), "1 1 udp 2130706431 203.0.113.10 8443 typ host");
    assert_string_equal(sl_sdp_attr_next(m, "candidate", &pos), "2 1 udp 2130706175 2001:db8::10 8443 typ host");
    assert_null(sl_sdp_attr_next(m, "candidate", &pos));
    assert_non_null(sl_sdp_rtpmap_get(m, pt));
}

static sl_sdp_t *answer_for(const result_t *r, const uint32_t *ssrcs)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    const char *ips[] = {"203.0.113.10", "2001:db8::10"};
    assert_int_equal(
        sl_webrtc_write_answer(&r->info, r->tracks, r->n, UFRAG, PWD, OUR_FP, ips, 2, 8443, ssrcs, &out), SL_OK);
    sl_sdp_t *sdp = NULL;
    assert_int_equal(sl_sdp_parse((const char *)out.data, out.len, &sdp), SL_OK);
    sl_bytes_free(&out);
    return sdp;
}

static void test_answer_whip(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHIP, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    sl_sdp_t *a = answer_for(&r, NULL);
    assert_string_equal(sl_sdp_session_attr_get(a, "group"), "BUNDLE 0 1");
    assert_non_null(sl_sdp_session_attr_get(a, "ice-lite"));
    assert_int_equal(a->media_count, 2);
    check_answer_section(&a->media[0], "audio", "0", 111, SL_SDP_DIR_RECVONLY);
    check_answer_section(&a->media[1], "video", "1", 106, SL_SDP_DIR_RECVONLY);
    const sl_sdp_rtpmap_t *rm = sl_sdp_rtpmap_get(&a->media[1], 106);
    assert_string_equal(rm->encoding, "H264");
    assert_int_equal(rm->clock, 90000);
    assert_string_equal(sl_sdp_fmtp_get(&a->media[1], 106, "packetization-mode"), "1");
    assert_string_equal(sl_sdp_fmtp_get(&a->media[1], 106, "profile-level-id"), "42e01f");
    rm = sl_sdp_rtpmap_get(&a->media[0], 111);
    assert_string_equal(rm->encoding, "opus");
    assert_int_equal(rm->channels, 2);
    int pos = 0;
    assert_string_equal(sl_sdp_attr_next(&a->media[1], "rtcp-fb", &pos), "106 nack");
    assert_string_equal(sl_sdp_attr_next(&a->media[1], "rtcp-fb", &pos), "106 nack pli");
    assert_null(sl_sdp_attr_next(&a->media[1], "rtcp-fb", &pos));
    assert_null(sl_sdp_attr_get(&a->media[0], "rtcp-fb"));
    /* We receive: no SSRC of ours. */
    assert_null(sl_sdp_attr_get(&a->media[1], "ssrc"));
    sl_sdp_free(a);
}

static void test_answer_whep_with_rejected(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHEP, false, SL_CODEC_H264, 100, &r);
    assert_int_equal(r.rc, SL_OK);
    /* The stream's audio is AAC: the caller rejects the Opus track. */
    r.tracks[0].codec = SL_CODEC_NONE;
    const uint32_t ssrcs[] = {0x11111111, 0x22222222};
    sl_sdp_t *a = answer_for(&r, ssrcs);
    assert_string_equal(sl_sdp_session_attr_get(a, "group"), "BUNDLE 1");
    assert_int_equal(a->media_count, 2);
    const sl_sdp_media_t *m = &a->media[0];
    assert_string_equal(m->type, "audio");
    assert_int_equal(m->port, 0);
    assert_string_equal(m->mid, "0");
    assert_int_equal(m->rtpmap_count, 0);
    assert_null(sl_sdp_attr_get(m, "candidate"));
    check_answer_section(&a->media[1], "video", "1", 112, SL_SDP_DIR_SENDONLY);
    assert_string_equal(sl_sdp_attr_get(&a->media[1], "ssrc"), "572662306 cname:sluice");
    assert_string_equal(sl_sdp_attr_get(&a->media[1], "msid"), "sluice 1");
    assert_string_equal(sl_sdp_fmtp_get(&a->media[1], 112, "profile-level-id"), "640c1f");
    sl_sdp_free(a);
}

static void test_answer_bad_arguments(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHIP, true, SL_CODEC_H264, 0, &r);
    sl_bytes_t out;
    sl_bytes_init(&out);
    const char *bad_ip[] = {"1.2.3.4 typ relay"};
    const char *ok_ip[] = {"1.2.3.4"};
    assert_int_equal(sl_webrtc_write_answer(&r.info, r.tracks, r.n, UFRAG, PWD, OUR_FP, bad_ip, 1, 1, NULL, &out),
                     SL_ERR_PROTO);
    assert_int_equal(sl_webrtc_write_answer(&r.info, r.tracks, r.n, "", PWD, OUR_FP, ok_ip, 1, 1, NULL, &out),
                     SL_ERR_PROTO);
    assert_int_equal(
        sl_webrtc_write_answer(&r.info, r.tracks, r.n, UFRAG, PWD, "sha-256 A\r\nB", ok_ip, 1, 1, NULL, &out),
        SL_ERR_PROTO);
    r.tracks[0].codec = SL_CODEC_NONE;
    r.tracks[1].codec = SL_CODEC_NONE;
    assert_int_equal(sl_webrtc_write_answer(&r.info, r.tracks, r.n, UFRAG, PWD, OUR_FP, ok_ip, 1, 1, NULL, &out),
                     SL_ERR_PROTO);
    assert_int_equal(out.len, 0);
    sl_bytes_free(&out);
}

/* The data section of an answer, from its m= line to the end. */
static char *data_section_of(const result_t *r)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    const char *ips[] = {"192.0.2.1"};
    assert_int_equal(sl_webrtc_write_answer(&r->info, r->tracks, r->n, UFRAG, PWD, OUR_FP, ips, 1, 8443, NULL, &out),
                     SL_OK);
    assert_int_equal(sl_bytes_put_u8(&out, 0), SL_OK);
    const char *m = strstr((const char *)out.data, "m=application");
    assert_non_null(m);
    char *copy = strdup(m);
    assert_non_null(copy);
    sl_bytes_free(&out);
    return copy;
}

static void test_chrome_whip_data_channel(void **state)
{
    (void)state;
    result_t r;
    negotiate(FX_CHROME_WHIP_DATA, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.tracks[0].codec, SL_CODEC_OPUS);
    assert_int_equal(r.tracks[1].codec, SL_CODEC_H264);
    assert_int_equal(r.tracks[1].pt, 106);
    const sl_webrtc_track_t *d = &r.tracks[2];
    assert_int_equal(d->media, SL_MEDIA_DATA);
    assert_int_equal(d->codec, SL_CODEC_NONE);
    assert_string_equal(d->mid, "2");
    assert_int_equal(d->sctp_port, 5000);
    assert_int_equal(d->max_message_size, 262144);
    assert_int_equal(d->dir, SL_SDP_DIR_NONE);
    assert_true(sl_webrtc_track_accepted(d));
    assert_true(sl_webrtc_track_accepted(&r.tracks[0]));
    assert_int_equal(r.info.candidate_count, 2);

    sl_sdp_t *a = answer_for(&r, NULL);
    assert_string_equal(sl_sdp_session_attr_get(a, "group"), "BUNDLE 0 1 2");
    assert_int_equal(a->media_count, 3);
    check_answer_section(&a->media[1], "video", "1", 106, SL_SDP_DIR_RECVONLY);
    const sl_sdp_media_t *m = &a->media[2];
    assert_string_equal(m->type, "application");
    assert_int_equal(m->port, 9);
    assert_string_equal(m->proto, "UDP/DTLS/SCTP");
    assert_string_equal(m->formats, "webrtc-datachannel");
    assert_string_equal(m->mid, "2");
    assert_false(m->rtcp_mux);
    assert_int_equal(m->dir, SL_SDP_DIR_NONE);
    sl_sdp_free(a);

    /* Exact bytes of the section: our port and limit, not the browser's. */
    char *sec = data_section_of(&r);
    assert_string_equal(sec, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                             "c=IN IP4 0.0.0.0\r\n"
                             "a=mid:2\r\n"
                             "a=ice-ufrag:" UFRAG "\r\n"
                             "a=ice-pwd:" PWD "\r\n"
                             "a=fingerprint:" OUR_FP "\r\n"
                             "a=setup:passive\r\n"
                             "a=sctp-port:5000\r\n"
                             "a=max-message-size:65536\r\n"
                             "a=candidate:1 1 udp 2130706431 192.0.2.1 8443 typ host\r\n"
                             "a=end-of-candidates\r\n");
    free(sec);

    /* The caller turns the data channel down. */
    r.tracks[2].sctp_port = 0;
    assert_false(sl_webrtc_track_accepted(&r.tracks[2]));
    sec = data_section_of(&r);
    assert_string_equal(sec, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                             "c=IN IP4 0.0.0.0\r\n"
                             "a=mid:2\r\n");
    free(sec);
    a = answer_for(&r, NULL);
    assert_string_equal(sl_sdp_session_attr_get(a, "group"), "BUNDLE 0 1");
    sl_sdp_free(a);
}

static void test_whep_data_channel(void **state)
{
    (void)state;
    result_t r;
    negotiate(CHROME_SESSION_GROUP("0 1 2") CHROME_AUDIO("recvonly") CHROME_VIDEO("recvonly") CHROME_DATA, false,
              SL_CODEC_H264, 100, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.tracks[1].pt, 112);
    assert_int_equal(r.tracks[2].sctp_port, 5000);
    const uint32_t ssrcs[] = {1, 2, 0};
    sl_sdp_t *a = answer_for(&r, ssrcs);
    assert_string_equal(sl_sdp_session_attr_get(a, "group"), "BUNDLE 0 1 2");
    /* No SSRC or msid in a data section, even when sending. */
    assert_null(sl_sdp_attr_get(&a->media[2], "ssrc"));
    assert_null(sl_sdp_attr_get(&a->media[2], "msid"));
    assert_string_equal(sl_sdp_attr_get(&a->media[2], "sctp-port"), "5000");
    sl_sdp_free(a);
}

/* The data section's attributes: defaults, limits, malformed values. */
static void expect_data(const char *from, const char *to, int rc, uint16_t port, uint32_t max_message)
{
    char *t = replace(FX_CHROME_WHIP_DATA, from, to);
    result_t r;
    negotiate(t, true, SL_CODEC_H264, 0, &r);
    free(t);
    assert_int_equal(r.rc, rc);
    if (rc != SL_OK) return;
    assert_int_equal(r.n, 3);
    assert_int_equal(r.tracks[2].media, SL_MEDIA_DATA);
    assert_int_equal(r.tracks[2].sctp_port, port);
    assert_int_equal(r.tracks[2].max_message_size, max_message);
    assert_int_equal(sl_webrtc_track_accepted(&r.tracks[2]), port != 0);
    /* Media is answered either way. */
    assert_int_equal(r.tracks[1].codec, SL_CODEC_H264);
}

static void test_data_channel_attributes(void **state)
{
    (void)state;
    expect_data("a=sctp-port:5000\r\n", "", SL_OK, 5000, 262144);
    expect_data("a=max-message-size:262144\r\n", "", SL_OK, 5000, 65536);
    expect_data("a=sctp-port:5000", "a=sctp-port:5001", SL_OK, 5001, 262144);
    expect_data("a=max-message-size:262144", "a=max-message-size:0", SL_OK, 5000, 0);
    expect_data("a=max-message-size:262144", "a=max-message-size:4294967295", SL_OK, 5000, 4294967295u);
    expect_data("a=max-message-size:262144", "a=max-message-size:4294967296", SL_OK, 0, 0);
    expect_data("a=max-message-size:262144", "a=max-message-size:-1", SL_OK, 0, 0);
    expect_data("a=sctp-port:5000", "a=sctp-port:0", SL_OK, 0, 0);
    expect_data("a=sctp-port:5000", "a=sctp-port:65536", SL_OK, 0, 0);
    expect_data("a=sctp-port:5000", "a=sctp-port:50x0", SL_OK, 0, 0);
    expect_data("a=sctp-port:5000", "a=sctp-port:", SL_OK, 0, 0);
    /* The offerer rejected it itself. */
    expect_data("m=application 9", "m=application 0", SL_OK, 0, 0);
    /* The pre-RFC 8841 form (DTLS/SCTP 5000 with a=sctpmap) and other transports. */
    expect_data("UDP/DTLS/SCTP webrtc-datachannel", "DTLS/SCTP 5000", SL_OK, 0, 0);
    expect_data("UDP/DTLS/SCTP webrtc-datachannel", "TCP/DTLS/SCTP webrtc-datachannel", SL_OK, 0, 0);
    expect_data("UDP/DTLS/SCTP webrtc-datachannel", "UDP/DTLS/SCTP other", SL_OK, 0, 0);
    /* Outside the BUNDLE group, a live section refuses the offer, as for media. */
    expect_data("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1", SL_ERR_UNSUPPORTED, 0, 0);
}

static void test_second_data_section_rejected(void **state)
{
    (void)state;
    char *second = replace(CHROME_DATA, "a=mid:2", "a=mid:3");
    char *first = replace(FX_CHROME_WHIP_DATA, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1 2 3");
    char *offer = malloc(strlen(first) + strlen(second) + 1);
    assert_non_null(offer);
    strcpy(offer, first);
    strcat(offer, second);
    result_t r;
    negotiate(offer, true, SL_CODEC_H264, 0, &r);
    assert_int_equal(r.rc, SL_OK);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.tracks[2].sctp_port, 5000);
    assert_int_equal(r.tracks[3].media, SL_MEDIA_DATA);
    assert_int_equal(r.tracks[3].sctp_port, 0);
    sl_sdp_t *a = answer_for(&r, NULL);
    assert_string_equal(sl_sdp_session_attr_get(a, "group"), "BUNDLE 0 1 2");
    assert_int_equal(a->media[2].port, 9);
    assert_int_equal(a->media[3].port, 0);
    assert_string_equal(a->media[3].mid, "3");
    sl_sdp_free(a);
    free(offer);
    free(first);
    free(second);
}

/* Data channels ride along with media: an offer of data alone is not answered. */
static void test_data_only_refused(void **state)
{
    (void)state;
    expect_refusal(CHROME_SESSION_GROUP("2") CHROME_DATA, SL_ERR_UNSUPPORTED,
                   "no usable track: the offer sends neither H.264 (packetization-mode=1) video nor "
                   "opus/48000/2 audio");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_whip),
        cmocka_unit_test(test_chrome_whip_h265_wanted_but_absent),
        cmocka_unit_test(test_chrome_whep_profiles),
        cmocka_unit_test(test_whep_audio_only_stream),
        cmocka_unit_test(test_direction_mismatch_rejects_section),
        cmocka_unit_test(test_firefox_whip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_single_section_without_bundle),
        cmocka_unit_test(test_answer_whip),
        cmocka_unit_test(test_answer_whep_with_rejected),
        cmocka_unit_test(test_answer_bad_arguments),
        cmocka_unit_test(test_chrome_whip_data_channel),
        cmocka_unit_test(test_whep_data_channel),
        cmocka_unit_test(test_data_channel_attributes),
        cmocka_unit_test(test_second_data_section_rejected),
        cmocka_unit_test(test_data_only_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
