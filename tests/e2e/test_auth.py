"""Token authentication (docs/auth.md) with real clients on every protocol.

Two servers cover the three token types: one with publish=hmac and play=md5 on the
apps "live studio*" (the app "open" stays open), one with publish=simple and
play=hmac on every app. For each: a missing, a wrong and (hmac) an expired or
wrongly directed token is refused and the right one is accepted, for RTMP publish and
play (ffmpeg/ffprobe), RTSP publish and play, HTTP-FLV play, the HLS playlist and a
segment (the playlist's segment URIs repeat the token), and WHIP/WHEP by status
(401, then 201 or 404 with the token; DELETE needs it too). Each refusal is a
"refused" line in the log and one more in sluice_auth_failures_total{protocol}: the
test counts what it caused and compares, per protocol, exactly."""

import collections
import hashlib
import hmac
import http.client
import json
import re
import time
import unittest
import urllib.parse

import harness
import rtmp_client
from harness import HOST, note

PUB_SECRET, PLAY_SECRET = "pub-s3cret", "play-s3cret"
SIMPLE_SECRET = "s3 cr&t+x"  # sent percent-encoded; "+" is not a space
OFFERS = harness.REPO / "tests" / "fuzz" / "corpus" / "fuzz_webrtc_offer"
REFUSED_BOUND_S = 10.0  # a refused ffmpeg/ffprobe exits within this
PROTOCOLS = ("rtmp", "rtsp", "http-flv", "webrtc", "hls")
REFUSED_LINE = re.compile(r"client \d+ (\S+) (publish|play) (\S+) from \S+ refused: (.+)$", re.M)


def md5_token(secret, name):
    """XIU's md5 token: hex MD5(secret || name), the name without the app."""
    return hashlib.md5((secret + name).encode()).hexdigest()


def hmac_token(secret, key, expires, direction):
    """hex HMAC-SHA256(secret, "app/name:expires:direction")."""
    msg = "%s:%d:%s" % (key, expires, direction)
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()


def hmac_query(secret, key, direction, expires=None):
    expires = expires if expires is not None else int(time.time()) + 3600
    return "expires=%d&token=%s" % (expires, hmac_token(secret, key, expires, direction))


def http_call(port, method, path, body=None, headers=None, timeout=5):
    """(status, headers with lower-case keys, body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def auth_failures(srv):
    """sluice_auth_failures_total per protocol, from the API listener's /metrics."""
    status, _, body = http_call(srv.api_port, "GET", "/metrics")
    if status != 200:
        raise AssertionError("/metrics: status %d" % status)
    found = dict(re.findall(r'^sluice_auth_failures_total\{protocol="([^"]+)"\} (\d+)$',
                            body.decode(), re.M))
    return {p: int(found.get(p, -1)) for p in PROTOCOLS}


