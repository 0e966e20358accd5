// Issue 15's targets for the data-plane bench, as ratios from one run (each stack's median
// segment; see dataplane-phases.ts), each marked met or not: A against the grpc-js floor (F)
// and the Go floor (G).
import type { CostRow, HoldReport, LatencyRow, ThroughputRow } from "./dataplane-report.js";

export const TARGETS = {
  /** 2 KB closed-loop throughput, A as a share of F and of G. */
  throughputOfF: 0.9,
  throughputOfG: 0.75,
  /** Added latency over F, 2 KB, at each of TARGET_RATES. */
  addedP50OverFMs: 0.2,
  addedP99OverFMs: 1,
  /** Sidecar CPU per request over the grpc-js floor server's (2 KB closed loop). */
  cpuOverFloor: 1.3,
  /** 256 KB closed-loop throughput, A as a share of F. */
  bigThroughputOfF: 0.6,
  /** Sidecar RSS with the open SSE responses, and its peak over the whole run. */
  holdRssMb: 200,
  peakRssMb: 250,
} as const;

/** The rates (requests/s) the latency targets hold at. */
export const TARGET_RATES = [20, 100, 300];

export interface Verdict {
  name: string;
  /** What was measured, beside the target. */
  value: string;
  /** null: not measured in this run (BENCH_ONLY, BENCH_RATES). */
  met: boolean | null;
}

const mode = (stream: boolean) => (stream ? "stream" : "json");
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : "-");
const ms = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(2)} ms` : "-");
const is2k = (body: string) => body === "2 KB";

function throughputVerdicts(rows: ThroughputRow[]): Verdict[] {
  const out: Verdict[] = [];
  for (const stream of [false, true]) {
    const t = rows.find((r) => is2k(r.body) && r.stream === stream);
    const ofF = t ? t.rate.a / t.rate.f : Number.NaN;
    const ofG = t ? t.rate.a / t.rate.g : Number.NaN;
    const clean = t !== undefined && t.errors.a === 0;
    out.push(
      {
        name: `throughput 2 KB ${mode(stream)}: A ≥ ${pct(TARGETS.throughputOfF)} of F`,
        value: `A/F ${pct(ofF)}${t && !clean ? `, ${t.errors.a} errors` : ""}`,
        met: t ? clean && ofF >= TARGETS.throughputOfF : null,
      },
      {
        name: `throughput 2 KB ${mode(stream)}: A ≥ ${pct(TARGETS.throughputOfG)} of G`,
        value: `A/G ${pct(ofG)}`,
        met: t ? clean && ofG >= TARGETS.throughputOfG : null,
      },
    );
  }
  for (const stream of [false, true]) {
    const t = rows.find((r) => !is2k(r.body) && r.stream === stream);
    const ofF = t ? t.rate.a / t.rate.f : Number.NaN;
    out.push({
      name: `throughput ${t?.body ?? "256 KB"} ${mode(stream)}: A ≥ ${pct(TARGETS.bigThroughputOfF)} of F`,
      value: `A/F ${pct(ofF)}${t && t.errors.a > 0 ? `, ${t.errors.a} errors` : ""}`,
      met: t ? t.errors.a === 0 && ofF >= TARGETS.bigThroughputOfF : null,
    });
  }
  return out;
}

function latencyVerdicts(rows: LatencyRow[]): Verdict[] {
  const out: Verdict[] = [];
  for (const stream of [false, true]) {
    for (const metric of stream ? (["first byte", "end"] as const) : (["end"] as const)) {
      for (const rate of TARGET_RATES) {
        const l = rows.find(
          (r) => is2k(r.body) && r.stream === stream && r.metric === metric && r.rate === rate,
        );
        const p50 = l ? l.dist.a.p50 - l.dist.f.p50 : Number.NaN;
        const p99 = l ? l.dist.a.p99 - l.dist.f.p99 : Number.NaN;
        const label = stream ? `${mode(stream)} (${metric})` : mode(stream);
        out.push({
          name: `added latency over F, 2 KB ${label} at ${rate}/s: p50 ≤ ${TARGETS.addedP50OverFMs} ms, p99 ≤ ${TARGETS.addedP99OverFMs} ms`,
          value: `${ms(p50)} / ${ms(p99)}${l && !l.heldByA ? ", A did not hold the rate" : ""}`,
          met: l ? l.heldByA && p50 <= TARGETS.addedP50OverFMs && p99 <= TARGETS.addedP99OverFMs : null,
        });
      }
    }
  }
  return out;
}

function cpuVerdicts(rows: CostRow[]): Verdict[] {
  return [false, true].map((stream) => {
    const c = rows.find((r) => r.closedLoop && r.phase.startsWith(`2 KB ${mode(stream)}`));
    const ratio = c ? c.serverMs.a / c.serverMs.f : Number.NaN;
    return {
      name: `sidecar CPU per request ≤ ${TARGETS.cpuOverFloor}× the floor server's (F), 2 KB ${mode(stream)} closed loop`,
      value: c
        ? `${Number.isFinite(ratio) ? ratio.toFixed(2) : "-"}× (${c.serverMs.a.toFixed(3)} vs ${c.serverMs.f.toFixed(3)} ms; Go floor ${c.serverMs.g.toFixed(3)} ms)`
        : "-",
      met: c ? ratio <= TARGETS.cpuOverFloor : null,
    };
  });
}

function memoryVerdicts(hold: HoldReport | null, peakRssMb: number): Verdict[] {
  return [
    {
      name: `sidecar RSS ≤ ${TARGETS.holdRssMb} MB with the open SSE responses`,
      value: hold ? `${hold.sidecarRssMb.toFixed(1)} MB, ${hold.firstBytes}/${hold.requested} open` : "-",
      met: hold ? hold.met : null,
    },
    {
      name: `sidecar peak RSS (VmHWM) ≤ ${TARGETS.peakRssMb} MB over the run`,
      value: `${peakRssMb.toFixed(1)} MB`,
      met: peakRssMb <= TARGETS.peakRssMb,
    },
  ];
}

export function verdicts(r: {
  latency: LatencyRow[];
  throughput: ThroughputRow[];
  cost: CostRow[];
  hold: HoldReport | null;
  sidecarPeakRssMb: number;
}): Verdict[] {
  return [
    ...throughputVerdicts(r.throughput),
    ...latencyVerdicts(r.latency),
    ...cpuVerdicts(r.cost),
    ...memoryVerdicts(r.hold, r.sidecarPeakRssMb),
  ];
}
