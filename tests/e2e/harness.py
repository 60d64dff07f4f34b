"""Plumbing shared by sluice's end-to-end tests (Python 3 standard library only).

A test starts the real sluice binary (env SLUICE_BIN, default build/sluice) on free
loopback ports with a config written from a dict, drives it with ffmpeg/ffprobe,
rtmpdump and raw sockets, and stops it with SIGTERM, asserting a clean exit and a log
free of sanitizer reports. Every child process runs in its own process group with a
hard timeout and is SIGKILLed on cleanup, also when the test fails: a live player never
exits by itself.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SLUICE_BIN = os.environ.get("SLUICE_BIN") or str(REPO / "build" / "sluice")
HOST = "127.0.0.1"

ASAN_OPTIONS = "detect_leaks=1:abort_on_error=0:halt_on_error=1"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

STOP_BOUND_S = 5.0  # SIGTERM to exit; the contract says 2 s, ASan's leak check needs slack
READY_BOUND_S = 10.0


def sanitizer_env(extra=None):
    """The environment for sluice: sanitizers halt on the first report, leaks checked."""
    env = dict(os.environ, ASAN_OPTIONS=ASAN_OPTIONS, UBSAN_OPTIONS=UBSAN_OPTIONS)
    env.update(extra or {})
    return env


def note(msg):
    """One compact line of measured numbers, visible in `ctest -V`."""
    print("  [e2e] " + msg, flush=True)


# ---------------------------------------------------------------- ports and config

def free_ports(n):
    """n distinct loopback ports that were free a moment ago (all held until all known)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_udp_port():
    """A loopback UDP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid YAML double-quoted scalar
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(x) for x in v) + "]"
    raise TypeError("cannot write %r as YAML" % (v,))


def to_yaml(d, indent=0):
    """Block-style YAML for nested dicts of scalars and flat lists."""
    lines = []
    for k, v in d.items():
        pad = " " * indent
        if isinstance(v, dict) and v:
            lines.append("%s%s:" % (pad, k))
            lines.append(to_yaml(v, indent + 2))
        elif isinstance(v, dict):
            lines.append("%s%s: {}" % (pad, k))
        else:
            lines.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    return "\n".join(lines)


def deep_merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------- processes

def _killpg(popen, sig=signal.SIGKILL):
    try:
        os.killpg(popen.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Result:
    def __init__(self, args, returncode, stdout, stderr, elapsed, timed_out):
        self.args, self.returncode = args, returncode
        self.stdout, self.stderr = stdout, stderr
        self.elapsed, self.timed_out = elapsed, timed_out

    def __repr__(self):
        return "<%s rc=%s %.1fs%s>\n%s" % (
            " ".join(self.args)[:200], self.returncode, self.elapsed,
            " TIMED OUT" if self.timed_out else "", self.stderr[-1500:])


def run(args, timeout, env=None):
    """Runs a command to completion or SIGKILLs its process group at `timeout` s."""
    args = [str(a) for a in args]
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True, env=env)
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _killpg(p)
        out, err = p.communicate()
    return Result(args, p.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), time.monotonic() - t0, timed_out)


class Proc:
    """A background process in its own process group, its output in files."""

    def __init__(self, args, workdir, name, env=None, stdout=None):
        self.args = [str(a) for a in args]
        self.name = name
        self.out_path = Path(workdir) / (name + ".out")
        self.err_path = Path(workdir) / (name + ".err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else out, stderr=err,
                start_new_session=True, env=env)
        self.started = time.monotonic()
        self.ended = None

    @property
    def pid(self):
        return self.popen.pid

    def poll(self):
        rc = self.popen.poll()
        if rc is not None and self.ended is None:
            self.ended = time.monotonic()
        return rc

    def wait(self, timeout):
        """The exit code, or None if still running after `timeout` s."""
        try:
            rc = self.popen.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None
        if self.ended is None:
            self.ended = time.monotonic()
        return rc

    def signal(self, sig):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def kill(self):
        """SIGKILLs the whole group; safe to call any number of times."""
        _killpg(self.popen)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.popen.stdout:
            self.popen.stdout.close()
        self.poll()

    def stderr_text(self):
        try:
            return self.err_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def describe(self):
        return "%s (rc=%s): %s\n%s" % (self.name, self.popen.poll(), " ".join(self.args)[:300],
                                       self.stderr_text()[-1500:])


def read_progress(path):
    """The last `frame=` and whether `progress=end` was seen in an ffmpeg -progress file."""
    try:
        text = Path(path).read_text("utf-8", "replace")
    except OSError:
        return 0, False
    frames = re.findall(r"^frame=\s*(\d+)", text, re.M)
    return (int(frames[-1]) if frames else 0), ("progress=end" in text)


class FfmpegProc(Proc):
    """An ffmpeg with -progress to a file, so its frame count can be read while it runs."""

    def __init__(self, args, workdir, name):
        self.progress_path = Path(workdir) / (name + ".progress")
        args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                "-progress", str(self.progress_path), "-stats_period", "0.5"] + list(args)
        super().__init__(args, workdir, name)

    def frames(self):
        return read_progress(self.progress_path)[0]


def publisher_args(url, seconds, size="640x360", video_opts=()):
    return ["-re", "-f", "lavfi", "-i", "testsrc2=size=%s:rate=25" % size,
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50",
            "-pix_fmt", "yuv420p"] + list(video_opts) + [
            "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-f", "flv", url]


def player_args(url, seconds):
    """Reads `url` for `seconds` of stream time without decoding (stream copy to null)."""
    return ["-rw_timeout", "10000000", "-i", url, "-t", str(seconds), "-map", "0",
            "-c", "copy", "-copyinkf", "-f", "null", "-"]


def record(url, seconds, out_path, timeout=None):
    """Copies `seconds` of a live stream, untouched (initial non-keyframes too), to FLV."""
    return run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                "-rw_timeout", "10000000", "-i", url, "-t", str(seconds), "-map", "0",
                "-c", "copy", "-copyinkf", "-f", "flv", str(out_path)],
               timeout=timeout or seconds + 20)


def ffprobe_json(target, args, timeout=30):
    res = run(["ffprobe", "-v", "error", "-of", "json"] + list(args) + [str(target)], timeout)
    if res.returncode != 0 or res.timed_out:
        raise AssertionError("ffprobe failed: %r" % res)
    return json.loads(res.stdout or "{}")


def probe_file(path):
    """Streams and every decoded frame of a media file."""
    return ffprobe_json(path, ["-show_entries",
                               "stream=index,codec_type,codec_name,profile,width,height,"
                               "sample_rate,channels:frame=media_type,key_frame,pts,pict_type"])


def mean_volume(target, seconds=None, timeout=30):
    """volumedetect's mean_volume in dB of `target` (a file or URL), or None."""
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-rw_timeout", "10000000", "-i", str(target)]
    if seconds:
        args += ["-t", str(seconds)]
    res = run(args + ["-vn", "-af", "volumedetect", "-f", "null", "-"], timeout)
    m = re.search(r"mean_volume:\s*(-?[\d.]+|-inf) dB", res.stderr)
    if not m:
        return None
    return float("-inf") if m.group(1) == "-inf" else float(m.group(1))


