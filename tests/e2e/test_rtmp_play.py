"""RTMP play: ffmpeg and rtmpdump read a live stream published by ffmpeg."""

import signal
import time
import unittest

import harness
from harness import note


class RtmpPlay(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=60)
        self.wait_published(self.pub)

    def test_ffmpeg_reads_h264_aac(self):
        out = self.workdir / "rtmp.flv"
        res = harness.record(self.server.rtmp_url(), 5, out)
        self.assertFalse(res.timed_out or res.returncode != 0, "recording failed: %r" % res)
        self.assert_av_file(out, label="rtmp ffmpeg 5 s")
        self.server.assert_alive()

    def test_rtmpdump_reads_h264_aac(self):
        out = self.workdir / "rtmpdump.flv"
        # --live plays until the stream ends; stop it with SIGINT (rtmpdump then closes
        # the file properly) after 5 s, SIGKILL if that is not enough.
        p = self.spawn(["rtmpdump", "-q", "--live", "-r", self.server.rtmp_url(),
                        "-o", out], "rtmpdump")
        time.sleep(5)
        rc = p.poll()
        if rc is None:
            p.signal(signal.SIGINT)
            if p.wait(5) is None:
                p.kill()
        size = out.stat().st_size if out.exists() else 0
        note("rtmpdump: rc=%s (None: still playing after 5 s, as expected), %d bytes"
             % (rc, size))
        self.assertIsNone(rc, "rtmpdump ended by itself: " + p.describe())
        self.assertGreater(size, 100000, "rtmpdump wrote too little: " + p.describe())
        info = harness.ffprobe_json(out, ["-count_packets", "-show_entries",
                                          "stream=codec_type,codec_name,nb_read_packets"])
        streams = {s["codec_type"]: s for s in info["streams"]}
        codecs = sorted((t, s["codec_name"]) for t, s in streams.items())
        video = int(streams.get("video", {}).get("nb_read_packets", 0))
        note("rtmpdump: streams %s, %d video packets" % (codecs, video))
        self.assertEqual(codecs, [("audio", "aac"), ("video", "h264")])
        self.assertGreaterEqual(video, 90, "too few video packets in 5 s")
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
