// SPDX-License-Identifier: Apache-2.0
// The console in a real browser (docs/console.md#tests): Debian's Chromium, headless, on the
// walkthrough's directory (scripts/run-local --keep), checked as a user would see it.
// Usage: node --test browser.test.mjs  (DSTACK_BUILD_DIR: the build; SCREENSHOTS: where the
// pages' pictures go)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { api, deadline, launchBrowser, newPage, startDirectory, startWalkthrough, typeToken, watchDirectory } from './harness.mjs';

const buildDir = process.env.DSTACK_BUILD_DIR;
const screenshots = process.env.SCREENSHOTS ?? join(buildDir, 'console-screenshots');
const LIVE_MS = 1000;  // docs/console.md: what the directory knows is on screen within 1 s
let walk;
let browser;
let watch;

before(async () => {
  assert.ok(buildDir, 'DSTACK_BUILD_DIR must name the build');
  mkdirSync(screenshots, { recursive: true });
  walk = await startWalkthrough(buildDir);
  browser = await launchBrowser();
  watch = watchDirectory(walk.directory, walk.adminToken);
});

after(async () => {
  watch?.close();
  await browser?.close();
  await walk?.stop();
});

async function open(path, token) {
  const page = await newPage(browser);
  await page.goto(`${walk.directory}/ui/${path}`);
  if (token) await typeToken(page, token);
  return page;
}

// Every page ends without a script error or a Content-Security-Policy refusal.
async function done(page) {
  const problems = page.problems;
  await page.close();
  assert.deepEqual(problems, []);
}

const text = (page, selector) => page.$eval(selector, (e) => e.innerText);
const dialogText = async (page) => {
  await page.waitForSelector('dialog.confirm[open]', { timeout: 5000 });
  return text(page, 'dialog.confirm');
};

test("the overview lists the walkthrough's services, their versions and split", async () => {
  const page = await open('', walk.operatorToken);
  await page.waitForSelector('tbody[data-service="transform"]', { timeout: 5000 });
  assert.deepEqual(await page.$$eval('tbody[data-service]', (rows) => rows.map((r) => r.dataset.service)), ['emitter', 'transform']);
  const emitter = await text(page, 'tbody[data-service="emitter"]');
  assert.match(emitter, /5 passing/);
  // The walkthrough ends with emitter's route at 2=100: version 3's rollout was rolled back.
  assert.deepEqual(await page.$$eval('tbody[data-service="emitter"] tr', (rows) =>
    rows.map((r) => [r.dataset.version, r.querySelector('.split').innerText])),
  [['1', '0 %'], ['2', '100 %'], ['3', '0 %']]);
  await deadline(15000, 'traffic figures on the overview', async () =>
    /\d/.test(await text(page, 'tbody[data-service="transform"] td.num:nth-of-type(3)')));
  await done(page);
});

test('without a token, a directory that needs one for reading says so', async () => {
  const page = await open('');
  await page.waitForSelector('[role="alert"]', { timeout: 5000 });
  assert.match(await text(page, '[role="alert"]'), /needs a token to read/);
  assert.equal(await page.$('tbody[data-service]'), null);
  await done(page);
});

test('a read-only session sees everything, cannot write, and says why', async () => {
  // A directory that lets anyone read and only tokens write (auth.anonymous: read).
  const d = await startDirectory(buildDir, 'auth: {anonymous: read}\n');
  try {
    assert.equal((await api(d.url, d.adminToken, 'PUT', '/v1/routes/web', { targets: [{ version: '2', weight: 10 }] })).status, 200);
    const page = await newPage(browser);
    await page.goto(`${d.url}/ui/#/services/web`);
    await page.waitForSelector('tr[data-consumer=""]', { timeout: 5000 });
    assert.match(await text(page, 'form.token'), /Read-only: no token/);
    assert.equal(await text(page, '#read-only-why'), 'Read-only: no token. Type a token with routes:web above to change routes.');
    for (const selector of ['.controls button[type=submit]', '.controls button.rollback', '.split-editor input', '.split-editor button.promote'])
      assert.equal(await page.$eval(selector, (e) => e.disabled), true, selector);
    // And the directory, not only the page, refuses a write without a token.
    const status = await page.evaluate(async () => (await fetch('../v1/routes/web', { method: 'PUT', body: '{"targets":[]}' })).status);
    assert.equal(status, 401);
    assert.deepEqual((await api(d.url, d.adminToken, 'GET', '/v1/routes/web')).body.targets, [{ version: '2', weight: 10 }]);
    await done(page);
  } finally {
    await d.stop();
  }
});

