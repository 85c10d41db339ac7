// SPDX-License-Identifier: Apache-2.0
// What the browser tests run against: the walkthrough itself (scripts/run-local --keep on free
// ports, this build's programs), Debian's Chromium driven by puppeteer-core, and a watch of the
// directory of the test's own, to time the console against.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

export async function deadline(ms, what, check, every = 25) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// The walkthrough, left running: {directory, state, adminToken, operatorToken, emitterPorts, stop()}.
export async function startWalkthrough(buildDir) {
  const child = spawn(join(repo, 'scripts/run-local'), ['--keep'], {
    env: { ...process.env, DSTACK_BUILD_DIR: buildDir, DSTACK_PORT: '0', DSTACK_PROXY_PORT: '0' },
    detached: true,  // its own process group, so Ctrl-C (SIGINT to the group) stops all of it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let ended = false;
  exited.then(() => { ended = true; });
  await deadline(240000, 'the walkthrough to finish and keep running', () => {
    if (ended) throw new Error(`scripts/run-local --keep ended early:\n${output}`);
    return output.includes('Everything keeps running until Ctrl-C');
  }, 200);
  const directory = output.match(/directory +(http:\/\/127\.0\.0\.1:\d+)/)[1];
  const state = output.match(/state and logs in (\S+)\)/)[1];
  const ports = output.match(/ports: ([\d ]+)/)[1].trim().split(/\s+/).map(Number);
  const proxy = output.match(/monolith's proxy +(http:\/\/127\.0\.0\.1:\d+)/)[1];
  return {
    directory,
    proxy,  // monolith's sherlock
    state,
    output: () => output,
    adminToken: readFileSync(join(state, 'admin.token'), 'utf8').trim(),
    operatorToken: readFileSync(join(state, 'tokens/operator'), 'utf8').trim(),
    emitterPorts: { vm101: ports[0], vm102: ports[1], vm103: ports[2], vm104: ports[3], vm105: ports[4] },
    async stop() {
      if (ended) return;
      process.kill(-child.pid, 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
      if (!ended) process.kill(-child.pid, 'SIGKILL');
    },
  };
}

// A directory of the test's own (this build's binary) on a free port, with an admin token and
// `config` (directory.yaml): {url, adminToken, stop()}.
export async function startDirectory(buildDir, config = '') {
  const dir = mkdtempSync(join(tmpdir(), 'dstack-console-test.'));
  const adminToken = 'admin-s3cret';
  writeFileSync(join(dir, 'admin.token'), `${adminToken}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'directory.yaml'), config);
  const port = await freePort();
  const child = spawn(join(buildDir, 'directory/dstack-directory'), ['-c', join(dir, 'directory.yaml'),
    '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--token-file', join(dir, 'admin.token')],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  await deadline(10000, `the directory on ${url}: ${stderr}`, async () => {
    if (child.exitCode !== null) throw new Error(`dstack-directory exited: ${stderr}`);
    return (await fetch(`${url}/v1/health`).catch(() => null))?.ok;
  }, 50);
  return {
    url,
    adminToken,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function api(directory, token, method, path, body) {
  const response = await fetch(directory + path, {
    method,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

// The test's own watch of the directory: waitFor(predicate) resolves with the first event from
// now on that matches, and the time it arrived.
export function watchDirectory(directory, token) {
  const stop = new AbortController();
  const waiters = [];
  (async () => {
    const response = await fetch(`${directory}/v1/watch`, { headers: { Authorization: `Bearer ${token}` }, signal: stop.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const event = JSON.parse(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        const at = Date.now();
        for (const w of [...waiters]) {
          if (w.predicate(event)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve({ event, at });
          }
        }
      }
    }
  })().catch(() => {});
  return {
    waitFor(predicate, ms = 20000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such event within ${ms} ms`)), ms);
        waiters.push({ predicate, resolve: (found) => { clearTimeout(timer); resolve(found); } });
      });
    },
    close: () => stop.abort(),
  };
}

export async function launchBrowser() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // As root (CI), Chromium's sandbox cannot start; the pages are our own.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    headless: true,
  });
}

// A page that records what it must not do: script errors and Content-Security-Policy refusals.
export async function newPage(browser) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 900 });
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) page.problems.push(`CSP: ${m.text()}`);
  });
  return page;
}

export async function typeToken(page, token) {
  await page.type('#token-input', token);
  await page.click('form.token button[type=submit]');
  await page.waitForSelector('form.token', { hidden: true });
}
