"""Sources (relay.sources and /api/v1/pulls, docs/relay.md): streams an edge pulls from
cameras or other servers, on demand or always.

The camera stand-in is a second sluice with RTSP credentials (`rtsp.user`/`password`,
Digest), into which ffmpeg publishes H.264 640x360 + AAC over RTMP. The edge pulls it
over RTSP with the credentials in the URL, over TCP, UDP and auto; players on the edge
(HTTP-FLV, HLS) decode it. Checked from the outside: the camera's log (every RTSP or
RTMP connection it accepts is a line) and client list, the edge's /api/v1/pulls and its
sockets (/proc), what the players get. Wrong credentials are reported (401) and retried
with doubling waits; 300 on-demand sources cost no connection and no CPU; a source
added through the API plays and ends when deleted; an `always_on` source is pulled with
nobody watching.
"""

import json
import os
import time
import unittest

import harness
from harness import HOST, note
from test_api import Api, local_ports
from test_relay_push import RelayPushCase, log_lines

USER, PASSWORD = "cam", "Pw4camera"
WRONG = "Wr0ngPass"
IDLE_MS = 2000
RECORD_S = 5


def pulls(srv):
    return Api(srv.api_port).json("GET", "/api/v1/pulls")["pulls"]


def pull_of(srv, key):
    found = [p for p in pulls(srv) if p["stream"] == key]
    return found[0] if found else None


def streams(srv):
    return [s["key"] for s in Api(srv.api_port).json("GET", "/api/v1/streams")["streams"]]


def camera_players(cam, key="live/cam"):
    clients = Api(cam.api_port).json("GET", "/api/v1/clients")["clients"]
    return [c for c in clients if c["role"] == "player" and c["stream"] == key]


def socket_inodes(pid):
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def udp_sockets(pid):
    """{local port: datagrams the kernel dropped for want of buffer} of the process's
    UDP sockets (IPv4), from /proc/net/udp."""
    inodes = socket_inodes(pid)
    out = {}
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[9] in inodes:
                out[int(cols[1].split(":")[1], 16)] = int(cols[-1])
    return out


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


class SourcesCase(RelayPushCase):
    """A camera stand-in and an edge, in workdir/camera and workdir/edge."""

    def camera(self, publish=True):
        cam = self.sluice("camera", {"rtsp": {"user": USER, "password": PASSWORD}})
        if publish:
            cam.publisher = self.publish(server=cam, seconds=120, proc_name="camera-publisher")
            self.wait_published(cam.publisher, server=cam)
        cam.base_rtsp = cam.log_text().count("rtsp connect from")
        cam.base_rtmp = cam.log_text().count("rtmp connect from")
        return cam

    def cam_url(self, cam, path="live/cam", password=PASSWORD):
        return "rtsp://%s:%s@%s:%d/%s" % (USER, password, HOST, cam.rtsp_port, path)

    def rtsp_connects(self, cam):
        """RTSP connections the camera accepted since the test's own start-up probes."""
        return cam.log_text().count("rtsp connect from") - cam.base_rtsp

    def rtmp_connects(self, cam):
        return cam.log_text().count("rtmp connect from") - cam.base_rtmp

    def edge(self, sources=(), **relay):
        cfg = {"idle_timeout_ms": IDLE_MS}
        cfg.update(relay)
        if sources:
            cfg["sources"] = list(sources)
        return self.sluice("edge", {"relay": cfg})

    def flv_reader(self, srv, key, max_seconds=60):
        app, name = key.split("/")
        r = harness.HttpFlvReader(srv.http_port, srv.flv_path(name, app), max_seconds)
        r.start()
        self.addCleanup(r.stop)
        return r

    def start_player(self, url, name, seconds=RECORD_S):
        path = self.workdir / (name + ".flv")
        proc = self.spawn_ffmpeg(["-y", "-rw_timeout", "15000000", "-i", url, "-t", str(seconds),
                                  "-map", "0", "-c", "copy", "-copyinkf", "-f", "flv", path], name)
        return proc, path

    def finish_player(self, rec, label, min_video=100, min_audio=170):
        proc, path = rec
        rc = proc.wait(RECORD_S + 25)
        self.assertEqual(rc, 0, "%s: the player failed: %s" % (label, proc.describe()))
        self.assert_av_file(path, min_video=min_video, min_audio=min_audio, label=label)

    def assert_redacted(self, edge, password):
        """The password is nowhere in the API's answers or the edge's log."""
        for path in ("/api/v1/pulls", "/api/v1/relays", "/api/v1/clients", "/api/v1/streams"):
            _, _, body = Api(edge.api_port).call("GET", path)
            self.assertNotIn(password.encode(), body, "the password shown by %s" % path)
        self.assertNotIn(password, edge.log_text(), "the password written to the edge's log")

    def wait_state(self, edge, key, states, timeout):
        self.wait_until(lambda: (pull_of(edge, key) or {}).get("state") in states, timeout,
                        "%s in state %s (now %s)" % (key, states, pull_of(edge, key)))


