"""HTTP hooks (docs/hooks.md) against a hook service inside the test.

HookEvents: RTMP publish, RTMP play and HTTP-FLV play, then the players stop and the
publisher leaves: on_publish, on_play, on_play, on_stop, on_stop, on_unpublish arrive
in that order, and on_record once the recording is finished, with the documented fields (client_id and
remote_address as /api/v1/clients and the clients' own sockets show them, the URL
query); a 403 from the service refuses a publisher (RTMP) and players (RTMP, RTSP,
HTTP-FLV, WHEP), which the log calls denied; an HLS request goes to no hook.

HookHang: the service holds the on_publish of streams named hang* without ever
answering (hooks.timeout_ms 1500): with fail_open false the publisher is refused ~1.5 s later, with fail_open
true it is let in ~1.5 s later; meanwhile a live stream's player gets every frame
without a gap and a new player of it (its on_play answered at once) starts at once;
sluice_hook_failures_total counts the failure; SIGTERM with a held hook request in
flight exits once it times out, and the on_unpublish and on_stop events of the shutdown
still go out.
"""

import datetime
import http.client
import json
import os
import re
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import HOST, note

EVENTS = ("on_publish", "on_unpublish", "on_play", "on_stop", "on_record")
DECISION_FIELDS = {"event", "stream", "app", "name", "client_id", "protocol", "direction",
                   "remote_address", "query"}
HOOK_TIMEOUT_MS = 1500
OFFERS = harness.REPO / "tests" / "fuzz" / "corpus" / "fuzz_webrtc_offer"


class HookService:
    """A hook service on a loopback port. Every POST is recorded (wall-clock arrival,
    path, headers, JSON body). A body whose query holds "deny" gets 403; one whose
    stream name starts with "hang" is read and then never answered (the connection
    is held until the service stops); anything else gets 200 at once."""

    def __init__(self):
        self.events, self.lock = [], threading.Lock()
        self.release = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.time()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode("latin-1")}
                with service.lock:
                    service.events.append({"t": arrived, "path": self.path, "method": self.command,
                                           "content_type": self.headers.get("Content-Type"), "body": body})
                if str(body.get("name", "")).startswith("hang"):
                    service.release.wait(30)
                    self.close_connection = True
                    return
                status = 403 if "deny" in str(body.get("query", "")) else 200
                text = b"no\n" if status == 403 else b"ok\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://%s:%d/hooks" % (HOST, self.httpd.server_address[1])

    def config(self, events=EVENTS):
        return {e: "%s/%s" % (self.url, e) for e in events}

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def bodies(self, event=None, stream=None):
        with self.lock:
            return [e["body"] for e in self.events
                    if (event is None or e["body"].get("event") == event)
                    and (stream is None or e["body"].get("stream") == stream)]

    def find(self, event, **fields):
        """The first recorded event with these body fields, or None."""
        with self.lock:
            for e in self.events:
                b = e["body"]
                if b.get("event") == event and all(b.get(k) == v for k, v in fields.items()):
                    return e
        return None


def log_time(line):
    """The wall-clock time (Unix seconds) of a log line's ISO-8601 UTC stamp."""
    stamp = line.split(" ", 1)[0]
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def log_line(srv, pattern):
    """The first log line matching `pattern` (a regex), or None."""
    m = re.search(r"^.*%s.*$" % pattern, srv.log_text(), re.M)
    return m.group(0) if m else None


def metric(srv, name):
    status, _, body, _ = harness.http_get(srv.api_port, "/metrics")
    assert status == 200, "/metrics: %s" % status
    m = re.search(r"^%s (\d+)$" % re.escape(name), body.decode(), re.M)
    assert m, "no %s in /metrics" % name
    return int(m.group(1))


def api_clients(srv):
    status, _, body, _ = harness.http_get(srv.api_port, "/api/v1/clients")
    assert status == 200, "/api/v1/clients: %s" % status
    return {c["id"]: c for c in json.loads(body)["clients"]}


