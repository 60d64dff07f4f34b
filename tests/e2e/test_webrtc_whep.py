"""WHEP play of streams that did not come from WebRTC, and WHIP/WHEP signalling.

ffmpeg publishes three streams at once: RTMP H.264 constrained baseline + AAC
(live/base), RTMP H.264 main without B-frames + AAC (live/main), and RTSP H.264 +
Opus (live/rtsp). Chromium plays each over WHEP (one browser per stream, all at once)
and werift, a second and scripted peer, plays live/base. Then the refusals of
docs/webrtc.md, on real Chromium offers. A second server checks the auth token (Bearer) and
webrtc.ice_servers. Runs in its own network namespace (webrtc.main()). Transcoding is
off here: AAC reaching WHEP as Opus is tests/e2e/test_transcode.py's.
"""

import os
import re
import time

import webrtc
from harness import note

TOKEN = "s3cret-token"
ICE_SERVERS = "stun:stun.example.net:3478 stun:127.0.0.1:3478"


def rtsp_publisher_args(url, seconds):
    """ffmpeg: testsrc2 640x360 25 fps as H.264 baseline and a 440 Hz sine as Opus over
    RTSP (TCP)."""
    return ["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-profile:v", "baseline", "-g", "50", "-pix_fmt", "yuv420p",
            "-c:a", "libopus", "-b:a", "64k", "-ac", "2",
            "-f", "rtsp", "-rtsp_transport", "tcp", url]


def udp_counters():
    """The namespace's UDP counters of /proc/net/snmp (InDatagrams, RcvbufErrors, ...)."""
    with open("/proc/net/snmp") as f:
        rows = [ln.split() for ln in f if ln.startswith("Udp:")]
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:])}


def sdp_sections(sdp):
    """The session part and the media sections of an SDP, each a list of lines."""
    parts = [[]]
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line.startswith("m="):
            parts.append([])
        parts[-1].append(line)
    return parts[0], parts[1:]


def join_sdp(session, sections):
    return "\r\n".join(session + [ln for sec in sections for ln in sec]) + "\r\n"


def only_video_codec(sdp, codec):
    """Chromium's offer cut down to its video section offering only `codec` (and the
    RTX formats that repair it); audio and data sections removed."""
    session, sections = sdp_sections(sdp)
    video = next(sec for sec in sections if sec[0].startswith("m=video"))
    names = {}
    for ln in video:
        m = re.match(r"a=rtpmap:(\d+) ([^/]+)/", ln)
        if m:
            names[m.group(1)] = m.group(2)
    keep = {pt for pt, n in names.items() if n.upper() == codec.upper()}
    for ln in video:
        m = re.match(r"a=fmtp:(\d+) apt=(\d+)", ln)
        if m and m.group(2) in keep:
            keep.add(m.group(1))
    head = video[0].split(" ")
    out = [" ".join(head[:3] + [pt for pt in head[3:] if pt in keep])]
    for ln in video[1:]:
        m = re.match(r"a=(?:rtpmap|fmtp|rtcp-fb):(\d+) ", ln)
        if m and m.group(1) not in keep:
            continue
        out.append(ln)
    mid = next(ln[6:] for ln in video if ln.startswith("a=mid:"))
    session = ["a=group:BUNDLE " + mid if ln.startswith("a=group:BUNDLE") else ln
               for ln in session]
    return join_sdp(session, [out])


def media_ports(answer):
    """{kind: port} of the m= lines of an answer (port 0: refused)."""
    out = {}
    for ln in answer.replace("\r\n", "\n").split("\n"):
        m = re.match(r"m=(\w+) (\d+) ", ln)
        if m:
            out.setdefault(m.group(1), int(m.group(2)))
    return out