class RtspSources(SourcesCase):

    def test_digest_over_tcp_udp_and_auto_on_demand(self):
        cam = self.camera()
        e = self.edge(["cams/tcp %s transport=tcp" % self.cam_url(cam),
                       "cams/udp %s transport=udp" % self.cam_url(cam),
                       "cams/auto %s" % self.cam_url(cam)])
        time.sleep(2)
        listed = {p["stream"]: p for p in pulls(e)}
        note("edge's pulls before any player: %s" % sorted(
            (k, p["state"], p["transport"], p["url"]) for k, p in listed.items()))
        self.assertEqual(sorted(listed), ["cams/auto", "cams/tcp", "cams/udp"])
        for key, want in (("cams/tcp", "tcp"), ("cams/udp", "udp"), ("cams/auto", "auto")):
            p = listed[key]
            self.assertEqual((p["state"], p["on_demand"], p["transport"], p["retries"]),
                             ("idle", True, want, 0), p)
            self.assertEqual(p["url"], "rtsp://%s:***@%s:%d/live/cam" % (USER, HOST, cam.rtsp_port))
        self.assertEqual(self.rtsp_connects(cam), 0, "the edge connected to the camera unasked")
        self.assertEqual(camera_players(cam), [])
        self.assertEqual(streams(e), [])
        udp_before = udp_sockets(e.pid)

        # TCP: an HTTP-FLV player asks; the edge pulls over the RTSP connection only.
        reader = self.flv_reader(e, "cams/tcp")
        rec = self.start_player(e.flv_url("tcp", "cams"), "tcp-flv")
        self.wait_until(lambda: reader.video_frames >= 1 or reader.end is not None, 15,
                        "a first frame of cams/tcp")
        self.assertEqual(reader.status, 200, reader.end)
        ttff_tcp = reader.first_video_time - reader.connect_time
        self.finish_player(rec, "cams/tcp (RTSP over TCP, Digest) over HTTP-FLV")
        self.assertEqual(udp_sockets(e.pid), udp_before, "UDP sockets for transport=tcp")
        players = camera_players(cam)
        self.assertEqual(len(players), 1, "the camera's players: %s" % players)
        self.assertEqual(players[0]["protocol"], "rtsp")
        self.assertEqual(pull_of(e, "cams/tcp")["state"], "live")
        self.assertGreater(pull_of(e, "cams/tcp")["bytes_in"], 100000)

        # UDP and auto: HLS and HTTP-FLV players.
        r_udp, r_auto = self.flv_reader(e, "cams/udp"), self.flv_reader(e, "cams/auto")
        recs = [(self.start_player(e.flv_url("udp", "cams"), "udp-flv"),
                 "cams/udp (RTSP over UDP, Digest) over HTTP-FLV"),
                (self.start_player(e.hls_url("udp", "cams"), "udp-hls"),
                 "cams/udp over HLS"),
                (self.start_player(e.flv_url("auto", "cams"), "auto-flv"),
                 "cams/auto over HTTP-FLV")]
        self.wait_until(lambda: r_udp.video_frames >= 1 and r_auto.video_frames >= 1, 15,
                        "first frames of cams/udp and cams/auto (ends: %s %s)" % (r_udp.end, r_auto.end))
        time.sleep(1)
        udp_during = udp_sockets(e.pid)
        players = camera_players(cam)
        note("time to first frame: tcp %.2f s, udp %.2f s, auto %.2f s; the edge's UDP sockets "
             "%d before, %d with udp+auto pulled; camera players %d"
             % (ttff_tcp, r_udp.first_video_time - r_udp.connect_time,
                r_auto.first_video_time - r_auto.connect_time, len(udp_before), len(udp_during),
                len(players)))
        self.assertGreaterEqual(len(udp_during) - len(udp_before), 4,
                                "transport udp/auto pulled without UDP sockets: %s" % udp_during)
        self.assertEqual(len(players), 3, "the camera's players: %s" % players)
        for rec, label in recs:
            proc, _ = rec
            proc.wait(RECORD_S + 25)
            # A frame lost over UDP costs the rest of its GOP: say where the loss was.
            note("%s: the edge's UDP sockets dropped %s datagrams (kernel, buffer full)"
                 % (label, {p: d for p, d in udp_sockets(e.pid).items() if d}))
            self.finish_player(rec, label)
        for key in ("cams/tcp", "cams/udp", "cams/auto"):
            self.assertEqual(pull_of(e, key)["state"], "live", pull_of(e, key))
        self.assert_redacted(e, PASSWORD)

        # Everyone leaves: each pull back to idle, the camera without players.
        for r in (reader, r_udp, r_auto):
            r.stop()
        left = time.monotonic()
        done = {}
        while len(done) < 2 and time.monotonic() < left + IDLE_MS / 1000 + 5:
            if "pulls" not in done and all(p["state"] == "idle" for p in pulls(e)):
                done["pulls"] = time.monotonic() - left
            if "camera" not in done and not camera_players(cam):
                done["camera"] = time.monotonic() - left
            time.sleep(0.1)
        note("idle stop of the sources (idle_timeout_ms %d): pulls idle %s s, camera without "
             "players %s s after the last player left" % (IDLE_MS, done.get("pulls"),
                                                          done.get("camera")))
        self.assertEqual(sorted(done), ["camera", "pulls"], "not stopped: %s %s"
                         % (pulls(e), camera_players(cam)))
        for s in done.values():
            self.assertGreaterEqual(s, IDLE_MS / 1000 - 0.25)
            self.assertLess(s, IDLE_MS / 1000 + 2.5)
        self.assertEqual(streams(e), [])

    def test_wrong_credentials_reported_and_backed_off(self):
        cam = self.camera()
        t0 = time.time()
        e = self.edge(["cams/bad %s transport=tcp always_on" % self.cam_url(cam, password=WRONG)])
        time.sleep(10 - (time.time() - t0))
        attempts = [t for t, _ in log_lines(cam, "rtsp connect from")][cam.base_rtsp:]
        refusals = len(log_lines(cam, "401 Unauthorized"))
        p = pull_of(e, "cams/bad")
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        note("wrong password: %d connections to the camera in 10 s (%d 401s), %s s apart; "
             "pull %s" % (len(attempts), refusals, ["%.2f" % g for g in gaps], p))
        self.assertIsNotNone(p)
        self.assertIn("401", p["last_error"] or "", p)
        self.assertIn(p["state"], ("waiting", "connecting"), p)
        self.assertGreaterEqual(p["retries"], 2, p)
        self.assertGreaterEqual(len(attempts), 3, "not retried")
        self.assertLessEqual(len(attempts), 5, "not backed off")
        self.assertGreaterEqual(refusals, len(attempts) - 1)
        for gap, want in zip(gaps, (1.0, 2.0, 4.0)):
            self.assertGreaterEqual(gap, want - 0.1, "waits %s" % gaps)
            self.assertLess(gap, want + 0.75, "waits %s" % gaps)
        self.assertEqual(p["url"], "rtsp://%s:***@%s:%d/live/cam" % (USER, HOST, cam.rtsp_port))
        self.assertEqual(streams(e), [])
        self.assert_redacted(e, WRONG)


