// SPDX-License-Identifier: Apache-2.0
// The console's state: a snapshot, then watch events applied in order, as docs/api.md says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, applySeries, applySnapshot, emptyState, everyonesRoute, healthCounts, instancesOf, routesOf, serviceNames } from '../src/store.js';

const instance = (service, id, version, health = 'passing') => ({ service, id, version, health, weight: 100, url: `http://${id}/` });

function walkthrough() {
  const state = emptyState();
  applySnapshot(state, {
    revision: 5, epoch: 'e1', synced: true,
    instances: [instance('emitter', 'vm101', '1'), instance('emitter', 'vm104', '2'), instance('transform', 't1', '1')],
    routes: [{ service: 'emitter', targets: [{ version: '2', weight: 10 }], revision: 4 },
      { service: 'emitter', consumer: 'monolith', targets: [{ version: '2', weight: 50 }], revision: 5 }],
  });
  return state;
}

test('a snapshot gives the services, their instances and routes', () => {
  const state = walkthrough();
  assert.deepEqual(serviceNames(state), ['emitter', 'transform']);
  assert.deepEqual(instancesOf(state, 'emitter').map((i) => i.id), ['vm101', 'vm104']);
  assert.deepEqual(routesOf(state, 'emitter').map((r) => r.consumer ?? ''), ['', 'monolith']);
  assert.equal(everyonesRoute(state, 'emitter').targets[0].weight, 10);
});

test('events change the state, raise the revision and are kept for the events page', () => {
  const state = walkthrough();
  const serial = state.serial;
  assert.ok(applyEvent(state, { type: 'instance_put', revision: 6, service: 'emitter', id: 'vm104', instance: instance('emitter', 'vm104', '2', 'critical') }));
  assert.deepEqual(healthCounts(instancesOf(state, 'emitter')), { passing: 1, warning: 0, critical: 1, maintenance: 0 });
  assert.ok(applyEvent(state, { type: 'instance_delete', revision: 7, service: 'transform', id: 't1' }));
  assert.deepEqual(serviceNames(state), ['emitter']);  // a service without instances or routes is gone
  assert.ok(applyEvent(state, { type: 'route_delete', revision: 8, service: 'emitter', consumer: 'monolith' }));
  assert.deepEqual(routesOf(state, 'emitter').map((r) => r.consumer ?? ''), ['']);
  assert.equal(state.revision, 8);
  assert.ok(state.serial > serial);
  assert.deepEqual(state.events.map((e) => e.revision), [6, 7, 8]);
});

test('keepalives and unknown types change nothing on screen', () => {
  const state = walkthrough();
  const serial = state.serial;
  assert.equal(applyEvent(state, { type: 'keepalive', revision: 9 }), false);
  assert.equal(applyEvent(state, { type: 'canary_analysis', revision: 10, service: 'emitter' }), false);
  assert.equal(state.serial, serial);
  assert.equal(state.revision, 9);
});

test('traffic events replace the last minute\'s figures', () => {
  const state = walkthrough();
  const figures = (rps) => ({ type: 'traffic', revision: 5, services: [{ service: 'emitter', versions: [{ version: '1', rps, error_ratio: 0, p99_ms: 3 }] }] });
  applyEvent(state, figures(10));
  applyEvent(state, figures(20));
  assert.equal(state.traffic.get('emitter').get('1').rps, 20);
  applyEvent(state, { type: 'traffic', revision: 5, services: [] });
  assert.equal(state.traffic.size, 0);
});

