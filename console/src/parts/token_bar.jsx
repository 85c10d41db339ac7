// SPDX-License-Identifier: Apache-2.0
// The token: typed in, kept in this tab only (sessionStorage), sent with every request. Without
// one the console reads what anonymous callers may and changes nothing.
import { useState } from 'preact/hooks';

export function TokenBar({ token, onToken }) {
  const [typed, setTyped] = useState('');
  if (token) {
    return (
      <div class="token">
        <span class="token-state">Token set (this tab only)</span>
        <button type="button" onClick={() => onToken('')}>Forget token</button>
      </div>
    );
  }
  const submit = (e) => {
    e.preventDefault();
    if (typed.trim()) onToken(typed.trim());
    setTyped('');
  };
  return (
    <form class="token" onSubmit={submit}>
      <span class="token-state" id="read-only">Read-only: no token</span>
      <label for="token-input" class="visually-hidden">Token</label>
      <input id="token-input" type="password" autocomplete="off" placeholder="Token" value={typed}
        onInput={(e) => setTyped(e.currentTarget.value)} />
      <button type="submit">Use token</button>
    </form>
  );
}
