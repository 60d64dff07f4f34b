"""sluice-bench, the load generator of the benchmarks, against a real server.

Its own publisher sends a small FLV (stamped, looped) over RTMP; 20 of its players
per protocol (RTMP, HTTP-FLV, RTSP, HLS) and 20 RTMP players of which 10 % stall
play at once, started 10 a second. The JSON reports must say what a healthy server
on loopback gives: every player connected, none failed, the frames 25 fps brings,
no frame lost (the stamps' numbers are contiguous, so they went through the server
untouched), a loopback latency, a quick first frame. The command line refuses
targets off loopback and counts over the limits.
"""

import json
import os
import time
import unittest

import harness
from harness import note

BENCH_BIN = os.path.join(os.path.dirname(harness.SLUICE_BIN), "sluice-bench")
FPS = 25
GOP_FRAMES = 50
PUBLISH_SECONDS = 12
PLAY_SECONDS = 6
PLAYERS = 20
RAMP = 10
RUN_BOUND_S = PLAY_SECONDS + 15  # players stop at PLAY_SECONDS, closing within 5 s


def expected_video_frames(players, stalled_every=0):
    """Frames the players that do not stall get from the live edge: 25 fps from their
    start (i / RAMP s) to the end, the GOP cache they join with aside."""
    total = 0.0
    for i in range(players):
        if stalled_every and (i + 1) % stalled_every == 0:
            continue
        total += max(0.0, PLAY_SECONDS - i / RAMP) * FPS
    return total


