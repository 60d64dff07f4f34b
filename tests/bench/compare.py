#!/usr/bin/env python3
"""sluice and nginx-rtmp side by side: the same stream, the same players, one server
at a time, alternating in the same run.

For each source (200 kbit/s 320x240 and 2 Mbit/s 1280x720 H.264 + AAC, encoded once
with ffmpeg so the publisher only copies) and each player count, three phases run one
after the other, each against a fresh server: sluice with RTMP players, nginx-rtmp
(Debian's libnginx-mod-rtmp) with RTMP players, sluice with HTTP-FLV players (nginx-rtmp
has no HTTP-FLV: that row's peer is nginx's RTMP row). A phase: the server starts,
`sluice-bench publish` sends the file in real time, the server's RSS is read, then
`sluice-bench play` starts N players (R a second); once they are all started and have
settled, the server's CPU time (utime + stime of /proc/PID/stat), the players' process's
CPU time and bytes read (/proc/PID/io rchar) are taken over a steady window, and the
server's RSS (VmRSS) every second. The stall phases (2 Mbit/s, 200 players, 30 s) have
10 % of the players stop reading after their first keyframe (--stall 10) while staying
connected: once the kernel's buffers for them are full (about 16 s), the server must
queue, skip or drop for them without the others noticing.

Prints a Markdown table (per row: viewers, delivered Mbit/s, server CPU, CPU-seconds per
delivered GB, RSS per viewer, first frame p50/p99, latency p50/p99 (every player),
server-added latency p50/p99 (PROBES more players in a process of their own, joining
spread over the ramp: no load generator queueing in it), drops, the load generator's CPU, and the sluice/nginx ratio under each sluice row), then the issue's
targets, met or not, per sluice row. The raw JSON of every phase goes to --out DIR.

usage: tests/bench/compare.py [--quick] [--out DIR] [--seconds 15]
          [--counts 200k=500,1000/2M=200,500] [--stall-counts 2M=200]
          [--stall-seconds 30] [--ramp 500] [--only sluice|nginx]
SLUICE_BIN (default build/release/sluice), SLUICE_BENCH (default: sluice-bench next
to SLUICE_BIN), NGINX (default nginx; needs libnginx-mod-rtmp). Loopback only; every
process is bounded in time and count.
"""

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hls_cost import cpu_seconds, free_port, rss_kb  # noqa: E402  (utime + stime of every thread)

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SLUICE_BIN", str(ROOT / "build/release/sluice"))
BENCH = os.environ.get("SLUICE_BENCH", str(Path(BIN).parent / "sluice-bench"))
NGINX = os.environ.get("NGINX", "nginx")
RTMP_MODULE = os.environ.get("NGINX_RTMP_MODULE", "/usr/lib/nginx/modules/ngx_rtmp_module.so")

SOURCES = {  # label: (size, video bitrate, audio bitrate)
    "200k": ("320x240", "150k", "48k"),
    "2M": ("1280x720", "1900k", "96k"),
}
TARGET_CPU_RATIO = 0.5      # CPU per delivered GB, at most half nginx-rtmp's
TARGET_FIRST_P99_MS = 50.0
TARGET_LATENCY_P99_MS = 5.0
TARGET_RSS_KB = 20.0        # per viewer, beyond socket buffers (RSS holds none)
# Probe players: a few more, in a process of their own that has nothing else to read,
# joining spread over the ramp, so they sit all along the server's walk over its
# viewers. Their latency is what the server adds, without the main load generator's
# own queueing (it reads hundreds of sockets one after the other).
PROBES = 10


# --- /proc ----------------------------------------------------------------------

def rchar(pid):
    """Bytes the process got from read() and the like: a player's bytes delivered."""
    for line in Path("/proc/%d/io" % pid).read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def machine_ticks():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + v[4]
    total = sum(v[:8])
    return total - idle, total


def loadavg():
    return float(Path("/proc/loadavg").read_text().split()[0])


# --- processes --------------------------------------------------------------------

