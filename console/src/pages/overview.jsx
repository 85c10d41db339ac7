// SPDX-License-Identifier: Apache-2.0
// Every service: its instances by health, its versions with the split the routes give them, and
// the last minute's rps, error ratio and p99 per version with their last 10 minutes.
import { useState } from 'preact/hooks';
import { HealthCounts } from '../parts/health.jsx';
import { Sparkline } from '../parts/sparkline.jsx';
import { ms, percent, ratio, rps } from '../parts/format.js';
import { versionShares } from '../shares.js';
import { everyonesRoute, healthCounts, instancesOf, serviceNames } from '../store.js';

export function Overview({ state }) {
  const [filter, setFilter] = useState('');
  const names = serviceNames(state).filter((n) => n.includes(filter.trim()));
  const now = Date.now();
  return (
    <section aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">Services</h1>
        <label class="filter">
          <span>Filter</span>
          <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
      </div>
      {names.length === 0 ? (
        <p class="muted">{filter ? 'No service matches.' : 'No service is registered yet.'}</p>
      ) : (
        <table class="grid overview">
          <thead>
            <tr>
              <th scope="col">Service</th><th scope="col">Instances</th><th scope="col">Version</th>
              <th scope="col" class="num">Split</th><th scope="col" class="num">rps</th>
              <th scope="col" class="num">Errors</th><th scope="col" class="num">p99</th>
              <th scope="col">rps, 10 min</th>
            </tr>
          </thead>
          {names.map((name) => <ServiceRows key={name} state={state} name={name} now={now} />)}
        </table>
      )}
    </section>
  );
}

function ServiceRows({ state, name, now }) {
  const instances = instancesOf(state, name);
  const route = everyonesRoute(state, name);
  const versions = versionShares(instances, route?.targets);
  const traffic = state.traffic.get(name);
  const rows = versions.length ? versions : [null];
  return (
    <tbody data-service={name}>
      {rows.map((v, i) => {
        const t = v && traffic?.get(v.version);
        return (
          <tr key={v?.version ?? ''} data-version={v?.version}>
            {i === 0 && (
              <>
                <th scope="rowgroup" rowSpan={rows.length}><a href={`#/services/${encodeURIComponent(name)}`}>{name}</a></th>
                <td rowSpan={rows.length}><HealthCounts counts={healthCounts(instances)} /></td>
              </>
            )}
            <td>{v ? v.version : <span class="muted">none</span>}</td>
            <td class="num split">{v ? percent(v.share) : ''}</td>
            <td class="num">{rps(t?.rps)}</td>
            <td class={`num${t?.error_ratio > 0 ? ' bad' : ''}`}>{ratio(t?.error_ratio)}</td>
            <td class="num">{ms(t?.p99_ms)}</td>
            <td>{v && <Sparkline points={state.history.get(`${name}\n${v.version}`)} field="rps" now={now}
              label={`requests per second of ${name} version ${v.version}, last 10 minutes`} />}</td>
          </tr>
        );
      })}
    </tbody>
  );
}
