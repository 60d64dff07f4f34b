"""Audio transcoding Opus <-> AAC, as the viewers hear it.

- WhipToAac: Chromium publishes its fake camera and mic (Opus) over WHIP; ffprobe over
  RTMP, HTTP-FLV and HLS finds an AAC audio stream at 48000 Hz, and 5 s decoded from each
  are audible (volumedetect) and continuous (the decoded sample count).
- RtmpAacToWhep: ffmpeg publishes RTMP H.264 constrained baseline (no B-frames) + AAC of
  a 1000 Hz sine at 44.1 kHz; Chromium plays it over WHEP and gets Opus: the answer keeps
  audio, samples rise over the last 3 s, the level is above 0.01.
- AvSync: ffmpeg publishes over RTSP a video that flashes white for one frame every 2 s
  and Opus audio that beeps for 40 ms at the same instants; 60 s are recorded over RTMP
  and over HTTP-FLV (the transcoded AAC) and, as the control, over RTSP (the publisher's
  Opus, untouched); each flash is paired with its beep: the offset stays under 40 ms at
  the start, at the end and everywhere between.
- TranscodeOff: with transcode.enabled false a WHIP stream plays over RTMP and HTTP-FLV
  with video only, and an AAC stream's WHEP answer refuses audio.

Runs in its own network namespace (webrtc.main()), like every WebRTC test.
"""

import json
import re
import threading
import time

import harness
import webrtc
from harness import note

KEY = "live/cam"
SYNC_SECONDS = 60          # recorded over each protocol
SYNC_BOUND_S = 0.040       # |audio onset - video onset| of every flash/beep pair
FLASH_PERIOD_S = 2.0


# ---------------------------------------------------------------- helpers

def probe_streams(url, analyze_us=3000000, timeout=25):
    """ffprobe's streams of a live URL ({codec_type: first stream of that type}, Result)."""
    res = harness.run(["ffprobe", "-v", "error", "-rw_timeout", "10000000",
                       "-analyzeduration", str(analyze_us), "-show_entries",
                       "stream=codec_type,codec_name,profile,width,height,sample_rate,channels",
                       "-of", "json", url], timeout=timeout)
    try:
        streams = json.loads(res.stdout or "{}").get("streams") or []
    except ValueError:
        streams = []
    out = {}
    for s in streams:
        out.setdefault(s.get("codec_type"), s)
    return out, res


def volume(url, seconds=5, timeout=30):
    """Decodes `seconds` of the audio of `url` with volumedetect: dict with mean and max
    (dB) and samples (n_samples: all channels), or values None; and the Result."""
    res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-rw_timeout", "10000000",
                       "-i", url, "-t", str(seconds), "-vn", "-af", "volumedetect",
                       "-f", "null", "-"], timeout)
    out = {"mean": None, "max": None, "samples": None}
    for key, pat in (("mean", r"mean_volume:\s*(-?[\d.]+|-inf) dB"),
                     ("max", r"max_volume:\s*(-?[\d.]+|-inf) dB"),
                     ("samples", r"n_samples:\s*(\d+)")):
        m = re.search(pat, res.stderr)
        if m:
            out[key] = float("-inf") if m.group(1) == "-inf" else float(m.group(1))
    return out, res


def in_threads(jobs):
    """Runs {label: callable} at once; {label: return value or the exception}."""
    out = {}

    def one(label, fn):
        try:
            out[label] = fn()
        except Exception as e:  # reported by the caller's assertion
            out[label] = e

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def flash_onsets(path):
    """Times (s, the file's own timestamps) of the first bright frame of each flash."""
    res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-copyts",
                       "-i", path, "-map", "0:v:0", "-vf",
                       "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-",
                       "-f", "null", "-"], timeout=120)
    onsets, t, was_bright = [], None, False
    for line in res.stdout.splitlines():
        m = re.search(r"pts_time:(-?[\d.]+)", line)
        if m:
            t = float(m.group(1))
            continue
        m = re.search(r"lavfi\.signalstats\.YAVG=([\d.]+)", line)
        if m and t is not None:
            bright = float(m.group(1)) > 128
            if bright and not was_bright:
                onsets.append(t)
            was_bright = bright
    return onsets, res