class ManySources(SourcesCase):

    def test_300_on_demand_sources_cost_nothing(self):
        cam = self.camera()
        rules = []
        for i in range(300):
            if i == 7:
                rules.append("cams/c7 %s transport=tcp" % self.cam_url(cam))
            elif i % 2:
                rules.append("cams/c%d rtmp://%s:%d/live/cam%d" % (i, HOST, cam.rtmp_port, i))
            else:
                rules.append("cams/c%d %s" % (i, self.cam_url(cam, "live/cam%d" % i)))
        e = self.edge(rules)
        time.sleep(2)
        cpu0, t0 = cpu_seconds(e.pid), time.monotonic()
        time.sleep(3)
        cpu = cpu_seconds(e.pid) - cpu0
        span = time.monotonic() - t0
        listed = pulls(e)
        states = {}
        for p in listed:
            states[p["state"]] = states.get(p["state"], 0) + 1
        note("300 on-demand sources: edge CPU %.3f s in %.1f s, pulls %d %s, camera RTSP/RTMP "
             "connections %d/%d, edge connections to the camera %d"
             % (cpu, span, len(listed), states, self.rtsp_connects(cam), self.rtmp_connects(cam),
                len(local_ports(e.pid, cam.rtsp_port) | local_ports(e.pid, cam.rtmp_port))))
        self.assertEqual(len(listed), 300)
        self.assertEqual(states, {"idle": 300})
        self.assertTrue(all(p["on_demand"] and p["retries"] == 0 for p in listed))
        self.assertEqual(len({p["id"] for p in listed}), 300, "pull ids not unique")
        self.assertEqual((self.rtsp_connects(cam), self.rtmp_connects(cam)), (0, 0))
        self.assertEqual(local_ports(e.pid, cam.rtsp_port) | local_ports(e.pid, cam.rtmp_port), set())
        self.assertEqual(streams(e), [])
        self.assertEqual([r for r in Api(e.api_port).json("GET", "/api/v1/relays")["relays"]
                          if r["kind"] == "pull"], [])
        self.assertLess(cpu, 0.15 * span, "the edge is busy with nothing to do")

        # One of them watched: one connection, the others still idle.
        reader = self.flv_reader(e, "cams/c7")
        self.wait_until(lambda: reader.video_frames >= 50 or reader.end is not None, 15,
                        "50 frames of cams/c7")
        self.assertEqual(reader.status, 200, reader.end)
        states = {}
        for p in pulls(e):
            states[p["state"]] = states.get(p["state"], 0) + 1
        note("cams/c7 watched: first frame %.2f s after the request; pulls %s; camera RTSP "
             "connections %d" % (reader.first_video_time - reader.connect_time, states,
                                 self.rtsp_connects(cam)))
        self.assertEqual(states, {"idle": 299, "live": 1})
        self.assertEqual(pull_of(e, "cams/c7")["state"], "live")
        self.assertEqual(len(camera_players(cam)), 1)
        self.assertEqual(self.rtmp_connects(cam), 0)


