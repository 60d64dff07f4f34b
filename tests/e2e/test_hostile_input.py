"""Hostile input on the RTMP and HTTP ports while a player plays: each bad connection is
closed by the server, the server keeps running and the player keeps receiving frames."""

import os
import socket
import time
import unittest

import harness
import rtmp_client as rc
from harness import HOST, note

HANDSHAKE_TIMEOUT_MS = 2000
CLOSE_BOUND_S = 5.0


class HostileInput(harness.E2ETestCase):
    config = {"limits": {"handshake_timeout_ms": HANDSHAKE_TIMEOUT_MS}}

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=90)
        self.wait_published(self.pub)
        self.player = self.start_flv_reader(max_seconds=90)
        self.wait_until(lambda: self.player.video_frames > 0, 5, "the player's first frame")

    # -- helpers

    def rtmp_sock(self):
        s = rc.open_connection(HOST, self.server.rtmp_port)
        self.addCleanup(s.close)
        return s

    def http_sock(self):
        s = socket.create_connection((HOST, self.server.http_port), timeout=5)
        self.addCleanup(s.close)
        return s

    def send(self, sock, data):
        """Sends what the server still takes; it may close or stop reading mid-way."""
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass

    def assert_closed(self, sock, what, bound=CLOSE_BOUND_S):
        how, secs, got = harness.wait_closed(sock, bound)
        note("%s: server closed by %s after %.2f s (%d bytes received)" % (what, how, secs, got))
        self.assertIsNotNone(how, "%s: connection still open after %.1f s" % (what, bound))
        return secs

    def assert_player_growing(self, what):
        before = self.player.video_frames
        self.server.assert_alive()
        self.wait_until(lambda: self.player.video_frames > before, 3,
                        "the player's frames to grow after: " + what)
        self.assertIsNone(self.player.end, "player ended after %s: %s" % (what, self.player.end))

    def read_http_response(self, sock, bound=CLOSE_BOUND_S):
        """The status of whatever response arrives before the server closes."""
        buf = b""
        sock.settimeout(0.2)
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not data:
                break
            buf += data
        return harness.parse_response_head(buf)[0], buf

    # -- a control: the raw client itself is correct, so closes below mean rejection

    def test_control_valid_connect_gets_result(self):
        s = self.rtmp_sock()
        rc.handshake(s)
        s.sendall(rc.connect_command("live", self.server.rtmp_url().rsplit("/", 1)[0]))
        got = b""
        s.settimeout(0.2)
        deadline = time.monotonic() + 3
        while b"_result" not in got and time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            self.assertTrue(data, "server closed a valid connect")
            got += data
        note("control: valid connect answered with %d bytes, _result=%s"
             % (len(got), b"_result" in got))
        self.assertIn(b"_result", got)

    # -- the attacks

    def test_attacks(self):
        frames_start = self.player.video_frames
        with self.subTest("rtmp garbage"):
            s = self.rtmp_sock()
            self.send(s, b"\xff" + os.urandom(4095))
            self.assert_closed(s, "rtmp garbage")
            self.assert_player_growing("rtmp garbage")

        with self.subTest("rtmp truncated handshake"):
            s = self.rtmp_sock()
            self.send(s, rc.c0c1()[:1 + rc.HANDSHAKE_SIZE // 2])
            secs = self.assert_closed(s, "truncated handshake",
                                      HANDSHAKE_TIMEOUT_MS / 1000.0 + 3.0)
            self.assertGreater(secs, HANDSHAKE_TIMEOUT_MS / 1000.0 - 0.5,
                               "closed before the handshake timeout: not the timeout?")
            self.assert_player_growing("truncated handshake")

        with self.subTest("rtmp set chunk size 100 MB"):
            s = self.rtmp_sock()
            rc.handshake(s)
            self.send(s, rc.set_chunk_size(0x06400000))
            self.send(s, rc.connect_command("live", "rtmp://%s/live" % HOST,
                                            chunk_size=0x06400000))
            self.assert_closed(s, "set chunk size 100 MB")
            self.assert_player_growing("set chunk size 100 MB")

        with self.subTest("rtmp message length over the limit"):
            s = self.rtmp_sock()
            rc.handshake(s)
            # A 16 MB command message (rtmp_max_message_bytes is 8 MB): header plus the
            # first chunk only; the server must refuse it, not wait for or buffer it.
            self.send(s, rc.chunk_message(3, rc.MSG_COMMAND_AMF0, b"\x02" + b"A" * 127,
                                          length=0xFFFFFF))
            self.assert_closed(s, "16 MB message header")
            self.assert_player_growing("16 MB message header")

        with self.subTest("rtmp connect nested 10000 deep"):
            s = self.rtmp_sock()
            rc.handshake(s)
            msg = rc.connect_command("live", "", command_object=rc.amf0_nested_object(10000))
            self.send(s, msg)
            self.assert_closed(s, "connect nested 10000 deep (%d bytes)" % len(msg))
            self.assert_player_growing("nested connect")

        with self.subTest("http garbage"):
            s = self.http_sock()
            self.send(s, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500)
                      + b"\r\n\r\n")
            status, buf = self.read_http_response(s)
            note("http garbage: status %s, %r" % (status, buf[:40]))
            self.assertEqual(status, 400)
            self.assert_closed(s, "http garbage")
            self.assert_player_growing("http garbage")

        with self.subTest("http 100 KB header"):
            s = self.http_sock()
            self.send(s, b"GET /live/cam.flv HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000
                      + b"\r\n\r\n")
            status, buf = self.read_http_response(s)
            note("http 100 KB header: status %s, %r" % (status, buf[:40]))
            self.assertIn(status, (400, 431))
            self.assert_closed(s, "http 100 KB header")
            self.assert_player_growing("100 KB header")

        frames_mid = self.player.video_frames
        time.sleep(2)
        note("player: %d video frames before the attacks, %d after, %d two seconds later"
             % (frames_start, frames_mid, self.player.video_frames))
        self.assertGreater(self.player.video_frames, frames_mid + 25)
        self.assertIsNone(self.player.end)
        self.assertIsNone(self.pub.poll(), "publisher stopped: " + self.pub.describe())
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
