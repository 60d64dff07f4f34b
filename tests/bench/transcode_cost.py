#!/usr/bin/env python3
"""What audio transcoding (docs/transcode.md) costs: server CPU seconds per transcoded
stream-minute, and the latency it adds to the server's loop.

Two servers run side by side with the same load at the same time, one with
transcode.enabled true and one with false (hls.enabled false on both, so only the
players below want the other codec); what the first costs more is transcoding.

  Opus -> AAC: N streams published over RTSP (TCP) by ffmpeg copying a file with a
  tiny H.264 video (160x120 25 fps) and Opus (48 kHz stereo, 64 kbit/s, 20 ms
  frames), each played by one RTMP reader (ffmpeg -c copy -f null): the RTMP player
  wants AAC, so every stream is transcoded. The readers' logs must show an AAC
  stream (on) and none (off).
  AAC -> Opus: N streams published over RTMP by ffmpeg copying the same video with
  AAC-LC (44.1 kHz stereo, 128 kbit/s, 1024-sample frames), each played by one WHEP
  viewer (tests/bench/whep_load --audio, no browser): its Opus section makes the
  server transcode. Viewers of the transcoding server must get about 50 packets a
  second more (the Opus) than those of the other.

The audio is a stereo mix of tones and pink noise, closer to programme material than
a pure sine. Publishers and readers only copy. Once every reader plays (and 5 s more,
so the transcoders run), both servers' CPU time is read from /proc over --seconds,
while --requests GET /api/v1/server round trips go to each server's API port, spread
over the window, one to each server in turn (which goes first alternates; one
keep-alive connection each): their median and p99 with and without transcoding are
the latency the work adds to the loop. The main thread's own CPU time
(/proc/PID/task/PID: the event loop) tells how much of the cost lands on the loop
rather than the thread pool. The transcoding server's own figure, the "us per input
frame in the thread pool" of its log when each transcoder stops, is printed beside
the difference.

usage: tests/bench/transcode_cost.py [--streams 1,4,8] [--seconds 25] [--requests 200]
                                     [--direction both|to-aac|to-opus]
SLUICE_BIN (default build/release/sluice), WHEP_LOAD (default: whep_load beside
SLUICE_BIN); both from a Release build. Loopback only; every process is bounded in
time and killed on exit.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hls_cost import BIN, cpu_seconds, free_port, rss_kb  # noqa: E402

LOAD = os.environ.get("WHEP_LOAD", str(Path(BIN).parent / "whep_load"))
WARMUP_S = 5
MAX_STREAMS = 32
# 20 ms Opus frames; AAC frames of 1024 samples at 44.1 kHz.
FRAMES_PER_S = {"to-aac": 50.0, "to-opus": 44100 / 1024}
AUDIO = ("aevalsrc=0.25*sin(2*PI*440*t)+0.12*sin(2*PI*1320*t)|0.25*sin(2*PI*554*t)+0.12*sin(2*PI*2217*t)"
         ":s=48000:c=stereo")


def loop_cpu_seconds(pid):
    """CPU time of the main thread alone: the event loop (the thread pool's are the
    others)."""
    fields = Path("/proc/%d/task/%d/stat" % (pid, pid)).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def encode(workdir, seconds, opus):
    """Tiny H.264 (constrained baseline, no B-frames: WHEP takes it) and Opus in
    Matroska for the RTSP publishers, or AAC in FLV for the RTMP ones. Encoded once,
    long enough for a phase without looping."""
    path = workdir / ("opus.mkv" if opus else "aac.flv")
    audio = (["-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20"] if opus else
             ["-c:a", "aac", "-b:a", "128k", "-ar", "44100"])
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
                    "-f", "lavfi", "-i", AUDIO,
                    "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.08:r=48000",
                    "-filter_complex", "[1:a][2:a]amix=inputs=2:normalize=0[a]", "-map", "0:v", "-map", "[a]",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline",
                    "-bf", "0", "-g", "50", "-b:v", "100k", "-ac", "2"] + audio + [str(path)],
                   check=True, timeout=300)
    return path


class Server:
    def __init__(self, workdir, name, transcode):
        self.name = name
        self.rtmp, self.http, self.rtsp, self.api = free_port(), free_port(), free_port(), free_port()
        self.udp = free_udp_port()
        base = 20000 if transcode else 22000
        cfg = workdir / ("%s.yaml" % name)
        cfg.write_text(
            "log_level: info\n"
            "rtmp: {listen: \"127.0.0.1:%d\"}\nhttp: {listen: \"127.0.0.1:%d\"}\n"
            "rtsp: {listen: \"127.0.0.1:%d\", udp_port_range: \"%d-%d\"}\n"
            "hls: {enabled: false}\n"
            "webrtc: {udp_port: %d, candidates: \"127.0.0.1\"}\n"
            "api: {listen: \"127.0.0.1:%d\"}\n"
            "transcode: {enabled: %s}\n" % (self.rtmp, self.http, self.rtsp, base, base + 998, self.udp, self.api,
                                           "true" if transcode else "false"))
        self.log = workdir / ("%s.log" % name)
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen([BIN, "-c", str(cfg)], stderr=logf, start_new_session=True)
        self.conn = None

    def get(self, path):
        """(status, body, seconds) of one GET on the API's keep-alive connection."""
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.api, timeout=5)
                t0 = time.perf_counter()
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                return r.status, body, time.perf_counter() - t0
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def live_streams(self):
        status, body, _ = self.get("/api/v1/streams")
        return {s["key"]: s for s in json.loads(body)["streams"]} if status == 200 else {}

    def log_text(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.conn is not None:
            self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Procs:
    """Processes of one phase, each in its own group, killed at the end."""

    def __init__(self):
        self.items = []

    def spawn(self, args, log=None, **kw):
        """Starts args in its own process group, its stderr in the file log if given."""
        if log is None:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        else:
            with open(log, "wb") as f:
                p = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, stderr=f, **kw)
        self.items.append(p)
        return p

    def kill_all(self):
        for p in self.items:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.items:
            p.wait()
        self.items = []


