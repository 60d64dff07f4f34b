"""Static push (relay.push, docs/relay.md): server A republishes what it receives, over
RTMP, to another sluice (B) and to nginx-rtmp, whatever protocol brought the stream in.

Checked from the outside: B and nginx play the stream to ffmpeg (codecs, size, decoded
frames); B's API shows an RTMP publisher whose address is A's own side of the push
connection (from /proc); A's API shows each push as an RTMP player whose address is its
target. A target that is down is retried with doubling waits (read from A's log
timestamps), a target that accepts and never answers is given up after 10 s, a target
killed mid-stream is reconnected once it is back on its port, and the push ends with
the stream.

nginx with libnginx-mod-rtmp is needed for the nginx case: without it that test is
skipped, and fails under CI (env CI set).
"""

import os
import re
import shutil
import socket
import threading
import time
import unittest
from datetime import datetime, timezone

import harness
from harness import HOST, note
from test_api import Api, local_ports

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

RETRY_MAX_MS = 4000
READY_TIMEOUT_S = 10.0  # push.c: no NetStream.Publish.Start in this time, start over
END_BOUND_S = 5.0
RECORD_S = 5

LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (\w+)\s+(.*)$")


def under_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def log_time(stamp):
    """A sluice log timestamp (UTC, ms) as seconds since the epoch."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def log_lines(srv, needle):
    """(epoch seconds, message) of every log line of `srv` containing `needle`."""
    out = []
    for line in srv.log_text().splitlines():
        m = LOG_LINE.match(line)
        if m and needle in m.group(3):
            out.append((log_time(m.group(1)), m.group(3)))
    return out


def retries(srv, key, target):
    """[(epoch seconds, reason, retry number, wait ms)] of the push key -> target."""
    prefix = "relay push %s -> %s: " % (key, target)
    out = []
    for t, msg in log_lines(srv, prefix):
        m = re.match(re.escape(prefix) + r"(.*); retry (\d+) in (\d+) ms$", msg)
        if m:
            out.append((t, m.group(1), int(m.group(2)), int(m.group(3))))
    return out


def rtsp_publisher_args(url, seconds, opus=False):
    """The harness's publisher, sent over RTSP (TCP) instead of RTMP; with `opus`, its
    audio in Opus at 48 kHz (as a WebRTC publisher's) instead of AAC."""
    args = harness.publisher_args("unused", seconds)[:-3]
    if opus:
        args = ["libopus" if a == "aac" else a.replace("sample_rate=44100", "sample_rate=48000")
                for a in args]
    return args + ["-f", "rtsp", "-rtsp_transport", "tcp", url]


class SilentTarget(threading.Thread):
    """A TCP listener that accepts and never says a word: an RTMP server that hangs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append((time.time(), conn))

    def stop(self):
        self._halt.set()
        self.join(5)
        for _, c in self.accepted:
            c.close()
        self.sock.close()


class Nginx:
    """nginx-rtmp on a free loopback port, one process, everything in its own dir."""

    CONF = """load_module %(module)s;
daemon off;
master_process off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
events { worker_connections 64; }
rtmp {
    server {
        listen %(host)s:%(port)d;
        chunk_size 4096;
        application live {
            live on;
            wait_key on;
            wait_video on;
        }
    }
}
"""

    def __init__(self, test):
        self.dir = test.workdir / "nginx"
        self.dir.mkdir()
        self.port = harness.free_ports(1)[0]
        conf = self.dir / "nginx.conf"
        conf.write_text(self.CONF % {"module": NGINX_RTMP_MODULE, "dir": self.dir, "host": HOST,
                                     "port": self.port})
        self.proc = test.spawn([NGINX, "-p", self.dir, "-e", self.dir / "error.log", "-c", conf],
                               "nginx")
        deadline = time.monotonic() + harness.READY_BOUND_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited: " + self.proc.describe()
                                     + self.error_log()[-1500:])
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not accept on %d\n%s"
                                         % (self.port, self.error_log()[-1500:]))
                time.sleep(0.05)

    def error_log(self):
        try:
            return (self.dir / "error.log").read_text("utf-8", "replace")
        except OSError:
            return ""

    def rtmp_url(self, name="cam", app="live"):
        return "rtmp://%s:%d/%s/%s" % (HOST, self.port, app, name)


class RelayPushCase(harness.E2ETestCase):
    """Servers of their own (scratch subdirectories a, b, ...), none started by setUp."""

    start_server = False

    def sluice(self, name, config=None, like=None, start=True):
        """A sluice in workdir/NAME; `like`: on the same ports and config as that one."""
        d = self.workdir / name
        d.mkdir()
        srv = harness.Server(d, like.config if like is not None else config)
        if like is not None:
            for attr in ("rtmp_port", "http_port", "rtsp_port", "api_port", "webrtc_port",
                         "rtsp_udp_min"):
                setattr(srv, attr, getattr(like, attr))
        srv.killed = False
        self.servers.append(srv)
        self.addCleanup(srv.kill)
        if start:
            self.start_sluice(srv)
        return srv

    def start_sluice(self, srv):
        srv.start()
        self.addCleanup(self._stop_sluice, srv)
        Api(srv.api_port).wait_listening()
        return srv

    def _stop_sluice(self, srv):
        if not srv.killed:
            self._stop_server(srv)
            return
        report = srv.sanitizer_report()
        if report:
            raise AssertionError("sanitizer report in the killed server's log:\n" + report)

    def kill_sluice(self, srv):
        """SIGKILL, as a crash would: its connections drop without a word."""
        srv.killed = True
        srv.kill()
        srv.popen.wait(5)

    def target(self, srv_or_port, app="live"):
        port = srv_or_port if isinstance(srv_or_port, int) else srv_or_port.rtmp_port
        return "rtmp://%s:%d/%s" % (HOST, port, app)

    def pusher(self, targets, name="a"):
        return self.sluice(name, {"relay": {"push": ["live/* " + " ".join(targets)],
                                            "retry_max_ms": RETRY_MAX_MS}})

    def start_record(self, url, name, seconds=RECORD_S):
        """ffmpeg copying `seconds` of `url` to NAME.flv in the background."""
        path = self.workdir / (name + ".flv")
        proc = self.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                           "-rw_timeout", "10000000", "-i", url, "-t", str(seconds), "-map", "0",
                           "-c", "copy", "-copyinkf", "-f", "flv", path], name)
        return proc, path

    def finish_record(self, rec, label, min_video=100, min_audio=170):
        proc, path = rec
        rc = proc.wait(RECORD_S + 20)
        self.assertEqual(rc, 0, "%s: recording failed: %s" % (label, proc.describe()))
        self.assert_av_file(path, min_video=min_video, min_audio=min_audio, label=label)

    def wait_log(self, srv, needle, timeout, what=None, count=1):
        if not srv.wait_log(needle, timeout, count):
            self.fail("%s: no %r in the log within %.0f s\n%s"
                      % (what or "server", needle, timeout, srv.log_tail(40)))

    def assert_pushed_publisher(self, a, b, key="live/cam"):
        """B's stream has an RTMP publisher at A's end of A's connection to B."""
        ports = local_ports(a.pid, b.rtmp_port)
        self.assertEqual(len(ports), 1, "A's connections to B: %s" % ports)
        st = Api(b.api_port).json("GET", "/api/v1/streams/" + key)
        pub = st["publisher"]
        self.assertIsNotNone(pub, st)
        self.assertEqual((pub["protocol"], pub["role"], pub["stream"]), ("rtmp", "publisher", key))
        self.assertEqual(pub["remote_address"], "%s:%d" % (HOST, ports.pop()))
        # Without the codec configs B's players cannot decode a thing.
        self.assertIsNotNone(st["video"], "B's stream has no video config: %s" % st)
        self.assertIsNotNone(st["audio"], "B's stream has no audio config: %s" % st)
        self.assertEqual((st["video"]["codec"], st["video"]["width"], st["video"]["height"]),
                         ("h264", 640, 360))
        self.assertEqual((st["audio"]["codec"], st["audio"]["sample_rate"], st["audio"]["channels"]),
                         ("aac", 44100, 2))
        return st

    def push_clients(self, a, key="live/cam"):
        """A's clients for the stream other than its publisher: the pushes."""
        clients = Api(a.api_port).json("GET", "/api/v1/clients")["clients"]
        return {c["remote_address"]: c for c in clients
                if c["stream"] == key and c["role"] != "publisher"}

    def assert_push_ends(self, a, b, target, key="live/cam"):
        """After the publisher left: A stops the push, B frees the stream."""
        self.wait_log(a, "relay push %s -> %s: stopped: the stream ended" % (key, target),
                      END_BOUND_S, "A")
        self.wait_log(b, "stream %s freed" % key, END_BOUND_S, "B")
        st, _, _ = Api(b.api_port).call("GET", "/api/v1/streams/" + key)
        self.assertEqual(st, 404)
        self.assertEqual(self.push_clients(a, key), {})


class PushToSluiceAndNginx(RelayPushCase):

    def setUp(self):
        missing = [p for p in (NGINX, NGINX_RTMP_MODULE) if not os.path.exists(p)]
        if missing and under_ci():
            self.fail("CI is set but nginx-rtmp is missing: " + ", ".join(missing))
        if missing:
            raise unittest.SkipTest("nginx-rtmp missing (apt install nginx libnginx-mod-rtmp): "
                                    + ", ".join(missing))
        super().setUp()

    def test_rtmp_in_pushed_to_sluice_nginx_and_a_silent_target(self):
        b = self.sluice("b")
        ng = Nginx(self)
        silent = SilentTarget()
        silent.start()
        self.addCleanup(silent.stop)
        to_b, to_ng, to_silent = self.target(b), self.target(ng.port), self.target(silent.port)
        a = self.pusher([to_b, to_ng, to_silent])

        pub = self.publish(server=a, seconds=60)
        self.wait_published(pub, server=a)
        for t in (to_b, to_ng, to_silent):
            self.wait_log(a, "relay push live/cam -> %s: starting" % t, 2, "A")
        self.wait_log(a, "relay push live/cam -> %s: publishing" % to_b, 5, "A")
        self.wait_log(a, "relay push live/cam -> %s: publishing" % to_ng, 5, "A")
        self.wait_log(b, "stream live/cam created", 5, "B")

        recs = [(self.start_record(b.rtmp_url(), "b-rtmp"), "B over RTMP"),
                (self.start_record(b.flv_url(), "b-flv"), "B over HTTP-FLV"),
                (self.start_record(ng.rtmp_url(), "nginx-rtmp"), "nginx over RTMP")]

        # A: each push an RTMP player of the stream at its target's address; the one
        # still waiting for the silent target an idle RTMP client.
        clients = Api(a.api_port).json("GET", "/api/v1/clients")["clients"]
        by_addr = {c["remote_address"]: c for c in clients}
        for port in (b.rtmp_port, ng.port):
            c = by_addr.get("%s:%d" % (HOST, port))
            self.assertIsNotNone(c, "no push to port %d among A's clients: %s" % (port, clients))
            self.assertEqual((c["protocol"], c["role"], c["stream"]), ("rtmp", "player", "live/cam"), c)
            self.assertGreater(c["bytes_out"], 10000, c)
        c = by_addr.get("%s:%d" % (HOST, silent.port))
        self.assertIsNotNone(c, "no push to the silent target among A's clients: %s" % clients)
        self.assertEqual((c["protocol"], c["role"], c["stream"]), ("rtmp", "idle", None), c)
        a_stream = Api(a.api_port).json("GET", "/api/v1/streams/live/cam")
        self.assertEqual((a_stream["subscribers"]["total"], a_stream["subscribers"]["rtmp"]), (2, 2))
        pushes = self.push_clients(a)
        st = self.assert_pushed_publisher(a, b)
        note("B: stream %s from %s, %d frames in; A's pushes: %s" % (
            st["key"], st["publisher"]["remote_address"], st["frames_in"],
            ", ".join("%s %s %d B out" % (addr, c["role"], c["bytes_out"])
                      for addr, c in sorted(pushes.items()))))

        for rec, label in recs:
            self.finish_record(rec, label)

        # The silent target got a TCP connection and, 10 s later, was given up on.
        starting = log_lines(a, "relay push live/cam -> %s: starting" % to_silent)[0][0]
        self.wait_log(a, "relay push live/cam -> %s: no NetStream.Publish.Start in time; "
                      "retry 1 in 1000 ms" % to_silent,
                      READY_TIMEOUT_S + 3 - (time.time() - starting), "A")
        gave_up = retries(a, "live/cam", to_silent)[0][0]
        note("silent target: accepted %d connection(s), given up %.2f s after the push started"
             % (len(silent.accepted), gave_up - starting))
        self.assertGreaterEqual(len(silent.accepted), 1)
        self.assertGreaterEqual(gave_up - starting, READY_TIMEOUT_S - 0.05)
        self.assertLess(gave_up - starting, READY_TIMEOUT_S + 1.0)
        # The other two never faltered meanwhile.
        self.assertEqual(retries(a, "live/cam", to_b), [])
        self.assertEqual(retries(a, "live/cam", to_ng), [])

        pub.kill()
        self.assert_push_ends(a, b, to_b)
        self.wait_log(a, "relay push live/cam -> %s: stopped: the stream ended" % to_ng,
                      END_BOUND_S, "A")
        self.wait_log(a, "relay push live/cam -> %s: stopped: the stream ended" % to_silent,
                      END_BOUND_S, "A")


class PushFromRtsp(RelayPushCase):

    def test_rtsp_in_pushed_over_rtmp(self):
        b = self.sluice("b")
        to_b = self.target(b)
        a = self.pusher([to_b])
        pub = self.spawn_ffmpeg(rtsp_publisher_args(a.rtsp_url(), 60), "rtsp-publisher")
        self.wait_published(pub, server=a)
        self.wait_log(a, "relay push live/cam -> %s: publishing" % to_b, 5, "A")
        self.wait_log(b, "stream live/cam created", 5, "B")
        rec = self.start_record(b.rtmp_url(), "b-rtmp")
        a_stream = Api(a.api_port).json("GET", "/api/v1/streams/live/cam")
        self.assertEqual(a_stream["publisher"]["protocol"], "rtsp")
        self.assert_pushed_publisher(a, b)
        self.finish_record(rec, "RTSP into A, RTMP out of B")

        # Kicked through A's API, the push stops for good; the stream on A goes on.
        push = self.push_clients(a)["%s:%d" % (HOST, b.rtmp_port)]
        self.assertEqual(Api(a.api_port).json("DELETE", "/api/v1/clients/%d" % push["id"]),
                         {"kicked": push["id"]})
        self.wait_log(a, "relay push live/cam -> %s: stopped: kicked through the API" % to_b,
                      END_BOUND_S, "A")
        self.wait_log(b, "stream live/cam freed", END_BOUND_S, "B")
        time.sleep(1.5)  # longer than the first retry wait: nothing comes back
        self.assertEqual(retries(a, "live/cam", to_b), [])
        self.assertEqual(b.log_text().count("stream live/cam created"), 1)
        self.assertEqual(self.push_clients(a), {})
        self.assertEqual(Api(a.api_port).json("GET", "/api/v1/streams/live/cam")["publisher"]["protocol"],
                         "rtsp")

    # FLV cannot carry Opus (WHIP's audio, often RTSP's): the push wants AAC, and A's
    # transcoder makes it of the Opus (the Opus itself stays out).
    def test_rtsp_h264_opus_pushes_the_video_and_aac(self):
        b = self.sluice("b")
        to_b = self.target(b)
        a = self.pusher([to_b])
        pub = self.spawn_ffmpeg(rtsp_publisher_args(a.rtsp_url(), 60, opus=True), "rtsp-publisher")
        self.wait_published(pub, server=a)
        self.assertEqual(Api(a.api_port).json("GET", "/api/v1/streams/live/cam")["audio"]["codec"],
                         "opus")
        self.wait_log(a, "relay push live/cam -> %s: publishing" % to_b, 5, "A")
        self.wait_log(a, "transcode live/cam: opus -> aac", 5, "A")
        self.wait_log(b, "stream live/cam created", 5, "B")
        reader = self.start_flv_reader(server=b, max_seconds=30)
        time.sleep(4)
        st = Api(b.api_port).json("GET", "/api/v1/streams/live/cam")
        pushed = self.push_clients(a)["%s:%d" % (HOST, b.rtmp_port)]
        vol = harness.mean_volume(b.flv_url(), seconds=3)
        note("H.264 + Opus in over RTSP: B got %d frames (video %s, audio %s), its player %d video "
             "/ %d audio frames in 4 s, mean_volume %s dB; A's push wrote %d bytes"
             % (st["frames_in"], st["video"], st["audio"], reader.video_frames, reader.audio_frames,
                vol, pushed["bytes_out"]))
        self.assertIsNotNone(st["video"], st)
        self.assertEqual((st["video"]["codec"], st["video"]["width"], st["video"]["height"]),
                         ("h264", 640, 360))
        self.assertIsNotNone(st["audio"], st)
        self.assertEqual((st["audio"]["codec"], st["audio"]["sample_rate"], st["audio"]["channels"]),
                         ("aac", 48000, 2))
        self.assertGreaterEqual(reader.video_frames, 75, "B's player got too few video frames")
        # 46.875 AAC frames a second at 48 kHz; the transcoded track starts at the live edge.
        self.assertGreaterEqual(reader.audio_frames, 120, "B's player got too few audio frames")
        self.assertIsNotNone(vol, "volumedetect printed no mean_volume")
        self.assertGreater(vol, -60.0, "B's audio is silent")
        pub.kill()
        self.assert_push_ends(a, b, to_b)


class PushRetries(RelayPushCase):

    def test_backoff_until_the_target_is_up_and_after_it_dies(self):
        b = self.sluice("b", start=False)
        to_b = self.target(b)
        a = self.pusher([to_b])
        pub = self.publish(server=a, seconds=60)
        self.wait_published(pub, server=a)

        # B is not there: refused, waits of 1, 2, 4 s (retry_max_ms), each kept.
        self.wait_until(lambda: len(retries(a, "live/cam", to_b)) >= 3, 10,
                        "three retries of the push to the absent B")
        tries = retries(a, "live/cam", to_b)
        self.assertEqual([(n, ms) for _, _, n, ms in tries[:3]], [(1, 1000), (2, 2000), (3, 4000)])
        for _, why, _, _ in tries[:3]:
            self.assertEqual(why, "connection refused")
        gaps = [t1[0] - t0[0] for t0, t1 in zip(tries, tries[1:3])]
        note("B absent: retries %s; waits between failures %s s"
             % ([ms for _, _, _, ms in tries[:3]], ["%.2f" % g for g in gaps]))
        for gap, want in zip(gaps, (1.0, 2.0)):
            self.assertGreaterEqual(gap, want - 0.05)
            self.assertLess(gap, want + 0.5)

        # B comes up: the push reaches it at the next attempt, within the 4 s wait.
        self.start_sluice(b)
        up, up_mono = time.time(), time.monotonic()
        self.wait_log(a, "relay push live/cam -> %s: publishing" % to_b, RETRY_MAX_MS / 1000 + 3,
                      "A")
        self.wait_log(b, "stream live/cam created", 3, "B")
        created = log_lines(b, "stream live/cam created")[0][0]
        publishing = log_lines(a, "relay push live/cam -> %s: publishing" % to_b)[0][0]
        reader = self.start_flv_reader(server=b, max_seconds=30)
        self.wait_until(lambda: reader.video_frames >= 50, 8, "50 frames from B over HTTP-FLV")
        first = reader.first_video_frame()
        note("B up: the 4 s wait ended %.2f s after B accepted, publishing %.3f s later; stream "
             "created on B %.2f s and its first video frame at a player %.2f s after B accepted "
             "(a keyframe: %s); %d video frames in %.1f s"
             % (tries[2][0] + 4.0 - up, publishing - (tries[2][0] + 4.0), created - up,
                reader.first_video_time - up_mono, first.key, reader.video_frames,
                time.monotonic() - reader.connect_time))
        self.assertLess(created - up, RETRY_MAX_MS / 1000 + 1.5)
        self.assertTrue(first.key, "B's first video frame is not a keyframe")
        self.assertEqual(reader.status, 200)
        self.assert_pushed_publisher(a, b)
        reader.stop()

        # B dies mid-stream: A retries from 1 s again and reaches B back on its port.
        n_before = len(retries(a, "live/cam", to_b))
        killed = time.time()
        self.kill_sluice(b)
        self.wait_until(lambda: len(retries(a, "live/cam", to_b)) >= n_before + 2, 6,
                        "two retries after B was killed")
        after = retries(a, "live/cam", to_b)[n_before:]
        note("B killed: A noticed after %.2f s (%s); then %s"
             % (after[0][0] - killed, after[0][1],
                ", ".join("retry %d in %d ms (%s)" % (n, ms, why) for _, why, n, ms in after)))
        self.assertLess(after[0][0] - killed, 2.0)
        self.assertEqual([(n, ms) for _, _, n, ms in after[:2]],
                         [(n_before + 1, 1000), (n_before + 2, 2000)])
        self.assertEqual(after[1][1], "connection refused")

        b2 = self.sluice("b2", like=b)
        up2 = time.time()
        self.wait_log(a, "relay push live/cam -> %s: publishing" % to_b, RETRY_MAX_MS / 1000 + 3,
                      "A", count=2)
        self.wait_log(b2, "stream live/cam created", 3, "B restarted")
        created2 = log_lines(b2, "stream live/cam created")[0][0]
        reader2 = self.start_flv_reader(server=b2, max_seconds=30)
        self.wait_until(lambda: reader2.video_frames >= 50, 8,
                        "50 frames from the restarted B over HTTP-FLV")
        note("B restarted on port %d: stream created %.2f s after it accepted; %d retries in all"
             % (b2.rtmp_port, created2 - up2, len(retries(a, "live/cam", to_b))))
        self.assertTrue(reader2.first_video_frame().key)
        self.assert_pushed_publisher(a, b2)

        # The publisher leaves: the push stops, B's stream and its player end.
        pub.kill()
        self.assert_push_ends(a, b2, to_b)
        reader2.join(END_BOUND_S)
        self.assertEqual(reader2.end, "terminator", "B's HTTP-FLV player did not end cleanly")


if __name__ == "__main__":
    unittest.main()
