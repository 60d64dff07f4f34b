"""WHEP on an edge (relay.pull, docs/relay.md): a WebRTC player asks an edge sluice
for a stream it does not have yet.

An origin sluice gets ffmpeg's H.264 constrained baseline (no B-frames) 640x360 + AAC
over RTMP; an edge sluice with a `live/*` pull rule to the origin and nothing of its
own. Chromium POSTs its WHEP offer to the edge: the request waits for the pull (log
order: the pull starts, the offer waits, the stream is here, then the session), is
answered 201, and Chromium decodes the pulled stream (frames, size, time to first
frame). While it plays, the edge's /api/v1/relays lists the pull live from the origin
and the origin one RTMP player at the edge's own end of its connection (/proc). After
the viewer's DELETE the pull stops `idle_timeout_ms` later (measured between the
edge's own log lines, and the origin's client gone). A WHEP offer for a stream no
origin has is refused 404 within 3 s, after the origin was asked; one for a key no rule
covers at once. Runs in its own network namespace (webrtc.main()).
"""

import time

import webrtc
from harness import deep_merge, note
from test_api import Api, local_ports
from test_relay_pull import (edge_config, edge_sessions, origin_players, origin_url, relays,
                             stream_status)
from test_relay_push import log_lines

KEY = "live/cam"
IDLE_MS = 2000
VIEW_S = 6
FAST_FAIL_S = 3.0


def line_index(srv, needle):
    """The index of the first log line of `srv` holding `needle`, or None."""
    for i, line in enumerate(srv.log_text().splitlines()):
        if needle in line:
            return i
    return None


