"""GOP cache: a player joining mid-GOP starts on a keyframe, at once with gop_cache 1,
at the next keyframe with gop_cache 0."""

import subprocess
import threading
import time
import unittest

import harness
from harness import note

GOP_FRAMES = 50  # the publisher's -g 50 at 25 fps: a keyframe every 2 s


class RtmpProbe(threading.Thread):
    """ffprobe on the RTMP URL printing each video packet and decoded frame as a compact
    line (line-buffered through stdbuf), each stamped with its arrival time."""

    def __init__(self, test, url, seconds=3):
        super().__init__(daemon=True)
        args = ["stdbuf", "-oL", "ffprobe", "-v", "error", "-probesize", "32768",
                "-analyzeduration", "500000", "-rw_timeout", "10000000",
                "-select_streams", "v", "-show_packets", "-show_frames", "-show_entries",
                "packet=codec_type,pts,flags:frame=media_type,key_frame,pts,pict_type",
                "-of", "compact", "-read_intervals", "%%+%d" % seconds, url]
        self.proc = test.spawn(args, "ffprobe-rtmp", stdout=subprocess.PIPE)
        self.lines = []

    def run(self):
        for line in self.proc.popen.stdout:
            self.lines.append((time.monotonic(), harness.parse_compact(line.decode())))

    def first(self, section):
        return next(((t, kv) for t, kv in self.lines if kv[0] == section), (None, None))


class GopCacheBase:
    """Mixed into a TestCase with a `config` choosing gop_cache."""

    ttff_bound = None  # seconds from connect to first picture

    def test_mid_gop_join_starts_on_keyframe(self):
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        # Join ~3 s in: the middle of the second GOP.
        self.wait_until(lambda: pub.frames() >= 75, 10, "publisher at frame 75")
        at = pub.frames()
        probe = RtmpProbe(self, self.server.rtmp_url())
        t_spawn = time.monotonic()
        probe.start()
        reader = self.start_flv_reader(max_seconds=8)
        self.wait_until(lambda: reader.video_frames >= 5, 6, "HTTP-FLV video frames")
        rc = probe.proc.wait(15)
        probe.join(2)
        reader.stop()

        # HTTP-FLV: exact bytes on the wire.
        first = reader.first_video_frame()
        configs = [t for t in reader.tags if t.type == 9 and t.kind == "config"]
        http_ttff = reader.first_video_time - reader.connect_time
        # RTMP: ffprobe's first video packet and first decoded picture.
        t_pkt, pkt = probe.first("packet")
        t_frm, frm = probe.first("frame")
        rtmp_ttff = (t_frm - t_spawn) if t_frm else None
        note("gop_cache=%s join at publisher frame %d (%d into the GOP): "
             "http-flv first frame after %.3f s key=%s nal=%s; "
             "rtmp (ffprobe incl. start-up) first picture after %s s, first packet %s, frame %s"
             % (self.config["hub"]["gop_cache"], at, at % GOP_FRAMES, http_ttff, first.key,
                first.nal_types, "%.3f" % rtmp_ttff if rtmp_ttff else None,
                pkt and pkt[1], frm and frm[1]))

        self.assertTrue(configs and reader.tags.index(configs[0]) < reader.tags.index(first),
                        "no AVC sequence header before the first video frame")
        self.assertTrue(first.key, "first HTTP-FLV video frame is not flagged key: %r" % first)
        self.assertIn(5, first.nal_types, "first HTTP-FLV video frame has no IDR slice")
        self.assertLess(http_ttff, self.ttff_bound, "HTTP-FLV first picture too late")

        self.assertEqual(rc, 0, "ffprobe failed: " + probe.proc.describe())
        self.assertIsNotNone(pkt, "ffprobe printed no video packet")
        self.assertIsNotNone(frm, "ffprobe decoded no video frame")
        self.assertIn("K", pkt[1].get("flags", ""), "first RTMP video packet not a keyframe")
        self.assertEqual(frm[1].get("key_frame"), "1", "first RTMP picture not a keyframe")
        self.assertEqual(frm[1].get("pts"), pkt[1].get("pts"),
                         "the decoder dropped leading packets (no keyframe at the start)")
        self.assertLess(rtmp_ttff, self.ttff_bound + 0.5, "RTMP first picture too late")
        self.server.assert_alive()


class GopCacheOn(GopCacheBase, harness.E2ETestCase):
    config = {"hub": {"gop_cache": 1}}
    ttff_bound = 1.0


class GopCacheOff(GopCacheBase, harness.E2ETestCase):
    config = {"hub": {"gop_cache": 0}}
    ttff_bound = 2.0 + 1.5  # waits for the next keyframe, at most one GOP away


if __name__ == "__main__":
    unittest.main()