def parse_compact(line):
    """`frame|media_type=video|key_frame=1|...` -> ('frame', {...}); first key wins."""
    parts = line.rstrip("\n").split("|")
    kv = {}
    for p in parts[1:]:
        k, sep, v = p.partition("=")
        if sep and k not in kv:
            kv[k] = v
    return parts[0], kv


# ---------------------------------------------------------------- sockets, HTTP, FLV

def wait_closed(sock, timeout):
    """Reads and discards until the peer closes. Returns ('eof'|'reset', seconds, bytes)
    or (None, seconds, bytes) if it is still open after `timeout` s."""
    t0 = time.monotonic()
    got = 0
    sock.settimeout(0.2)
    while time.monotonic() - t0 < timeout:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return "reset", time.monotonic() - t0, got
        if not data:
            return "eof", time.monotonic() - t0, got
        got += len(data)
    return None, time.monotonic() - t0, got


def http_request(port, path, timeout=5.0, extra_headers=""):
    """A one-shot GET; returns (status, headers dict (lower-case keys), body prefix)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n%sConnection: close\r\n\r\n"
                   % (path, HOST, port, extra_headers)).encode())
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return parse_response_head(buf)


def parse_response_head(buf):
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
    status = int(m.group(1)) if m else None
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    return status, headers, body


class ChunkedDecoder:
    """Incremental HTTP/1.1 chunked transfer decoding; `done` once "0\\r\\n\\r\\n" is seen."""

    def __init__(self):
        self.buf = bytearray()
        self.state = "size"
        self.remaining = 0
        self.done = False

    def feed(self, data):
        self.buf += data
        out = bytearray()
        buf = self.buf
        while not self.done:
            if self.state == "size":
                i = buf.find(b"\r\n")
                if i < 0:
                    if len(buf) > 1024:
                        raise ValueError("chunk size line too long")
                    break
                size = int(bytes(buf[:i]).split(b";")[0].strip(), 16)
                del buf[:i + 2]
                self.state, self.remaining = ("trailer", 0) if size == 0 else ("data", size)
            elif self.state == "data":
                take = min(self.remaining, len(buf))
                if take == 0:
                    break
                out += buf[:take]
                del buf[:take]
                self.remaining -= take
                if self.remaining == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(buf) < 2:
                    break
                if bytes(buf[:2]) != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                del buf[:2]
                self.state = "size"
            else:  # trailer section: header lines up to an empty line
                i = buf.find(b"\r\n")
                if i < 0:
                    break
                empty = i == 0
                del buf[:i + 2]
                if empty:
                    self.done = True
        return bytes(out)


FLV_AV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"


class FlvTag:
    __slots__ = ("type", "ts", "size", "kind", "key", "nal_types", "arrival")

    def __repr__(self):
        return "<tag %d %s ts=%d key=%s size=%d nal=%s>" % (
            self.type, self.kind, self.ts, self.key, self.size, self.nal_types)


def _nal_types(avcc):
    """NAL unit types of a 4-byte length-prefixed (AVCC) access unit."""
    types, off = [], 0
    while off + 5 <= len(avcc) and len(types) < 64:
        n = int.from_bytes(avcc[off:off + 4], "big")
        types.append(avcc[off + 4] & 0x1F)
        off += 4 + n
    return types


class FlvParser:
    """Incremental FLV: the 13-byte file header, then tags classified as
    video 'config'/'frame' (AVC), audio 'config'/'frame' (AAC), 'script' or 'other'."""

    def __init__(self):
        self.buf = bytearray()
        self.header = None

    def feed(self, data):
        self.buf += data
        buf = self.buf
        if self.header is None:
            if len(buf) < 13:
                return []
            self.header = bytes(buf[:13])
            del buf[:13]
        tags = []
        while len(buf) >= 11:
            size = int.from_bytes(buf[1:4], "big")
            total = 11 + size + 4
            if len(buf) < total:
                break
            tag = FlvTag()
            tag.type = buf[0] & 0x1F
            tag.ts = int.from_bytes(buf[4:7], "big") | (buf[7] << 24)
            tag.size = size
            tag.key, tag.kind, tag.nal_types = False, "other", []
            body = buf[11:11 + size]
            if tag.type == 9 and size >= 5 and body[0] & 0x0F == 7:
                tag.key = (body[0] >> 4) == 1
                tag.kind = {0: "config", 1: "frame"}.get(body[1], "other")
                if tag.kind == "frame":
                    tag.nal_types = _nal_types(bytes(body[5:]))
            elif tag.type == 8 and size >= 2 and body[0] >> 4 == 10:
                tag.kind = {0: "config", 1: "frame"}.get(body[1], "other")
            elif tag.type == 18:
                tag.kind = "script"
            prev = int.from_bytes(buf[11 + size:total], "big")
            if prev != 11 + size:
                raise ValueError("FLV previous-tag-size %d, expected %d" % (prev, 11 + size))
            tags.append(tag)
            del buf[:total]
        return tags


class HttpFlvReader(threading.Thread):
    """Plays http://127.0.0.1:PORT/PATH in a thread: checks nothing, records everything.

    status/headers: the response head; flv_header: the first 13 body bytes; tags: every
    FlvTag with its arrival time; video_frames/audio_frames: counters of media frames;
    end: 'terminator' (the "0\\r\\n\\r\\n" chunk), 'eof', 'reset', 'stopped', 'timeout' or
    'error: ...'. Runs at most `max_seconds`.
    """

    def __init__(self, port, path, max_seconds=60.0, rcvbuf=None):
        super().__init__(daemon=True)
        self.port, self.path, self.max_seconds, self.rcvbuf = port, path, max_seconds, rcvbuf
        self.status, self.headers, self.flv_header = None, {}, None
        self.tags = []
        self.video_frames = self.audio_frames = 0
        self.connect_time = self.first_video_time = None
        self.end = None
        self.bytes = 0
        self._halt = threading.Event()

    def stop(self, timeout=5.0):
        self._halt.set()
        self.join(timeout)

    def video_frames_between(self, t0, t1):
        return sum(1 for t in list(self.tags)
                   if t.type == 9 and t.kind == "frame" and t0 <= t.arrival < t1)

    def first_video_frame(self):
        for t in list(self.tags):
            if t.type == 9 and t.kind == "frame":
                return t
        return None

    def run(self):
        try:
            self.end = self._run()
        except (ConnectionResetError, BrokenPipeError):
            self.end = "reset"
        except Exception as e:  # recorded for the test to assert on, never swallowed
            self.end = "error: %r" % (e,)

    def _run(self):
        s = socket.socket()
        try:
            if self.rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            s.settimeout(0.2)
            self.connect_time = time.monotonic()
            s.connect((HOST, self.port))
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: sluice-e2e\r\n\r\n"
                       % (self.path, HOST, self.port)).encode())
            deadline = self.connect_time + self.max_seconds
            head = b""
            dechunk, flv = None, FlvParser()
            while time.monotonic() < deadline:
                if self._halt.is_set():
                    return "stopped"
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return "eof"
                self.bytes += len(data)
                if self.status is None:
                    head += data
                    if b"\r\n\r\n" not in head:
                        continue
                    self.status, self.headers, data = parse_response_head(head)
                    if self.status != 200:
                        return "status"
                    if "chunked" in self.headers.get("transfer-encoding", "").lower():
                        dechunk = ChunkedDecoder()
                if dechunk is not None:
                    data = dechunk.feed(data)
                if data:
                    now = time.monotonic()
                    for tag in flv.feed(data):
                        tag.arrival = now
                        self.tags.append(tag)
                        if tag.kind == "frame" and tag.type == 9:
                            self.video_frames += 1
                            if self.first_video_time is None:
                                self.first_video_time = now
                        elif tag.kind == "frame" and tag.type == 8:
                            self.audio_frames += 1
                    if self.flv_header is None and flv.header is not None:
                        self.flv_header = flv.header
                if dechunk is not None and dechunk.done:
                    return "terminator"
            return "timeout"
        finally:
            s.close()


# ---------------------------------------------------------------- the server

BASE_CONFIG = {
    "log_level": "info",
    "rtmp": {"enabled": True, "chunk_size": 4096},
    "http": {"enabled": True, "cors_origin": "*"},
}


class Server:
    """One sluice process with its own config and log in `workdir`."""

    def __init__(self, workdir, config=None, env_extra=None):
        self.workdir = Path(workdir)
        self.rtmp_port, self.http_port, self.rtsp_port, self.api_port = free_ports(4)
        self.webrtc_port = free_udp_port()
        # RTP/RTCP pairs for RTSP over UDP: 100 ports of their own per server, below the
        # ephemeral range the clients' own UDP ports come from.
        self.rtsp_udp_min = 10000 + (self.rtsp_port % 220) * 100
        cfg = deep_merge(BASE_CONFIG, {
            "rtmp": {"listen": ["%s:%d" % (HOST, self.rtmp_port)]},
            "http": {"listen": ["%s:%d" % (HOST, self.http_port)]},
            "rtsp": {"listen": ["%s:%d" % (HOST, self.rtsp_port)],
                     "udp_port_range": "%d-%d" % (self.rtsp_udp_min, self.rtsp_udp_min + 99)},
            "api": {"listen": ["%s:%d" % (HOST, self.api_port)]},
            "webrtc": {"udp_port": self.webrtc_port, "candidates": HOST}})
        self.config = deep_merge(cfg, config or {})
        self.config_path = self.workdir / "sluice.yaml"
        self.config_path.write_text(to_yaml(self.config) + "\n")
        self.log_path = self.workdir / "sluice.log"
        self.env = sanitizer_env(env_extra)
        self.popen = None
        self.exit = None  # (returncode, seconds) once stopped

    def start(self):
        if not os.access(SLUICE_BIN, os.X_OK):
            raise AssertionError("sluice binary not found at %s (build it or set SLUICE_BIN)"
                                 % SLUICE_BIN)
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen([SLUICE_BIN, "-c", str(self.config_path)],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          start_new_session=True, env=self.env)
        deadline = time.monotonic() + READY_BOUND_S
        ports = [self.rtmp_port, self.http_port]
        if self.config.get("api", {}).get("enabled", True):
            ports.append(self.api_port)
        if self.config["rtsp"].get("enabled", True):
            ports.append(self.rtsp_port)
        for port in ports:
            while True:
                self.assert_alive()
                try:
                    socket.create_connection((HOST, port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.kill()
                        raise AssertionError("sluice did not accept on port %d within %.0f s\n%s"
                                             % (port, READY_BOUND_S, self.log_tail()))
                    time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.popen.pid

    def rtmp_url(self, name="cam", app="live"):
        return "rtmp://%s:%d/%s/%s" % (HOST, self.rtmp_port, app, name)

    def rtsp_url(self, name="cam", app="live"):
        return "rtsp://%s:%d/%s/%s" % (HOST, self.rtsp_port, app, name)

    def flv_path(self, name="cam", app="live"):
        return "/%s/%s.flv" % (app, name)

    def flv_url(self, name="cam", app="live"):
        return "http://%s:%d%s" % (HOST, self.http_port, self.flv_path(name, app))

    def hls_path(self, name="cam", app="live", file="index.m3u8"):
        return "/%s/%s/%s" % (app, name, file)

    def hls_url(self, name="cam", app="live", file="index.m3u8"):
        return "http://%s:%d%s" % (HOST, self.http_port, self.hls_path(name, app, file))

    def log_text(self):
        try:
            return self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=25):
        return "---- sluice log tail (%s) ----\n%s" % (
            self.log_path, "\n".join(self.log_text().splitlines()[-n:]))

    def sanitizer_report(self):
        text = self.log_text()
        hits = [text.find(m) for m in SANITIZER_MARKERS if m in text]
        if not hits:
            return None
        start = text.rfind("\n", 0, min(hits)) + 1
        return "\n".join(text[start:].splitlines()[:60])

    def wait_log(self, needle, timeout, count=1):
        """True once `needle` occurs `count` times in the log, within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            if self.log_text().count(needle) >= count:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def assert_alive(self):
        rc = self.popen.poll()
        if rc is not None:
            raise AssertionError("sluice exited unexpectedly with %s\n%s%s" % (
                rc, self.sanitizer_report() or "", self.log_tail()))
        report = self.sanitizer_report()
        if report:
            raise AssertionError("sanitizer report in sluice log:\n" + report)

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def kill(self):
        if self.popen is not None and self.popen.poll() is None:
            _killpg(self.popen)
            self.popen.wait(10)

    def stop(self, sig=signal.SIGTERM, bound=STOP_BOUND_S):
        """Sends `sig`, waits up to `bound` s, asserts exit code 0 and a clean log.
        Returns the seconds it took. Idempotent: a second call only re-checks."""
        if self.exit is None:
            t0 = time.monotonic()
            if self.popen.poll() is None:
                self.popen.send_signal(sig)
            try:
                rc = self.popen.wait(timeout=bound)
            except subprocess.TimeoutExpired:
                rc = None
                self.kill()
            self.exit = (rc, time.monotonic() - t0)
        rc, elapsed = self.exit
        report = self.sanitizer_report()
        if report:
            raise AssertionError("sanitizer report in sluice log:\n" + report)
        if rc is None:
            raise AssertionError("sluice did not exit within %.1f s of %s (SIGKILLed)\n%s"
                                 % (bound, signal.Signals(sig).name, self.log_tail()))
        if rc != 0:
            raise AssertionError("sluice exited %d after %s (%.2f s)\n%s"
                                 % (rc, signal.Signals(sig).name, elapsed, self.log_tail()))
        return elapsed


