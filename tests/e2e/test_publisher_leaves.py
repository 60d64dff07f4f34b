"""Publisher lifecycle: players end when the publisher leaves, the stream is freed, the
name can be published again, and a second concurrent publisher is refused."""

import time
import unittest

import harness
from harness import note

PUBLISH_SECONDS = 8
PLAYERS_END_BOUND_S = 5.0


class PublisherLeaves(harness.E2ETestCase):

    def test_players_end_then_stream_freed_then_republish(self):
        pub = self.publish(seconds=PUBLISH_SECONDS)
        self.wait_published(pub)
        rtmp = self.spawn_ffmpeg(harness.player_args(self.server.rtmp_url(), 60), "rtmp-player")
        http = self.start_flv_reader(max_seconds=60)

        rc = pub.wait(PUBLISH_SECONDS + 15)
        self.assertEqual(rc, 0, "publisher failed: " + pub.describe())
        t_end = time.monotonic()
        rtmp_rc = rtmp.wait(PLAYERS_END_BOUND_S)
        http.join(max(0.0, t_end + PLAYERS_END_BOUND_S - time.monotonic()))
        rtmp_after = (rtmp.ended - t_end) if rtmp.ended else None
        note("publisher gone; rtmp player exit %s after %s s with %d frames; "
             "http-flv end=%s with %d frames" % (
                 rtmp_rc, "%.2f" % rtmp_after if rtmp_after is not None else "-",
                 rtmp.frames(), http.end, http.video_frames))
        self.assertEqual(rtmp_rc, 0, "RTMP player did not end cleanly within %.0f s: %s"
                         % (PLAYERS_END_BOUND_S, rtmp.describe()))
        self.assertGreater(rtmp.frames(), 50)
        self.assertEqual(http.end, "terminator",
                         "HTTP-FLV response did not end with the 0-length chunk")
        self.assertGreater(http.video_frames, 50)

        self.assertTrue(self.server.wait_log("stream live/cam freed", 5),
                        "no 'stream live/cam freed' after publisher and players left")
        self.server.assert_alive()

        pub2 = self.publish(seconds=30, proc_name="publisher2")
        self.wait_published(pub2, count=2)
        r2 = self.start_flv_reader(max_seconds=3)
        r2.join(10)
        note("republished: new player got %d video frames in 3 s" % r2.video_frames)
        self.assertEqual(r2.status, 200)
        self.assertGreaterEqual(r2.video_frames, 50)

    def test_second_publisher_is_refused(self):
        pub = self.publish(seconds=60)
        self.wait_published(pub)
        reader = self.start_flv_reader(max_seconds=60)
        self.wait_until(lambda: reader.video_frames > 0, 5, "player frames")

        intruder = self.publish(seconds=10, proc_name="publisher-second")
        rc = intruder.wait(15)
        frames_then, seen_then = pub.frames(), reader.video_frames
        time.sleep(2)
        note("second publisher exit %s after %.2f s; first publisher frames %d -> %d, "
             "player frames %d -> %d" % (
                 rc, (intruder.ended or time.monotonic()) - intruder.started, frames_then,
                 pub.frames(), seen_then, reader.video_frames))
        self.assertIsNotNone(rc, "second publisher still running after 15 s: "
                             + intruder.describe())
        self.assertNotEqual(rc, 0, "second publisher was accepted")
        self.assertIsNone(pub.poll(), "first publisher stopped: " + pub.describe())
        self.assertGreater(pub.frames(), frames_then + 25, "first publisher stalled")
        self.assertGreater(reader.video_frames, seen_then + 25, "player stalled")
        self.assertIsNone(reader.end, "player's response ended")
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