test('a split set in the console is the route the API returns, and is on screen at once', async () => {
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('.split-editor input[aria-label="percent for version 2"]');
  const set = async (version, value) => {
    const input = `.split-editor input[aria-label="percent for version ${version}"]`;
    await page.click(input, { clickCount: 3 });
    await page.keyboard.press('Backspace');
    if (value !== '') await page.type(input, value);
  };
  await set('1', '75');
  await set('2', '25');
  await page.click('.controls button[type=submit]');
  assert.match(await dialogText(page), /emitter's traffic for everyone as 1=75 %, 2=25 %/);
  await page.screenshot({ path: join(screenshots, 'confirm.png') });
  const changed = watch.waitFor((e) => e.type === 'route_put' && e.service === 'emitter');
  await page.click('dialog.confirm button.primary');
  const { at } = await changed;
  const route = await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter');
  assert.deepEqual(route.body.targets, [{ version: '1', weight: 75 }, { version: '2', weight: 25 }]);
  await page.waitForFunction(() => document.querySelector('tr[data-version="2"] .split')?.innerText === '25 %', { timeout: LIVE_MS });
  assert.ok(Date.now() - at < LIVE_MS + 200);
  assert.match(await text(page, '.outcome'), /Route for everyone set: 1=75 %, 2=25 %/);
  await done(page);
});

test('a split over 100 % gets the API\'s message on screen and changes nothing', async () => {
  const before = await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter');
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('.split-editor input[aria-label="percent for version 2"]');
  for (const [v, w] of [['1', '60'], ['2', '50']]) {
    const input = `.split-editor input[aria-label="percent for version ${v}"]`;
    await page.click(input, { clickCount: 3 });
    await page.keyboard.press('Backspace');
    await page.type(input, w);
  }
  await page.click('.controls button[type=submit]');
  await dialogText(page);
  await page.click('dialog.confirm button.primary');
  await page.waitForSelector('.outcome.error', { timeout: 5000 });
  assert.equal(await text(page, '.outcome.error'), 'targets: weights add up to 110, more than 100');
  const after = await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter');
  assert.deepEqual(after.body, before.body);
  await done(page);
});

test('a version that does not exist gets the API\'s message on screen and changes nothing', async () => {
  const before = await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter');
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('.split-editor input[aria-label="another version"]');
  const input = '.split-editor input[aria-label="percent for version 1"]';
  await page.click(input, { clickCount: 3 });
  await page.keyboard.press('Backspace');
  await page.type(input, '65');  // 65 + 25 + 10: a valid sum, so the version is what is wrong
  await page.type('.split-editor input[aria-label="another version"]', '9');
  await page.type('.split-editor input[aria-label="percent for another version"]', '10');
  await page.click('.controls button[type=submit]');
  await dialogText(page);
  await page.click('dialog.confirm button.primary');
  await page.waitForSelector('.outcome.error', { timeout: 5000 });
  assert.equal(await text(page, '.outcome.error'), 'targets[2].version "9": no instance of emitter has this version');
  assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body, before.body);
  await done(page);
});

test('a token lacking routes:emitter gets the 403 message shown, and nothing changes', async () => {
  const made = await api(walk.directory, walk.adminToken, 'POST', '/v1/tokens',
    { name: 'transform-team', policies: ['read', 'routes:transform'] });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const before = await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter');
  const page = await open('#/services/emitter', made.body.secret);
  await page.waitForSelector('.split-editor button');
  await page.click('.split-editor tr[data-version="2"] button.promote');
  await dialogText(page);
  await page.click('dialog.confirm button.primary');
  await page.waitForSelector('.outcome.error', { timeout: 5000 });
  assert.equal(await text(page, '.outcome.error'), 'token transform-team lacks routes:emitter');
  assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body, before.body);
  await done(page);
});

test('promote sends 100 % to the version', async () => {
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('.split-editor button');
  await page.click('.split-editor tr[data-version="2"] button.promote');
  assert.match(await dialogText(page), /Send 100 % of emitter's traffic for everyone to version 2\?/);
  await page.click('dialog.confirm button.primary');
  await page.waitForFunction(() => document.querySelector('tr[data-version="2"] .split')?.innerText === '100 %', { timeout: 5000 });
  assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body.targets, [{ version: '2', weight: 100 }]);
  await done(page);
});

