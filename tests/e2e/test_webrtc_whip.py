"""WHIP publish from a browser: Chromium's fake camera and mic go into sluice with WHIP
and come out over RTMP, HTTP-FLV, HLS and WHEP (a second Chromium); a data-channel text
of the publisher reaches the viewer; DELETE on the WHIP Location ends it all.

One server, one publisher and one viewer for the whole file; the RTMP/HTTP-FLV/HLS
checks run while the viewer plays. Runs in its own network namespace (webrtc.main()).
"""

import json
import threading
import time

import harness
import webrtc
from harness import note

KEY = "live/cam"
SEGMENT_MS = 1000


def _ffprobe_stream(url):
    """ffprobe's first video stream of a live URL: (stream dict or None, Result)."""
    res = harness.run(["ffprobe", "-v", "error", "-rw_timeout", "10000000",
                       "-analyzeduration", "3000000", "-select_streams", "v:0",
                       "-show_entries", "stream=codec_name,profile,width,height,pix_fmt",
                       "-of", "json", url], timeout=25)
    try:
        streams = json.loads(res.stdout or "{}").get("streams") or []
    except ValueError:
        streams = []
    return (streams[0] if streams else None), res


class WhipPublish(webrtc.WebRtcTestCase):
    NEEDS_WERIFT = False
    config = {"hls": {"enabled": True, "segment_duration_ms": SEGMENT_MS}}

    def _check_api(self, viewer):
        """GET /api/v1/streams/live/cam: a WebRTC publisher, H.264 640x360 and Opus,
        a bitrate, and a WebRTC player among its subscribers (bounded wait for it)."""
        viewer.wait_event("firstFrame", 20)
        deadline = time.monotonic() + 10
        while True:
            status, _, body, _ = harness.http_get(self.server.api_port, "/api/v1/streams/" + KEY)
            self.assertEqual(status, 200, "API stream: %r" % body[:200])
            s = json.loads(body)
            if s["subscribers"]["webrtc"] >= 1 and s["bitrate_in"] > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        note("whip: API %s" % json.dumps({k: s[k] for k in ("publisher", "video", "audio", "bitrate_in",
                                                             "subscribers")}))
        self.assertEqual(s["publisher"]["protocol"], "webrtc", "the publisher's protocol")
        self.assertEqual((s["video"]["codec"], s["video"]["width"], s["video"]["height"]), ("h264", 640, 360))
        self.assertEqual((s["audio"]["codec"], s["audio"]["sample_rate"]), ("opus", 48000))
        self.assertGreater(s["bitrate_in"], 50000, "the WHIP stream's measured bitrate")
        self.assertGreaterEqual(s["subscribers"]["webrtc"], 1, "the WHEP viewer among the subscribers")

    def test_whip_to_everything(self):
        srv = self.server
        t0 = time.monotonic()
        pub = self.whip_publish(KEY, 90, data_message="caption {n}")
        conn = pub.wait_connected(20)
        t_conn = time.monotonic() - t0
        self.assertTrue(srv.wait_log("stream %s created" % KEY, 5),
                        "WHIP connected but no 'stream %s created' in the log\n%s"
                        % (KEY, srv.log_tail()))
        note("whip: Chromium publisher connected %.2f s after start (page +%s ms)"
             % (t_conn, conn.get("ms")))

        # Everything that plays it, at once.
        viewer = self.whep_start(KEY, 60)
        rtmp_player = self.spawn_ffmpeg(harness.player_args(srv.rtmp_url("cam"), 60),
                                        "rtmp-player")
        flv_reader = self.start_flv_reader(name="cam", max_seconds=60)
        decoder = self.spawn_ffmpeg(["-rw_timeout", "10000000", "-i", srv.rtmp_url("cam"),
                                     "-t", "4", "-map", "0:v", "-f", "null", "-"], "rtmp-decode")
        probes = {}

        def probe(label, url):
            probes[label] = _ffprobe_stream(url)

        threads = [threading.Thread(target=probe, args=(lbl, url), daemon=True)
                   for lbl, url in (("RTMP", srv.rtmp_url("cam")),
                                    ("HTTP-FLV", srv.flv_url("cam")))]
        for t in threads:
            t.start()
        playlist = self._wait_hls(3, 20)
        for t in threads:
            t.join(30)

        for label in ("RTMP", "HTTP-FLV"):
            with self.subTest(probe=label):
                st, res = probes.get(label, (None, None))
                self.assertIsNotNone(st, "ffprobe found no video stream over %s: %r" % (label, res))
                note("whip: ffprobe over %s: %s %s %sx%s %s (%.1f s)" % (
                    label, st.get("codec_name"), st.get("profile"), st.get("width"),
                    st.get("height"), st.get("pix_fmt"), res.elapsed))
                self.assertEqual((st.get("codec_name"), st.get("width"), st.get("height")),
                                 ("h264", 640, 360), "%s stream of the WHIP publish" % label)

        with self.subTest(check="ffmpeg decodes the RTMP relay"):
            rc = decoder.wait(30)
            frames = decoder.frames()
            note("whip: ffmpeg decoded %d frames of 4 s over RTMP (rc %s)" % (frames, rc))
            self.assertEqual(rc, 0, "ffmpeg decoding over RTMP failed: " + decoder.describe())
            # 100 at 25 fps; Chromium's encoder may drop its frame rate when short of CPU.
            self.assertGreaterEqual(frames, 50, "ffmpeg decoded too few frames in 4 s over RTMP")

        with self.subTest(check="HLS segments"):
            self._check_hls(playlist)

        with self.subTest(check="the API shows the WebRTC publisher and player"):
            self._check_api(viewer)

        # The viewer has played for a while now; let it reach >= 6 s of play.
        first = viewer.wait_event("firstFrame", 20)
        answer = viewer.wait_event("answer", 1)
        self.assertEqual(answer.get("status"), 201, "WHEP POST: %s" % answer)
        play_until = time.monotonic() + 6.0
        while time.monotonic() < play_until:
            srv.assert_alive()
            time.sleep(0.2)

        # DELETE on the WHIP Location (the publisher's stop() measures, then DELETEs).
        self.assertIsNone(rtmp_player.poll(), "RTMP player ended before DELETE: "
                          + rtmp_player.describe())
        t_del, t_del_mono = time.time(), time.monotonic()
        p = pub.stop()
        t_del_done = time.time()
        note(webrtc.describe(p))
        self.assertEqual(p.get("status"), 201, "WHIP POST: %s" % p.get("responseBody"))
        self.assertEqual(p.get("deleteStatus"), 200, "DELETE on the WHIP Location")
        pv = p.get("video") or {}
        with self.subTest(check="the publisher sends H.264"):
            self.assertEqual(pv.get("codec"), "video/H264",
                             "sluice's WHIP answer should pick H.264 from Chromium's offer")
        note("whip: publisher sent %s frames (%s, %s), %s PLIs and %s NACKs received, "
             "data sent %s" % (pv.get("framesEncoded"), pv.get("encoderImplementation"),
                               pv.get("fmtp"),
                               pv.get("pliCount"), pv.get("nackCount"),
                               (p.get("data") or {}).get("sent")))
        with self.subTest(check="sluice asks the WHIP publisher for keyframes (PLI)"):
            self.assertGreaterEqual(pv.get("pliCount") or 0, 2,
                                    "the publisher's outbound stats show no PLIs from sluice")

        sid = webrtc.session_of(p.get("location"))
        with self.subTest(check="the session closed in the log"):
            self.assertTrue(srv.wait_log("WHIP %s: closed: ended by DELETE" % KEY, 5),
                            "no 'closed: ended by DELETE' line\n" + srv.log_tail())
            _, lines = webrtc.session_lines(srv, sid)
            self.assertTrue(any("closed: ended by DELETE" in ln for ln in lines),
                            "session %s: no close line among %s" % (sid, lines))
            self.assertTrue(srv.wait_log("stream %s freed" % KEY, 5),
                            "stream not freed after DELETE\n" + srv.log_tail())

        with self.subTest(check="the RTMP player ends"):
            rc = rtmp_player.wait(t_del_done + 5 - time.time())
            self.assertIsNotNone(rc, "RTMP player still running 5 s after DELETE")
            note("whip: RTMP player ended %.2f s after DELETE (rc %s, %d frames)" % (
                rtmp_player.ended - t_del_mono, rc, rtmp_player.frames()))

        with self.subTest(check="the HTTP-FLV player ends"):
            self.wait_until(lambda: flv_reader.end is not None, 5, "HTTP-FLV end after DELETE")
            self.assertEqual(flv_reader.end, "terminator", "HTTP-FLV response end")
            vts = [t.ts for t in flv_reader.tags if t.type == 9 and t.kind == "frame"]
            span = (vts[-1] - vts[0]) / 1000.0 if len(vts) > 1 else 0
            note("whip: HTTP-FLV player: %d video frames over %.2f s of timestamps, %d tags "
                 "(%s), ended by %s" % (len(vts), span, len(flv_reader.tags),
                                        sorted(set((t.type, t.kind) for t in flv_reader.tags)),
                                        flv_reader.end))
            self.assertGreaterEqual(len(vts), 100, "HTTP-FLV player got too few video frames")
            back = [(a, b) for a, b in zip(vts, vts[1:]) if b < a]
            self.assertFalse(back, "HTTP-FLV video timestamps going back: %s" % back[:5])

        with self.subTest(check="the WHEP viewer's session ends"):
            self.assertTrue(srv.wait_log("WHEP %s: closed: stream ended" % KEY, 5),
                            "WHEP viewer not closed after the publisher's DELETE\n"
                            + srv.log_tail())
        time.sleep(2.0)  # the viewer's frames must have stopped: measured below
        v = viewer.stop()
        note(webrtc.describe(v))
        self._check_viewer(v, first, t_del)

        with self.subTest(check="a new WHEP POST after DELETE"):
            status, _, body = webrtc.post_offer(srv.http_port, KEY, "whep", v["offerSdp"])
            self.assertEqual(status, 404, "WHEP of the deleted stream: %s %s" % (status, body))
            status, _, _ = webrtc.http_call(srv.http_port, "DELETE", p["location"])
            self.assertEqual(status, 404, "a second DELETE on the WHIP Location")

    # -- parts

    def _wait_hls(self, n, timeout):
        """The live playlist once it lists `n` segments."""
        deadline = time.monotonic() + timeout
        pl = None
        while time.monotonic() < deadline:
            status, _, pl, _ = harness.fetch_playlist(self.server.http_port,
                                                      self.server.hls_path("cam"))
            if pl is not None and len(pl.segments) >= n:
                return pl
            time.sleep(0.3)
        self.fail("HLS playlist of the WHIP stream has %s segments after %d s (want %d)\n%s"
                  % (len(pl.segments) if pl else None, timeout, n,
                     pl.text if pl else "no playlist"))

    def _check_hls(self, pl):
        durs = pl.durations
        note("whip: HLS segments %s s (target %.1f s)" % (durs, SEGMENT_MS / 1000.0))
        # Chromium's encoder makes keyframes only when asked: segments near the target
        # mean sluice's PLIs got keyframes about every segment duration.
        self.assertTrue(all(d <= 3.0 * SEGMENT_MS / 1000.0 for d in durs[1:]),
                        "segments far longer than the target (keyframes not requested?): %s"
                        % durs)
        seg = pl.segments[-1]["uri"]
        path = seg if seg.startswith("/") else self.server.hls_path("cam", file=seg)
        status, _, body, _ = harness.http_get(self.server.http_port, path)
        self.assertEqual(status, 200, "GET of HLS segment %s" % path)
        ts = harness.TsReport(body)
        self.assertFalse(ts.errors, "HLS segment TS errors: %s" % ts.errors[:5])
        self.assertIn(0x1B, ts.streams.values(), "no H.264 stream in the segment's PMT")
        self.assertIn(5, ts.first_video_nals or [],
                      "segment's first video PES is no IDR: NALs %s" % ts.first_video_nals)

    def _check_viewer(self, v, first, t_del):
        vv, va, data = v.get("video") or {}, v.get("audio") or {}, v.get("data") or {}
        self.assertEqual(v.get("status"), 201, "WHEP POST: %s" % v.get("responseBody"))
        frames_at_del = webrtc.timeline_at(v, t_del)
        note("whep: connected +%s ms, first frame +%s ms (%sx%s), %s frames by DELETE, "
             "%s in all, %s keyframes, freezes %s, audio %s pkts %s samples energy %.3f "
             "level max %s, first message +%s ms" % (
                 v.get("timeToConnectedMs"), v.get("timeToFirstFrameMs"), first.get("width"),
                 first.get("height"), frames_at_del, vv.get("framesDecoded"),
                 vv.get("keyFramesDecoded"), vv.get("freezeCount"), va.get("packetsReceived"),
                 va.get("totalSamplesReceived"), va.get("totalAudioEnergy") or 0,
                 v.get("audioLevelMax"), data.get("firstMessageMs")))
        with self.subTest(check="WHEP video"):
            self.assertEqual(vv.get("codec"), "video/H264", "WHEP video codec")
            self.assertEqual((vv.get("frameWidth"), vv.get("frameHeight")), (640, 360),
                             "WHEP frame size")
            self.assertGreater(frames_at_del, 50, "WHEP frames decoded before DELETE")
            self.assertIsNotNone(v.get("timeToFirstFrameMs"), "no first frame presented")
        with self.subTest(check="WHEP audio"):
            self.assertEqual(va.get("codec"), "audio/opus", "WHEP audio codec")
            self.assertGreater(va.get("packetsReceived") or 0, 100, "Opus packets received")
            s1 = webrtc.timeline_at(v, t_del - 3.0, 4)
            s2 = webrtc.timeline_at(v, t_del, 4)
            self.assertGreater(s1, 0, "no audio samples 3 s before DELETE")
            self.assertGreater(s2, s1 + 48000, "audio samples not rising (%d -> %d over "
                                               "the last 3 s before DELETE)" % (s1, s2))
            self.assertGreater(v.get("audioLevelMax") or 0, 0, "audio level always 0: silent")
            self.assertGreater(va.get("totalAudioEnergy") or 0, 0, "no audio energy: silent")
        with self.subTest(check="data channel from publisher to viewer"):
            msgs = data.get("messages") or []
            self.assertTrue(msgs and all(m.startswith("caption ") for m in msgs),
                            "viewer's data channel got %r (received %s)" % (
                                msgs[:5], data.get("received")))
            nums = [int(m.split()[1]) for m in msgs]
            self.assertEqual(nums, sorted(nums), "messages out of order: %s" % nums)
        with self.subTest(check="WHEP viewer stops after DELETE"):
            self.assertEqual((v.get("pair") or {}).get("dtlsState"), "closed",
                             "the viewer's DTLS was not closed by sluice (close_notify)")
            self.assertIsNotNone(data.get("closeMs"), "the viewer's data channel stayed open")
            after = webrtc.timeline_at(v, t_del + 1.0)
            last = webrtc.timeline_at(v, time.time())
            self.assertEqual(last, after, "frames still rising over 1 s after the DELETE "
                                          "(%d at +1 s, %d at the end)" % (after, last))


if __name__ == "__main__":
    webrtc.main()
