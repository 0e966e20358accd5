// Timing helpers shared by the decide benches: nanosecond samples → rate and percentiles, and
// how they are printed.
export interface Stats {
  n: number;
  rate: number;
  p50: number;
  p99: number;
  mean: number;
}

export function stats(ns: number[]): Stats {
  const sorted = Float64Array.from(ns).sort();
  const total = ns.reduce((a, b) => a + b, 0);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return {
    n: ns.length,
    rate: (ns.length * 1e9) / total,
    p50: at(0.5),
    p99: at(0.99),
    mean: total / ns.length,
  };
}

export const fmtTime = (ns: number) =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
export const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
export const verdict = (ok: boolean) => (ok ? "OK" : "MISSED");
