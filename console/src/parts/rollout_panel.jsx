// SPDX-License-Identifier: Apache-2.0
// A service's rollout (docs/console.md#rollouts, docs/rollouts.md): its steps, the canary's
// figures beside the stable version's and the bounds (this interval so far while it runs), the
// intervals judged while the page was open, what happens next, and Pause / Resume / Promote /
// Abort. Each command asks first, is sent with the tab's token, and shows the API's answer or
// its refusal word for word.
import { useEffect, useState } from 'preact/hooks';
import { request } from '../api.js';
import { Confirm } from './confirm.jsx';
import { howLong, ms, ratio, time } from './format.js';
import { stepMarks } from '../step_marks.js';

const errorRatio = (f) => (f && f.requests > 0 ? f.errors / f.requests : null);

function useNow(running) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  return now;
}

const COMMANDS = {
  pause: { label: 'Pause', phases: ['running'], text: (r) => `Pause the rollout of ${r.service}? The route stays at ${r.spec.steps[r.step]} % version ${r.spec.to}; nothing is judged until it is resumed.` },
  resume: { label: 'Resume', phases: ['paused'], text: (r) => `Resume the rollout of ${r.service}? The route is set to ${r.spec.steps[r.step]} % version ${r.spec.to} again and a new interval is judged.` },
  promote: { label: 'Promote', phases: ['running', 'paused'], text: (r) => `Promote version ${r.spec.to} of ${r.service} now? 100 % of ${r.spec.consumer ? `consumer ${r.spec.consumer}'s` : "everyone's"} traffic goes to it; the steps left are skipped.` },
  abort: { label: 'Abort', phases: ['running', 'paused'], text: (r) => `Abort the rollout of ${r.service}? 100 % of ${r.spec.consumer ? `consumer ${r.spec.consumer}'s` : "everyone's"} traffic goes back to version ${r.spec.from} at once.` },
};

export function RolloutPanel({ rollout, judged, token }) {
  const [asking, setAsking] = useState(null);  // a COMMANDS key
  const [outcome, setOutcome] = useState(null);  // {ok, text}
  const now = useNow(rollout.phase === 'running');
  const spec = rollout.spec;
  const marks = stepMarks(rollout);
  const figures = rollout.current ?? rollout.last;
  const path = `/v1/rollouts/${encodeURIComponent(rollout.service)}`;
  const bounds = {
    requests: `${spec.min_requests} or more`,
    errors: `${ratio(spec.max_error_ratio)} or less`,
    p99: [spec.max_p99 && `${spec.max_p99} or less`, spec.max_p99_ratio && `${spec.max_p99_ratio}× stable or less`].filter(Boolean).join('; ') || 'none',
  };
  const errorsOver = figures && errorRatio(figures.canary) > spec.max_error_ratio;
  const send = async (command) => {
    setAsking(null);
    try {
      const answer = await request('POST', `${path}/${command}`);
      setOutcome({ ok: true, text: `Rollout ${answer.phase}${answer.reason ? `: ${answer.reason}` : ''}.` });
    } catch (e) {
      setOutcome({ ok: false, text: e.message });
    }
  };
  let next = '';
  if (rollout.phase === 'running') {
    const left = rollout.judge_at == null ? null : Math.max(0, Math.ceil((rollout.judge_at - now) / 1000));
    const pass = rollout.step + 1 < spec.steps.length ? `${spec.steps[rollout.step + 1]} % to version ${spec.to}` : `succeeded, 100 % to version ${spec.to}`;
    next = `${left === null ? 'Once the step\'s route is set' : left > 0 ? `In ${howLong(left)}` : 'Now, once the reports are in'}: within the bounds, ${pass}; out of them, aborted, 100 % back to version ${spec.from}. A bad version goes as soon as its errors, or its p99 against max_p99, are certain to be out of bounds.`;
  } else if (rollout.phase === 'paused') {
    next = `Nothing until it is resumed (${spec.steps[rollout.step]} % again, a new interval), promoted or aborted.`;
  } else {
    next = `The route is 100 % version ${rollout.phase === 'succeeded' ? spec.to : spec.from}.`;
  }

  return (
    <section class="rollout" aria-labelledby="rollout-title" data-phase={rollout.phase}>
      <div class="page-head">
        <h2 id="rollout-title">Rollout to version {spec.to}</h2>
        <span class={`badge phase-${rollout.phase}`}>{rollout.phase}</span>
      </div>
      <p class="muted small">
        Replacing version {spec.from}, {spec.consumer ? `consumer ${spec.consumer}'s route` : "everyone's route"};
        each step judged after {spec.interval}{rollout.waits > 0 ? ` (this one waited ${rollout.waits} interval(s) for evidence)` : ''}.
      </p>
      <ol class="steps">
        {spec.steps.map((p, i) => (
          <li key={p} class={marks[i]} aria-current={marks[i] === 'now' ? 'step' : undefined}>
            <span class="percent">{p} %</span>{marks[i] && <span class="mark">{marks[i]}</span>}
          </li>
        ))}
      </ol>
      {rollout.reason && <p class={`reason${rollout.phase === 'aborted' ? ' bad' : ''}`}>{rollout.reason}</p>}
      {figures && (
        <table class="grid figures">
          <caption>{rollout.current ? 'This interval so far' : 'The last interval judged'}</caption>
          <thead><tr><th scope="col">Figure</th><th scope="col" class="num">Canary {spec.to}</th><th scope="col" class="num">Stable {spec.from}</th><th scope="col">Bound</th></tr></thead>
          <tbody>
            <tr data-figure="requests"><th scope="row">Requests</th><td class="num">{figures.canary.requests}</td><td class="num">{figures.stable.requests}</td><td>{bounds.requests}</td></tr>
            <tr data-figure="errors"><th scope="row">Error ratio</th><td class={`num${errorsOver ? ' bad' : ''}`}>{ratio(errorRatio(figures.canary))}</td><td class="num">{ratio(errorRatio(figures.stable))}</td><td>{bounds.errors}</td></tr>
            <tr data-figure="p99"><th scope="row">p99</th><td class="num">{ms(figures.canary.p99_ms)}</td><td class="num">{ms(figures.stable.p99_ms)}</td><td>{bounds.p99}</td></tr>
          </tbody>
        </table>
      )}
      {judged.length > 0 && (
        <table class="grid judged">
          <caption>Intervals judged while this page was open</caption>
          <thead><tr><th scope="col">At</th><th scope="col" class="num">Step</th><th scope="col" class="num">Canary requests</th><th scope="col" class="num">Canary errors</th><th scope="col" class="num">Stable errors</th><th scope="col" class="num">Canary p99</th><th scope="col" class="num">Stable p99</th></tr></thead>
          <tbody>
            {judged.map((j) => (
              <tr key={j.t}>
                <th scope="row">{time(j.t)}</th><td class="num">{j.percent} %</td><td class="num">{j.canary.requests}</td>
                <td class={`num${errorRatio(j.canary) > spec.max_error_ratio ? ' bad' : ''}`}>{ratio(errorRatio(j.canary))}</td>
                <td class="num">{ratio(errorRatio(j.stable))}</td><td class="num">{ms(j.canary.p99_ms)}</td><td class="num">{ms(j.stable.p99_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="next">{next}</p>
      <div class="buttons">
        {Object.entries(COMMANDS).map(([command, c]) => (
          <button type="button" class={command} key={command} disabled={!token || !c.phases.includes(rollout.phase)}
            onClick={() => setAsking(command)}>{c.label}</button>
        ))}
      </div>
      {outcome && <p class={outcome.ok ? 'outcome ok' : 'outcome error'} role={outcome.ok ? 'status' : 'alert'}>{outcome.text}</p>}
      {asking && (
        <Confirm title={`${COMMANDS[asking].label} the rollout`} action={COMMANDS[asking].label} onCancel={() => setAsking(null)} onConfirm={() => send(asking)}>
          <p>{COMMANDS[asking].text(rollout)}</p>
        </Confirm>
      )}
    </section>
  );
}
