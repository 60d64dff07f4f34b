"""On-demand pull (relay.pull, docs/relay.md): edge servers that fetch a stream from an
origin when a player asks them for it.

An origin sluice gets ffmpeg's H.264 640x360 + AAC over RTMP; two edges with a
`live/*` pull rule are asked for it by players of every kind (HTTP-FLV, HLS, RTMP,
RTSP), some of them arriving together while the pull is still connecting. Checked from
the outside: what each player decodes (codec, size, frames, pts moving), the origin's
client list (one RTMP player per edge, at the edge's own end of its connection, from
/proc), the edge's /api/v1/relays. The pull stops `idle_timeout_ms` after the last
viewer (HLS players counted by their requests), measured from when the player left.
With two origins, the first one SIGKILLed mid-stream: the edge's players stay
connected and get frames again from the second, with timestamps still moving forward;
the gap is measured from the frames' arrival. An origin answering StreamNotFound makes
the edge try the next; a stream no origin has fails fast, an origin that never answers
fails at `pull_timeout_ms`.

nginx-rtmp (Debian's libnginx-mod-rtmp, the fixture of test_relay_push.py) as the
origin: ffmpeg publishes to nginx, the edge's players get the stream; a stream nginx
does not have, which it answers with NetStream.Play.Start and then silence, is given up
5 s after it started playing and its players told "not found" then, not at
`pull_timeout_ms`. Skipped without nginx-rtmp, failed under CI (env CI set).
"""

import json
import os
import signal
import socket
import threading
import time
import unittest

import harness
import rtmp_client
from harness import HOST, note
from test_api import Api, local_ports
from test_relay_push import (NGINX, NGINX_RTMP_MODULE, Nginx, RelayPushCase, SilentTarget,
                             log_lines, under_ci)

KEY = "live/cam"
IDLE_MS = 2000
FAILOVER_BOUND_S = 5.0   # frames again this long after the origin died
FAST_FAIL_S = 3.0        # "within a couple of seconds", far from pull_timeout_ms
RECORD_S = 5
FIRST_FRAME_S = 5.0      # pull.c: playing, and no frame this long: the origin is given up


def origin_url(srv_or_port, app="live"):
    port = srv_or_port if isinstance(srv_or_port, int) else srv_or_port.rtmp_port
    return "rtmp://%s:%d/%s" % (HOST, port, app)


def edge_config(origins, pattern="live/*", **relay):
    cfg = {"pull": ["%s %s" % (pattern, " ".join(origin_url(o) for o in origins))]}
    cfg.update(relay)
    return {"relay": cfg}


def relays(srv, kind="pull"):
    return [r for r in Api(srv.api_port).json("GET", "/api/v1/relays")["relays"]
            if r["kind"] == kind]


def stream_status(srv, key=KEY):
    return Api(srv.api_port).call("GET", "/api/v1/streams/" + key)[0]


def origin_players(origin, key=KEY):
    """The origin's clients playing `key` (the edges' pulls among them)."""
    clients = Api(origin.api_port).json("GET", "/api/v1/clients")["clients"]
    return [c for c in clients if c["stream"] == key and c["role"] == "player"]


def edge_sessions(origin, edge, key=KEY):
    """The origin's players of `key` that are the edge's connections to it (matched by
    the edge's own local ports, from /proc), and those ports."""
    ports = local_ports(edge.pid, origin.rtmp_port)
    addrs = {"%s:%d" % (HOST, p) for p in ports}
    return [c for c in origin_players(origin, key) if c["remote_address"] in addrs], ports


def rtmp_play(port, name, app="live", timeout=FAST_FAIL_S + 7):
    """A raw RTMP client plays app/name: (seconds until an onStatus code other than
    Play.Reset/Play.Start came, or None, that code, bytes received). Codes looked for:
    StreamNotFound, Failed; Play.Start means the stream plays."""
    codes = (b"NetStream.Play.StreamNotFound", b"NetStream.Play.Failed", b"NetStream.Play.Start")
    got = b""
    t0 = time.monotonic()
    with rtmp_client.open_connection(HOST, port) as sock:
        rtmp_client.handshake(sock)
        sock.sendall(rtmp_client.connect_command(app, "rtmp://%s:%d/%s" % (HOST, port, app)))
        sock.sendall(rtmp_client.command("createStream", 2, None))
        sock.sendall(rtmp_client.command("play", 3, None, name, csid=8, stream_id=1))
        sock.settimeout(0.2)
        while time.monotonic() - t0 < timeout:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            got += data
            for code in codes:
                if code in got:
                    return time.monotonic() - t0, code.decode(), got
    return None, None, got