# ---------------------------------------------------------------- the test case

class E2ETestCase(unittest.TestCase):
    """Each test gets a scratch dir and (unless start_server is False) a running server
    built from BASE_CONFIG merged with the class's `config`. Cleanups run last-in first-out:
    players and publishers are killed, then the server is stopped and checked."""

    config = {}
    server_env = {}
    start_server = True

    def setUp(self):
        name = self.id().split(".")[-1]
        self.workdir = Path(tempfile.mkdtemp(prefix="sluice-e2e-%s-" % name))
        self.servers = []
        self.addCleanup(self._cleanup_workdir)
        if self.start_server:
            self.server = self.new_server(self.config, self.server_env)

    def new_server(self, config=None, env_extra=None):
        srv = Server(self.workdir, config, env_extra)
        self.servers.append(srv)
        self.addCleanup(srv.kill)
        srv.start()
        self.addCleanup(self._stop_server, srv)
        return srv

    def _stop_server(self, srv):
        elapsed = srv.stop()
        note("%s: server shutdown took %.2f s" % (self.id().split(".")[-1], elapsed))

    def _failed(self):
        """Whether this test (or one of its subtests) has failed so far. The outcome's
        `success` flag cannot tell: it is reset around each cleanup."""
        result = getattr(self._outcome, "result", None)
        for test, _ in (list(getattr(result, "failures", []))
                        + list(getattr(result, "errors", []))):
            if test is self or getattr(test, "test_case", None) is self:
                return True
        return False

    def _cleanup_workdir(self):
        failed = self._failed()
        if failed:
            for srv in self.servers:
                print(srv.log_tail(40), flush=True)
        if failed or os.environ.get("SLUICE_E2E_KEEP"):
            print("  [e2e] kept %s" % self.workdir, flush=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- processes, all killed on cleanup

    def spawn(self, args, name, **kw):
        p = Proc(args, self.workdir, name, **kw)
        self.addCleanup(p.kill)
        return p

    def spawn_ffmpeg(self, args, name):
        p = FfmpegProc(args, self.workdir, name)
        self.addCleanup(p.kill)
        return p

    def publish(self, name="cam", seconds=60, size="640x360", video_opts=(), server=None,
                proc_name="publisher"):
        srv = server or self.server
        return self.spawn_ffmpeg(publisher_args(srv.rtmp_url(name), seconds, size, video_opts),
                                 proc_name)

    def wait_published(self, pub, name="cam", server=None, count=1, min_frames=25, timeout=15):
        """Waits for `stream live/NAME created` (the count-th time) and for the publisher
        to have sent `min_frames` frames."""
        srv = server or self.server
        needle = "stream live/%s created" % name
        deadline = time.monotonic() + timeout
        while True:
            srv.assert_alive()
            if pub.poll() is not None:
                self.fail("publisher exited early: " + pub.describe() + "\n" + srv.log_tail())
            if srv.log_text().count(needle) >= count and pub.frames() >= min_frames:
                return
            if time.monotonic() > deadline:
                self.fail("stream not published within %d s (log line %r seen %d times, "
                          "publisher sent %d frames)\n%s" % (
                              timeout, needle, srv.log_text().count(needle), pub.frames(),
                              srv.log_tail()))
            time.sleep(0.1)

    def start_flv_reader(self, server=None, name="cam", max_seconds=60.0, rcvbuf=None):
        srv = server or self.server
        r = HttpFlvReader(srv.http_port, srv.flv_path(name), max_seconds, rcvbuf)
        r.start()
        self.addCleanup(r.stop)
        return r

    def wait_until(self, cond, timeout, what, interval=0.1):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(interval)

    # -- assertions shared by the play tests

    def assert_av_file(self, path, min_video=100, min_audio=170, label=""):
        """The recorded FLV holds h264 640x360 and aac 44100 Hz stereo, enough decoded
        frames, video pts strictly increasing and audible audio."""
        info = probe_file(path)
        streams = {s["codec_type"]: s for s in info.get("streams", [])}
        self.assertIn("video", streams, "no video stream in %s" % path)
        self.assertIn("audio", streams, "no audio stream in %s" % path)
        v, a = streams["video"], streams["audio"]
        self.assertEqual((v["codec_name"], v["width"], v["height"]), ("h264", 640, 360))
        self.assertEqual((a["codec_name"], int(a["sample_rate"]), a["channels"]),
                         ("aac", 44100, 2))
        frames = info.get("frames", [])
        vpts = [f["pts"] for f in frames if f["media_type"] == "video" and "pts" in f]
        na = sum(1 for f in frames if f["media_type"] == "audio")
        vol = mean_volume(path)
        note("%s: %d video frames, %d audio frames, mean_volume %s dB" % (
            label, len(vpts), na, vol))
        self.assertGreaterEqual(len(vpts), min_video, "too few video frames")
        self.assertGreaterEqual(na, min_audio, "too few audio frames")
        back = [(a_, b_) for a_, b_ in zip(vpts, vpts[1:]) if b_ <= a_]
        self.assertFalse(back, "video pts not strictly increasing: %s" % back[:5])
        self.assertIsNotNone(vol, "volumedetect printed no mean_volume")
        self.assertGreater(vol, -60.0, "audio is silent")


# ---------------------------------------------------------------- HLS: HTTP GET, playlists, MPEG-TS

def http_get(port, path, timeout=10.0):
    """A whole GET (Connection: close, `path` sent as is): (status, headers with lower-case
    keys, body, seconds until the response was complete). The body ends at Content-Length
    or at the server's close."""
    t0 = time.monotonic()
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                   % (path, HOST, port)).encode())
        buf = b""
        deadline = t0 + timeout
        status, headers, body = None, {}, b""
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            if status is None and b"\r\n\r\n" in buf:
                status, headers, body = parse_response_head(buf)
            elif status is not None:
                body += chunk
            if status is not None and "content-length" in headers \
                    and len(body) >= int(headers["content-length"]):
                break
    if status is None:
        status, headers, body = parse_response_head(buf)
    return status, headers, body, time.monotonic() - t0