def beep_onsets(path):
    """Times (s, the file's own timestamps) where each beep starts: silencedetect's
    silence_end at -20 dB after >= 0.5 s of silence."""
    res = harness.run(["ffmpeg", "-hide_banner", "-nostdin", "-copyts", "-i", path,
                       "-map", "0:a:0", "-af", "silencedetect=noise=-20dB:d=0.5",
                       "-f", "null", "-"], timeout=120)
    return [float(x) for x in re.findall(r"silence_end:\s*(-?[\d.]+)", res.stderr)], res


def pair_onsets(flashes, beeps):
    """[(flash time, beep - flash)] for each flash with a beep within half a period."""
    pairs = []
    for v in flashes:
        near = [a for a in beeps if abs(a - v) < FLASH_PERIOD_S / 2]
        if near:
            a = min(near, key=lambda a: abs(a - v))
            pairs.append((v, a - v))
    return pairs


def sync_publisher_args(url, seconds):
    """ffmpeg over RTSP (TCP): 320x240 25 fps black with one white frame every 2 s
    (H.264 baseline, keyframe every 50 frames) and a 40 ms 1000 Hz beep at half scale at
    the same instants, silence between (Opus 48 kHz stereo)."""
    return ["-re", "-f", "lavfi", "-i",
            "color=c=black:s=320x240:r=25,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:"
            "enable='lt(mod(t,2),0.04)'",
            "-re", "-f", "lavfi", "-i",
            "aevalsrc='if(lt(mod(t,2),0.04),0.5*sin(2*PI*1000*t),0)':s=48000:c=stereo",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-profile:v", "baseline", "-g", "50", "-pix_fmt", "yuv420p",
            "-c:a", "libopus", "-b:a", "64k",
            "-f", "rtsp", "-rtsp_transport", "tcp", url]


