// The data-plane bench's phases against the three stacks (A = Envoy + switchyard, B = Envoy
// alone, F = the floor): smoke, warm-up, latency at a fixed rate, maximum throughput, and open
// streams. Each measurement interleaves the stacks and accounts CPU per stack.
import { setTimeout as sleep } from "node:timers/promises";
import {
  bySide,
  CASES,
  type Case,
  CONCURRENCY,
  FAST,
  HOLD_RAMP_PER_S,
  HOLD_STREAMS,
  RATE,
  SEGMENT_MS,
  SENT_MODEL,
  SIDES,
  type Side,
  SLOW,
  WARM_MS,
} from "./dataplane-config.js";
import { cpuSeconds, RssSampler, vmMb } from "./dataplane-proc.js";
import {
  type CostRow,
  type Dist,
  type HoldReport,
  type LatencyRow,
  TARGETS,
  type ThroughputRow,
} from "./dataplane-report.js";
import { type BenchStack, setSimTiming, simOpen } from "./dataplane-stack.js";
import type { LoadDriver } from "./load-driver.js";
import type { OpenResult, Target } from "./load-protocol.js";

function dist(xs: number[]): Dist {
  const s = Float64Array.from(xs).sort();
  const at = (q: number) =>
    s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
  return { n: s.length, p50: at(0.5), p99: at(0.99) };
}

/** CPU seconds of every process under test, to diff around a phase. */
interface Cpu {
  sidecar: number;
  envoyA: number;
  envoyB: number;
  floor: number;
  envoyF: number;
  /** The simulated backends and the load generator, shared by A and B. */
  shared: number;
}
const ZERO: Cpu = { sidecar: 0, envoyA: 0, envoyB: 0, floor: 0, envoyF: 0, shared: 0 };

const per1k = (cpu: number, n: number) => (n > 0 ? (cpu * 1000) / n : Number.NaN);

/** One phase's cost row from the CPU each stack used and the requests it completed. */
function costRow(
  phase: string,
  closedLoop: boolean,
  used: Record<Side, Cpu>,
  requests: Record<Side, number>,
  sidecarPeakRssMb: number,
): CostRow {
  const { a, b, f: fl } = used;
  return {
    phase,
    closedLoop,
    requests: requests.a,
    sidecarCpuS: a.sidecar,
    sidecarCpuPer1k: per1k(a.sidecar, requests.a),
    envoyACpuPer1k: per1k(a.envoyA, requests.a),
    envoyBCpuPer1k: per1k(b.envoyB, requests.b),
    totalACpuPer1k: per1k(a.sidecar + a.envoyA + a.shared, requests.a),
    totalBCpuPer1k: per1k(b.envoyB + b.shared, requests.b),
    floorCpuPer1k: per1k(fl.floor, requests.f),
    envoyFCpuPer1k: per1k(fl.envoyF, requests.f),
    totalFCpuPer1k: per1k(fl.floor + fl.envoyF + fl.shared, requests.f),
    sidecarPeakRssMb,
  };
}

/** The open-loop segments of one stack, merged. */
function mergeOpen(rs: OpenResult[]) {
  return {
    first: rs.flatMap((r) => r.firstByteMs),
    end: rs.flatMap((r) => r.endMs),
    sent: rs.reduce((n, r) => n + r.sent, 0),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    skipped: rs.reduce((n, r) => n + r.skipped, 0),
    samples: rs.flatMap((r) => r.errorSamples),
  };
}

/** The latency rows of one case ("first byte" for streams, then "end"), A and F against B. */
function latencyRows(c: Case, res: Record<Side, OpenResult[]>): LatencyRow[] {
  const m = bySide((side) => mergeOpen(res[side]));
  const seconds = (2 * SEGMENT_MS) / 1000;
  const row = (metric: "end" | "first byte", da: Dist, db: Dist, df: Dist): LatencyRow => {
    const addedP50 = da.p50 - db.p50;
    const addedP99 = da.p99 - db.p99;
    const has = c.bodyBytes <= 2048;
    return {
      body: c.label,
      stream: c.stream,
      metric,
      a: da,
      b: db,
      addedP50,
      addedP99,
      f: df,
      floorAddedP50: df.p50 - db.p50,
      floorAddedP99: df.p99 - db.p99,
      achieved: bySide((s) => m[s].sent / seconds),
      errors: bySide((s) => m[s].errors),
      skipped: bySide((s) => m[s].skipped),
      errorSamples: [...new Set(SIDES.flatMap((s) => m[s].samples))],
      met: has
        ? addedP50 <= TARGETS.addedP50Ms && addedP99 <= TARGETS.addedP99Ms && m.a.errors + m.a.skipped === 0
        : null,
    };
  };
  const rows = [row("end", dist(m.a.end), dist(m.b.end), dist(m.f.end))];
  if (c.stream) rows.unshift(row("first byte", dist(m.a.first), dist(m.b.first), dist(m.f.first)));
  return rows;
}

