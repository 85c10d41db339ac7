// SPDX-License-Identifier: Apache-2.0
// bench/console_bench.mjs [BUILD_DIR] - the web console at fleet scale (docs/benchmarks.md#the-
// web-console): a directory holding SERVICES (1000) services of INSTANCES (10) instances each,
// two versions with a 10 % route, and one consumer reporting traffic for all of them every 5 s;
// Debian's Chromium (headless) opens the overview. Prints, against the targets of
// docs/console.md: the overview's first render after load, how long a change takes to reach the
// screen after the write (CHANGES route changes and as many health changes), the tab's JS heap
// after GC, the longest task while traffic flows, the filter's response, and the bundle's
// gzipped size; a screenshot of the overview goes beside the results. Builds nothing: BUILD_DIR (default ./build) must hold dstack-directory, and
// console/node_modules the npm packages (any build installs them).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const puppeteer = createRequire(join(here, '../console/package.json'))('puppeteer-core');
const build = resolve(process.argv[2] ?? 'build');
const SERVICES = Number(process.env.SERVICES ?? 1000);
const INSTANCES = Number(process.env.INSTANCES ?? 10);
const CHANGES = Number(process.env.CHANGES ?? 10);
const STEADY_SECONDS = Number(process.env.STEADY_SECONDS ?? 30);
const RESULTS = process.env.RESULTS ?? join(build, 'bench-console.txt');
const SCREENSHOT = process.env.SCREENSHOT ?? join(build, 'bench-console.png');
const BOUNDS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000,
  3000, 5000, 7000, 10000, 20000, 60000];  // docs/insight.md#buckets

