// WebRTC in headless Chromium for sluice's end-to-end tests, driven by tests/e2e/webrtc.py.
// Meant to run inside a private network namespace where 127.0.0.1 is the only address
// (see webrtc.py): Chromium then pairs 127.0.0.1 with 127.0.0.1 and nothing leaves.
//
//   node webrtc.mjs whip URL SECONDS [OPTIONS_JSON]   publish the fake camera + mic
//   node webrtc.mjs whep URL SECONDS [OPTIONS_JSON]   play a stream
//   node webrtc.mjs loopback SECONDS [OPTIONS_JSON]   two peer connections in one page
//   node webrtc.mjs mock PORT                         a WHIP/WHEP stand-in (selfcheck)
//
// URL is the WHIP/WHEP endpoint, http://127.0.0.1:PORT/APP/NAME/whip (or /whep).
// OPTIONS_JSON (all optional):
//   token        sent as "Authorization: Bearer TOKEN"
//   dataMessage  once the "chat" data channel is open, sent every 200 ms ("{n}" becomes
//                a counter from 0)
//   dataChannel  false: no data channel (and no m=application in the offer)
//   videoCodec   "H264" / "H265" / "VP8"...: offer only that video codec (H.264 only in
//                packetization-mode 1); default: all of Chromium's, in its order
//   audio        false: no audio (publisher: no mic; viewer: no audio transceiver)
//   video        false: no video
//   width, height, fps   the publisher's camera constraints (default 640x360 at 25)
//   waitIce      false: send the offer before ICE gathering completes (default: wait,
//                at most 3 s)
//   signalFrom   "node" (default): the HTTP requests are made by this script, so CORS
//                plays no part; "page": by the page's fetch(), cross-origin as a real
//                web client would (needs the server's CORS answers)
//   delete       false: leave without the DELETE on the session's Location
//   sampleMs     the getStats period (default 200)
//
// stdout: JSON lines, each with an "event": progress events as they happen (launched,
// offer and answer (each with its SDP), connection, track, firstFrame, dataOpen, ...)
// and, last, one {"event": "result", ...} with everything measured (listed in
// tests/e2e/webrtc.py).
// SIGTERM or SIGINT ends the play time early: the result is still measured and printed.
//
// Exit 0: the browser ran and the result was printed (it may show a failed negotiation;
// judging is the caller's job). 1: Chromium or the page could not start. 2: bad
// arguments. 3: the hard timeout (SECONDS + 30 s) struck.
//
// env CHROMIUM_BIN overrides /usr/bin/chromium. Chromium's profile goes to TMPDIR.

import { createServer } from 'node:http';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const LAUNCH_BOUND_MS = 15000;
const SLACK_MS = 30000; // launch, negotiation, measuring and closing, on top of SECONDS
const HTTP_BOUND_MS = 10000;

// The flags of the design notes (TESTING.md). For WebRTC: the fake camera (at 25 fps,
// not its default 20) and mic without a permission prompt, and loopback candidates
// allowed: without that flag Chromium gathers no candidate at all in the namespace.
const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=fps=25',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the page's code