class PullCase(RelayPushCase):
    """Servers of their own in workdir/NAME (RelayPushCase.sluice), none from setUp."""

    def origin(self, name="origin", publish=True, seconds=90):
        o = self.sluice(name)
        if publish:
            o.publisher = self.publish(server=o, seconds=seconds, proc_name="publisher-" + name)
            self.wait_published(o.publisher, server=o)
        return o

    def start_player(self, url, name, seconds=RECORD_S, loglevel="error"):
        """ffmpeg copying `seconds` of `url` to NAME.flv, with -progress (frames)."""
        path = self.workdir / (name + ".flv")
        proc = self.spawn_ffmpeg(["-loglevel", loglevel, "-y", "-rw_timeout", "15000000", "-i", url,
                                  "-t", str(seconds), "-map", "0", "-c", "copy", "-copyinkf",
                                  "-f", "flv", path], name)
        return proc, path

    def finish_player(self, rec, label, min_video=100, min_audio=170, bound=RECORD_S + 25):
        proc, path = rec
        rc = proc.wait(bound)
        self.assertEqual(rc, 0, "%s: the player failed: %s" % (label, proc.describe()))
        self.assert_av_file(path, min_video=min_video, min_audio=min_audio, label=label)

    def assert_one_pull(self, edge, origin, key=KEY):
        """The edge lists one pull of `key`, live, from `origin`; the origin sees exactly
        one player from the edge."""
        rs = [r for r in relays(edge) if r["stream"] == key]
        self.assertEqual(len(rs), 1, "edge's pulls of %s: %s" % (key, rs))
        r = rs[0]
        self.assertEqual(r["state"], "live", r)
        self.assertTrue(r["target"].startswith(origin_url(origin)), r)
        self.assertGreater(r["bytes_in"], 10000, r)
        sessions, ports = edge_sessions(origin, edge, key)
        self.assertEqual(len(ports), 1, "the edge's connections to the origin: %s" % ports)
        self.assertEqual(len(sessions), 1, "the origin's players from the edge: %s" % sessions)
        self.assertEqual(sessions[0]["protocol"], "rtmp", sessions[0])
        return r, sessions[0]

    def wait_pull_stopped(self, edge, origin, since, bound, key=KEY):
        """Polls until the edge lists no pull of `key`, has no such stream and the origin
        no player from the edge. Returns {what: seconds after `since`}."""
        seen = {}
        deadline = since + bound
        while len(seen) < 3:
            now = time.monotonic()
            if "relay" not in seen and not [r for r in relays(edge) if r["stream"] == key]:
                seen["relay"] = now - since
            if "stream" not in seen and stream_status(edge, key) == 404:
                seen["stream"] = now - since
            if "origin" not in seen and not edge_sessions(origin, edge, key)[0] \
                    and not local_ports(edge.pid, origin.rtmp_port):
                seen["origin"] = now - since
            if now > deadline:
                self.fail("the pull of %s did not stop within %.1f s of the last viewer: gone "
                          "so far %s; relays %s\n%s" % (key, bound, seen, relays(edge),
                                                        edge.log_tail(30)))
            time.sleep(0.1)
        return seen

    def wait_hls(self, srv, name="cam", app="live", bound=20.0):
        """GETs the playlist until it lists a segment: (status and seconds of the first
        answer, seconds until one with a segment)."""
        t0 = time.monotonic()
        first = None
        while True:
            status, _, pl, elapsed = harness.fetch_playlist(srv.http_port, srv.hls_path(name, app),
                                                            timeout=bound)
            if first is None:
                first = (status, elapsed)
            if status == 200 and pl.segments:
                return first, time.monotonic() - t0, pl
            if time.monotonic() - t0 > bound:
                self.fail("no HLS playlist with a segment for %s/%s within %.0f s: first answer "
                          "%s, last %s\n%s" % (app, name, bound, first, status, srv.log_tail()))
            time.sleep(0.2)


