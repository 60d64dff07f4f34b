"""What sluice's WebRTC end-to-end tests share: a private network namespace, and WHIP/WHEP
clients in headless Chromium (tests/browser/webrtc.mjs) and in werift, a pure-node
WebRTC stack (tests/browser/werift_client.mjs).

Why a namespace: Chromium and werift skip loopback candidates by default and otherwise
pair over the machine's own interface address, which tests may not use. In a new network
namespace with `lo` up, 127.0.0.1 is the only address: every pair is 127.0.0.1 <->
127.0.0.1 and nothing can leave. A test file enters one by ending with

    if __name__ == "__main__":
        webrtc.main()

which runs the same command line again under `unshare --net --pid --fork --kill-child
--mount-proc` (with `--map-root-user` when not root), brings `lo` up and runs unittest
there; the exit code passes through. A small init of ours (this file, --init) is PID 1
of the new PID namespace: it reaps orphans and, when the test process exits or unshare
is killed by ctest's timeout, its end makes the kernel kill everything left inside
(sluice, Chromium, ffmpeg). Where unshare is not permitted the tests skip with the
reason (and fail under CI). Under `python3 -m unittest` main() never runs: the tests
skip and say to run the file itself.

A test:

    class WhipToWhep(webrtc.WebRtcTestCase):       # server with webrtc enabled
        def test_it(self):
            pub = self.whip_publish("live/cam", 20, data_message="hi {n}")
            pub.wait_connected(15)
            m = self.whep_play("live/cam", 6)      # blocks; returns the result dict
            self.assertGreater(m["video"]["framesDecoded"], 100)
            p = pub.stop()                         # SIGTERM: measure, DELETE, result

Results (dicts, from the scripts' last JSON line, `"event": "result"`):
- Chromium (whip_publish/whep_*): status, location, responseHeaders, offerSdp, answerSdp,
  postMs, deleteStatus; states [{ms, connection, ice}]; video and audio: the inbound
  (WHEP) or outbound (WHIP) RTP stats of getStats() (framesDecoded, frameWidth,
  frameHeight, keyFramesDecoded, packetsReceived, freezeCount, nackCount, pliCount,
  decoderImplementation / framesEncoded, packetsSent, encoderImplementation;
  audio packetsReceived, totalSamplesReceived, audioLevel, totalAudioEnergy,
  concealedSamples) each with codec (mimeType), fmtp, payloadType; pair (the selected
  candidate pair, dtlsState, srtpCipher); data {label, openMs, sent, received,
  messages (first 20), firstMessageMs}; tracks; timeline [[ms, frames, video packets,
  audio packets, audio samples, audio energy, audio level]] every sampleMs (page ms;
  clockMs is the wall clock in ms at page ms 0, to line them up with time.time());
  audioLevelMax, the loudest sampled audioLevel; timeToConnectedMs,
  timeToFirstFrameMs (first frame presented in a <video>), timeToFirstDecodedMs, all
  from the answer being applied; launchMs; errors, consoleErrors.
- werift (werift_whip/werift_whep): status, location, ..., deleteStatus, states, data
  as above; WHEP: video/audio {packets, bytes, firstMs, lastMs, markers, timestamps,
  ssrcs, payloadTypes, seqGaps (any jump), late (reordered), duplicates, missing
  (never arrived), firstNalTypes, firstKeyMs, keyFrames, nalTypeCounts};
  rtcp {sr, rr, pli, fir, remb, nack, twcc}; negotiated codecs. WHIP: sent {video,
  audio} RTP packets (ffmpeg's testsrc2 H.264 + Opus), rtcp received (PLI, NACK, RR).

`python3 tests/e2e/webrtc.py --selfcheck` proves all of this works without sluice:
Chromium and werift each talk to themselves over 127.0.0.1 in the namespace, and both
clients run against a WHIP/WHEP stand-in built on Chromium (webrtc.mjs mock).
"""

import atexit
import calendar
import ctypes
import fcntl
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import harness
from harness import HOST, note

