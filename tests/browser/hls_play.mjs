// Plays an HLS live stream with hls.js in headless Chromium and prints what the
// browser measured as one JSON line on stdout. Exit codes, timeouts and the browser's
// profile: see player.mjs.
//
//   node hls_play.mjs URL [seconds]
//
// env CHROMIUM_BIN overrides /usr/bin/chromium.

import { runPlayer } from './player.mjs';

runPlayer({
  name: 'hls_play',
  page: 'hls.html',
  library: 'hls.js',
  defaultSeconds: 8,
  usageUrl: 'http://HOST:PORT/app/name/index.m3u8',
});