class PullTwoEdges(PullCase):

    def test_every_player_on_two_edges_one_pull_each(self):
        o = self.origin()
        e1 = self.sluice("edge1", edge_config([o]))
        e2 = self.sluice("edge2", edge_config([o]))
        time.sleep(1)
        self.assertEqual(relays(e1) + relays(e2), [], "a pull before any player")
        self.assertEqual(origin_players(o), [], "an edge connected before any player")

        # Edge 1: three players arrive together while nothing is pulled yet.
        r1 = self.start_flv_reader(server=e1, max_seconds=60)
        recs = [(self.start_player(e1.rtmp_url(), "e1-rtmp"), "edge 1 RTMP"),
                (self.start_player(e1.flv_url(), "e1-flv"), "edge 1 HTTP-FLV")]
        # Edge 2: an HLS player is the first to ask.
        (status, first_s), seg_s, pl = self.wait_hls(e2)
        note("edge 2, HLS first: the first playlist request answered %s after %.2f s, a "
             "segment listed after %.2f s (%d segment(s) %s)"
             % (status, first_s, seg_s, len(pl.segments), pl.durations))
        self.assertLess(seg_s, 10.0)
        recs += [(self.start_player(e2.hls_url(), "e2-hls"), "edge 2 HLS"),
                 (self.start_player(e2.rtmp_url(), "e2-rtmp"), "edge 2 RTMP"),
                 (self.start_player(e2.flv_url(), "e2-flv"), "edge 2 HTTP-FLV")]
        r2 = self.start_flv_reader(server=e2, max_seconds=60)
        recs.append((self.start_player(e1.hls_url(), "e1-hls"), "edge 1 HLS"))

        self.wait_until(lambda: r1.video_frames >= 1 or r1.end is not None, 15,
                        "a first video frame at edge 1's HTTP-FLV player")
        self.assertEqual(r1.status, 200, "edge 1 HTTP-FLV: %s (%s)" % (r1.status, r1.end))
        self.wait_until(lambda: r2.video_frames >= 1 or r2.end is not None, 10,
                        "a first video frame at edge 2's HTTP-FLV player")
        self.assertEqual(r2.status, 200, "edge 2 HTTP-FLV: %s (%s)" % (r2.status, r2.end))
        first = r1.first_video_frame()
        note("time to first frame on an edge: HTTP-FLV player that started the pull %.3f s "
             "(keyframe: %s), one joining a live pull %.3f s"
             % (r1.first_video_time - r1.connect_time, first.key,
                r2.first_video_time - r2.connect_time))
        self.assertLess(r1.first_video_time - r1.connect_time, 5.0)
        self.assertTrue(first.key, "the first frame of a pulled stream is not a keyframe")
        self.assertIn(5, first.nal_types, "no IDR in the first frame: %s" % first)

        # While everyone plays: one pull per edge, one origin client per edge.
        time.sleep(2)
        pulls = []
        for e in (e1, e2):
            r, session = self.assert_one_pull(e, o)
            pulls.append("%s %s %d B in (origin client %d at %s)" % (
                r["target"], r["state"], r["bytes_in"], session["id"], session["remote_address"]))
        players = origin_players(o)
        note("origin players of %s: %d (%s); edge pulls: %s" % (
            KEY, len(players), ", ".join(c["remote_address"] for c in players), "; ".join(pulls)))
        self.assertEqual(len(players), 2, "the origin should see one client per edge: %s" % players)
        for e in (e1, e2):
            st = Api(e.api_port).json("GET", "/api/v1/streams/" + KEY)
            self.assertEqual((st["video"]["codec"], st["video"]["width"], st["video"]["height"]),
                             ("h264", 640, 360), st)
            self.assertEqual(st["audio"]["codec"], "aac", st)

        # An RTSP player on edge 1 too.
        info = harness.ffprobe_json(e1.rtsp_url(), ["-rtsp_transport", "tcp", "-read_intervals",
                                                    "%+2", "-count_frames", "-show_streams"])
        streams = {s["codec_type"]: s for s in info["streams"]}
        note("edge 1 RTSP: video %s %sx%s %s frames, audio %s" % (
            streams["video"]["codec_name"], streams["video"]["width"], streams["video"]["height"],
            streams["video"].get("nb_read_frames"), streams.get("audio", {}).get("codec_name")))
        self.assertEqual((streams["video"]["codec_name"], streams["video"]["width"],
                          streams["video"]["height"]), ("h264", 640, 360))
        self.assertEqual(streams["audio"]["codec_name"], "aac")
        self.assertGreaterEqual(int(streams["video"]["nb_read_frames"]), 40)

        for rec, label in recs:
            self.finish_player(rec, label)
        for r, label in ((r1, "edge 1"), (r2, "edge 2")):
            self.assertIsNone(r.end, "%s HTTP-FLV reader ended: %s" % (label, r.end))
            vts = [t.ts for t in list(r.tags) if t.type == 9 and t.kind == "frame"]
            self.assertGreaterEqual(len(vts), 150, "%s HTTP-FLV reader: too few frames" % label)
            self.assertGreater(r.audio_frames, 200, "%s HTTP-FLV reader: too few audio frames" % label)
            back = [(a, b) for a, b in zip(vts, vts[1:]) if b < a]
            self.assertFalse(back, "%s HTTP-FLV video timestamps went back: %s" % (label, back[:5]))
        self.assertEqual(len(origin_players(o)), 2)
        self.assertEqual(e1.log_text().count("stream %s created" % KEY), 1)
        self.assertEqual(e2.log_text().count("stream %s created" % KEY), 1)


