// SPDX-License-Identifier: Apache-2.0
// Numbers as the console shows them.

export const percent = (share) => `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)} %`;
export const rps = (v) => (v == null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
export const ratio = (v) => (v == null ? '—' : `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)} %`);
export const ms = (v) => (v == null ? '—' : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);
// "45 s", "12 min 30 s", "2 h 5 min": how long until something, to the second.
export const howLong = (s) => {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h > 0) return `${h} h${m ? ` ${m} min` : ''}`;
  if (m > 0) return `${m} min${sec ? ` ${sec} s` : ''}`;
  return `${sec} s`;
};
export const time = (t) => new Date(t).toLocaleTimeString([], { hour12: false });