test('a series gives each version its steps, drawn at their ends, the last at now', () => {
  const state = walkthrough();
  const now = 1_000_000;
  const version = (rps) => ({ version: '1', rps, error_ratio: rps.map(() => 0), p50_ms: rps.map(() => 1), p99_ms: rps.map(() => 2) });
  applySeries(state, { first_ago_seconds: 50, step_seconds: 20, steps: 3,
    services: [{ service: 'emitter', versions: [version([0, 0.5, 2.5])] }, { service: 'transform', versions: [version([1, 1, 1])] }] }, now);
  assert.deepEqual(state.history.get('emitter\n1').map((p) => [p.t, p.rps]), [[now - 30_000, 0], [now - 10_000, 0.5], [now, 2.5]]);
  // One service's series replaces that service's history only.
  applySeries(state, { first_ago_seconds: 10, step_seconds: 10, steps: 1, services: [] }, now, 'emitter');
  assert.equal(state.history.has('emitter\n1'), false);
  assert.equal(state.history.has('transform\n1'), true);
});

test('the events page keeps the last 1000 changes', () => {
  const state = walkthrough();
  for (let r = 6; r < 1506; r++) applyEvent(state, { type: 'route_delete', revision: r, service: 'x' });
  assert.equal(state.events.length, 1000);
  assert.equal(state.events[0].revision, 506);
});

test('consumer events keep the list: whole at first, then one by one', () => {
  const state = walkthrough();
  const c = (name, services) => ({ name, host: name, services, last_report: null });
  applyEvent(state, { type: 'consumers', revision: 5, consumers: [c('monolith', ['emitter'])] });
  applyEvent(state, { type: 'consumer_put', revision: 5, consumer: c('transform', ['emitter']) });
  applyEvent(state, { type: 'consumer_put', revision: 5, consumer: c('monolith', ['emitter', 'transform']) });
  assert.deepEqual(state.consumers.map((x) => [x.name, x.services.length]).sort(), [['monolith', 2], ['transform', 1]]);
  applyEvent(state, { type: 'consumer_delete', revision: 5, name: 'transform' });
  assert.deepEqual(state.consumers.map((x) => x.name), ['monolith']);
  assert.equal(state.events.length, 0);  // not changes: not on the events page
});

test('rollout events keep each service\'s rollout and the intervals it judged, a new one starting over', () => {
  const state = emptyState();
  const spec = { to: '2', from: '1', steps: [10, 50, 100], interval: '1m', max_error_ratio: 0.01, min_requests: 200 };
  const r = (extra) => ({ service: 'emitter', spec, phase: 'running', step: 0, interval_start: 1000, waits: 0, reason: '', last: null, ...extra });
  const f = (requests, errors) => ({ requests, errors, p99_ms: 20 });
  assert.equal(applyEvent(state, { type: 'rollouts', revision: 3, rollouts: [r()] }, 10), true);
  assert.equal(state.rollouts.get('emitter').phase, 'running');
  assert.deepEqual(state.judged.get('emitter'), []);
  applyEvent(state, { type: 'rollout_put', revision: 4, rollout: r({ step: 1, last: { canary: f(300, 0), stable: f(2700, 1) } }) }, 20);
  // The same judgement again (a pause, say) is not a second interval.
  applyEvent(state, { type: 'rollout_put', revision: 4, rollout: r({ step: 1, phase: 'paused', last: { canary: f(300, 0), stable: f(2700, 1) } }) }, 30);
  applyEvent(state, { type: 'rollout_put', revision: 5, rollout: r({ step: 1, phase: 'aborted', last: { canary: f(500, 40), stable: f(500, 0) } }) }, 40);
  assert.deepEqual(state.judged.get('emitter').map((j) => [j.t, j.step, j.percent, j.canary.errors]), [[20, 1, 50, 0], [40, 1, 50, 40]]);
  assert.equal(state.events.length, 0, 'rollout events are not changes');
  // A new rollout of the service starts its list over; a forgotten one goes.
  applyEvent(state, { type: 'rollout_put', revision: 6, rollout: r({ interval_start: 9000 }) }, 50);
  assert.deepEqual(state.judged.get('emitter'), []);
  applyEvent(state, { type: 'rollout_delete', revision: 7, service: 'emitter' }, 60);
  assert.equal(state.rollouts.has('emitter'), false);
});