// Runs in the browser (served inline as the page's script): window.rtc. Everything it
// measures is kept in plain objects; errors are collected, never thrown past a handler,
// so one bad event cannot hide the numbers measured so far. Events for the driver go
// through window.rtcEvent (a playwright binding) when it exists.
function pageLib() {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const event = (e) => { if (window.rtcEvent) window.rtcEvent({ ms: ms(), ...e }); };
  const rtc = {};
  window.rtc = rtc;

  function watchStates(pc, states, tag) {
    const rec = () => {
      const s = { ms: ms(), connection: pc.connectionState, ice: pc.iceConnectionState };
      const last = states[states.length - 1];
      if (last && last.connection === s.connection && last.ice === s.ice) return;
      states.push(s);
      event({ event: 'connection', tag, connection: s.connection, ice: s.ice });
    };
    pc.addEventListener('connectionstatechange', rec);
    pc.addEventListener('iceconnectionstatechange', rec);
    rec();
  }

  async function gathered(pc, boundMs) {
    if (pc.iceGatheringState === 'complete') return;
    await new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, boundMs);
    });
  }

  // Restricts a transceiver to one video codec (H.264: packetization-mode=1 only), with
  // rtx kept so retransmissions still work.
  function onlyCodec(transceiver, caps, name) {
    const want = name.toLowerCase();
    const pick = caps.codecs.filter((c) => {
      const n = c.mimeType.split('/')[1].toLowerCase();
      if (n === 'rtx') return true;
      if (n !== want) return false;
      return want !== 'h264' || /packetization-mode=1/.test(c.sdpFmtpLine || '');
    });
    if (!pick.some((c) => !/rtx$/i.test(c.mimeType))) {
      throw new Error('Chromium has no ' + name + ' codec: ' +
        caps.codecs.map((c) => c.mimeType).join(' '));
    }
    transceiver.setCodecPreferences(pick);
  }

  function useChannel(dc, opts, data) {
    Object.assign(data, { label: dc.label, openMs: null, closeMs: null, sent: 0,
      received: 0, bytesReceived: 0, firstMessageMs: null, messages: [] });
    let timer = null;
    dc.addEventListener('open', () => {
      data.openMs = ms();
      event({ event: 'dataOpen', label: dc.label });
      if (opts.dataMessage === undefined || opts.dataMessage === null) return;
      timer = setInterval(() => {
        if (dc.readyState !== 'open') return;
        dc.send(String(opts.dataMessage).replace('{n}', String(data.sent)));
        data.sent += 1;
      }, 200);
    });
    dc.addEventListener('close', () => {
      data.closeMs = ms();
      if (timer) clearInterval(timer);
      event({ event: 'dataClose', label: dc.label });
    });
    dc.addEventListener('message', (e) => {
      const size = typeof e.data === 'string' ? e.data.length : (e.data.byteLength ?? e.data.size);
      const text = typeof e.data === 'string' ? e.data : '<' + size + ' bytes>';
      data.received += 1;
      data.bytesReceived += size;
      if (data.firstMessageMs === null) {
        data.firstMessageMs = ms();
        event({ event: 'firstMessage', text: text.slice(0, 200) });
      }
      if (data.messages.length < 20) data.messages.push(text.slice(0, 200));
    });
  }

  const pick = (o, keys) => {
    const out = {};
    for (const k of keys) if (o && o[k] !== undefined) out[k] = o[k];
    return out;
  };
  const IN_VIDEO = ['packetsReceived', 'bytesReceived', 'packetsLost', 'framesReceived',
    'framesDecoded', 'keyFramesDecoded', 'framesDropped', 'frameWidth', 'frameHeight',
    'framesPerSecond', 'freezeCount', 'totalFreezesDuration', 'pauseCount', 'nackCount',
    'pliCount', 'firCount', 'jitter', 'decoderImplementation', 'ssrc'];
  const IN_AUDIO = ['packetsReceived', 'bytesReceived', 'packetsLost', 'totalSamplesReceived',
    'concealedSamples', 'silentConcealedSamples', 'audioLevel', 'totalAudioEnergy',
    'totalSamplesDuration', 'jitter', 'ssrc'];
  const OUT_VIDEO = ['packetsSent', 'bytesSent', 'framesEncoded', 'framesSent',
    'keyFramesEncoded', 'frameWidth', 'frameHeight', 'framesPerSecond', 'nackCount',
    'pliCount', 'firCount', 'qualityLimitationReason', 'encoderImplementation', 'ssrc',
    'retransmittedPacketsSent'];
  const OUT_AUDIO = ['packetsSent', 'bytesSent', 'retransmittedPacketsSent', 'ssrc'];

  // One getStats() boiled down: per direction and kind the counters above with the
  // codec's mimeType and fmtp line, the selected candidate pair, the data channels.
  async function snapshot(pc) {
    const rep = await pc.getStats();
    const byId = new Map();
    rep.forEach((s) => byId.set(s.id, s));
    const codec = (s) => {
      const c = s && s.codecId ? byId.get(s.codecId) : null;
      return c ? { codec: c.mimeType, fmtp: c.sdpFmtpLine || '', payloadType: c.payloadType,
        clockRate: c.clockRate, channels: c.channels } : {};
    };
    const snap = { inbound: {}, outbound: {}, pair: null, remoteInbound: {}, channels: [] };
    rep.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        const keys = s.kind === 'video' ? IN_VIDEO : IN_AUDIO;
        snap.inbound[s.kind] = { ...pick(s, keys), ...codec(s) };
      } else if (s.type === 'outbound-rtp') {
        const keys = s.kind === 'video' ? OUT_VIDEO : OUT_AUDIO;
        snap.outbound[s.kind] = { ...pick(s, keys), ...codec(s) };
      } else if (s.type === 'remote-inbound-rtp') {
        snap.remoteInbound[s.kind] = pick(s, ['packetsLost', 'roundTripTime', 'jitter',
          'fractionLost']);
      } else if (s.type === 'transport' && s.selectedCandidatePairId) {
        const p = byId.get(s.selectedCandidatePairId);
        const cand = (id) => {
          const c = byId.get(id) || {};
          return (c.address || c.ip) + ':' + c.port + ' ' + c.protocol + ' ' + c.candidateType;
        };
        if (p) {
          snap.pair = { local: cand(p.localCandidateId), remote: cand(p.remoteCandidateId),
            state: p.state, currentRoundTripTime: p.currentRoundTripTime,
            dtlsState: s.dtlsState, srtpCipher: s.srtpCipher, tlsVersion: s.tlsVersion };
        }
      } else if (s.type === 'data-channel') {
        snap.channels.push(pick(s, ['label', 'state', 'messagesSent', 'messagesReceived',
          'bytesSent', 'bytesReceived']));
      }
    });
    return snap;
  }

  // Samples getStats() every sampleMs into a compact timeline:
  // [ms, video frames (decoded or encoded), video packets, audio packets, audio samples,
  // total audio energy, audio level]. The loudest audioLevel seen is kept too: a single
  // reading may fall between two beeps of the fake mic.
  function sampler(session, pc, sampleMs) {
    let busy = false;
    const tick = async () => {
      if (busy || pc.signalingState === 'closed') return;
      busy = true;
      try {
        const snap = await snapshot(pc);
        session.last = snap;
        const vin = snap.inbound.video || {};
        const vout = snap.outbound.video || {};
        const ain = snap.inbound.audio || {};
        const aout = snap.outbound.audio || {};
        const frames = vin.framesDecoded ?? vout.framesEncoded ?? 0;
        session.timeline.push([ms(), frames, vin.packetsReceived ?? vout.packetsSent ?? 0,
          ain.packetsReceived ?? aout.packetsSent ?? 0, ain.totalSamplesReceived ?? 0,
          ain.totalAudioEnergy ?? 0, ain.audioLevel ?? 0]);
        if ((ain.audioLevel ?? 0) > session.audioLevelMax) session.audioLevelMax = ain.audioLevel;
        if (session.timeline.length > 3000) session.timeline.splice(1, 1);
        if (vin.framesDecoded > 0 && session.firstDecodedMs === null) {
          session.firstDecodedMs = ms();
          event({ event: 'firstDecoded', frameWidth: vin.frameWidth,
            frameHeight: vin.frameHeight, codec: vin.codec });
        }
      } catch (e) {
        if (session.errors.length < 20) session.errors.push('getStats: ' + e);
      } finally {
        busy = false;
      }
    };
    session.timer = setInterval(tick, sampleMs || 200);
    tick();
  }

  function newSession(role) {
    return { role, pc: null, states: [], data: {}, tracks: [], timeline: [],
      errors: [], last: null, offerMs: null, acceptMs: null, audioLevelMax: 0,
      connectedMs: null, firstFrameMs: null, firstDecodedMs: null, timer: null };
  }

  // A remote video goes into a <video>, whose requestVideoFrameCallback gives the time
  // the first frame was presented; a remote audio into an <audio>, so it is played out
  // (and counted) as a real page would.
  function sink(session, track) {
    const el = document.createElement(track.kind === 'video' ? 'video' : 'audio');
    el.muted = track.kind === 'video';
    el.autoplay = true;
    el.playsInline = true;
    el.srcObject = new MediaStream([track]);
    document.body.appendChild(el);
    const p = el.play();
    if (p && p.catch) p.catch((e) => session.errors.push(track.kind + ' play(): ' + e));
    if (track.kind === 'video' && el.requestVideoFrameCallback) {
      el.requestVideoFrameCallback((now, meta) => {
        session.firstFrameMs = ms();
        event({ event: 'firstFrame', width: meta.width, height: meta.height });
      });
    }
  }

  async function offer(session, pc, opts) {
    watchStates(pc, session.states, session.role);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected' && session.connectedMs === null) {
        session.connectedMs = ms();
      }
    });
    if (opts.dataChannel !== false) useChannel(pc.createDataChannel('chat'), opts, session.data);
    await pc.setLocalDescription(await pc.createOffer());
    if (opts.waitIce !== false) await gathered(pc, 3000);
    session.offerMs = ms();
    sampler(session, pc, opts.sampleMs);
    return pc.localDescription.sdp;
  }

  // WHIP: the fake camera and mic, send-only, with a "chat" data channel.
  rtc.publish = async (opts) => {
    const session = rtc.session = newSession('whip');
    const stream = await navigator.mediaDevices.getUserMedia({
      video: opts.video === false ? false : { width: { exact: opts.width || 640 },
        height: { exact: opts.height || 360 }, frameRate: opts.fps || 25 },
      audio: opts.audio !== false,
    });
    const pc = session.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    for (const track of stream.getTracks()) {
      const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (track.kind === 'video') {
        if (opts.videoCodec) onlyCodec(tr, RTCRtpSender.getCapabilities('video'), opts.videoCodec);
        // Keeps the size fixed while the bandwidth estimate ramps up, so a viewer can
        // assert it.
        const params = tr.sender.getParameters();
        params.degradationPreference = 'maintain-resolution';
        await tr.sender.setParameters(params)
          .catch((e) => session.errors.push('setParameters: ' + e));
      }
    }
    return offer(session, pc, opts);
  };

  // WHEP: receive-only video and audio transceivers, with a "chat" data channel.
  rtc.play = async (opts) => {
    const session = rtc.session = newSession('whep');
    const pc = session.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    if (opts.video !== false) {
      const tr = pc.addTransceiver('video', { direction: 'recvonly' });
      if (opts.videoCodec) onlyCodec(tr, RTCRtpReceiver.getCapabilities('video'), opts.videoCodec);
    }
    if (opts.audio !== false) pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addEventListener('track', (e) => {
      session.tracks.push({ kind: e.track.kind, ms: ms() });
      event({ event: 'track', kind: e.track.kind });
      sink(session, e.track);
    });
    return offer(session, pc, opts);
  };

  rtc.accept = async (sdp) => {
    const s = rtc.session;
    await s.pc.setRemoteDescription({ type: 'answer', sdp });
    s.acceptMs = ms();
  };

  // The page's own signalling (signalFrom "page"): a cross-origin fetch.
  rtc.fetch = async (url, method, body, token) => {
    const headers = {};
    if (body !== null) headers['Content-Type'] = 'application/sdp';
    if (token) headers.Authorization = 'Bearer ' + token;
    try {
      const r = await fetch(url, { method, headers, body: body === null ? undefined : body });
      return { status: r.status, headers: Object.fromEntries(r.headers.entries()),
        body: await r.text() };
    } catch (e) {
      return { status: null, headers: {}, body: '', error: String(e) };
    }
  };

  rtc.measure = async () => {
    const s = rtc.session;
    if (!s) return { errors: ['no session'] };
    if (s.pc && s.pc.signalingState !== 'closed') {
      try { s.last = await snapshot(s.pc); } catch (e) { s.errors.push('getStats: ' + e); }
    }
    const since = (t) => (t === null || s.acceptMs === null ? null : t - s.acceptMs);
    const last = s.last || { inbound: {}, outbound: {} };
    const dir = s.role === 'whep' ? last.inbound : last.outbound;
    return {
      role: s.role, states: s.states, tracks: s.tracks, data: s.data,
      video: dir.video || null, audio: dir.audio || null,
      remoteInbound: last.remoteInbound || {}, pair: last.pair || null,
      channels: last.channels || [], timeline: s.timeline, audioLevelMax: s.audioLevelMax,
      // The wall clock (ms since the epoch) at page time 0: lines the page's times
      // (timeline, states, events) up with the caller's.
      clockMs: Date.now() - ms(),
      offerMs: s.offerMs, acceptMs: s.acceptMs, connectedMs: s.connectedMs,
      timeToConnectedMs: since(s.connectedMs), timeToFirstFrameMs: since(s.firstFrameMs),
      timeToFirstDecodedMs: since(s.firstDecodedMs), errors: s.errors,
    };
  };

  rtc.close = () => {
    const s = rtc.session;
    if (!s) return;
    if (s.timer) clearInterval(s.timer);
    if (s.pc) s.pc.close();
  };

  // ---- loopback: two peer connections in this page, the fake camera from one to the
  // other over 127.0.0.1, plus a data channel. Returns after `seconds` with both sides'
  // measurements and the candidates each side offered.
  rtc.loopback = async (seconds, opts) => {
    const a = newSession('whip');
    const b = newSession('whep');
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { exact: 640 }, height: { exact: 360 }, frameRate: 25 }, audio: true });
    const pa = a.pc = new RTCPeerConnection();
    const pb = b.pc = new RTCPeerConnection();
    const cands = { a: [], b: [] };
    pa.addEventListener('icecandidate', (e) => {
      if (e.candidate) { cands.a.push(e.candidate.candidate); pb.addIceCandidate(e.candidate); }
    });
    pb.addEventListener('icecandidate', (e) => {
      if (e.candidate) { cands.b.push(e.candidate.candidate); pa.addIceCandidate(e.candidate); }
    });
    watchStates(pa, a.states, 'a');
    watchStates(pb, b.states, 'b');
    for (const t of stream.getTracks()) {
      const tr = pa.addTransceiver(t, { direction: 'sendonly', streams: [stream] });
      if (t.kind === 'video' && opts.videoCodec) {
        onlyCodec(tr, RTCRtpSender.getCapabilities('video'), opts.videoCodec);
      }
    }
    useChannel(pa.createDataChannel('chat'), { dataMessage: 'ping {n}' }, a.data);
    pb.addEventListener('datachannel', (e) => useChannel(e.channel, {}, b.data));
    pb.addEventListener('track', (e) => {
      b.tracks.push({ kind: e.track.kind, ms: ms() });
      sink(b, e.track);
    });
    for (const [s, pc] of [[a, pa], [b, pb]]) {
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState === 'connected' && s.connectedMs === null) s.connectedMs = ms();
      });
    }
    await pa.setLocalDescription(await pa.createOffer());
    await pb.setRemoteDescription(pa.localDescription);
    await pb.setLocalDescription(await pb.createAnswer());
    await pa.setRemoteDescription(pb.localDescription);
    a.acceptMs = b.acceptMs = ms();
    sampler(a, pa, 200);
    sampler(b, pb, 200);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    rtc.session = a;
    const ma = await rtc.measure();
    rtc.session = b;
    const mb = await rtc.measure();
    rtc.close();
    pa.close();
    return { sender: ma, receiver: mb, candidates: cands,
      capabilities: { send: RTCRtpSender.getCapabilities('video').codecs.map((c) => c.mimeType),
        recv: RTCRtpReceiver.getCapabilities('video').codecs.map((c) => c.mimeType) } };
  };

  // ---- mock: a WHIP/WHEP server stand-in for the selfcheck. A WHIP session's remote
  // tracks (H.264 only, like sluice) are forwarded, re-encoded, to every WHEP session of
  // the same key; text on a publisher's data channel goes to its viewers' channels.
  const mock = { streams: new Map(), sessions: new Map() };
  rtc.mock = mock;

  async function answer(pc) {
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc, 3000);
    return pc.localDescription.sdp;
  }

  mock.ingest = async (key, id, sdp) => {
    if (mock.streams.has(key)) return { status: 409 };
    const pc = new RTCPeerConnection();
    const st = { pc, tracks: {}, viewers: new Set(), id };
    mock.streams.set(key, st);
    mock.sessions.set(id, { pc, key, role: 'whip' });
    pc.addEventListener('datachannel', (e) => {
      e.channel.addEventListener('message', (m) => {
        for (const v of st.viewers) if (v.dc && v.dc.readyState === 'open') v.dc.send(m.data);
      });
    });
    await pc.setRemoteDescription({ type: 'offer', sdp });
    for (const t of pc.getTransceivers()) {
      t.direction = 'recvonly';
      st.tracks[t.receiver.track.kind] = t.receiver.track;
      if (t.receiver.track.kind === 'video') {
        onlyCodec(t, RTCRtpReceiver.getCapabilities('video'), 'H264');
      }
    }
    return { status: 201, sdp: await answer(pc) };
  };

  // Chromium does not send a remote audio track on to another peer connection, so the
  // viewers get a 440 Hz tone of the mock's own instead of the publisher's audio.
  let tone = null;
  function toneTrack() {
    if (!tone) {
      const ctx = new AudioContext({ sampleRate: 48000 });
      const osc = ctx.createOscillator();
      const dst = ctx.createMediaStreamDestination();
      osc.frequency.value = 440;
      osc.connect(dst);
      osc.start();
      tone = dst.stream.getAudioTracks()[0];
    }
    return tone;
  }

  // The answer keeps only H.264 (packetization-mode 1), but Chromium as an answerer
  // sends with the offer's first codec unless the encoding names one.
  async function sendH264(t, answerSdp) {
    const m = answerSdp.split('\r\n').find((l) => l.startsWith('m=video'));
    const pts = m ? m.split(' ').slice(3).map(Number) : [];
    const p = t.sender.getParameters();
    const c = p.codecs.find((x) => /h264$/i.test(x.mimeType) && pts.includes(x.payloadType) &&
      /packetization-mode=1/.test(x.sdpFmtpLine || ''));
    if (!c) return;
    p.encodings[0].codec = { mimeType: c.mimeType, clockRate: c.clockRate,
      sdpFmtpLine: c.sdpFmtpLine };
    await t.sender.setParameters(p);
  }

  mock.egress = async (key, id, sdp) => {
    const st = mock.streams.get(key);
    if (!st) return { status: 404 };
    const pc = new RTCPeerConnection();
    const viewer = { pc, dc: null };
    st.viewers.add(viewer);
    mock.sessions.set(id, { pc, key, role: 'whep', viewer });
    pc.addEventListener('datachannel', (e) => { viewer.dc = e.channel; });
    await pc.setRemoteDescription({ type: 'offer', sdp });
    let video = null;
    for (const t of pc.getTransceivers()) {
      const kind = t.receiver.track.kind;
      const track = kind === 'audio' && st.tracks.audio ? toneTrack() : st.tracks[kind];
      if (!track) {
        t.direction = 'inactive';
        continue;
      }
      await t.sender.replaceTrack(track);
      t.direction = 'sendonly';
      if (kind === 'video') {
        onlyCodec(t, RTCRtpSender.getCapabilities('video'), 'H264');
        video = t;
      }
    }
    const out = await answer(pc);
    if (video) await sendH264(video, out);
    return { status: 201, sdp: out };
  };

  mock.remove = (id) => {
    const s = mock.sessions.get(id);
    if (!s) return 404;
    s.pc.close();
    mock.sessions.delete(id);
    const st = mock.streams.get(s.key);
    if (s.role === 'whip' && st && st.id === id) mock.streams.delete(s.key);
    if (s.role === 'whep' && st) st.viewers.delete(s.viewer);
    return 200;
  };
}

