// A scripted WHIP/WHEP client without a browser: werift (pure TypeScript WebRTC) for
// sluice's end-to-end tests, driven by tests/e2e/webrtc.py. Run it inside the private
// network namespace of webrtc.py: werift skips loopback addresses unless told, so it is
// given 127.0.0.1 as its one host address (iceAdditionalHostAddresses).
//
//   node werift_client.mjs whep URL SECONDS [OPTIONS_JSON]   receive and count RTP
//   node werift_client.mjs whip URL SECONDS [OPTIONS_JSON]   send ffmpeg's H.264 + Opus
//   node werift_client.mjs loopback SECONDS                  whip-like sender -> ICE-lite
//                                                             receiver, both werift
//
// OPTIONS_JSON (all optional):
//   token        sent as "Authorization: Bearer TOKEN"
//   dataMessage  once the "chat" data channel is open, sent every 200 ms ("{n}": counter)
//   dataChannel  false: no data channel
//   audio, video false: leave that kind out of the offer
//   videoCodec   "H264" (default; packetization-mode=1, profile 42e01f) or "H265"
//   dumpVideo    a path: the received H.264/H.265 is written there as an Annex B
//                elementary stream (for ffprobe), in arrival order
//   pliAtMs      whep: send a PLI this many ms after connecting
//   delete       false: leave without the DELETE on the session's Location
//   size, fps    whip: ffmpeg's testsrc2 size and rate (default 640x360, 25; keyframe
//                every 2 s)
//
// stdout: JSON lines with an "event": progress (offer, answer, connection, firstRtp,
// dataOpen, firstMessage, ...) and, last, {"event": "result", ...}. SIGTERM/SIGINT end
// the time early; the result is still printed. Exit 0 once the result is printed, 2 on
// bad arguments, 3 at the hard timeout (SECONDS + 30 s).

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { openSync, writeSync, closeSync } from 'node:fs';

const SLACK_MS = 30000;
const HTTP_BOUND_MS = 10000;
const GATHER_BOUND_MS = 3000;

const t0 = Date.now();
let werift = null; // the module, once main() has imported it
const ms = () => Date.now() - t0;
const sleep = (n) => new Promise((r) => setTimeout(r, n));
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// Handled from the start; werift is imported later, in main().
let stopRequested = false;
let onStop = () => {};
const stopped = new Promise((r) => { onStop = r; });
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { stopRequested = true; onStop(); });
}

function videoCodec(name) {
  if ((name || 'H264').toUpperCase() === 'H265') {
    return new werift.RTCRtpCodecParameters({ mimeType: 'video/H265', clockRate: 90000,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] });
  }
  return werift.useH264();
}

function newPeer(opts, extra = {}) {
  return new werift.RTCPeerConnection({
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    codecs: { video: [videoCodec(opts.videoCodec)], audio: [werift.useOPUS()] },
    ...extra,
  });
}

async function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return;
  await Promise.race([sleep(GATHER_BOUND_MS), new Promise((resolve) => {
    pc.iceGatheringStateChange.subscribe((s) => { if (s === 'complete') resolve(); });
  })]);
}

function watchStates(pc, states, tag) {
  const rec = () => {
    const s = { ms: ms(), connection: pc.connectionState, ice: pc.iceConnectionState };
    const last = states[states.length - 1];
    if (last && last.connection === s.connection && last.ice === s.ice) return;
    states.push(s);
    emit({ event: 'connection', tag, ms: s.ms, connection: s.connection, ice: s.ice });
  };
  pc.connectionStateChange.subscribe(rec);
  pc.iceConnectionStateChange.subscribe(rec);
  rec();
}

