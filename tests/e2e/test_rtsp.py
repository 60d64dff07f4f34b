"""RTSP with real clients, both directions: ffmpeg/ffprobe and GStreamer's rtspsrc play
over TCP (interleaved) and UDP; ffmpeg publishes over RTSP (TCP and UDP) and the stream
plays over RTSP, RTMP, HTTP-FLV and HLS; H.265 over RTSP; players sharing a stream, a
late joiner starting on a keyframe, and players ending when the publisher leaves."""

import time
import unittest

import harness
from harness import note

PROBE_SECONDS = 2
MIN_VIDEO = 45  # of 50 at 25 fps in 2 s
MIN_AUDIO = 70  # of 86 AAC frames (44100 / 1024) in 2 s
PLAYERS_END_BOUND_S = 5.0


def rtsp_publisher_args(url, seconds, transport, video=None):
    """The harness's test pattern + sine, pushed with ffmpeg's RTSP muxer
    (ANNOUNCE, SETUP with mode=record, RECORD)."""
    video = video or ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                      "-g", "50", "-pix_fmt", "yuv420p"]
    return ["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", str(seconds)] + video + [
            "-c:a", "aac", "-b:a", "64k", "-ac", "2",
            "-f", "rtsp", "-rtsp_transport", transport, url]


def probe(url, seconds=PROBE_SECONDS, transport=None, timeout=30):
    """ffprobe reads `seconds` of stream time from `url` and decodes it: (streams by
    codec_type, video frames, audio frames), frames as dicts with key_frame, pts_time."""
    args = ["-rw_timeout", "10000000"] if url.startswith(("rtmp", "http")) else []
    if transport:
        args += ["-rtsp_transport", transport]
    args += ["-read_intervals", "%%+%d" % seconds, "-show_entries",
             "stream=codec_type,codec_name,width,height,sample_rate,channels:"
             "frame=media_type,key_frame,pts_time"]
    info = harness.ffprobe_json(url, args, timeout)
    streams = {s["codec_type"]: s for s in info.get("streams", [])}
    frames = info.get("frames", [])
    return (streams, [f for f in frames if f["media_type"] == "video"],
            [f for f in frames if f["media_type"] == "audio"])


def pts_span(frames):
    """Seconds from the first to the last timestamped frame, and whether timestamps only
    ever go up."""
    pts = [float(f["pts_time"]) for f in frames if f.get("pts_time") not in (None, "N/A")]
    if len(pts) < 2:
        return 0.0, False
    return pts[-1] - pts[0], all(b > a for a, b in zip(pts, pts[1:]))


def gst_rtsp_args(url, protocol, buffers=50):
    """rtspsrc decodes `buffers` H.264 frames; the caps filter fails negotiation for any
    size but 640x360. latency=200: the jitter buffer's default of 2 s only slows it."""
    return ["gst-launch-1.0", "-q", "rtspsrc", "location=" + url, "protocols=" + protocol,
            "latency=200", "!", "rtph264depay", "!", "h264parse", "!", "avdec_h264", "!",
            "video/x-raw,width=640,height=360", "!", "fakesink", "num-buffers=%d" % buffers]


def rtsp_player_args(url, transport, seconds):
    """ffmpeg copies `seconds` of an RTSP stream to nowhere; its -progress file counts."""
    return ["-rtsp_transport", transport, "-i", url, "-t", str(seconds), "-map", "0",
            "-c", "copy", "-f", "null", "-"]


