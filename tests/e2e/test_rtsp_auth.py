"""RTSP credentials (rtsp.user / rtsp.password): ffmpeg publishes and plays with them
over Digest; no or wrong credentials get 401 with a Digest and a Basic challenge;
OPTIONS stays open; Basic credentials work too."""

import base64
import socket
import unittest

import harness
from harness import HOST, note

USER, PASSWORD = "cam", "se cret"


def raw_request(port, text):
    """Sends one request, returns the response head as text."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(text.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.split(b"\r\n\r\n")[0].decode()


class RtspAuth(harness.E2ETestCase):
    config = {"rtsp": {"user": USER, "password": PASSWORD}}

    def url(self, creds=None):
        base = self.server.rtsp_url()
        return base.replace("rtsp://", "rtsp://%s@" % creds) if creds else base

    def test_digest_publish_and_play(self):
        good = self.url("cam:se%20cret")
        pub = self.spawn_ffmpeg(["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "30",
                                 "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
                                 "-f", "rtsp", "-rtsp_transport", "tcp", good], "rtsp-publisher")
        self.assertTrue(self.server.wait_log("rtsp publish live/cam", timeout=15),
                        "publisher not accepted: " + pub.describe())
        info = harness.ffprobe_json(good, ["-rtsp_transport", "tcp", "-read_intervals", "%+2",
                                           "-count_frames", "-show_streams"])
        video = [s for s in info["streams"] if s["codec_type"] == "video"][0]
        note("digest play: %s %sx%s, %s frames in 2 s" % (video["codec_name"], video["width"],
                                                          video["height"], video["nb_read_frames"]))
        self.assertEqual((video["codec_name"], video["width"]), ("h264", 640))
        self.assertGreaterEqual(int(video["nb_read_frames"]), 40)

        for label, url in (("wrong password", self.url("cam:nope")), ("no credentials", self.url())):
            res = harness.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", url], timeout=15)
            note("%s: ffprobe rc=%s, %s" % (label, res.returncode, res.stderr.strip()[-80:]))
            self.assertNotEqual(res.returncode, 0)
            self.assertIn("401", res.stderr)

    def test_challenges_and_basic(self):
        port = self.server.rtsp_port
        head = raw_request(port, "OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\n\r\n" % self.url())
        self.assertTrue(head.startswith("RTSP/1.0 200"), head)
        head = raw_request(port, "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\n\r\n" % self.url())
        note("DESCRIBE without credentials: %s" % head.splitlines()[0])
        self.assertTrue(head.startswith("RTSP/1.0 401"), head)
        self.assertIn('WWW-Authenticate: Digest realm="sluice", nonce="', head)
        self.assertIn('WWW-Authenticate: Basic realm="sluice"', head)
        basic = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        # Right credentials over Basic: past the check, to the stream (not published: 404).
        head = raw_request(port, "DESCRIBE %s RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Basic %s\r\n\r\n"
                           % (self.url(), basic))
        self.assertTrue(head.startswith("RTSP/1.0 404"), head)
        wrong = base64.b64encode(b"cam:wrong").decode()
        head = raw_request(port, "DESCRIBE %s RTSP/1.0\r\nCSeq: 4\r\nAuthorization: Basic %s\r\n\r\n"
                           % (self.url(), wrong))
        self.assertTrue(head.startswith("RTSP/1.0 401"), head)


if __name__ == "__main__":
    unittest.main()