def tcp_local_ports(pid, remote_port):
    """Local ports of process `pid`'s established TCP connections to remote_port."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[9] in inodes and cols[3] == "01" and int(cols[2].split(":")[1], 16) == remote_port:
                ports.add(int(cols[1].split(":")[1], 16))
    return ports


def drain(sock):
    """Reads and drops until the socket is closed (by either side)."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def post(port, path, body, headers):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class HookCase(harness.E2ETestCase):
    start_server = False

    def start(self, extra=None, events=EVENTS):
        self.hooks = HookService()
        self.addCleanup(self.hooks.stop)
        cfg = {"hooks": dict(self.hooks.config(events), timeout_ms=HOOK_TIMEOUT_MS)}
        self.server = self.new_server(harness.deep_merge(cfg, extra or {}))
        return self.server

    def wait_event(self, event, timeout=10, **fields):
        self.wait_until(lambda: self.hooks.find(event, **fields) is not None, timeout,
                        "%s %s at the hook service" % (event, fields))
        return self.hooks.find(event, **fields)

    def publish_live(self, name="cam", query=""):
        url = self.server.rtmp_url(name) + (query and "?" + query)
        pub = self.spawn_ffmpeg(harness.publisher_args(url, 60, video_opts=("-g", "25")), "publisher-" + name)
        self.wait_published(pub, name=name)
        return pub


