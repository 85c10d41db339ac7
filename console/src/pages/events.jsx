// SPDX-License-Identifier: Apache-2.0
// The watch stream as it arrives, newest first, filtered by service or type.
import { useState } from 'preact/hooks';
import { time } from '../parts/format.js';

const TYPES = ['instance_put', 'instance_delete', 'route_put', 'route_delete', 'policy_put', 'policy_delete'];

function summary(e) {
  switch (e.type) {
    case 'instance_put': return `${e.id}: version ${e.instance.version}, ${e.instance.health}, weight ${e.instance.weight}`;
    case 'instance_delete': return `${e.id} left`;
    case 'route_put': return `${e.consumer ? `consumer ${e.consumer}` : 'everyone'}: ${e.route.targets.map((t) => `${t.version}=${t.weight} %`).join(', ')}`;
    case 'route_delete': return `${e.consumer ? `consumer ${e.consumer}` : 'everyone'}'s route removed`;
    case 'policy_put': return 'policy set';
    case 'policy_delete': return 'policy removed';
    default: return '';
  }
}

export function EventsPage({ state }) {
  const [service, setService] = useState('');
  const [type, setType] = useState('');
  const shown = state.events.filter((e) => (!service || e.service.includes(service.trim())) && (!type || e.type === type))
    .slice(-200).reverse();
  return (
    <section aria-labelledby="events-title">
      <div class="page-head">
        <h1 id="events-title">Events</h1>
        <label class="filter"><span>Service</span>
          <input type="search" value={service} onInput={(e) => setService(e.currentTarget.value)} /></label>
        <label class="filter"><span>Type</span>
          <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="">all</option>
            {TYPES.map((t) => <option value={t}>{t}</option>)}
          </select></label>
      </div>
      <p class="muted small">Changes since this page was opened, as the directory's watch stream sends them (the last {200} shown).</p>
      {shown.length === 0 ? <p class="muted">No event yet.</p> : (
        <table class="grid events">
          <thead><tr><th scope="col">Time</th><th scope="col" class="num">Revision</th><th scope="col">Type</th><th scope="col">Service</th><th scope="col">What</th></tr></thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.revision} data-type={e.type}>
                <td>{time(e.at)}</td><td class="num">{e.revision}</td><td><code>{e.type}</code></td>
                <td><a href={`#/services/${encodeURIComponent(e.service)}`}>{e.service}</a></td><td>{summary(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
