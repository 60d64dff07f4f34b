"""Process contract: SIGTERM/SIGINT with live sessions exit 0 within 2 s;
--check-config, --version and --help."""

import re
import signal
import time
import unittest

import harness
from harness import note

SHUTDOWN_BOUND_S = 2.0


class Signals(harness.E2ETestCase):

    def shutdown_with_sessions(self, sig):
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        rtmp = self.spawn_ffmpeg(harness.player_args(self.server.rtmp_url(), 60), "rtmp-player")
        http = self.start_flv_reader(max_seconds=60)
        self.wait_until(lambda: rtmp.frames() > 0 and http.video_frames > 0, 10,
                        "both players receiving")
        elapsed = self.server.stop(sig)  # asserts exit code 0 and a clean log
        http.join(5)
        players = [rtmp.wait(5), pub.wait(5)]
        note("%s with a publisher and 2 players: exit 0 after %.2f s; afterwards ffmpeg "
             "player/publisher exit %s, http-flv end=%s" % (
                 signal.Signals(sig).name, elapsed, players, http.end))
        self.assertLess(elapsed, SHUTDOWN_BOUND_S)
        self.assertIsNotNone(http.end, "HTTP-FLV connection still open after shutdown")

    def test_sigterm(self):
        self.shutdown_with_sessions(signal.SIGTERM)

    def test_sigint(self):
        self.shutdown_with_sessions(signal.SIGINT)


class CommandLine(harness.E2ETestCase):
    start_server = False

    def write(self, name, text):
        path = self.workdir / name
        path.write_text(text)
        return path

    def test_check_config_good(self):
        path = self.write("good.yaml", harness.to_yaml({
            "log_level": "info",
            "rtmp": {"enabled": True, "listen": ["127.0.0.1:19350"], "chunk_size": 4096},
            "http": {"enabled": True, "listen": ["127.0.0.1:18080"], "cors_origin": "*"},
            "hub": {"gop_cache": 1},
            "limits": {"max_connections": 1000, "viewer_queue_soft_ms": 3000,
                       "viewer_queue_hard_ms": 10000, "viewer_queue_hard_bytes": 33554432,
                       "rtmp_max_message_bytes": 8388608, "http_max_header_bytes": 16384,
                       "http_max_body_bytes": 1048576, "handshake_timeout_ms": 10000,
                       "idle_timeout_ms": 30000}}) + "\n")
        res = harness.run([harness.SLUICE_BIN, "--check-config", "-c", path], 20,
                          env=harness.sanitizer_env())
        note("--check-config good: rc=%s %r" % (res.returncode, (res.stdout + res.stderr)[:200]))
        self.assertEqual(res.returncode, 0, repr(res))

    def test_check_config_unknown_key(self):
        path = self.write("bad.yaml", "log_level: info\nrtmp:\n  bogus_key: 1\n")
        res = harness.run([harness.SLUICE_BIN, "--check-config", "-c", path], 20,
                          env=harness.sanitizer_env())
        out = res.stdout + res.stderr
        note("--check-config bad: rc=%s %r" % (res.returncode, out[:200]))
        self.assertEqual(res.returncode, 1, repr(res))
        self.assertIn("bad.yaml:3:", out)
        self.assertNotIn("runtime error:", out)
        self.assertNotIn("ERROR: AddressSanitizer", out)
        self.assertNotIn("ERROR: LeakSanitizer", out)

    def test_version(self):
        res = harness.run([harness.SLUICE_BIN, "--version"], 20,
                          env=harness.sanitizer_env())
        note("--version: rc=%s %r" % (res.returncode, (res.stdout + res.stderr).strip()[:100]))
        self.assertEqual(res.returncode, 0, repr(res))
        self.assertRegex(res.stdout + res.stderr, r"\d+\.\d+")

    def test_help(self):
        res = harness.run([harness.SLUICE_BIN, "--help"], 20,
                          env=harness.sanitizer_env())
        note("--help: rc=%s, %d bytes" % (res.returncode, len(res.stdout + res.stderr)))
        self.assertEqual(res.returncode, 0, repr(res))
        self.assertIn("-c", res.stdout + res.stderr)


if __name__ == "__main__":
    unittest.main()