// ---------------------------------------------------------------- node side

function pageHtml() {
  return '<!doctype html><html><head><meta charset="utf-8"><title>sluice webrtc</title>' +
    '</head><body><script>(' + pageLib.toString() + ')();</script></body></html>';
}

// The page comes from a loopback origin of our own: http://127.0.0.1 is a secure
// context (getUserMedia needs one) and a real origin for the page's cross-origin fetch.
function servePage() {
  const html = pageHtml();
  const srv = createServer((req, res) => {
    if (req.url !== '/') {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html', 'Cache-Control': 'no-store' }).end(html);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

// Chromium with the page loaded and window.rtc ready; page events go to emit().
// Returns { browser, page, pageServer, launchMs, consoleErrors }.
async function openBrowser() {
  const t0 = Date.now();
  const { chromium } = await import('playwright-core');
  const pageServer = await servePage();
  // Our SIGTERM handler ends the play time and measures: playwright must not close the
  // browser on the signal first.
  const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: LAUNCH_BOUND_MS,
    args: CHROMIUM_ARGS, handleSIGTERM: false, handleSIGINT: false, handleSIGHUP: false });
  const launchMs = Date.now() - t0;
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && consoleErrors.length < 20) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
  await page.exposeFunction('rtcEvent', (e) => emit(e));
  await page.goto(`http://127.0.0.1:${pageServer.address().port}/`, { timeout: LAUNCH_BOUND_MS });
  await page.waitForFunction(() => typeof window.rtc === 'object', null,
    { timeout: LAUNCH_BOUND_MS });
  return { browser, page, pageServer, launchMs, pageMs: Date.now() - t0, consoleErrors };
}

// One HTTP request from node: { status, headers, body, ms } or { status: null, error }.
async function httpRequest(url, method, body, token) {
  const headers = {};
  if (body !== null) headers['Content-Type'] = 'application/sdp';
  if (token) headers.Authorization = 'Bearer ' + token;
  const t0 = Date.now();
  try {
    const r = await fetch(url, { method, headers, body: body === null ? undefined : body,
      signal: AbortSignal.timeout(HTTP_BOUND_MS), redirect: 'manual' });
    return { status: r.status, headers: Object.fromEntries(r.headers.entries()),
      body: await r.text(), ms: Date.now() - t0 };
  } catch (e) {
    return { status: null, headers: {}, body: '', error: String(e), ms: Date.now() - t0 };
  }
}

// A stop request (SIGTERM/SIGINT) ends the play time early; `stopped` resolves then.
// Handled from the start: playwright-core is imported later, in openBrowser().
let stopRequested = false;
let onStop = () => {};
const stopped = new Promise((r) => { onStop = r; });
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { stopRequested = true; onStop(); });
}