class RtspCase(harness.E2ETestCase):

    def assert_av(self, url, label, transport=None, video="h264"):
        """`url` plays h264 (or `video`) 640x360 + aac 44100 Hz stereo: enough decoded
        frames in PROBE_SECONDS, video timestamps increasing over most of that time."""
        t0 = time.monotonic()
        streams, vframes, aframes = probe(url, transport=transport)
        span, increasing = pts_span(vframes)
        note("%s: %d video, %d audio frames, video pts span %.2f s, in %.1f s" % (
            label, len(vframes), len(aframes), span, time.monotonic() - t0))
        self.assertIn("video", streams, "%s: no video stream" % label)
        self.assertIn("audio", streams, "%s: no audio stream" % label)
        v, a = streams["video"], streams["audio"]
        self.assertEqual((v["codec_name"], v["width"], v["height"]), (video, 640, 360), label)
        self.assertEqual((a["codec_name"], int(a["sample_rate"]), a["channels"]),
                         ("aac", 44100, 2), label)
        self.assertGreaterEqual(len(vframes), MIN_VIDEO, "%s: too few video frames" % label)
        self.assertGreaterEqual(len(aframes), MIN_AUDIO, "%s: too few audio frames" % label)
        self.assertTrue(increasing, "%s: video pts not increasing" % label)
        self.assertGreater(span, PROBE_SECONDS * 0.75, "%s: video pts not moving" % label)

    def assert_hls(self, label, video_type=0x1B):
        """The live playlist lists a segment whose MPEG-TS carries video (H.264, or the
        stream type given: 0x24 for H.265) and AAC PES."""
        srv, pl = self.server, None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status, _, pl, _ = harness.fetch_playlist(srv.http_port, srv.hls_path())
            if status == 200 and pl.segments:
                break
            time.sleep(0.3)
        self.assertTrue(pl is not None and pl.segments, "%s: no HLS segment within 15 s" % label)
        base = srv.hls_path().rsplit("/", 1)[0]
        status, _, body, _ = harness.http_get(srv.http_port, base + "/" + pl.segments[-1]["uri"])
        self.assertEqual(status, 200)
        ts = harness.TsReport(body)
        video, audio = ts.stream_pid(video_type), ts.stream_pid(0x0F)
        note("%s -> hls: %d segments, last %s: %d bytes, video PES %d, audio PES %d" % (
            label, len(pl.segments), pl.segments[-1]["uri"], len(body),
            ts.pes_count.get(video, 0), ts.pes_count.get(audio, 0)))
        self.assertEqual(ts.errors, [], label)
        self.assertIsNotNone(video, "%s: no stream type 0x%02x in the segment's PMT" % (label, video_type))
        self.assertIsNotNone(audio, "%s: no AAC stream in the segment's PMT" % label)
        self.assertGreater(ts.pes_count.get(video, 0), 20)
        self.assertGreater(ts.pes_count.get(audio, 0), 10)

    def gst_play(self, url, protocol):
        res = harness.run(gst_rtsp_args(url, protocol), timeout=30)
        note("gst rtspsrc protocols=%s: 50 frames of 640x360 decoded in %.1f s, rc=%s" % (
            protocol, res.elapsed, res.returncode))
        self.assertFalse(res.timed_out, "rtspsrc %s timed out" % protocol)
        self.assertEqual(res.returncode, 0, "rtspsrc %s failed: %s" % (protocol, res.stderr[-800:]))

    def publish_rtsp(self, transport, name="cam", seconds=60, video=None):
        pub = self.spawn_ffmpeg(rtsp_publisher_args(self.server.rtsp_url(name), seconds,
                                                    transport, video), "rtsp-publisher-" + transport)
        self.wait_published(pub, name=name, timeout=25)
        return pub


class RtmpInRtspOut(RtspCase):
    """(1) ffmpeg publishes over RTMP; ffprobe and GStreamer play over RTSP."""

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=90)
        self.wait_published(self.pub)

    def test_ffprobe_tcp(self):
        self.assert_av(self.server.rtsp_url(), "rtmp -> rtsp tcp", "tcp")

    def test_ffprobe_udp(self):
        self.assert_av(self.server.rtsp_url(), "rtmp -> rtsp udp", "udp")

    def test_gstreamer_tcp(self):
        self.gst_play(self.server.rtsp_url(), "tcp")

    def test_gstreamer_udp(self):
        self.gst_play(self.server.rtsp_url(), "udp")


class RtspIn(RtspCase):
    """(2) ffmpeg publishes over RTSP (TCP, UDP); every output plays it."""

    def check_outputs(self, transport):
        pub = self.publish_rtsp(transport)
        srv, tag = self.server, "rtsp %s publish" % transport
        self.assert_av(srv.rtsp_url(), tag + " -> rtsp tcp", "tcp")
        self.assert_av(srv.rtsp_url(), tag + " -> rtsp udp", "udp")
        self.assert_av(srv.rtmp_url(), tag + " -> rtmp")
        self.assert_av(srv.flv_url(), tag + " -> http-flv")
        self.assert_hls(tag)
        self.assertIsNone(pub.poll(), "publisher died: " + pub.describe())

    def test_publish_tcp(self):
        self.check_outputs("tcp")

    def test_publish_udp(self):
        self.check_outputs("udp")


