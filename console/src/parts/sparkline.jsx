// SPDX-License-Identifier: Apache-2.0
// A 10-minute sparkline as one SVG path: the overview draws one per version, up to thousands,
// so no chart library here (the service page's charts use uPlot).
import { HISTORY_MS } from '../store.js';

export function Sparkline({ points: all, field, now, label, width = 120, height = 24 }) {
  const points = all?.filter((p) => p[field] != null);  // null: before any report
  if (!points || points.length === 0) return <span class="muted spark-empty">—</span>;
  const max = Math.max(...points.map((p) => p[field] ?? 0), 1e-9);
  const x = (t) => (width * (t - (now - HISTORY_MS))) / HISTORY_MS;
  const y = (v) => height - 1 - ((height - 2) * (v ?? 0)) / max;
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p[field]).toFixed(1)}`).join('');
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <path d={d} />
    </svg>
  );
}