function useChannel(dc, opts, data) {
  Object.assign(data, { label: dc.label, openMs: null, closeMs: null, sent: 0, received: 0,
    bytesReceived: 0, firstMessageMs: null, messages: [] });
  let timer = null;
  dc.onopen = () => {
    data.openMs = ms();
    emit({ event: 'dataOpen', label: dc.label, ms: data.openMs });
    if (opts.dataMessage === undefined || opts.dataMessage === null) return;
    timer = setInterval(() => {
      if (dc.readyState !== 'open') return;
      dc.send(String(opts.dataMessage).replace('{n}', String(data.sent)));
      data.sent += 1;
    }, 200);
  };
  dc.onclose = () => {
    data.closeMs = ms();
    if (timer) clearInterval(timer);
  };
  dc.onmessage = (e) => {
    const text = typeof e.data === 'string' ? e.data : `<${e.data.length} bytes>`;
    data.received += 1;
    data.bytesReceived += e.data.length;
    if (data.firstMessageMs === null) {
      data.firstMessageMs = ms();
      emit({ event: 'firstMessage', ms: data.firstMessageMs, text: text.slice(0, 200) });
    }
    if (data.messages.length < 20) data.messages.push(text.slice(0, 200));
  };
  return () => { if (timer) clearInterval(timer); };
}

// NAL unit types in one H.264 or H.265 RTP payload (single NAL, STAP-A/AP, FU-A/FU
// start); the types a FU continuation carries are not repeated.
function nalTypes(payload, h265) {
  if (payload.length < 2) return [];
  if (h265) {
    const t = (payload[0] >> 1) & 0x3f;
    if (t === 48) { // aggregation packet: 2-byte header, then 16-bit sizes
      const out = [];
      for (let i = 2; i + 3 <= payload.length && out.length < 64;) {
        const n = payload.readUInt16BE(i);
        out.push((payload[i + 2] >> 1) & 0x3f);
        i += 2 + n;
      }
      return out;
    }
    if (t === 49) return payload.length > 2 && payload[2] & 0x80 ? [payload[2] & 0x3f] : [];
    return [t];
  }
  const t = payload[0] & 0x1f;
  if (t === 24) {
    const out = [];
    for (let i = 1; i + 3 <= payload.length && out.length < 64;) {
      const n = payload.readUInt16BE(i);
      out.push(payload[i + 2] & 0x1f);
      i += 2 + n;
    }
    return out;
  }
  if (t === 28) return payload[1] & 0x80 ? [payload[1] & 0x1f] : [];
  return [t];
}

const isKeyNal = (t, h265) => (h265 ? t >= 16 && t <= 21 : t === 5);

// Annex B writer for a received H.264/H.265 RTP stream (in arrival order; loopback
// does not reorder). Returns write(payload) and close().
function annexBWriter(path, h265) {
  const fd = openSync(path, 'w');
  const sc = Buffer.from([0, 0, 0, 1]);
  const put = (b) => writeSync(fd, b);
  return {
    write(p) {
      if (p.length < 3) return;
      const t = h265 ? (p[0] >> 1) & 0x3f : p[0] & 0x1f;
      if ((h265 && t === 48) || (!h265 && t === 24)) {
        for (let i = h265 ? 2 : 1; i + 2 <= p.length;) {
          const n = p.readUInt16BE(i);
          if (i + 2 + n > p.length) break;
          put(sc);
          put(p.subarray(i + 2, i + 2 + n));
          i += 2 + n;
        }
      } else if (!h265 && t === 28) {
        if (p[1] & 0x80) {
          put(sc);
          put(Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)]));
        }
        put(p.subarray(2));
      } else if (h265 && t === 49) {
        if (p[2] & 0x80) {
          put(sc);
          put(Buffer.from([(p[0] & 0x81) | ((p[2] & 0x3f) << 1), p[1]]));
        }
        put(p.subarray(3));
      } else {
        put(sc);
        put(p);
      }
    },
    close() { closeSync(fd); },
  };
}