const phaseName = (c: Case) => `${c.label} ${c.stream ? "stream" : "json"}`;

export class Bench {
  readonly cost: CostRow[] = [];
  /** The load generator's own send lag (p99 per open-loop segment), worst seen. */
  maxSendLagMs = 0;
  private readonly rss: RssSampler;
  constructor(
    private readonly stack: BenchStack,
    private readonly load: LoadDriver,
    private readonly loadPid: number,
  ) {
    this.rss = new RssSampler([stack.switchyard.pid]);
  }

  stop(): void {
    this.rss.stop();
  }

  private cpu(): Cpu {
    const s = this.stack;
    return {
      sidecar: cpuSeconds(s.switchyard.pid),
      envoyA: cpuSeconds(s.envoyA.pid),
      envoyB: cpuSeconds(s.envoyB.pid),
      floor: cpuSeconds(s.floor.pid),
      envoyF: cpuSeconds(s.envoyF.pid),
      shared: cpuSeconds(s.sims.pid) + cpuSeconds(this.loadPid),
    };
  }

  private target(side: Side, c: Case): Target {
    return {
      url: { a: this.stack.urlA, b: this.stack.urlB, f: this.stack.urlF }[side],
      bodyBytes: c.bodyBytes,
      stream: c.stream,
      model: SENT_MODEL,
    };
  }

  /** switchyard's open ext_proc streams (/debug/streams), or null when it cannot say. */
  private async openStreams(): Promise<HoldReport["extProcStreamsOpen"]> {
    try {
      return (await (
        await fetch(`${this.stack.sidecarUrl}/debug/streams`)
      ).json()) as HoldReport["extProcStreamsOpen"];
    } catch {
      return null;
    }
  }

