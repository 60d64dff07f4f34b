"""Live HLS: the playlist window, the segments' MPEG-TS, ffmpeg as a player, hostile
paths, audio-only streams, on-demand segmenting, a target duration that stays put when
the publisher leaves, and a publisher restart.

The publisher is 25 fps with a keyframe every 50 frames and hls.segment_duration_ms is
2000, so every segment should be one GOP of 2.0 s. hls.playlist_length is 3 so that the
window slides within the few seconds a test can afford.
"""

import datetime
import time
import unittest

import harness
from harness import note

SEGMENT_S = 2.0
HLS_CONFIG = {"hls": {"enabled": True, "segment_duration_ms": 2000, "playlist_length": 3}}
STREAM_TYPE_H264, STREAM_TYPE_AAC = 0x1B, 0x0F
NAL_IDR = 5
SEGMENTING_LINE = "hls live/cam: segmenting"


def parse_pdt(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


class HlsCase(harness.E2ETestCase):
    config = HLS_CONFIG

    def playlist(self, name="cam", timeout=10.0):
        return harness.fetch_playlist(self.server.http_port, self.server.hls_path(name), timeout)

    def wait_segments(self, n, timeout, name="cam", cond=None):
        """Polls the playlist until it lists >= n segments (and `cond(playlist)` holds);
        returns the playlist."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.server.assert_alive()
            status, _, pl, _ = self.playlist(name)
            last = (status, pl.text if pl else None)
            if pl is not None and len(pl.segments) >= n and (cond is None or cond(pl)):
                return pl
            if time.monotonic() > deadline:
                self.fail("playlist of %s did not list %d segments%s within %.0f s; last: %r\n%s"
                          % (name, n, " as expected" if cond else "", timeout, last,
                             self.server.log_tail()))
            time.sleep(0.25)

    def segment(self, uri, name="cam"):
        status, headers, body, _ = harness.http_get(
            self.server.http_port, self.server.hls_path(name, file=uri))
        self.assertEqual(status, 200, "GET %s" % self.server.hls_path(name, file=uri))
        return headers, body

    def decode(self, url, seconds, label):
        """ffmpeg decodes `seconds` of `url`, errors only on stderr; returns video frames."""
        progress = self.workdir / (label + ".progress")
        res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-rw_timeout",
                           "10000000", "-i", url, "-t", str(seconds), "-progress", progress,
                           "-f", "null", "-"], timeout=seconds + 30)
        frames, ended = harness.read_progress(progress)
        self.assertFalse(res.timed_out, "ffmpeg timed out: %r" % res)
        self.assertEqual(res.returncode, 0, "ffmpeg failed: %r" % res)
        self.assertEqual(res.stderr.strip(), "", "ffmpeg reported errors while decoding")
        self.assertTrue(ended, "ffmpeg -progress never said progress=end")
        return frames

    def streams_of(self, url):
        info = harness.ffprobe_json(url, ["-show_entries", "stream=codec_type,codec_name,"
                                          "width,height,sample_rate,channels"])
        return info.get("streams", [])


class HlsLive(HlsCase):

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=60)
        self.wait_published(self.pub)

    def test_playlist_window(self):
        # ~8 s of publishing: four segments made, the last three listed.
        time.sleep(max(0.0, 8.0 - (time.monotonic() - self.pub.started)))
        self.wait_segments(3, 1.0)
        status, headers, pl, elapsed = self.playlist()
        self.assertEqual(status, 200)
        note("playlist after %.1f s of publishing (%.3f s): seq %s, EXTINF %s, PDT %s" % (
            time.monotonic() - self.pub.started, elapsed, pl.media_sequence, pl.durations,
            [s["pdt"] for s in pl.segments]))
        self.assertEqual(headers.get("content-type"), "application/vnd.apple.mpegurl")
        self.assertEqual(headers.get("cache-control"), "no-cache")
        self.assertEqual(headers.get("access-control-allow-origin"), "*")
        self.assertEqual(pl.lines[0], "#EXTM3U")
        self.assertEqual(pl.tag_int("#EXT-X-TARGETDURATION"), 2)
        self.assertNotIn("#EXT-X-ENDLIST", pl.tags, "a live playlist must not end")
        self.assertGreaterEqual(len(pl.segments), 3)
        for d in pl.durations:
            self.assertLessEqual(abs(d - SEGMENT_S), 0.1 * SEGMENT_S, "EXTINF %s" % d)
        self.assertEqual([s["uri"] for s in pl.segments],
                         ["%d.ts" % (pl.media_sequence + i) for i in range(len(pl.segments))],
                         "segment URIs are not the media sequence numbers in order")
        self.assertTrue(all(s["pdt"] for s in pl.segments),
                        "a segment without #EXT-X-PROGRAM-DATE-TIME")
        pdts = [parse_pdt(s["pdt"]) for s in pl.segments]
        gaps = [(b - a).total_seconds() for a, b in zip(pdts, pdts[1:])]
        note("PROGRAM-DATE-TIME steps %s s" % gaps)
        self.assertTrue(all(0 < g < 2 * SEGMENT_S for g in gaps), "PDT steps %s" % gaps)

        time.sleep(4)
        status2, _, pl2, _ = self.playlist()
        self.assertEqual(status2, 200)
        note("4 s later: media sequence %d -> %d, last segment %s -> %s" % (
            pl.media_sequence, pl2.media_sequence, pl.segments[-1]["uri"],
            pl2.segments[-1]["uri"]))
        self.assertGreater(pl2.media_sequence, pl.media_sequence, "the window did not slide")
        self.assertGreaterEqual(int(pl2.segments[-1]["uri"][:-3]),
                                int(pl.segments[-1]["uri"][:-3]) + 1)

    def test_ffprobe_and_ffmpeg_play_the_playlist(self):
        self.wait_segments(3, 15)
        url = self.server.hls_url()
        streams = {s["codec_type"]: s for s in self.streams_of(url)}
        note("ffprobe %s: %s" % (url, streams))
        self.assertEqual(sorted(streams), ["audio", "video"])
        v, a = streams["video"], streams["audio"]
        self.assertEqual((v["codec_name"], v["width"], v["height"]), ("h264", 640, 360))
        self.assertEqual((a["codec_name"], int(a["sample_rate"]), a["channels"]),
                         ("aac", 44100, 2))
        frames = self.decode(url, 4, "decode")
        note("ffmpeg -t 4 over HLS decoded %d video frames without an error" % frames)
        self.assertGreaterEqual(frames, 90)
        self.server.assert_alive()

    def test_segments_are_clean_mpeg_ts(self):
        pl = self.wait_segments(3, 15)
        prev_last_pts = None
        for seg in pl.segments:
            headers, body = self.segment(seg["uri"])
            self.assertEqual(headers.get("content-type"), "video/mp2t")
            self.assertEqual(headers.get("cache-control"), "public, max-age=3600")
            self.assertEqual(headers.get("access-control-allow-origin"), "*")
            self.assertEqual(int(headers.get("content-length", -1)), len(body))
            ts = harness.TsReport(body)
            vpid, apid = ts.stream_pid(STREAM_TYPE_H264), ts.stream_pid(STREAM_TYPE_AAC)
            vpts = ts.pts.get(vpid, [])
            span = (vpts[-1] - vpts[0] + 3600) / 90000.0 if vpts else 0.0
            note("%s: %d bytes, %d packets, pids %s, streams %s, PES %s, first video "
                 "RAI=%s NALs %s, video PTS span %.3f s vs EXTINF %.3f, errors %s" % (
                     seg["uri"], len(body), ts.packets, ts.pids, ts.streams, ts.pes_count,
                     ts.first_video_rai, ts.first_video_nals, span, seg["dur"], ts.errors[:5]))
            self.assertEqual(len(body) % 188, 0, "size not a multiple of 188")
            self.assertEqual(ts.errors, [], "MPEG-TS errors in " + seg["uri"])
            self.assertEqual(ts.pids[0], 0, "the segment does not start with the PAT")
            self.assertIsNotNone(ts.pmt_pid, "no PMT PID in the PAT")
            self.assertEqual(ts.pids[1], ts.pmt_pid, "the PMT does not follow the PAT")
            self.assertIsNotNone(vpid, "no H.264 stream in the PMT")
            self.assertIsNotNone(apid, "no AAC stream in the PMT")
            self.assertGreaterEqual(ts.pes_count.get(vpid, 0), 45)
            self.assertGreaterEqual(ts.pes_count.get(apid, 0), 1)
            self.assertIn(NAL_IDR, ts.first_video_nals or [],
                          "the first video PES is not an IDR picture")
            self.assertLessEqual(abs(span - seg["dur"]), 0.1,
                                 "the video in %s does not last its EXTINF" % seg["uri"])
            if prev_last_pts is not None:
                step = vpts[0] - prev_last_pts
                self.assertTrue(0 < step <= 7200, "video PTS jumps %d ticks between segments"
                                % step)
            prev_last_pts = vpts[-1]

    def test_unknown_stream_and_traversal(self):
        self.wait_segments(1, 15)
        port = self.server.http_port
        for path in ("/live/nope/index.m3u8", "/live/nope/0.ts", "/live/cam/999999.ts"):
            status, _, _, elapsed = harness.http_get(port, path, timeout=5)
            note("GET %s -> %s in %.3f s" % (path, status, elapsed))
            self.assertEqual(status, 404, path)
            self.assertLess(elapsed, 1.0, "%s answered slowly" % path)
        attacks = ["/live/../x/index.m3u8", "/live/%2e%2e/index.m3u8",
                   "/live/cam/..%2findex.m3u8", "/..%5c..%5cetc/passwd/index.m3u8",
                   "/live/cam/../../../../etc/passwd", "/live/cam/../../../../etc/passwd/0.ts",
                   "/live\\..\\cam/index.m3u8", "/live/%2e%2e/%2e%2e/etc/0.ts",
                   "/live/cam%00/index.m3u8", "/live/ca%01m/index.m3u8",
                   "/live/.cam/index.m3u8", "/live/cam/index.m3u8/..", "/./live/cam/index.m3u8"]
        answers = {}
        for path in attacks:
            status, _, body, elapsed = harness.http_get(port, path, timeout=5)
            answers[path] = status
            self.assertIn(status, (400, 404), "%s answered %s: %r" % (path, status, body[:200]))
            self.assertNotIn(b"root:", body)
        note("traversal attempts: %s" % answers)
        status, _, _, _ = self.playlist()
        self.assertEqual(status, 200, "the real playlist is gone after the attempts")
        self.server.assert_alive()


class HlsAudioOnly(HlsCase):

    def test_audio_only_stream_is_segmented(self):
        pub = self.publish(seconds=60, video_opts=("-vn",))
        self.assertTrue(self.server.wait_log("stream live/cam created", 15),
                        "audio-only stream not published\n" + pub.describe())
        pl = self.wait_segments(2, 15)
        note("audio-only playlist: EXTINF %s" % pl.durations)
        for d in pl.durations:
            self.assertLessEqual(abs(d - SEGMENT_S), 0.1 * SEGMENT_S, "EXTINF %s" % d)
        _, body = self.segment(pl.segments[0]["uri"])
        ts = harness.TsReport(body)
        note("audio-only %s: %d bytes, streams %s, PES %s, errors %s" % (
            pl.segments[0]["uri"], len(body), ts.streams, ts.pes_count, ts.errors[:5]))
        self.assertEqual(ts.errors, [])
        self.assertEqual(list(ts.streams.values()), [STREAM_TYPE_AAC])
        streams = self.streams_of(self.server.hls_url())
        note("ffprobe audio-only HLS: %s" % streams)
        self.assertEqual([(s["codec_type"], s["codec_name"]) for s in streams],
                         [("audio", "aac")])
        self.decode(self.server.hls_url(), 3, "decode-audio")


class HlsOnDemand(HlsCase):
    config = harness.deep_merge(HLS_CONFIG, {"hls": {"on_demand": True}})

    def test_first_request_starts_segmenting(self):
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        time.sleep(2)
        self.assertNotIn(SEGMENTING_LINE, self.server.log_text(),
                         "on_demand: segmenting started before any request")
        status, _, pl, elapsed = self.playlist(timeout=20)
        note("on-demand first playlist request: %s after %.2f s, %s segment(s) %s" % (
            status, elapsed, len(pl.segments) if pl else None, pl.durations if pl else None))
        self.assertEqual(status, 200)
        self.assertGreaterEqual(len(pl.segments), 1)
        self.assertLessEqual(elapsed, 5.0, "the first playlist took too long")
        self.assertEqual(self.server.log_text().count(SEGMENTING_LINE), 1)
        status, _, _, elapsed = self.playlist()
        note("second request: %s after %.3f s" % (status, elapsed))
        self.assertEqual(status, 200)
        self.assertLess(elapsed, 1.0)
        status, _, _, elapsed = harness.http_get(self.server.http_port, "/live/nope/index.m3u8")
        note("on-demand unknown stream: %s after %.3f s" % (status, elapsed))
        self.assertEqual(status, 404)
        self.assertLess(elapsed, 1.0)


class HlsPublisherLeaves(HlsCase):

    def test_target_duration_never_changes(self):
        """RFC 8216 6.2.1: a server changes a live Media Playlist only by appending,
        removing the oldest segments, incrementing sequence numbers or ending it, so
        EXT-X-TARGETDURATION stays what it was; 4.3.3.1 asks of each EXTINF only that,
        rounded to the nearest integer, it be <= the target. The publisher's 8 s end on a
        GOP boundary, so the last segment holds a few ms of audio past 2.000 s."""
        pub = self.publish(seconds=8)
        self.wait_published(pub)
        seen = []  # (seconds since the publisher started, target, EXTINFs)
        gone_at = None
        while gone_at is None or time.monotonic() < gone_at + 3:
            status, _, pl, _ = self.playlist()
            if pl is not None:
                seen.append((round(time.monotonic() - pub.started, 1),
                             pl.tag_int("#EXT-X-TARGETDURATION"), pl.durations))
            if gone_at is None and "stream live/cam freed" in self.server.log_text():
                gone_at = time.monotonic()
            self.assertLess(time.monotonic() - pub.started, 30, "the publisher did not end")
            time.sleep(0.5)
        targets = sorted(set(t for _, t, _ in seen))
        changes = [x for a, x in zip(seen, seen[1:]) if x[1] != a[1]]
        note("targets seen while live and after the publisher left: %s; last playlist %s; "
             "changes %s" % (targets, seen[-1], changes))
        self.assertTrue(seen, "no playlist was ever served")
        self.assertLessEqual(max(round(d) for d in seen[-1][2]), seen[-1][1])
        self.assertEqual(targets, [2], "EXT-X-TARGETDURATION changed: %s" % changes)


class HlsRestart(HlsCase):

    def test_publisher_restart_continues_with_a_discontinuity(self):
        pub1 = self.publish(seconds=60, proc_name="publisher1")
        self.wait_published(pub1)
        before = self.wait_segments(2, 15)
        pub1.kill()
        self.assertTrue(self.server.wait_log("stream live/cam freed", 5),
                        "the server did not notice the publisher leaving")
        t_gone = time.monotonic()
        status, _, gap_pl, _ = self.playlist()
        last_before = int(gap_pl.segments[-1]["uri"][:-3]) if gap_pl else \
            int(before.segments[-1]["uri"][:-3])
        note("publisher gone: playlist %s, seq %s, segments %s" % (
            status, gap_pl.media_sequence if gap_pl else None,
            [(s["uri"], s["dur"]) for s in gap_pl.segments] if gap_pl else None))

        pub2 = self.publish(seconds=60, proc_name="publisher2")
        self.wait_published(pub2, count=2)
        note("republished %.2f s after the first publisher left" % (time.monotonic() - t_gone))
        pl = self.wait_segments(1, 15, cond=lambda p: any(s["disc"] for s in p.segments))
        seqs = [int(s["uri"][:-3]) for s in pl.segments]
        disc_at = next(i for i, s in enumerate(pl.segments) if s["disc"])
        note("after the restart: seq %s, DISCONTINUITY-SEQUENCE %s, segments %s" % (
            pl.media_sequence, pl.tags.get("#EXT-X-DISCONTINUITY-SEQUENCE"),
            [("D " if s["disc"] else "") + "%s %.3f" % (s["uri"], s["dur"])
             for s in pl.segments]))
        self.assertGreaterEqual(pl.media_sequence, before.media_sequence,
                                "the media sequence went back")
        self.assertEqual(seqs, list(range(pl.media_sequence, pl.media_sequence + len(seqs))),
                         "segment numbers are not consecutive")
        self.assertGreater(seqs[disc_at], last_before,
                           "the new publisher's segments restarted the numbering")
        self.assertNotIn("#EXT-X-ENDLIST", pl.tags)
        _, body = self.segment(pl.segments[disc_at]["uri"])
        ts = harness.TsReport(body)
        self.assertEqual(ts.errors, [])
        self.assertEqual(ts.pids[0], 0)
        self.assertIn(NAL_IDR, ts.first_video_nals or [])
        self.assertEqual(self.server.log_text().count("hls live/cam: segmenting (after a restart)"),
                         1)


if __name__ == "__main__":
    unittest.main()