BROWSER_DIR = harness.REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
NETNS_ENV = "SLUICE_E2E_NETNS"            # the outer namespace's id, set by the re-exec
NETNS_PROBLEM_ENV = "SLUICE_E2E_NETNS_PROBLEM"
TAG_ENV = "SLUICE_E2E_TAG"                # marks every process a client starts
# The scripts bound themselves at SECONDS + 30 s; ours is the backstop.
RUN_SLACK_S = 45


def under_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


# ---------------------------------------------------------------- the namespace

def _netns_id():
    return os.readlink("/proc/self/ns/net")


def in_private_netns():
    """Whether this process runs in the namespace enter_netns() made."""
    outer = os.environ.get(NETNS_ENV)
    return bool(outer) and outer != _netns_id()


def interfaces():
    return sorted(name for _, name in socket.if_nameindex())


def _set_lo_up():
    """`ip link set lo up` without iproute2: SIOCGIFFLAGS / SIOCSIFFLAGS on `lo`."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, siocgifflags, ifreq))[1]
        if not flags & iff_up:
            fcntl.ioctl(s, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def unshare_args():
    args = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        args.insert(1, "--map-root-user")
    return args


def netns_problem():
    """None inside the namespace, else why the tests cannot run in one."""
    if in_private_netns():
        return None
    return os.environ.get(NETNS_PROBLEM_ENV) or (
        "not in a private network namespace: run the test file itself "
        "(python3 tests/e2e/FILE.py), which enters one with unshare")


def _init(cmd):
    """The PID namespace's init: runs `cmd`, reaps every orphan (Chromium's helpers end
    up here when their driver is killed), passes SIGTERM/SIGHUP on, and returns `cmd`'s
    exit code. Its own exit ends the namespace and all left inside. SIGINT from a
    terminal reaches `cmd` directly (same process group): ignored here."""
    child = subprocess.Popen(cmd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: child.send_signal(signum))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == child.pid:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def _die_with_parent():
    """prctl(PR_SET_PDEATHSIG, SIGKILL), in the child between fork and exec."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def enter_netns():
    """Inside the namespace: brings `lo` up and returns True. Outside: runs this
    process's command line again in a new one and exits with its exit code (does not
    return), or, if unshare is not permitted, records why in the environment
    (netns_problem()) and returns False."""
    if in_private_netns():
        _set_lo_up()
        return True
    if os.environ.get(NETNS_ENV):
        os.environ[NETNS_PROBLEM_ENV] = "unshare ran but the network namespace is the old one"
        return False
    if shutil.which("unshare") is None:
        os.environ[NETNS_PROBLEM_ENV] = "unshare (util-linux) not found"
        return False
    probe = harness.run(unshare_args() + ["true"], timeout=10)
    if probe.returncode != 0:
        os.environ[NETNS_PROBLEM_ENV] = "unshare not permitted here (%s): %s" % (
            " ".join(unshare_args()), probe.stderr.strip()[-300:])
        return False
    env = dict(os.environ, **{NETNS_ENV: _netns_id()})
    sys.stdout.flush()
    sys.stderr.flush()
    args = unshare_args() + ["--", sys.executable, os.path.abspath(__file__), "--init", "--",
                             sys.executable] + sys.orig_argv[1:]
    # unshare blocks SIGTERM while its child runs; SIGKILL makes --kill-child end the
    # namespace: on our SIGTERM, and (PDEATHSIG) when we are killed ourselves. SIGINT
    # from a terminal reaches the test inside (same process group).
    p = subprocess.Popen(args, env=env, preexec_fn=_die_with_parent)
    signal.signal(signal.SIGTERM, lambda signum, frame: p.kill())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rc = p.wait()
    sys.exit(rc if rc >= 0 else 128 - rc)


def main():
    """A WebRTC test file's entry point: unittest.main() inside the namespace."""
    enter_netns()
    unittest.main()


# ---------------------------------------------------------------- tools and ports

