// SPDX-License-Identifier: Apache-2.0
// The service page's controls (docs/console.md#controls): set the split, promote a version to
// 100 %, drain a version, roll back to the previous split. Each asks first, is sent with the
// tab's token, and shows the API's answer: the new route, or its refusal word for word. Without
// a token they are disabled, and say why.
import { useEffect, useState } from 'preact/hooks';
import { request } from '../api.js';
import { canDrain, drained } from '../shares.js';
import { Confirm } from './confirm.jsx';

const describe = (targets) => targets.map((t) => `${t.version}=${t.weight} %`).join(', ');

function usePrevious(service, consumer, revision, token) {
  const [previous, setPrevious] = useState(null);  // {targets} | {error}
  useEffect(() => {
    const stop = new AbortController();
    if (revision === undefined) {
      setPrevious({ error: 'no route to roll back' });
      return () => stop.abort();
    }
    const query = consumer ? `?consumer=${encodeURIComponent(consumer)}` : '';
    request('GET', `/v1/routes/${encodeURIComponent(service)}/previous${query}`, undefined, { token, signal: stop.signal })
      .then((body) => setPrevious({ targets: body.targets }))
      .catch((e) => { if (e.name !== 'AbortError') setPrevious({ error: e.message }); });
    return () => stop.abort();
  }, [service, consumer, revision, token]);
  return previous;
}

// `drain`: an instance's Drain button was pressed ({version, instance}); the dialog opens here.
export function RouteControls({ service, versions, instances, routes, consumers, token, drain, onDrainAsked }) {
  const [consumer, setConsumer] = useState('');
  const route = routes.find((r) => (r.consumer ?? '') === consumer);
  const [weights, setWeights] = useState({});
  const [extra, setExtra] = useState({ version: '', weight: '' });
  const [asking, setAsking] = useState(null);  // {title, text, send: () => Promise}
  const [outcome, setOutcome] = useState(null);  // {ok, text}
  const previous = usePrevious(service, consumer, route?.revision, token);
  const readOnly = !token;
  const who = consumer ? `consumer ${consumer}` : 'everyone';
  const query = consumer ? `?consumer=${encodeURIComponent(consumer)}` : '';
  const path = `/v1/routes/${encodeURIComponent(service)}`;
  const listed = Object.fromEntries((route?.targets ?? []).map((t) => [t.version, t.weight]));
  const value = (v) => weights[`${consumer}\n${v}`] ?? (listed[v] !== undefined ? String(listed[v]) : '');

  const run = async (send) => {
    setAsking(null);
    try {
      const answer = await send();
      setOutcome({ ok: true, text: answer.targets
        ? `Route for ${who} set: ${describe(answer.targets)} (revision ${answer.revision}).`
        : `Route for ${who} removed (revision ${answer.revision}): every routable instance shares by weight.` });
      setWeights({});
      setExtra({ version: '', weight: '' });
    } catch (e) {
      setOutcome({ ok: false, text: e.message });
    }
  };
  const put = (targets) => () => request('PUT', `${path}${query}${query ? '&' : '?'}known_versions=1`, { targets });

  const askSplit = (e) => {
    e.preventDefault();
    const targets = [];
    for (const v of versions) {
      const text = value(v.version).trim();
      if (text !== '') targets.push({ version: v.version, weight: Number(text) });
    }
    if (extra.version.trim()) targets.push({ version: extra.version.trim(), weight: Number(extra.weight.trim() || 0) });
    setAsking({ title: 'Set the split', text: `Send ${service}'s traffic for ${who} as ${describe(targets) || 'nothing listed'}?`, send: put(targets) });
  };
  const askPromote = (version) => setAsking({
    title: `Promote version ${version}`,
    text: `Send 100 % of ${service}'s traffic for ${who} to version ${version}?`,
    send: put([{ version, weight: 100 }]),
  });
  const askDrain = (version) => {
    const names = instances.filter((i) => i.version === version).map((i) => i.id);
    const targets = drained(route?.targets, version);
    setAsking({
      title: `Drain version ${version}`,
      text: `Route ${who}'s traffic of ${service} away from version ${version} (${describe(targets)})? ` +
        `Every instance of version ${version} stops getting it: ${names.join(', ') || 'none'}. ` +
        'A route sends traffic to versions, not instances; to drain one instance alone, use watson on its host.',
      send: put(targets),
    });
  };
  const askRollback = () => setAsking({
    title: 'Roll back',
    text: previous?.targets
      ? `Put back ${service}'s previous route for ${who}: ${describe(previous.targets)}?`
      : `Remove ${service}'s route for ${who}, as it was before its first route?`,
    send: () => request('POST', `${path}/rollback${query}`),
  });
  useEffect(() => {
    if (!drain) return;
    onDrainAsked();
    if (drainable(drain.version)) askDrain(drain.version);
    else setOutcome({ ok: false, text: `${drain.instance} runs version ${drain.version}, and no other version could take its traffic: a route cannot drain it (traffic never goes into a hole).` });
  }, [drain]);
  const drainable = (v) => canDrain(instances, route?.targets, v);

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
          <thead><tr><th scope="col">Version</th><th scope="col">Percent (empty: shares the rest)</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version} data-version={v.version}>
                <th scope="row">{v.version}</th>
                <td>
                  <input type="number" inputMode="numeric" aria-label={`percent for version ${v.version}`}
                    value={value(v.version)} disabled={readOnly} aria-describedby={readOnly ? 'read-only-why' : undefined}
                    onInput={(e) => setWeights({ ...weights, [`${consumer}\n${v.version}`]: e.currentTarget.value })} />
                </td>
                <td class="actions">
                  <button type="button" class="promote" disabled={readOnly} onClick={() => askPromote(v.version)}>Promote {v.version}</button>
                  <button type="button" class="drain" disabled={readOnly || !drainable(v.version)} onClick={() => askDrain(v.version)}
                    title={drainable(v.version) ? undefined : 'no other version could take its traffic: a route cannot drain it'}>Drain {v.version}</button>
                </td>
              </tr>
            ))}
            <tr>
              <td><input type="text" aria-label="another version" placeholder="another version" value={extra.version} disabled={readOnly}
                onInput={(e) => setExtra({ ...extra, version: e.currentTarget.value })} /></td>
              <td><input type="number" inputMode="numeric" aria-label="percent for another version" value={extra.weight} disabled={readOnly}
                onInput={(e) => setExtra({ ...extra, weight: e.currentTarget.value })} /></td>
              <td />
            </tr>
          </tbody>
        </table>
        <div class="buttons">
          <button type="submit" class="primary" disabled={readOnly}>Set split</button>
          <button type="button" class="rollback" disabled={readOnly || !previous || previous.error !== undefined} onClick={askRollback}>
            Roll back{previous?.targets ? ` to ${describe(previous.targets)}` : previous && !previous.error ? ' to no route' : ''}
          </button>
          {previous?.error && <span class="muted small">Roll back: {previous.error}</span>}
        </div>
      </form>
      {outcome && <p class={outcome.ok ? 'outcome ok' : 'outcome error'} role={outcome.ok ? 'status' : 'alert'}>{outcome.text}</p>}
      {asking && (
        <Confirm title={asking.title} action="Apply" onCancel={() => setAsking(null)} onConfirm={() => run(asking.send)}>
          <p>{asking.text}</p>
        </Confirm>
      )}
    </section>
  );
}
