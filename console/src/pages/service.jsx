// SPDX-License-Identifier: Apache-2.0
// One service: its rollout if it has one, its instances, its versions and the split they get, its
// routes (everyone's and each consumer's), its traffic per version over time, the consumers that
// route it, and the controls.
import { useState } from 'preact/hooks';
import { Health, HealthCounts } from '../parts/health.jsx';
import { RolloutPanel } from '../parts/rollout_panel.jsx';
import { RouteControls } from '../parts/route_controls.jsx';
import { TrafficChart } from '../parts/traffic_chart.jsx';
import { ms, percent, ratio, rps } from '../parts/format.js';
import { versionShares } from '../shares.js';
import { everyonesRoute, healthCounts, instancesOf, routesOf } from '../store.js';

export function ServicePage({ state, name, token }) {
  const instances = instancesOf(state, name);
  const routes = routesOf(state, name);
  const versions = versionShares(instances, everyonesRoute(state, name)?.targets);
  const traffic = state.traffic.get(name);
  const consumers = state.consumers.filter((c) => (c.services ?? []).includes(name)).map((c) => c.name).sort();
  const policy = state.policies.get(name);
  const rollout = state.rollouts.get(name);
  const now = Date.now();
  const [drain, setDrain] = useState(null);  // an instance's Drain, for the controls to ask
  const series = versions.map((v) => ({ label: `version ${v.version}`, points: state.history.get(`${name}\n${v.version}`) ?? [] }));
  if (instances.length === 0 && routes.length === 0) {
    return (
      <section>
        <h1>{name}</h1>
        <p class="muted">The directory has no instance and no route of {name}. <a href="#/">All services</a></p>
      </section>
    );
  }
  return (
    <section aria-labelledby="service-title">
      <div class="page-head">
        <h1 id="service-title">{name}</h1>
        <HealthCounts counts={healthCounts(instances)} />
      </div>

      {rollout && <RolloutPanel rollout={rollout} judged={state.judged.get(name) ?? []} token={token} />}

      <h2>Versions</h2>
      <table class="grid versions">
        <thead><tr><th scope="col">Version</th><th scope="col" class="num">Instances</th><th scope="col" class="num">Route asks</th>
          <th scope="col" class="num">Split</th><th scope="col" class="num">rps</th><th scope="col" class="num">Errors</th>
          <th scope="col" class="num">p50</th><th scope="col" class="num">p99</th></tr></thead>
        <tbody>
          {versions.map((v) => {
            const t = traffic?.get(v.version);
            return (
              <tr key={v.version} data-version={v.version}>
                <th scope="row">{v.version}</th>
                <td class="num">{v.routable}/{v.instances}</td>
                <td class="num">{v.percent === null ? 'the rest' : `${v.percent} %`}</td>
                <td class="num split">{percent(v.share)}</td>
                <td class="num">{rps(t?.rps)}</td>
                <td class={`num${t?.error_ratio > 0 ? ' bad' : ''}`}>{ratio(t?.error_ratio)}</td>
                <td class="num">{ms(t?.p50_ms)}</td>
                <td class="num">{ms(t?.p99_ms)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="muted small">Figures: the last minute, from every consumer's reports. Split: everyone's route, as sherlock applies it.</p>

      <div class="charts">
        <TrafficChart title="Requests per second" series={series} field="rps" now={now} format={(v) => rps(v)} />
        <TrafficChart title="Error ratio" series={series} field="error_ratio" now={now} format={(v) => ratio(v)} />
        <TrafficChart title="p99 latency" series={series} field="p99_ms" now={now} format={(v) => ms(v)} />
      </div>

      <h2>Instances</h2>
      <table class="grid instances">
        <thead><tr><th scope="col">Id</th><th scope="col">Version</th><th scope="col" class="num">Weight</th><th scope="col">Health</th><th scope="col">URL</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          {instances.map((i) => (
            <tr key={i.id} data-instance={i.id} data-health={i.health}>
              <th scope="row">{i.id}</th><td>{i.version}</td><td class="num">{i.weight}</td>
              <td><Health health={i.health} /></td><td class="url">{i.url}</td>
              <td><button type="button" class="drain" disabled={!token} onClick={() => setDrain({ version: i.version, instance: i.id })}>Drain…</button></td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Routes</h2>
      {routes.length === 0 ? <p class="muted">No route: every routable instance shares by weight.</p> : (
        <table class="grid routes">
          <thead><tr><th scope="col">For</th><th scope="col">Targets</th><th scope="col" class="num">Revision</th></tr></thead>
          <tbody>
            {routes.map((r) => (
              <tr key={r.consumer ?? ''} data-consumer={r.consumer ?? ''}>
                <th scope="row">{r.consumer ? `consumer ${r.consumer}` : 'everyone'}</th>
                <td>{r.targets.map((t) => `${t.version}: ${t.weight} %`).join(', ')}</td>
                <td class="num">{r.revision}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Consumers</h2>
      {consumers.length === 0 ? <p class="muted">No consumer routes {name}.</p> :
        <ul class="chips">{consumers.map((c) => <li key={c}>{c}</li>)}</ul>}

      {policy && (
        <>
          <h2>Traffic policy</h2>
          <pre class="policy">{JSON.stringify(policy, null, 2)}</pre>
        </>
      )}

      <RouteControls service={name} versions={versions} instances={instances} routes={routes} consumers={consumers} token={token}
        drain={drain} onDrainAsked={() => setDrain(null)} />
    </section>
  );
}
