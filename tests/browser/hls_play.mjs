// Plays an HLS live stream with hls.js in headless Chromium and prints what the
// browser measured as one JSON line on stdout.
//
//   node hls_play.mjs URL [seconds]
//
// Exit 0: the page ran and was measured (the numbers may still show a stream that did
// not play; judging them is the caller's job). Exit 1: Chromium or the page could not
// be started. Exit 2: bad arguments. Exit 3: the hard overall timeout struck.
// The browser is always closed; on exit playwright SIGKILLs its process group. Its
// profile (--user-data-dir, passed by playwright) is a fresh dir under TMPDIR, removed.
//
// env CHROMIUM_BIN overrides /usr/bin/chromium.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const LAUNCH_BOUND_MS = 15000;
const SLACK_MS = 24000; // launch, page load and closing, on top of the play time

const url = process.argv[2];
const seconds = process.argv[3] === undefined ? 8 : Number(process.argv[3]);
if (!url || !/^https?:\/\//.test(url) || !(seconds > 0 && seconds <= 120)) {
  process.stderr.write('usage: node hls_play.mjs http://HOST:PORT/app/name/index.m3u8 [seconds]\n');
  process.exit(2);
}

const profileDir = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
let context = null; // a persistent context: playwright owns --user-data-dir
let pageServer = null;

function cleanupSync() {
  try {
    rmSync(profileDir, { recursive: true, force: true });
  } catch {
    // a profile left in TMPDIR is harmless; the exit code must not depend on it
  }
}

async function shutdown(code) {
  // A wedged browser must not hold the exit: close() gets a few seconds, then
  // process.exit runs playwright's exit hook, which SIGKILLs the browser's group.
  const closing = context ? context.close().catch(() => {}) : Promise.resolve();
  await Promise.race([closing, new Promise((r) => setTimeout(r, 5000))]);
  if (pageServer) pageServer.close();
  cleanupSync();
  process.exit(code);
}

const hardTimer = setTimeout(() => {
  process.stderr.write(`hls_play: hard timeout after ${seconds * 1000 + SLACK_MS} ms\n`);
  process.stdout.write(JSON.stringify({ errors: ['hard timeout'] }) + '\n');
  shutdown(3);
}, seconds * 1000 + SLACK_MS);
hardTimer.unref();

// The page and hls.js come from a loopback origin of our own: a file:// page may not
// fetch http:// cross-origin, and this also exercises the server's CORS header.
function servePage() {
  const files = {
    '/': ['text/html', readFileSync(join(HERE, 'hls.html'))],
    '/hls.js': ['text/javascript',
      readFileSync(join(HERE, 'node_modules', 'hls.js', 'dist', 'hls.js'))],
  };
  const srv = createServer((req, res) => {
    const f = files[req.url];
    if (!f) {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': f[0], 'Cache-Control': 'no-store' }).end(f[1]);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function main() {
  let page;
  const consoleErrors = [];
  try {
    pageServer = await servePage();
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      timeout: LAUNCH_BOUND_MS,
      args: [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
    const origin = `http://127.0.0.1:${pageServer.address().port}`;
    await page.goto(origin + '/', { timeout: LAUNCH_BOUND_MS });
    await page.waitForFunction(() => typeof window.startPlayer === 'function',
      null, { timeout: LAUNCH_BOUND_MS });
  } catch (e) {
    process.stderr.write(`hls_play: could not start Chromium or the page: ${e.message}\n`);
    return 1;
  }
  await page.evaluate((u) => window.startPlayer(u), url);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const result = await page.evaluate(() => window.measure());
  result.playedSeconds = seconds;
  result.consoleErrors = consoleErrors.slice(0, 20);
  process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}

main().then(shutdown, (e) => {
  process.stderr.write(`hls_play: ${e.stack || e}\n`);
  shutdown(1);
});