def missing_tools(werift=True, ffmpeg=True):
    """What a WebRTC test needs and is not installed (empty: all there)."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("chromium (%s)" % CHROMIUM)
    if shutil.which("node") is None:
        missing.append("node")
    if ffmpeg and shutil.which("ffmpeg") is None:
        missing.append("ffmpeg")
    for mod in ("playwright-core",) + (("werift",) if werift else ()):
        if not (BROWSER_DIR / "node_modules" / mod / "package.json").is_file():
            missing.append("tests/browser/node_modules/%s (npm ci in tests/browser)" % mod)
    return missing


def free_udp_port():
    """A loopback UDP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def endpoint(http_port, key, kind):
    """http://127.0.0.1:PORT/APP/NAME/whip (kind 'whip') or .../whep."""
    return "http://%s:%d/%s/%s" % (HOST, http_port, key.strip("/"), kind)


# ---------------------------------------------------------------- client processes

def kill_tagged(tag):
    """SIGKILLs every process whose environment carries TAG_ENV=tag: a client and all it
    started, also what left its process group (playwright starts Chromium in a group of
    its own) or was re-parented."""
    needle = ("%s=%s" % (TAG_ENV, tag)).encode()
    for _ in range(3):
        hit = False
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % d, "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            if needle in env:
                hit = True
                try:
                    os.kill(int(d), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not hit:
            return
        time.sleep(0.05)


_live = set()
_names = itertools.count(1)


@atexit.register
def _kill_all():
    for c in list(_live):
        c.kill()


def _camel(opts):
    """Python keyword names (video_codec) to the scripts' option names (videoCodec);
    None values are left out."""
    out = {}
    for k, v in opts.items():
        if v is None:
            continue
        head, *rest = k.split("_")
        out[head + "".join(w[:1].upper() + w[1:] for w in rest)] = v
    return out


class Client(harness.Proc):
    """One run of webrtc.mjs or werift_client.mjs. Its stdout (NAME.out) is JSON lines:
    events as they happen, last the result. Killed (with everything it started) on
    kill(), at interpreter exit, and by the test's cleanup when started from a
    WebRtcTestCase."""

    def __init__(self, script, mode, args, seconds, opts, workdir, name):
        self.tag = uuid.uuid4().hex
        self.seconds = seconds
        # Chromium's profile and singleton socket go to TMPDIR: a short path of its own,
        # as a unix socket path longer than 107 bytes aborts Chromium (the test's
        # scratch dir is named after the test and can be long).
        self.tmpdir = tempfile.mkdtemp(prefix="slwr-")
        env = dict(os.environ, TMPDIR=self.tmpdir, **{TAG_ENV: self.tag})
        argv = ["node", BROWSER_DIR / script, mode] + [str(a) for a in args]
        if opts:
            argv.append(json.dumps(_camel(opts)))
        super().__init__(argv, workdir, "%s-%d" % (name, next(_names)), env=env)
        _live.add(self)

    def events(self, name=None, **match):
        """The events printed so far (optionally only `name`, with fields equal to
        `match`), in order."""
        try:
            text = self.out_path.read_text("utf-8", "replace")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line being written
            if name is not None and e.get("event") != name:
                continue
            if all(e.get(k) == v for k, v in match.items()):
                out.append(e)
        return out

    def wait_event(self, name, timeout, **match):
        """The first event `name` with fields equal to `match`; AssertionError if the
        client exits or `timeout` s pass first."""
        deadline = time.monotonic() + timeout
        while True:
            hits = self.events(name, **match)
            if hits:
                return hits[0]
            if self.poll() is not None:
                hits = self.events(name, **match)
                if hits:
                    return hits[0]
                raise AssertionError("%s exited before event %s %s\n%s" % (
                    self.name, name, match, self.describe()))
            if time.monotonic() > deadline:
                raise AssertionError("no event %s %s from %s within %.1f s; last events %s" % (
                    name, match, self.name, timeout, self.events()[-5:]))
            time.sleep(0.05)

    def wait_connected(self, timeout=15):
        """Waits for connectionState 'connected' (DTLS up); returns that event."""
        return self.wait_event("connection", timeout, connection="connected")

    def result(self, timeout=None):
        """Waits for the client to finish (at most its time + RUN_SLACK_S) and returns
        its result dict, with "exitCode"."""
        bound = timeout if timeout is not None else self.seconds + RUN_SLACK_S
        rc = self.wait(bound)
        if rc is None:
            self.signal(signal.SIGTERM)
            rc = self.wait(10)
            if rc is None:
                self.kill()
                raise AssertionError("%s did not finish within %d s\n%s" % (
                    self.name, bound, self.describe()))
        results = self.events("result")
        if not results:
            raise AssertionError("%s printed no result (rc=%s)\n%s" % (
                self.name, rc, self.describe()))
        res = results[-1]
        res["exitCode"] = rc
        self.kill()  # a Chromium that outlived its driver, if any
        return res

    def stop(self, timeout=20):
        """Ends the client's time now (SIGTERM): it measures, DELETEs its session, closes
        and prints its result, which is returned."""
        self.signal(signal.SIGTERM)
        return self.result(timeout)

    def kill(self):
        kill_tagged(self.tag)
        super().kill()
        _live.discard(self)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _workdir(workdir):
    return workdir or tempfile.mkdtemp(prefix="sluice-webrtc-")


def whip_publish(http_port, key, seconds, data_message=None, token=None, workdir=None,
                 name="whip", **opts):
    """Chromium publishes its fake camera (640x360 at 25 fps) and mic over WHIP for
    `seconds` after the answer, then DELETEs the session. Options (see webrtc.mjs):
    video_codec ('H264' offers only H.264 packetization-mode 1), audio/video/
    data_channel False, width/height/fps, wait_ice, signal_from ('page': the page's
    own cross-origin fetch), delete False, sample_ms. Returns the running Client."""
    return Client("webrtc.mjs", "whip", [endpoint(http_port, key, "whip"), seconds], seconds,
                  dict(opts, data_message=data_message, token=token), _workdir(workdir), name)


def whep_start(http_port, key, seconds, token=None, workdir=None, name="whep", **opts):
    """Chromium plays over WHEP for `seconds` after the answer (options as whip_publish;
    data_message sends on the viewer's channel). Returns the running Client."""
    return Client("webrtc.mjs", "whep", [endpoint(http_port, key, "whep"), seconds], seconds,
                  dict(opts, token=token), _workdir(workdir), name)


def whep_play(http_port, key, seconds, token=None, workdir=None, name="whep", **opts):
    """whep_start(...).result(): the viewer's measurements (see the module doc)."""
    return whep_start(http_port, key, seconds, token, workdir, name, **opts).result()


def werift_whip(http_port, key, seconds, data_message=None, token=None, workdir=None,
                name="werift_whip", **opts):
    """werift publishes ffmpeg's testsrc2 640x360 25 fps (H.264 baseline, keyframe every
    2 s) and a 440 Hz sine (Opus) over WHIP; the media starts once connected. Options:
    size, fps, audio/video/data_channel False, video_codec, delete False. Returns the
    running Client."""
    return Client("werift_client.mjs", "whip", [endpoint(http_port, key, "whip"), seconds],
                  seconds, dict(opts, data_message=data_message, token=token),
                  _workdir(workdir), name)


def werift_whep_start(http_port, key, seconds, token=None, workdir=None, name="werift_whep",
                      **opts):
    """werift plays over WHEP and counts RTP per kind. Options: video_codec ('H264'
    default, 'H265'), dump_video (a path: the received video as Annex B, for ffprobe),
    pli_at_ms, audio/video/data_channel False, data_message, delete False."""
    return Client("werift_client.mjs", "whep", [endpoint(http_port, key, "whep"), seconds],
                  seconds, dict(opts, token=token), _workdir(workdir), name)


def werift_whep(http_port, key, seconds, token=None, workdir=None, name="werift_whep", **opts):
    """werift_whep_start(...).result()."""
    return werift_whep_start(http_port, key, seconds, token, workdir, name, **opts).result()


def http_call(port, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP/1.1 request to 127.0.0.1:PORT (body: str or bytes, sent with its
    Content-Length): (status, headers with lower-case keys (repeated ones joined with
    ", "), body text). A refused or dropped connection raises."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                     headers=dict(headers or {}))
        r = conn.getresponse()
        hdrs = {}
        for k, v in r.getheaders():
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        return r.status, hdrs, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def post_offer(port, key, kind, sdp, content_type="application/sdp", headers=None):
    """POSTs `sdp` to /KEY/whip or /KEY/whep: (status, headers, body)."""
    h = {"Content-Type": content_type} if content_type else {}
    h.update(headers or {})
    return http_call(port, "POST", "/%s/%s" % (key.strip("/"), kind), sdp, h)


def session_of(location):
    """The session id at the end of a WHIP/WHEP Location."""
    return (location or "").rstrip("/").rsplit("/", 1)[-1]


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z")


def log_time(line):
    """The wall clock (seconds since the epoch) of a sluice log line, or None."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    return calendar.timegm(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) + \
        int(m.group(1)[20:]) / 1000.0


def session_lines(server, session_id):
    """The log lines of the WebRTC session `session_id`: its "session ID" line (the
    HTTP answer) and every other line of the same client id. Returns (client id or None,
    lines)."""
    text = server.log_text()
    m = re.search(r"client (\d+) webrtc \S+ (?:WHIP|WHEP) \S+: session %s\b"
                  % re.escape(session_id), text)
    if not m:
        return None, []
    cid = m.group(1)
    return cid, [ln for ln in text.splitlines() if ("client %s " % cid) in ln]


def session_udp_addr(server, session_id):
    """(IPv4 address, port) the session's ICE selected (its "connected after" log line,
    which names it as [::ffff:a.b.c.d]:port on a dual-stack socket), or None."""
    _, lines = session_lines(server, session_id)
    for ln in lines:
        m = re.search(r"webrtc \[?(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)\]?:(\d+) (?:WHIP|WHEP) "
                      r"\S+: connected after", ln)
        if m:
            return m.group(1), int(m.group(2))
    return None


def timeline_at(res, wall_s, column=1):
    """A Chromium result's timeline value in `column` (1 frames, 2 video packets,
    3 audio packets, 4 audio samples, 5 audio energy) at wall-clock time `wall_s`
    (time.time()): the last sample taken at or before it (0 if none)."""
    page_ms = wall_s * 1000.0 - res.get("clockMs", 0)
    val = 0
    for row in res.get("timeline") or []:
        if row[0] > page_ms:
            break
        val = row[column] if column < len(row) else 0
    return val


def describe(res):
    """One line of a result's main numbers, for note()."""
    v, a, d = res.get("video") or {}, res.get("audio") or {}, res.get("data") or {}
    states = "->".join(s.get("connection", "?") for s in res.get("states", []))
    if res.get("client") == "werift":
        media = "video %s pkts %s key (first %s ms), audio %s pkts, sent %s, rtcp %s" % (
            v.get("packets"), v.get("keyFrames"), v.get("firstMs"), a.get("packets"),
            res.get("sent"), {k: n for k, n in (res.get("rtcp") or {}).items() if n})
    else:
        media = "video %s %sx%s %s frames (%s), audio %s pkts %s samples level %s" % (
            v.get("codec"), v.get("frameWidth"), v.get("frameHeight"),
            v.get("framesDecoded", v.get("framesEncoded")),
            v.get("decoderImplementation") or v.get("encoderImplementation"),
            a.get("packetsReceived", a.get("packetsSent")), a.get("totalSamplesReceived"),
            a.get("audioLevel"))
    return ("%s %s: HTTP %s (%s ms), DELETE %s, %s, connected +%s ms, first frame +%s ms, "
            "%s, data sent %s received %s, launch %s ms, errors %s" % (
                res.get("client", "chromium"), res.get("role"), res.get("status"),
                res.get("postMs"), res.get("deleteStatus"), states,
                res.get("timeToConnectedMs", res.get("connectedMs")),
                res.get("timeToFirstFrameMs"), media, d.get("sent"), d.get("received"),
                res.get("launchMs"), (res.get("errors") or []) + (res.get("consoleErrors") or [])))


