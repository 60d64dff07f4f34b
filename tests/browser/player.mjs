// What the browser players share: play a live URL with a JS player library in headless
// Chromium and print what the page measured as one JSON line on stdout. Each
// NAME_play.mjs names its page, its library and its defaults; runPlayer does the rest.
//
//   node NAME_play.mjs URL [seconds]
//
// Exit 0: the page ran and was measured (the numbers may still show a stream that did
// not play; judging them is the caller's job). Exit 1: Chromium or the page could not
// be started. Exit 2: bad arguments. Exit 3: the hard overall timeout struck.
// The browser is always closed; on exit playwright SIGKILLs its process group. Its
// profile (--user-data-dir, passed by playwright) is a fresh dir under TMPDIR, removed.
//
// The page must define window.startPlayer(url) and window.measure() (returning a plain
// object); it loads the library from /LIBRARY, which is node_modules/LIBRARY/dist/LIBRARY.
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

// The page and the library come from a loopback origin of our own: a file:// page may
// not fetch http:// cross-origin, and this also exercises the server's CORS header.
function servePage(page, library) {
  const files = {
    '/': ['text/html', readFileSync(join(HERE, page))],
    ['/' + library]: ['text/javascript',
      readFileSync(join(HERE, 'node_modules', library, 'dist', library))],
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

// name: the script's name for messages; page: the HTML file beside this one; library:
// the npm package (and file) the page loads; defaultSeconds: play time without argv[3];
// usageUrl: the URL shape shown in the usage line. Never returns: it ends the process.
export function runPlayer({ name, page, library, defaultSeconds, usageUrl }) {
  const url = process.argv[2];
  const seconds = process.argv[3] === undefined ? defaultSeconds : Number(process.argv[3]);
  if (!url || !/^https?:\/\//.test(url) || !(seconds > 0 && seconds <= 120)) {
    process.stderr.write(`usage: node ${name}.mjs ${usageUrl} [seconds]\n`);
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
    process.stderr.write(`${name}: hard timeout after ${seconds * 1000 + SLACK_MS} ms\n`);
    process.stdout.write(JSON.stringify({ errors: ['hard timeout'] }) + '\n');
    shutdown(3);
  }, seconds * 1000 + SLACK_MS);
  hardTimer.unref();

  async function main() {
    let tab;
    const consoleErrors = [];
    try {
      pageServer = await servePage(page, library);
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
      tab = context.pages()[0] || await context.newPage();
      tab.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      tab.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
      const origin = `http://127.0.0.1:${pageServer.address().port}`;
      await tab.goto(origin + '/', { timeout: LAUNCH_BOUND_MS });
      await tab.waitForFunction(() => typeof window.startPlayer === 'function',
        null, { timeout: LAUNCH_BOUND_MS });
    } catch (e) {
      process.stderr.write(`${name}: could not start Chromium or the page: ${e.message}\n`);
      return 1;
    }
    await tab.evaluate((u) => window.startPlayer(u), url);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const result = await tab.evaluate(() => window.measure());
    result.playedSeconds = seconds;
    result.consoleErrors = consoleErrors.slice(0, 20);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }

  main().then(shutdown, (e) => {
    process.stderr.write(`${name}: ${e.stack || e}\n`);
    shutdown(1);
  });
}
