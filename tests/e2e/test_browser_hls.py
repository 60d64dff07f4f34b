"""HLS in a real browser: headless Chromium plays the live playlist with hls.js (MSE).

tests/browser/hls_play.mjs drives the browser and prints what it measured; this test
runs it against a live 640x360 25 fps H.264+AAC publish (2 s segments) and judges the
numbers. Without Chromium, node or tests/browser/node_modules the test is skipped on a
developer's machine and fails under CI (env CI set), where scripts/deps.sh must have
installed them.
"""

import json
import os
import shutil
import signal
import time
import unittest

import harness
from harness import note

BROWSER_DIR = harness.REPO / "tests" / "browser"
PLAY_SCRIPT = BROWSER_DIR / "hls_play.mjs"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
PLAY_S = 8
# The script bounds itself at PLAY_S + 24 s and closes the browser; ours is the backstop.
RUN_BOUND_S = PLAY_S + 40


def under_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def missing_tools():
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("chromium (%s)" % CHROMIUM)
    if shutil.which("node") is None:
        missing.append("node")
    for mod in ("playwright-core", "hls.js"):
        if not (BROWSER_DIR / "node_modules" / mod / "package.json").is_file():
            missing.append("tests/browser/node_modules/%s (npm ci in tests/browser)" % mod)
    return missing


class BrowserHls(harness.E2ETestCase):
    config = {"hls": {"enabled": True, "segment_duration_ms": 2000}}

    def setUp(self):
        # Checked before the server starts: a skip leaves nothing behind.
        missing = missing_tools()
        if missing and under_ci():
            self.fail("CI is set but the browser tools are missing: " + ", ".join(missing))
        if missing:
            raise unittest.SkipTest("browser tools missing: " + ", ".join(missing))
        super().setUp()
        self.pub = self.publish(seconds=90)
        self.wait_published(self.pub)
        # hls.js starts a live stream three target durations behind its end: let the
        # playlist hold three segments first, as a player would find a running stream.
        port, path = self.server.http_port, self.server.hls_path()
        self.wait_until(lambda: len(getattr(harness.fetch_playlist(port, path)[2], "segments",
                                            ())) >= 3, 15, "three HLS segments", interval=0.25)

    def play_in_browser(self, url, seconds):
        """Runs the player script; returns its JSON result. The browser's profile goes to
        TMPDIR=workdir, so nothing outlives the test's scratch dir."""
        env = dict(os.environ, TMPDIR=str(self.workdir))
        p = self.spawn(["node", PLAY_SCRIPT, url, seconds], "browser", env=env)
        rc = p.wait(RUN_BOUND_S)
        if rc is None:
            # SIGTERM first: playwright's handler closes Chromium, which runs in a process
            # group of its own that the cleanup's SIGKILL of ours would not reach.
            p.signal(signal.SIGTERM)
            p.wait(10)
            self.fail("browser player did not finish within %d s\n%s" % (RUN_BOUND_S,
                                                                          p.describe()))
        out = p.out_path.read_text("utf-8", "replace").strip().splitlines()
        self.assertEqual(rc, 0, "browser player failed: %s" % p.describe())
        self.assertTrue(out, "browser player printed nothing: %s" % p.describe())
        return json.loads(out[-1])

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
