"""Bad RTSP requests while an HTTP-FLV player plays: each gets the status clients act on
(404 unknown stream or track, 461 unsupported transport, 455 wrong state, 454 wrong
session, 403 a second publisher, 400/413 unreadable requests, which also close the
connection), a silent UDP player is closed after the session timeout, and the server and
the player carry on."""

import os
import re
import socket
import time
import unittest

import harness
from harness import HOST, note

SESSION_TIMEOUT_MS = 5000  # the smallest allowed
CLOSE_BOUND_S = 5.0

# What ffmpeg announces for the harness's publisher (H.264 with its parameter sets, AAC).
ANNOUNCE_SDP = (
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "a=tool:libavformat 59.27.100\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAHtkAoC/5YQAAAwABAAADADIPFi5I,"
    "aMuDyyA=; profile-level-id=42C01E\r\na=control:streamid=0\r\n"
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
    "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
    "indexdeltalength=3; config=121056E500\r\na=control:streamid=1\r\n")


def udp_pair():
    """Two UDP sockets on an even port and the next one, as client_port wants them."""
    for _ in range(50):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind((HOST, 0))
        port = a.getsockname()[1]
        if port % 2 == 0:
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                b.bind((HOST, port + 1))
                return a, b, port
            except OSError:
                b.close()
        a.close()
    raise AssertionError("no free UDP port pair")


