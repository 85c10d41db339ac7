// SPDX-License-Identifier: Apache-2.0
// The service page's controls: set the split, promote a version to 100 %. Each asks first, is
// sent with the tab's token, and shows the API's answer: the new route, or its refusal word for
// word (docs/console.md#controls). Without a token they are disabled, and say why.
import { useState } from 'preact/hooks';
import { request } from '../api.js';
import { Confirm } from './confirm.jsx';

const describe = (targets) => targets.map((t) => `${t.version}=${t.weight} %`).join(', ');

export function RouteControls({ service, versions, routes, consumers, token }) {
  const [consumer, setConsumer] = useState('');
  const route = routes.find((r) => (r.consumer ?? '') === consumer);
  const [weights, setWeights] = useState({});
  const [asking, setAsking] = useState(null);  // {title, text, targets}
  const [outcome, setOutcome] = useState(null);  // {ok, text}
  const readOnly = !token;
  const who = consumer ? `consumer ${consumer}` : 'everyone';
  const listed = Object.fromEntries((route?.targets ?? []).map((t) => [t.version, t.weight]));
  const value = (v) => weights[`${consumer}\n${v}`] ?? (listed[v] !== undefined ? String(listed[v]) : '');

  const send = async (targets) => {
    setAsking(null);
    const query = consumer ? `?consumer=${encodeURIComponent(consumer)}` : '';
    try {
      const stored = await request('PUT', `/v1/routes/${encodeURIComponent(service)}${query}`, { targets });
      setOutcome({ ok: true, text: `Route for ${who} set: ${describe(stored.targets)} (revision ${stored.revision}).` });
      setWeights({});
    } catch (e) {
      setOutcome({ ok: false, text: e.message });
    }
  };
  const askSplit = (e) => {
    e.preventDefault();
    const targets = [];
    for (const v of versions) {
      const text = value(v.version).trim();
      if (text !== '') targets.push({ version: v.version, weight: Number(text) });
    }
    setAsking({ title: 'Set the split', text: `Send ${service}'s traffic for ${who} as ${describe(targets) || 'nothing listed'}?`, targets });
  };
  const askPromote = (version) => setAsking({
    title: `Promote version ${version}`,
    text: `Send 100 % of ${service}'s traffic for ${who} to version ${version}?`,
    targets: [{ version, weight: 100 }],
  });

  return (
    <section class="controls" aria-labelledby="controls-title">
      <h2 id="controls-title">Change the split</h2>
      {readOnly && <p class="read-only-note" id="read-only-why">Read-only: no token. Type a token with <code>routes:{service}</code> above to change routes.</p>}
      <form onSubmit={askSplit}>
        <label class="field">
          <span>Route for</span>
          <select value={consumer} onChange={(e) => setConsumer(e.currentTarget.value)} disabled={readOnly}>
            <option value="">everyone</option>
            {consumers.map((c) => <option value={c}>consumer {c}</option>)}
          </select>
        </label>
        <table class="grid split-editor">
          <thead><tr><th scope="col">Version</th><th scope="col">Percent (empty: shares the rest)</th><th scope="col"><span class="visually-hidden">Promote</span></th></tr></thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <th scope="row">{v.version}</th>
                <td>
                  <input type="number" inputMode="numeric" aria-label={`percent for version ${v.version}`}
                    value={value(v.version)} disabled={readOnly} aria-describedby={readOnly ? 'read-only-why' : undefined}
                    onInput={(e) => setWeights({ ...weights, [`${consumer}\n${v.version}`]: e.currentTarget.value })} />
                </td>
                <td><button type="button" disabled={readOnly} onClick={() => askPromote(v.version)}>Promote {v.version}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="submit" class="primary" disabled={readOnly}>Set split</button>
      </form>
      {outcome && <p class={outcome.ok ? 'outcome ok' : 'outcome error'} role={outcome.ok ? 'status' : 'alert'}>{outcome.text}</p>}
      {asking && (
        <Confirm title={asking.title} action="Apply" onCancel={() => setAsking(null)} onConfirm={() => send(asking.targets)}>
          <p>{asking.text}</p>
        </Confirm>
      )}
    </section>
  );
}