class RtspHevc(RtspCase):
    """(3) H.265 in over RTSP, out over RTSP."""

    def test_hevc_round_trip(self):
        x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
                "-x265-params", "keyint=50:log-level=error", "-pix_fmt", "yuv420p"]
        self.publish_rtsp("tcp", video=x265)
        self.assert_av(self.server.rtsp_url(), "hevc rtsp tcp -> rtsp tcp", "tcp", video="hevc")
        # And as HLS: H.265 in MPEG-TS (stream type 0x24), decodable by ffprobe.
        self.assert_hls("hevc rtsp tcp", video_type=0x24)
        self.assert_av(self.server.hls_url(), "hevc rtsp tcp -> hls", video="hevc")


class SharedPlayers(RtspCase):
    """(4) Two players at once, then a third that joins mid-GOP."""

    def test_two_players_then_late_joiner_on_keyframe(self):
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        url = self.server.rtsp_url()
        players = [self.spawn_ffmpeg(rtsp_player_args(url, tr, 5), "rtsp-player-" + tr)
                   for tr in ("tcp", "udp")]
        # Join while both play, at a point that is not a GOP start (GOPs are 2 s). The
        # decoder shows every picture (showall), so a first frame that is not an I frame
        # would be seen as one.
        time.sleep(2.7)
        info = harness.ffprobe_json(url, [
            "-rtsp_transport", "tcp", "-flags2", "+showall", "-read_intervals", "%+1",
            "-select_streams", "v:0", "-show_entries", "packet=flags:frame=key_frame,pict_type"])
        both = info.get("packets_and_frames", [])
        packets = [x for x in both if x["type"] == "packet"]
        frames = [x for x in both if x["type"] == "frame"]
        for p in players:
            rc = p.wait(20)
            self.assertEqual(rc, 0, "player failed: " + p.describe())
        counts = [p.frames() for p in players]
        note("two rtsp players (tcp, udp) of one stream, 5 s each: %s video frames; "
             "late joiner's first packet flags %s, first frame key_frame=%s pict_type=%s" % (
                 counts, packets[0]["flags"] if packets else "-",
                 frames[0]["key_frame"] if frames else "-",
                 frames[0]["pict_type"] if frames else "-"))
        for c in counts:
            self.assertGreaterEqual(c, 110, "a player got too few frames")
        self.assertTrue(packets and frames, "late joiner got nothing: %r" % info)
        self.assertTrue(packets[0]["flags"].startswith("K"), "first packet is not a keyframe")
        self.assertEqual(frames[0]["key_frame"], 1)
        self.assertEqual(frames[0]["pict_type"], "I")
        self.assertTrue(self.server.wait_log("rtsp play live/cam", 1, count=3))


class PublisherLeaves(RtspCase):
    """(5) Players over TCP and UDP end soon after the publisher leaves."""

    def test_players_end(self):
        pub = self.publish(seconds=8)
        self.wait_published(pub)
        url = self.server.rtsp_url()
        players = [self.spawn_ffmpeg(rtsp_player_args(url, tr, 60), "rtsp-player-" + tr)
                   for tr in ("tcp", "udp")]
        # Everyone is polled together, so each exit is timed against the publisher's.
        deadline = time.monotonic() + 25
        while pub.poll() is None and time.monotonic() < deadline:
            for p in players:
                p.poll()
            time.sleep(0.05)
        self.assertEqual(pub.poll(), 0, "publisher failed: " + pub.describe())
        t_end = pub.ended
        deadline = t_end + PLAYERS_END_BOUND_S
        while any(p.poll() is None for p in players) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p, tr in zip(players, ("tcp", "udp")):
            rc = p.poll()
            note("publisher gone: rtsp %s player exit %s %s with %d frames" % (
                tr, rc, "%+.2f s after it" % (p.ended - t_end) if p.ended else "-",
                p.frames()))
            self.assertIsNotNone(rc, "rtsp %s player still playing %.0f s after the publisher "
                                 "left" % (tr, PLAYERS_END_BOUND_S))
            self.assertGreater(p.frames(), 150)
        self.assertEqual(self.server.log_text().count("live/cam: stream ended"), 2,
                         "the server did not end both sessions")
        self.assertTrue(self.server.wait_log("stream live/cam freed", 5))


if __name__ == "__main__":
    unittest.main()