def fetch_playlist(port, path, timeout=10.0):
    """GET of an .m3u8: (status, headers, Playlist or None unless 200, seconds)."""
    status, headers, body, elapsed = http_get(port, path, timeout)
    pl = Playlist(body.decode("utf-8", "replace")) if status == 200 else None
    return status, headers, pl, elapsed


class Playlist:
    """An HLS media playlist: header tags and, per segment, its duration, URI, whether a
    #EXT-X-DISCONTINUITY precedes it and its #EXT-X-PROGRAM-DATE-TIME (or None)."""

    def __init__(self, text):
        self.text = text
        self.lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        self.tags = {}
        self.segments = []
        pending = {"disc": False, "pdt": None, "dur": None}
        for ln in self.lines:
            if ln.startswith("#EXTINF:"):
                pending["dur"] = float(ln[8:].split(",")[0])
            elif ln == "#EXT-X-DISCONTINUITY":
                pending["disc"] = True
            elif ln.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                pending["pdt"] = ln.split(":", 1)[1]
            elif ln.startswith("#"):
                k, _, v = ln.partition(":")
                self.tags[k] = v
            else:
                self.segments.append(dict(pending, uri=ln))
                pending = {"disc": False, "pdt": None, "dur": None}

    def tag_int(self, name):
        return int(self.tags[name]) if name in self.tags else None

    @property
    def media_sequence(self):
        return self.tag_int("#EXT-X-MEDIA-SEQUENCE")

    @property
    def durations(self):
        return [s["dur"] for s in self.segments]