class WhepOnEdge(webrtc.WebRtcTestCase):
    NEEDS_WERIFT = False
    start_server = False
    # The pull is the subject: the edge's AAC stays AAC (video only over WHEP), so the
    # machine's CPU goes to the pull; transcoding is test_transcode.py's.
    config = {"transcode": {"enabled": False}}

    def test_whep_waits_for_the_pull(self):
        origin = self.new_server({})
        pub = self.publish(server=origin, seconds=90, video_opts=["-profile:v", "baseline"],
                           proc_name="publisher-origin")
        self.wait_published(pub, server=origin)
        edge = self.new_server(deep_merge(self.config, edge_config([origin],
                                                                   idle_timeout_ms=IDLE_MS)))
        Api(edge.api_port).wait_listening()
        time.sleep(1)
        self.assertEqual(relays(edge), [], "a pull on the edge before any player")
        self.assertEqual(stream_status(edge), 404, "the edge has the stream before any player")
        self.assertEqual(origin_players(origin), [], "the origin has a player before the edge's")

        viewer = self.whep_start(KEY, VIEW_S, server=edge)
        viewer.wait_connected(25)
        # While the viewer plays: the pull is live, the origin sees the edge once.
        time.sleep(1.5)
        rs = [r for r in relays(edge) if r["stream"] == KEY]
        self.assertEqual(len(rs), 1, "the edge's pulls of %s: %s" % (KEY, rs))
        pull = rs[0]
        self.assertEqual(pull["state"], "live", pull)
        self.assertTrue(pull["target"].startswith(origin_url(origin)), pull)
        self.assertGreater(pull["bytes_in"], 10000, pull)
        sessions, ports = edge_sessions(origin, edge)
        self.assertEqual(len(ports), 1, "the edge's connections to the origin: %s" % ports)
        self.assertEqual(len(sessions), 1, "the origin's players from the edge: %s" % sessions)
        self.assertEqual(len(origin_players(origin)), 1, origin_players(origin))
        st = Api(edge.api_port).json("GET", "/api/v1/streams/" + KEY)
        self.assertEqual(st["subscribers"]["webrtc"], 1, st["subscribers"])
        note("while the WHEP viewer plays: edge pull %s %s %s, %d B in; the origin's player "
             "from the edge %d at %s; edge subscribers %s"
             % (pull["id"], pull["target"], pull["state"], pull["bytes_in"], sessions[0]["id"],
                sessions[0]["remote_address"], st["subscribers"]))

        res = viewer.result()
        closed_wall = time.time()
        note("edge WHEP: " + webrtc.describe(res))
        v = res.get("video") or {}
        self.assertEqual(res.get("status"), 201, "WHEP POST to the edge: %s %s"
                         % (res.get("status"), res.get("responseBody")))
        self.assertEqual(v.get("codec"), "video/H264")
        self.assertIn("profile-level-id=42", v.get("fmtp", ""), "not the baseline source's")
        self.assertGreater(v.get("framesDecoded") or 0, 100, "frames decoded in %d s" % VIEW_S)
        self.assertEqual((v.get("frameWidth"), v.get("frameHeight")), (640, 360))
        self.assertIsNotNone(res.get("timeToFirstFrameMs"), "no first frame")
        self.assertLess(res["timeToFirstFrameMs"], 3000)
        self.assertFalse((res.get("audio") or {}).get("packetsReceived"),
                         "audio packets from an AAC source")
        self.assertEqual(res.get("deleteStatus"), 200)

        # The POST waited for the pull: it started the pull, waited, and was answered
        # with the stream there (a keyframe in), by the edge's log order.
        order = [line_index(edge, n) for n in (
            "relay pull %s: starting" % KEY,
            "WHEP %s: waiting for the relay pull" % KEY,
            "relay pull %s: the stream is here (keyframe)" % KEY,
            "WHEP %s: session " % KEY)]
        self.assertNotIn(None, order, "edge log lines of the pull and the offer: %s\n%s"
                         % (order, edge.log_tail(40)))
        self.assertEqual(order, sorted(order), "the offer was not answered after the pull")
        started = log_lines(edge, "relay pull %s: starting" % KEY)[0][0]
        here = log_lines(edge, "relay pull %s: the stream is here" % KEY)[0][0]
        answered = log_lines(edge, "WHEP %s: session " % KEY)[0][0]
        note("WHEP POST on the edge: answered %s after %s ms (the pull had its keyframe "
             "%.3f s after it started, the answer %.3f s after that); first frame +%s ms"
             % (res.get("status"), res.get("postMs"), here - started, answered - here,
                res.get("timeToFirstFrameMs")))

        # The viewer left (DELETE): the pull stops idle_timeout_ms later.
        gone = {}
        deadline = closed_wall + IDLE_MS / 1000.0 + 4
        while len(gone) < 3 and time.time() < deadline:
            now = time.time()
            if "relay" not in gone and not [r for r in relays(edge) if r["stream"] == KEY]:
                gone["relay"] = now - closed_wall
            if "stream" not in gone and stream_status(edge) == 404:
                gone["stream"] = now - closed_wall
            if "origin" not in gone and not edge_sessions(origin, edge)[0] \
                    and not local_ports(edge.pid, origin.rtmp_port):
                gone["origin"] = now - closed_wall
            time.sleep(0.1)
        self.assertEqual(len(gone), 3, "the pull did not stop after the viewer left: gone %s; "
                         "relays %s\n%s" % (gone, relays(edge), edge.log_tail(30)))
        closed = log_lines(edge, "WHEP %s: closed: " % KEY)
        stopped = log_lines(edge, "relay pull %s: stopped: nobody watches" % KEY)
        self.assertTrue(closed and stopped, "no close / idle stop lines\n" + edge.log_tail(30))
        idle_s = stopped[0][0] - closed[0][0]
        note("viewer closed (%s); idle stop (idle_timeout_ms %d) %.2f s after the close; "
             "polled from the client's end: relay gone %.2f s, stream gone %.2f s, origin's "
             "client gone %.2f s" % (closed[0][1].split("closed: ")[-1], IDLE_MS, idle_s,
                                     gone["relay"], gone["stream"], gone["origin"]))
        self.assertGreaterEqual(idle_s, IDLE_MS / 1000.0 - 0.05, "stopped before the timeout")
        self.assertLess(idle_s, IDLE_MS / 1000.0 + 1.5, "stopped late")
        self.assertEqual(edge.log_text().count("stream %s created" % KEY), 1)

        # A stream no origin has: the offer (Chromium's real one) is refused fast.
        offer = res.get("offerSdp")
        self.assertTrue(offer, "no offer captured from Chromium")
        t0 = time.monotonic()
        status, _, body = webrtc.post_offer(edge.http_port, "live/nope", "whep", offer)
        nope_s = time.monotonic() - t0
        t0 = time.monotonic()
        status2, _, body2 = webrtc.post_offer(edge.http_port, "other/nope", "whep", offer)
        norule_s = time.monotonic() - t0
        note("WHEP of a stream no origin has: %s after %.3f s (%s); of a key no rule covers: "
             "%s after %.3f s" % (status, nope_s, body.strip(), status2, norule_s))
        self.assertEqual(status, 404, body)
        self.assertLess(nope_s, FAST_FAIL_S)
        self.assertIn("rtmp live/nope: stream not found", origin.log_text(),
                      "the edge did not ask the origin for live/nope")
        self.assertIn("WHEP live/nope: waiting for the relay pull", edge.log_text())
        self.assertEqual(status2, 404, body2)
        self.assertLess(norule_s, 1.0)
        self.wait_until(lambda: relays(edge) == [], 3, "the failed pull to leave /api/v1/relays")
        self.assertEqual(Api(edge.api_port).json("GET", "/api/v1/streams")["streams"], [])
        self.assertEqual(local_ports(edge.pid, origin.rtmp_port), set())


if __name__ == "__main__":
    webrtc.main()