class PullIdle(PullCase):

    def test_idle_stop_after_the_last_viewer(self):
        o = self.origin()
        e = self.sluice("edge", edge_config([o], idle_timeout_ms=IDLE_MS))
        idle = IDLE_MS / 1000.0

        # An RTSP player starts the pull; an HTTP-FLV player joins and stays longer.
        t0 = time.monotonic()
        probe = self.spawn(["ffprobe", "-v", "error", "-of", "json", "-rtsp_transport", "tcp",
                            "-read_intervals", "%+3", "-count_frames", "-show_streams",
                            e.rtsp_url()], "rtsp-probe")
        self.wait_until(lambda: stream_status(e) == 200, 10, "the edge's stream, pulled for RTSP")
        reader = self.start_flv_reader(server=e, max_seconds=60)
        rc = probe.wait(30)
        rtsp_left = time.monotonic()
        self.assertEqual(rc, 0, probe.describe())
        info = json.loads(probe.out_path.read_text())
        v = [s for s in info["streams"] if s["codec_type"] == "video"][0]
        note("RTSP player that started the pull: %s %sx%s, %s frames, done %.2f s after it started"
             % (v["codec_name"], v["width"], v["height"], v.get("nb_read_frames"), rtsp_left - t0))
        self.assertEqual((v["codec_name"], v["width"], v["height"]), ("h264", 640, 360))
        self.assertGreaterEqual(int(v["nb_read_frames"]), 60)
        # The HTTP-FLV player still watches: past the idle timeout the pull goes on.
        before = reader.video_frames
        time.sleep(idle + 1.5)
        self.assert_one_pull(e, o)
        self.assertGreaterEqual(reader.video_frames - before, 60, "the remaining player starved")
        reader.stop()
        left = time.monotonic()
        gone = self.wait_pull_stopped(e, o, left, idle + 4)
        note("idle stop (idle_timeout_ms %d) after the last (HTTP-FLV) player left: relay gone "
             "%.2f s, stream gone %.2f s, origin client gone %.2f s"
             % (IDLE_MS, gone["relay"], gone["stream"], gone["origin"]))
        for what, s in gone.items():
            self.assertGreaterEqual(s, idle - 0.25, "%s stopped before the idle timeout" % what)
            self.assertLess(s, idle + 2.0, "%s stopped late" % what)

        # HLS: requests keep it pulled; the stop counts from the last one.
        seq_ids, n_req, last_req = set(), 0, None
        (status, first_s), seg_s, pl = self.wait_hls(e)
        note("HLS re-pull after the idle stop: first answer %s after %.2f s, a segment after %.2f s"
             % (status, first_s, seg_s))
        poll_until = time.monotonic() + 3 * idle + 1
        while time.monotonic() < poll_until:
            status, _, pl, _ = harness.fetch_playlist(e.http_port, e.hls_path())
            self.assertEqual(status, 200, "the HLS playlist while polled")
            if pl.segments:
                st, _, body, _ = harness.http_get(e.http_port, e.hls_path(file=pl.segments[-1]["uri"]))
                self.assertEqual(st, 200)
                self.assertGreater(len(body), 1000)
            last_req = time.monotonic()
            n_req += 1
            rs = [r for r in relays(e) if r["stream"] == KEY]
            self.assertEqual(len(rs), 1, "the pull while HLS polls: %s" % rs)
            seq_ids.add(rs[0]["id"])
            time.sleep(0.7)
        self.assertEqual(len(seq_ids), 1, "the pull restarted while HLS polled: %s" % seq_ids)
        self.assertEqual(e.log_text().count("stream %s created" % KEY), 2)
        gone = self.wait_pull_stopped(e, o, last_req, idle + 5)
        note("HLS: %d playlist+segment polls over %.1f s kept one pull; after the last request: "
             "relay gone %.2f s, stream gone %.2f s, origin client gone %.2f s"
             % (n_req, 3 * idle + 1, gone["relay"], gone["stream"], gone["origin"]))
        for what, s in gone.items():
            self.assertGreaterEqual(s, idle - 0.25, "%s stopped before the idle timeout" % what)
            self.assertLess(s, idle + 2.5, "%s stopped late after the last HLS request" % what)