def ffmpeg_publisher(procs, source, url, fmt, log):
    extra = ["-rtsp_transport", "tcp"] if fmt == "rtsp" else []
    return procs.spawn(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source),
                        "-c", "copy", "-f", fmt] + extra + [url], log=log, stdout=subprocess.DEVNULL)


def wait_streams(servers, keys, bound=15):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if all(set(keys) <= set(s.live_streams()) for s in servers):
            return
        time.sleep(0.25)
    sys.exit("streams not published in %d s: %s" % (bound, [sorted(s.live_streams()) for s in servers]))


def whep_reader(procs, server, key, seconds, out):
    """One WHEP viewer offering Opus; its JSON report goes to the file out."""
    url = "http://127.0.0.1:%d/%s/whep" % (server.http, key)
    with open(out, "wb") as f:
        return procs.spawn([LOAD, "--url", url, "--viewers", "1", "--seconds", str(seconds), "--ramp", "0",
                            "--audio"], stdout=f, stderr=subprocess.DEVNULL)


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def phase(workdir, servers, direction, n, seconds, requests, sources):
    """One load on both servers at once. Returns the measures."""
    on, off = servers
    keys = ["bench/%s-%d-%d" % (direction, n, i) for i in range(n)]
    procs = Procs()
    readers = {}
    r0 = [rss_kb(s.proc.pid) for s in servers]
    try:
        for srv in servers:
            for k in keys:
                log = workdir / ("pub-%s-%s.log" % (srv.name, k.replace("/", "_")))
                if direction == "to-aac":
                    ffmpeg_publisher(procs, sources["opus"], "rtsp://127.0.0.1:%d/%s" % (srv.rtsp, k), "rtsp", log)
                else:
                    ffmpeg_publisher(procs, sources["aac"], "rtmp://127.0.0.1:%d/%s" % (srv.rtmp, k), "flv", log)
        wait_streams(servers, keys)
        for srv in servers:
            for k in keys:
                out = workdir / ("reader-%s-%s.log" % (srv.name, k.replace("/", "_")))
                if direction == "to-aac":
                    # -t bounds it; the reader's info lines name the streams it found.
                    readers[(srv.name, k)] = (out, procs.spawn(
                        ["ffmpeg", "-hide_banner", "-loglevel", "info", "-nostats",
                         "-i", "rtmp://127.0.0.1:%d/%s" % (srv.rtmp, k), "-t", str(WARMUP_S + seconds + 10),
                         "-map", "0", "-c", "copy", "-f", "null", "-"], log=out, stdout=subprocess.DEVNULL))
                else:
                    readers[(srv.name, k)] = (out, whep_reader(procs, srv, k, WARMUP_S + seconds + 2, out))
        time.sleep(WARMUP_S)
        c0 = [cpu_seconds(s.proc.pid) for s in servers]
        l0 = [loop_cpu_seconds(s.proc.pid) for s in servers]
        t0 = time.monotonic()
        lat = {s.name: [] for s in servers}
        step = seconds / requests
        for i in range(requests):
            # Alternating which goes first: the first after a sleep pays for waking up.
            for s in (servers if i % 2 == 0 else servers[::-1]):
                status, _, dt = s.get("/api/v1/server")
                if status != 200:
                    sys.exit("%s: GET /api/v1/server answered %d" % (s.name, status))
                lat[s.name].append(dt * 1000)
            delay = t0 + (i + 1) * step - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        wall = time.monotonic() - t0
        c1 = [cpu_seconds(s.proc.pid) for s in servers]
        l1 = [loop_cpu_seconds(s.proc.pid) for s in servers]
        r1 = [rss_kb(s.proc.pid) for s in servers]
        load = os.getloadavg()[0]
        live = [set(s.live_streams()) for s in servers]
        if direction == "to-opus":
            for (name, k), (out, p) in readers.items():
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    pass
    finally:
        procs.kill_all()
    res = {"direction": direction, "n": n, "wall": wall, "lat": lat, "load": load,
           "cpu": [(b - a) / wall for a, b in zip(c0, c1)], "loop": [(b - a) / wall for a, b in zip(l0, l1)], "rss_kb": r1, "rss0_kb": r0,
           "still_live": [len(set(keys) & l) for l in live]}
    # What the readers got.
    if direction == "to-aac":
        for s in servers:
            text = [readers[(s.name, k)][0].read_text(errors="replace") for k in keys]
            res["aac_readers_" + s.name] = sum(1 for t in text if re.search(r"Audio: aac", t))
            res["video_readers_" + s.name] = sum(1 for t in text if re.search(r"Video: h264", t))
    else:
        for s in servers:
            rates = []
            for k in keys:
                out = readers[(s.name, k)][0].read_text(errors="replace").strip()
                try:
                    r = json.loads(out)
                    rates.append(r["packets"]["median"] / r["steady_seconds"] if r["steady_seconds"] else 0)
                except (ValueError, KeyError):
                    rates.append(0)
            res["packets_per_s_" + s.name] = rates
    return res


