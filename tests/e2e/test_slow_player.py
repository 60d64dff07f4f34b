"""Backpressure: an HTTP-FLV viewer that never reads is cut off, server memory stays
bounded meanwhile, and a normal viewer keeps its frame rate."""

import socket
import time
import unittest

import harness
from harness import HOST, note

HARD_BYTES = 4194304
RSS_MARGIN_KB = 6 * 1024
WINDOW_S = 15.0
SAMPLE_S = 0.5
TCP_STATES = {1: "ESTABLISHED", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
              8: "CLOSE_WAIT", 9: "LAST_ACK", 11: "CLOSING"}


def server_side_state(server_port, client_port):
    """The TCP state of the server's end of one loopback connection, or 'gone'."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.split(":")[1], 16) == server_port
                    and int(remote.split(":")[1], 16) == client_port):
                return TCP_STATES.get(int(fields[3], 16), fields[3])
    return "gone"


class SlowPlayer(harness.E2ETestCase):
    # HLS is off: its window of this 8 Mbit/s stream (16 MB, bounded and measured by
    # tests/bench/hls_cost.py) would fill during the test and hide what the stalled
    # viewer costs, which is what this test measures.
    config = {"limits": {"viewer_queue_soft_ms": 1000, "viewer_queue_hard_ms": 4000,
                         "viewer_queue_hard_bytes": HARD_BYTES},
              "hls": {"enabled": False}}
    # ASan keeps freed memory in a 256 MB quarantine, which would make RSS grow with
    # traffic alone; a small one keeps RSS a measure of what the server holds.
    server_env = {"ASAN_OPTIONS": harness.ASAN_OPTIONS + ":quarantine_size_mb=1"}

    def test_stalled_viewer_is_bounded_and_cut_off(self):
        pub = self.publish(seconds=90, size="1280x720", video_opts=[
            "-b:v", "8M", "-maxrate", "8M", "-bufsize", "8M", "-x264-params", "nal-hrd=cbr"])
        self.wait_published(pub)
        normal = self.start_flv_reader(max_seconds=60)
        time.sleep(3)  # warm up: GOP cache full, allocator settled
        baseline = self.server.rss_kb()

        stalled = socket.socket()
        self.addCleanup(stalled.close)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect((HOST, self.server.http_port))
        stalled.sendall(b"GET /live/cam.flv HTTP/1.1\r\nHost: x\r\n\r\n")
        client_port = stalled.getsockname()[1]

        t0 = time.monotonic()
        f0, p0 = normal.video_frames, pub.frames()
        peak, closed_at, state = baseline, None, None
        samples = []
        while time.monotonic() - t0 < WINDOW_S:
            time.sleep(SAMPLE_S)
            self.server.assert_alive()
            rss = self.server.rss_kb()
            peak = max(peak, rss)
            state = server_side_state(self.server.http_port, client_port)
            if closed_at is None and state != "ESTABLISHED":
                closed_at = time.monotonic() - t0
            samples.append(rss)
        t1 = time.monotonic()
        fps = (normal.video_frames - f0) / (t1 - t0)
        pub_fps = (pub.frames() - p0) / (t1 - t0)
        how, secs, drained = harness.wait_closed(stalled, 5.0)

        note("RSS baseline %d kB, peak %d kB (+%d kB, bound +%d kB); samples(MB) %s" % (
            baseline, peak, peak - baseline, HARD_BYTES // 1024 + RSS_MARGIN_KB,
            " ".join("%.0f" % (s / 1024) for s in samples[::2])))
        note("stalled viewer: server side left ESTABLISHED after %s s (now %s); draining "
             "gave %s after %d bytes" % ("%.1f" % closed_at if closed_at else "-", state, how,
                                         drained))
        note("normal viewer %.1f fps over %.1f s (publisher %.1f fps), end=%s"
             % (fps, t1 - t0, pub_fps, normal.end))

        self.assertLess(peak - baseline, HARD_BYTES // 1024 + RSS_MARGIN_KB,
                        "server memory grew with a stalled viewer")
        self.assertIsNotNone(closed_at, "server kept the stalled connection for %.0f s"
                             % WINDOW_S)
        self.assertIsNotNone(how, "stalled connection not closed: still streaming on drain")
        self.assertGreaterEqual(pub_fps, 0.9 * 25, "the publisher itself is too slow here")
        self.assertGreaterEqual(fps, 0.9 * 25, "normal viewer slowed down")
        self.assertIsNone(normal.end, "normal viewer was disconnected")


if __name__ == "__main__":
    unittest.main()
