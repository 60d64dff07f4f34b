"""Recording to disk as HLS: a finished recording is a complete VOD playlist of the
published length, SIGTERM finalises an open one, record.streams selects what is
recorded, and an unwritable record.path costs one log line and nothing of the live
stream."""

import re
import time
import unittest
from pathlib import Path

import harness
from harness import note

STAMP_RE = re.compile(r"^\d{8}-\d{6}(-\d)?$")
SHUTDOWN_BOUND_S = 2.0


def record_config(path, streams="live/*"):
    return {"hls": {"segment_duration_ms": 2000},
            "record": {"enabled": True, "path": str(path), "streams": streams}}


class RecordCase(harness.E2ETestCase):
    start_server = False

    def start(self, streams="live/*", path=None):
        self.rec_root = Path(path) if path else self.workdir / "rec"
        self.server = self.new_server(record_config(self.rec_root, streams))

    def wait_created(self, key, timeout=15):
        """Polls the log closely for `stream KEY created`; returns when it was seen."""
        self.assertTrue(self.server.wait_log("stream %s created" % key, timeout),
                        "%s not published\n%s" % (key, self.server.log_tail()))
        return time.monotonic()

    def recording_dir(self, key="live/cam"):
        parent = self.rec_root / key
        dirs = sorted(p for p in parent.iterdir()) if parent.is_dir() else []
        self.assertEqual(len(dirs), 1, "expected one recording under %s, found %s"
                         % (parent, [d.name for d in dirs]))
        self.assertRegex(dirs[0].name, STAMP_RE)
        return dirs[0]

    def assert_finished_recording(self, d):
        """The recording in `d` is a finished VOD playlist of existing, clean segments
        and nothing else. Returns (Playlist, ffprobe's duration, decoded video frames)."""
        pl = harness.Playlist((d / "index.m3u8").read_text())
        names = sorted(p.name for p in d.iterdir())
        note("recording %s: %s, EXTINF %s" % (d.name, names, pl.durations))
        self.assertEqual(pl.tags.get("#EXT-X-PLAYLIST-TYPE"), "VOD")
        self.assertIn("#EXT-X-ENDLIST", pl.tags)
        self.assertEqual(pl.lines[-1], "#EXT-X-ENDLIST")
        # RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer <= the target.
        self.assertLessEqual(max(round(x) for x in pl.durations),
                             pl.tag_int("#EXT-X-TARGETDURATION"))
        uris = [s["uri"] for s in pl.segments]
        self.assertEqual(uris, ["%06d.ts" % (pl.media_sequence + i) for i in range(len(uris))])
        self.assertEqual(names, sorted(uris + ["index.m3u8"]),
                         "the directory holds other files than the playlist's")
        for u in uris:
            ts = harness.TsReport((d / u).read_bytes())
            self.assertEqual(ts.errors, [], "MPEG-TS errors in " + u)
            self.assertEqual(ts.pids[0], 0, u + " does not start with the PAT")
        info = harness.ffprobe_json(d / "index.m3u8", ["-show_entries", "format=duration"])
        duration = float(info["format"]["duration"])
        progress = self.workdir / "decode.progress"
        res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
                           "-i", d / "index.m3u8", "-progress", progress, "-f", "null", "-"],
                          timeout=60)
        frames, ended = harness.read_progress(progress)
        self.assertEqual((res.returncode, res.timed_out), (0, False), "decoding: %r" % res)
        self.assertEqual(res.stderr.strip(), "", "ffmpeg reported errors decoding the recording")
        self.assertTrue(ended)
        return pl, duration, frames


class RecordFinished(RecordCase):

    def test_ten_seconds_make_a_ten_second_vod(self):
        self.start()
        pub = self.publish(seconds=10)
        self.wait_created("live/cam")
        # The EVENT playlist as a player polling it while live would see it.
        event_targets = set()
        while pub.wait(0.5) is None:
            self.assertLess(time.monotonic() - pub.started, 30, "the publisher did not end")
            found = list(self.rec_root.glob("live/cam/*/index.m3u8"))
            if found:
                live_pl = harness.Playlist(found[0].read_text())
                if live_pl.tags.get("#EXT-X-PLAYLIST-TYPE") == "EVENT":
                    event_targets.add(live_pl.tag_int("#EXT-X-TARGETDURATION"))
        self.assertEqual(pub.wait(0), 0, "publisher: " + pub.describe())
        self.assertTrue(self.server.wait_log("record live/cam: finished", 5),
                        "the recording was not finished\n" + self.server.log_tail())
        pl, duration, frames = self.assert_finished_recording(self.recording_dir())
        note("10 s published: ffprobe duration %.3f s, EXTINF sum %.3f s, %d segments, "
             "%d video frames decoded" % (duration, sum(pl.durations), len(pl.segments), frames))
        self.assertLessEqual(abs(duration - 10.0), 0.5)
        self.assertGreaterEqual(frames, 240)
        # RFC 8216 6.2.1: an EVENT playlist only grows (and ends); its
        # EXT-X-TARGETDURATION cannot change on the way to the final VOD version.
        target = pl.tag_int("#EXT-X-TARGETDURATION")
        note("EXT-X-TARGETDURATION while recording %s, finished %s" % (
            sorted(event_targets), target))
        self.assertEqual(event_targets, {2})
        self.assertEqual(target, 2, "the finished recording changed EXT-X-TARGETDURATION")
        self.server.assert_alive()