// Counters of one received RTP stream.
function rtpCounter(kind, opts, since) {
  const h265 = (opts.videoCodec || '').toUpperCase() === 'H265';
  const c = { packets: 0, bytes: 0, firstMs: null, lastMs: null, markers: 0,
    timestamps: 0, ssrcs: [], payloadTypes: [], seqGaps: 0, late: 0, duplicates: 0,
    missing: 0, firstNalTypes: null,
    firstKeyMs: null, keyFrames: 0, nalTypeCounts: {} };
  let lastTs = null;
  let lastSeq = null;
  let lastKeyTs = null;
  const seen = new Set();
  let highest = -1;
  let lowest = null;
  // The signed 16-bit distance from the highest sequence number so far.
  const extend = (seq) => (highest < 0 ? seq
    : highest + ((((seq - (highest & 0xffff)) + 32768) & 0xffff) - 32768));
  const dump = kind === 'video' && opts.dumpVideo ? annexBWriter(opts.dumpVideo, h265) : null;
  c.onRtp = (rtp) => {
    const h = rtp.header;
    c.packets += 1;
    c.bytes += rtp.payload.length;
    if (c.firstMs === null) {
      c.firstMs = ms() - since();
      emit({ event: 'firstRtp', kind, ms: ms(), payloadType: h.payloadType });
    }
    c.lastMs = ms() - since();
    if (h.marker) c.markers += 1;
    if (h.timestamp !== lastTs) { c.timestamps += 1; lastTs = h.timestamp; }
    if (!c.ssrcs.includes(h.ssrc)) c.ssrcs.push(h.ssrc);
    if (!c.payloadTypes.includes(h.payloadType)) c.payloadTypes.push(h.payloadType);
    if (lastSeq !== null && h.sequenceNumber !== ((lastSeq + 1) & 0xffff)) c.seqGaps += 1;
    lastSeq = h.sequenceNumber;
    // Sequence numbers extended past 16 bits: a gap is either loss (still missing at
    // the end) or reordering (the packet came late); duplicates are retransmissions.
    const ext = extend(h.sequenceNumber);
    if (seen.has(ext)) c.duplicates += 1;
    else seen.add(ext);
    if (ext < highest) c.late += 1;
    if (ext > highest) highest = ext;
    if (lowest === null || ext < lowest) lowest = ext;
    c.missing = highest - lowest + 1 - seen.size;
    if (kind === 'video') {
      const types = nalTypes(rtp.payload, h265);
      if (c.firstNalTypes === null) c.firstNalTypes = types;
      for (const t of types) c.nalTypeCounts[t] = (c.nalTypeCounts[t] || 0) + 1;
      // A keyframe counts once per RTP timestamp: x264 splits a picture into slices.
      if (types.some((t) => isKeyNal(t, h265)) && h.timestamp !== lastKeyTs) {
        lastKeyTs = h.timestamp;
        c.keyFrames += 1;
        if (c.firstKeyMs === null) c.firstKeyMs = ms() - since();
      }
      if (dump) dump.write(rtp.payload);
    }
  };
  c.close = () => { if (dump) dump.close(); };
  return c;
}

function rtcpCounter() {
  const c = { sr: 0, rr: 0, pli: 0, fir: 0, remb: 0, nack: 0, twcc: 0, other: 0 };
  c.onRtcp = (p) => {
    if (p.type === 200) c.sr += 1;
    else if (p.type === 201) c.rr += 1;
    else if (p.type === 206) {
      const n = p.feedback && p.feedback.count;
      if (n === 1) c.pli += 1; else if (n === 4) c.fir += 1; else if (n === 15) c.remb += 1;
      else c.other += 1;
    } else if (p.type === 205) {
      if (p.feedback && p.feedback.count === 1) c.nack += 1; else c.twcc += 1;
    } else c.other += 1;
  };
  return c;
}

async function httpRequest(url, method, body, token) {
  const headers = {};
  if (body !== null) headers['Content-Type'] = 'application/sdp';
  if (token) headers.Authorization = 'Bearer ' + token;
  const start = Date.now();
  try {
    const r = await fetch(url, { method, headers, body: body === null ? undefined : body,
      signal: AbortSignal.timeout(HTTP_BOUND_MS), redirect: 'manual' });
    return { status: r.status, headers: Object.fromEntries(r.headers.entries()),
      body: await r.text(), ms: Date.now() - start };
  } catch (e) {
    return { status: null, headers: {}, body: '', error: String(e), ms: Date.now() - start };
  }
}