  /**
   * Waits (at most 5 s) until switchyard holds no ext_proc stream: after an overload it may
   * still work through messages Envoy already gave up on, and that belongs to the phase before.
   */
  private async settle(): Promise<void> {
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      const open = await this.openStreams();
      if (open === null || Object.values(open).every((n) => n === 0)) break; // null: nothing to wait for
      await sleep(50);
    }
    await sleep(200);
  }

  /** Runs `segment` for each side in the given interleaved order (each side twice), accounting CPU per side. */
  private async interleaved<R>(
    phase: string,
    closedLoop: boolean,
    order: Side[],
    segment: (side: Side) => Promise<R>,
    requestsOf: (r: R) => number,
  ): Promise<Record<Side, R[]>> {
    const results = bySide((): R[] => []);
    const used = bySide(() => ({ ...ZERO }));
    const requests = bySide(() => 0);
    this.rss.reset();
    for (const side of order) {
      const before = this.cpu();
      const r = await segment(side);
      await this.settle();
      const after = this.cpu();
      for (const k of Object.keys(ZERO) as (keyof Cpu)[]) used[side][k] += after[k] - before[k];
      requests[side] += requestsOf(r);
      results[side].push(r);
    }
    const peakRss = this.rss.peak(this.stack.switchyard.pid);
    this.cost.push(costRow(phase, closedLoop, used, requests, peakRss));
    return results;
  }

  async warmUp(): Promise<void> {
    for (const c of [CASES[0], CASES[3]] as Case[]) {
      for (const side of SIDES) {
        await this.load.closed({ ...this.target(side, c), concurrency: 8, durationMs: 1_500 });
      }
    }
  }

  async latency(c: Case, i: number): Promise<LatencyRow[]> {
    for (const side of SIDES)
      await this.load.open({ ...this.target(side, c), rate: RATE, durationMs: WARM_MS });
    const order: Side[] = i % 2 === 0 ? ["b", "a", "f", "f", "a", "b"] : ["a", "f", "b", "b", "f", "a"];
    const res = await this.interleaved(
      `${phaseName(c)}, ${RATE}/s`,
      false,
      order,
      async (side) => {
        const r = await this.load.open({ ...this.target(side, c), rate: RATE, durationMs: SEGMENT_MS });
        this.maxSendLagMs = Math.max(this.maxSendLagMs, r.sendLagP99Ms);
        return r;
      },
      (r) => r.ok,
    );
    return latencyRows(c, res);
  }

  async throughput(c: Case, i: number): Promise<ThroughputRow> {
    for (const side of SIDES) {
      await this.load.closed({ ...this.target(side, c), concurrency: CONCURRENCY, durationMs: WARM_MS });
    }
    const order: Side[] = i % 2 === 0 ? ["a", "b", "f", "f", "b", "a"] : ["b", "f", "a", "a", "f", "b"];
    const res = await this.interleaved(
      `${phaseName(c)}, closed ${CONCURRENCY}`,
      true,
      order,
      (side) =>
        this.load.closed({ ...this.target(side, c), concurrency: CONCURRENCY, durationMs: SEGMENT_MS }),
      (r) => r.completedTotal,
    );
    const rate = (side: Side) =>
      res[side].reduce((n, r) => n + r.completed, 0) / res[side].reduce((s, r) => s + r.windowS, 0);
    const errs = (side: Side) => res[side].reduce((n, r) => n + r.errors, 0);
    const a = rate("a");
    const b = rate("b");
    const fl = rate("f");
    return {
      body: c.label,
      stream: c.stream,
      concurrency: CONCURRENCY,
      a,
      b,
      ratio: a / b,
      f: fl,
      floorRatio: fl / b,
      errors: bySide(errs),
      errorSamples: [...new Set(SIDES.flatMap((s) => res[s]).flatMap((r) => r.errorSamples))],
      met: a / b >= TARGETS.throughputRatio && errs("a") === 0,
    };
  }

  /** Aborts the held streams; the sims' open responses right after and once they have closed (at most 10 s). */
  private async releaseHeld(): Promise<{ open: number; after: number }> {
    const backends = this.stack.backends;
    const open = await simOpen(backends);
    await this.load.release();
    let after = open;
    const until = Date.now() + 10_000;
    while (after > 0 && Date.now() < until) {
      await sleep(200);
      after = await simOpen(backends);
    }
    return { open, after };
  }

  async hold(): Promise<HoldReport> {
    const s = this.stack;
    await setSimTiming(s.backends, SLOW);
    const sidecarRssBeforeMb = vmMb(s.switchyard.pid, "VmRSS");
    const held = await this.load.hold({
      url: s.urlA,
      bodyBytes: 2048,
      stream: true,
      model: SENT_MODEL,
      count: HOLD_STREAMS,
      perSec: HOLD_RAMP_PER_S,
      timeoutMs: 40_000,
    });
    // Let the last upstream ext_proc streams finish closing before counting them.
    await sleep(500);
    const sidecarRssMb = vmMb(s.switchyard.pid, "VmRSS");
    const envoyARssMb = vmMb(s.envoyA.pid, "VmRSS");
    const extProcStreamsOpen = await this.openStreams();
    const { open, after } = await this.releaseHeld();
    await setSimTiming(s.backends, FAST);
    return {
      requested: HOLD_STREAMS,
      opened: held.opened,
      firstBytes: held.firstBytes,
      errors: held.errors,
      allFirstBytesMs: held.allFirstBytesMs,
      sidecarRssBeforeMb,
      sidecarRssMb,
      envoyARssMb,
      extProcStreamsOpen,
      simOpen: open,
      simOpenAfterAbort: after,
      errorSamples: held.errorSamples,
      // The RSS is only meaningful with (nearly) all streams open.
      met: sidecarRssMb <= TARGETS.holdRssMb && held.firstBytes >= 0.99 * HOLD_STREAMS,
    };
  }

  /** One request through each stack, to fail early and loudly on a broken setup. */
  async smoke(): Promise<void> {
    for (const side of SIDES) {
      const r = await this.load.open({ ...this.target(side, CASES[0] as Case), rate: 10, durationMs: 300 });
      if (r.ok !== r.sent || r.sent === 0)
        throw new Error(`stack ${side.toUpperCase()} fails: ${r.errorSamples.join(" | ")}`);
    }
  }
}