class TsReport:
    """What one MPEG-TS segment holds, checked packet by packet: `errors` lists every
    violation (size, sync byte, continuity, tables); pids in order of first appearance;
    the PMT's streams {pid: stream_type}; per PES stream its count and PTS list (90 kHz);
    for the first video PES its random_access_indicator and the NAL unit types of its
    Annex B payload."""

    def __init__(self, data):
        self.errors, self.pids, self.streams = [], [], {}
        self.pmt_pid = None
        self.pes_count, self.pts = {}, {}
        self.first_video_rai, self.first_video_nals = None, None
        self.packets = len(data) // 188
        if len(data) % 188:
            self.errors.append("size %d is not a multiple of 188" % len(data))
        cc, first_video = {}, None
        for i in range(self.packets):
            p = data[i * 188:(i + 1) * 188]
            if p[0] != 0x47:
                self.errors.append("packet %d: sync byte 0x%02x" % (i, p[0]))
                continue
            pusi, pid = bool(p[1] & 0x40), ((p[1] & 0x1F) << 8) | p[2]
            afc, counter = (p[3] >> 4) & 3, p[3] & 0x0F
            if pid not in self.pids:
                self.pids.append(pid)
            off, rai, disc = 4, False, False
            if afc & 2:
                alen = p[4]
                if alen > 0:
                    disc, rai = bool(p[5] & 0x80), bool(p[5] & 0x40)
                off = 5 + alen
            if afc & 1:  # a payload: the counter moves on by one (mod 16)
                if pid in cc and not disc and counter != (cc[pid] + 1) % 16:
                    self.errors.append("packet %d: pid %d continuity %d after %d"
                                       % (i, pid, counter, cc[pid]))
                cc[pid] = counter
            if off > 188:
                self.errors.append("packet %d: adaptation field of %d bytes" % (i, off - 5))
            payload = p[off:] if afc & 1 else b""
            if pid == 0 and pusi:
                self._pat(payload)
            elif pid == self.pmt_pid and pusi:
                self._pmt(payload)
            elif pid in self.streams:
                if pusi:
                    self.pes_count[pid] = self.pes_count.get(pid, 0) + 1
                    pts = _pes_pts(payload)
                    if pts is not None:
                        self.pts.setdefault(pid, []).append(pts)
                if self.streams[pid] in (0x1B, 0x24):
                    if first_video is None and pusi:
                        first_video, self.first_video_rai = bytearray(payload), rai
                    elif first_video is not None and self.first_video_nals is None:
                        if pusi:
                            self.first_video_nals = _annexb_nal_types(_pes_body(first_video))
                        else:
                            first_video += payload
        if first_video is not None and self.first_video_nals is None:
            self.first_video_nals = _annexb_nal_types(_pes_body(first_video))

    def _section(self, payload, table_id):
        if not payload or len(payload) < 1 + payload[0] + 8:
            self.errors.append("short PSI section")
            return None
        sec = payload[1 + payload[0]:]
        if sec[0] != table_id:
            self.errors.append("table id %d, expected %d" % (sec[0], table_id))
            return None
        length = ((sec[1] & 0x0F) << 8) | sec[2]
        return sec[8:3 + length - 4]  # after the fixed header, before the CRC

    def _pat(self, payload):
        body = self._section(payload, 0)
        for j in range(0, len(body or b"") - 3, 4):
            if int.from_bytes(body[j:j + 2], "big") != 0:
                self.pmt_pid = int.from_bytes(body[j + 2:j + 4], "big") & 0x1FFF

    def _pmt(self, payload):
        body = self._section(payload, 2)
        if body is None:
            return
        j = 4 + (int.from_bytes(body[2:4], "big") & 0x0FFF)
        while j + 5 <= len(body):
            self.streams[int.from_bytes(body[j + 1:j + 3], "big") & 0x1FFF] = body[j]
            j += 5 + (int.from_bytes(body[j + 3:j + 5], "big") & 0x0FFF)

    def stream_pid(self, stream_type):
        return next((pid for pid, t in self.streams.items() if t == stream_type), None)


def _pes_body(pes):
    return bytes(pes[9 + pes[8]:]) if len(pes) >= 9 and pes[:3] == b"\0\0\1" else b""


def _pes_pts(pes):
    if len(pes) < 14 or pes[:3] != b"\0\0\1" or not pes[7] & 0x80:
        return None
    b = pes[9:14]
    return (((b[0] >> 1) & 7) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) | (b[3] << 7) \
        | (b[4] >> 1)


def _annexb_nal_types(data):
    """H.264 NAL unit types after each 00 00 01 start code, in order."""
    types, i = [], data.find(b"\0\0\1")
    while 0 <= i < len(data) - 3 and len(types) < 64:
        types.append(data[i + 3] & 0x1F)
        i = data.find(b"\0\0\1", i + 3)
    return types
