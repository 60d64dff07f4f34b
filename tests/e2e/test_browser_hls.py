"""HLS in a real browser: headless Chromium plays the live playlist with hls.js (MSE).

tests/browser/hls_play.mjs drives the browser and prints what it measured; this test
runs it against a live 640x360 25 fps H.264+AAC publish (2 s segments) and judges the
numbers. Setup, tool checks (skip, or fail under CI) and running the script: browser.py.
"""

import time
import unittest

import browser
import harness
from harness import note

PLAY_S = 8


class BrowserHls(browser.BrowserTestCase):
    PLAY_SCRIPT = "hls_play.mjs"
    LIBRARY = "hls.js"
    config = {"hls": {"enabled": True, "segment_duration_ms": 2000}}

    def setUp(self):
        super().setUp()
        # hls.js starts a live stream three target durations behind its end: let the
        # playlist hold three segments first, as a player would find a running stream.
        port, path = self.server.http_port, self.server.hls_path()
        self.wait_until(lambda: len(getattr(harness.fetch_playlist(port, path)[2], "segments",
                                            ())) >= 3, 15, "three HLS segments", interval=0.25)

    def test_hls_js_plays_h264_aac(self):
        t0 = time.monotonic()
        m = self.play_in_browser(self.server.hls_url(), PLAY_S)
        codecs = m.get("bufferCodecs") or {}
        video = (codecs.get("video") or {}).get("codec") or ""
        audio = (codecs.get("audio") or {}).get("codec") or ""
        note("chromium+hls.js %d s (%.1f s with start-up): %dx%d, currentTime %.2f -> %.2f "
             "(advanced %.2f s), %d frames (%d dropped), first playing after %s ms, latency "
             "%s s, levels %s, buffer codecs video %s audio %s, playlist %s, fragments %s, "
             "%d audio bytes decoded, fatal %s, non-fatal %s, console errors %s" % (
                 PLAY_S, time.monotonic() - t0, m.get("videoWidth", 0), m.get("videoHeight", 0),
                 m.get("startTime") or 0, m.get("currentTime", 0), m.get("advanced", 0),
                 m.get("totalVideoFrames", 0), m.get("droppedVideoFrames", 0),
                 m.get("firstPlayingMs"), m.get("latency"), m.get("levels"), video, audio,
                 m.get("levelDetails"), m.get("fragsLoaded"), m.get("decodedAudioBytes", 0),
                 m.get("errors"), m.get("nonFatal"), m.get("consoleErrors")))
        self.assertEqual(m.get("errors"), [], "hls.js reported fatal errors")
        self.assertEqual((m.get("videoWidth"), m.get("videoHeight")), (640, 360))
        self.assertIsNotNone(m.get("firstPlayingMs"), "the video never started playing")
        self.assertGreaterEqual(m.get("advanced", 0), 3.0, "playback did not advance")
        self.assertGreaterEqual(m.get("totalVideoFrames", 0), 75, "too few frames shown")
        self.assertTrue(video.startswith("avc1."), "video codec %r is not AVC" % video)
        self.assertTrue(audio.startswith("mp4a.40."), "audio codec %r is not AAC" % audio)
        self.assertTrue((m.get("levelDetails") or {}).get("live"), "hls.js saw no live playlist")
        self.assertGreater(m.get("decodedAudioBytes", 0), 0, "the browser decoded no audio")
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