class PullFailover(PullCase):

    def test_first_origin_killed_mid_stream(self):
        o1 = self.origin("origin1")
        o2 = self.origin("origin2")
        e = self.sluice("edge", edge_config([o1, o2], retry_max_ms=4000))
        reader = self.start_flv_reader(server=e, max_seconds=60)
        # ffmpeg's warnings wanted: "Non-monotonous DTS" if timestamps went back.
        player, path = self.start_player(e.rtmp_url(), "rtmp-player", seconds=16,
                                         loglevel="warning")
        self.wait_until(lambda: reader.video_frames >= 75 and player.frames() >= 50, 15,
                        "frames at both edge players")
        r, _ = self.assert_one_pull(e, o1)
        self.assertEqual(origin_players(o2), [], "the edge also pulls from the second origin")

        # SIGSTOP first, so that every frame a player gets after the SIGKILL comes
        # from the next origin: nothing of the first one is still on its way.
        stopped = time.monotonic()
        o1.popen.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        self.kill_sluice(o1)
        killed = time.monotonic()
        samples = []  # (t, stream status on the edge, player frames, player running)
        while time.monotonic() < killed + 8:
            samples.append((time.monotonic(), stream_status(e), player.frames(),
                            player.poll() is None))
            time.sleep(0.1)

        # The stream stayed published on the edge, both players connected.
        self.assertEqual([s for s in samples if s[1] != 200], [],
                         "the edge's stream went away during the failover")
        self.assertTrue(all(s[3] for s in samples), "the RTMP player exited: " + player.describe())
        self.assertIsNone(reader.end, "the HTTP-FLV player's response ended: %s" % reader.end)
        self.assertEqual(e.log_text().count("stream %s freed" % KEY), 0)
        self.assertEqual(e.log_text().count("stream %s created" % KEY), 1)

        # HTTP-FLV: the last frame of the first origin, the first of the next one.
        video = [t for t in list(reader.tags) if t.type == 9 and t.kind == "frame"]
        audio = [t for t in list(reader.tags) if t.type == 8 and t.kind == "frame"]
        old = [t for t in video if t.arrival < killed]
        new = [t for t in video if t.arrival >= killed]
        self.assertTrue(old and new, "no frames after the kill (%d before)" % len(old))
        before, after = old[-1], new[0]
        new_audio = [t for t in audio if t.arrival >= killed]
        # The RTMP player: its -progress frame count (0.5 s steps), sampled every 0.1 s.
        incs = [t for (t, _, f, _), (_, _, f0, _) in zip(samples[1:], samples) if f > f0]
        pgap = max([b - a for a, b in zip([stopped] + incs, incs)] or [8.0])
        note("failover: HTTP-FLV frames again %.3f s after the SIGKILL (silence %.2f s incl. "
             "0.3 s SIGSTOP; first a keyframe: %s; ts %d -> %d ms), %d video / %d audio frames "
             "in the next %.1f s; RTMP player's progress stalled %.2f s at most, %d -> %d frames"
             % (after.arrival - killed, after.arrival - before.arrival, after.key, before.ts,
                after.ts, len(new), len(new_audio), samples[-1][0] - killed, pgap,
                samples[0][2], samples[-1][2]))
        self.assertLess(after.arrival - killed, FAILOVER_BOUND_S,
                        "no frames within %.0f s of the origin dying" % FAILOVER_BOUND_S)
        self.assertTrue(after.key, "the first frame after the failover is not a keyframe")
        self.assertIn(5, after.nal_types)
        self.assertGreater(after.ts, before.ts, "timestamps went back across the failover")
        self.assertLess(after.ts - before.ts, 10000, "timestamps jumped across the failover")
        vts = [t.ts for t in video]
        back = [(x, y) for x, y in zip(vts, vts[1:]) if y < x]
        self.assertFalse(back, "HTTP-FLV video timestamps went back: %s" % back[:5])
        self.assertGreaterEqual(len(new), 50)
        self.assertGreaterEqual(len(new_audio), 50)
        self.assertLess(pgap, FAILOVER_BOUND_S + 1.0)
        self.assertGreaterEqual(samples[-1][2] - samples[0][2], 50)

        rs = [x for x in relays(e) if x["stream"] == KEY]
        note("edge's pull after the failover: %s" % rs)
        self.assert_one_pull(e, o2)
        self.assertEqual(rs[0]["id"], r["id"], "the pull was replaced, not failed over")

        # The RTMP player's recording: pts strictly increasing across the failover.
        rc = player.wait(30)
        self.assertEqual(rc, 0, player.describe())
        self.assertNotIn("Non-monotonous DTS", player.stderr_text())
        self.assert_av_file(path, min_video=250, min_audio=400, label="RTMP player across failover")


