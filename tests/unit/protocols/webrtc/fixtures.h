/* WebRTC offers as browsers send them, for the negotiation tests. Written by hand
 * after offers of Chromium 12x (a WHIP client's sendonly transceivers, a WHEP
 * player's recvonly ones) and Firefox 12x: Chromium puts the transport attributes
 * in every section and lists ~25 video payload types with rtx; Firefox puts the
 * fingerprint at session level and sorts its attributes by name. */
#ifndef SLUICE_TESTS_WEBRTC_FIXTURES_H
#define SLUICE_TESTS_WEBRTC_FIXTURES_H

#define FX_FP                                                                                              \
    "sha-256 "                                                                                             \
    "8C:71:B3:8D:A5:38:FD:8F:A4:2E:A2:65:6C:86:52:BC:E0:6E:94:F2:9F:7C:4D:B5:DF:AF:AA:6F:44:90:8D:F4"

#define CHROME_AUDIO(dir)                                                                                  \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"                                              \
    "c=IN IP4 0.0.0.0\r\n"                                                                                 \
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"                                                                          \
    "a=candidate:3046235871 1 udp 2122260223 192.168.1.23 54400 typ host generation 0 network-id 1\r\n"    \
    "a=candidate:1820390131 1 udp 1686052607 203.0.113.7 54400 typ srflx raddr 192.168.1.23 rport 54400 " \
    "generation 0 network-id 1\r\n"                                                                        \
    "a=ice-ufrag:Xk2s\r\n"                                                                                 \
    "a=ice-pwd:Lh2bXzvWmSwUoUR7rTD1aX3p\r\n"                                                               \
    "a=ice-options:trickle\r\n"                                                                            \
    "a=fingerprint:" FX_FP "\r\n"                                                                          \
    "a=setup:actpass\r\n"                                                                                  \
    "a=mid:0\r\n"                                                                                          \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"                                           \
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"                            \
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"             \
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"                                                   \
    "a=" dir "\r\n"                                                                                        \
    "a=msid:- 7c2f8a36-4a5e-4e1b-9d1c-2b6c0c5b1f01\r\n"                                                    \
    "a=rtcp-mux\r\n"                                                                                       \
    "a=rtcp-rsize\r\n"                                                                                     \
    "a=rtpmap:111 opus/48000/2\r\n"                                                                        \
    "a=rtcp-fb:111 transport-cc\r\n"                                                                       \
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"                                                            \
    "a=rtpmap:63 red/48000/2\r\n"                                                                          \
    "a=fmtp:63 111/111\r\n"                                                                                \
    "a=rtpmap:9 G722/8000\r\n"                                                                             \
    "a=rtpmap:0 PCMU/8000\r\n"                                                                             \
    "a=rtpmap:8 PCMA/8000\r\n"                                                                             \
    "a=rtpmap:13 CN/8000\r\n"                                                                              \
    "a=rtpmap:110 telephone-event/48000\r\n"                                                               \
    "a=rtpmap:126 telephone-event/8000\r\n"

#define CHROME_FB(pt)                                                                                      \
    "a=rtcp-fb:" pt " goog-remb\r\n"                                                                       \
    "a=rtcp-fb:" pt " transport-cc\r\n"                                                                    \
    "a=rtcp-fb:" pt " ccm fir\r\n"                                                                         \
    "a=rtcp-fb:" pt " nack\r\n"                                                                            \
    "a=rtcp-fb:" pt " nack pli\r\n"

#define CHROME_H264(pt, rtx, fmtp)                                                                         \
    "a=rtpmap:" pt " H264/90000\r\n" CHROME_FB(pt) "a=fmtp:" pt " " fmtp "\r\n"                            \
    "a=rtpmap:" rtx " rtx/90000\r\n"                                                                       \
    "a=fmtp:" rtx " apt=" pt "\r\n"

