"""What the headless-Chromium tests share: the tool checks, the publish they play, and
running a tests/browser/NAME_play.mjs script for its JSON result.

Without Chromium, node or the needed tests/browser/node_modules a test is skipped on a
developer's machine and fails under CI (env CI set), where scripts/deps.sh must have
installed them.
"""

import json
import os
import shutil
import signal
import unittest

import harness

BROWSER_DIR = harness.REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
# The script bounds itself at its play time + 24 s and closes the browser; ours, play
# time + this, is the backstop.
RUN_SLACK_S = 40


def under_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def missing_tools(library):
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("chromium (%s)" % CHROMIUM)
    if shutil.which("node") is None:
        missing.append("node")
    for mod in ("playwright-core", library):
        if not (BROWSER_DIR / "node_modules" / mod / "package.json").is_file():
            missing.append("tests/browser/node_modules/%s (npm ci in tests/browser)" % mod)
    return missing


class BrowserTestCase(harness.E2ETestCase):
    """A subclass sets PLAY_SCRIPT (the .mjs under tests/browser) and LIBRARY (the npm
    package its page plays with). setUp starts the server and a 90 s publish of live/cam."""

    PLAY_SCRIPT = None
    LIBRARY = None

    def setUp(self):
        # Checked before the server starts: a skip leaves nothing behind.
        missing = missing_tools(self.LIBRARY)
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
        bound = seconds + RUN_SLACK_S
        env = dict(os.environ, TMPDIR=str(self.workdir))
        p = self.spawn(["node", BROWSER_DIR / self.PLAY_SCRIPT, url, seconds], "browser",
                       env=env)
        rc = p.wait(bound)
        if rc is None:
            # SIGTERM first: playwright's handler closes Chromium, which runs in a process
            # group of its own that the cleanup's SIGKILL of ours would not reach.
            p.signal(signal.SIGTERM)
            p.wait(10)
            self.fail("browser player did not finish within %d s\n%s" % (bound, p.describe()))
        out = p.out_path.read_text("utf-8", "replace").strip().splitlines()
        self.assertEqual(rc, 0, "browser player failed: %s" % p.describe())
        self.assertTrue(out, "browser player printed nothing: %s" % p.describe())
        return json.loads(out[-1])
