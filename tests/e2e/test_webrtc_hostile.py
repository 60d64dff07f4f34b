"""Hostile and dead WebRTC peers: sluice's one UDP port takes a storm of garbage while a
Chromium WHEP viewer plays; sessions that never finish ICE or DTLS are closed after
limits.handshake_timeout_ms; a viewer whose browser is killed is closed by ICE consent
freshness (30 s without STUN).

One server, one ffmpeg RTMP publisher, two Chromium viewers (one killed early, so its
30 s run alongside the rest). The storm is 20,000 datagrams over ~4 s: random bytes,
datagrams too short for any record, STUN-shaped junk (unknown usernames, the viewer's
own username with a wrong MESSAGE-INTEGRITY, none at all, lying lengths), fake DTLS
records (ClientHello, plaintext and encrypted-looking alerts, ChangeCipherSpec,
application data) and fake RTP/RTCP, half from unknown ports (IPv4, and IPv6 when there
is ::1) and half forged with the viewer's own address and port (a raw socket: the
namespace is ours). Such datagrams must be dropped (RFC 6347 4.1.2.7 for DTLS): none
may end the viewer's session. Runs in its own network namespace (webrtc.main()).
"""

import hashlib
import hmac
import os
import random
import re
import socket
import struct
import time
import zlib

import harness
import webrtc
from harness import HOST, note

KEY = "live/cam"
HANDSHAKE_MS = 2000
STORM_DATAGRAMS = 20000
STORM_SECONDS = 4.0
CONSENT_S = 30.0

STUN_COOKIE = 0x2112A442
KINDS = 12  # of junk datagrams, see _junk()


# ---------------------------------------------------------------- STUN (RFC 5389, 8445)

def _attr(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def stun_request(username, password, txid=None, integrity=True, fingerprint=True,
                 use_candidate=True):
    """A Binding request as a controlling ICE agent sends it: USERNAME, PRIORITY,
    ICE-CONTROLLING, USE-CANDIDATE, then MESSAGE-INTEGRITY (HMAC-SHA1 keyed with
    `password`, or 20 bytes of garbage when `password` is None) and FINGERPRINT."""
    txid = txid or os.urandom(12)
    attrs = _attr(0x0006, username.encode()) + _attr(0x0024, struct.pack("!I", 0x6E7F00FF))
    attrs += _attr(0x802A, os.urandom(8))
    if use_candidate:
        attrs += _attr(0x0025, b"")
    msg = struct.pack("!HHI", 0x0001, len(attrs), STUN_COOKIE) + txid + attrs
    if integrity:
        head = struct.pack("!HHI", 0x0001, len(attrs) + 24, STUN_COOKIE) + txid + attrs
        mac = hmac.new(password.encode(), head, hashlib.sha1).digest() if password \
            else os.urandom(20)
        attrs += _attr(0x0008, mac)
        msg = struct.pack("!HHI", 0x0001, len(attrs), STUN_COOKIE) + txid + attrs
    if fingerprint:
        head = struct.pack("!HHI", 0x0001, len(attrs) + 8, STUN_COOKIE) + txid + attrs
        crc = (zlib.crc32(head) ^ 0x5354554E) & 0xFFFFFFFF
        attrs += _attr(0x8028, struct.pack("!I", crc))
        msg = struct.pack("!HHI", 0x0001, len(attrs), STUN_COOKIE) + txid + attrs
    return msg


def stun_check_response(data, txid, password):
    """Why `data` is not a valid Binding success response to `txid` keyed with
    `password`, or None when it is."""
    if len(data) < 20:
        return "short: %d bytes" % len(data)
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if kind != 0x0101 or cookie != STUN_COOKIE or data[8:20] != txid:
        return "type 0x%04x cookie 0x%08x txid match %s" % (kind, cookie, data[8:20] == txid)
    pos, mi_at = 20, None
    while pos + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[pos:pos + 4])
        if t == 0x0008:
            mi_at = pos
        pos += 4 + n + (4 - n % 4) % 4
    if mi_at is None:
        return "no MESSAGE-INTEGRITY"
    head = struct.pack("!HH", 0x0101, mi_at - 20 + 24) + data[4:mi_at]
    want = hmac.new(password.encode(), head, hashlib.sha1).digest()
    if data[mi_at + 4:mi_at + 24] != want:
        return "MESSAGE-INTEGRITY does not match the answer's ice-pwd"
    return None