class HookEvents(HookCase):
    def test_events_in_order_and_denials(self):
        t0 = time.monotonic()
        srv = self.start({"record": {"enabled": True, "path": str(self.workdir / "rec")}})
        hooks = self.hooks
        pub = self.publish_live("cam", "k=v")
        ev = self.wait_event("on_publish", stream="live/cam")
        self.assertEqual(ev["path"], "/hooks/on_publish")
        self.assertEqual((ev["method"], ev["content_type"]), ("POST", "application/json"))
        pub_id = ev["body"]["client_id"]
        pub_ports = tcp_local_ports(pub.pid, srv.rtmp_port)
        self.assertEqual(len(pub_ports), 1, "the publisher's connections: %s" % pub_ports)

        # Players: ffmpeg over RTMP and a raw socket over HTTP-FLV (whose port we know).
        rtmp_player = self.spawn_ffmpeg(harness.player_args(srv.rtmp_url("cam") + "?p=1", 60), "rtmp-player")
        rtmp_play = self.wait_event("on_play", stream="live/cam", protocol="rtmp")
        flv = socket.create_connection((HOST, srv.http_port), timeout=5)
        self.addCleanup(flv.close)
        flv.sendall(("GET /live/cam.flv?x=y&z=%%20 HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST).encode())
        head = flv.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
        threading.Thread(target=drain, args=(flv,), daemon=True).start()
        flv_play = self.wait_event("on_play", stream="live/cam", protocol="http-flv")
        self.wait_until(lambda: rtmp_player.frames() >= 10, 10, "RTMP player frames")

        clients = api_clients(srv)
        ports = tcp_local_ports(rtmp_player.pid, srv.rtmp_port)
        self.assertEqual(len(ports), 1, "the RTMP player's connections: %s" % ports)
        expect = {
            "on_publish": (ev["body"], "rtmp", "publish", "k=v", "%s:%d" % (HOST, pub_ports.pop())),
            "rtmp on_play": (rtmp_play["body"], "rtmp", "play", "p=1", "%s:%d" % (HOST, ports.pop())),
            "http-flv on_play": (flv_play["body"], "http-flv", "play", "x=y&z=%20",
                                 "%s:%d" % flv.getsockname()),
        }
        for label, (body, proto, direction, query, remote) in expect.items():
            self.assertEqual(set(body), DECISION_FIELDS, label)
            self.assertEqual((body["stream"], body["app"], body["name"], body["protocol"], body["direction"],
                              body["query"]), ("live/cam", "live", "cam", proto, direction, query), label)
            c = clients.get(body["client_id"])
            self.assertIsNotNone(c, "%s: client_id %s not in /api/v1/clients %s" % (label, body["client_id"],
                                                                                    sorted(clients)))
            self.assertEqual((c["protocol"], c["remote_address"]), (proto, body["remote_address"]), label)
            self.assertEqual(body["remote_address"], remote, label + ": the client's own socket")
        note("on_publish/on_play: client ids %s match /api/v1/clients" % sorted(
            b["client_id"] for b, *_ in expect.values()))

        # HLS requests are not hooked.
        status, _, _, _ = harness.http_get(srv.http_port, "/live/cam/index.m3u8?h=1")
        self.assertEqual(status, 200, "HLS playlist")

        # Denials: the service answers 403 when the query says deny.
        with self.subTest(check="denied publish"):
            denied = self.spawn_ffmpeg(harness.publisher_args(srv.rtmp_url("cam2") + "?deny=1", 5), "denied-pub")
            rc = denied.wait(10)
            self.assertNotIn(rc, (None, 0), "a denied publisher was let in: " + denied.describe())
            self.assertIn("denied by the on_publish hook", denied.stderr_text())
            self.assertIsNotNone(log_line(srv, r"on_publish live/cam2: denied by the on_publish hook \(403\)"),
                                 srv.log_tail(10))
            self.assertNotIn("stream live/cam2 created", srv.log_text())
        with self.subTest(check="denied plays"):
            res = harness.run(["ffprobe", "-v", "error", "-rw_timeout", "10000000",
                               srv.rtmp_url("cam") + "?deny=1"], 15)
            self.assertTrue(res.returncode != 0 and "denied by the on_play hook" in res.stderr, res)
            res = harness.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", srv.rtsp_url("cam") + "?deny=1"],
                              15)
            self.assertTrue(res.returncode != 0 and "403" in res.stderr, res)
            status, _, body, _ = harness.http_get(srv.http_port, "/live/cam.flv?deny=1")
            self.assertEqual(status, 403, body)
            status, body = post(srv.http_port, "/live/cam/whep?deny=1", (OFFERS / "chrome_whep.sdp").read_bytes(),
                                {"Content-Type": "application/sdp"})
            self.assertEqual(status, 403, body)
            denials = re.findall(r"on_play live/cam: denied by the on_play hook \(403\)", srv.log_text())
            self.assertEqual(len(denials), 4, srv.log_tail(20))
            protos = sorted(b["protocol"] for b in hooks.bodies("on_play") if "deny" in b["query"])
            self.assertEqual(protos, ["http-flv", "rtmp", "rtsp", "webrtc"])
        note("denied: RTMP publish, RTMP/RTSP/HTTP-FLV/WHEP play (403 from the service)")

        # The players stop, then the publisher leaves.
        rtmp_player.kill()
        stop1 = self.wait_event("on_stop", client_id=rtmp_play["body"]["client_id"])
        flv.close()
        stop2 = self.wait_event("on_stop", client_id=flv_play["body"]["client_id"])
        pub.kill()
        unpub = self.wait_event("on_unpublish", client_id=pub_id)
        for start, stop in ((rtmp_play, stop1), (flv_play, stop2), (ev, unpub)):
            want = dict(start["body"], event=stop["body"]["event"])
            self.assertEqual(stop["body"], want, "the closing event repeats its opening one")
        with self.subTest(check="on_record"):
            done = None
            deadline = time.monotonic() + 5
            while done is None and time.monotonic() < deadline:
                done = re.search(r"record live/cam: finished (\S+)", srv.log_text())
                time.sleep(0.1)
            self.assertIsNotNone(done, "the recording was not finished\n" + srv.log_tail())
            deadline = time.monotonic() + 5
            while hooks.find("on_record") is None and time.monotonic() < deadline:
                time.sleep(0.1)
            rec = hooks.find("on_record")
            self.assertIsNotNone(rec, "no on_record within 5 s of 'record live/cam: finished %s' in the log "
                                 "(nothing calls sl_hook_record)" % done.group(1))
            self.assertEqual(rec["body"], {"event": "on_record", "stream": "live/cam", "path": done.group(1)})
            self.assertTrue(os.path.isdir(done.group(1)))

        # The order of the admitted clients' events; denied clients get no closing event.
        admitted = {pub_id, rtmp_play["body"]["client_id"], flv_play["body"]["client_id"]}
        seq = [(e["body"]["event"], e["body"].get("protocol")) for e in hooks.events
               if e["body"].get("client_id") in admitted or e["body"]["event"] == "on_record"]
        note("events: %s" % ", ".join("%s(%s)" % s if s[1] else s[0] for s in seq))
        want = [("on_publish", "rtmp"), ("on_play", "rtmp"), ("on_play", "http-flv"), ("on_stop", "rtmp"),
                ("on_stop", "http-flv"), ("on_unpublish", "rtmp")]
        self.assertEqual([x for x in seq if x[0] != "on_record"], want)
        # on_record and on_unpublish go out at about the same moment on connections of
        # their own, in no fixed order; on_record is after everything before the end.
        if ("on_record", None) in seq:  # its own subtest fails when it is missing
            self.assertGreater(seq.index(("on_record", None)), seq.index(("on_stop", "http-flv")))
        closing = [b for b in hooks.bodies() if b["event"] in ("on_stop", "on_unpublish")]
        self.assertEqual(sorted(b["client_id"] for b in closing), sorted(admitted))
        self.assertEqual(metric(srv, "sluice_hook_failures_total"), 0, "a 403 is an answer, not a failure")
        self.assertEqual([b for b in hooks.bodies() if b.get("protocol") == "hls"], [], "hooks for HLS")
        note("hook events: %.1f s" % (time.monotonic() - t0))


class HookHang(HookCase):
    """A held on_publish request, with fail_open false and true."""

    def live_stream_and_player(self):
        """A live stream and an HTTP-FLV player with frames flowing."""
        self.publish_live("cam")
        reader = self.start_flv_reader(name="cam")
        self.wait_until(lambda: reader.video_frames >= 25, 10, "frames at the first player")
        return reader

    def hang_publish(self, name):
        """Starts a publisher whose on_publish the service holds; returns it and the
        wall-clock time its hook request arrived."""
        pub = self.spawn_ffmpeg(harness.publisher_args(self.server.rtmp_url(name), 60), "publisher-" + name)
        ev = self.wait_event("on_publish", stream="live/" + name)
        return pub, ev["t"]

    def check_nobody_stalls(self, reader, hung_at):
        """While the hook hangs: no gap at the running player, and a new player of the
        stream (on_play answered at once) gets its first frame at once."""
        srv = self.server
        time.sleep(0.3)
        late = harness.HttpFlvReader(srv.http_port, srv.flv_path("cam"), max_seconds=10)
        late.start()
        self.addCleanup(late.stop)
        self.wait_until(lambda: late.first_video_time is not None, 5, "the new player's first frame")
        first = late.first_video_time - late.connect_time
        first_wall = time.time() - (time.monotonic() - late.first_video_time)
        # The window: from the hook's arrival to its timeout and a bit after.
        while time.time() < hung_at + HOOK_TIMEOUT_MS / 1000 + 0.5:
            time.sleep(0.05)
        mono_hung = time.monotonic() - (time.time() - hung_at)
        arrivals = [t.arrival for t in list(reader.tags)
                    if t.type == 9 and t.kind == "frame" and mono_hung <= t.arrival]
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
        span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0
        note("during the hang: %d frames in %.2f s at the running player, largest gap %.0f ms; "
             "new player's first frame after %.0f ms" % (len(arrivals), span, 1000 * max(gaps or [0]), 1000 * first))
        self.assertGreaterEqual(len(arrivals), int(25 * 1.8 * 0.8), "frames at the running player")
        self.assertLess(max(gaps), 0.4, "a gap at the running player while a hook hung")
        self.assertLess(first, 1.0, "the new player waited")
        self.assertLess(first_wall, hung_at + HOOK_TIMEOUT_MS / 1000, "the new player started only after the hang")
        self.assertEqual(len(self.hooks.bodies("on_play")), 2, "on_play of both players")

    def test_fail_closed(self):
        srv = self.start({"hooks": {"fail_open": False}},
                         events=("on_publish", "on_play", "on_unpublish", "on_stop"))
        reader = self.live_stream_and_player()
        pub, hung_at = self.hang_publish("hang1")
        self.check_nobody_stalls(reader, hung_at)
        rc = pub.wait(5)
        self.assertNotIn(rc, (None, 0), "publisher not refused: " + pub.describe())
        line = log_line(srv, r"on_publish live/hang1: the hook service failed \(hooks.fail_open is false\)")
        self.assertIsNotNone(line, srv.log_tail())
        delay = log_time(line) - hung_at
        note("fail_open false: refused %.2f s after the hook request (timeout_ms %d)" % (delay, HOOK_TIMEOUT_MS))
        self.assertGreaterEqual(delay, HOOK_TIMEOUT_MS / 1000 - 0.1)
        self.assertLess(delay, HOOK_TIMEOUT_MS / 1000 + 0.6)
        self.assertIn("the hook service failed", pub.stderr_text())
        self.assertNotIn("stream live/hang1 created", srv.log_text())
        self.assertEqual(metric(srv, "sluice_hook_failures_total"), 1)
        self.assertIsNone(reader.end, "the running player ended")

    def test_fail_open_and_shutdown(self):
        srv = self.start({"hooks": {"fail_open": True}},
                         events=("on_publish", "on_play", "on_unpublish", "on_stop"))
        reader = self.live_stream_and_player()
        pub, hung_at = self.hang_publish("hang2")
        self.check_nobody_stalls(reader, hung_at)
        self.assertTrue(srv.wait_log("stream live/hang2 created", 3), srv.log_tail())
        delay = log_time(log_line(srv, "stream live/hang2 created")) - hung_at
        note("fail_open true: let in %.2f s after the hook request (timeout_ms %d)" % (delay, HOOK_TIMEOUT_MS))
        self.assertGreaterEqual(delay, HOOK_TIMEOUT_MS / 1000 - 0.1)
        self.assertLess(delay, HOOK_TIMEOUT_MS / 1000 + 0.6)
        self.assertIsNotNone(log_line(srv, r"on_publish live/hang2: hook failed, allowed \(hooks.fail_open\)"))
        self.assertIsNone(pub.poll(), "the publisher let in ended: " + pub.describe())
        self.assertEqual(metric(srv, "sluice_hook_failures_total"), 1)

        # Shutdown with a held request in flight: sluice waits for it (at most
        # timeout_ms), and the on_unpublish events of the shutdown go out.
        _, held_at = self.hang_publish("hang3")
        t0 = time.time()
        took = srv.stop()
        left = held_at + HOOK_TIMEOUT_MS / 1000 - t0
        note("SIGTERM with a hook request in flight (%.2f s of its timeout left): exit after %.2f s"
             % (left, took))
        self.assertGreater(took, left - 0.3, "sluice did not wait for the hook request in flight")
        self.assertLess(took, left + 1.0, "sluice waited past hooks.timeout_ms")
        for name in ("cam", "hang2"):
            self.assertIsNotNone(self.hooks.find("on_unpublish", stream="live/" + name),
                                 "no on_unpublish for live/%s at shutdown" % name)
        stops = [b for b in self.hooks.bodies("on_stop") if b["protocol"] == "http-flv"]
        self.assertEqual(len(stops), 2, "on_stop of both HTTP-FLV players at shutdown")


if __name__ == "__main__":
    unittest.main()