// WHIP or WHEP from the page. The result: signalling, timings and the page's measure().
async function runClient(role, url, seconds, opts, env) {
  const { page } = env;
  const result = { event: 'result', role, url, seconds, launchMs: env.launchMs,
    pageMs: env.pageMs, status: null, location: null, answerSdp: null, offerSdp: null,
    deleteStatus: null, errors: [] };
  let offerSdp;
  try {
    offerSdp = await page.evaluate(([r, o]) => (r === 'whip' ? window.rtc.publish(o)
      : window.rtc.play(o)), [role, opts]);
  } catch (e) {
    result.errors.push('offer: ' + e.message.split('\n')[0]);
    return result;
  }
  result.offerSdp = offerSdp;
  emit({ event: 'offer', bytes: offerSdp.length, sdp: offerSdp });
  const request = (u, method, body) => (opts.signalFrom === 'page'
    ? page.evaluate(([a, b, c, d]) => window.rtc.fetch(a, b, c, d),
      [u, method, body, opts.token || null])
    : httpRequest(u, method, body, opts.token || null));
  const t0 = Date.now();
  const res = await request(url, 'POST', offerSdp);
  result.postMs = Date.now() - t0;
  result.status = res.status;
  result.responseHeaders = res.headers;
  if (res.error) result.errors.push('POST: ' + res.error);
  result.location = res.headers.location || null;
  emit({ event: 'answer', status: res.status, location: result.location, postMs: result.postMs,
    sdp: res.status === 201 ? res.body : null });
  if (res.status === 201) {
    result.answerSdp = res.body;
    try {
      await page.evaluate((sdp) => window.rtc.accept(sdp), res.body);
      if (!stopRequested) await Promise.race([sleep(seconds * 1000), stopped]);
    } catch (e) {
      result.errors.push('setRemoteDescription: ' + e.message.split('\n')[0]);
    }
  } else {
    result.responseBody = res.body.slice(0, 2000);
  }
  const measured = await page.evaluate(() => window.rtc.measure());
  Object.assign(result, measured, { errors: result.errors.concat(measured.errors || []) });
  if (result.location && opts.delete !== false) {
    const del = await request(new URL(result.location, url).href, 'DELETE', null);
    result.deleteStatus = del.status;
    if (del.error) result.errors.push('DELETE: ' + del.error);
  }
  await page.evaluate(() => window.rtc.close());
  return result;
}