# ---------------------------------------------------------------- the test case

class WebRtcTestCase(harness.E2ETestCase):
    """A server with WebRTC on a free UDP port, advertising 127.0.0.1, inside the private
    namespace (skipped outside, failed under CI). A class's `config` may add to or
    override the webrtc section. Clients started through the methods are killed on
    cleanup, before the server stops."""

    NEEDS_WERIFT = True

    def setUp(self):
        problems = list(missing_tools(werift=self.NEEDS_WERIFT))
        if netns_problem():
            problems.append(netns_problem())
        if problems and under_ci():
            self.fail("CI is set but WebRTC tests cannot run: " + "; ".join(problems))
        if problems:
            raise unittest.SkipTest("; ".join(problems))
        self.udp_port = free_udp_port()
        self.config = harness.deep_merge(
            {"webrtc": {"enabled": True, "udp_port": self.udp_port, "candidates": HOST}},
            type(self).config)
        super().setUp()

    def _client(self, client):
        self.addCleanup(client.kill)
        return client

    def whip_publish(self, key="live/cam", seconds=30, data_message=None, token=None,
                     server=None, **opts):
        srv = server or self.server
        return self._client(whip_publish(srv.http_port, key, seconds, data_message, token,
                                         self.workdir, **opts))

    def whep_start(self, key="live/cam", seconds=6, token=None, server=None, **opts):
        srv = server or self.server
        return self._client(whep_start(srv.http_port, key, seconds, token, self.workdir,
                                       **opts))

    def whep_play(self, key="live/cam", seconds=6, token=None, server=None, **opts):
        return self.whep_start(key, seconds, token, server, **opts).result()

    def werift_whip(self, key="live/cam", seconds=30, data_message=None, token=None,
                    server=None, **opts):
        srv = server or self.server
        return self._client(werift_whip(srv.http_port, key, seconds, data_message, token,
                                        self.workdir, **opts))

    def werift_whep_start(self, key="live/cam", seconds=6, token=None, server=None, **opts):
        srv = server or self.server
        return self._client(werift_whep_start(srv.http_port, key, seconds, token,
                                              self.workdir, **opts))

    def werift_whep(self, key="live/cam", seconds=6, token=None, server=None, **opts):
        return self.werift_whep_start(key, seconds, token, server, **opts).result()


