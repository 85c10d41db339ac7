// SPDX-License-Identifier: Apache-2.0
// Health shown by shape and word as well as colour (docs/console.md#looks): the four colours
// are from the Okabe-Ito palette, which people with any common colour blindness tell apart.

const SHAPES = { passing: '●', warning: '▲', critical: '✖', maintenance: '◆' };

export function Health({ health }) {
  return (
    <span class={`health health-${health}`}>
      <span aria-hidden="true">{SHAPES[health] ?? '?'}</span> {health}
    </span>
  );
}

// "3 passing · 1 critical": only the states some instance is in.
export function HealthCounts({ counts }) {
  const shown = Object.entries(counts).filter(([, n]) => n > 0);
  if (shown.length === 0) return <span class="muted">no instances</span>;
  return (
    <span class="health-counts">
      {shown.map(([health, n]) => (
        <span key={health} class={`health health-${health}`} title={`${n} ${health}`}>
          <span aria-hidden="true">{SHAPES[health] ?? '?'}</span> {n} {health}
        </span>
      ))}
    </span>
  );
}