class RtspClient:
    """A raw RTSP/1.0 connection: sends requests, reads responses (skipping any '$'
    interleaved packets before them) and checks each response's CSeq."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.cseq = 0
        self.session = None

    def close(self):
        self.sock.close()

    def request(self, method, url, headers=(), body=b""):
        """(status, headers with lower-case names, body) of the answer to one request."""
        self.cseq += 1
        lines = ["%s %s RTSP/1.0" % (method, url), "CSeq: %d" % self.cseq]
        if self.session and not any(h.lower().startswith("session:") for h in headers):
            lines.append("Session: " + self.session)
        lines += list(headers)
        if body:
            lines.append("Content-Length: %d" % len(body))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status, head, content = self.response()
        if head.get("cseq") != str(self.cseq):
            raise AssertionError("%s: CSeq %r in the response to CSeq %d"
                                 % (method, head.get("cseq"), self.cseq))
        if status == 200 and "session" in head:
            self.session = head["session"].split(";")[0]
        return status, head, content

    def packets(self, seconds):
        """Reads '$' interleaved packets for `seconds`: {channel: [count, bytes]}."""
        got, deadline = {}, time.monotonic() + seconds
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            while self.buf[:1] == b"$" and len(self.buf) >= 4:
                n = int.from_bytes(self.buf[2:4], "big")
                if len(self.buf) < 4 + n:
                    break
                c = got.setdefault(self.buf[1], [0, 0])
                c[0], c[1] = c[0] + 1, c[1] + n
                self.buf = self.buf[4 + n:]
            if self.buf and self.buf[:1] != b"$":
                raise AssertionError("not an interleaved packet: %r" % self.buf[:40])
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            self.buf += data
        self.sock.settimeout(5.0)
        return got

    def response(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.buf[:1] == b"$" and len(self.buf) >= 4:
                n = 4 + int.from_bytes(self.buf[2:4], "big")
                if len(self.buf) >= n:
                    self.buf = self.buf[n:]
                    continue
            elif b"\r\n\r\n" in self.buf:
                head, _, rest = self.buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                m = re.match(r"RTSP/1\.0 (\d{3}) ", lines[0])
                if not m:
                    raise AssertionError("not an RTSP response: %r" % lines[0][:80])
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length", 0))
                if len(rest) >= n:
                    self.buf = rest[n:]
                    return int(m.group(1)), headers, rest[:n]
            if time.monotonic() > deadline:
                raise AssertionError("no complete response within %.0f s: %r"
                                     % (timeout, self.buf[:200]))
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("connection closed before a response: %r" % self.buf[:200])
            self.buf += data


class RtspHostile(harness.E2ETestCase):
    config = {"rtsp": {"session_timeout_ms": SESSION_TIMEOUT_MS}}

    def setUp(self):
        super().setUp()
        self.pub = self.publish(seconds=120)
        self.wait_published(self.pub)
        self.player = self.start_flv_reader(max_seconds=120)
        self.wait_until(lambda: self.player.video_frames > 0, 5, "the player's first frame")
        self.url = self.server.rtsp_url()

    def client(self):
        c = RtspClient(self.server.rtsp_port)
        self.addCleanup(c.close)
        return c

    def expect(self, client, want, method, url, headers=(), body=b""):
        status, head, _ = client.request(method, url, headers, body)
        note("%s %s -> %s" % (method, url.replace(self.url, "<cam>"), status))
        self.assertEqual(status, want, "%s %s: %s, %r" % (method, url, status, head))
        return head

    def described(self):
        """A connection that has DESCRIBEd live/cam."""
        c = self.client()
        self.expect(c, 200, "DESCRIBE", self.url, ["Accept: application/sdp"])
        return c

    def assert_closed(self, sock, what, bound=CLOSE_BOUND_S):
        how, secs, got = harness.wait_closed(sock, bound)
        note("%s: server closed by %s after %.2f s (%d more bytes)" % (what, how, secs, got))
        self.assertIsNotNone(how, "%s: connection still open after %.1f s" % (what, bound))
        return secs

    def assert_player_growing(self, what):
        before = self.player.video_frames
        self.server.assert_alive()
        self.wait_until(lambda: self.player.video_frames > before, 3,
                        "the player's frames to grow after: " + what)
        self.assertIsNone(self.player.end, "player ended after %s: %s" % (what, self.player.end))

    def raw_response(self, sock, data, bound=CLOSE_BOUND_S):
        """Sends what the server takes of `data`; the status line of what comes back."""
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        buf, deadline = b"", time.monotonic() + bound
        sock.settimeout(0.2)
        while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
        m = re.match(rb"RTSP/1\.0 (\d{3}) ", buf)
        return (int(m.group(1)) if m else None), buf

    # -- a control: the client is right, so the refusals below are the server's

    def test_control_play_over_tcp_gets_media(self):
        c = self.described()
        self.expect(c, 200, "SETUP", self.url + "/trackID=0",
                    ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
        self.expect(c, 200, "PLAY", self.url, ["Range: npt=0.000-"])
        got = c.packets(2.0)
        note("control: 2 s of PLAY over TCP: {channel: [packets, bytes]} %s" % got)
        self.assertEqual(sorted(got), [0, 1], "RTP on 0 and an RTCP sender report on 1")
        self.assertGreater(got[0][1], 100000)
        self.expect(c, 200, "TEARDOWN", self.url)

    # -- requests the server must refuse, each on a live connection

    def test_refusals(self):
        frames_start = self.player.video_frames
        with self.subTest("DESCRIBE of an unknown stream"):
            self.expect(self.client(), 404, "DESCRIBE", self.server.rtsp_url("nope"),
                        ["Accept: application/sdp"])

        with self.subTest("SETUP of an unknown track"):
            self.expect(self.described(), 404, "SETUP", self.url + "/trackID=7",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])

        with self.subTest("SETUP of a track of another stream"):
            self.expect(self.described(), 404, "SETUP", self.server.rtsp_url("other") + "/trackID=0",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])

        with self.subTest("two tracks on one interleaved channel pair"):
            c = self.described()
            self.expect(c, 200, "SETUP", self.url + "/trackID=0",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
            self.expect(c, 461, "SETUP", self.url + "/trackID=1",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
            self.expect(c, 200, "SETUP", self.url + "/trackID=1",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=2-3"])

        with self.subTest("PLAY of one track of a two-track session"):
            c = self.described()
            self.expect(c, 200, "SETUP", self.url + "/trackID=0",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
            self.expect(c, 459, "PLAY", self.url + "/trackID=0")

        with self.subTest("SETUP with multicast"):
            self.expect(self.described(), 461, "SETUP", self.url + "/trackID=0",
                        ["Transport: RTP/AVP;multicast;destination=232.0.0.1;port=5000-5001"])

        with self.subTest("PLAY before SETUP"):
            self.expect(self.client(), 455, "PLAY", self.url, ["Range: npt=0.000-"])
            self.expect(self.described(), 455, "PLAY", self.url, ["Range: npt=0.000-"])

        with self.subTest("a wrong Session"):
            c = self.described()
            self.expect(c, 200, "SETUP", self.url + "/trackID=0",
                        ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
            self.assertTrue(c.session, "SETUP gave no Session")
            self.expect(c, 454, "PLAY", self.url, ["Session: 0123456789ABCDEF"])
            # The session itself is unharmed.
            self.expect(c, 200, "PLAY", self.url)
            self.expect(c, 200, "TEARDOWN", self.url)
        self.assert_player_growing("refused requests")

        with self.subTest("a 100 KB header"):
            c = self.client()
            status, buf = self.raw_response(
                c.sock, b"OPTIONS " + self.url.encode() + b" RTSP/1.0\r\nCSeq: 1\r\nX-Big: "
                + b"a" * 100000 + b"\r\n\r\n")
            note("100 KB header: status %s, %r" % (status, buf[:40]))
            self.assertIn(status, (413, 400, 431))
            self.assert_closed(c.sock, "100 KB header")
            self.assert_player_growing("100 KB header")

        with self.subTest("a body over the limit keeps its CSeq in the 413"):
            c = self.client()
            status, buf = self.raw_response(
                c.sock, b"ANNOUNCE " + self.url.encode() + b"2 RTSP/1.0\r\nCSeq: 7\r\n"
                b"Content-Type: application/sdp\r\nContent-Length: 5000000\r\n\r\n")
            self.assertEqual(status, 413)
            self.assertIn(b"\r\nCSeq: 7\r\n", buf)
            self.assert_closed(c.sock, "body over the limit")

        with self.subTest("garbage"):
            c = self.client()
            status, buf = self.raw_response(
                c.sock, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500)
                + b"\r\n\r\n")
            note("garbage: status %s, %r" % (status, buf[:40]))
            self.assertEqual(status, 400)
            self.assert_closed(c.sock, "garbage")
            self.assert_player_growing("garbage")

        frames_mid = self.player.video_frames
        time.sleep(2)
        note("player: %d video frames before, %d after, %d two seconds later"
             % (frames_start, frames_mid, self.player.video_frames))
        self.assertGreater(self.player.video_frames, frames_mid + 25)
        self.assertIsNone(self.pub.poll(), "publisher stopped: " + self.pub.describe())

    def udp_player(self):
        """A PLAYing session over UDP: (client, its RTP socket, its RTCP socket, the
        server's RTP port)."""
        rtp, rtcp, port = udp_pair()
        self.addCleanup(rtp.close)
        self.addCleanup(rtcp.close)
        c = self.described()
        head = self.expect(c, 200, "SETUP", self.url + "/trackID=0",
                           ["Transport: RTP/AVP;unicast;client_port=%d-%d" % (port, port + 1)])
        server_port = int(re.search(r"server_port=(\d+)", head["transport"]).group(1))
        lo = self.server.rtsp_udp_min
        self.assertTrue(lo <= server_port <= lo + 98 and server_port % 2 == 0,
                        "server_port %d not an even port of %d-%d" % (server_port, lo, lo + 99))
        self.expect(c, 200, "PLAY", self.url)
        rtp.settimeout(3)
        self.assertEqual(rtp.recv(2048)[0] >> 6, 2, "not RTP version 2")
        return c, rtp, rtcp, server_port

    def test_silent_udp_player_times_out(self):
        """Two UDP players: one never sends anything back (no RTCP, no request) and is
        closed after the session timeout; the other sends a receiver report every
        second and stays."""
        silent, _, _, server_port = self.udp_player()
        t_play = time.monotonic()
        talking, _, talking_rtcp, talking_port = self.udp_player()
        receiver_report = b"\x80\xc9\x00\x01\x12\x34\x56\x78"
        silent.sock.settimeout(0.2)
        closed, last_rr = None, 0.0
        while closed is None and time.monotonic() - t_play < SESSION_TIMEOUT_MS / 1000 + 4:
            if time.monotonic() - last_rr >= 1.0:
                talking_rtcp.sendto(receiver_report, (HOST, talking_port + 1))
                last_rr = time.monotonic()
            try:
                data = silent.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                closed = time.monotonic() - t_play
        note("silent UDP player (session_timeout_ms %d, server_port %d): closed %s s after "
             "PLAY" % (SESSION_TIMEOUT_MS, server_port,
                       "%.2f" % closed if closed is not None else "never"))
        self.assertIsNotNone(closed, "the silent UDP player was not closed")
        self.assertGreater(closed, SESSION_TIMEOUT_MS / 1000 - 0.5, "closed before the timeout")
        self.assertLess(closed, SESSION_TIMEOUT_MS / 1000 + 2.0)
        self.assertTrue(self.server.wait_log("session timeout", 1))
        # The one that sent receiver reports is still there.
        self.expect(talking, 200, "GET_PARAMETER", self.url)
        self.assertEqual(self.server.log_text().count("session timeout"), 1)
        self.expect(talking, 200, "TEARDOWN", self.url)
        self.assert_player_growing("session timeout")

    def test_second_publisher_is_refused(self):
        c = self.client()
        self.expect(c, 200, "ANNOUNCE", self.url, ["Content-Type: application/sdp"],
                    ANNOUNCE_SDP.encode())
        self.expect(c, 200, "SETUP", self.url + "/streamid=0",
                    ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"])
        self.expect(c, 403, "RECORD", self.url, ["Range: npt=0.000-"])
        self.assert_player_growing("second publisher")
        self.assertIsNone(self.pub.poll(), "first publisher stopped: " + self.pub.describe())

    def test_publisher_gets_receiver_reports(self):
        """A publisher sending RTP gets an RTCP receiver report (type 201) within 7 s on
        its RTCP channel: the server reports loss and jitter as RFC 3550 asks."""
        c = self.client()
        url = self.server.rtsp_url("rr")
        sdp = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 97\r\n"
               "a=rtpmap:97 opus/48000/2\r\na=control:streamid=0\r\n")
        self.expect(c, 200, "ANNOUNCE", url, ["Content-Type: application/sdp"], sdp.encode())
        self.expect(c, 200, "SETUP", url + "/streamid=0",
                    ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"])
        self.expect(c, 200, "RECORD", url)
        c.sock.settimeout(0.02)
        got, seq, deadline = b"", 0, time.monotonic() + 7
        while time.monotonic() < deadline and b"$\x01" not in got:
            rtp = bytes([0x80, 97]) + seq.to_bytes(2, "big") + (seq * 960).to_bytes(4, "big") \
                + b"\x00\x00\x12\x34\xfc\x00\x00"
            c.sock.sendall(b"$\x00" + len(rtp).to_bytes(2, "big") + rtp)
            seq += 1
            try:
                got += c.sock.recv(4096)
            except socket.timeout:
                pass
            time.sleep(0.02)
        at = got.find(b"$\x01")
        note("receiver report after %d RTP packets: %s" % (seq, got[at:at + 8].hex() if at >= 0 else "none"))
        self.assertGreaterEqual(at, 0, "no RTCP from the server in 7 s")
        self.assertEqual(got[at + 5], 201, "not a receiver report")


if __name__ == "__main__":
    unittest.main()
