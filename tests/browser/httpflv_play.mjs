// Plays an HTTP-FLV live stream with mpegts.js in headless Chromium and prints what the
// browser measured as one JSON line on stdout. Exit codes, timeouts and the browser's
// profile: see player.mjs.
//
//   node httpflv_play.mjs URL [seconds]
//
// env CHROMIUM_BIN overrides /usr/bin/chromium.

import { runPlayer } from './player.mjs';

runPlayer({
  name: 'httpflv_play',
  page: 'httpflv.html',
  library: 'mpegts.js',
  defaultSeconds: 6,
  usageUrl: 'http://HOST:PORT/app/name.flv',
});