// The WHIP/WHEP stand-in: POST /APP/NAME/whip|whep, DELETE on the Location, CORS for a
// page's fetch. Each request is emitted as {"event": "request", ...}.
async function runMock(port, env) {
  const { page } = env;
  let next = 1;
  const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Location',
    'Access-Control-Allow-Headers': 'Content-Type, Authorization',
    'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS' };
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      const path = new URL(req.url, 'http://x').pathname;
      const done = (status, headers, text) => {
        emit({ event: 'request', method: req.method, path, status,
          authorization: req.headers.authorization || null,
          contentType: req.headers['content-type'] || null });
        res.writeHead(status, { ...cors, ...headers }).end(text || '');
      };
      try {
        let m;
        if (req.method === 'OPTIONS') {
          done(204, {});
        } else if (req.method === 'POST' && (m = path.match(/^\/([^/]+\/[^/]+)\/(whip|whep)$/))) {
          const id = String(next++);
          const fn = m[2] === 'whip' ? 'ingest' : 'egress';
          const r = await page.evaluate(([f, k, i, s]) => window.rtc.mock[f](k, i, s),
            [fn, m[1], id, body]);
          if (r.status !== 201) done(r.status, {});
          else done(201, { 'Content-Type': 'application/sdp', Location: `${path}/${id}` }, r.sdp);
        } else if (req.method === 'DELETE'
          && (m = path.match(/^\/[^/]+\/[^/]+\/(whip|whep)\/(\d+)$/))) {
          done(await page.evaluate((i) => window.rtc.mock.remove(i), m[2]), {});
        } else {
          done(404, {});
        }
      } catch (e) {
        done(500, {}, String(e));
      }
    });
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', resolve);
  });
  emit({ event: 'ready', port: srv.address().port, launchMs: env.launchMs });
  await stopped;
  srv.close();
  return { event: 'result', role: 'mock' };
}