def wait_port(port, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d" % port)


def stop(proc, sig=signal.SIGTERM, wait=5):
    """Ends a process this script started (its own session), by its id."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


class Sluice:
    name = "sluice"

    def __init__(self, workdir):
        self.dir = workdir

    def start(self):
        self.rtmp, self.http = free_port(), free_port()
        cfg = self.dir / "sluice.yaml"
        # Only what both servers do: RTMP in, RTMP (and here HTTP-FLV) out. HLS, RTSP,
        # WebRTC, the API and transcoding off; room for every player.
        cfg.write_text(
            "log_level: warn\n"
            "rtmp: {listen: \"127.0.0.1:%d\", chunk_size: 4096}\n"
            "http: {listen: \"127.0.0.1:%d\"}\n"
            "hls: {enabled: false}\n"
            "rtsp: {enabled: false}\n"
            "webrtc: {enabled: false}\n"
            "api: {enabled: false}\n"
            "transcode: {enabled: false}\n"
            "limits: {max_connections: 20000}\n" % (self.rtmp, self.http))
        self.log = open(self.dir / "sluice.log", "ab")
        self.proc = subprocess.Popen([BIN, "-c", str(cfg)], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        wait_port(self.rtmp, self.proc)
        wait_port(self.http, self.proc)
        return self.proc.pid

    def publish_url(self):
        return "rtmp://127.0.0.1:%d/live/bench" % self.rtmp

    def play_url(self, proto):
        if proto == "flv":
            return "http://127.0.0.1:%d/live/bench.flv" % self.http
        return "rtmp://127.0.0.1:%d/live/bench" % self.rtmp

    def stop(self):
        stop(self.proc)
        self.log.close()


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
load_module {module};
events {{ worker_connections 20000; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{ live on; }}
    }}
}}
"""


class Nginx:
    name = "nginx"

    def __init__(self, workdir):
        self.dir = workdir / "nginx"
        self.dir.mkdir(exist_ok=True)

    def start(self):
        self.rtmp = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, module=RTMP_MODULE, port=self.rtmp))
        self.log = open(self.dir / "stderr.log", "ab")
        # -e: the error log before the configuration is read (not /var/log/nginx).
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-e", str(self.dir / "error.log"), "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        wait_port(self.rtmp, self.proc)
        return self.proc.pid

    def publish_url(self):
        return "rtmp://127.0.0.1:%d/live/bench" % self.rtmp

    def play_url(self, proto):
        assert proto == "rtmp"
        return "rtmp://127.0.0.1:%d/live/bench" % self.rtmp

    def stop(self):
        stop(self.proc, signal.SIGQUIT)  # graceful: nginx's own signal
        self.log.close()


# --- sources ------------------------------------------------------------------------

def make_source(workdir, label, seconds):
    size, vb, ab = SOURCES[label]
    path = workdir / ("source-%s.flv" % label)
    if path.exists():
        return path
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=%s:rate=25" % size,
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast",
                    "-b:v", vb, "-maxrate", vb, "-bufsize", vb, "-g", "50",
                    "-c:a", "aac", "-b:a", ab, "-ac", "2", "-f", "flv", str(path)],
                   check=True, timeout=300)
    return path


# --- one phase ---------------------------------------------------------------------