# ---------------------------------------------------------------- the selfcheck

class _Checks:
    def __init__(self):
        self.failed = []

    def check(self, what, ok, detail=""):
        print("  [%s] %s%s" % ("ok" if ok else "FAIL", what, (": %s" % detail) if detail else ""),
              flush=True)
        if not ok:
            self.failed.append(what)


def _probe_h264(path):
    """(frames, width, height) of an Annex B H.264 file, by ffprobe."""
    res = harness.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                       "-show_entries", "stream=codec_name,width,height,nb_read_frames",
                       "-of", "json", str(path)], timeout=30)
    try:
        s = json.loads(res.stdout)["streams"][0]
        return int(s.get("nb_read_frames", 0)), s.get("width"), s.get("height")
    except (ValueError, KeyError, IndexError):
        return 0, None, None


def selfcheck():
    """Loopback WebRTC in the namespace, no sluice: exit 0 when everything works."""
    c = _Checks()
    t_all = time.monotonic()
    c.check("private network namespace", in_private_netns(), "%s, interfaces %s" % (
        _netns_id(), interfaces()) if in_private_netns() else netns_problem())
    c.check("only lo", interfaces() == ["lo"], str(interfaces()))
    missing = missing_tools()
    c.check("tools", not missing, ", ".join(missing))
    if c.failed:
        return 1
    work = tempfile.mkdtemp(prefix="sluice-webrtc-selfcheck-")

    # (a) Chromium: two peer connections in one page, H.264 + Opus + a data channel.
    t0 = time.monotonic()
    lb = Client("webrtc.mjs", "loopback", [4], 4, {"video_codec": "H264"}, work,
                "chromium-loopback").result()
    rx, tx = lb.get("receiver") or {}, lb.get("sender") or {}
    v, a, pair = rx.get("video") or {}, rx.get("audio") or {}, rx.get("pair") or {}
    note("chromium loopback (%.1f s): launch %s ms, page ready %s ms, connected +%s ms, "
         "first frame +%s ms, %s/%s %sx%s %s frames (encoder %s, decoder %s), audio %s "
         "samples, data %s msgs, pair %s <-> %s" % (
             time.monotonic() - t0, lb.get("launchMs"), lb.get("pageMs"),
             rx.get("timeToConnectedMs"), rx.get("timeToFirstFrameMs"),
             v.get("codec"), v.get("fmtp"), v.get("frameWidth"), v.get("frameHeight"),
             v.get("framesDecoded"), (tx.get("video") or {}).get("encoderImplementation"),
             v.get("decoderImplementation"), a.get("totalSamplesReceived"),
             (rx.get("data") or {}).get("received"), pair.get("local"), pair.get("remote")))
    c.check("chromium loopback decodes H.264", v.get("framesDecoded", 0) > 25
            and v.get("codec") == "video/H264"
            and (v.get("frameWidth"), v.get("frameHeight")) == (640, 360),
            "%s frames %s" % (v.get("framesDecoded"), v.get("codec")))
    c.check("chromium loopback audio", a.get("totalSamplesReceived", 0) > 48000,
            str(a.get("totalSamplesReceived")))
    c.check("chromium loopback data channel", (rx.get("data") or {}).get("received", 0) > 5)
    c.check("chromium pairs 127.0.0.1 with 127.0.0.1",
            str(pair.get("local", "")).startswith("127.0.0.1:")
            and str(pair.get("remote", "")).startswith("127.0.0.1:"), str(pair))
    c.check("chromium candidates are 127.0.0.1 only", all(
        " 127.0.0.1 " in x for x in lb.get("candidates", {}).get("a", []) +
        lb.get("candidates", {}).get("b", [])) and lb.get("candidates", {}).get("a"),
        str(lb.get("candidates")))

    # (b) werift: a WHIP-like sender (ffmpeg RTP) to an ICE-lite werift receiver.
    t0 = time.monotonic()
    wl = Client("werift_client.mjs", "loopback", [4], 4, None, work, "werift-loopback").result()
    wv, wa = wl.get("video") or {}, wl.get("audio") or {}
    note("werift loopback (%.1f s): connected +%s ms, video %s pkts %s keyframes first NALs %s, "
         "audio %s pkts, data %s msgs, candidates %s" % (
             time.monotonic() - t0, wl.get("connectedMs"), wv.get("packets"),
             wv.get("keyFrames"), wv.get("firstNalTypes"), wa.get("packets"),
             (wl.get("liteData") or {}).get("received"), wl.get("answerCandidates")))
    c.check("werift to ICE-lite werift over 127.0.0.1", wv.get("packets", 0) > 100
            and wv.get("keyFrames", 0) >= 1 and wa.get("packets", 0) > 100
            and (wl.get("liteData") or {}).get("received", 0) > 5, str(wl.get("errors")))

    # (c) the clients against a WHIP/WHEP stand-in (a Chromium page relaying WHIP to WHEP).
    mock = Client("webrtc.mjs", "mock", [0], 120, None, work, "mock")
    port = mock.wait_event("ready", 20)["port"]
    t0 = time.monotonic()
    pub = whip_publish(port, "live/cam", 30, data_message="hello {n}", token="s3cret",
                       workdir=work, video_codec="H264")
    connected = pub.wait_connected(20)
    note("chromium WHIP publisher connected %.2f s after start (%s)" % (
        time.monotonic() - t0, connected))
    ww = werift_whep_start(port, "live/cam", 5, workdir=work,
                           dump_video=os.path.join(work, "werift.h264"))
    m = whep_play(port, "live/cam", 5, workdir=work, video_codec="H264")
    note(describe(m))
    mv = m.get("video") or {}
    c.check("chromium WHEP plays the chromium WHIP publish", m.get("status") == 201
            and mv.get("framesDecoded", 0) > 50 and mv.get("codec") == "video/H264"
            and m.get("deleteStatus") == 200, describe(m))
    c.check("chromium WHEP audio", (m.get("audio") or {}).get("totalSamplesReceived", 0) > 48000)
    c.check("chromium WHEP data channel relayed", any(
        x.startswith("hello ") for x in (m.get("data") or {}).get("messages", [])),
        str((m.get("data") or {}).get("messages", [])[:3]))
    w = ww.result()
    note(describe(w))
    frames, width, height = _probe_h264(os.path.join(work, "werift.h264"))
    c.check("werift WHEP receives H.264 + Opus + data", w.get("status") == 201
            and (w.get("video") or {}).get("packets", 0) > 100
            and (w.get("audio") or {}).get("packets", 0) > 100
            and (w.get("data") or {}).get("received", 0) > 5, describe(w))
    c.check("werift WHEP video decodes (ffprobe)", frames > 50 and width == 640,
            "%s frames %sx%s" % (frames, width, height))
    page = whep_play(port, "live/cam", 2, workdir=work, signal_from="page")
    c.check("chromium WHEP with the page's own cross-origin fetch",
            page.get("status") == 201 and (page.get("video") or {}).get("framesDecoded", 0) > 0,
            describe(page))
    p = pub.stop()
    note(describe(p))
    c.check("chromium WHIP publisher", p.get("status") == 201
            and (p.get("video") or {}).get("framesEncoded", 0) > 100
            and str(p.get("location", "")).startswith("/live/cam/whip/")
            and p.get("deleteStatus") == 200 and (p.get("data") or {}).get("sent", 0) > 5,
            describe(p))
    auth = [e.get("authorization") for e in mock.events("request", method="POST")
            if e.get("path") == "/live/cam/whip"]
    c.check("bearer token sent", auth == ["Bearer s3cret"], str(auth))

    wpub = werift_whip(port, "live/werift", 30, data_message="w {n}", workdir=work)
    wpub.wait_connected(20)
    m2 = whep_play(port, "live/werift", 5, workdir=work)
    note(describe(m2))
    c.check("chromium WHEP plays the werift WHIP publish (ffmpeg H.264 decoded by Chromium)",
            (m2.get("video") or {}).get("framesDecoded", 0) > 50
            and any(x.startswith("w ") for x in (m2.get("data") or {}).get("messages", [])),
            describe(m2))
    wp = wpub.stop()
    note(describe(wp))
    c.check("werift WHIP publisher", wp.get("status") == 201
            and (wp.get("sent") or {}).get("video", 0) > 100 and wp.get("deleteStatus") == 200,
            describe(wp))
    mock.stop()
    note("selfcheck took %.1f s" % (time.monotonic() - t_all))
    if c.failed:
        print("FAILED: %s (kept %s)" % (", ".join(c.failed), work), flush=True)
        return 1
    if os.environ.get("SLUICE_E2E_KEEP"):
        print("  [e2e] kept %s" % work, flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("selfcheck passed", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:3] == ["--init", "--"] and len(sys.argv) > 3:
        sys.exit(_init(sys.argv[3:]))
    if sys.argv[1:] != ["--selfcheck"]:
        sys.stderr.write("usage: python3 tests/e2e/webrtc.py --selfcheck\n")
        sys.exit(2)
    enter_netns()
    sys.exit(selfcheck())
