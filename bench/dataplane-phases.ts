// The data-plane bench's phases against the four stacks (A = Envoy + switchyard, B = Envoy
// alone, F = the grpc-js floor, G = the Go floor): smoke, warm-up, latency at fixed rates,
// maximum throughput, and open streams. Each measurement interleaves the stacks over rounds
// (dataplane-config.ts, segmentOrder), accounts CPU per segment, and keeps each stack's median
// segment.
import { setTimeout as sleep } from "node:timers/promises";
import {
  bySide,
  CASES,
  type Case,
  CONCURRENCY,
  FAST,
  HOLD_RAMP_PER_S,
  HOLD_STREAMS,
  latencySegmentMs,
  SEGMENT_MS,
  SENT_MODEL,
  SIDES,
  type Side,
  SLOW,
  segmentOrder,
  WARM_MS,
} from "./dataplane-config.js";
import { cpuSeconds, RssSampler, vmMb } from "./dataplane-proc.js";
import type { Progress } from "./dataplane-progress.js";
import type { CostRow, Dist, HoldReport, LatencyRow, ThroughputRow } from "./dataplane-report.js";
import { type BenchStack, setSimTiming, simOpen } from "./dataplane-stack.js";
import { TARGETS } from "./dataplane-targets.js";
import type { LoadDriver } from "./load-driver.js";
import type { OpenResult, Target } from "./load-protocol.js";

function quantiles(xs: number[]): { p50: number; p99: number } {
  const s = Float64Array.from(xs).sort();
  const at = (q: number) =>
    s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
  return { p50: at(0.5), p99: at(0.99) };
}