test('roll back puts the previous split back, and drain takes a version out', async () => {
  const page = await open('#/services/emitter', walk.operatorToken);
  // After the 75/25 split and the promotion above, the previous split is 75/25.
  await page.waitForFunction(() => document.querySelector('.controls button.rollback')?.innerText === 'Roll back to 1=75 %, 2=25 %', { timeout: 5000 });
  await page.click('.controls button.rollback');
  assert.match(await dialogText(page), /Put back emitter's previous route for everyone: 1=75 %, 2=25 %\?/);
  await page.click('dialog.confirm button.primary');
  await page.waitForFunction(() => document.querySelector('table.versions tr[data-version="2"] .split')?.innerText === '25 %', { timeout: 5000 });
  assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body.targets,
    [{ version: '1', weight: 75 }, { version: '2', weight: 25 }]);
  // The instance's Drain names every instance of its version, and routes the version to 0 %.
  await page.click('tr[data-instance="vm101"] button.drain');
  assert.match(await dialogText(page), /Every instance of version 1 stops getting it: vm101, vm102, vm103/);
  await page.click('dialog.confirm button.primary');
  await page.waitForFunction(() => document.querySelector('table.versions tr[data-version="1"] .split')?.innerText === '0 %', { timeout: 5000 });
  assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body.targets,
    [{ version: '2', weight: 25 }, { version: '1', weight: 0 }]);
  // Version 3, not in the route, shares what is left; draining it names its one instance.
  await page.click('tr[data-instance="vm105"] button.drain');
  assert.match(await dialogText(page), /Every instance of version 3 stops getting it: vm105/);
  await page.click('dialog.confirm button.primary');
  await page.waitForFunction(() => document.querySelector('table.versions tr[data-version="3"] .split')?.innerText === '0 %', { timeout: 5000 });
  // Version 2 is now the only one with traffic: draining it would do nothing, so it is refused.
  assert.equal(await page.$eval('.split-editor tr[data-version="2"] button.drain', (b) => b.disabled), true);
  await done(page);
});

test('the consumers and events pages show who routes what and the live stream', async () => {
  const page = await open('#/consumers', walk.operatorToken);
  await page.waitForSelector('tr[data-consumer="monolith"]', { timeout: 10000 });
  assert.deepEqual(await page.$$eval('tr[data-consumer]', (rows) => rows.map((r) => r.dataset.consumer)), ['monolith', 'transform']);
  // A consumer that registers is on the page within 1 s, and gone within 1 s of its lease.
  const lease = (await api(walk.directory, walk.adminToken, 'POST', '/v1/leases', { ttl: 30 })).body.id;
  let t0 = Date.now();
  const put = await api(walk.directory, walk.adminToken, 'PUT', '/v1/consumers/batch-7', { lease, host: 'batch-host', services: ['transform'] });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  await page.waitForSelector('tr[data-consumer="batch-7"]', { timeout: LIVE_MS });
  assert.ok(Date.now() - t0 < LIVE_MS);
  t0 = Date.now();
  await api(walk.directory, walk.adminToken, 'DELETE', `/v1/leases/${lease}`);
  await page.waitForSelector('tr[data-consumer="batch-7"]', { hidden: true, timeout: LIVE_MS });
  assert.ok(Date.now() - t0 < LIVE_MS);
  await page.goto(`${walk.directory}/ui/#/events`);
  const changed = watch.waitFor((e) => e.type === 'route_put' && e.service === 'transform');
  await api(walk.directory, walk.adminToken, 'PUT', '/v1/routes/transform', { targets: [{ version: '1', weight: 100 }] });
  const { event } = await changed;
  await page.waitForSelector(`tr[data-type="route_put"]`, { timeout: LIVE_MS });
  assert.match(await text(page, 'table.events tbody tr:first-child'), new RegExp(`${event.revision}\\s+route_put\\s+transform`));
  await page.screenshot({ path: join(screenshots, 'events.png') });
  await done(page);
});

test('the controls work from the keyboard, and Escape sends nothing', async () => {
  const before = await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter');
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('.split-editor button.promote');
  let reached = false;
  for (let i = 0; i < 80 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.matches('tr[data-version="2"] button.promote') ?? false);
  }
  assert.ok(reached, 'Tab never reached "Promote 2"');
  await page.keyboard.press('Enter');
  assert.match(await dialogText(page), /to version 2\?/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog.confirm', { hidden: true, timeout: 2000 });
  assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body, before.body);
  await done(page);
});