// ffmpeg's testsrc2 (H.264, x264 baseline, keyframe every 2 s) and a 440 Hz sine
// (Opus 48 kHz stereo) as RTP to two loopback UDP ports of ours, `seconds` long.
// Each datagram goes to onPacket(kind, buf). Returns { stop(), packets, stderr }.
async function rtpSource(seconds, opts, onPacket) {
  const sockets = {};
  const state = { packets: { video: 0, audio: 0 }, stderr: '', exit: null, proc: null };
  for (const kind of ['video', 'audio']) {
    const s = createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    s.on('message', (m) => { state.packets[kind] += 1; onPacket(kind, m); });
    sockets[kind] = s;
  }
  const size = opts.size || '640x360';
  const fps = opts.fps || 25;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds)];
  if (opts.video !== false) {
    args.push('-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
      '-profile:v', 'baseline', '-g', String(fps * 2), '-pix_fmt', 'yuv420p',
      '-payload_type', '96', '-f', 'rtp',
      `rtp://127.0.0.1:${sockets.video.address().port}?pkt_size=1200`);
  }
  if (opts.audio !== false) {
    args.push('-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
      '-payload_type', '111', '-f', 'rtp',
      `rtp://127.0.0.1:${sockets.audio.address().port}?pkt_size=1200`);
  }
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  state.proc = proc;
  proc.stderr.on('data', (d) => { state.stderr = (state.stderr + d).slice(-2000); });
  proc.on('exit', (code, sig) => { state.exit = code ?? sig; });
  proc.on('error', (e) => { state.stderr += String(e); state.exit = 'spawn error'; });
  state.stop = () => {
    if (state.exit === null) proc.kill('SIGKILL');
    for (const s of Object.values(sockets)) s.close();
  };
  return state;
}

// The part both roles share: offer, POST, answer, the time, DELETE.
async function negotiate(pc, url, seconds, opts, result, whileConnected) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  result.offerSdp = pc.localDescription.sdp;
  emit({ event: 'offer', ms: ms(), bytes: result.offerSdp.length });
  const res = await httpRequest(url, 'POST', result.offerSdp, opts.token || null);
  result.status = res.status;
  result.postMs = res.ms;
  result.responseHeaders = res.headers;
  result.location = res.headers.location || null;
  if (res.error) result.errors.push('POST: ' + res.error);
  emit({ event: 'answer', ms: ms(), status: res.status, location: result.location });
  if (res.status !== 201) {
    result.responseBody = res.body.slice(0, 2000);
    return;
  }
  result.answerSdp = res.body;
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp: res.body });
  } catch (e) {
    result.errors.push('setRemoteDescription: ' + String(e.message || e).split('\n')[0]);
    return;
  }
  result.acceptMs = ms();
  const cleanup = await whileConnected();
  if (!stopRequested) await Promise.race([sleep(seconds * 1000), stopped]);
  if (cleanup) cleanup();
  if (result.location && opts.delete !== false) {
    const del = await httpRequest(new URL(result.location, url).href, 'DELETE', null,
      opts.token || null);
    result.deleteStatus = del.status;
    if (del.error) result.errors.push('DELETE: ' + del.error);
  }
}

function baseResult(role, url, seconds) {
  return { event: 'result', role, client: 'werift', url, seconds, status: null, location: null,
    offerSdp: null, answerSdp: null, acceptMs: null, connectedMs: null, deleteStatus: null,
    states: [], data: {}, errors: [] };
}

function trackConnected(pc, result) {
  watchStates(pc, result.states, result.role);
  pc.connectionStateChange.subscribe((s) => {
    if (s === 'connected' && result.connectedMs === null) result.connectedMs = ms();
  });
}