def sdp_attr(sdp, name):
    m = re.search(r"^a=%s:(\S+)" % re.escape(name), sdp or "", re.M)
    return m.group(1) if m else None


def ice_check(udp_port, offer, answer, timeout=2.0):
    """One ICE connectivity check of ours on a session: (seconds to a valid success
    response or None, why not)."""
    user = "%s:%s" % (sdp_attr(answer, "ice-ufrag"), sdp_attr(offer, "ice-ufrag"))
    pwd = sdp_attr(answer, "ice-pwd")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(0.25)
        txid = os.urandom(12)
        t0 = time.monotonic()
        why = "no answer"
        while time.monotonic() - t0 < timeout:
            s.sendto(stun_request(user, pwd, txid), (HOST, udp_port))
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                continue
            why = stun_check_response(data, txid, pwd)
            if why is None:
                return time.monotonic() - t0, None
        return None, why


# ---------------------------------------------------------------- the storm

def _udp4_packet(src, dst, payload):
    """An IPv4 + UDP datagram (checksum 0: none; the kernel fills the IP checksum)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), random.getrandbits(16), 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    return ip + udp


def _dtls_record(ctype, epoch, body):
    return struct.pack("!BHHIHH", ctype, 0xFEFD, epoch, random.getrandbits(32),
                       random.getrandbits(16), len(body)) + body


def _junk(kind, viewer_user):
    """One datagram of the storm."""
    r = random.getrandbits
    if kind == 0:  # random bytes, any first byte
        return os.urandom(random.randint(1, 1400))
    if kind == 1:  # STUN from a stranger: unknown username, garbage integrity
        return stun_request("%08x:%08x" % (r(32), r(32)), None)
    if kind == 2:  # the viewer's own username, wrong integrity
        return stun_request(viewer_user, "not-the-password-0123456789")
    if kind == 3:  # the viewer's username without integrity or fingerprint
        return stun_request(viewer_user, None, integrity=False, fingerprint=False)
    if kind == 4:  # STUN header whose lengths lie
        body = os.urandom(random.randint(0, 64))
        msg = struct.pack("!HHI", random.choice((0x0001, 0x0101, 0x0111, 0x0011)),
                          random.choice((len(body) + 4, 0xFFFC, 4)), STUN_COOKIE)
        return msg + os.urandom(12) + struct.pack("!HH", 0x0006, 0xFFFF) + body
    if kind == 5:  # a DTLS ClientHello-shaped handshake record, epoch 0
        hs = struct.pack("!B", 1) + struct.pack("!I", 200)[1:] + struct.pack("!H", 0) + \
            b"\0\0\0" + struct.pack("!I", 200)[1:] + b"\xfe\xfd" + os.urandom(197)
        return _dtls_record(22, 0, hs)
    if kind == 6:  # DTLS alerts: plaintext close_notify / fatal, epoch 0 and 1
        return _dtls_record(21, random.choice((0, 1)), random.choice(
            (b"\x01\x00", b"\x02\x28", os.urandom(26))))
    if kind == 7:  # DTLS application data, epoch 1, garbage (would be SCTP)
        return _dtls_record(23, 1, os.urandom(random.randint(16, 600)))
    if kind == 8:  # a DTLS ChangeCipherSpec and a bogus Finished
        return _dtls_record(20, 0, b"\x01") + _dtls_record(22, 1, os.urandom(48))
    if kind == 9:  # RTP-shaped: version 2, payload types of H.264/Opus, garbage
        return struct.pack("!BBHII", 0x80 | r(1) << 4, random.choice((96, 102, 111, 0xE6)),
                           r(16), r(32), r(32)) + os.urandom(random.randint(10, 1200))
    if kind == 10:  # shorter than any record: 1 to 12 bytes, half in the DTLS range
        return bytes([random.choice((random.randint(20, 63), r(8)))]) + \
            os.urandom(random.randint(0, 11))
    # kind 11: RTCP-shaped: SR, RR, BYE, NACK, PLI with a garbage SRTCP trailer
    pt = random.choice((200, 201, 203, 205, 206))
    fmt = {205: 1, 206: 1}.get(pt, 0)
    body = os.urandom(4 * random.randint(1, 12))
    return struct.pack("!BBH", 0x80 | fmt, pt, len(body) // 4) + body + \
        struct.pack("!I", 0x80000000 | r(31)) + os.urandom(10)


class Storm:
    """Sends STORM_DATAGRAMS datagrams at sluice's UDP port over STORM_SECONDS, half
    from unknown sockets, half forged as `viewer` (ip, port) when a raw socket can be
    had. Returns counts per kind of source."""

    def __init__(self, udp_port, viewer, viewer_user):
        self.dst4 = (HOST, udp_port)
        self.viewer, self.viewer_user = viewer, viewer_user
        self.sent = {"unknown4": 0, "unknown6": 0, "forged-as-viewer": 0}
        self.errors = []

    def run(self):
        socks4 = []
        for _ in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((HOST, 0))
            socks4.append(s)
        sock6 = raw = None
        try:
            sock6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock6.bind(("::1", 0))
        except OSError as e:
            self.errors.append("no IPv6 source: %s" % e)
            sock6 = None
        try:
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except OSError as e:
            self.errors.append("no raw socket, nothing forged: %s" % e)
        try:
            batches = 40
            per = STORM_DATAGRAMS // batches
            t0 = time.monotonic()
            for b in range(batches):
                for i in range(per):
                    n = b * per + i
                    data = _junk(n % KINDS, self.viewer_user)
                    try:
                        if raw is not None and n % 2 == 0:
                            raw.sendto(_udp4_packet(self.viewer, self.dst4, data[:1400]),
                                       (self.dst4[0], 0))
                            self.sent["forged-as-viewer"] += 1
                        elif sock6 is not None and n % 10 == 1:
                            sock6.sendto(data, ("::1", self.dst4[1]))
                            self.sent["unknown6"] += 1
                        else:
                            socks4[n % 4].sendto(data, self.dst4)
                            self.sent["unknown4"] += 1
                    except OSError as e:  # ENOBUFS and the like: counted, not fatal
                        if len(self.errors) < 5:
                            self.errors.append(str(e))
                pause = t0 + (b + 1) * STORM_SECONDS / batches - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        finally:
            for s in socks4 + [sock6, raw]:
                if s is not None:
                    s.close()
        return self.sent


class Hostile(webrtc.WebRtcTestCase):
    NEEDS_WERIFT = False
    config = {"limits": {"handshake_timeout_ms": HANDSHAKE_MS}}
    # ASan keeps freed memory in a 256 MB quarantine, which would make RSS grow with
    # every datagram handled: 1 MB, so RSS measures what the server holds.
    server_env = {"ASAN_OPTIONS": harness.ASAN_OPTIONS + ":quarantine_size_mb=1"}

    def test_storm_timeouts_and_consent(self):
        srv = self.server
        pub = self.publish("cam", 120, video_opts=["-profile:v", "baseline"])
        self.wait_published(pub, "cam")
        viewer = self.whep_start(KEY, 90)
        doomed = self.whep_start(KEY, 90)

        # The doomed viewer plays, then its browser is killed: consent freshness has
        # to close its session about 30 s later, while the rest of the test runs.
        doomed.wait_event("firstFrame", 30)
        doomed_sid = webrtc.session_of(doomed.wait_event("answer", 1).get("location"))
        self.assertTrue(doomed_sid, "doomed viewer: no session")
        doomed.kill()
        t_kill = time.time()
        note("hostile: doomed viewer %s killed" % doomed_sid)

        first = viewer.wait_event("firstFrame", 30)
        offer = viewer.wait_event("offer", 1)["sdp"]
        ans = viewer.wait_event("answer", 1)
        self.assertEqual(ans.get("status"), 201, "viewer's WHEP POST")
        sid = webrtc.session_of(ans["location"])
        self.wait_until(lambda: webrtc.session_udp_addr(srv, sid) is not None, 5,
                        "the viewer's 'connected' log line")
        vaddr = webrtc.session_udp_addr(srv, sid)
        note("hostile: viewer %s at %s:%d, first frame %s" % (sid, vaddr[0], vaddr[1], first))

        with self.subTest(check="handshake timeouts"):
            self._check_handshake_timeouts(offer)

        # The storm, while the viewer plays.
        viewer_user = "%s:%s" % (sdp_attr(ans["sdp"], "ice-ufrag"), sdp_attr(offer, "ice-ufrag"))
        log_lines0 = len(srv.log_text().splitlines())
        rss0 = srv.rss_kb()
        time.sleep(1.0)
        t_storm0 = time.time()
        storm = Storm(self.udp_port, vaddr, viewer_user)
        sent = storm.run()
        t_storm1 = time.time()
        srv.assert_alive()
        rss1 = srv.rss_kb()
        storm_lines = srv.log_text().splitlines()[log_lines0:]
        note("hostile: storm of %s datagrams in %.2f s (%s), errors %s; server RSS %d -> %d KiB, "
             "%d log lines" % (sent, t_storm1 - t_storm0, sum(sent.values()), storm.errors,
                               rss0, rss1, len(storm_lines)))
        self.assertGreaterEqual(sum(sent.values()), STORM_DATAGRAMS * 0.95, "storm not sent")
        time.sleep(3.0)
        t_after = time.time()

        with self.subTest(check="a new session after the storm"):
            status, headers, answer = webrtc.post_offer(srv.http_port, KEY, "whep", offer)
            self.assertEqual(status, 201, "WHEP POST after the storm: %s" % answer)
            took, why = ice_check(self.udp_port, offer, answer)
            note("hostile: after the storm a new WHEP POST got 201 and our ICE check an "
                 "answer in %s s" % (None if took is None else "%.3f" % took))
            self.assertIsNone(why, "ICE check on a new session after the storm: %s" % why)
            status, _, _ = webrtc.http_call(srv.http_port, "DELETE", headers["location"])
            self.assertEqual(status, 200, "DELETE of the new session")

        closes = [ln for ln in webrtc.session_lines(srv, sid)[1] if "closed:" in ln]
        v = viewer.stop()
        note(webrtc.describe(v))
        with self.subTest(check="the viewer's session survives the storm"):
            self.assertFalse(closes, "junk datagrams (those forged with the viewer's address "
                                     "among them) ended its session: %s" % closes)
        with self.subTest(check="the viewer played through the storm"):
            self._check_viewer(v, t_storm0, t_storm1, t_after)
        with self.subTest(check="server memory"):
            self.assertLess(rss1 - rss0, 8 * 1024, "RSS grew by %d KiB in the storm"
                            % (rss1 - rss0))
        with self.subTest(check="the server did not log per datagram"):
            self.assertLess(len(storm_lines), 50, "log lines during the storm:\n%s"
                            % "\n".join(storm_lines[:20]))

        with self.subTest(check="consent freshness closes the killed viewer"):
            self._check_consent(doomed_sid, t_kill)

    # -- parts

    def _check_handshake_timeouts(self, offer):
        srv = self.server
        # No ICE at all.
        status, h1, _ = webrtc.post_offer(srv.http_port, KEY, "whep", offer)
        self.assertEqual(status, 201, "WHEP POST that will never do ICE")
        # ICE (our own connectivity check, which must be answered), then no DTLS.
        status, h2, answer = webrtc.post_offer(srv.http_port, KEY, "whep", offer)
        self.assertEqual(status, 201, "WHEP POST that will never do DTLS")
        took, why = ice_check(self.udp_port, offer, answer)
        self.assertIsNone(why, "our ICE check was not answered properly: %s" % why)
        cases = ((webrtc.session_of(h1["location"]), "no ICE connectivity check in time"),
                 (webrtc.session_of(h2["location"]), "DTLS handshake timed out"))
        for sid, reason in cases:
            self.wait_until(lambda s=sid: any("closed:" in ln
                                              for ln in webrtc.session_lines(srv, s)[1]),
                            HANDSHAKE_MS / 1000.0 + 3, "the close of session %s" % sid)
            _, lines = webrtc.session_lines(srv, sid)
            opened = next(webrtc.log_time(ln) for ln in lines if ": session " in ln)
            closed = [ln for ln in lines if "closed:" in ln]
            after = webrtc.log_time(closed[0]) - opened
            note("hostile: session %s closed %.3f s after its answer: %s"
                 % (sid, after, closed[0].split("closed: ", 1)[1]))
            self.assertIn("closed: " + reason, closed[0], "session %s" % sid)
            self.assertGreaterEqual(after, HANDSHAKE_MS / 1000.0 - 0.05,
                                    "closed before handshake_timeout_ms")
            self.assertLess(after, HANDSHAKE_MS / 1000.0 + 1.5, "closed late")
        note("hostile: our ICE check was answered in %.3f s" % took)

    def _check_viewer(self, v, t0, t1, t2):
        vv = v.get("video") or {}
        f0, f1, f2 = (webrtc.timeline_at(v, t) for t in (t0, t1, t2))
        note("hostile: viewer frames %d at the storm, %d after it (%.1f s), %d 3 s later; "
             "%s decoded in all, %s lost packets, %s NACKs, %s freezes, DTLS %s" % (
                 f0, f1, t1 - t0, f2, vv.get("framesDecoded"), vv.get("packetsLost"),
                 vv.get("nackCount"), vv.get("freezeCount"),
                 (v.get("pair") or {}).get("dtlsState")))
        self.assertGreater(f0, 25, "the viewer had not played before the storm")
        self.assertGreaterEqual(f1 - f0, 12.5 * (t1 - t0),
                                "frames during the storm: %d in %.1f s" % (f1 - f0, t1 - t0))
        self.assertGreaterEqual(f2 - f1, 50, "frames in the 3 s after the storm")
        self.assertEqual((v.get("pair") or {}).get("dtlsState"), "connected",
                         "the viewer's DTLS did not survive the storm")

    def _check_consent(self, sid, t_kill):
        srv = self.server
        bound = t_kill + CONSENT_S + 10 - time.time()
        self.wait_until(lambda: any("closed:" in ln for ln in webrtc.session_lines(srv, sid)[1]),
                        max(bound, 1), "the close of the killed viewer's session %s" % sid)
        closed = [ln for ln in webrtc.session_lines(srv, sid)[1] if "closed:" in ln][0]
        after = webrtc.log_time(closed) - t_kill
        note("hostile: killed viewer's session closed %.1f s after the kill: %s"
             % (after, closed.split("closed: ", 1)[1]))
        self.assertIn("closed: ICE consent expired", closed)
        # The browser's last consent check came at most ~6 s before the kill.
        self.assertGreater(after, CONSENT_S - 8, "closed too early for a 30 s consent")


if __name__ == "__main__":
    webrtc.main()