class AuthCase(harness.E2ETestCase):
    """Clients that must be refused or accepted, and a tally of the refusals."""

    def setUp(self):
        super().setUp()
        self.expected = collections.Counter()
        self.offers = {kind: (OFFERS / ("chrome_%s.sdp" % kind)).read_bytes()
                       for kind in ("whip", "whep")}

    # -- refusals, each counted for its protocol

    def refused(self, proto, label, ok, detail):
        self.expected[proto] += 1
        self.assertTrue(ok, "%s was not refused: %s" % (label, detail))

    def refuse_rtmp_publish(self, url, label):
        pub = self.spawn_ffmpeg(harness.publisher_args(url, 5), "refused-" + label.replace(" ", "-"))
        rc = pub.wait(REFUSED_BOUND_S)
        self.refused("rtmp", "RTMP publish " + label, rc not in (None, 0), pub.describe())

    def refuse_rtmp_raw(self, command, name, code):
        """A raw RTMP client's publish or play: the server answers onStatus `code` and
        closes the connection."""
        port, got, end = self.server.rtmp_port, b"", None
        with rtmp_client.open_connection(HOST, port) as sock:
            rtmp_client.handshake(sock)
            sock.sendall(rtmp_client.connect_command("live", "rtmp://%s:%d/live" % (HOST, port)))
            sock.sendall(rtmp_client.command("createStream", 2, None))
            args = (None, name, "live") if command == "publish" else (None, name)
            sock.sendall(rtmp_client.command(command, 3, *args, csid=8, stream_id=1))
            deadline = time.monotonic() + 5
            sock.settimeout(0.2)
            while end is None and time.monotonic() < deadline:
                try:
                    data = sock.recv(65536)
                except OSError:
                    continue
                if not data:
                    end = "eof"
                got += data
        self.refused("rtmp", "raw RTMP %s %s" % (command, name),
                     code.encode() in got and end == "eof", "closed: %s, %d bytes: %r" % (end, len(got), got[-300:]))

    def refuse_rtsp_publish(self, url, label):
        res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
                           "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264",
                           "-preset", "ultrafast", "-f", "rtsp", "-rtsp_transport", "tcp", url],
                          timeout=REFUSED_BOUND_S)
        self.refused("rtsp", "RTSP publish " + label, res.returncode != 0 and "401" in res.stderr, res)

    def refuse_play(self, proto, url, label):
        """ffprobe of an RTMP or RTSP URL must fail: 401 (RTSP) or the onStatus error."""
        res = self.ffprobe(url)
        sign = "401" if proto == "rtsp" else "wrong or missing token"
        if "expired" in label and proto == "rtmp":
            sign = "token expired"
        self.refused(proto, "%s play %s" % (proto, label), res.returncode != 0 and sign in res.stderr, res)

    def refuse_http(self, proto, path, label, method="GET", body=None, headers=None):
        status, hdrs, data = http_call(self.server.http_port, method, path, body, headers)
        self.refused(proto, "%s %s %s" % (method, path, label), status == 401,
                     "status %s %r" % (status, data[:200]))
        return hdrs

    # -- accepted clients

    def ffprobe(self, url, timeout=20):
        args = ["ffprobe", "-v", "error", "-of", "json", "-show_streams"]
        if url.startswith("rtsp:"):
            args += ["-rtsp_transport", "tcp"]
        else:
            args += ["-rw_timeout", "10000000"]
        return harness.run(args + [url], timeout)

    def assert_plays(self, url, label):
        res = self.ffprobe(url)
        self.assertEqual(res.returncode, 0, "%s: %r" % (label, res))
        codecs = sorted(s["codec_name"] for s in json.loads(res.stdout)["streams"])
        self.assertIn("h264", codecs, "%s: streams %s" % (label, codecs))
        note("%s: plays (%s)" % (label, ", ".join(codecs)))

    def assert_flv_plays(self, path, label):
        r = harness.HttpFlvReader(self.server.http_port, path, max_seconds=10)
        r.start()
        self.addCleanup(r.stop)
        self.wait_until(lambda: r.video_frames >= 5 or r.end is not None, 10, label + " frames")
        r.stop()
        self.assertEqual(r.status, 200, "%s: end %s" % (label, r.end))
        self.assertGreaterEqual(r.video_frames, 5, label)

    def publish_with(self, url, name, proc_name, key=None):
        pub = self.spawn_ffmpeg(harness.publisher_args(url, 60, video_opts=("-g", "25")), proc_name)
        key = key or "live/" + name
        self.wait_until(lambda: ("stream %s created" % key) in self.server.log_text() or pub.poll() is not None,
                        15, "%s published" % key)
        self.assertIsNone(pub.poll(), "publisher of %s refused: %s\n%s" % (key, pub.describe(),
                                                                         self.server.log_tail()))
        return pub

    def check_hls(self, key, good_query, wrong_query):
        """Playlist and one segment: refused without and with a wrong token, served with
        the right one, whose playlist repeats the query on every segment URI."""
        srv = self.server
        path = "/%s/index.m3u8" % key
        deadline = time.monotonic() + 15
        while True:
            status, _, pl, _ = harness.fetch_playlist(srv.http_port, path + "?" + good_query)
            if status == 200 and pl.segments or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200, "HLS playlist with the right token")
        self.assertTrue(pl.segments, "no segment listed:\n" + pl.text)
        uris = [s["uri"] for s in pl.segments]
        note("HLS %s: %d segments, first URI %s" % (key, len(uris), uris[0]))
        for uri in uris:
            self.assertRegex(uri, r"^\d+\.ts\?" + re.escape(good_query) + "$", "segment URI without the token")
        seg = "/%s/%s" % (key, uris[-1].split("?")[0])
        self.refuse_http("hls", path, "(no token)")
        self.refuse_http("hls", path + "?" + wrong_query, "(wrong token)")
        self.refuse_http("hls", seg, "(segment, no token)")
        self.refuse_http("hls", seg + "?" + wrong_query, "(segment, wrong token)")
        status, _, body, _ = harness.http_get(srv.http_port, "/%s/%s" % (key, uris[-1]))
        self.assertEqual(status, 200, "segment with the token")
        self.assertTrue(len(body) >= 188 and body[0] == 0x47, "segment is not MPEG-TS")

    def whip_whep(self, method, path, bearer=None, offer=None):
        headers = {"Content-Type": "application/sdp"} if offer is not None else {}
        if bearer is not None:
            headers["Authorization"] = "Bearer " + bearer
        return http_call(self.server.http_port, method, path, offer, headers)

    def delete_session(self, location, query, bearer):
        """DELETE of a session's Location: 401 without the token, 200 with it."""
        hdrs = self.refuse_http("webrtc", location, "(DELETE without token)", method="DELETE")
        self.assertEqual(hdrs.get("www-authenticate"), "Bearer")
        status, _, _ = self.whip_whep("DELETE", location + ("?" + query if query else ""), bearer)
        self.assertEqual(status, 200, "DELETE %s with the token" % location)

    # -- the tally

    def check_failures(self):
        srv = self.server
        got = auth_failures(srv)
        want = {p: self.expected.get(p, 0) for p in PROTOCOLS}
        note("sluice_auth_failures_total: %s (expected %s)" % (got, want))
        self.assertEqual(got, want, "sluice_auth_failures_total per protocol")
        lines = collections.Counter(m.group(1) for m in REFUSED_LINE.finditer(srv.log_text()))
        self.assertEqual({p: lines.get(p, 0) for p in PROTOCOLS}, want, "'refused' log lines per protocol")


