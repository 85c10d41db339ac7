// SPDX-License-Identifier: Apache-2.0
// What the console knows of the directory: the snapshot, then every watch event applied to it
// (docs/api.md#get-v1watch), the last traffic figures (traffic events) and their last 10
// minutes (GET /v1/traffic/series), and the recent events for the events page. Plain data and functions, no I/O and no DOM, so it is tested
// with node alone (console/test/store.test.mjs). Maps are changed in place: with 10,000
// instances a copy per event would cost more than the page; `serial` tells the views to redraw.

export const HISTORY_MS = 10 * 60 * 1000;  // the sparklines' 10 minutes (the directory's window)
export const EVENTS_KEPT = 1000;

export function emptyState() {
  return {
    serial: 0,
    revision: 0,
    epoch: '',
    synced: false,
    instances: new Map(),  // service -> Map(id -> instance)
    routes: new Map(),     // service -> Map(consumer ('' for everyone) -> route)
    policies: new Map(),   // service -> policy
    traffic: new Map(),    // service -> Map(version -> last minute's figures)
    history: new Map(),    // `${service}\n${version}` -> [{t, rps, error_ratio, p50_ms, p99_ms}]
    consumers: [],         // as GET /v1/consumers: from consumer events, last reports polled
    rollouts: new Map(),   // service -> its rollout, as GET /v1/rollouts/{svc} (rollout events)
    judged: new Map(),     // service -> [{t, step, percent, canary, stable}]: its rollout's judged intervals seen
    events: [],            // newest last, at most EVENTS_KEPT
  };
}

function inner(map, key) {
  let m = map.get(key);
  if (!m) {
    m = new Map();
    map.set(key, m);
  }
  return m;
}

export function applySnapshot(state, snapshot) {
  state.revision = snapshot.revision;
  state.epoch = snapshot.epoch;
  state.synced = snapshot.synced;
  state.instances.clear();
  state.routes.clear();
  state.policies.clear();
  for (const i of snapshot.instances ?? []) inner(state.instances, i.service).set(i.id, i);
  for (const r of snapshot.routes ?? []) inner(state.routes, r.service).set(r.consumer ?? '', r);
  for (const p of snapshot.policies ?? []) state.policies.set(p.service, p);
  state.serial++;
}

// One line of the watch stream, parsed. Returns true when the state changed.
export function applyEvent(state, event, now = Date.now()) {
  switch (event.type) {
    case 'keepalive':
      state.revision = Math.max(state.revision, event.revision);
      return false;
    case 'traffic':
      applyTraffic(state, event);
      state.serial++;
      return true;
    case 'consumers':  // the list, as a stream opened with consumers=1 starts
      state.consumers = event.consumers ?? [];
      state.serial++;
      return true;
    case 'consumer_put':
      state.consumers = [...state.consumers.filter((c) => c.name !== event.consumer.name), event.consumer];
      state.serial++;
      return true;
    case 'consumer_delete':
      state.consumers = state.consumers.filter((c) => c.name !== event.name);
      state.serial++;
      return true;
    case 'rollouts':  // the list, as a stream opened with rollouts=1 starts
      state.rollouts.clear();
      for (const r of event.rollouts ?? []) applyRollout(state, r, now);
      state.serial++;
      return true;
    case 'rollout_put':
      applyRollout(state, event.rollout, now);
      state.serial++;
      return true;
    case 'rollout_delete':
      state.rollouts.delete(event.service);
      state.judged.delete(event.service);
      state.serial++;
      return true;
    case 'instance_put':
      inner(state.instances, event.service).set(event.id, event.instance);
      break;
    case 'instance_delete': {
      const m = state.instances.get(event.service);
      m?.delete(event.id);
      if (m?.size === 0) state.instances.delete(event.service);
      break;
    }
    case 'route_put':
      inner(state.routes, event.service).set(event.consumer ?? '', event.route);
      break;
    case 'route_delete': {
      const m = state.routes.get(event.service);
      m?.delete(event.consumer ?? '');
      if (m?.size === 0) state.routes.delete(event.service);
      break;
    }
    case 'policy_put':
      state.policies.set(event.service, event.policy);
      break;
    case 'policy_delete':
      state.policies.delete(event.service);
      break;
    default:
      return false;  // a newer directory's event: nothing this console shows
  }
  state.revision = event.revision;
  state.events.push({ ...event, at: now });
  if (state.events.length > EVENTS_KEPT) state.events.splice(0, state.events.length - EVENTS_KEPT);
  state.serial++;
  return true;
}

// A rollout as the API shows it. Each judgement it carries (`last`) that was not seen yet joins
// the service's list of judged intervals, which a new rollout of the service starts over.
function applyRollout(state, rollout, now) {
  const service = rollout.service;
  const before = state.rollouts.get(service);
  const ended = (r) => r.phase === 'succeeded' || r.phase === 'aborted';
  const fresh = !before || JSON.stringify(before.spec) !== JSON.stringify(rollout.spec) ||
    (ended(before) && !ended(rollout));
  if (fresh) state.judged.set(service, []);
  state.rollouts.set(service, rollout);
  const judged = state.judged.get(service) ?? [];
  const last = rollout.last;
  const seen = judged[judged.length - 1];
  if (last && (!seen || JSON.stringify(seen.canary) !== JSON.stringify(last.canary) ||
               JSON.stringify(seen.stable) !== JSON.stringify(last.stable))) {
    judged.push({ t: now, step: rollout.step, percent: rollout.spec.steps[rollout.step], canary: last.canary, stable: last.stable });
  }
  state.judged.set(service, judged);
}

// A traffic event holds GET /v1/traffic?window=1m's answer: the fleet's last minute.
function applyTraffic(state, event) {
  state.traffic.clear();
  for (const s of event.services ?? []) {
    const versions = inner(state.traffic, s.service);
    for (const v of s.versions) versions.set(v.version, v);
  }
}

// GET /v1/traffic/series's answer, received at `now`: steps of the window, oldest first, each
// drawn at its end (the last, still filling, at now). With `service`, only that service's
// history is replaced.
export function applySeries(state, series, now = Date.now(), service = null) {
  const start = now - series.first_ago_seconds * 1000;
  const step = series.step_seconds * 1000;
  const at = (i) => Math.min(start + (i + 1) * step, now);
  for (const key of [...state.history.keys()])
    if (service === null || key.startsWith(`${service}\n`)) state.history.delete(key);
  for (const s of series.services ?? []) {
    for (const v of s.versions) {
      state.history.set(`${s.service}\n${v.version}`, v.rps.map((rps, i) => ({
        t: at(i), rps, error_ratio: v.error_ratio[i], p50_ms: v.p50_ms[i], p99_ms: v.p99_ms[i],
      })));
    }
  }
  state.serial++;
}

export function serviceNames(state) {
  const names = new Set([...state.instances.keys(), ...state.routes.keys()]);
  return [...names].sort();
}

export function instancesOf(state, service) {
  return [...(state.instances.get(service)?.values() ?? [])].sort((a, b) => a.id.localeCompare(b.id));
}

// Everyone's route first, then by consumer.
export function routesOf(state, service) {
  return [...(state.routes.get(service)?.values() ?? [])]
    .sort((a, b) => (a.consumer ?? '').localeCompare(b.consumer ?? ''));
}

export function everyonesRoute(state, service) {
  return state.routes.get(service)?.get('');
}

export function healthCounts(instances) {
  const counts = { passing: 0, warning: 0, critical: 0, maintenance: 0 };
  for (const i of instances) counts[i.health] = (counts[i.health] ?? 0) + 1;
  return counts;
}
