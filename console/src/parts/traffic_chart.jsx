// SPDX-License-Identifier: Apache-2.0
// One figure of a service's versions over the last 10 minutes, drawn by uPlot (a canvas; the
// figures are in the table beside it for screen readers).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { HISTORY_MS } from '../store.js';

// Okabe-Ito, as the health colours: one per version, told apart by people with colour blindness.
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

// series: [{label, points: [{t, [field]}]}]
export function TrafficChart({ title, series, field, now, format }) {
  const box = useRef(null);
  const plot = useRef(null);
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
  const data = [times.map((t) => t / 1000),
    ...series.map((s) => { const at = new Map(s.points.map((p) => [p.t, p[field]])); return times.map((t) => at.get(t) ?? null); })];
  const shape = series.map((s) => s.label).join('\n');
  useEffect(() => {
    const width = box.current.clientWidth || 600;
    plot.current = new uPlot({
      width, height: 180, legend: { show: true },
      scales: {
        x: { time: true, range: () => [(now - HISTORY_MS) / 1000, now / 1000] },
        // From 0, so a flat line reads as flat, with room above the highest point.
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [{}, { values: (_, ticks) => ticks.map(format), size: 70 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true }))],
    }, data, box.current);
    return () => plot.current.destroy();
  }, [shape]);
  useEffect(() => {
    plot.current.setScale('x', { min: (now - HISTORY_MS) / 1000, max: now / 1000 });
    plot.current.setData(data, false);
  });
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
    </figure>
  );
}
