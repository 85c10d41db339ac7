// SPDX-License-Identifier: Apache-2.0
// Numbers as the console shows them.

export const percent = (share) => `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)} %`;
export const rps = (v) => (v == null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
export const ratio = (v) => (v == null ? '—' : `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)} %`);
export const ms = (v) => (v == null ? '—' : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);
export const time = (t) => new Date(t).toLocaleTimeString([], { hour12: false });