class WhepPlay(webrtc.WebRtcTestCase):
    NEEDS_WERIFT = True
    # What a server without transcoding does with AAC sources (video only, one log
    # line per stream); AAC transcoded to Opus for WHEP is test_transcode.py's.
    config = {"transcode": {"enabled": False}}

    def test_whep_of_rtmp_and_rtsp_and_signalling(self):
        srv = self.server
        base = self.publish("base", 90, video_opts=["-profile:v", "baseline"],
                            proc_name="pub-base")
        # x264's ultrafast leaves out CABAC and so writes Constrained Baseline even when
        # told main: CABAC on makes the stream really main profile.
        main = self.publish("main", 90, video_opts=["-profile:v", "main", "-bf", "0",
                                                     "-x264-params", "cabac=1"],
                            proc_name="pub-main")
        rtsp = self.spawn_ffmpeg(rtsp_publisher_args(srv.rtsp_url("rtsp"), 90), "pub-rtsp")
        self.wait_published(base, "base")
        self.wait_published(main, "main")
        self.wait_published(rtsp, "rtsp")

        dump = os.path.join(self.workdir, "werift-base.h264")
        t0 = time.monotonic()
        viewers = {name: self.whep_start("live/" + name, 6) for name in ("base", "main", "rtsp")}
        wv = self.werift_whep_start("live/base", 5, dump_video=dump)
        udp0 = udp_counters()
        results = {name: c.result() for name, c in viewers.items()}
        w = wv.result()
        udp1 = udp_counters()
        note("whep: 3 Chromium + 1 werift viewers done in %.1f s; UDP in the namespace: %s"
             % (time.monotonic() - t0, {k: udp1[k] - udp0.get(k, 0) for k in udp1
                                        if k.endswith("Datagrams") or "Errors" in k}))
        for name, res in results.items():
            note("%s: %s" % (name, webrtc.describe(res)))
        note("werift base: " + webrtc.describe(w))

        for name, profile in (("base", "42"), ("main", "4d")):
            with self.subTest(stream=name):
                self._check_video_only(results[name], name, profile)
        with self.subTest(stream="rtsp (H.264 + Opus)"):
            self._check_rtsp(results["rtsp"])
        with self.subTest(peer="werift"):
            self._check_werift(w, dump)

        offer = results["base"]["offerSdp"]
        self.assertTrue(offer, "no offer captured from Chromium")
        with self.subTest(check="signalling refusals"):
            self._check_refusals(offer)
        with self.subTest(check="token and ice servers"):
            self._check_token(offer)

    # -- the players

    def _check_video_only(self, res, name, profile):
        v, a = res.get("video") or {}, res.get("audio") or {}
        self.assertEqual(res.get("status"), 201, "WHEP of live/%s: %s" % (
            name, res.get("responseBody")))
        self.assertEqual(v.get("codec"), "video/H264", "live/%s video codec" % name)
        self.assertIn("profile-level-id=" + profile, v.get("fmtp", ""),
                      "live/%s: the answer's H.264 profile should match the source" % name)
        self.assertGreater(v.get("framesDecoded") or 0, 50, "live/%s frames decoded" % name)
        self.assertEqual((v.get("frameWidth"), v.get("frameHeight")), (640, 360),
                         "live/%s frame size" % name)
        note("%s: first frame +%s ms, connected +%s ms, %s packets, %s lost, %s NACKs, "
             "%s freezes, fmtp %s" % (name, res.get("timeToFirstFrameMs"),
                                      res.get("timeToConnectedMs"), v.get("packetsReceived"),
                                      v.get("packetsLost"), v.get("nackCount"),
                                      v.get("freezeCount"), v.get("fmtp")))
        self.assertIsNotNone(res.get("timeToFirstFrameMs"), "live/%s: no first frame" % name)
        self.assertLess(res["timeToFirstFrameMs"], 3000, "live/%s: first frame late" % name)
        ports = media_ports(res.get("answerSdp") or "")
        self.assertEqual(ports.get("audio"), 0,
                         "live/%s (AAC source): the answer must refuse audio, m= ports %s"
                         % (name, ports))
        self.assertFalse(a.get("packetsReceived"), "live/%s: audio packets %s from an AAC "
                                                   "source" % (name, a.get("packetsReceived")))
        self.assertIn("stream live/%s: its aac audio cannot go to WebRTC players" % name,
                      self.server.log_text(), "no log line for live/%s's dropped audio" % name)

    def _check_rtsp(self, res):
        v, a = res.get("video") or {}, res.get("audio") or {}
        self.assertEqual(res.get("status"), 201, "WHEP of live/rtsp: %s" % res.get("responseBody"))
        self.assertEqual(v.get("codec"), "video/H264")
        self.assertGreater(v.get("framesDecoded") or 0, 50, "live/rtsp frames decoded")
        self.assertEqual((v.get("frameWidth"), v.get("frameHeight")), (640, 360))
        self.assertEqual(a.get("codec"), "audio/opus", "live/rtsp audio codec")
        self.assertGreater(a.get("packetsReceived") or 0, 100, "live/rtsp Opus packets")
        tl = res.get("timeline") or []
        samples = [row[4] for row in tl if row[4] > 0]
        self.assertTrue(len(samples) > 5 and samples[-1] > samples[0] + 96000,
                        "live/rtsp audio samples not rising: %s ... %s" % (samples[:3],
                                                                           samples[-3:]))
        self.assertGreater(res.get("audioLevelMax") or 0, 0.01, "live/rtsp audio silent")
        note("rtsp: %s Opus packets, %s samples, level max %.3f, energy %.3f" % (
            a.get("packetsReceived"), a.get("totalSamplesReceived"), res.get("audioLevelMax"),
            a.get("totalAudioEnergy") or 0))

    def _check_werift(self, w, dump):
        v = w.get("video") or {}
        self.assertEqual(w.get("status"), 201, "werift WHEP: %s" % w.get("errors"))
        self.assertIn("connected", [s.get("connection") for s in w.get("states", [])],
                      "werift never connected: %s" % w.get("states"))
        self.assertGreater(v.get("packets") or 0, 100, "werift video RTP packets")
        first = v.get("firstNalTypes") or []
        self.assertTrue(7 in first or 5 in first,
                        "werift's first video packet is no keyframe (SPS or IDR): NAL types %s"
                        % first)
        self.assertIsNotNone(v.get("firstKeyMs"), "werift saw no IDR")
        self.assertLess(v["firstKeyMs"] - v["firstMs"], 100,
                        "the IDR came %d ms after the first packet" % (
                            v["firstKeyMs"] - v["firstMs"]))
        self.assertGreaterEqual(v.get("keyFrames") or 0, 2, "werift keyframes (GOP 2 s, 5 s)")
        # Not asserted: werift decrypts in JavaScript and its socket has the default
        # 208 KiB buffer, so the GOP cache sluice sends at once on join can overflow it
        # (the kernel's RcvbufErrors say so); Chromium, which drains faster, is the
        # judge of loss (packetsLost above).
        note("werift: %s packets, sequence jumps %s: %s late, %s duplicates, %s missing; "
             "rtcp %s" % (v.get("packets"), v.get("seqGaps"), v.get("late"),
                          v.get("duplicates"), v.get("missing"), w.get("rtcp")))
        self.assertGreater((w.get("rtcp") or {}).get("sr", 0), 0, "no sender reports")
        self.assertIsNone(w.get("audio"), "werift got audio from an AAC source")
        frames, width, height = webrtc._probe_h264(dump)
        note("werift: ffprobe of the received video: %d frames %sx%s, first NALs %s, "
             "first packet +%s ms" % (frames, width, height, v.get("firstNalTypes"),
                                      v.get("firstMs")))
        self.assertGreater(frames, 50, "werift's received H.264 does not decode")
        self.assertEqual((width, height), (640, 360))

    # -- signalling

    def _expect(self, what, got, status):
        """Asserts the status of a signalling answer (and a text/plain reason for a
        refusal); returns its headers."""
        code, headers, body = got
        note("signalling: %s -> %s %s" % (what, code, body.strip()[:90]))
        self.assertEqual(code, status, "%s: %s %s" % (what, code, body.strip()))
        if status >= 400 and status != 405:
            self.assertTrue(headers.get("content-type", "").startswith("text/plain"),
                            "%s: reason not text/plain: %s" % (what, headers))
        return headers

    def _refusal(self, what, got, status):
        with self.subTest(refusal=what):
            self._expect(what, got, status)

    def _check_refusals(self, offer):
        port = self.server.http_port
        post = webrtc.post_offer
        whip_offer = offer.replace("a=recvonly", "a=sendonly")
        without = lambda *prefixes: "\r\n".join(  # noqa: E731
            ln for ln in offer.split("\r\n") if not ln.startswith(prefixes))
        self._refusal("WHEP of an unknown stream", post(port, "live/nope", "whep", offer), 404)
        self._refusal("WHEP as text/plain",
                      post(port, "live/base", "whep", offer, "text/plain"), 415)
        self._refusal("WHEP without Content-Type",
                      post(port, "live/base", "whep", offer, None), 415)
        self._refusal("WHEP of garbage",
                      post(port, "live/base", "whep", "hello, this is no SDP\r\n"), 400)
        self._refusal("WHEP offer without ice-ufrag/ice-pwd (docs: 400)",
                      post(port, "live/base", "whep", without("a=ice-ufrag", "a=ice-pwd")), 400)
        self._refusal("WHEP offer without fingerprint (docs: 400)",
                      post(port, "live/base", "whep", without("a=fingerprint")), 400)
        self._refusal("WHEP offer with VP8 video only",
                      post(port, "live/base", "whep", only_video_codec(offer, "VP8")), 406)
        self._refusal("WHIP to a published stream",
                      post(port, "live/base", "whip", whip_offer), 409)
        status, headers, body = post(port, "live/base", "whep", offer)
        self.assertEqual(status, 201, "WHEP POST of Chromium's offer: %s" % body)
        loc = headers.get("location", "")
        self.assertRegex(loc, r"^/live/base/whep/[^/]+$", "Location of a WHEP session")
        self.assertTrue(headers.get("etag"), "no ETag")
        self._refusal("PATCH on the session", webrtc.http_call(
            port, "PATCH", loc, "a=end-of-candidates\r\n",
            {"Content-Type": "application/trickle-ice-sdpfrag"}), 405)
        self._refusal("DELETE of the session", webrtc.http_call(port, "DELETE", loc), 200)
        self._refusal("DELETE of it again", webrtc.http_call(port, "DELETE", loc), 404)
        self._refusal("DELETE of an unknown session", webrtc.http_call(
            port, "DELETE", "/live/base/whep/0123456789abcdef"), 404)
        self._refusal("DELETE of the WHEP session as WHIP", webrtc.http_call(
            port, "DELETE", loc.replace("/whep/", "/whip/")), 404)
        with self.subTest(check="OPTIONS without ice_servers"):
            headers = self._expect("OPTIONS without ice_servers", webrtc.http_call(
                port, "OPTIONS", "/live/base/whep"), 204)
            self.assertNotIn("link", headers, "Link headers with no webrtc.ice_servers")
        with self.subTest(check="refusals logged"):
            log = self.server.log_text()
            for status in (404, 415, 400, 406, 409):
                self.assertRegex(log, r"WARN .*webrtc .*: %d: " % status,
                                 "no log line for the %d refusal" % status)

    def _check_token(self, offer):
        srv = self.new_server(dict(self.config, webrtc=dict(
            self.config["webrtc"], udp_port=webrtc.free_udp_port(), ice_servers=ICE_SERVERS),
            auth={"publish": {"type": "simple", "secret": TOKEN},
                  "play": {"type": "simple", "secret": TOKEN}}))
        port = srv.http_port
        whip_offer = offer.replace("a=recvonly", "a=sendonly")
        h = self._expect("WHIP without a token", webrtc.post_offer(
            port, "live/tok", "whip", whip_offer), 401)
        self.assertIn("bearer", h.get("www-authenticate", "").lower(), "WWW-Authenticate")
        self._expect("WHIP with a wrong token", webrtc.post_offer(
            port, "live/tok", "whip", whip_offer, headers={"Authorization": "Bearer nope"}), 401)
        self._expect("WHEP without a token", webrtc.post_offer(
            port, "live/tok", "whep", offer), 401)
        headers = self._expect("OPTIONS with ice_servers", webrtc.http_call(
            port, "OPTIONS", "/live/tok/whip"), 204)
        links = headers.get("link", "")
        for url in ICE_SERVERS.split():
            self.assertIn('<%s>; rel="ice-server"' % url, links, "OPTIONS Link headers")
        # A real client with the right token: werift publishes and gets media through.
        pub = self.werift_whip("live/tok", 3, token=TOKEN, server=srv)
        r = pub.result()
        note("token: " + webrtc.describe(r))
        self.assertEqual(r.get("status"), 201, "WHIP with the right token: %s" % r.get("errors"))
        self.assertIn('rel="ice-server"', (r.get("responseHeaders") or {}).get("link", ""),
                      "the 201 answer carries no ice-server Link")
        self.assertGreater((r.get("sent") or {}).get("video", 0), 50, "werift sent no video")
        self.assertEqual(r.get("deleteStatus"), 200, "DELETE with the right token")
        self.assertTrue(srv.wait_log("WHIP live/tok: closed: ended by DELETE", 5),
                        "token session not closed by DELETE\n" + srv.log_tail())
        self.assertIn("refused: wrong or missing token", srv.log_text(), "no 401 log line")


if __name__ == "__main__":
    webrtc.main()