def phase(server, proto, label, source, players, stall, a, outdir):
    tag = "%s-%s-%s-%d%s" % (label, server.name, proto, players, "-stall" if stall else "")
    ramp_s = players / a.ramp if a.ramp > 0 else 0.0
    window = a.stall_seconds if stall else a.seconds
    play_s = math.ceil(ramp_s + a.settle + window + 1)
    pub_s = math.ceil(a.warmup + play_s + 1)  # outlives the players by a second
    row = {"tag": tag, "source": label, "server": server.name, "proto": proto,
           "players": players, "stall_pct": a.stall if stall else 0, "ramp": a.ramp,
           "window_s": window, "load_before": loadavg()}
    pub = play = probe = None
    pid = server.start()
    try:
        pub = subprocess.Popen(
            [BENCH, "publish", server.publish_url(), "--file", str(source),
             "--seconds", str(pub_s), "--json", str(outdir / (tag + ".publish.json"))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(outdir / (tag + ".publish.log"), "wb"), start_new_session=True)
        # The publisher alone: the GOP cache fills and empties once a GOP, so the
        # baseline is the most seen over the warm-up (at least a GOP), as the end is.
        rss_warm, t_warm = [], time.monotonic() + a.warmup
        while time.monotonic() < t_warm:
            time.sleep(0.25)
            rss_warm.append(rss_kb(pid))
        row["rss_before_kb"] = max(rss_warm)
        cmd = [BENCH, "play", server.play_url(proto), "--players", str(players),
               "--ramp", str(a.ramp), "--seconds", str(play_s),
               "--json", str(outdir / (tag + ".play.json"))]
        if stall:
            cmd += ["--stall", str(a.stall)]
        row["play_cmd"] = " ".join(cmd)
        play = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(outdir / (tag + ".play.log"), "wb"),
                                start_new_session=True)
        probe_ramp = PROBES / ramp_s if ramp_s > 0 else 0
        probe = subprocess.Popen(
            [BENCH, "play", server.play_url(proto), "--players", str(PROBES),
             "--ramp", "%.3f" % probe_ramp, "--seconds", str(play_s),
             "--json", str(outdir / (tag + ".probe.json"))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(outdir / (tag + ".probe.log"), "wb"), start_new_session=True)
        time.sleep(ramp_s + a.settle)
        rss_start = rss_kb(pid)
        s0, b0, p0 = cpu_seconds(pid), cpu_seconds(play.pid), cpu_seconds(pub.pid)
        r0 = rchar(play.pid) + rchar(probe.pid)
        m0, t0 = machine_ticks(), time.monotonic()
        rss_series = [rss_start]  # kB, one a second
        for i in range(int(window)):
            time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
            rss_series.append(rss_kb(pid))
        rss_max = max(rss_series)
        elapsed = time.monotonic() - t0
        s1, b1, p1 = cpu_seconds(pid), cpu_seconds(play.pid), cpu_seconds(pub.pid)
        r1 = rchar(play.pid) + rchar(probe.pid)
        m1 = machine_ticks()
        rss_end = rss_kb(pid)
        row.update({
            "elapsed": elapsed,
            "server_cpu_s": s1 - s0,
            "bench_cpu_s": b1 - b0,
            "publisher_cpu_s": p1 - p0,
            "window_bytes": r1 - r0,
            "machine_busy_pct": 100.0 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
            "rss_start_kb": rss_start, "rss_end_kb": rss_end, "rss_max_kb": max(rss_max, rss_end),
            "rss_series_kb": rss_series,
            "load_after": loadavg(),
        })
        try:
            play.wait(play_s + 30)
            probe.wait(10)
        except subprocess.TimeoutExpired:
            row["play_timeout"] = True
        try:
            pub.wait(pub_s + 10)
        except subprocess.TimeoutExpired:
            row["publish_timeout"] = True
    finally:
        stop(play, signal.SIGKILL)
        stop(probe, signal.SIGKILL)
        stop(pub, signal.SIGKILL)
        server.stop()
    for kind in ("play", "probe", "publish"):
        try:
            row[kind] = json.loads((outdir / ("%s.%s.json" % (tag, kind))).read_text())
        except (OSError, ValueError) as e:
            row[kind] = {"error": "no report: %s" % e}
    derive(row)
    (outdir / (tag + ".json")).write_text(json.dumps(row, indent=1) + "\n")
    return row


def derive(row):
    """The table's measures from a phase's samples and reports."""
    play = row.get("play", {})
    el = row.get("elapsed") or 0
    wbytes = row.get("window_bytes", 0)
    if wbytes <= 0 and play.get("bytes") and play.get("seconds"):
        # No rchar (another read path): the report's average over the whole run.
        wbytes = play["bytes"] * el / play["seconds"]
        row["bytes_from"] = "report"
    row["mbps"] = wbytes * 8 / el / 1e6 if el else None
    row["server_cpu_pct"] = 100 * row["server_cpu_s"] / el if el else None
    row["bench_cpu_pct"] = 100 * row["bench_cpu_s"] / el if el else None
    row["cpu_s_per_gb"] = row["server_cpu_s"] / (wbytes / 1e9) if wbytes > 0 else None
    probe = row.get("probe", {})
    viewers = (play.get("connected") or row["players"]) + (probe.get("connected") or 0)
    row["viewers"] = viewers
    row["rss_per_viewer_kb"] = ((row["rss_max_kb"] - row["rss_before_kb"]) / viewers
                                if viewers and "rss_max_kb" in row else None)
    row["rss_growth_kb"] = (row["rss_max_kb"] - row["rss_start_kb"]) if "rss_max_kb" in row else None
    series = row.get("rss_series_kb") or []
    # Bounded or not: what the RSS still grew over the window's last 5 s.
    row["rss_growth_last5_kb"] = series[-1] - series[-6] if len(series) >= 6 else None
    ff, lat = play.get("first_frame_ms") or {}, play.get("latency_ms") or {}
    row["first_p50"], row["first_p99"] = ff.get("p50"), ff.get("p99")
    row["lat_p50"], row["lat_p99"] = lat.get("p50"), lat.get("p99")
    plat = probe.get("latency_ms") or {}
    row["probe_lat_p50"], row["probe_lat_p99"] = plat.get("p50"), plat.get("p99")
    row["probe_dropped"], row["probe_failed"] = probe.get("dropped"), probe.get("failed")
    row["dropped"] = play.get("dropped")
    row["failed"] = play.get("failed")


# --- the table ----------------------------------------------------------------------

def fmt(v, spec="%.1f"):
    return "–" if v is None else spec % v


def ratio(a, b, spec="%.2f"):
    if a is None or b is None or b == 0:
        return "–"
    return spec % (a / b)


LABELS = {("sluice", "rtmp"): "sluice RTMP", ("sluice", "flv"): "sluice HTTP-FLV",
          ("nginx", "rtmp"): "nginx-rtmp RTMP"}
COLUMNS = ["viewers", "delivered Mbit/s", "server CPU % of a core", "CPU-s per GB",
           "RSS per viewer kB", "first frame p50 / p99 ms", "latency p50 / p99 ms",
           "server-added latency p50 / p99 ms (probes)",
           "drops", "bench CPU %", "machine busy %"]


def cells(r):
    return [
        "%d%s" % (r["viewers"], "/%d" % r["players"] if r["viewers"] != r["players"] else ""),
        fmt(r["mbps"]), fmt(r["server_cpu_pct"]), fmt(r["cpu_s_per_gb"], "%.2f"),
        fmt(r["rss_per_viewer_kb"]),
        "%s / %s" % (fmt(r["first_p50"]), fmt(r["first_p99"])),
        "%s / %s" % (fmt(r["lat_p50"], "%.2f"), fmt(r["lat_p99"], "%.2f")),
        "%s / %s" % (fmt(r["probe_lat_p50"], "%.2f"), fmt(r["probe_lat_p99"], "%.2f")),
        fmt(r["dropped"], "%d"), fmt(r["bench_cpu_pct"], "%.0f"),
        fmt(r["machine_busy_pct"], "%.0f"),
    ]


def ratio_cells(s, n):
    return [
        "", ratio(s["mbps"], n["mbps"]), ratio(s["server_cpu_pct"], n["server_cpu_pct"]),
        "**%s**" % ratio(s["cpu_s_per_gb"], n["cpu_s_per_gb"]),
        ratio(s["rss_per_viewer_kb"], n["rss_per_viewer_kb"]),
        "%s / %s" % (ratio(s["first_p50"], n["first_p50"]), ratio(s["first_p99"], n["first_p99"])),
        "%s / %s" % (ratio(s["lat_p50"], n["lat_p50"]), ratio(s["lat_p99"], n["lat_p99"])),
        "%s / %s" % (ratio(s["probe_lat_p50"], n["probe_lat_p50"]),
                     ratio(s["probe_lat_p99"], n["probe_lat_p99"])),
        "", "", "",
    ]


def table(rows):
    out = ["| stream | server | " + " | ".join(COLUMNS) + " |",
           "|---|---|" + "---|" * len(COLUMNS)]
    groups = {}
    for r in rows:
        groups.setdefault((r["source"], r["players"], r["stall_pct"]), []).append(r)
    for (label, players, stall), rs in groups.items():
        peer = next((r for r in rs if r["server"] == "nginx"), None)
        name = label + (" stall %d %%" % stall if stall else "")
        for r in rs:
            out.append("| %s | %s | %s |" % (name, LABELS[(r["server"], r["proto"])],
                                             " | ".join(cells(r))))
        for r in rs:
            if r["server"] == "sluice" and peer:
                out.append("| %s | %s / nginx | %s |" % (
                    name, LABELS[(r["server"], r["proto"])], " | ".join(ratio_cells(r, peer))))
    return "\n".join(out)


def verdict(ok):
    return "–" if ok is None else ("met" if ok else "**not met**")


def targets(rows):
    out = ["| stream | viewers | sluice | CPU/GB <= 0.5 x nginx | first frame p99 < 50 ms | "
           "server-added latency p99 < 5 ms | RSS < 20 kB/viewer | stall: no drops for the others |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["server"] != "sluice":
            continue
        peer = next((p for p in rows if p["server"] == "nginx" and p["source"] == r["source"]
                     and p["players"] == r["players"] and p["stall_pct"] == r["stall_pct"]), None)
        cpu = None
        if peer and r["cpu_s_per_gb"] is not None and peer["cpu_s_per_gb"]:
            q = r["cpu_s_per_gb"] / peer["cpu_s_per_gb"]
            cpu = "%s (%.2f)" % (verdict(q <= TARGET_CPU_RATIO), q)
        ff = r["first_p99"]
        lat = r["probe_lat_p99"]
        rss = r["rss_per_viewer_kb"]
        rss_note = ""
        # What one more viewer costs: the slope between two counts of the same load
        # (fixed costs, the GOP cache's and the allocator's, cancel out).
        lower = [p for p in rows if p["server"] == r["server"] and p["proto"] == r["proto"]
                 and p["source"] == r["source"] and p["stall_pct"] == r["stall_pct"]
                 and p["viewers"] < r["viewers"] and p.get("rss_per_viewer_kb") is not None]
        if lower and rss is not None:
            p = max(lower, key=lambda q: q["viewers"])
            grow = lambda q: q["rss_per_viewer_kb"] * q["viewers"]
            rss = (grow(r) - grow(p)) / (r["viewers"] - p["viewers"])
            rss_note = ", marginal from %d" % p["viewers"]
        stall = "–"
        if r["stall_pct"]:
            pub = r.get("publish", {})
            errors = r.get("play", {}).get("errors") or {}
            stall = ("%s (%s dropped, RSS +%s kB in the window, +%s kB in its last 5 s, "
                     "publisher queue max %s B, players ended by the server: %s)" % (
                         verdict(r["dropped"] == 0 and not pub.get("error")),
                         fmt(r["dropped"], "%d"), fmt(r["rss_growth_kb"], "%d"),
                         fmt(r["rss_growth_last5_kb"], "%d"),
                         pub.get("send_queue_max_bytes", "–"), sum(errors.values())))
        out.append("| %s%s | %d | %s | %s | %s | %s | %s | %s |" % (
            r["source"], " stall" if r["stall_pct"] else "", r["viewers"],
            LABELS[(r["server"], r["proto"])],
            cpu or "–",
            "–" if ff is None else "%s (%.1f)" % (verdict(ff < TARGET_FIRST_P99_MS), ff),
            "–" if lat is None else "%s (%.2f)" % (verdict(lat < TARGET_LATENCY_P99_MS), lat),
            "–" if rss is None else
            ("(%.1f: held for stalled players, see the last column)" % rss if r["stall_pct"] else
             "%s (%.1f%s)" % (verdict(rss < TARGET_RSS_KB), rss, rss_note)),
            stall))
    return "\n".join(out)


def parse_counts(text):
    """'200k=1000,2000/2M=200,500' -> {'200k': [1000, 2000], '2M': [200, 500]}"""
    counts = {}
    for part in filter(None, text.split("/")):
        label, _, ns = part.partition("=")
        if label not in SOURCES:
            sys.exit("unknown source %r (have %s)" % (label, ", ".join(SOURCES)))
        counts[label] = [int(n) for n in ns.split(",") if n]
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, about a minute")
    ap.add_argument("--out", help="directory for the raw JSON of every phase")
    ap.add_argument("--seconds", type=float, help="steady window per phase (15; --quick 4)")
    ap.add_argument("--settle", type=float, help="after the ramp, before the window, at least a GOP (2 s): "
                         "nginx-rtmp sends a new player no video before a keyframe (3; 2.5)")
    ap.add_argument("--warmup", type=float, help="publisher alone before players (2.5; 2.2)")
    ap.add_argument("--ramp", type=float, default=500, help="players started per second")
    ap.add_argument("--counts", help="players per phase: 200k=500,1000/2M=200,500 "
                                     "(--quick 200k=100/2M=50)")
    ap.add_argument("--stall-counts", help="players of the stall phases: 2M=200 "
                                           "(--quick 2M=50)")
    ap.add_argument("--stall", type=int, default=10, help="percent of stalled players")
    ap.add_argument("--stall-seconds", type=float,
                    help="window of the stall phases (30; --quick 6): the kernel holds about "
                         "4 MB for a player that stopped reading, 16 s of 2 Mbit/s, before "
                         "the server has to queue or drop")
    ap.add_argument("--only", choices=["sluice", "nginx"])
    ap.add_argument("--source-seconds", type=int, help="length of the looped file (20; 6)")
    a = ap.parse_args()
    defaults = {"seconds": (15, 4), "settle": (3, 2.5), "warmup": (2.5, 2.2),
                "counts": ("200k=500,1000/2M=200,500", "200k=100/2M=50"),
                "stall_counts": ("2M=200", "2M=50"), "stall_seconds": (30, 6), "source_seconds": (20, 6)}
    for key, (full, quick) in defaults.items():
        if getattr(a, key) is None:
            setattr(a, key, quick if a.quick else full)
    for path, what in ((BIN, "SLUICE_BIN"), (BENCH, "SLUICE_BENCH")):
        if not os.access(path, os.X_OK):
            sys.exit("no %s at %s (cmake --build BUILD --target sluice sluice-bench)" % (what, path))
    if not Path(RTMP_MODULE).exists():
        sys.exit("no %s: apt-get install nginx libnginx-mod-rtmp" % RTMP_MODULE)
    counts, stall_counts = parse_counts(a.counts), parse_counts(a.stall_counts)

    tmp = tempfile.TemporaryDirectory(prefix="sluice-compare-")
    workdir = Path(tmp.name)
    outdir = Path(a.out) if a.out else workdir / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    servers = {"sluice": Sluice(workdir), "nginx": Nginx(workdir)}
    plan = []  # sluice and nginx alternate, same load
    for label in SOURCES:
        for n in counts.get(label, []):
            plan += [("sluice", "rtmp", label, n, False), ("nginx", "rtmp", label, n, False),
                     ("sluice", "flv", label, n, False)]
        for n in stall_counts.get(label, []):
            plan += [("sluice", "rtmp", label, n, True), ("nginx", "rtmp", label, n, True),
                     ("sluice", "flv", label, n, True)]
    if a.only:
        plan = [p for p in plan if p[0] == a.only]
    sources = {label: make_source(workdir, label, a.source_seconds)
               for label in {p[2] for p in plan}}
    rows = []
    t_start = time.monotonic()
    try:
        for name, proto, label, n, stall in plan:
            r = phase(servers[name], proto, label, sources[label], n, stall, a, outdir)
            rows.append(r)
            print("%-28s %5s viewers %7s Mbit/s  server %5s %%  %6s CPU-s/GB  %6s kB/viewer  "
                  "first %s/%s ms  latency %s/%s ms  probes %s/%s ms  drops %s  bench %s %%  "
                  "machine %.0f %%" % (
                      r["tag"], r["viewers"], fmt(r["mbps"]), fmt(r["server_cpu_pct"]),
                      fmt(r["cpu_s_per_gb"], "%.2f"), fmt(r["rss_per_viewer_kb"]),
                      fmt(r["first_p50"]), fmt(r["first_p99"]), fmt(r["lat_p50"], "%.2f"),
                      fmt(r["lat_p99"], "%.2f"), fmt(r["probe_lat_p50"], "%.2f"),
                      fmt(r["probe_lat_p99"], "%.2f"), fmt(r["dropped"], "%d"),
                      fmt(r["bench_cpu_pct"], "%.0f"), r["machine_busy_pct"]),
                  file=sys.stderr, flush=True)
    finally:
        if rows:
            (outdir / "summary.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("%d phases in %.0f s; raw JSON in %s\n" % (len(rows), time.monotonic() - t_start, outdir))
    print(table(rows))
    print()
    print(targets(rows))
    for name, log in (("sluice", workdir / "sluice.log"), ("nginx", servers["nginx"].dir / "error.log")):
        if log.exists() and log.stat().st_size:
            shutil.copy(log, outdir / ("%s.log" % name))
            print("\n%s's log: %d lines (%s)" % (name, len(log.read_text().splitlines()),
                                               outdir / ("%s.log" % name)))
    if not a.out:
        print("\n(--out DIR keeps the raw JSON; the temporary directory is removed now)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
