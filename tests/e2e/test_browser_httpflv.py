"""HTTP-FLV in a real browser: headless Chromium plays the stream with mpegts.js (MSE).

tests/browser/httpflv_play.mjs drives the browser and prints what it measured; this test
runs it against a live 640x360 25 fps H.264+AAC publish and judges the numbers. Setup,
tool checks (skip, or fail under CI) and running the script: browser.py.
"""

import unittest

import browser
from harness import note

PLAY_S = 6


class BrowserHttpFlv(browser.BrowserTestCase):
    PLAY_SCRIPT = "httpflv_play.mjs"
    LIBRARY = "mpegts.js"

    def test_mpegts_js_plays_h264_aac(self):
        m = self.play_in_browser(self.server.flv_url(), PLAY_S)
        note("chromium+mpegts.js %d s: %dx%d currentTime %.2f s, %d frames (%d dropped), "
             "first playing after %s ms, video %s, audio %s %s Hz %s ch, "
             "%d audio bytes decoded, errors %s, console errors %s" % (
                 PLAY_S, m.get("videoWidth", 0), m.get("videoHeight", 0),
                 m.get("currentTime", 0), m.get("totalVideoFrames", 0),
                 m.get("droppedVideoFrames", 0), m.get("firstPlayingMs"),
                 m.get("videoCodec"), m.get("audioCodec"), m.get("audioSampleRate"),
                 m.get("audioChannelCount"), m.get("decodedAudioBytes", 0),
                 m.get("errors"), m.get("consoleErrors")))
        self.assertEqual(m.get("errors"), [], "the player reported errors")
        self.assertEqual((m.get("videoWidth"), m.get("videoHeight")), (640, 360))
        self.assertGreaterEqual(m.get("currentTime", 0), 3.0, "playback did not advance")
        self.assertGreaterEqual(m.get("totalVideoFrames", 0), 75, "too few frames shown")
        self.assertTrue(m.get("hasVideo"), "media info says no video")
        self.assertTrue((m.get("videoCodec") or "").startswith("avc1."),
                        "video codec %r is not AVC" % m.get("videoCodec"))
        self.assertTrue(m.get("hasAudio"), "media info says no audio")
        self.assertTrue((m.get("audioCodec") or "").startswith("mp4a.40."),
                        "audio codec %r is not AAC" % m.get("audioCodec"))
        self.assertGreater(m.get("decodedAudioBytes", 0), 0, "the browser decoded no audio")
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