def aac_publisher_args(url, seconds):
    """ffmpeg over RTMP: testsrc2 640x360 25 fps H.264 constrained baseline without
    B-frames, and a 1000 Hz sine as AAC 44.1 kHz stereo."""
    return ["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-profile:v", "baseline", "-bf", "0", "-g", "50", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-f", "flv", url]


def media_ports(answer):
    """{kind: port} of the m= lines of an SDP answer (port 0: refused)."""
    out = {}
    for ln in (answer or "").replace("\r\n", "\n").split("\n"):
        m = re.match(r"m=(\w+) (\d+) ", ln)
        if m:
            out.setdefault(m.group(1), int(m.group(2)))
    return out


class TranscodeCase(webrtc.WebRtcTestCase):
    NEEDS_WERIFT = False

    def start_whip(self):
        pub = self.whip_publish(KEY, 90)
        pub.wait_connected(20)
        self.assertTrue(self.server.wait_log("stream %s created" % KEY, 5),
                        "WHIP connected but the stream was not created\n" + self.server.log_tail())
        return pub

    def wait_hls(self, n, timeout):
        deadline = time.monotonic() + timeout
        pl = None
        while time.monotonic() < deadline:
            _, _, pl, _ = harness.fetch_playlist(self.server.http_port, self.server.hls_path("cam"))
            if pl is not None and len(pl.segments) >= n:
                return pl
            time.sleep(0.3)
        self.fail("HLS playlist has %s segments after %d s (want %d)\n%s" % (
            len(pl.segments) if pl else None, timeout, n, pl.text if pl else "no playlist"))


# ---------------------------------------------------------------- 1. WHIP (Opus) -> AAC

class WhipToAac(TranscodeCase):
    config = {"hls": {"enabled": True, "segment_duration_ms": 1000}}

    def test_whip_opus_plays_as_aac(self):
        srv = self.server
        pub = self.start_whip()
        self.wait_hls(2, 20)
        urls = {"RTMP": srv.rtmp_url("cam"), "HTTP-FLV": srv.flv_url("cam"),
                "HLS": srv.hls_url("cam")}
        jobs = {}
        for label, url in urls.items():
            jobs["probe " + label] = (lambda u=url: probe_streams(u))
            jobs["volume " + label] = (lambda u=url: volume(u, 5))
        t0 = time.monotonic()
        got = in_threads(jobs)
        note("whip->aac: probes and 5 s decodes of 3 protocols took %.1f s"
             % (time.monotonic() - t0))
        for label in urls:
            with self.subTest(protocol=label):
                probe = got.get("probe " + label)
                vol = got.get("volume " + label)
                for r in (probe, vol):
                    if isinstance(r, Exception):
                        raise r
                streams, res = probe
                a, v = streams.get("audio"), streams.get("video")
                vinfo, vres = vol
                note("whip->aac over %s: video %s, audio %s; 5 s decoded: mean %s dB, max %s dB, "
                     "%s samples" % (label, v and (v.get("codec_name"), v.get("width"), v.get("height")),
                                     a and (a.get("codec_name"), a.get("sample_rate"), a.get("channels")),
                                     vinfo["mean"], vinfo["max"], vinfo["samples"]))
                self.assertIsNotNone(v, "%s: no video stream: %r" % (label, res))
                self.assertEqual(v.get("codec_name"), "h264", "%s video codec" % label)
                self.assertIsNotNone(a, "%s: no audio stream for the WHIP (Opus) publish "
                                        "(ffprobe saw %s): %r" % (label, sorted(streams), res))
                self.assertEqual(a.get("codec_name"), "aac", "%s audio codec" % label)
                self.assertEqual(int(a.get("sample_rate") or 0), 48000, "%s sample rate" % label)
                self.assertIn(a.get("channels"), (1, 2), "%s channels" % label)
                self.assertIsNotNone(vinfo["mean"], "%s: volumedetect printed nothing: %r"
                                     % (label, vres))
                self.assertGreater(vinfo["mean"], -60.0, "%s: the transcoded audio is silent" % label)
                # 5 s of 48 kHz audio: a track with holes decodes to fewer samples.
                want = 0.9 * 5 * 48000 * a["channels"]
                self.assertGreaterEqual(vinfo["samples"] or 0, want,
                                        "%s: 5 s decoded to %s samples (< %d): holes in the "
                                        "audio" % (label, vinfo["samples"], want))
        with self.subTest(check="the log names the transcoder"):
            self.assertIn("transcode %s: opus -> aac" % KEY, srv.log_text())
        p = pub.stop()
        note(webrtc.describe(p))
        self.assertEqual((p.get("audio") or {}).get("codec"), "audio/opus",
                         "the WHIP publisher should have sent Opus")


# ---------------------------------------------------------------- 2. RTMP (AAC) -> WHEP Opus

class RtmpAacToWhep(TranscodeCase):
    def test_rtmp_aac_plays_as_opus(self):
        srv = self.server
        pub = self.spawn_ffmpeg(aac_publisher_args(srv.rtmp_url("cam"), 60), "pub-aac")
        self.wait_published(pub, "cam")
        res = self.whep_play(KEY, 6)
        note(webrtc.describe(res))
        v, a = res.get("video") or {}, res.get("audio") or {}
        self.assertEqual(res.get("status"), 201, "WHEP POST: %s" % res.get("responseBody"))
        ports = media_ports(res.get("answerSdp"))
        self.assertNotEqual(ports.get("audio", 0), 0, "the answer refused audio for an AAC "
                                                      "stream (m= ports %s)" % ports)
        self.assertGreater(v.get("framesDecoded") or 0, 50, "video frames decoded")
        self.assertEqual(a.get("codec"), "audio/opus", "WHEP audio codec")
        tl = [row for row in res.get("timeline") or [] if len(row) > 6]
        self.assertTrue(tl, "no stats timeline")
        end_ms = tl[-1][0]
        s_then = max([row[4] for row in tl if row[0] <= end_ms - 3000] or [0])
        s_end = tl[-1][4]
        levels = [row[6] for row in tl if row[0] > end_ms - 3000]
        concealed = a.get("concealedSamples") or 0
        total = a.get("totalSamplesReceived") or 0
        note("aac->whep: %s Opus packets, samples %d -> %d over the last 3 s, level %s "
             "(max %s, min over the last 3 s %s), concealed %d of %d (%.1f %%), energy %.3f"
             % (a.get("packetsReceived"), s_then, s_end, a.get("audioLevel"),
                res.get("audioLevelMax"), min(levels) if levels else None, concealed, total,
                100.0 * concealed / total if total else 0, a.get("totalAudioEnergy") or 0))
        self.assertGreater(s_then, 0, "no audio samples 3 s before the end")
        self.assertGreater(s_end - s_then, 0.8 * 3 * 48000,
                           "audio samples not rising at 48 kHz over the last 3 s (%d -> %d)"
                           % (s_then, s_end))
        # A steady tone: concealment means the derived Opus came late or with holes.
        self.assertLess(concealed, 0.1 * total, "the viewer concealed %d of %d samples"
                        % (concealed, total))
        self.assertGreater(a.get("audioLevel") or 0, 0.01, "the viewer's audio level at the end")
        self.assertGreater(res.get("audioLevelMax") or 0, 0.01, "the viewer's loudest level")
        self.assertIn("transcode %s: aac -> opus" % KEY, srv.log_text())


# ---------------------------------------------------------------- 3. A/V sync over 60 s

class AvSync(TranscodeCase):
    def test_flash_and_beep_stay_together(self):
        srv = self.server
        pub = self.spawn_ffmpeg(sync_publisher_args(srv.rtsp_url("cam"), SYNC_SECONDS + 20),
                                "pub-rtsp-opus")
        self.wait_published(pub, "cam")
        recs = {"RTMP": (srv.rtmp_url("cam"), "flv"), "HTTP-FLV": (srv.flv_url("cam"), "flv"),
                "RTSP (Opus, control)": (srv.rtsp_url("cam"), "matroska")}
        procs = {}
        for i, (label, (url, fmt)) in enumerate(recs.items()):
            path = self.workdir / ("sync-%d.%s" % (i, "flv" if fmt == "flv" else "mkv"))
            # ffmpeg's RTSP demuxer takes -timeout (us) where the others take -rw_timeout.
            pre = (["-rtsp_transport", "tcp", "-timeout", "10000000"] if url.startswith("rtsp:")
                   else ["-rw_timeout", "10000000"])
            procs[label] = (path, self.spawn_ffmpeg(
                pre + ["-i", url, "-t", str(SYNC_SECONDS),
                       "-map", "0", "-c", "copy", "-copyinkf", "-y", "-f", fmt, str(path)],
                "rec-%d" % i))
        t0 = time.monotonic()
        for label, (path, p) in procs.items():
            rc = p.wait(SYNC_SECONDS + 30 - (time.monotonic() - t0))
            self.assertEqual(rc, 0, "recording over %s: %s" % (label, p.describe()))
        note("sync: recorded %d s over 3 protocols in %.1f s" % (SYNC_SECONDS, time.monotonic() - t0))
        srv.assert_alive()

        analysed = in_threads({label: (lambda p=path: (flash_onsets(str(p)), beep_onsets(str(p))))
                               for label, (path, _) in procs.items()})
        results = {}
        for label in recs:
            r = analysed.get(label)
            if isinstance(r, Exception):
                raise r
            (flashes, _), (beeps, bres) = r
            pairs = pair_onsets(flashes, beeps)
            results[label] = (flashes, beeps, pairs)
            offs = [o for _, o in pairs]
            note("sync over %s: %d flashes, %d beeps, %d pairs; offset (beep - flash) ms: "
                 "first 3 %s, last 3 %s, min %s max %s" % (
                     label, len(flashes), len(beeps), len(pairs),
                     [round(o * 1000, 1) for o in offs[:3]], [round(o * 1000, 1) for o in offs[-3:]],
                     round(min(offs) * 1000, 1) if offs else None,
                     round(max(offs) * 1000, 1) if offs else None))
        control = results["RTSP (Opus, control)"]
        control_text = "control over RTSP (the publisher's Opus): offsets ms %s" % (
            [round(o * 1000, 1) for _, o in control[2]])
        for label in ("RTMP", "HTTP-FLV"):
            with self.subTest(protocol=label):
                flashes, beeps, pairs = results[label]
                path = procs[label][0]
                streams = {s["codec_type"]: s for s in
                           harness.ffprobe_json(path, ["-show_entries",
                                                       "stream=codec_type,codec_name"]).get("streams", [])}
                self.assertEqual((streams.get("audio") or {}).get("codec_name"), "aac",
                                 "%s recording: no AAC audio (streams %s)" % (label, streams))
                want = int(SYNC_SECONDS / FLASH_PERIOD_S) - 3
                self.assertGreaterEqual(len(flashes), want, "%s: too few flashes in %d s: %s"
                                        % (label, SYNC_SECONDS, flashes))
                self.assertGreaterEqual(len(pairs), want,
                                        "%s: %d of %d flashes have a beep within 1 s (beeps at %s)"
                                        % (label, len(pairs), len(flashes), beeps))
                # The pairs cover the start and the end of the recording.
                self.assertLess(pairs[0][0] - flashes[0], 2 * FLASH_PERIOD_S + 0.1,
                                "%s: no pair near the start" % label)
                self.assertLess(flashes[-1] - pairs[-1][0], 2 * FLASH_PERIOD_S + 0.1,
                                "%s: no pair near the end" % label)
                head = [o for _, o in pairs[:3]]
                tail = [o for _, o in pairs[-3:]]
                bad = [(round(t, 2), round(o * 1000, 1)) for t, o in pairs if abs(o) >= SYNC_BOUND_S]
                self.assertTrue(all(abs(o) < SYNC_BOUND_S for o in head),
                                "%s: A/V offset at the start %s ms (bound %d ms); %s" % (
                                    label, [round(o * 1000, 1) for o in head],
                                    SYNC_BOUND_S * 1000, control_text))
                self.assertTrue(all(abs(o) < SYNC_BOUND_S for o in tail),
                                "%s: A/V offset at the end %s ms (bound %d ms); %s" % (
                                    label, [round(o * 1000, 1) for o in tail],
                                    SYNC_BOUND_S * 1000, control_text))
                self.assertFalse(bad, "%s: pairs (flash s, offset ms) beyond %d ms: %s; %s" % (
                    label, SYNC_BOUND_S * 1000, bad, control_text))


# ---------------------------------------------------------------- 4. the switch

class TranscodeOff(TranscodeCase):
    config = {"transcode": {"enabled": False}}

    def test_no_transcoding_when_disabled(self):
        srv = self.server
        aac = self.spawn_ffmpeg(aac_publisher_args(srv.rtmp_url("aac"), 60), "pub-aac")
        self.start_whip()
        self.wait_published(aac, "aac")
        viewer = self.whep_start("live/aac", 4)
        got = in_threads({label: (lambda u=url: probe_streams(u, analyze_us=5000000))
                          for label, url in (("RTMP", srv.rtmp_url("cam")),
                                             ("HTTP-FLV", srv.flv_url("cam")))})
        for label in ("RTMP", "HTTP-FLV"):
            with self.subTest(protocol=label):
                r = got.get(label)
                if isinstance(r, Exception):
                    raise r
                streams, res = r
                note("transcode off, WHIP over %s: %s (%.1f s)" % (
                    label, {k: (s.get("codec_name"), s.get("sample_rate")) for k, s in streams.items()},
                    res.elapsed))
                self.assertEqual((streams.get("video") or {}).get("codec_name"), "h264",
                                 "%s: the WHIP stream's video: %r" % (label, res))
                self.assertNotIn("audio", streams, "%s: an audio stream with transcode.enabled "
                                                   "false" % label)
        with self.subTest(check="WHEP of an AAC stream"):
            res = viewer.result()
            note(webrtc.describe(res))
            self.assertEqual(res.get("status"), 201)
            self.assertEqual(media_ports(res.get("answerSdp")).get("audio"), 0,
                             "the answer should refuse audio with transcoding off")
            self.assertFalse((res.get("audio") or {}).get("packetsReceived"),
                             "audio packets with transcoding off")
        self.assertNotIn("transcode live/", srv.log_text(), "a transcoder ran while disabled")


if __name__ == "__main__":
    webrtc.main()
