"""HTTP-FLV in a real browser: headless Chromium plays the stream with mpegts.js (MSE).

tests/browser/httpflv_play.mjs drives the browser and prints what it measured; this test
runs it against a live 640x360 25 fps H.264+AAC publish and judges the numbers. Without
Chromium, node or tests/browser/node_modules the test is skipped on a developer's
machine and fails under CI (env CI set), where scripts/deps.sh must have installed them.
"""

import json
import os
import shutil
import signal
import unittest

import harness
from harness import note

BROWSER_DIR = harness.REPO / "tests" / "browser"
PLAY_SCRIPT = BROWSER_DIR / "httpflv_play.mjs"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
PLAY_S = 6
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
    for mod in ("playwright-core", "mpegts.js"):
        if not (BROWSER_DIR / "node_modules" / mod / "package.json").is_file():
            missing.append("tests/browser/node_modules/%s (npm ci in tests/browser)" % mod)
    return missing


class BrowserHttpFlv(harness.E2ETestCase):

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