class ApiSources(SourcesCase):

    def test_post_play_delete(self):
        cam = self.camera()
        e = self.edge()
        api = Api(e.api_port)
        body = {"stream": "cams/x", "url": self.cam_url(cam), "transport": "tcp", "on_demand": True}
        p = api.json("POST", "/api/v1/pulls", body, status=201)
        note("POST /api/v1/pulls: %s" % p)
        self.assertEqual((p["stream"], p["transport"], p["on_demand"], p["state"]),
                         ("cams/x", "tcp", True, "idle"), p)
        self.assertEqual(p["url"], "rtsp://%s:***@%s:%d/live/cam" % (USER, HOST, cam.rtsp_port))
        self.assertEqual([x["id"] for x in pulls(e)], [p["id"]])
        refusals = []
        for label, data, want in (
                ("same key", body, 409),
                ("bad JSON", b'{"stream": "cams/y", "url": ', 400),
                ("not a JSON object", b'["cams/y"]', 400),
                ("http URL", dict(body, stream="cams/y", url="http://%s:1/live/cam" % HOST), 400),
                ("no URL", {"stream": "cams/y"}, 400),
                ("bad key", dict(body, stream="no key with spaces"), 400),
                ("empty key", dict(body, stream=""), 400)):
            st, _, resp = api.call("POST", "/api/v1/pulls", data,
                                   headers={"Content-Type": "application/json"})
            refusals.append("%s %d" % (label, st))
            self.assertEqual(st, want, "%s: %r" % (label, resp))
        note("refused POSTs: " + ", ".join(refusals))
        self.assertEqual(len(pulls(e)), 1)
        self.assertEqual(self.rtsp_connects(cam), 0)

        reader = self.flv_reader(e, "cams/x")
        player = self.spawn_ffmpeg(harness.player_args(e.rtmp_url("x", "cams"), 60), "rtmp-player")
        self.wait_until(lambda: (reader.video_frames >= 50 and player.frames() >= 25)
                        or reader.end is not None, 15, "frames of cams/x at both players")
        self.assertEqual(reader.status, 200, reader.end)
        self.assertEqual(pull_of(e, "cams/x")["state"], "live")
        self.assertEqual(len(camera_players(cam)), 1)
        self.assert_redacted(e, PASSWORD)

        st, _, resp = api.call("DELETE", "/api/v1/pulls/%s" % p["id"])
        deleted = time.monotonic()
        self.assertEqual(st, 204, resp)
        reader.join(5)
        rc = player.wait(5 - (time.monotonic() - deleted))
        note("DELETE: HTTP-FLV player ended %s (%s), RTMP player exited %s (%.2f s after)"
             % (reader.end, "%.2f s after" % (time.monotonic() - deleted), rc,
                (player.ended or time.monotonic()) - deleted))
        self.assertIn(reader.end, ("terminator", "eof"), "the HTTP-FLV player did not end")
        self.assertIsNotNone(rc, "the RTMP player still runs 5 s after the DELETE")
        self.assertEqual(pulls(e), [])
        self.assertEqual(api.call("DELETE", "/api/v1/pulls/%s" % p["id"])[0], 404)
        self.assertEqual(api.call("DELETE", "/api/v1/pulls/999999")[0], 404)
        self.wait_until(lambda: not camera_players(cam), 3, "the camera's player to go")
        status, _, _, elapsed = harness.http_get(e.http_port, e.flv_path("x", "cams"))
        self.assertEqual(status, 404)
        self.assertLess(elapsed, 1.0)
        self.assertNotIn("cams/x", streams(e))


