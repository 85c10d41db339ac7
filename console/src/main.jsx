// SPDX-License-Identifier: Apache-2.0
// The console's shell: the connection to the directory, the token, the pages (docs/console.md).
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, saveToken, savedToken } from './api.js';
import { follow } from './follow.js';
import { applyEvent, applySeries, applySnapshot, emptyState } from './store.js';
import { TokenBar } from './parts/token_bar.jsx';
import { Overview } from './pages/overview.jsx';
import { ServicePage } from './pages/service.jsx';
import { ConsumersPage } from './pages/consumers.jsx';
import { EventsPage } from './pages/events.jsx';
import './style.css';

// "#/services/emitter" -> {page: 'service', name: 'emitter'}; anything unreadable -> overview.
function parseRoute(hash) {
  let parts;
  try {
    parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  } catch {
    return { page: 'overview' };  // malformed percent-encoding typed into the address
  }
  if (parts[0] === 'services' && parts[1]) return { page: 'service', name: parts[1] };
  if (parts[0] === 'consumers') return { page: 'consumers' };
  if (parts[0] === 'events') return { page: 'events' };
  return { page: 'overview' };
}

function useRoute() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

// The state changes in place; views redraw at most once a frame, whatever the event rate.
function useRedraw(state) {
  const [, setSerial] = useState(0);
  const frame = useRef(0);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  return () => {
    if (!frame.current) frame.current = requestAnimationFrame(() => { frame.current = 0; setSerial(state.serial); });
  };
}

function useDirectory(token) {
  const state = useRef(emptyState()).current;
  const redraw = useRedraw(state);
  const [status, setStatus] = useState({ state: 'connecting' });
  useEffect(() => {
    const stop = follow(token, {
      snapshot: (s) => { applySnapshot(state, s); redraw(); },
      event: (e) => { if (applyEvent(state, e)) redraw(); },
      consumers: (list) => { state.consumers = list; state.serial++; redraw(); },
      status: setStatus,
    });
    return stop;
  }, [token]);
  return [state, status, redraw];
}

// The last 10 minutes step by step, for the sparklines and charts of the page on screen: read
// again every 10 seconds, the directory's slot (docs/console.md#live).
const SERIES_EVERY_MS = 10000;
function useSeries(state, redraw, token, route) {
  const service = route.page === 'service' ? route.name : null;
  const wanted = route.page === 'overview' || service !== null;
  useEffect(() => {
    if (!wanted) return undefined;
    const stop = new AbortController();
    const query = service ? `?service=${encodeURIComponent(service)}&step=10s` : '?step=30s';
    let timer = 0;
    const read = async () => {
      try {
        const series = await request('GET', `/v1/traffic/series${query}`, undefined, { token, signal: stop.signal });
        applySeries(state, series, Date.now(), service);
        redraw();
      } catch {
        // the stream's status says what is wrong; the charts keep what they had
      }
      if (!stop.signal.aborted) timer = setTimeout(read, SERIES_EVERY_MS);
    };
    read();
    return () => { stop.abort(); clearTimeout(timer); };
  }, [token, wanted, service]);
}

const STATUS_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

function App() {
  const [token, setToken] = useState(savedToken);
  const [state, status, redraw] = useDirectory(token);
  const route = useRoute();
  useSeries(state, redraw, token, route);
  const useToken = (t) => { saveToken(t); setToken(t); };
  const nav = [['#/', 'Overview', 'overview'], ['#/consumers', 'Consumers', 'consumers'], ['#/events', 'Events', 'events']];
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">dstack</a>
        <nav aria-label="Pages">
          {nav.map(([href, text, page]) => (
            <a href={href} aria-current={route.page === page ? 'page' : undefined}>{text}</a>
          ))}
        </nav>
        <span class={`conn conn-${status.state}${status.error ? ' conn-failing' : ''}`} role="status" data-revision={state.revision}>
          {STATUS_TEXT[status.state]}
          {status.state === 'live' && <span class="muted"> · revision {state.revision}</span>}
        </span>
        <TokenBar token={token} onToken={useToken} />
      </header>
      {status.error && (
        <p class="banner banner-error" role="alert">
          {status.error.status === 401 ? 'This directory needs a token to read: type one above. ' : ''}
          {status.error.message}
        </p>
      )}
      <main>
        {route.page === 'overview' && <Overview state={state} />}
        {route.page === 'service' && <ServicePage state={state} name={route.name} token={token} />}
        {route.page === 'consumers' && <ConsumersPage state={state} />}
        {route.page === 'events' && <EventsPage state={state} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