class PullMissing(PullCase):

    def test_an_origin_without_the_stream_is_skipped(self):
        o1 = self.origin("origin1", publish=False)
        o2 = self.origin("origin2")
        e = self.sluice("edge", edge_config([o1, o2]))
        reader = self.start_flv_reader(server=e, max_seconds=30)
        self.wait_until(lambda: reader.video_frames >= 50 or reader.end is not None, 15,
                        "50 frames from the second origin")
        self.assertEqual(reader.status, 200)
        note("first origin without the stream: first frame %.3f s after the request"
             % (reader.first_video_time - reader.connect_time))
        self.assertLess(reader.first_video_time - reader.connect_time, 5.0)
        self.assert_one_pull(e, o2)
        self.assertEqual(edge_sessions(o1, e)[0], [])

    def test_a_stream_no_origin_has_fails_fast(self):
        o1 = self.origin("origin1", publish=False)
        o2 = self.origin("origin2")  # it has live/cam, not live/nope
        e = self.sluice("edge", edge_config([o1, o2], pull_timeout_ms=10000))
        results = []
        elapsed, code, got = rtmp_play(e.rtmp_port, "nope")
        results.append("RTMP %s after %s s" % (code, elapsed and "%.2f" % elapsed))
        self.assertEqual(code, "NetStream.Play.StreamNotFound", got[-300:])
        self.assertLess(elapsed, FAST_FAIL_S)
        for label, path in (("HTTP-FLV", e.flv_path("nope")), ("HLS", e.hls_path("nope2"))):
            status, _, _, elapsed = harness.http_get(e.http_port, path, timeout=15)
            results.append("%s %s after %.2f s" % (label, status, elapsed))
            self.assertEqual(status, 404, label)
            self.assertLess(elapsed, FAST_FAIL_S, label)
        t0 = time.monotonic()
        res = harness.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", e.rtsp_url("nope3")],
                          timeout=20)
        results.append("RTSP rc=%s after %.2f s (%s)" % (res.returncode, time.monotonic() - t0,
                                                          res.stderr.strip()[-60:]))
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("404", res.stderr)
        self.assertLess(time.monotonic() - t0, FAST_FAIL_S + 1.0)
        # A key no rule matches: at once.
        status, _, _, elapsed = harness.http_get(e.http_port, "/other/nope.flv")
        results.append("no rule: %s after %.3f s" % (status, elapsed))
        self.assertEqual(status, 404)
        self.assertLess(elapsed, 1.0)
        note("absent everywhere: " + "; ".join(results))
        # Each was asked of both origins (not refused for want of a rule).
        for name in ("nope", "nope2", "nope3"):
            for o in (o1, o2):
                self.assertIn("rtmp live/%s: stream not found" % name, o.log_text(),
                              "the edge did not ask %s for live/%s" % (o.workdir.name, name))
        # Nothing lingers.
        self.wait_until(lambda: relays(e) == [], 3, "the failed pulls to leave /api/v1/relays")
        self.assertEqual(local_ports(e.pid, o1.rtmp_port) | local_ports(e.pid, o2.rtmp_port), set())
        self.assertEqual(Api(e.api_port).json("GET", "/api/v1/streams")["streams"], [])

    def test_an_origin_that_never_answers_times_out(self):
        silent = SilentTarget()
        silent.start()
        self.addCleanup(silent.stop)
        e = self.sluice("edge", edge_config([silent.port], pull_timeout_ms=3000))
        status, _, _, elapsed = harness.http_get(e.http_port, e.flv_path("cam"), timeout=15)
        note("silent origin, pull_timeout_ms 3000: HTTP-FLV answered %s after %.2f s "
             "(%d connection(s) accepted)" % (status, elapsed, len(silent.accepted)))
        self.assertNotEqual(status, 200)
        self.assertIn(status, (404, 502, 503, 504))
        self.assertGreaterEqual(elapsed, 2.9)
        self.assertLess(elapsed, 4.5)
        self.assertGreaterEqual(len(silent.accepted), 1)


