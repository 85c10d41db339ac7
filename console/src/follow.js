// SPDX-License-Identifier: Apache-2.0
// Follows the directory as docs/api.md#how-a-client-keeps-up says: read the snapshot, watch from
// its revision with traffic, consumer and rollout events (one stream per tab), resume from the last
// revision when the stream ends or goes quiet, and read the snapshot again on 410. The
// consumers' last report times are not in the stream: GET /v1/consumers every few seconds.

import { ApiError, headers, request, url } from './api.js';

const CHANGES = new Set(['instance_put', 'instance_delete', 'route_put', 'route_delete', 'policy_put', 'policy_delete']);
const QUIET_MS = 15000;           // three keepalive periods
const CONSUMERS_EVERY_MS = 5000;
const BACKOFF_MS = [250, 500, 1000, 2000, 5000];

// handlers: snapshot(body), event(parsed line), consumers(list), status({state, error}): state
// is connecting, live or reconnecting; error ({status, message}) the last failure, until live.
// Returns a function that stops following.
export function follow(token, handlers) {
  const stop = new AbortController();
  let since = null;  // {revision, epoch} once a snapshot was read
  let failures = 0;
  let error = null;

  const pause = (ms) => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });

  async function watchOnce() {
    if (!since) {
      const snapshot = await request('GET', '/v1/snapshot', undefined, { token, signal: stop.signal });
      since = { revision: snapshot.revision, epoch: snapshot.epoch };
      handlers.snapshot(snapshot);
    }
    const quiet = new AbortController();
    const abortQuiet = () => quiet.abort();
    stop.signal.addEventListener('abort', abortQuiet, { once: true });
    let timer = setTimeout(abortQuiet, QUIET_MS);
    try {
      const path = `/v1/watch?since=${since.revision}&epoch=${encodeURIComponent(since.epoch)}&traffic=1&consumers=1&rollouts=1`;
      const response = await fetch(url(path), { headers: headers(token), cache: 'no-store', signal: quiet.signal });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new ApiError(response.status, body.error ?? `http_${response.status}`, body.message ?? response.statusText);
      }
      error = null;
      handlers.status({ state: 'live', error });
      failures = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(timer);
        timer = setTimeout(abortQuiet, QUIET_MS);
        buffered += value;
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const event = JSON.parse(line);
          // Changes come once each, in revision order; the others (traffic, consumers,
          // keepalives) carry the current revision and are news whenever they come.
          if (event.revision > since.revision || !CHANGES.has(event.type)) handlers.event(event);
          since.revision = Math.max(since.revision, event.revision ?? 0);
        }
      }
      // A line without its newline when the stream ends is dropped (docs/api.md#when-a-stream-ends).
    } finally {
      clearTimeout(timer);
      stop.signal.removeEventListener('abort', abortQuiet);
    }
  }

  (async () => {
    while (!stop.signal.aborted) {
      try {
        await watchOnce();
      } catch (e) {
        if (stop.signal.aborted) return;
        if (e instanceof ApiError && e.status === 410) {
          since = null;  // the directory restarted or we fell behind: start from a snapshot
          continue;
        }
        if (e.name !== 'AbortError') {
          error = { status: e.status ?? 0, message: e.message };
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) since = null;
        }
      }
      if (stop.signal.aborted) return;
      handlers.status({ state: 'reconnecting', error });
      await pause(BACKOFF_MS[Math.min(failures++, BACKOFF_MS.length - 1)]);
    }
  })();

  (async () => {
    while (!stop.signal.aborted) {
      try {
        const body = await request('GET', '/v1/consumers', undefined, { token, signal: stop.signal });
        handlers.consumers(body.consumers ?? []);
      } catch {
        // shown by the stream's status; the list stays as it was
      }
      await pause(CONSUMERS_EVERY_MS);
    }
  })();

  return () => stop.abort();
}
