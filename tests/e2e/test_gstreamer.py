"""GStreamer as a second, independent client: rtmp2sink publishes, rtmp2src and
souphttpsrc play. Also the listeners on IPv6 loopback."""

import unittest

import harness
from harness import note


def gst_publisher_args(url, seconds):
    """A 640x360 25 fps H.264 + AAC stream pushed with GStreamer's rtmp2sink."""
    frames, buffers = 25 * seconds, 44100 * seconds // 1024
    return ["gst-launch-1.0", "-q",
            "videotestsrc", "is-live=true", "num-buffers=%d" % frames, "!",
            "video/x-raw,width=640,height=360,framerate=25/1", "!",
            "x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=50", "!",
            "h264parse", "!", "flvmux", "name=mux", "streamable=true", "!",
            "rtmp2sink", "location=" + url,
            "audiotestsrc", "is-live=true", "wave=sine", "num-buffers=%d" % buffers, "!",
            "audio/x-raw,rate=44100,channels=2", "!", "audioconvert", "!",
            "avenc_aac", "!", "aacparse", "!", "mux."]


def gst_player_args(source, frames):
    """Decodes `frames` video frames of 640x360 from `source` (elements), then exits 0.
    The caps filter after the decoder fails negotiation for any other size."""
    return ["gst-launch-1.0", "-q"] + source + [
        "!", "flvdemux", "name=d", "d.video", "!", "queue", "!", "h264parse", "!",
        "avdec_h264", "!", "video/x-raw,width=640,height=360", "!",
        "fakesink", "sync=false", "num-buffers=%d" % frames]


class GStreamerPublish(harness.E2ETestCase):

    def test_rtmp2sink_publish_plays_everywhere(self):
        pub = self.spawn(gst_publisher_args(self.server.rtmp_url(), 30), "gst-publisher")
        self.server.wait_log("rtmp publish live/cam", timeout=15)
        out = self.workdir / "from-gst.flv"
        res = harness.record(self.server.flv_url(), 5, out)
        self.assertEqual(res.returncode, 0, "HTTP-FLV recording failed: %r" % res)
        info = harness.probe_file(out)
        streams = {s["codec_type"]: s for s in info.get("streams", [])}
        self.assertEqual((streams["video"]["codec_name"], streams["video"]["width"],
                          streams["video"]["height"]), ("h264", 640, 360))
        self.assertEqual(streams["audio"]["codec_name"], "aac")
        nv = sum(1 for f in info["frames"] if f["media_type"] == "video")
        na = sum(1 for f in info["frames"] if f["media_type"] == "audio")
        note("rtmp2sink -> HTTP-FLV 5 s: %d video frames, %d audio frames" % (nv, na))
        self.assertGreaterEqual(nv, 100)
        self.assertGreaterEqual(na, 170)
        self.assertIsNone(pub.poll(), "the GStreamer publisher died: " + pub.describe())


class GStreamerPlay(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=60)
        self.wait_published(self.pub)

    def play(self, source, label):
        res = harness.run(gst_player_args(source, 100), timeout=30)
        note("%s: 100 frames of 640x360 decoded in %.1f s, rc=%s" % (
            label, res.elapsed, res.returncode))
        self.assertFalse(res.timed_out, "%s timed out" % label)
        self.assertEqual(res.returncode, 0, "%s failed: %s" % (label, res.stderr[-500:]))

    def test_rtmp2src(self):
        self.play(["rtmp2src", "location=" + self.server.rtmp_url()], "rtmp2src")

    def test_souphttpsrc(self):
        self.play(["souphttpsrc", "location=" + self.server.flv_url(), "is-live=true"],
                  "souphttpsrc HTTP-FLV")


class Ipv6Listeners(harness.E2ETestCase):
    start_server = False

    def test_play_over_ipv6_loopback(self):
        srv = harness.Server(self.workdir)
        srv.config["rtmp"]["listen"].append("[::1]:%d" % srv.rtmp_port)
        srv.config["http"]["listen"].append("[::1]:%d" % srv.http_port)
        srv.config_path.write_text(harness.to_yaml(srv.config) + "\n")
        self.servers.append(srv)
        self.addCleanup(srv.kill)
        srv.start()
        self.addCleanup(self._stop_server, srv)
        self.server = srv
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        for url in ("rtmp://[::1]:%d/live/cam" % srv.rtmp_port,
                    "http://[::1]:%d/live/cam.flv" % srv.http_port):
            info = harness.ffprobe_json(url, ["-read_intervals", "%+2", "-count_frames",
                                              "-show_streams"])
            video = [s for s in info.get("streams", []) if s["codec_type"] == "video"]
            self.assertTrue(video, "no video over %s" % url)
            note("%s: %sx%s, %s frames in 2 s" % (url, video[0]["width"], video[0]["height"],
                                                  video[0].get("nb_read_frames")))
            self.assertGreaterEqual(int(video[0]["nb_read_frames"]), 40)


if __name__ == "__main__":
    unittest.main()
