"""The management API (docs/api.md) against live traffic: an RTMP and an RTSP publisher
at known bitrates, each stream played over RTMP, HTTP-FLV and RTSP; the /api/v1 views
(server, streams, clients) checked against what the test knows independently (each
client process's own TCP port from /proc, ffprobe's view of the codecs, the encoder's
bitrate); kicks of players and publishers; XIU's routes; /metrics as Prometheus text;
the bearer token; error statuses."""

import http.client
import json
import os
import re
import socket
import time
import unittest

import harness
from harness import HOST, note

# The encoders' targets: what each stream's bitrate_in (payload bits/s) should be near.
CAM = {"name": "cam", "size": "640x360", "fps": 25, "gop": 50, "vbits": 800_000,
       "abits": 128_000, "rate": 44100, "channels": 2}
CAM2 = {"name": "cam2", "size": "320x240", "fps": 30, "gop": 60, "vbits": 500_000,
        "abits": 96_000, "rate": 48000, "channels": 1}
BITRATE_TOLERANCE = 0.20
PLAYERS = ("rtmp", "http-flv", "rtsp")
END_BOUND_S = 5.0  # a kicked client's process ends (or its stream goes) within this
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def encoder_args(src, seconds):
    """testsrc2 + sine at src's size, rate and CBR-constrained bitrates; a keyframe
    exactly every `gop` frames (no scene-cut keyframes)."""
    kbps = src["vbits"] // 1000
    return ["-re", "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d" % (src["size"], src["fps"]),
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=%d" % src["rate"],
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", str(src["gop"]), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-b:v", "%dk" % kbps, "-maxrate", "%dk" % kbps, "-bufsize", "%dk" % (kbps // 2),
            "-c:a", "aac", "-b:a", "%dk" % (src["abits"] // 1000), "-ac", str(src["channels"])]


def player_args(srv, proto, name, seconds=60):
    """A stream-copy player of live/NAME over `proto`, bounded by -t and I/O timeouts."""
    if proto == "rtmp":
        src = ["-rw_timeout", "10000000", "-i", srv.rtmp_url(name)]
    elif proto == "http-flv":
        src = ["-rw_timeout", "10000000", "-i", srv.flv_url(name)]
    else:
        src = ["-rtsp_transport", "tcp", "-timeout", "10000000", "-i", srv.rtsp_url(name)]
    return src + ["-t", str(seconds), "-map", "0", "-c", "copy", "-f", "null", "-"]


def local_ports(pid, remote_port):
    """Local ports of the TCP connections process `pid` has to 127.0.0.1:remote_port,
    from its fds and /proc/net/tcp: who a client is, without asking the server."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            if inode in inodes and state == "01" and int(remote.split(":")[1], 16) == remote_port:
                ports.add(int(local.split(":")[1], 16))
    return ports


class Api:
    """A JSON client of one server's API port."""

    def __init__(self, port, token=None):
        self.port, self.token = port, token

    def wait_listening(self, timeout=10.0):
        """The API listens last, after the ports the harness waits for."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("the API did not accept on port %d within %.0f s"
                                         % (self.port, timeout))
                time.sleep(0.05)

    def call(self, method, path, body=None, headers=None):
        """(status, headers with lower-case keys, body bytes)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            hdrs = dict(headers or {})
            if self.token is not None and "Authorization" not in hdrs:
                hdrs["Authorization"] = "Bearer " + self.token
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, status=200, headers=None):
        """The parsed JSON body, asserting the status and the content type."""
        st, hdrs, data = self.call(method, path, body, headers)
        if st != status:
            raise AssertionError("%s %s: status %d, expected %d: %r" % (method, path, st, status, data))
        if hdrs.get("content-type") != "application/json":
            raise AssertionError("%s %s: content-type %r" % (method, path, hdrs.get("content-type")))
        return json.loads(data)

    def get(self, path, status=200):
        return self.json("GET", path, status=status)


# ---------------------------------------------------------------- Prometheus text

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
METRIC_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_prometheus(text):
    """Text format 0.0.4, strictly: {family: {"type", "help", "samples": {labels: value}}}
    with labels a sorted tuple of (name, value). Raises ValueError on any line that is
    not a HELP, a TYPE or `name{labels} value`, a sample before its family's HELP and
    TYPE, a family split in two, or a sample twice."""
    if not text.endswith("\n"):
        raise ValueError("the exposition does not end with a newline")
    families, current, done = {}, None, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
        if m:
            kind, name, rest = m.groups()
            if name != current:
                if name in done or name in families:
                    raise ValueError("line %d: family %s appears twice" % (n, name))
                if current is not None:
                    done.add(current)
                current = name
                families[name] = {"help": None, "type": None, "samples": {}}
            fam = families[name]
            if fam["samples"] or fam[kind.lower()] is not None:
                raise ValueError("line %d: %s of %s out of place" % (n, kind, name))
            if kind == "TYPE" and rest not in METRIC_TYPES:
                raise ValueError("line %d: unknown type %r" % (n, rest))
            fam[kind.lower()] = rest
            continue
        if line.startswith("#") or not line:
            raise ValueError("line %d: unexpected %r" % (n, line))
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: not `name{labels} value`: %r" % (n, line))
        name, _, labels_text, value = m.groups()
        fam = families.get(current)
        if fam is None or name != current or fam["help"] is None or fam["type"] is None:
            raise ValueError("line %d: sample %s without its HELP and TYPE before it" % (n, name))
        labels, pos = [], 0
        while labels_text and pos < len(labels_text):
            lm = LABEL.match(labels_text, pos)
            if not lm:
                raise ValueError("line %d: bad labels %r" % (n, labels_text))
            labels.append((lm.group(1), lm.group(2)))
            pos = lm.end()
        key = tuple(sorted(labels))
        if key in fam["samples"]:
            raise ValueError("line %d: sample %s%s twice" % (n, name, key))
        fam["samples"][key] = float(value)  # raises ValueError on a non-number
    return families


def by_protocol(families, name):
    return {dict(k)["protocol"]: v for k, v in families[name]["samples"].items()}


def known(counts, zero_elsewhere=True):
    """counts of the protocols of this test; every other protocol (webrtc, and any
    added later) must be 0. Returns the four this test knows."""
    others = {k: v for k, v in counts.items() if k not in ("rtmp", "rtsp", "http-flv", "total")}
    if zero_elsewhere and any(others.values()):
        raise AssertionError("clients of other protocols: %s" % counts)
    return {k: counts.get(k) for k in ("rtmp", "rtsp", "http-flv", "webrtc")}


# ---------------------------------------------------------------- the live test

class ApiLive(harness.E2ETestCase):
    """Two publishers (RTMP, RTSP), three players each, then the API's view of them."""

    def setUp(self):
        super().setUp()
        self.api = Api(self.server.api_port).wait_listening()

    def start_publishers(self):
        srv = self.server
        pubs = {
            "cam": self.spawn_ffmpeg(encoder_args(CAM, 60) + ["-f", "flv", srv.rtmp_url("cam")],
                                     "publisher-rtmp"),
            "cam2": self.spawn_ffmpeg(encoder_args(CAM2, 60) + [
                "-f", "rtsp", "-rtsp_transport", "tcp", srv.rtsp_url("cam2")], "publisher-rtsp"),
        }
        for name, pub in pubs.items():
            self.wait_published(pub, name=name, timeout=20)
        return pubs

    def probe(self, name):
        """ffprobe's own view of the stream's codecs, to compare the API's with."""
        info = harness.ffprobe_json(self.server.rtmp_url(name), [
            "-rw_timeout", "10000000", "-show_entries",
            "stream=codec_type,codec_name,profile,level,width,height,sample_rate,channels"])
        return {s["codec_type"]: s for s in info["streams"]}

    def wait_clients(self, count, what):
        self.wait_until(lambda: len(self.api.get("/api/v1/clients")["clients"]) == count,
                        10, what, interval=0.2)

    def client_of(self, proc, port):
        """The API's client whose remote address is the local port of `proc`'s connection."""
        ports = local_ports(proc.pid, port)
        self.assertEqual(len(ports), 1, "%s: connections to port %d: %s" % (proc.name, port, ports))
        addr = "%s:%d" % (HOST, ports.pop())
        found = [c for c in self.api.get("/api/v1/clients")["clients"] if c["remote_address"] == addr]
        self.assertEqual(len(found), 1, "%s (%s) in the client list: %s" % (proc.name, addr, found))
        return found[0]

    def proto_port(self, proto):
        srv = self.server
        return {"rtmp": srv.rtmp_port, "http-flv": srv.http_port, "rtsp": srv.rtsp_port}[proto]

    def assert_ends(self, proc, t0, what):
        rc = proc.wait(max(0.0, t0 + END_BOUND_S - time.monotonic()))
        self.assertIsNotNone(rc, "%s still running %.0f s after %s: %s"
                             % (proc.name, END_BOUND_S, what, proc.describe()))
        return time.monotonic() - t0

    def test_live_api(self):
        t_start = time.monotonic()
        srv, api = self.server, self.api
        pubs = self.start_publishers()
        probes = {name: self.probe(name) for name in ("cam", "cam2")}

        players = {}
        for name in ("cam", "cam2"):
            for proto in PLAYERS:
                players[name, proto] = self.spawn_ffmpeg(player_args(srv, proto, name),
                                                        "player-%s-%s" % (name, proto))
        self.wait_until(lambda: all(p.frames() >= 25 for p in players.values()), 20,
                        "every player to get 25 frames")
        self.wait_clients(8, "8 clients (2 publishers, 6 players) in /api/v1/clients")

        # -- who is who, from /proc, matched to the API's list
        expected = {}
        for name, pub in pubs.items():
            proto = "rtmp" if name == "cam" else "rtsp"
            expected[pub.name] = (self.client_of(pub, self.proto_port(proto)),
                                  proto, "publisher", "live/" + name)
        for (name, proto), p in players.items():
            expected[p.name] = (self.client_of(p, self.proto_port(proto)), proto, "player",
                                "live/" + name)
        ids = {}
        for pname, (c, proto, role, stream) in expected.items():
            self.assertEqual((c["protocol"], c["role"], c["stream"]), (proto, role, stream), pname)
            self.assertRegex(c["connected"], ISO_TIME)
            self.assertIsInstance(c["id"], int)
            ids[pname] = c["id"]
        self.assertEqual(len(set(ids.values())), 8, "client ids are not unique: %s" % ids)
        for pname, cid in ids.items():
            one = api.get("/api/v1/clients/%d" % cid)
            self.assertEqual((one["id"], one["protocol"], one["role"], one["stream"]),
                             (cid,) + expected[pname][1:], pname)

        # -- the rate windows fill: 5 whole seconds of the stream, 5 stats ticks of a client
        self.wait_until(lambda: time.monotonic() - pubs["cam2"].started >= 8.5, 15, "rate window")
        samples, times = {n: [] for n in pubs}, {n: [] for n in pubs}
        for i in range(5):
            if i:
                time.sleep(0.8)
            for n in pubs:
                samples[n].append(api.get("/api/v1/streams/live/" + n))
                times[n].append(time.monotonic())
        # The publishers' wire rate as the test sees it: bytes_in over 3.2 s.
        wire = {n: (samples[n][-1]["publisher"]["bytes_in"] - samples[n][0]["publisher"]["bytes_in"])
                * 8 / (times[n][-1] - times[n][0]) for n in pubs}
        samples = {n: samples[n][1:] for n in pubs}

        # -- /api/v1/streams/{app}/{name}
        listed = api.get("/api/v1/streams")["streams"]
        self.assertEqual(sorted(s["key"] for s in listed), ["live/cam", "live/cam2"])
        for name, src in (("cam", CAM), ("cam2", CAM2)):
            s = samples[name][-1]
            proto = "rtmp" if name == "cam" else "rtsp"
            pub_name = "publisher-" + proto
            self.assertEqual((s["key"], s["app"], s["name"]), ("live/" + name, "live", name))
            self.assertRegex(s["started"], ISO_TIME)
            self.assertEqual(s["publisher"]["id"], ids[pub_name])
            self.assertEqual(s["publisher"]["protocol"], proto)
            self.assertEqual(s["publisher"]["remote_address"],
                             expected[pub_name][0]["remote_address"])
            pv, pa = probes[name]["video"], probes[name]["audio"]
            v, a = s["video"], s["audio"]
            width, height = map(int, src["size"].split("x"))
            self.assertEqual((v["codec"], v["width"], v["height"]), ("h264", width, height))
            self.assertEqual((pv["codec_name"], pv["width"], pv["height"]), ("h264", width, height))
            self.assertTrue(pv["profile"].endswith(v["profile"]),
                            "profile %r, ffprobe says %r" % (v["profile"], pv["profile"]))
            self.assertAlmostEqual(v["level"], pv["level"] / 10, places=3)
            self.assertLessEqual(abs(v["fps"] - src["fps"]), 1.0, "fps %s" % v["fps"])
            self.assertEqual((a["codec"], a["profile"], a["sample_rate"], a["channels"]),
                             ("aac", "LC", src["rate"], src["channels"]))
            self.assertEqual((int(pa["sample_rate"]), pa["channels"]), (src["rate"], src["channels"]))
            self.assertEqual(s["gop"]["frames"], src["gop"])
            self.assertLessEqual(abs(s["gop"]["ms"] - 1000 * src["gop"] / src["fps"]), 40)
            self.assertEqual(s["subscribers"]["total"], 3)
            self.assertEqual(known(s["subscribers"]), {"rtmp": 1, "rtsp": 1, "http-flv": 1, "webrtc": 0})
            self.assertEqual(s["bytes_in"], s["publisher"]["bytes_in"])
            self.assertGreater(s["frames_in"], 8 * (src["fps"] + src["rate"] / 1024))
            source = src["vbits"] + src["abits"]
            rates = [x["bitrate_in"] for x in samples[name]]
            pub_rates = [x["publisher"]["bitrate_in"] for x in samples[name]]
            note("%s (%s in): bitrate_in %s = %.3f..%.3f of the source's %d; publisher "
                 "bitrate_in (wire) %s, measured wire %.0f; players' bitrate_out %s" % (
                     name, proto, rates, min(rates) / source, max(rates) / source, source,
                     pub_rates, wire[name], s["bitrate_out"]))
            for r in rates:
                self.assertLessEqual(abs(r - source), BITRATE_TOLERANCE * source,
                                     "%s: bitrate_in %d, source %d" % (name, r, source))
            # A client's bitrate counts wire bytes (>= the payload), over the last ticks.
            for r in pub_rates:
                self.assertLessEqual(abs(r - wire[name]), 0.30 * wire[name],
                                     "%s: publisher bitrate_in %d, measured %d" % (name, r, wire[name]))
            self.assertLessEqual(abs(s["bitrate_out"] - 3 * wire[name]), 0.35 * 3 * wire[name])

        # -- /api/v1/server
        server = api.get("/api/v1/server")
        self.assertEqual((server["streams"], server["connections"]), (2, 8))
        conns = {p: v["connections"] for p, v in server["protocols"].items()}
        self.assertEqual(known(conns), {"rtmp": 3, "rtsp": 3, "http-flv": 2, "webrtc": 0})
        self.assertEqual(server["bytes_in"], sum(v["bytes_in"] for v in server["protocols"].values()))
        self.assertEqual(server["bytes_out"], sum(v["bytes_out"] for v in server["protocols"].values()))
        self.assertGreater(server["protocols"]["http-flv"]["bytes_out"], 500_000)
        self.assertRegex(server["started"], ISO_TIME)
        self.assertGreaterEqual(server["uptime_s"], 5)

        # -- /metrics: the same numbers
        fams = self.metrics()
        self.assertEqual(fams["sluice_streams"]["samples"][()], 2)
        self.assertEqual(known(by_protocol(fams, "sluice_clients")),
                         {"rtmp": 3, "rtsp": 3, "http-flv": 2, "webrtc": 0})
        self.assertEqual(known(by_protocol(fams, "sluice_publishers")),
                         {"rtmp": 1, "rtsp": 1, "http-flv": 0, "webrtc": 0})
        sent_before = by_protocol(fams, "sluice_sent_bytes_total")
        for proto in ("rtmp", "rtsp", "http-flv"):
            self.assertGreaterEqual(sent_before[proto], server["protocols"][proto]["bytes_out"])

        # -- kick one player: its process ends, it leaves the list
        victim = players["cam", "rtmp"]
        vid = ids[victim.name]
        t0 = time.monotonic()
        self.assertEqual(api.json("DELETE", "/api/v1/clients/%d" % vid), {"kicked": vid})
        took = self.assert_ends(victim, t0, "DELETE /api/v1/clients/%d" % vid)
        self.wait_clients(7, "the kicked player to leave the list")
        self.assertNotIn(vid, [c["id"] for c in api.get("/api/v1/clients")["clients"]])
        self.assertEqual(api.get("/api/v1/clients/%d" % vid, status=404), {"error": "no such client"})
        self.assertEqual(api.json("DELETE", "/api/v1/clients/%d" % vid, status=404),
                         {"error": "no such client"})
        note("DELETE /api/v1/clients/%d (rtmp player): process ended after %.2f s" % (vid, took))
        for (name, proto), p in players.items():
            if p is not victim:
                self.assertIsNone(p.poll(), "%s ended with the kick of another" % p.name)

        # -- XIU's routes: now cam has 2 players, cam2 3
        kicked = {victim.name, self.check_xiu(ids, players)}

        # -- kick the publishers: streams 404, their players end
        sent_mid = by_protocol(self.metrics(), "sluice_sent_bytes_total")
        for name, proto in (("cam", "rtmp"), ("cam2", "rtsp")):
            pid = ids["publisher-" + proto]
            t0 = time.monotonic()
            self.assertEqual(api.json("DELETE", "/api/v1/streams/live/" + name), {"kicked": pid})
            self.wait_until(lambda: self.api.call("GET", "/api/v1/streams/live/" + name)[0] == 404,
                            END_BOUND_S, "live/%s to be gone" % name)
            self.assertEqual(api.get("/api/v1/streams/live/" + name, status=404),
                             {"error": "no such stream"})
            gone = time.monotonic() - t0
            ends = {}
            for (n, p_proto), p in players.items():
                if n == name and p.name not in kicked:
                    ends[p_proto] = self.assert_ends(p, t0, "DELETE /api/v1/streams/live/" + name)
            ends["publisher"] = self.assert_ends(pubs[name], t0, "its kick")
            note("DELETE /api/v1/streams/live/%s (%s publisher): 404 after %.2f s; processes "
                 "ended after %s s" % (name, proto, gone,
                                       {k: round(v, 2) for k, v in ends.items()}))
        self.wait_clients(0, "every client gone")
        self.assertEqual(api.get("/api/v1/streams"), {"streams": []})
        fams = self.metrics()
        self.assertEqual(fams["sluice_streams"]["samples"][()], 0)
        self.assertEqual(known(by_protocol(fams, "sluice_clients")),
                         {"rtmp": 0, "rtsp": 0, "http-flv": 0, "webrtc": 0})
        sent_after = by_protocol(fams, "sluice_sent_bytes_total")
        for proto in ("rtmp", "rtsp", "http-flv"):  # counters keep closed sessions' bytes
            self.assertGreaterEqual(sent_after[proto], sent_mid[proto], proto)
        server = api.get("/api/v1/server")
        self.assertEqual(server["connections"], 0)
        self.assertEqual(server["bytes_out"], sum(sent_after.values()))
        note("live API test took %.1f s" % (time.monotonic() - t_start))

    def metrics(self):
        status, hdrs, body = self.api.call("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        fams = parse_prometheus(body.decode("utf-8"))
        for name in ("sluice_streams", "sluice_clients", "sluice_publishers",
                     "sluice_received_bytes_total", "sluice_sent_bytes_total",
                     "sluice_auth_failures_total", "sluice_frames_dropped_total",
                     "sluice_hook_failures_total", "process_resident_memory_bytes",
                     "process_cpu_seconds_total", "process_start_time_seconds"):
            self.assertIn(name, fams)
        for name, fam in fams.items():
            self.assertEqual(fam["type"], "counter" if name.endswith("_total") else "gauge", name)
        return fams

    def check_xiu(self, ids, players):
        """XIU's three routes; kicks cam2's HTTP-FLV player and returns its name."""
        api = self.api
        whole = api.get("/api/query_whole_streams")
        self.assertEqual((whole["error_code"], whole["desp"]), (0, "succ"))
        self.assertEqual([d["subscriber_count"] for d in whole["data"]], [3, 2],
                         "not sorted by subscribers")
        top = api.get("/api/query_whole_streams?top=1")
        self.assertEqual((top["error_code"], top["desp"], len(top["data"])), (0, "succ", 1))
        cam2 = top["data"][0]
        ident = cam2["publisher"]["identifier"]
        self.assertEqual(list(ident), ["rtsp"])
        # XIU names an RTSP stream {"stream_path": "live/cam2"}; either shape names it.
        self.assertIn(ident["rtsp"].get("stream_path", "%s/%s" % (
            ident["rtsp"].get("app_name"), ident["rtsp"].get("stream_name"))), ("live/cam2",))
        cam = whole["data"][1]
        self.assertEqual(cam["publisher"]["identifier"],
                         {"rtmp": {"app_name": "live", "stream_name": "cam"}})
        self.assertEqual(cam["publisher"]["id"], str(ids["publisher-rtmp"]))
        self.assertEqual((cam["publisher"]["video"]["codec"], cam["publisher"]["video"]["width"],
                          cam["publisher"]["video"]["gop"], cam["publisher"]["audio"]["sound_format"],
                          cam["publisher"]["audio"]["samplerate"]), ("H264", 640, 50, "AAC", 44100))
        self.assertEqual(sorted(cam["subscribers"]), sorted(
            str(ids[players["cam", p].name]) for p in ("http-flv", "rtsp")))
        kbits = cam["publisher"]["recv_bitrate(kbits/s)"]
        self.assertLessEqual(abs(kbits * 1000 - 928_000), BITRATE_TOLERANCE * 928_000)

        # query_stream: the identifier alone, with a subscriber's uuid, with the publisher's
        ident = {"identifier": {"rtmp": {"app_name": "live", "stream_name": "cam2"}}}
        full = api.json("POST", "/api/query_stream", ident)
        self.assertEqual((full["error_code"], len(full["data"]), full["data"][0]["subscriber_count"],
                          len(full["data"][0]["subscribers"])), (0, 1, 3, 3))
        rtsp_player = str(ids[players["cam2", "rtsp"].name])
        one = api.json("POST", "/api/query_stream", dict(ident, uuid=rtsp_player))
        subs = one["data"][0]["subscribers"]
        self.assertEqual(list(subs), [rtsp_player])
        self.assertEqual((subs[rtsp_player]["id"], subs[rtsp_player]["sub_type"]),
                         (rtsp_player, "PlayerRtsp"))
        self.assertEqual(one["data"][0]["subscriber_count"], 3)
        by_path = api.json("POST", "/api/query_stream",
                           {"identifier": {"rtsp": {"stream_path": "live/cam2"}},
                            "uuid": str(ids["publisher-rtsp"])})
        self.assertEqual(by_path["data"][0]["subscribers"], {})
        self.assertEqual(by_path["data"][0]["publisher"]["id"], str(ids["publisher-rtsp"]))
        types = {s["sub_type"] for s in full["data"][0]["subscribers"].values()}
        self.assertEqual(types, {"PlayerRtmp", "PlayerHttpFlv", "PlayerRtsp"})
        missing = api.json("POST", "/api/query_stream",
                           {"identifier": {"rtmp": {"app_name": "live", "stream_name": "nope"}}},
                           status=404)
        self.assertEqual(missing, {"error_code": -1, "desp": "no such stream", "data": None})

        # kick_off_client: the HTTP-FLV player of cam2
        victim = players["cam2", "http-flv"]
        t0 = time.monotonic()
        self.assertEqual(api.json("POST", "/api/kick_off_client", {"uuid": str(ids[victim.name])}),
                         {"error_code": 0, "desp": "succ", "data": None})
        took = self.assert_ends(victim, t0, "kick_off_client")
        self.wait_clients(6, "the player kicked with kick_off_client to leave")
        note("kick_off_client (http-flv player): process ended after %.2f s" % took)
        self.assertEqual(api.json("POST", "/api/kick_off_client", {"uuid": str(ids[victim.name])},
                                  status=404),
                         {"error_code": -1, "desp": "no such client", "data": None})
        return victim.name


# ---------------------------------------------------------------- without media

class ApiErrors(harness.E2ETestCase):
    """Statuses and error bodies on an idle server."""

    def test_errors_and_idle_views(self):
        api = Api(self.server.api_port).wait_listening()
        # The harness's readiness probes (an RTMP and an RTSP connection) are sessions
        # that close a moment after start: wait for them to go, bounded.
        deadline = time.monotonic() + 3
        server = api.get("/api/v1/server")
        while server["connections"] and time.monotonic() < deadline:
            time.sleep(0.05)
            server = api.get("/api/v1/server")
        self.assertEqual((server["streams"], server["connections"]), (0, 0))
        self.assertLessEqual({"rtmp", "rtsp", "http-flv", "webrtc"}, set(server["protocols"]))
        self.assertEqual(api.get("/api/v1/streams"), {"streams": []})
        self.assertEqual(api.get("/api/v1/clients"), {"clients": []})
        self.assertEqual(api.get("/api/query_whole_streams"),
                         {"error_code": 0, "desp": "succ", "data": []})
        for path in ("/", "/nope", "/api/v1/nope", "/api/v1/server/x", "/api/v1/x/y"):
            self.assertEqual(api.get(path, status=404), {"error": "no such route"}, path)
        for path in ("/api/v1/streams/live/nope", "/api/v1/streams/live", "/api/v1/streams/a/b/c"):
            self.assertEqual(api.get(path, status=404), {"error": "no such stream"}, path)
        for path in ("/api/v1/clients/1", "/api/v1/clients/0", "/api/v1/clients/x",
                     "/api/v1/clients/99999999999999999999"):
            self.assertEqual(api.get(path, status=404), {"error": "no such client"}, path)
        self.assertEqual(api.json("DELETE", "/api/v1/streams/live/nope", status=404),
                         {"error": "no such stream"})
        self.assertEqual(api.json("POST", "/api/v1/streams", status=405), {"error": "use GET"})
        self.assertEqual(api.json("DELETE", "/api/v1/clients", status=405), {"error": "use GET"})
        xiu_err = {"error_code": -1, "data": None}
        self.assertEqual(api.json("GET", "/api/query_stream", status=405), dict(xiu_err, desp="use POST"))
        self.assertEqual(api.json("GET", "/api/kick_off_client", status=405),
                         dict(xiu_err, desp="use POST"))
        self.assertEqual(api.json("GET", "/api/nope", status=404), dict(xiu_err, desp="no such route"))
        self.assertEqual(api.json("POST", "/api/query_stream", b"not json", status=400),
                         dict(xiu_err, desp="the body must be a JSON object"))
        self.assertEqual(api.json("POST", "/api/query_stream", {"identifier": {}}, status=400),
                         dict(xiu_err, desp="identifier missing or invalid"))
        self.assertEqual(api.json("POST", "/api/kick_off_client", {"uuid": "1"}, status=404),
                         dict(xiu_err, desp="no such client"))
        fams = parse_prometheus(api.call("GET", "/metrics")[2].decode())
        self.assertEqual(known(by_protocol(fams, "sluice_clients")),
                         {"rtmp": 0, "rtsp": 0, "http-flv": 0, "webrtc": 0})
        self.assertGreater(fams["process_resident_memory_bytes"]["samples"][()], 1 << 20)
        # The media HTTP listener does not serve the API.
        self.assertEqual(harness.http_request(self.server.http_port, "/api/v1/server")[0], 404)

    def test_prometheus_parser_rejects(self):
        """The parser above can fail: each of these must raise."""
        good = "# HELP a_total A.\n# TYPE a_total counter\na_total{protocol=\"x\"} 1\n"
        parse_prometheus(good)
        for bad in (good[:-1],                                           # no final newline
                    "a 1\n",                                             # no HELP/TYPE
                    "# TYPE a gauge\na 1\n",                             # no HELP
                    "# HELP a A.\n# TYPE a gauge\nb 1\n",                # sample of another family
                    "# HELP a A.\n# TYPE a gauge\na x\n",                # not a number
                    "# HELP a A.\n# TYPE a gauge\na{p=x} 1\n",           # unquoted label
                    "# HELP a A.\n# TYPE a gauge\na 1\na 2\n",           # duplicate sample
                    "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\n"
                    "# HELP a A.\n# TYPE a gauge\n",                     # family split
                    "# HELP a A.\n# TYPE a thing\na 1\n"):               # unknown type
            with self.assertRaises(ValueError, msg=repr(bad)):
                parse_prometheus(bad)


class ApiToken(harness.E2ETestCase):
    """api.token: every route needs `Authorization: Bearer <token>`."""

    config = {"api": {"token": "s3cret-token"}}

    def test_bearer_token(self):
        port = self.server.api_port
        plain = Api(port).wait_listening()
        refused = {"error": "bearer token required"}
        cases = [None, "Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-tokenX",
                 "Basic czNjcmV0LXRva2Vu", "s3cret-token", "Bearer ", "Bearer  s3cret-token"]
        for path in ("/api/v1/server", "/api/v1/streams", "/metrics", "/api/query_whole_streams",
                     "/api/v1/nope"):
            for auth in cases:
                headers = {"Authorization": auth} if auth is not None else {}
                status, hdrs, body = plain.call("GET", path, headers=headers)
                self.assertEqual(status, 401, "%s with %r" % (path, auth))
                self.assertEqual(hdrs.get("www-authenticate"), "Bearer")
                self.assertEqual(json.loads(body), refused)
        status, _, _ = plain.call("POST", "/api/kick_off_client", b'{"uuid":"1"}')
        self.assertEqual(status, 401)
        good = Api(port, token="s3cret-token")
        self.assertEqual(good.get("/api/v1/server")["connections"], 0)
        self.assertEqual(good.get("/api/v1/streams"), {"streams": []})
        self.assertEqual(good.get("/api/v1/nope", status=404), {"error": "no such route"})
        self.assertEqual(good.call("GET", "/metrics")[0], 200)
        self.assertEqual(plain.call("GET", "/api/v1/server",
                                    headers={"Authorization": "bearer s3cret-token"})[0], 200)
        self.assertIn("refused: wrong or missing bearer token", self.server.log_text())


if __name__ == "__main__":
    unittest.main()