#define CHROME_VIDEO(dir)                                                                                  \
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 "     \
    "101 112 113 116 117 118\r\n"                                                                          \
    "c=IN IP4 0.0.0.0\r\n"                                                                                 \
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"                                                                          \
    "a=ice-ufrag:Xk2s\r\n"                                                                                 \
    "a=ice-pwd:Lh2bXzvWmSwUoUR7rTD1aX3p\r\n"                                                               \
    "a=ice-options:trickle\r\n"                                                                            \
    "a=fingerprint:" FX_FP "\r\n"                                                                          \
    "a=setup:actpass\r\n"                                                                                  \
    "a=mid:1\r\n"                                                                                          \
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"                                                   \
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"                            \
    "a=extmap:13 urn:3gpp:video-orientation\r\n"                                                           \
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"             \
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"                                                   \
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"                                        \
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"                               \
    "a=" dir "\r\n"                                                                                        \
    "a=msid:- 0b7d3c3e-9a48-4a0e-8f6e-3f1f0d6f2a77\r\n"                                                    \
    "a=rtcp-mux\r\n"                                                                                       \
    "a=rtcp-rsize\r\n"                                                                                     \
    "a=rtpmap:96 VP8/90000\r\n" CHROME_FB("96") "a=rtpmap:97 rtx/90000\r\n"                                \
    "a=fmtp:97 apt=96\r\n" CHROME_H264("102", "103",                                                       \
                                       "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" \
                                       "42001f")                                                           \
        CHROME_H264("104", "105", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f") \
            CHROME_H264("106", "107",                                                                      \
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")          \
                CHROME_H264("108", "109",                                                                  \
                            "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f")      \
                    CHROME_H264("127", "125",                                                              \
                                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f")  \
                        CHROME_H264("39", "40",                                                            \
                                    "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id="     \
                                    "4d001f") "a=rtpmap:45 AV1/90000\r\n" CHROME_FB("45")                  \
                            "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"                                   \
                            "a=rtpmap:46 rtx/90000\r\n"                                                    \
                            "a=fmtp:46 apt=45\r\n"                                                         \
                            "a=rtpmap:98 VP9/90000\r\n" CHROME_FB("98") "a=fmtp:98 profile-id=0\r\n"       \
                            "a=rtpmap:99 rtx/90000\r\n"                                                    \
                            "a=fmtp:99 apt=98\r\n"                                                         \
                            "a=rtpmap:100 VP9/90000\r\n" CHROME_FB("100") "a=fmtp:100 profile-id=2\r\n"    \
                            "a=rtpmap:101 rtx/90000\r\n"                                                   \
                            "a=fmtp:101 apt=100\r\n" CHROME_H264(                                          \
                                "112", "113",                                                              \
                                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f")  \
                                "a=rtpmap:116 red/90000\r\n"                                               \
                                "a=rtpmap:117 rtx/90000\r\n"                                               \
                                "a=fmtp:117 apt=116\r\n"                                                   \
                                "a=rtpmap:118 ulpfec/90000\r\n"

#define CHROME_SESSION_GROUP(mids)                                                                         \
    "v=0\r\n"                                                                                              \
    "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"                                                       \
    "s=-\r\n"                                                                                              \
    "t=0 0\r\n"                                                                                            \
    "a=group:BUNDLE " mids "\r\n"                                                                          \
    "a=extmap-allow-mixed\r\n"                                                                             \
    "a=msid-semantic: WMS\r\n"

#define CHROME_SESSION CHROME_SESSION_GROUP("0 1")

#define CHROME_WHIP_MEDIA                                                                                  \
    CHROME_AUDIO("sendonly")                                                                               \
    "a=ssrc-group:FID 1894391421 2217373425\r\n"                                                           \
    "a=ssrc:3735928559 cname:pTnQ1rM2xWJp7s5V\r\n"                                                         \
    "a=ssrc:3735928559 msid:- 7c2f8a36-4a5e-4e1b-9d1c-2b6c0c5b1f01\r\n" CHROME_VIDEO("sendonly")           \
    "a=ssrc-group:FID 1894391421 2217373425\r\n"                                                           \
    "a=ssrc:1894391421 cname:pTnQ1rM2xWJp7s5V\r\n"                                                         \
    "a=ssrc:2217373425 cname:pTnQ1rM2xWJp7s5V\r\n"

/* Chromium's section for its data channels (after createDataChannel), mid 2;
 * bundled, so its candidates are the first section's. */
#define CHROME_DATA                                                                                        \
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"                                                 \
    "c=IN IP4 0.0.0.0\r\n"                                                                                 \
    "a=ice-ufrag:Xk2s\r\n"                                                                                 \
    "a=ice-pwd:Lh2bXzvWmSwUoUR7rTD1aX3p\r\n"                                                               \
    "a=ice-options:trickle\r\n"                                                                            \
    "a=fingerprint:" FX_FP "\r\n"                                                                          \
    "a=setup:actpass\r\n"                                                                                  \
    "a=mid:2\r\n"                                                                                          \
    "a=sctp-port:5000\r\n"                                                                                 \
    "a=max-message-size:262144\r\n"

/* Chromium publishing over WHIP: audio (mid 0) and video (mid 1), sendonly, with
 * gathered candidates and SSRCs. */
static const char FX_CHROME_WHIP[] = CHROME_SESSION CHROME_WHIP_MEDIA;