class PullFromNginx(PullCase):
    """nginx-rtmp as the origin of a sluice edge."""

    def setUp(self):
        missing = [p for p in (NGINX, NGINX_RTMP_MODULE) if not os.path.exists(p)]
        if missing and under_ci():
            self.fail("CI is set but nginx-rtmp is missing: " + ", ".join(missing))
        if missing:
            raise unittest.SkipTest("nginx-rtmp missing (apt install nginx libnginx-mod-rtmp): "
                                    + ", ".join(missing))
        super().setUp()

    def test_nginx_origin(self):
        ng = Nginx(self)
        pub = self.spawn_ffmpeg(harness.publisher_args(ng.rtmp_url(), 90), "publisher-nginx")
        self.wait_until(lambda: pub.frames() >= 25 or pub.poll() is not None, 15,
                        "ffmpeg publishing 25 frames to nginx")
        self.assertIsNone(pub.poll(), "the publisher to nginx exited: " + pub.describe())
        origin = origin_url(ng.port)
        e = self.sluice("edge", edge_config([ng.port], pull_timeout_ms=15000))
        self.assertEqual(relays(e), [], "a pull before any player")

        reader = self.start_flv_reader(server=e, max_seconds=60)
        recs = [(self.start_player(e.flv_url(), "flv-player"), "edge HTTP-FLV (nginx origin)"),
                (self.start_player(e.rtmp_url(), "rtmp-player"), "edge RTMP (nginx origin)")]
        self.wait_until(lambda: reader.video_frames >= 1 or reader.end is not None, 10,
                        "a first video frame from nginx at the edge's HTTP-FLV player")
        self.assertEqual(reader.status, 200, "edge HTTP-FLV: %s (%s)" % (reader.status, reader.end))
        first = reader.first_video_frame()
        note("nginx origin: the edge's HTTP-FLV player had its first frame %.3f s after its "
             "request (keyframe: %s, NAL types %s)"
             % (reader.first_video_time - reader.connect_time, first.key, first.nal_types))
        self.assertLess(reader.first_video_time - reader.connect_time, 5.0)
        self.assertTrue(first.key, "the first frame pulled from nginx is not a keyframe")
        self.assertIn(5, first.nal_types, "no IDR in the first frame: %s" % first)

        time.sleep(2)
        rs = [r for r in relays(e) if r["stream"] == KEY]
        self.assertEqual(len(rs), 1, "edge's pulls of %s: %s" % (KEY, rs))
        self.assertEqual(rs[0]["state"], "live", rs[0])
        self.assertTrue(rs[0]["target"].startswith(origin), rs[0])
        self.assertGreater(rs[0]["bytes_in"], 10000, rs[0])
        ports = local_ports(e.pid, ng.port)
        self.assertEqual(len(ports), 1, "the edge's connections to nginx: %s" % ports)
        st = Api(e.api_port).json("GET", "/api/v1/streams/" + KEY)
        self.assertEqual((st["video"]["codec"], st["video"]["width"], st["video"]["height"]),
                         ("h264", 640, 360), st)
        self.assertEqual((st["audio"]["codec"], st["audio"]["sample_rate"],
                          st["audio"]["channels"]), ("aac", 44100, 2), st)
        note("nginx origin: the edge's pull %s %s, %d B in, from local port %s"
             % (rs[0]["target"], rs[0]["state"], rs[0]["bytes_in"], sorted(ports)))
        for rec, label in recs:
            self.finish_player(rec, label)
        self.assertIsNone(reader.end, "the HTTP-FLV reader's response ended: %s" % reader.end)
        vts = [t.ts for t in list(reader.tags) if t.type == 9 and t.kind == "frame"]
        # 25 fps and 43 AAC frames a second for as long as it played.
        played = time.monotonic() - reader.first_video_time
        note("nginx origin: the HTTP-FLV reader got %d video / %d audio frames in %.1f s"
             % (len(vts), reader.audio_frames, played))
        self.assertGreaterEqual(len(vts), 22 * played, "HTTP-FLV reader: too few frames")
        self.assertGreaterEqual(reader.audio_frames, 38 * played,
                                "HTTP-FLV reader: too few audio frames")
        back = [(a, b) for a, b in zip(vts, vts[1:]) if b < a]
        self.assertFalse(back, "HTTP-FLV video timestamps went back: %s" % back[:5])
        reader.stop()

        # A stream nginx does not have: it answers NetStream.Play.Start and sends
        # nothing. One RTMP and one HTTP-FLV player, each of its own key, at once.
        got = {}

        def ask_rtmp():
            got["rtmp"] = rtmp_play(e.rtmp_port, "nope", timeout=15)

        def ask_flv():
            got["flv"] = harness.http_get(e.http_port, e.flv_path("nope2"), timeout=15)

        threads = [threading.Thread(target=f, daemon=True) for f in (ask_rtmp, ask_flv)]
        asked = time.time()
        for t in threads:
            t.start()
        # While they wait: the pulls play from nginx, and publish nothing on the edge.
        self.wait_log(e, "relay pull live/nope <- %s: playing" % origin, 3, "edge")
        self.wait_log(e, "relay pull live/nope2 <- %s: playing" % origin, 3, "edge")
        time.sleep(1)
        waiting = {r["stream"]: r["state"] for r in relays(e)}
        self.assertEqual((waiting.get("live/nope"), waiting.get("live/nope2")), ("live", "live"),
                         "the pulls while nginx plays nothing: %s" % relays(e))
        for key in ("live/nope", "live/nope2"):
            self.assertEqual(stream_status(e, key), 404,
                             "%s published on the edge before a frame came" % key)
        for t in threads:
            t.join(20)
        self.assertFalse(any(t.is_alive() for t in threads), "a player still waits after 20 s")

        r_elapsed, r_code, r_got = got["rtmp"]
        f_status, _, _, f_elapsed = got["flv"]
        gave_up = {}
        for key in ("live/nope", "live/nope2"):
            playing = log_lines(e, "relay pull %s <- %s: playing" % (key, origin))
            failed = log_lines(e, "relay pull %s <- %s: the origin sent nothing in 5 s after "
                                  "starting to play" % (key, origin))
            self.assertTrue(playing and failed, "%s: no playing / given-up lines\n%s"
                            % (key, e.log_tail(30)))
            gave_up[key] = (playing[0][0] - asked, failed[0][0] - playing[0][0])
            self.assertIn("relay pull %s: stopped: no origin has the stream" % key, e.log_text())
        note("absent on nginx (pull_timeout_ms 15000): RTMP %s after %s s, HTTP-FLV %s after "
             "%.2f s; nginx played each %s s after the request, given up %s s after playing"
             % (r_code, r_elapsed and "%.2f" % r_elapsed, f_status, f_elapsed,
                ["%.2f" % g[0] for g in gave_up.values()],
                ["%.2f" % g[1] for g in gave_up.values()]))
        self.assertEqual(r_code, "NetStream.Play.StreamNotFound", r_got[-300:])
        self.assertGreaterEqual(r_elapsed, FIRST_FRAME_S - 0.5)
        self.assertLess(r_elapsed, FIRST_FRAME_S + 3.0)
        self.assertEqual(f_status, 404)
        self.assertGreaterEqual(f_elapsed, FIRST_FRAME_S - 0.5)
        self.assertLess(f_elapsed, FIRST_FRAME_S + 3.0)
        for playing_s, silent_s in gave_up.values():
            self.assertGreaterEqual(silent_s, FIRST_FRAME_S - 0.05)
            self.assertLess(silent_s, FIRST_FRAME_S + 1.2)
        # Nothing lingers: no pull, no stream, no connection to nginx; the first pull
        # having ended with its players (idle_timeout_ms is 10 s, not yet passed) aside.
        self.wait_until(lambda: not [r for r in relays(e) if r["stream"] != KEY], 3,
                        "the failed pulls to leave /api/v1/relays")
        for key in ("live/nope", "live/nope2"):
            self.assertEqual(stream_status(e, key), 404)
        for key in ("live/nope", "live/nope2"):
            self.assertNotIn("stream %s created" % key, e.log_text(),
                             "a stream nginx does not have was published on the edge")


if __name__ == "__main__":
    unittest.main()