class RecordSigterm(RecordCase):

    def test_sigterm_finalises_the_recording(self):
        self.start()
        pub = self.publish(seconds=60)
        t_created = self.wait_created("live/cam")
        time.sleep(6)
        live_pl = harness.Playlist((self.recording_dir() / "index.m3u8").read_text())
        note("recording's playlist while live: %s, %d segments, ENDLIST %s" % (
            live_pl.tags.get("#EXT-X-PLAYLIST-TYPE"), len(live_pl.segments),
            "#EXT-X-ENDLIST" in live_pl.tags))
        self.assertEqual(live_pl.tags.get("#EXT-X-PLAYLIST-TYPE"), "EVENT")
        self.assertNotIn("#EXT-X-ENDLIST", live_pl.tags)
        self.assertGreaterEqual(len(live_pl.segments), 2)
        time.sleep(max(0.0, t_created + 7 - time.monotonic()))
        frames_sent = pub.frames()
        published = time.monotonic() - t_created
        elapsed = self.server.stop()
        note("SIGTERM after %.2f s of publishing (%d frames sent by then = %.2f s): exit 0 "
             "after %.2f s" % (published, frames_sent, frames_sent / 25.0, elapsed))
        self.assertLess(elapsed, SHUTDOWN_BOUND_S)
        self.assertIn("record live/cam: finished", self.server.log_text(),
                      "the recording was not finished before the exit")
        pl, duration, frames = self.assert_finished_recording(self.recording_dir())
        note("recording after SIGTERM: ffprobe duration %.3f s vs %.2f s published, "
             "%d segments, %d video frames decoded" % (duration, published, len(pl.segments),
                                                       frames))
        self.assertLessEqual(abs(duration - published), 1.0)


class RecordSelection(RecordCase):

    def test_only_matching_streams_are_recorded(self):
        self.start(streams="other/*")
        self.publish(seconds=60)
        self.spawn_ffmpeg(harness.publisher_args(self.server.rtmp_url("cam", app="other"), 60),
                          "publisher-other")
        self.wait_created("live/cam")
        self.wait_created("other/cam")
        port = self.server.http_port

        def listed(app):
            _, _, pl, _ = harness.fetch_playlist(port, self.server.hls_path("cam", app))
            return pl is not None and len(pl.segments) >= 2
        self.wait_until(lambda: listed("live") and listed("other"), 15,
                        "two segments of both streams")
        other = self.recording_dir("other/cam")
        self.wait_until(lambda: (other / "000001.ts").is_file(), 5, "other/cam's recording")
        log = self.server.log_text()
        note("record.streams other/*: %s holds %s; %s exists: %s" % (
            other, sorted(p.name for p in other.iterdir()), self.rec_root / "live",
            (self.rec_root / "live").exists()))
        self.assertFalse((self.rec_root / "live").exists(), "live/cam was recorded")
        self.assertNotIn("record live/cam", log)
        self.assertIn("record other/cam: recording to", log)


class RecordUnwritable(RecordCase):

    def test_unwritable_path_leaves_the_live_stream_alone(self):
        blocker = self.workdir / "file.txt"
        blocker.write_text("a regular file where a directory would go\n")
        self.start(path=blocker / "sub")
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        flv = self.start_flv_reader(max_seconds=30)
        port = self.server.http_port

        def playlist():
            return harness.fetch_playlist(port, self.server.hls_path())[2]
        self.wait_until(lambda: playlist() is not None and len(playlist().segments) >= 2, 15,
                        "two HLS segments")
        pl = playlist()
        last = pl.segments[-1]["uri"]
        status, _, body, _ = harness.http_get(port, self.server.hls_path(file=last))
        ts = harness.TsReport(body)
        time.sleep(1)
        flv.stop()
        errors = [ln for ln in self.server.log_text().splitlines()
                  if ln.split()[1:2] == ["ERROR"]]
        note("unwritable record.path: HLS %d segments, %s %d bytes TS errors %s; HTTP-FLV %d "
             "video frames; error lines %s" % (len(pl.segments), last,
                                               len(body), ts.errors[:3], flv.video_frames,
                                               errors))
        self.assertEqual(status, 200)
        self.assertEqual(ts.errors, [])
        self.assertEqual(flv.status, 200)
        self.assertGreaterEqual(flv.video_frames, 50)
        self.assertEqual(len(errors), 1, "expected one error line about the recording")
        self.assertIn("record", errors[0])
        self.assertFalse((blocker.parent / "sub").exists())
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
