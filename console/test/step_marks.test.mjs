// SPDX-License-Identifier: Apache-2.0
// The console marks a rollout's steps as `dw rollout status` does (docs/rollouts.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EVERY_STEP_PASSED, stepMarks } from '../src/step_marks.js';

const rollout = (phase, step, reason = '') => ({ phase, step, reason, spec: { steps: [5, 25, 50, 100] } });

test('a running rollout has passed the steps before the one it is at', () => {
  assert.deepEqual(stepMarks(rollout('running', 2)), ['passed', 'passed', 'now', '']);
  assert.deepEqual(stepMarks(rollout('paused', 0)), ['now', '', '', '']);
  assert.deepEqual(stepMarks(rollout('aborted', 1)), ['passed', 'aborted', '', '']);
});

test('one that succeeded on its figures passed every step', () => {
  assert.deepEqual(stepMarks(rollout('succeeded', 3, EVERY_STEP_PASSED)), ['passed', 'passed', 'passed', 'passed']);
});

test('one promoted by hand was promoted at its step, the last one included', () => {
  assert.deepEqual(stepMarks(rollout('succeeded', 1, 'promoted by token ops at step 2 of 4 (25%)')),
    ['passed', 'promoted', 'skipped', 'skipped']);
  assert.deepEqual(stepMarks(rollout('succeeded', 3, 'promoted by token ops at step 4 of 4 (100%)')),
    ['passed', 'passed', 'passed', 'promoted']);
});

test('the reason it reads is the one the directory gives a rollout that passed every step', () => {
  const header = readFileSync(new URL('../../common/model/rollout.hpp', import.meta.url), 'utf8');
  assert.equal(header.match(/kEveryStepPassed = "([^"]*)"/)?.[1], EVERY_STEP_PASSED);
});