class AlwaysOn(SourcesCase):

    def test_always_on_without_a_viewer(self):
        cam = self.camera()
        t0 = time.monotonic()
        e = self.edge(["cams/always %s transport=tcp always_on" % self.cam_url(cam)])
        self.wait_until(lambda: "cams/always" in streams(e), 10, "cams/always pulled without a viewer")
        up = time.monotonic() - t0
        p = pull_of(e, "cams/always")
        self.assertEqual((p["state"], p["on_demand"]), ("live", False), p)
        self.assertEqual(len(camera_players(cam)), 1)

        # An RTMP source added at run time, not on demand: pulled at once as well.
        posted = Api(e.api_port).json("POST", "/api/v1/pulls", {
            "stream": "cams/posted", "url": "rtmp://%s:%d/live/cam" % (HOST, cam.rtmp_port),
            "on_demand": False}, status=201)
        t1 = time.monotonic()
        self.wait_until(lambda: "cams/posted" in streams(e), 10, "cams/posted pulled without a viewer")
        up2 = time.monotonic() - t1
        self.assertFalse(posted["on_demand"])

        reader = self.flv_reader(e, "cams/always")
        self.wait_until(lambda: reader.video_frames >= 25 or reader.end is not None, 10,
                        "frames of cams/always")
        self.assertEqual(reader.status, 200, reader.end)
        ttff = reader.first_video_time - reader.connect_time
        reader.stop()
        time.sleep(IDLE_MS / 1000 + 1.5)
        note("always_on: RTSP source live %.2f s after the edge started, RTMP source POSTed live "
             "%.2f s after; a player's first frame %.3f s after its request; after the player "
             "left + idle timeout: %s / %s"
             % (up, up2, ttff, pull_of(e, "cams/always")["state"], pull_of(e, "cams/posted")["state"]))
        self.assertLess(ttff, 1.0, "an always-on stream made its player wait")
        self.assertTrue(reader.first_video_frame().key)
        self.assertEqual(pull_of(e, "cams/always")["state"], "live")
        self.assertEqual(pull_of(e, "cams/posted")["state"], "live")
        self.assertEqual(sorted(streams(e)), ["cams/always", "cams/posted"])


if __name__ == "__main__":
    unittest.main()