export function median(xs: number[]): number {
  const s = Float64Array.from(xs.filter(Number.isFinite)).sort();
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** CPU seconds of one stack's processes: its ext_proc server (none for B) and its Envoy. */
interface StackCpu {
  server: number;
  envoy: number;
}

/** CPU ms per request of one segment. */
interface SegmentCost {
  server: number;
  envoy: number;
  /** server + Envoy + the sims and the load generator (shared by all stacks, run one at a time). */
  all: number;
}

const msPer = (cpuS: number, n: number) => (n > 0 ? (cpuS * 1000) / n : Number.NaN);
const phaseName = (c: Case) => `${c.label} ${c.stream ? "stream" : "json"}`;
const stackName = (side: Side) => side.toUpperCase();

/** Each stack's median segment, for one latency measure. */
function latencyDists(res: Record<Side, OpenResult[]>, pick: (r: OpenResult) => number[]) {
  return bySide((side): Dist => {
    const qs = res[side].map((r) => quantiles(pick(r)));
    return {
      n: res[side].reduce((n, r) => n + pick(r).length, 0),
      p50: median(qs.map((q) => q.p50)),
      p99: median(qs.map((q) => q.p99)),
    };
  });
}

/** The latency rows of one case at one rate ("first byte" for streams, then "end"). */
function latencyRows(
  c: Case,
  rate: number,
  segmentMs: number,
  res: Record<Side, OpenResult[]>,
): LatencyRow[] {
  const sum = (side: Side, k: "sent" | "errors" | "skipped") => res[side].reduce((n, r) => n + r[k], 0);
  const seconds = (side: Side) => (res[side].length * segmentMs) / 1000;
  const achieved = bySide((side) => sum(side, "sent") / seconds(side));
  const base = {
    body: c.label,
    stream: c.stream,
    rate,
    segmentMs,
    achieved,
    errors: bySide((side) => sum(side, "errors")),
    skipped: bySide((side) => sum(side, "skipped")),
    errorSamples: [...new Set(SIDES.flatMap((s) => res[s].flatMap((r) => r.errorSamples)))],
    heldByA: sum("a", "errors") + sum("a", "skipped") === 0 && achieved.a >= 0.95 * rate,
  };
  const rows: LatencyRow[] = [{ ...base, metric: "end", dist: latencyDists(res, (r) => r.endMs) }];
  if (c.stream)
    rows.unshift({ ...base, metric: "first byte", dist: latencyDists(res, (r) => r.firstByteMs) });
  return rows;
}

export class Bench {
  readonly cost: CostRow[] = [];
  /** The load generator's own send lag (p99 per open-loop segment), worst seen. */
  maxSendLagMs = 0;
  private readonly rss: RssSampler;
  constructor(
    private readonly stack: BenchStack,
    private readonly load: LoadDriver,
    private readonly loadPid: number,
    private readonly progress: Progress,
  ) {
    this.rss = new RssSampler([stack.switchyard.pid]);
  }

  stop(): void {
    this.rss.stop();
  }

  private cpu(side: Side): StackCpu {
    const s = this.stack;
    const server = { a: s.switchyard, b: undefined, f: s.floor, g: s.goFloor }[side];
    const envoy = { a: s.envoyA, b: s.envoyB, f: s.envoyF, g: s.envoyG }[side];
    return { server: server ? cpuSeconds(server.pid) : 0, envoy: cpuSeconds(envoy.pid) };
  }

  private sharedCpu(): number {
    return cpuSeconds(this.stack.sims.pid) + cpuSeconds(this.loadPid);
  }

  private target(side: Side, c: Case): Target {
    const s = this.stack;
    return {
      url: { a: s.urlA, b: s.urlB, f: s.urlF, g: s.urlG }[side],
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

  /** One segment of one stack, with its CPU per request. */
  private async measuredSegment<R>(
    side: Side,
    segment: (side: Side) => Promise<R>,
    requestsOf: (r: R) => number,
  ): Promise<{ r: R; cost: SegmentCost; requests: number }> {
    const before = this.cpu(side);
    const sharedBefore = this.sharedCpu();
    const r = await segment(side);
    await this.settle();
    const after = this.cpu(side);
    const shared = this.sharedCpu() - sharedBefore;
    const n = requestsOf(r);
    const server = after.server - before.server;
    const envoy = after.envoy - before.envoy;
    const cost = { server: msPer(server, n), envoy: msPer(envoy, n), all: msPer(server + envoy + shared, n) };
    return { r, cost, requests: n };
  }

  /** Runs `segment` for each stack in the interleaved order of measurement `i`, accounting CPU per segment. */
  private async interleaved<R>(
    phase: string,
    closedLoop: boolean,
    i: number,
    segmentMs: number,
    segment: (side: Side) => Promise<R>,
    requestsOf: (r: R) => number,
  ): Promise<Record<Side, R[]>> {
    const results = bySide((): R[] => []);
    const costs = bySide((): SegmentCost[] => []);
    const requests = bySide(() => 0);
    this.rss.reset();
    const order = segmentOrder(i);
    for (const [k, side] of order.entries()) {
      const what = `${phase}: stack ${stackName(side)}, segment ${k + 1}/${order.length}`;
      const m = await this.progress.run(what, segmentMs, () =>
        this.measuredSegment(side, segment, requestsOf),
      );
      results[side].push(m.r);
      costs[side].push(m.cost);
      requests[side] += m.requests;
    }
    const med = (k: keyof SegmentCost) => bySide((side) => median(costs[side].map((c) => c[k])));
    this.cost.push({
      phase,
      closedLoop,
      requests,
      serverMs: med("server"),
      envoyMs: med("envoy"),
      allMs: med("all"),
      sidecarPeakRssMb: this.rss.peak(this.stack.switchyard.pid),
    });
    return results;
  }

  /** Each stack once, unmeasured, at the conditions of the next measurement. */
  private async warm(what: string, run: (side: Side) => Promise<unknown>): Promise<void> {
    await this.progress.run(`${what}: warm-up`, SIDES.length * WARM_MS, async () => {
      for (const side of SIDES) await run(side);
    });
  }

  async warmUp(): Promise<void> {
    for (const c of [CASES[0], CASES[3]] as Case[]) {
      await this.warm(`first warm-up, ${phaseName(c)}`, (side) =>
        this.load.closed({ ...this.target(side, c), concurrency: 8, durationMs: WARM_MS }),
      );
    }
  }

  async latency(c: Case, i: number, rate: number): Promise<LatencyRow[]> {
    const phase = `${phaseName(c)}, ${rate}/s`;
    await this.warm(phase, (side) => this.load.open({ ...this.target(side, c), rate, durationMs: WARM_MS }));
    const segmentMs = latencySegmentMs(rate);
    const res = await this.interleaved(
      phase,
      false,
      i,
      segmentMs,
      async (side) => {
        const r = await this.load.open({ ...this.target(side, c), rate, durationMs: segmentMs });
        this.maxSendLagMs = Math.max(this.maxSendLagMs, r.sendLagP99Ms);
        return r;
      },
      (r) => r.ok,
    );
    return latencyRows(c, rate, segmentMs, res);
  }

  async throughput(c: Case, i: number): Promise<ThroughputRow> {
    const phase = `${phaseName(c)}, closed ${CONCURRENCY}`;
    await this.warm(phase, (side) =>
      this.load.closed({ ...this.target(side, c), concurrency: CONCURRENCY, durationMs: WARM_MS }),
    );
    const res = await this.interleaved(
      phase,
      true,
      i,
      SEGMENT_MS,
      (side) =>
        this.load.closed({ ...this.target(side, c), concurrency: CONCURRENCY, durationMs: SEGMENT_MS }),
      (r) => r.completedTotal,
    );
    return {
      body: c.label,
      stream: c.stream,
      concurrency: CONCURRENCY,
      rate: bySide((side) => median(res[side].map((r) => r.completed / r.windowS))),
      errors: bySide((side) => res[side].reduce((n, r) => n + r.errors, 0)),
      errorSamples: [...new Set(SIDES.flatMap((s) => res[s]).flatMap((r) => r.errorSamples))],
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
        throw new Error(`stack ${stackName(side)} fails: ${r.errorSamples.join(" | ")}`);
    }
  }
}
