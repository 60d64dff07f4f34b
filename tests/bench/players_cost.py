#!/usr/bin/env python3
"""Server CPU per player, RTMP, HTTP-FLV and RTSP (TCP interleaved) players of one
stream, measured in the same run one protocol after the other: the server's CPU
time (from /proc) while N players of that protocol read the stream, minus nothing
else (the publisher is the same in every phase and costs the same).

usage: tests/bench/players_cost.py [--players 50] [--seconds 20] [--bitrate 2M]
SLUICE_BIN (default build/release/sluice). Players are raw sockets in this one
Python process that read and drop what they get (a player costs the server what it
costs, whatever it does with the bytes). Loopback only, bounded in count and time.
"""

import argparse
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import rtmp_client  # noqa: E402
from hls_cost import BIN, cpu_seconds, free_port, make_source, rss_kb  # noqa: E402


def rtmp_player(port, key):
    s = rtmp_client.open_connection("127.0.0.1", port)
    rtmp_client.handshake(s)
    app, name = key.split("/", 1)
    s.sendall(rtmp_client.connect_command(app, "rtmp://127.0.0.1:%d/%s" % (port, app)))
    s.sendall(rtmp_client.command("createStream", 2, None))
    s.sendall(rtmp_client.command("play", 0, None, name, csid=8, stream_id=1))
    return s


def http_player(port, key):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /%s.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % key.encode())
    return s


def rtsp_request(s, text):
    s.sendall(text.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("RTSP server closed")
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        rest += s.recv(4096)
    return head.decode(), rest


def rtsp_player(port, key):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    url = "rtsp://127.0.0.1:%d/%s" % (port, key)
    rtsp_request(s, "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n" % url)
    head, _ = rtsp_request(s, "SETUP %s/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
                              "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n" % url)
    session = [l.split(":", 1)[1].strip().split(";")[0] for l in head.split("\r\n")
               if l.lower().startswith("session:")][0]
    rtsp_request(s, "SETUP %s/trackID=1 RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\n"
                    "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n" % (url, session))
    s.sendall(("PLAY %s RTSP/1.0\r\nCSeq: 4\r\nSession: %s\r\n\r\n" % (url, session)).encode())
    return s


def measure(server_pid, make_player, n, seconds):
    """Starts n players, lets them settle, then reads for `seconds` while the server's
    CPU time is measured. Returns (cpu seconds, elapsed, bytes received)."""
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for _ in range(n):
            s = make_player()
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
        received = 0
        deadline = time.monotonic() + 3 + seconds
        t0 = cpu0 = None
        while time.monotonic() < deadline:
            if t0 is None and time.monotonic() > deadline - seconds:
                t0, cpu0, received = time.monotonic(), cpu_seconds(server_pid), 0
            for key, _ in sel.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    raise ConnectionError("a player was disconnected")
                received += len(data)
        return cpu_seconds(server_pid) - cpu0, time.monotonic() - t0, received
    finally:
        for s in socks:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--players", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--bitrate", default="2M")
    a = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("no sluice binary at %s (scripts/run.sh builds build/release/sluice)" % BIN)
    rtmp, http, rtsp = free_port(), free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as d:
        workdir = Path(d)
        source = make_source(workdir, a.bitrate)
        cfg = workdir / "sluice.yaml"
        cfg.write_text("log_level: warn\nrtmp: {listen: \"127.0.0.1:%d\"}\nhttp: {listen: \"127.0.0.1:%d\"}\n"
                       "rtsp: {listen: \"127.0.0.1:%d\"}\nhls: {enabled: false}\n"
                       "limits: {max_connections: 10000}\n" % (rtmp, http, rtsp))
        server = subprocess.Popen([BIN, "-c", str(cfg)], stderr=subprocess.DEVNULL)
        total = 3 * (a.seconds + 6) + 10
        pub = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                                "-i", str(source), "-t", str(total), "-c", "copy", "-f", "flv",
                                "rtmp://127.0.0.1:%d/live/cam" % rtmp], stdin=subprocess.DEVNULL)
        try:
            time.sleep(4)
            idle_rss = rss_kb(server.pid)
            rows = []
            for name, make in (("RTMP", lambda: rtmp_player(rtmp, "live/cam")),
                               ("HTTP-FLV", lambda: http_player(http, "live/cam")),
                               ("RTSP/TCP", lambda: rtsp_player(rtsp, "live/cam"))):
                cpu, elapsed, got = measure(server.pid, make, a.players, a.seconds)
                share = cpu / elapsed
                rows.append((name, share, got * 8 / elapsed / 1e6, rss_kb(server.pid)))
            print("%d players x %s stream, %d s per protocol, same server and publisher" % (
                a.players, a.bitrate, a.seconds))
            print("%-9s %12s %14s %16s %12s" % ("protocol", "server CPU", "delivered", "players/core",
                                               "CPU s/GB"))
            for name, share, mbps, rss in rows:
                per_core = a.players / share if share > 0 else float("inf")
                print("%-9s %11.1f%% %10.0f Mbit/s %16.0f %12.2f" % (
                    name, 100 * share, mbps, per_core, share / (mbps / 8 / 1000)))
            print("server RSS before players: %d kB" % idle_rss)
        finally:
            pub.kill()
            server.terminate()
            server.wait(5)


if __name__ == "__main__":
    main()