test('a rollout shows its steps and figures against the bounds, and Pause, Resume and Abort steer it', async () => {
  // Users' requests through monolith's sherlock all along, as in the walkthrough.
  let flowing = true;
  const users = (async () => {
    while (flowing) await Promise.all(Array.from({ length: 8 }, () => fetch(`${walk.proxy}/emitter/`).then((r) => r.text()).catch(() => {})));
  })();
  try {
    // The walkthrough's last rollout, rolled back on its own: why, and the figures it was judged on.
    const page = await open('#/services/emitter', walk.operatorToken);
    await page.waitForSelector('section.rollout[data-phase="aborted"]', { timeout: 5000 });
    assert.match(await text(page, 'section.rollout .reason'), /^at 20%: error ratio [\d.]+% \(\d+ of \d+ requests\) over max_error_ratio 1\.00%/);
    assert.deepEqual(await page.$$eval('ol.steps li', (items) => items.map((li) => li.innerText.replace(/\s+/g, ' ').trim())),
      ['20 % aborted', '50 %', '100 %']);
    assert.equal(await page.$eval('tr[data-figure="errors"] td', (td) => td.classList.contains('bad')), true);
    await page.screenshot({ path: join(screenshots, 'rollout-aborted.png') });

    // The page stays open: the new rollout reaches it by the watch stream alone, and so do its
    // figures as the reports come in.
    const started = await api(walk.directory, walk.operatorToken, 'PUT', '/v1/rollouts/emitter',
      { to: '1', from: '2', steps: [10, 50, 100], interval: '1h', max_p99: '250ms' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    await page.waitForSelector('section.rollout[data-phase="running"]', { timeout: LIVE_MS });
    assert.equal(await text(page, '#rollout-title'), 'Rollout to version 1');
    assert.deepEqual(await page.$$eval('ol.steps li', (items) => items.map((li) => li.innerText.replace(/\s+/g, ' ').trim())),
      ['10 % now', '50 %', '100 %']);
    // The interval's figures so far, from the reports, beside the bounds. They take a route
    // change, requests, a report (every second here) and the directory's event: about two
    // seconds, more when the sanitizer suite loads both cores, hence the long deadline.
    await deadline(20000, 'the canary\'s requests in the panel', async () =>
      Number(await text(page, 'tr[data-figure="requests"] td:nth-of-type(1)')) > 0);
    assert.equal(await text(page, 'tr[data-figure="p99"] td:nth-of-type(3)'), '250ms or less');
    // The countdown to the end of the 1-hour interval: "1 h" for its first second.
    assert.match(await text(page, 'section.rollout .next'), /^In (1 h|59 min( \d+ s)?): within the bounds, 50 % to version 1; out of them, aborted, 100 % back to version 2/);
    await page.screenshot({ path: join(screenshots, 'rollout.png') });

    await page.click('section.rollout button.pause');
    assert.match(await dialogText(page), /Pause the rollout of emitter\? The route stays at 10 % version 1/);
    await page.click('dialog.confirm button.primary');
    await page.waitForSelector('section.rollout[data-phase="paused"]', { timeout: LIVE_MS });
    assert.equal((await api(walk.directory, walk.operatorToken, 'GET', '/v1/rollouts/emitter')).body.phase, 'paused');
    assert.equal(await page.$eval('section.rollout button.pause', (b) => b.disabled), true);
    await page.click('section.rollout button.resume');
    await dialogText(page);
    await page.click('dialog.confirm button.primary');
    await page.waitForSelector('section.rollout[data-phase="running"]', { timeout: LIVE_MS });

    await page.click('section.rollout button.abort');
    assert.match(await dialogText(page), /100 % of everyone's traffic goes back to version 2 at once/);
    await page.click('dialog.confirm button.primary');
    await page.waitForSelector('section.rollout[data-phase="aborted"]', { timeout: LIVE_MS });
    assert.match(await text(page, 'section.rollout .reason'), /^aborted by token operator at step 1 of 3 \(10%\); the route is back at 100% version 2$/);
    assert.deepEqual((await api(walk.directory, walk.operatorToken, 'GET', '/v1/routes/emitter')).body.targets, [{ version: '2', weight: 100 }]);
    // An ended rollout takes no more commands: its buttons are off, and the API would say why.
    assert.deepEqual(await page.$$eval('section.rollout .buttons button', (bs) => bs.map((b) => b.disabled)), [true, true, true, true]);
    await done(page);
  } finally {
    flowing = false;
    await users;
    // A failure above must not leave the rollout running for the tests after this one.
    await api(walk.directory, walk.operatorToken, 'POST', '/v1/rollouts/emitter/abort');
  }
});

test('a rollout command refused by the API shows its message word for word, and changes nothing', async () => {
  const started = await api(walk.directory, walk.operatorToken, 'PUT', '/v1/rollouts/emitter', { to: '1', from: '2', steps: [10, 100], interval: '1h' });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const made = await api(walk.directory, walk.adminToken, 'POST', '/v1/tokens', { name: 'canary-watcher', policies: ['read', 'routes:transform'] });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const page = await open('#/services/emitter', made.body.secret);
  await page.waitForSelector('section.rollout[data-phase="running"] button.abort:not([disabled])', { timeout: 5000 });
  await page.click('section.rollout button.abort');
  await dialogText(page);
  await page.click('dialog.confirm button.primary');
  await page.waitForSelector('section.rollout .outcome.error', { timeout: 5000 });
  assert.equal(await text(page, 'section.rollout .outcome.error'), 'token canary-watcher lacks routes:emitter');
  assert.equal((await api(walk.directory, walk.operatorToken, 'GET', '/v1/rollouts/emitter')).body.phase, 'running');
  await done(page);
  assert.equal((await api(walk.directory, walk.operatorToken, 'POST', '/v1/rollouts/emitter/abort')).status, 200);
});

test('every page has no serious or critical accessibility violation (axe-core)', async () => {
  const axe = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
  // Late in the run, so the charts have some history: the screenshots are taken here too.
  for (const [path, ready, shot] of [['', 'tbody[data-service] svg.spark', 'overview'], ['#/services/emitter', '.split-editor', 'service'],
    ['#/consumers', 'tr[data-consumer]', 'consumers'], ['#/events', 'h1', null]]) {
    const page = await newPage(browser);
    await page.setBypassCSP(true);  // to add axe's script: the console's own policy forbids it
    await page.goto(`${walk.directory}/ui/${path}`);
    await typeToken(page, walk.operatorToken);
    await page.waitForSelector(ready, { timeout: 15000 });
    if (shot) await page.screenshot({ path: join(screenshots, `${shot}.png`), fullPage: true });
    await page.addScriptTag({ path: axe });
    const found = await page.evaluate(async () => {
      const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
    });
    const serious = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(serious, [], `${path || 'overview'}: ${JSON.stringify(serious)}`);
    await done(page);
  }
});

test('an instance the directory holds as critical is shown critical within 1 s', async () => {
  // watson removes an instance that fails its checks rather than report it critical
  // (docs/watson.md); another registrar may report it, and the console shows it as it is.
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('tr[data-instance="vm104"]');
  const lease = (await api(walk.directory, walk.adminToken, 'POST', '/v1/leases', { ttl: 30 })).body.id;
  const shown = watch.waitFor((e) => e.type === 'instance_put' && e.id === 'vm109');
  const put = await api(walk.directory, walk.adminToken, 'PUT', '/v1/services/emitter/instances/vm109',
    { lease, url: 'http://127.0.0.1:9/emitter', version: '2', health: 'critical' });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const { at } = await shown;
  await page.waitForSelector('tr[data-instance="vm109"][data-health="critical"]', { timeout: LIVE_MS });
  assert.ok(Date.now() - at < LIVE_MS + 200);
  assert.match(await text(page, 'tr[data-instance="vm109"]'), /critical/);
  const gone = watch.waitFor((e) => e.type === 'instance_delete' && e.id === 'vm109');
  await api(walk.directory, walk.adminToken, 'DELETE', `/v1/leases/${lease}`);
  await gone;
  await page.waitForSelector('tr[data-instance="vm109"]', { hidden: true, timeout: LIVE_MS });
  await done(page);
});

test('an instance killed leaves the console within 1 s of the directory', async () => {
  const page = await open('#/services/emitter', walk.operatorToken);
  await page.waitForSelector('tr[data-instance="vm104"]');
  const gone = watch.waitFor((e) => e.type === 'instance_delete' && e.id === 'vm104');
  const emitter = await findProcess(walk.state, ['emitter', '--id', 'vm104']);
  process.kill(emitter, 'SIGKILL');  // watson sees its check fail and removes it (fall: 1)
  const { at } = await gone;
  await page.waitForSelector('tr[data-instance="vm104"]', { hidden: true, timeout: LIVE_MS });
  const late = Date.now() - at;
  assert.ok(late < LIVE_MS, `${late} ms`);
  await done(page);
});

// The walkthrough's process (run-local gives each DSTACK_WALKTHROUGH_STATE) whose program is
// words[0] and whose arguments hold the other words.
async function findProcess(state, words) {
  const { readdirSync } = await import('node:fs');
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`DSTACK_WALKTHROUGH_STATE=${state}`)) continue;
    } catch { continue; }
    if (argv.some((a) => a.endsWith(words[0])) && words.slice(1).every((w) => argv.includes(w))) return Number(pid);
  }
  throw new Error(`no process ${words.join(' ')}`);
}
