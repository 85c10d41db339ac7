// SPDX-License-Identifier: Apache-2.0
// How a rollout's steps are marked, as `dw rollout status` marks them (docs/rollouts.md).

// The reason of a rollout that succeeded on its figures; one promoted by hand names who did it.
export const EVERY_STEP_PASSED = 'every step passed';

// "passed", "now", "aborted", "promoted", "skipped" or "" for each step.
export function stepMarks(rollout) {
  return rollout.spec.steps.map((_, i) => {
    if (i < rollout.step) return 'passed';
    if (i === rollout.step) {
      if (rollout.phase === 'aborted') return 'aborted';
      // The last step passed, or this one was promoted by hand (the last one, too, may be).
      if (rollout.phase === 'succeeded') return rollout.reason === EVERY_STEP_PASSED ? 'passed' : 'promoted';
      return 'now';
    }
    return rollout.phase === 'succeeded' ? 'skipped' : '';
  });
}