function negotiatedCodecs(pc) {
  return pc.getTransceivers().map((t) => ({ kind: t.kind, mid: t.mid,
    direction: t.currentDirection || t.direction,
    codecs: (t.codecs || []).map((c) => `${c.mimeType}/${c.payloadType}`) }));
}

async function runWhep(url, seconds, opts) {
  const result = baseResult('whep', url, seconds);
  const pc = newPeer(opts);
  trackConnected(pc, result);
  const rtp = {};
  const rtcp = rtcpCounter();
  const since = () => result.acceptMs ?? 0;
  if (opts.video !== false) pc.addTransceiver('video', { direction: 'recvonly' });
  if (opts.audio !== false) pc.addTransceiver('audio', { direction: 'recvonly' });
  let stopData = null;
  if (opts.dataChannel !== false) {
    stopData = useChannel(pc.createDataChannel('chat'), opts, result.data);
  }
  pc.ontrack = ({ track, receiver }) => {
    const kind = track.kind;
    if (!rtp[kind]) rtp[kind] = rtpCounter(kind, opts, since);
    emit({ event: 'track', ms: ms(), kind });
    track.onReceiveRtp.subscribe((p) => rtp[kind].onRtp(p));
    receiver.onRtcp.subscribe((p) => rtcp.onRtcp(p));
    if (kind === 'video' && opts.pliAtMs !== undefined) {
      const send = () => setTimeout(() => {
        if (track.ssrc) receiver.sendRtcpPLI(track.ssrc).catch(() => {});
      }, opts.pliAtMs);
      if (pc.connectionState === 'connected') send();
      else pc.connectionStateChange.subscribe((s) => { if (s === 'connected') send(); });
    }
  };
  await negotiate(pc, url, seconds, opts, result, async () => null);
  if (stopData) stopData();
  result.negotiated = negotiatedCodecs(pc);
  for (const c of Object.values(rtp)) c.close();
  result.video = rtp.video ? { ...rtp.video } : null;
  result.audio = rtp.audio ? { ...rtp.audio } : null;
  result.rtcp = rtcp;
  await closePeer(pc);
  return result;
}

async function runWhip(url, seconds, opts) {
  const result = baseResult('whip', url, seconds);
  const pc = newPeer(opts);
  trackConnected(pc, result);
  const tracks = {};
  const rtcp = rtcpCounter();
  for (const kind of ['video', 'audio']) {
    if (opts[kind] === false) continue;
    tracks[kind] = new werift.MediaStreamTrack({ kind });
    const tr = pc.addTransceiver(tracks[kind], { direction: 'sendonly' });
    tr.sender.onRtcp.subscribe((p) => rtcp.onRtcp(p));
  }
  let stopData = null;
  if (opts.dataChannel !== false) {
    stopData = useChannel(pc.createDataChannel('chat'), opts, result.data);
  }
  const sent = { video: 0, audio: 0 };
  let source = null;
  await negotiate(pc, url, seconds, opts, result, async () => {
    // RTP before DTLS completes would be dropped: start the media once connected.
    const bound = Date.now() + 10000;
    while (pc.connectionState !== 'connected' && Date.now() < bound && !stopRequested) {
      await sleep(20);
    }
    if (pc.connectionState !== 'connected') {
      result.errors.push('not connected within 10 s: ' + pc.connectionState);
      return null;
    }
    source = await rtpSource(seconds + 1, opts, (kind, buf) => {
      if (!tracks[kind]) return;
      tracks[kind].writeRtp(buf);
      sent[kind] += 1;
    });
    return () => source.stop();
  });
  if (stopData) stopData();
  result.negotiated = negotiatedCodecs(pc);
  result.sent = sent;
  result.rtcp = rtcp;
  if (source) result.ffmpeg = { exit: source.exit, stderr: source.stderr };
  await closePeer(pc);
  return result;
}

// werift's close() can wait on a peer that is gone: bounded.
async function closePeer(pc) {
  await Promise.race([pc.close().catch(() => {}), sleep(3000)]);
}