class HmacPublishMd5Play(AuthCase):
    config = {"auth": {"publish": {"type": "hmac", "secret": PUB_SECRET, "apps": "live studio*"},
                       "play": {"type": "md5", "secret": PLAY_SECRET, "apps": "live studio*"}},
              "hls": {"segment_duration_ms": 1000}}

    def test_tokens(self):
        t0 = time.monotonic()
        srv = self.server
        now = int(time.time())
        good = hmac_query(PUB_SECRET, "live/cam", "publish")
        # -- RTMP publish: hmac
        with self.subTest(check="rtmp publish refusals"):
            self.refuse_rtmp_publish(srv.rtmp_url("cam"), "no token")
            self.refuse_rtmp_publish(srv.rtmp_url("cam") + "?" + hmac_query("other", "live/cam", "publish"),
                                     "wrong token")
            self.refuse_rtmp_publish(srv.rtmp_url("cam") + "?" + hmac_query(PUB_SECRET, "live/cam", "play"),
                                     "token signed for play")
            self.refuse_rtmp_publish(srv.rtmp_url("cam") + "?" + hmac_query(PUB_SECRET, "live/cam", "publish",
                                                                             now - 5), "expired token")
            self.refuse_rtmp_publish(srv.rtmp_url("cam", app="studio7"), "no token, app studio7")
            self.refuse_rtmp_raw("publish", "cam", "NetStream.Publish.Unauthorized")
            self.assertRegex(srv.log_text(), r"rtmp publish live/cam from \S+ refused: token expired")
            self.assertNotIn("stream live/cam created", srv.log_text())
        pub = self.publish_with(srv.rtmp_url("cam") + "?" + good, "cam", "publisher")
        # The token after the app, in tcUrl (rtmp://host/live?token=.../cam).
        tc = "rtmp://%s:%d/live?%s/cam2" % (HOST, srv.rtmp_port, hmac_query(PUB_SECRET, "live/cam2", "publish"))
        self.publish_with(tc, "cam2", "publisher-tcurl")
        # An app outside auth.publish.apps is open.
        self.publish_with(srv.rtmp_url("cam", app="open"), "cam", "publisher-open", key="open/cam")
        note("RTMP publish: refused 6 times, then accepted with the token in the stream name, "
             "in tcUrl, and without one in app 'open'")

        # -- RTSP publish: hmac
        rtsp_good = srv.rtsp_url("rcam") + "?" + hmac_query(PUB_SECRET, "live/rcam", "publish")
        with self.subTest(check="rtsp publish refusals"):
            self.refuse_rtsp_publish(srv.rtsp_url("rcam"), "no token")
            self.refuse_rtsp_publish(srv.rtsp_url("rcam") + "?" + hmac_query("other", "live/rcam", "publish"),
                                     "wrong token")
            self.refuse_rtsp_publish(srv.rtsp_url("rcam") + "?" + hmac_query(PUB_SECRET, "live/rcam", "publish",
                                                                             now - 5), "expired token")
        with self.subTest(check="rtsp publish with the token"):
            rpub = self.spawn_ffmpeg(["-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "30",
                                      "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
                                      "-f", "rtsp", "-rtsp_transport", "tcp", rtsp_good], "rtsp-publisher")
            self.wait_until(lambda: "stream live/rcam created" in srv.log_text() or rpub.poll() is not None,
                            10, "RTSP publisher")
            self.assertIsNone(rpub.poll(), "RTSP publish with the right token (%s) failed: %s\n%s"
                              % (rtsp_good, rpub.stderr_text(), srv.log_tail(4)))

        # -- plays: md5 = MD5(secret + name), the name without the app
        token = md5_token(PLAY_SECRET, "cam")
        with_app = md5_token(PLAY_SECRET, "live/cam")  # wrong: XIU hashes the name only
        with self.subTest(check="rtmp play"):
            self.refuse_play("rtmp", srv.rtmp_url("cam"), "no token")
            self.refuse_play("rtmp", srv.rtmp_url("cam") + "?token=" + with_app, "md5 over app/name")
            self.refuse_rtmp_raw("play", "cam?token=" + with_app, "NetStream.Play.Unauthorized")
            self.assert_plays(srv.rtmp_url("cam") + "?token=" + token, "RTMP play with the md5 token")
            self.assert_plays(srv.rtmp_url("cam") + "?token=" + token.upper(), "RTMP play, upper-case hex")
        with self.subTest(check="rtsp play"):
            self.refuse_play("rtsp", srv.rtsp_url("cam"), "no token")
            self.refuse_play("rtsp", srv.rtsp_url("cam") + "?token=" + with_app, "wrong token")
            self.assert_plays(srv.rtsp_url("cam") + "?token=" + token, "RTSP play with the md5 token")
        with self.subTest(check="http-flv play"):
            self.refuse_http("http-flv", srv.flv_path("cam"), "(no token)")
            self.refuse_http("http-flv", srv.flv_path("cam") + "?token=" + with_app, "(wrong token)")
            self.assert_flv_plays(srv.flv_path("cam") + "?token=" + token, "HTTP-FLV with the md5 token")
            self.assert_flv_plays(srv.flv_path("cam", app="open"), "HTTP-FLV of app 'open' without a token")
        with self.subTest(check="hls"):
            self.check_hls("live/cam", "token=" + token, "token=" + with_app)
            status, _, _, _ = harness.fetch_playlist(srv.http_port, "/open/cam/index.m3u8")
            self.assertEqual(status, 200, "HLS of app 'open' without a token")

        # -- WHIP (hmac publish) and WHEP (md5 play): status only
        with self.subTest(check="whip"):
            path = "/live/w/whip"
            w = self.offers["whip"]
            hdrs = self.refuse_http("webrtc", path, "(no token)", "POST", w, {"Content-Type": "application/sdp"})
            self.assertEqual(hdrs.get("www-authenticate"), "Bearer")
            q = hmac_query(PUB_SECRET, "live/w", "publish")
            exp, tok = re.match(r"expires=(\d+)&token=(\w+)", q).groups()
            self.refuse_http("webrtc", path + "?expires=" + exp, "(wrong Bearer)", "POST", w,
                             {"Content-Type": "application/sdp", "Authorization": "Bearer " + "0" * 64})
            old = hmac_query(PUB_SECRET, "live/w", "publish", now - 5)
            self.refuse_http("webrtc", path + "?" + old, "(expired)", "POST", w,
                             {"Content-Type": "application/sdp"})
            status, hdrs, body = self.whip_whep("POST", path + "?expires=" + exp, tok, w)
            self.assertEqual(status, 201, "WHIP with the Bearer token: %r" % body[:200])
            self.delete_session(hdrs["location"], "expires=" + exp, tok)
            status, hdrs, body = self.whip_whep("POST", path + "?" + q, None, w)
            self.assertEqual(status, 201, "WHIP with ?expires=&token=: %r" % body[:200])
            self.delete_session(hdrs["location"], q, None)
        with self.subTest(check="whep"):
            e = self.offers["whep"]
            self.refuse_http("webrtc", "/live/cam/whep", "(no token)", "POST", e, {"Content-Type": "application/sdp"})
            self.refuse_http("webrtc", "/live/cam/whep", "(wrong Bearer)", "POST", e,
                             {"Content-Type": "application/sdp", "Authorization": "Bearer " + with_app})
            status, _, body = self.whip_whep("POST", "/live/none/whep", md5_token(PLAY_SECRET, "none"), e)
            self.assertEqual(status, 404, "WHEP of an absent stream with its token: %r" % body[:200])
            status, hdrs, body = self.whip_whep("POST", "/live/cam/whep", token, e)
            self.assertEqual(status, 201, "WHEP with the Bearer token: %r" % body[:200])
            self.delete_session(hdrs["location"], "", token)
            status, _, body = self.whip_whep("POST", "/open/cam/whep", None, e)
            self.assertEqual(status, 201, "WHEP of app 'open' without a token: %r" % body[:200])

        self.assertIsNone(pub.poll(), "the publisher ended early")
        self.check_failures()
        note("hmac/md5: %.1f s" % (time.monotonic() - t0))