def transcoder_totals(text, direction, n):
    """The stopped transcoders' own figures for this phase's streams (their log)."""
    to = "aac" if direction == "to-aac" else "opus"
    out = []
    for m in re.finditer(r"transcode bench/%s-%d-\d+ -> %s: (\d+) frames in, (\d+) out, (\d+) us per input frame"
                         % (direction, n, to), text):
        out.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return out


def report(res, totals):
    d, n, wall = res["direction"], res["n"], res["wall"]
    on, off = res["cpu"]
    diff = on - off
    per_stream_min = diff * 60 / n
    fps = FRAMES_PER_S[d]
    label = "Opus -> AAC (RTSP in, RTMP out)" if d == "to-aac" else "AAC -> Opus (RTMP in, WHEP out)"
    print("%s, %d stream%s, %.1f s window:" % (label, n, "" if n == 1 else "s", wall))
    print("  server CPU: transcoding %.2f %% of a core, not transcoding %.2f %%: +%.2f %% "
          "(%.2f %% per stream)" % (100 * on, 100 * off, 100 * diff, 100 * diff / n))
    print("  %.2f CPU-seconds per transcoded stream-minute; %.0f us per input frame (%.1f frames/s); "
          "%.0f streams per core" % (per_stream_min, diff / (n * fps) * 1e6, fps,
                                     n / diff if diff > 0 else float("inf")))
    print("  of which the loop thread: %.2f %% vs %.2f %% (+%.2f %%); the thread pool %.2f %% vs %.2f %%" % (
        100 * res["loop"][0], 100 * res["loop"][1], 100 * (res["loop"][0] - res["loop"][1]),
        100 * (on - res["loop"][0]), 100 * (off - res["loop"][1])))
    if totals:
        us = [t[2] for t in totals]
        print("  the transcoders' own figure (log, %d of %d): %d..%d us per input frame in the thread pool" % (
            len(totals), n, min(us), max(us)))
    grown = [(b - a) / 1024 for a, b in zip(res["rss0_kb"], res["rss_kb"])]
    print("  server RSS at the end: %.1f MB (+%.1f MB in the phase) vs %.1f MB (+%.1f MB); "
          "load average %.2f" % (res["rss_kb"][0] / 1024, grown[0], res["rss_kb"][1] / 1024, grown[1], res["load"]))
    for name, label2 in (("on", "transcoding"), ("off", "not transcoding")):
        v = res["lat"][name]
        print("  GET /api/v1/server, %-15s: median %.3f ms, p99 %.3f ms, max %.3f ms (%d requests)" % (
            label2, statistics.median(v), pct(v, 0.99), max(v), len(v)))
    if d == "to-aac":
        print("  RTMP readers with an AAC stream: %d of %d (transcoding), %d of %d (not); with H.264: %d, %d" % (
            res["aac_readers_on"], n, res["aac_readers_off"], n, res["video_readers_on"], res["video_readers_off"]))
    else:
        r_on, r_off = res["packets_per_s_on"], res["packets_per_s_off"]
        print("  WHEP viewers' packets per second: %s (transcoding) vs %s (not): +%.1f/s, the Opus" % (
            " ".join("%.0f" % x for x in r_on), " ".join("%.0f" % x for x in r_off),
            statistics.median(r_on) - statistics.median(r_off)))
    if any(res["still_live"][i] != n for i in range(2)):
        print("  WARNING: streams live at the end of the window: %s of %d" % (res["still_live"], n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", default="1,4,8")
    ap.add_argument("--seconds", type=int, default=25)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--direction", default="both", choices=("both", "to-aac", "to-opus"))
    a = ap.parse_args()
    counts = [int(x) for x in a.streams.split(",")]
    if not all(1 <= c <= MAX_STREAMS for c in counts) or not 5 <= a.seconds <= 120 or not 10 <= a.requests <= 2000:
        sys.exit("--streams 1..%d each, --seconds 5..120, --requests 10..2000" % MAX_STREAMS)
    directions = ["to-aac", "to-opus"] if a.direction == "both" else [a.direction]
    for path in (BIN,) + ((LOAD,) if "to-opus" in directions else ()):
        if not os.access(path, os.X_OK):
            sys.exit("no %s (cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release builds sluice and "
                     "tests/bench/whep_load)" % path)
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        workdir = Path(tmp)
        length = WARMUP_S + a.seconds + 30
        sources = {"opus": encode(workdir, length, True), "aac": encode(workdir, length, False)}
        servers = [Server(workdir, "on", True), Server(workdir, "off", False)]
        results = []
        try:
            time.sleep(1)
            for s in servers:
                if s.proc.poll() is not None:
                    sys.exit("%s exited at start:\n%s" % (s.name, s.log_text()))
            for d in directions:
                for n in counts:
                    res = phase(workdir, servers, d, n, a.seconds, a.requests, sources)
                    time.sleep(3)  # the streams end, the transcoders log their totals
                    report(res, transcoder_totals(servers[0].log_text(), d, n))
                    results.append(res)
                    sys.stdout.flush()
        finally:
            for s in servers:
                s.stop()
        text = servers[0].log_text()
        warns = [line for line in text.splitlines() if re.search(r" (WARN|ERROR) .*transcode", line)]
        print("transcoding server's log: %d transcoders started, %d warnings about transcoding%s" % (
            len(re.findall(r"transcode \S+: (?:opus -> aac|aac -> opus)", text)), len(warns),
            "".join("\n  " + w for w in warns[:10])))
        if re.search(r"transcode \S+: (?:opus -> aac|aac -> opus)", servers[1].log_text()):
            print("WARNING: the server with transcode.enabled false transcoded")
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
