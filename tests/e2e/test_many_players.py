"""20 players at once: 10 RTMP (ffmpeg, stream copy) and 10 HTTP-FLV (socket readers)."""

import time
import unittest

import harness
from harness import note

N_RTMP = 10
N_HTTP = 10
SECONDS = 5
MIN_VIDEO_FRAMES = 100  # 25 fps x 5 s = 125, with margin


class ManyPlayers(harness.E2ETestCase):

    def test_twenty_players_all_receive_frames(self):
        pub = self.publish(seconds=60)
        self.wait_published(pub)

        rtmp = [self.spawn_ffmpeg(harness.player_args(self.server.rtmp_url(), SECONDS),
                                  "rtmp-player-%d" % i) for i in range(N_RTMP)]
        http = [self.start_flv_reader(max_seconds=SECONDS + 0.5) for _ in range(N_HTTP)]

        deadline = time.monotonic() + SECONDS + 20
        rcs = [p.wait(deadline - time.monotonic()) for p in rtmp]
        for r in http:
            r.join(max(0.0, deadline - time.monotonic()))
        self.server.assert_alive()

        rtmp_frames = [p.frames() for p in rtmp]
        http_frames = [r.video_frames for r in http]
        note("rtmp players: exit %s, video frames %s" % (rcs, rtmp_frames))
        note("http-flv players: end %s, video frames %s, audio frames %s"
             % ([r.end for r in http], http_frames, [r.audio_frames for r in http]))
        for p, rc in zip(rtmp, rcs):
            self.assertEqual(rc, 0, "RTMP player failed: " + p.describe())
            self.assertGreaterEqual(p.frames(), MIN_VIDEO_FRAMES, p.describe())
        for r in http:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.end, "timeout", "HTTP-FLV player ended early")
            self.assertGreaterEqual(r.video_frames, MIN_VIDEO_FRAMES)
            self.assertGreater(r.audio_frames, 0)
        self.assertIsNone(pub.poll(), "the publisher stopped: " + pub.describe())


if __name__ == "__main__":
    unittest.main()
