// SPDX-License-Identifier: Apache-2.0
// The console's split against docs/sherlock.md#canary-weights, its worked example included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canDrain, drained, versionShares } from '../src/shares.js';

const inst = (id, version, weight = 100, health = 'passing') => ({ id, version, weight, health });
const shares = (instances, targets) =>
  Object.fromEntries(versionShares(instances, targets).map((v) => [v.version, +(v.share * 100).toFixed(2)]));

const four = [inst('vm101', '1'), inst('vm102', '1'), inst('vm103', '1'), inst('vm104', '2')];

test('without a route every instance shares by weight', () => {
  assert.deepEqual(shares(four, []), { 1: 75, 2: 25 });
});

test('a 10 % canary leaves 90 % to the unlisted versions', () => {
  assert.deepEqual(shares(four, [{ version: '2', weight: 10 }]), { 1: 90, 2: 10 });
});

test("a listed version that is down gives its share to the others (the docs' v2 critical)", () => {
  const down = [...four.slice(0, 3), inst('vm104', '2', 100, 'critical')];
  assert.deepEqual(shares(down, [{ version: '2', weight: 10 }]), { 1: 100, 2: 0 });
});

test('percents under 100 with nothing unlisted are read as proportions', () => {
  const two = [inst('a', '1'), inst('b', '2')];
  assert.deepEqual(shares(two, [{ version: '1', weight: 30 }, { version: '2', weight: 20 }]), { 1: 60, 2: 40 });
});

test('v1=70 v2=20 with v2 down and v3 unlisted: 87.5 / 12.5', () => {
  const three = [inst('a', '1'), inst('b', '2', 100, 'critical'), inst('c', '3')];
  assert.deepEqual(shares(three, [{ version: '1', weight: 70 }, { version: '2', weight: 20 }]),
    { 1: 87.5, 2: 0, 3: 12.5 });
});

test('100 % to a version that is down: everything routable shares by weight', () => {
  const down = [inst('a', '1'), inst('b', '2', 100, 'critical')];
  assert.deepEqual(shares(down, [{ version: '2', weight: 100 }]), { 1: 100, 2: 0 });
});

test('a listed version without instances is shown, with nothing', () => {
  const r = versionShares([inst('a', '1')], [{ version: '3', weight: 50 }]);
  assert.deepEqual(r.map((v) => [v.version, v.instances, v.percent, v.share]), [['1', 1, null, 1], ['3', 0, 50, 0]]);
});

test('versions come in natural order', () => {
  const r = versionShares([inst('a', '10'), inst('b', '9'), inst('c', '2')], []);
  assert.deepEqual(r.map((v) => v.version), ['2', '9', '10']);
});

test('drain routes a version to 0 % and keeps what else the route says', () => {
  assert.deepEqual(drained([{ version: '1', weight: 75 }, { version: '2', weight: 25 }], '1'),
    [{ version: '2', weight: 25 }, { version: '1', weight: 0 }]);
  assert.deepEqual(drained(undefined, '2'), [{ version: '2', weight: 0 }]);
  assert.deepEqual(shares(four, drained([], '2')), { 1: 100, 2: 0 });
});

test('a version cannot be drained when no other version could take its traffic', () => {
  assert.equal(canDrain(four, [], '2'), true);
  assert.equal(canDrain(four, [{ version: '2', weight: 25 }, { version: '1', weight: 0 }], '2'), false);
  const oneDown = [inst('a', '1', 100, 'critical'), inst('b', '2')];
  assert.equal(canDrain(oneDown, [], '2'), false);
});
