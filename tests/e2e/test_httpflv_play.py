"""HTTP-FLV play: ffmpeg reads the stream; the response head and FLV header are exact."""

import time
import unittest

import harness
from harness import note


class HttpFlvPlay(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=60)
        self.wait_published(self.pub)

    def test_ffmpeg_reads_h264_aac(self):
        out = self.workdir / "httpflv.flv"
        res = harness.record(self.server.flv_url(), 5, out)
        self.assertFalse(res.timed_out or res.returncode != 0, "recording failed: %r" % res)
        self.assert_av_file(out, label="http-flv ffmpeg 5 s")
        self.server.assert_alive()

    def test_response_head_and_flv_header(self):
        r = self.start_flv_reader()
        time.sleep(3)
        r.stop()
        first_frame = {t: next((i for i, tag in enumerate(r.tags)
                                if tag.type == t and tag.kind == "frame"), None) for t in (8, 9)}
        first_config = {t: next((i for i, tag in enumerate(r.tags)
                                 if tag.type == t and tag.kind == "config"), None) for t in (8, 9)}
        note("http-flv head: %s %s; %d video / %d audio frames in 3 s; end=%s" % (
            r.status, r.headers, r.video_frames, r.audio_frames, r.end))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("content-type"), "video/x-flv")
        self.assertEqual(r.headers.get("transfer-encoding", "").lower(), "chunked")
        self.assertEqual(r.headers.get("access-control-allow-origin"), "*")
        self.assertEqual(r.end, "stopped", "the response ended early")
        self.assertEqual(r.flv_header, harness.FLV_AV_HEADER,
                         "first 13 bytes are not an FLV header with audio and video flags")
        for t, name in ((9, "video"), (8, "audio")):
            self.assertIsNotNone(first_config[t], "no %s sequence header" % name)
            self.assertIsNotNone(first_frame[t], "no %s frame" % name)
            self.assertLess(first_config[t], first_frame[t],
                            "%s sequence header must precede the first frame" % name)
        self.assertGreaterEqual(r.video_frames, 60)
        self.assertGreaterEqual(r.audio_frames, 100)

    def test_unknown_stream_is_404(self):
        status, headers, _ = harness.http_request(self.server.http_port, "/live/nope.flv")
        note("GET /live/nope.flv -> %s" % status)
        self.assertEqual(status, 404)
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
