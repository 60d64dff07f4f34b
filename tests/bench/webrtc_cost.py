#!/usr/bin/env python3
"""Server CPU per WebRTC (WHEP) viewer, and the latency sluice adds from WHIP to WHEP.

One server, one RTMP publisher copying an H.264 (constrained baseline, 1280x720
30 fps) + AAC file encoded at --bitrate (200 kbit/s by default: the rate of SRS's
published WHEP figure; WHEP viewers of an AAC stream get its video only), then tests/bench/whep_load (built with the server:
every tests/bench/*.c is) runs N WHEP viewers in one process: HTTP offer/answer,
ICE, DTLS, SRTP, receiver reports, NACKs; they count packets without decrypting
them. Once every viewer is connected (or has failed), the server's CPU time (from
/proc) is taken over --seconds; viewers per core = viewers / (CPU seconds / second).

With --latency, whep_load then publishes a pre-encoded H.264 file over WHIP to a second
stream and, for each frame, times sending its last packet to a WHEP viewer getting
it, with 1 viewer and with N (--latency-viewers).

usage: tests/bench/webrtc_cost.py [--viewers 200] [--seconds 20] [--bitrate 200k]
                                  [--ramp 50] [--loss PCT] [--latency] [--latency-viewers 1,200]
SLUICE_BIN (default build/release/sluice), WHEP_LOAD (default: whep_load beside
SLUICE_BIN). Loopback only; every process is bounded in time and killed on exit.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hls_cost import BIN, cpu_seconds, free_port, rss_kb  # noqa: E402

LOAD = os.environ.get("WHEP_LOAD", str(Path(BIN).parent / "whep_load"))
SRS_VIEWERS_PER_CPU = 1152  # SRS v8, WHEP at 200 kbit/s, as published
MAX_VIEWERS = 2000


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def encode(workdir, bitrate, annexb, seconds=20):
    """What make_source makes (1280x720 30 fps, 2 s GOP, CBR-ish at bitrate), but
    constrained baseline, without B-frames, which browsers do not take over WebRTC:
    with AAC as FLV for the RTMP publisher, or video only as Annex-B (SPS and PPS
    before every keyframe, x264's default) for whep_load --whip. Encoded once, so
    publishers only copy."""
    path = workdir / ("whip.h264" if annexb else "source.flv")
    audio = [] if annexb else ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    tail = ["-f", "h264"] if annexb else ["-c:a", "aac", "-ac", "2", "-f", "flv"]
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"] + audio +
                   ["-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline",
                    "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-g", "60"] + tail + [str(path)],
                   check=True, timeout=300)
    return path


def run_load(server_pid, url, viewers, seconds, ramp, extra=()):
    """Runs whep_load; samples the server's CPU and RSS at its steady markers.
    Returns (report dict, cpu seconds, wall seconds, rss kB at the end)."""
    cmd = [LOAD, "--url", url, "--viewers", str(viewers), "--seconds", str(seconds),
           "--ramp", str(ramp)] + list(extra)
    marks = {}
    lines = []

    def watch(stream):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if "steady start" in line:
                marks["start"] = (time.monotonic(), cpu_seconds(server_pid))
            elif "steady end" in line:
                marks["end"] = (time.monotonic(), cpu_seconds(server_pid), rss_kb(server_pid))
            lines.append(line)

    bound = (viewers / ramp if ramp > 0 else 0) + 2 * 20 + seconds + 90
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    watcher = threading.Thread(target=watch, args=(proc.stderr,), daemon=True)
    watcher.start()
    def kill():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    killer = threading.Timer(bound, kill)
    killer.start()
    try:
        out = proc.stdout.read()
        proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            kill()
            proc.wait()
    watcher.join(5)
    if proc.returncode != 0 or "start" not in marks or "end" not in marks:
        sys.exit("whep_load failed (rc %s):\n%s\n%s" % (proc.returncode, "\n".join(lines[-20:]),
                                                        out.decode(errors="replace")))
    report = json.loads(out)
    (t0, c0), (t1, c1, rss) = marks["start"], marks["end"]
    return report, c1 - c0, t1 - t0, rss


def log_summary(path):
    """Warnings and errors of the server's log, client ids and addresses folded so
    that alike lines count together."""
    counts = {}
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"\S+ (WARN|ERROR)\s+(.*)", line)
        if not m:
            continue
        msg = re.sub(r"client \d+", "client N", m.group(2))
        msg = re.sub(r"\[?[0-9a-f:.]+\]?:\d+", "ADDR", msg)
        msg = re.sub(r"\b[0-9a-f]{16}\b", "ID", msg)
        counts[m.group(1) + " " + msg] = counts.get(m.group(1) + " " + msg, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def print_load(r, cpu, wall, rss, idle_rss, idle_share, bitrate):
    share = cpu / wall
    n = r["steady_viewers"]
    mbps = r["bytes"]["total"] * 8 / wall / 1e6
    per_core = n / share if share > 0 else float("inf")
    net = share - idle_share
    print("%d WHEP viewers x %s stream: %d connected, %d failed; %.0f s steady window" % (
        r["viewers"], bitrate, r["connected"], r["failed"], wall))
    print("%-8s %12s %14s %13s %16s %10s %10s" % ("viewers", "server CPU", "delivered", "viewers/core",
                                                  "SRS v8 (pub.)", "CPU s/GB", "RSS"))
    print("%-8d %10.1f %% %9.1f Mbit/s %13.0f %16d %10.2f %7.1f MB" % (
        n, 100 * share, mbps, per_core, SRS_VIEWERS_PER_CPU,
        share / (mbps / 8 / 1000) if mbps > 0 else 0, rss / 1024))
    if net > 0:
        print("  without the idle publisher's %.2f %%: %.0f viewers per core" % (100 * idle_share, n / net))
    print("  server RSS %.1f MB before the viewers, %.1f kB more per viewer" % (
        idle_rss / 1024, (rss - idle_rss) / max(n, 1)))
    pk = r["packets"]
    print("  per viewer in the window: %.0f..%.0f packets (median %.0f, %.1f/s), without media: %d" % (
        pk["min"], pk["max"], pk["median"], pk["median"] / wall, r["steady_viewers_without_media"]))
    print("  all viewers, whole run: %d packets ignored as lost, %d NACKed, %d recovered, %d still missing" % (
        r["dropped_on_purpose"], r["nacks_sent"], r["recovered"], r["lost"]))
    c = r["connect_ms"]
    print("  time to connect (POST to DTLS done): median %.0f ms, p95 %.0f ms, max %.0f ms" % (
        c["median"], c["p95"], c["max"]))
    print("  whep_load CPU: %.1f %% of a core" % (100 * r["client_cpu_seconds"] / wall))
    for reason, count in r["failures"].items():
        print("  failed: %d x %s" % (count, reason))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--bitrate", default="200k")
    ap.add_argument("--ramp", type=float, default=50, help="viewers started per second")
    ap.add_argument("--loss", type=float, default=0,
                    help="percent of video packets each viewer ignores as lost (and NACKs)")
    ap.add_argument("--latency", action="store_true", help="also measure WHIP->WHEP latency")
    ap.add_argument("--latency-viewers", default=None, help="viewer counts, default 1,VIEWERS")
    a = ap.parse_args()
    if not 1 <= a.viewers <= MAX_VIEWERS or not 1 <= a.seconds <= 600 or not 0 <= a.loss <= 50 or a.ramp <= 0:
        sys.exit("--viewers 1..%d, --seconds 1..600, --loss 0..50, --ramp > 0" % MAX_VIEWERS)
    for path in (BIN, LOAD):
        if not os.access(path, os.X_OK):
            sys.exit("no %s (cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release builds sluice "
                     "and tests/bench/whep_load)" % path)
    latency_counts = [int(x) for x in (a.latency_viewers or "1,%d" % a.viewers).split(",")]
    rtmp, http, udp = free_port(), free_port(), free_udp_port()
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as d:
        workdir = Path(d)
        source = encode(workdir, a.bitrate, annexb=False)
        annexb = encode(workdir, a.bitrate, annexb=True) if a.latency else None
        cfg = workdir / "sluice.yaml"
        cfg.write_text("log_level: info\nrtmp: {listen: \"127.0.0.1:%d\"}\nhttp: {listen: \"127.0.0.1:%d\"}\n"
                       "rtsp: {enabled: false}\nhls: {enabled: false}\n"
                       "webrtc: {udp_port: %d, candidates: \"127.0.0.1\"}\n"
                       "limits: {max_connections: 10000}\n" % (rtmp, http, udp))
        log = workdir / "sluice.log"
        total = a.viewers / a.ramp + a.seconds + 120
        if a.latency:
            total += len(latency_counts) * (max(latency_counts) / a.ramp + a.seconds + 30)
        with open(log, "wb") as logf:
            server = subprocess.Popen([BIN, "-c", str(cfg)], stderr=logf, start_new_session=True)
        pub = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                                "-i", str(source), "-t", str(int(total)), "-c", "copy", "-f", "flv",
                                "rtmp://127.0.0.1:%d/live/cam" % rtmp],
                               stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(4)
            idle_rss = rss_kb(server.pid)
            c0, t0 = cpu_seconds(server.pid), time.monotonic()
            time.sleep(5)
            idle_share = (cpu_seconds(server.pid) - c0) / (time.monotonic() - t0)
            url = "http://127.0.0.1:%d/live/cam/whep" % http
            extra = ["--drop", str(a.loss)] if a.loss > 0 else []
            r, cpu, wall, rss = run_load(server.pid, url, a.viewers, a.seconds, a.ramp, extra)
            print_load(r, cpu, wall, rss, idle_rss, idle_share, a.bitrate)
            if a.latency:
                print("WHIP -> WHEP latency (%s, 1280x720 30 fps, last packet sent -> marker packet "
                      "received, one clock):" % a.bitrate)
                for n in latency_counts:
                    lr, lcpu, lwall, _ = run_load(server.pid, "http://127.0.0.1:%d/live/whip/whep" % http, n,
                                                  a.seconds, a.ramp, ["--whip", str(annexb), "--fps", "30"])
                    lat, first, last = (lr["latency_ms"], lr["frame_to_first_viewer_ms"],
                                        lr["frame_to_last_viewer_ms"])
                    print("  %4d viewers: median %.2f ms, p95 %.2f ms, max %.2f ms over %d frames x viewers "
                          "(%d unmatched)" % (n, lat["median"], lat["p95"], lat["max"], lat["n"],
                                              lr["latency_unmatched"]))
                    print("               per frame, to its first viewer: median %.2f ms, p95 %.2f ms; "
                          "to its last: median %.2f ms, p95 %.2f ms" % (first["median"], first["p95"],
                                                                       last["median"], last["p95"]))
                    print("               server CPU %.1f %%, whep_load CPU %.1f %%; %d connected, %d failed" % (
                        100 * lcpu / lwall, 100 * lr["client_cpu_seconds"] / lwall, lr["connected"],
                        lr["failed"]))
            if server.poll() is not None:
                print("the server exited (rc %s)" % server.returncode)
        finally:
            os.killpg(pub.pid, signal.SIGKILL)
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
            problems = log_summary(log)
            print("server log: %s" % ("no warnings or errors" if not problems else ""))
            for msg, count in problems[:15]:
                print("  %5d x %s" % (count, msg))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