// Two werift peers in this process, the answerer ICE-lite as sluice is: the WHIP
// sender's path (ffmpeg RTP -> werift) and the WHEP receiver's counters, over 127.0.0.1.
async function runLoopback(seconds) {
  const opts = {};
  const result = { event: 'result', role: 'loopback', client: 'werift', states: [],
    liteStates: [], errors: [], data: {}, liteData: {} };
  const a = newPeer(opts);
  const b = newPeer(opts, { iceLite: true });
  watchStates(a, result.states, 'sender');
  watchStates(b, result.liteStates, 'lite');
  const tracks = { video: new werift.MediaStreamTrack({ kind: 'video' }),
    audio: new werift.MediaStreamTrack({ kind: 'audio' }) };
  a.addTransceiver(tracks.video, { direction: 'sendonly' });
  a.addTransceiver(tracks.audio, { direction: 'sendonly' });
  const stopData = useChannel(a.createDataChannel('chat'), { dataMessage: 'ping {n}' },
    result.data);
  b.ondatachannel = ({ channel }) => useChannel(channel, {}, result.liteData);
  const acceptMs = { v: null };
  const rtp = {};
  b.ontrack = ({ track }) => {
    rtp[track.kind] = rtpCounter(track.kind, opts, () => acceptMs.v ?? 0);
    track.onReceiveRtp.subscribe((p) => rtp[track.kind].onRtp(p));
  };
  await a.setLocalDescription(await a.createOffer());
  await gathered(a);
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await gathered(b);
  await a.setRemoteDescription(b.localDescription);
  acceptMs.v = ms();
  const candidates = (sdp) => sdp.split('\r\n').filter((l) => l.startsWith('a=candidate'));
  result.answerCandidates = candidates(b.localDescription.sdp);
  result.offerCandidates = candidates(a.localDescription.sdp);
  const bound = Date.now() + 10000;
  while (a.connectionState !== 'connected' && Date.now() < bound) await sleep(20);
  result.connectedMs = a.connectionState === 'connected' ? ms() - acceptMs.v : null;
  let source = null;
  if (result.connectedMs !== null) {
    source = await rtpSource(seconds, opts, (kind, buf) => tracks[kind].writeRtp(buf));
    await Promise.race([sleep(seconds * 1000), stopped]);
    source.stop();
  } else {
    result.errors.push('not connected within 10 s: ' + a.connectionState);
  }
  stopData();
  result.video = rtp.video ? { ...rtp.video } : null;
  result.audio = rtp.audio ? { ...rtp.audio } : null;
  if (source) result.ffmpeg = { exit: source.exit, stderr: source.stderr };
  await closePeer(a);
  await closePeer(b);
  return result;
}

function usage() {
  process.stderr.write('usage: node werift_client.mjs whip|whep URL SECONDS [OPTIONS_JSON]\n' +
    '       node werift_client.mjs loopback SECONDS\n');
  process.exit(2);
}

async function main() {
  const [mode, a1, a2, a3] = process.argv.slice(2);
  let seconds;
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
  } else {
    usage();
  }
  const hard = setTimeout(() => {
    process.stderr.write(`werift_client.mjs: hard timeout after ${seconds * 1000 + SLACK_MS} ms\n`);
    emit({ event: 'result', role: mode, client: 'werift', errors: ['hard timeout'] });
    process.exit(3);
  }, seconds * 1000 + SLACK_MS);
  hard.unref();
  let result;
  try {
    werift = await import('werift');
    if (mode === 'whep') result = await runWhep(a1, seconds, opts);
    else if (mode === 'whip') result = await runWhip(a1, seconds, opts);
    else result = await runLoopback(seconds);
  } catch (e) {
    result = { event: 'result', role: mode, client: 'werift', errors: [String(e.stack || e)] };
  }
  emit(result);
  // werift keeps timers and sockets of its own: the process ends here, not when they do.
  process.exit(0);
}

main();