class SimplePublishHmacPlay(AuthCase):
    config = {"auth": {"publish": {"type": "simple", "secret": SIMPLE_SECRET},
                       "play": {"type": "hmac", "secret": PLAY_SECRET}},
              "hls": {"segment_duration_ms": 1000}}

    def test_tokens(self):
        t0 = time.monotonic()
        srv = self.server
        now = int(time.time())
        with self.subTest(check="simple publish refusals"):
            self.refuse_rtmp_publish(srv.rtmp_url("cam"), "no token")
            self.refuse_rtmp_publish(srv.rtmp_url("cam") + "?token=" + urllib.parse.quote(SIMPLE_SECRET + "x", safe=""),
                                     "wrong token")
            self.refuse_rtmp_publish(srv.rtmp_url("cam") + "?token=s3+cr%26t+x", "'+' for the space")
            self.refuse_rtmp_publish(srv.rtmp_url("cam", app="open") + "?token=nope", "wrong token, app open")
            self.refuse_rtsp_publish(srv.rtsp_url("rcam") + "?token=nope", "wrong token")
        self.publish_with(srv.rtmp_url("cam") + "?token=s3%20cr%26t+x", "cam", "publisher")

        good = hmac_query(PLAY_SECRET, "live/cam", "play")
        expired = hmac_query(PLAY_SECRET, "live/cam", "play", now - 5)
        publish_dir = hmac_query(PLAY_SECRET, "live/cam", "publish")
        with self.subTest(check="rtmp play"):
            self.refuse_play("rtmp", srv.rtmp_url("cam") + "?" + expired, "expired token")
            self.refuse_play("rtmp", srv.rtmp_url("cam") + "?" + publish_dir, "token signed for publish")
            self.refuse_play("rtmp", srv.rtmp_url("cam") + "?" + good.split("&")[1], "token without expires")
            self.assert_plays(srv.rtmp_url("cam") + "?" + good, "RTMP play with the hmac token")
        with self.subTest(check="rtsp play"):
            self.refuse_play("rtsp", srv.rtsp_url("cam") + "?" + expired, "expired token")
            self.assert_plays(srv.rtsp_url("cam") + "?" + good, "RTSP play with the hmac token")
        with self.subTest(check="http-flv play"):
            self.refuse_http("http-flv", srv.flv_path("cam") + "?" + expired, "(expired token)")
            self.assert_flv_plays(srv.flv_path("cam") + "?" + good, "HTTP-FLV with the hmac token")
        with self.subTest(check="hls"):
            self.check_hls("live/cam", good, expired)
        with self.subTest(check="whep"):
            e = self.offers["whep"]
            exp, tok = re.match(r"expires=(\d+)&token=(\w+)", good).groups()
            self.refuse_http("webrtc", "/live/cam/whep?" + expired.split("&")[0], "(expired Bearer)", "POST", e,
                             {"Content-Type": "application/sdp",
                              "Authorization": "Bearer " + expired.split("token=")[1]})
            status, hdrs, body = self.whip_whep("POST", "/live/cam/whep?expires=" + exp, tok, e)
            self.assertEqual(status, 201, "WHEP with the hmac Bearer token: %r" % body[:200])
            self.delete_session(hdrs["location"], "expires=" + exp, tok)
        self.assertRegex(srv.log_text(), r"http-flv play live/cam from \S+ refused: token expired")
        self.check_failures()
        note("simple/hmac: %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
