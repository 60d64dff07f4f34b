#!/usr/bin/env python3
"""What HLS costs per stream: CPU seconds per stream-hour and resident memory per
live HLS stream, measured as the difference between two runs of the same load, one
with hls.enabled and one without.

usage: tests/bench/hls_cost.py [--streams N] [--seconds S] [--bitrate 2M]
Builds nothing: SLUICE_BIN (default build/release/sluice, made by scripts/run.sh or
cmake -DCMAKE_BUILD_TYPE=Release). Loopback only; every process is bounded in time.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SLUICE_BIN", str(ROOT / "build/release/sluice"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_kb(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def make_source(workdir, bitrate, seconds=20):
    """An H.264 + AAC file encoded once, so publishers only copy (their CPU stays out
    of the measurement's way)."""
    path = workdir / "source.flv"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast",
                    "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-g", "60",
                    "-c:a", "aac", "-ac", "2", "-f", "flv", str(path)],
                   check=True, timeout=300)
    return path


def run(workdir, source, streams, seconds, hls):
    rtmp, http = free_port(), free_port()
    cfg = workdir / ("hls.yaml" if hls else "nohls.yaml")
    cfg.write_text("log_level: warn\nrtmp: {listen: \"127.0.0.1:%d\"}\n"
                   "http: {listen: \"127.0.0.1:%d\"}\nhls: {enabled: %s}\n"
                   % (rtmp, http, "true" if hls else "false"))
    server = subprocess.Popen([BIN, "-c", str(cfg)], stderr=subprocess.DEVNULL,
                              start_new_session=True)
    pubs = []
    try:
        time.sleep(0.5)
        base_rss = rss_kb(server.pid)
        for i in range(streams):
            pubs.append(subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                 "-i", str(source), "-t", str(seconds + 10), "-c", "copy", "-f", "flv",
                 "rtmp://127.0.0.1:%d/live/s%d" % (rtmp, i)],
                stdin=subprocess.DEVNULL, start_new_session=True))
        time.sleep(5)  # let every stream start and the windows fill
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(seconds)
        cpu = cpu_seconds(server.pid) - cpu0
        elapsed = time.monotonic() - t0
        return {"cpu": cpu, "elapsed": elapsed, "rss": rss_kb(server.pid), "base_rss": base_rss}
    finally:
        for p in pubs:
            os.killpg(p.pid, signal.SIGKILL)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--bitrate", default="2M")
    a = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("no sluice binary at %s (scripts/run.sh builds build/release/sluice)" % BIN)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as d:
        workdir = Path(d)
        source = make_source(workdir, a.bitrate)
        off = run(workdir, source, a.streams, a.seconds, hls=False)
        on = run(workdir, source, a.streams, a.seconds, hls=True)
    per_hour = (on["cpu"] / on["elapsed"] - off["cpu"] / off["elapsed"]) * 3600 / a.streams
    mem = (on["rss"] - off["rss"]) / a.streams
    print("streams %d x %s, %d s each run" % (a.streams, a.bitrate, a.seconds))
    print("server CPU without HLS: %.2f%% of a core, with HLS: %.2f%%" % (
        100 * off["cpu"] / off["elapsed"], 100 * on["cpu"] / on["elapsed"]))
    print("server RSS without HLS: %d kB, with HLS: %d kB" % (off["rss"], on["rss"]))
    print("HLS muxing: %.1f CPU-seconds per stream-hour (%.3f%% of a core per stream)" % (
        per_hour, per_hour / 36))
    print("HLS memory: %.0f kB per live stream (window of 6 segments + 2 extra)" % mem)


if __name__ == "__main__":
    main()
