// SPDX-License-Identifier: Apache-2.0
// Requests to the directory's HTTP API (docs/api.md) with the tab's token, when one was typed.
// The console is served at /ui/ on the API's own listener, so the API is one level up: this
// also holds behind a proxy that serves the directory under a prefix.

const TOKEN_KEY = 'dstack.token';
export const apiBase = new URL('../', document.baseURI);

// The token lives in sessionStorage: this tab only, gone when the tab closes (docs/console.md).
export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}
export function saveToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// A refusal: the API's {"error", "message"} with its status, or what the network said.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function headers(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function url(path) {
  return new URL(path.replace(/^\//, ''), apiBase);
}

export async function request(method, path, body, { token = savedToken(), signal } = {}) {
  const init = { method, headers: headers(token), cache: 'no-store', signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(url(path), init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `the directory does not answer (${e.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: an answer from something other than the directory
  }
  if (!response.ok) {
    throw new ApiError(response.status, json?.error ?? `http_${response.status}`,
      json?.message ?? (text || response.statusText));
  }
  return json;
}
