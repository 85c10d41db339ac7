// SPDX-License-Identifier: Apache-2.0
// The share of a service's traffic each version gets from a route: the rules of
// docs/sherlock.md#canary-weights, as every sherlock applies them, so the console shows the
// split the proxies actually make (tested against the docs' worked example in
// console/test/shares.test.mjs).

export function routable(instance) {
  return (instance.health === 'passing' || instance.health === 'warning') && instance.weight > 0;
}

// instances: one service's; targets: the route's ([] for none). Returns one entry per version
// (those of the instances and those the route lists), sorted by version:
// {version, percent (what the route asks, null when unlisted), share (0..1, what it gets),
//  instances, routable (how many can take traffic)}.
export function versionShares(instances, targets = []) {
  const versions = new Map();
  const entry = (version) => {
    let v = versions.get(version);
    if (!v) {
      v = { version, percent: null, share: 0, instances: 0, routable: 0, weight: 0 };
      versions.set(version, v);
    }
    return v;
  };
  for (const i of instances) {
    const v = entry(i.version);
    v.instances++;
    if (routable(i)) {
      v.routable++;
      v.weight += Math.min(i.weight, 256);
    }
  }
  let listedSum = 0;
  for (const t of targets) {
    const v = entry(t.version);
    if (v.percent !== null) continue;  // listed twice: the first counts
    v.percent = Math.max(0, Math.min(100, t.weight));
    listedSum += v.percent;
  }
  const all = [...versions.values()];
  // Rule 2: the rest goes to the routable unlisted versions by their summed weights.
  const rest = Math.max(0, 100 - listedSum);
  const pool = all.filter((v) => v.percent === null && v.routable > 0)
    .reduce((sum, v) => sum + v.weight, 0);
  const part = (v) => {
    if (v.routable === 0) return 0;  // rule 3: not routable, its part is dropped
    if (v.percent !== null) return v.percent;
    return pool > 0 ? (rest * v.weight) / pool : 0;
  };
  const total = all.reduce((sum, v) => sum + part(v), 0);
  const weights = all.reduce((sum, v) => sum + v.weight, 0);
  for (const v of all) {
    if (total > 0) v.share = part(v) / total;  // rule 3: scaled to 100 %
    else if (weights > 0) v.share = v.weight / weights;  // rule 5: by weight, never a hole
  }
  return all.sort((a, b) => compareVersions(a.version, b.version)).map(({ weight, ...v }) => v);
}

// The route's targets with `version` at 0 %, the others as they were: the console's Drain.
export function drained(targets, version) {
  const others = (targets ?? []).filter((t) => t.version !== version);
  return [...others, { version, weight: 0 }];
}

// Whether draining `version` would leave it no traffic: not when no other version could take
// it, since a route never sends traffic into a hole (rule 5).
export function canDrain(instances, targets, version) {
  return versionShares(instances, drained(targets, version)).find((v) => v.version === version)?.share === 0;
}

// Versions in natural order: "2" before "10", then by text.
export function compareVersions(a, b) {
  return a.localeCompare(b, 'en', { numeric: true });
}