class BenchTool(harness.E2ETestCase):

    def bench(self, args, name):
        return self.spawn([BENCH_BIN] + [str(a) for a in args] + ["--json", self.workdir / (name + ".json")],
                          name, env=harness.sanitizer_env())

    def report(self, proc, name, bound):
        rc = proc.wait(bound)
        self.assertIsNotNone(rc, "%s did not end within %d s: %s" % (name, bound, proc.describe()))
        err = proc.stderr_text()
        for marker in harness.SANITIZER_MARKERS:
            self.assertNotIn(marker, err, "sanitizer report from sluice-bench:\n" + err[-3000:])
        self.assertEqual(rc, 0, proc.describe())
        stdout = json.loads(proc.out_path.read_text())
        saved = json.loads((self.workdir / (name + ".json")).read_text())
        self.assertEqual(stdout, saved, "--json file differs from stdout")
        return stdout

    def make_source(self):
        path = self.workdir / "src.flv"
        res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                           "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=%d" % FPS,
                           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "6",
                           "-c:v", "libx264", "-preset", "ultrafast", "-g", str(GOP_FRAMES),
                           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", path],
                          timeout=30)
        self.assertEqual(res.returncode, 0, "ffmpeg could not make the source: %r" % res)
        return path

    def assert_players(self, r, label, stalled_every=0, live=True):
        """Every player connected and fed; live protocols at a loopback latency."""
        lat, ff = r["latency_ms"], r["first_frame_ms"]
        expected = expected_video_frames(PLAYERS, stalled_every)
        fed = PLAYERS - (PLAYERS // stalled_every if stalled_every else 0)
        note("%s: %d/%d connected, %d failed, %d stalled, %d video frames (%.0f expected from "
             "the live edge), %d audio, %d dropped, latency p50 %s p99 %s ms (%d samples), "
             "first frame p50 %s p99 %s ms, %.2f Mbps, errors %s"
             % (label, r["connected"], r["players"], r["failed"], r["stalled"], r["video_frames"],
                expected, r["audio_frames"], r["dropped"], lat["p50"], lat["p99"], lat["samples"],
                ff["p50"], ff["p99"], r["mbps"], r["errors"]))
        self.assertEqual((r["players"], r["connected"], r["failed"]), (PLAYERS, PLAYERS, 0), label)
        self.assertEqual(r["errors"], {}, label)
        self.assertEqual(r["stalled"], PLAYERS // stalled_every if stalled_every else 0, label)
        self.assertEqual(r["dropped"], 0, "%s: frames lost between publisher and players" % label)
        # The GOP cache a player joins with (up to 2 s) and HLS's three segments come on top.
        backlog = (GOP_FRAMES if live else 4 * GOP_FRAMES) * fed
        self.assertGreaterEqual(r["video_frames"], 0.75 * expected, label)
        self.assertLessEqual(r["video_frames"], 1.1 * expected + backlog, label)
        self.assertGreater(r["audio_frames"], r["video_frames"], label)  # 43 AAC frames a second
        self.assertIsNotNone(ff["p99"], label)
        # An HLS player may have to wait for a segment to be listed.
        self.assertLess(ff["p99"], 1000.0 if live else 3000.0, "%s: first frame too late" % label)
        self.assertIsNotNone(lat["p50"], "%s: no stamp read back" % label)
        self.assertGreater(lat["p50"], 0.0, label)
        if live:
            self.assertLess(lat["p50"], 50.0, "%s: latency on loopback" % label)
            # Frames from the GOP cache give no sample; every live one does.
            self.assertGreater(lat["samples"], 0.6 * expected, label)

    def test_publish_and_play_every_protocol(self):
        src = self.make_source()
        srv = self.server
        pub = self.bench(["publish", srv.rtmp_url(), "--file", src, "--seconds", PUBLISH_SECONDS], "publish")
        self.assertTrue(srv.wait_log("stream live/cam created", 10), "no stream: " + pub.describe())
        time.sleep(1.0)  # a GOP in the cache and HLS's first segments

        play = ["--players", PLAYERS, "--ramp", RAMP, "--seconds", PLAY_SECONDS]
        runs = {
            "rtmp": self.bench(["play", srv.rtmp_url()] + play, "rtmp"),
            "flv": self.bench(["play", srv.flv_url()] + play, "flv"),
            "rtsp": self.bench(["play", srv.rtsp_url()] + play, "rtsp"),
            "hls": self.bench(["play", srv.hls_url()] + play, "hls"),
            "rtmp-stall": self.bench(["play", srv.rtmp_url()] + play + ["--stall", 10], "rtmp-stall"),
        }
        reports = {name: self.report(p, name, RUN_BOUND_S) for name, p in runs.items()}
        srv.assert_alive()
        for name in ("rtmp", "flv", "rtsp"):
            with self.subTest(proto=name):
                self.assertEqual(reports[name]["proto"], name)
                self.assert_players(reports[name], name)
        with self.subTest(proto="hls"):
            self.assert_players(reports["hls"], "hls", live=False)
        with self.subTest(proto="rtmp --stall 10"):
            self.assert_players(reports["rtmp-stall"], "rtmp --stall 10", stalled_every=10)

        r = self.report(pub, "publish", PUBLISH_SECONDS + 10)
        note("publish: %d frames, %d video, %d bytes in %.1f s, send queue max %d bytes, error %s"
             % (r["frames"], r["video_frames"], r["bytes"], r["seconds"], r["send_queue_max_bytes"], r["error"]))
        self.assertIsNone(r["error"])
        self.assertAlmostEqual(r["video_frames"], FPS * PUBLISH_SECONDS, delta=FPS * 1.5)
        self.assertGreater(r["frames"], 2 * r["video_frames"])  # AAC at 43 frames a second
        self.assertLess(r["send_queue_max_bytes"], 1 << 20)
        self.assertTrue(srv.wait_log("rtmp unpublish live/cam", 5), "the publisher did not leave cleanly")

    def test_refuses_bad_command_lines(self):
        url = self.server.rtmp_url()
        cases = [
            ["play", url.replace("127.0.0.1", "10.0.0.1"), "--players", 1, "--seconds", 1],
            ["play", "rtmp://localhost:1935/live/cam", "--players", 1, "--seconds", 1],
            ["play", url, "--players", 20001, "--seconds", 1],
            ["play", url, "--players", 1, "--seconds", 3601],
            ["play", url, "--players", 1],
            ["play", "http://127.0.0.1:1/live/cam.mp4", "--players", 1, "--seconds", 1],
            ["publish", self.server.flv_url(), "--file", "x.flv", "--seconds", 1],
            ["publish", url, "--seconds", 1],
        ]
        for args in cases:
            res = harness.run([BENCH_BIN] + args, timeout=10, env=harness.sanitizer_env())
            self.assertEqual(res.returncode, 2, "accepted: %s\n%r" % (args, res))
            self.assertEqual(res.stdout, "", args)


if __name__ == "__main__":
    unittest.main()