const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});
const name = (i) => `svc-${String(i).padStart(4, '0')}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'dstack-console-bench.'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const directory = spawn(join(build, 'directory/dstack-directory'), ['--listen', `127.0.0.1:${port}`, '--data-dir', join(work, 'data')],
  { stdio: ['ignore', 'ignore', 'ignore'] });
let browser;
const timers = [];
const cleanup = async () => {
  timers.forEach(clearInterval);
  await browser?.close().catch(() => {});
  directory.kill();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', async () => { await cleanup(); process.exit(130); });

async function call(method, path, body) {
  const r = await fetch(base + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
async function pool(count, width, job) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < count) await job(next++); }));
}

try {
  for (let i = 0; ; i++) {
    try { await call('GET', '/v1/health'); break; } catch { if (i > 100) throw new Error('the directory does not start'); }
    await new Promise((r) => setTimeout(r, 50));
  }
  // The fleet: a lease per service, its instances, a 10 % route to version 2.
  const started = Date.now();
  const leases = [];
  await pool(SERVICES, 16, async (s) => {
    const lease = (await call('POST', '/v1/leases', { ttl: 60 })).id;
    leases[s] = lease;
    for (let i = 0; i < INSTANCES; i++) {
      await call('PUT', `/v1/services/${name(s)}/instances/vm${i}`, {
        lease, url: `http://10.0.${s % 250}.${i + 1}:8080/`, version: i < INSTANCES - 2 ? '1' : '2', weight: 100, health: 'passing' });
    }
    await call('PUT', `/v1/routes/${name(s)}`, { targets: [{ version: '2', weight: 10 }] });
  });
  timers.push(setInterval(() => leases.forEach((l) => call('PUT', `/v1/leases/${l}`).catch(() => {})), 20000));
  // One consumer reporting every service's two versions every 5 s.
  const consumerLease = (await call('POST', '/v1/leases', { ttl: 60 })).id;
  timers.push(setInterval(() => call('PUT', `/v1/leases/${consumerLease}`).catch(() => {}), 20000));
  await call('PUT', '/v1/consumers/bench-1', { lease: consumerLease, host: 'bench', services: Array.from({ length: SERVICES }, (_, s) => name(s)) });
  const report = () => {
    const services = {};
    for (let s = 0; s < SERVICES; s++) {
      const version = (n, errors) => {
        const counts = BOUNDS.map(() => 0).concat([0]);
        counts[3] = n - 5;
        counts[9] = 5;
        return { requests: { '2xx': n - errors, '5xx': errors }, duration_ms: { counts, sum: 4 * n } };
      };
      services[name(s)] = { 1: version(450, 0), 2: version(50, s % 7 === 0 ? 2 : 0) };
    }
    return call('PUT', '/v1/consumers/bench-1/traffic', { interval_ms: 5000, buckets_ms: BOUNDS, services });
  };
  await report();
  timers.push(setInterval(() => report().catch((e) => console.error(e.message)), 5000));
  console.error(`console_bench: ${SERVICES} services, ${SERVICES * INSTANCES} instances registered in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'], headless: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 900 });
  const cdp = await page.createCDPSession();

  // 1. First render: from the navigation's start to the first screen of services drawn, every
  // service counted (the overview draws the services on screen, docs/console.md).
  await page.goto(`${base}/ui/`);
  const firstRender = await page.evaluate((n) => new Promise((done) => {
    const check = () => (document.querySelector('[data-count]')?.dataset.count === String(n) &&
      document.querySelectorAll('tbody[data-service]').length > 0 ? done(performance.now()) : requestAnimationFrame(check));
    check();
  }), SERVICES);
  const drawn = await page.evaluate(() => document.querySelectorAll('tbody[data-service]').length);
  await page.evaluate(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => window.longTasks.push(e.duration)))
      .observe({ type: 'longtask', buffered: false });
  });

  // 2. Write to screen: route changes, then health changes, each timed from before the write.
  const routeMs = [];
  // Services on the first screen: a change is "on screen" only where the user looks.
  for (let k = 0; k < CHANGES; k++) {
    const svc = name((k * 7 + 3) % Math.min(SERVICES, 20));
    const weight = 20 + k;
    const t0 = performance.now();
    await call('PUT', `/v1/routes/${svc}`, { targets: [{ version: '2', weight }] });
    await page.waitForFunction((s, w) => document.querySelector(`tbody[data-service="${s}"] tr[data-version="2"] .split`)?.innerText === `${w} %`,
      { polling: 'mutation', timeout: 10000 }, svc, weight);
    routeMs.push(performance.now() - t0);
  }
  const healthMs = [];
  for (let k = 0; k < CHANGES; k++) {
    const s = (k * 3 + 1) % Math.min(SERVICES, 20);
    const t0 = performance.now();
    await call('PUT', `/v1/services/${name(s)}/instances/vm0`, { lease: leases[s], url: `http://10.0.${s % 250}.1:8080/`, version: '1', weight: 100, health: 'warning' });
    await page.waitForFunction((svc) => /1 warning/.test(document.querySelector(`tbody[data-service="${svc}"]`)?.innerText ?? ''),
      { polling: 'mutation', timeout: 10000 }, name(s));
    healthMs.push(performance.now() - t0);
  }

  // 3. Traffic flowing (a traffic event a second, reports every 5 s, series every 10 s).
  await new Promise((r) => setTimeout(r, STEADY_SECONDS * 1000));
  const longTasks = await page.evaluate(() => window.longTasks);
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const figures = await page.evaluate(() => document.querySelectorAll('tbody[data-service] .spark').length);
  await page.screenshot({ path: SCREENSHOT });

  // 4. Scrolling to the end draws the last service; the filter narrows the list as it is typed.
  let t0 = performance.now();
  await page.evaluate(() => scrollTo(0, document.body.scrollHeight));
  await page.waitForFunction((last) => document.querySelector(`tbody[data-service="${last}"]`), { polling: 'raf', timeout: 10000 }, name(SERVICES - 1));
  const scrollMs = performance.now() - t0;
  await page.evaluate(() => scrollTo(0, 0));
  t0 = performance.now();
  await page.type('input[type=search]', 'svc-09');
  await page.waitForFunction((n) => document.querySelector('[data-count]')?.dataset.count === String(n), { polling: 'mutation', timeout: 10000 },
    Math.min(100, Math.max(0, SERVICES - 900)));
  const filterMs = performance.now() - t0;

  // 5. The bundle, as the browser gets it.
  const html = await (await fetch(`${base}/ui/`, { headers: { 'Accept-Encoding': 'identity' } })).text();
  let gzipped = 0;
  for (const file of ['', ...html.match(/app-[A-Z0-9]+\.(js|css)/g)]) {
    const r = await fetch(`${base}/ui/${file}`, { headers: { 'Accept-Encoding': 'gzip' }, decompress: false });
    gzipped += Number(r.headers.get('content-length'));
  }

  const rows = [
    ['overview first render after load', `${firstRender.toFixed(0)} ms`, '< 1000 ms'],
    [`route change on screen after the write (median / max of ${CHANGES})`, `${median(routeMs).toFixed(0)} / ${Math.max(...routeMs).toFixed(0)} ms`, '< 1000 ms'],
    [`health change on screen after the write (median / max of ${CHANGES})`, `${median(healthMs).toFixed(0)} / ${Math.max(...healthMs).toFixed(0)} ms`, '< 1000 ms'],
    [`JS heap after GC, ${STEADY_SECONDS} s of traffic`, `${(heap.usedSize / 1048576).toFixed(1)} MB`, '< 100 MB'],
    [`longest task while traffic flows (${longTasks.length} over 50 ms)`, `${Math.max(0, ...longTasks).toFixed(0)} ms`, ''],
    ['scrolled to the end to the last service drawn', `${scrollMs.toFixed(0)} ms`, ''],
    ['filter typed (6 keys) to list narrowed', `${filterMs.toFixed(0)} ms`, ''],
    ['bundle, gzipped (page, script, style)', `${(gzipped / 1024).toFixed(1)} KB`, '<= 150 KB'],
  ];
  const out = [`console_bench: ${SERVICES} services x ${INSTANCES} instances; ${drawn} services drawn at first, ${figures} sparklines drawn at the end; Chromium ${await browser.version()}`,
    ...rows.map(([what, value, target]) => `${what.padEnd(64)} ${value.padStart(14)}  ${target}`)].join('\n');
  console.log(out);
  writeFileSync(RESULTS, `${out}\n`);
} finally {
  await cleanup();
}