function usage() {
  process.stderr.write('usage: node webrtc.mjs whip|whep URL SECONDS [OPTIONS_JSON]\n' +
    '       node webrtc.mjs loopback SECONDS [OPTIONS_JSON]\n       node webrtc.mjs mock PORT\n');
  process.exit(2);
}

async function main() {
  const [mode, a1, a2, a3] = process.argv.slice(2);
  let seconds = 0;
  let opts = {};
  if (mode === 'whip' || mode === 'whep') {
    seconds = Number(a2);
    if (!/^https?:\/\//.test(a1 || '') || !(seconds > 0 && seconds <= 300)) usage();
    try {
      opts = a3 ? JSON.parse(a3) : {};
    } catch {
      usage();
    }
  } else if (mode === 'loopback') {
    seconds = Number(a1);
    if (!(seconds > 0 && seconds <= 300)) usage();
    try {
      opts = a2 ? JSON.parse(a2) : {};
    } catch {
      usage();
    }
  } else if (mode !== 'mock' || !(Number(a1) >= 0)) {
    usage();
  }

  let env = null;
  const shutdown = async (code) => {
    // A wedged browser must not hold the exit: close() gets a few seconds, then
    // process.exit runs playwright's exit hook, which SIGKILLs the browser's group.
    const closing = env ? env.browser.close().catch(() => {}) : Promise.resolve();
    await Promise.race([closing, sleep(5000)]);
    if (env) env.pageServer.close();
    process.exit(code);
  };
  if (mode !== 'mock') {
    const hard = setTimeout(() => {
      process.stderr.write(`webrtc.mjs: hard timeout after ${seconds * 1000 + SLACK_MS} ms\n`);
      emit({ event: 'result', role: mode, errors: ['hard timeout'] });
      shutdown(3);
    }, seconds * 1000 + SLACK_MS);
    hard.unref();
  }
  try {
    env = await openBrowser();
  } catch (e) {
    process.stderr.write(`webrtc.mjs: could not start Chromium or the page: ${e.message}\n`);
    return shutdown(1);
  }
  emit({ event: 'launched', launchMs: env.launchMs, pageMs: env.pageMs });
  let result;
  try {
    if (mode === 'loopback') {
      result = { event: 'result', role: 'loopback', launchMs: env.launchMs, pageMs: env.pageMs,
        ...(await env.page.evaluate(([s, o]) => window.rtc.loopback(s, o), [seconds, opts])) };
    } else if (mode === 'mock') {
      result = await runMock(Number(a1), env);
    } else {
      result = await runClient(mode, a1, seconds, opts, env);
    }
  } catch (e) {
    result = { event: 'result', role: mode, errors: [String(e.stack || e)] };
  }
  result.consoleErrors = env.consoleErrors;
  emit(result);
  return shutdown(0);
}

main();
