// SPDX-License-Identifier: Apache-2.0
// Who consumes what: every consumer (a sherlock), its host and last report, and a matrix of the
// services it routes.
import { time } from '../parts/format.js';

export function ConsumersPage({ state }) {
  const consumers = [...state.consumers].sort((a, b) => a.name.localeCompare(b.name));
  const services = [...new Set(consumers.flatMap((c) => c.services ?? []))].sort();
  return (
    <section aria-labelledby="consumers-title">
      <h1 id="consumers-title">Consumers</h1>
      {consumers.length === 0 ? <p class="muted">No consumer is registered: no sherlock reports to this directory.</p> : (
        <div class="scroll">
          <table class="grid matrix">
            <thead>
              <tr>
                <th scope="col">Consumer</th><th scope="col">Host</th><th scope="col">Last report</th>
                {services.map((s) => <th scope="col" key={s} class="rotate"><a href={`#/services/${encodeURIComponent(s)}`}>{s}</a></th>)}
              </tr>
            </thead>
            <tbody>
              {consumers.map((c) => {
                const routed = new Set(c.services ?? []);
                return (
                  <tr key={c.name} data-consumer={c.name}>
                    <th scope="row">{c.name}</th>
                    <td>{c.host}</td>
                    <td>{c.last_report ? time(c.last_report) : <span class="muted">none yet</span>}</td>
                    {services.map((s) => (
                      <td key={s} class="cell">{routed.has(s) ? <span aria-label={`${c.name} routes ${s}`}>●</span> : <span class="visually-hidden">no</span>}</td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
