// SPDX-License-Identifier: Apache-2.0
// Every service: its instances by health, its versions with the split the routes give them, and
// the last minute's rps, error ratio and p99 per version with their last 10 minutes.
//
// Only the services on screen (and a screen's worth either side) are in the page: at 1,000
// services a whole table took over a second to lay out and a quarter of one to redraw at each
// traffic event (docs/benchmarks.md#the-web-console). Every version's row has one height
// (ROW_PX, style.css), so where each service starts is known without drawing it, and the
// services off screen are one spacer row above and one below.
import { useEffect, useRef, useState } from 'preact/hooks';
import { HealthCounts } from '../parts/health.jsx';
import { Sparkline } from '../parts/sparkline.jsx';
import { ms, percent, ratio, rps } from '../parts/format.js';
import { versionShares } from '../shares.js';
import { everyonesRoute, healthCounts, instancesOf, serviceNames } from '../store.js';

const ROW_PX = 33;  // one version's row: .overview tbody tr in style.css

// The range of the table, in pixels from its top, that is on screen give or take a screen.
function useOnScreen(table) {
  const [range, setRange] = useState([0, 2 * innerHeight]);
  useEffect(() => {
    let frame = 0;
    const measure = () => {
      frame = 0;
      if (!table.current) return;
      const top = -table.current.getBoundingClientRect().top;
      setRange([top - innerHeight, top + 2 * innerHeight]);
    };
    const later = () => { if (!frame) frame = requestAnimationFrame(measure); };
    addEventListener('scroll', later, { passive: true });
    addEventListener('resize', later);
    measure();
    return () => { removeEventListener('scroll', later); removeEventListener('resize', later); cancelAnimationFrame(frame); };
  }, []);
  return range;
}

export function Overview({ state }) {
  const [filter, setFilter] = useState('');
  const table = useRef(null);
  const [from, to] = useOnScreen(table);
  const names = serviceNames(state).filter((n) => n.includes(filter.trim()));
  const now = Date.now();
  // Each service's rows: its versions', at least one.
  const rowsOf = (name) => Math.max(1, new Set([...(state.instances.get(name)?.values() ?? [])].map((i) => i.version)
    .concat((everyonesRoute(state, name)?.targets ?? []).map((t) => t.version))).size);
  let y = 0;
  let first = names.length;
  let last = names.length;
  let above = 0;
  for (let i = 0; i < names.length; i++) {
    const height = rowsOf(names[i]) * ROW_PX;
    if (first === names.length && y + height > from) { first = i; above = y; }
    if (y > to) { last = i; break; }
    y += height;
  }
  let below = 0;
  for (let i = last; i < names.length; i++) below += rowsOf(names[i]) * ROW_PX;
  return (
    <section aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">Services</h1>
        <span class="muted" data-count={names.length}>{names.length} {names.length === 1 ? 'service' : 'services'}</span>
        <label class="filter">
          <span>Filter</span>
          <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
      </div>
      {names.length === 0 ? (
        <p class="muted">{filter ? 'No service matches.' : 'No service is registered yet.'}</p>
      ) : (
        <table class="grid overview" ref={table}>
          <thead>
            <tr>
              <th scope="col">Service</th><th scope="col">Instances</th><th scope="col">Version</th>
              <th scope="col" class="num">Split</th><th scope="col" class="num">rps</th>
              <th scope="col" class="num">Errors</th><th scope="col" class="num">p99</th>
              <th scope="col">rps, 10 min</th>
            </tr>
          </thead>
          {above > 0 && <tbody aria-hidden="true"><tr class="spacer" style={{ height: `${above}px` }} /></tbody>}
          {names.slice(first, last).map((name) => <ServiceRows key={name} state={state} name={name} now={now} />)}
          {below > 0 && <tbody aria-hidden="true"><tr class="spacer" style={{ height: `${below}px` }} /></tbody>}
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