/* The same with a data channel: audio, video and application (mid 2). */
static const char FX_CHROME_WHIP_DATA[] = CHROME_SESSION_GROUP("0 1 2") CHROME_WHIP_MEDIA CHROME_DATA;

/* Chromium playing over WHEP: the same sections, recvonly, no SSRCs. */
static const char FX_CHROME_WHEP[] = CHROME_SESSION CHROME_AUDIO("recvonly") CHROME_VIDEO("recvonly");

/* Firefox publishing over WHIP: session-level fingerprint, attributes sorted by
 * name, no candidates (trickled later). */
static const char FX_FIREFOX_WHIP[] =
    "v=0\r\n"
    "o=mozilla...THIS_IS_SDPARTA-99.0 6410453318893516389 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=fingerprint:sha-256 "
    "1D:9B:3E:57:A8:6F:0C:44:12:D1:95:E2:7A:60:BB:39:C8:04:5F:EE:23:71:9A:D6:48:0B:C3:7F:51:E9:26:8A\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-options:trickle\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=sendonly\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ice-pwd:3b5c0e2a9d4f61c8e7a2b90d5f13c6e4\r\n"
    "a=ice-ufrag:7a1e44c2\r\n"
    "a=mid:0\r\n"
    "a=msid:{5d3a2b7e-1c4f-4e8a-9b6d-0f2e7c1a3b58} {a1c3e5f7-2b4d-4f6a-8c0e-1d3f5a7b9c2e}\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:109 opus/48000/2\r\n"
    "a=rtpmap:9 G722/8000/1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=setup:actpass\r\n"
    "a=ssrc:2755412366 cname:{0c8a2b4e-6d1f-4a3c-9e5b-7f2d4c6a8e01}\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98 123 122 119\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=sendonly\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1\r\n"
    "a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1\r\n"
    "a=fmtp:120 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:124 apt=120\r\n"
    "a=fmtp:121 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:125 apt=121\r\n"
    "a=fmtp:127 apt=126\r\n"
    "a=fmtp:98 apt=97\r\n"
    "a=fmtp:119 apt=122\r\n"
    "a=ice-pwd:3b5c0e2a9d4f61c8e7a2b90d5f13c6e4\r\n"
    "a=ice-ufrag:7a1e44c2\r\n"
    "a=mid:1\r\n"
    "a=msid:{5d3a2b7e-1c4f-4e8a-9b6d-0f2e7c1a3b58} {f0e2d4c6-8a1b-4c3d-9e5f-2a4b6c8d0e1f}\r\n"
    "a=rtcp-fb:120 nack\r\n"
    "a=rtcp-fb:120 nack pli\r\n"
    "a=rtcp-fb:120 ccm fir\r\n"
    "a=rtcp-fb:120 goog-remb\r\n"
    "a=rtcp-fb:120 transport-cc\r\n"
    "a=rtcp-fb:126 nack\r\n"
    "a=rtcp-fb:126 nack pli\r\n"
    "a=rtcp-fb:126 ccm fir\r\n"
    "a=rtcp-fb:126 goog-remb\r\n"
    "a=rtcp-fb:126 transport-cc\r\n"
    "a=rtcp-fb:97 nack\r\n"
    "a=rtcp-fb:97 nack pli\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:120 VP8/90000\r\n"
    "a=rtpmap:124 rtx/90000\r\n"
    "a=rtpmap:121 VP9/90000\r\n"
    "a=rtpmap:125 rtx/90000\r\n"
    "a=rtpmap:126 H264/90000\r\n"
    "a=rtpmap:127 rtx/90000\r\n"
    "a=rtpmap:97 H264/90000\r\n"
    "a=rtpmap:98 rtx/90000\r\n"
    "a=rtpmap:123 ulpfec/90000\r\n"
    "a=rtpmap:122 red/90000\r\n"
    "a=rtpmap:119 rtx/90000\r\n"
    "a=setup:actpass\r\n"
    "a=ssrc:1417280011 cname:{0c8a2b4e-6d1f-4a3c-9e5b-7f2d4c6a8e01}\r\n"
    "a=ssrc:3048176602 cname:{0c8a2b4e-6d1f-4a3c-9e5b-7f2d4c6a8e01}\r\n"
    "a=ssrc-group:FID 1417280011 3048176602\r\n";

/* A WHIP offer a browser could send with only VP8 and PCMU enabled. */
static const char FX_NO_CODEC[] =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Xk2s\r\n"
    "a=ice-pwd:Lh2bXzvWmSwUoUR7rTD1aX3p\r\n"
    "a=fingerprint:" FX_FP "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\n";

#endif
