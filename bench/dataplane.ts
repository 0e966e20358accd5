// Data-plane benchmark (a report, not a test): client → Envoy + switchyard (A) against
// client → Envoy alone (B), same simulated backends, same run. Measures the latency switchyard
// adds at a fixed rate, the maximum throughput of both, the sidecar's CPU per request and RSS,
// and its RSS with 2,000 SSE responses open. Run: npm run bench
//
// Processes: the simulated backends (one process), switchyard, two Envoys and the load
// generator (bench/load.ts, forked) each run apart; the machine's cores are shared by all.
// Env knobs: BENCH_CPU_PROF=1 writes a switchyard CPU profile to .run/prof/;
// BENCH_SEGMENT_MS, BENCH_RATE, BENCH_CONCURRENCY, BENCH_HOLD_STREAMS override the defaults;
// BENCH_ONLY (comma list of 2k-json, 2k-stream, 256k-json, 256k-stream, hold) runs a subset;
// BENCH_CLIENT_MODEL=served makes the client send the pool's served name, so switchyard's body
// rewrite has nothing to change (by default the client sends another name and every request is
// rewritten).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "../devkit/processes.js";
import { cpuSeconds, environment, RssSampler, vmMb } from "./dataplane-proc.js";
import {
  type CostRow,
  type Dist,
  formatReport,
  type HoldReport,
  type LatencyRow,
  type Report,
  TARGETS,
  type ThroughputRow,
  verdicts,
} from "./dataplane-report.js";
import {
  type BenchStack,
  Child,
  CLIENT_MODEL,
  envoyCounters,
  MODEL,
  setSimTiming,
  simOpen,
  spawnWithFiles,
  startBenchStack,
} from "./dataplane-stack.js";
import { LoadDriver } from "./load-driver.js";
import type { Target } from "./load-protocol.js";

const envNum = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const RATE = envNum("BENCH_RATE", 500);
/** One measured segment; each stack gets two per measurement (A B B A or B A A B). */
const SEGMENT_MS = envNum("BENCH_SEGMENT_MS", 3_000);
const WARM_MS = 1_000;
const CONCURRENCY = envNum("BENCH_CONCURRENCY", 32);
const HOLD_STREAMS = envNum("BENCH_HOLD_STREAMS", 2_000);
/** New streams per second while opening them: each one costs two ext_proc exchanges. */
const HOLD_RAMP_PER_S = 200;
const FAST = { ttftMs: 2, tokensPerSec: 0, tokens: 8 };
const SLOW = { ttftMs: 10, tokensPerSec: 1, tokens: 60 };
const CASES = [
  { label: "2 KB", bodyBytes: 2 * 1024, stream: false },
  { label: "2 KB", bodyBytes: 2 * 1024, stream: true },
  { label: "256 KB", bodyBytes: 256 * 1024, stream: false },
  { label: "256 KB", bodyBytes: 256 * 1024, stream: true },
];
type Case = (typeof CASES)[number];
const caseKey = (c: Case) => `${c.bodyBytes / 1024}k-${c.stream ? "stream" : "json"}`;
const SENT_MODEL = process.env.BENCH_CLIENT_MODEL === "served" ? MODEL : CLIENT_MODEL;
const ONLY = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
const selected = (key: string) => ONLY === undefined || ONLY.includes(key);
const RUN_CASES = CASES.filter((c) => selected(caseKey(c)));
type Side = "a" | "b" | "f";
const SIDES: Side[] = ["a", "b", "f"];
/** One value per stack. */
const bySide = <T>(f: (side: Side) => T): Record<Side, T> => ({ a: f("a"), b: f("b"), f: f("f") });

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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Bench {
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

  /**
   * Waits (at most 5 s) until switchyard holds no ext_proc stream: after an overload it may
   * still work through messages Envoy already gave up on, and that belongs to the phase before.
   */
  private async settle(): Promise<void> {
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      try {
        const open = (await (await fetch(`${this.stack.sidecarUrl}/debug/streams`)).json()) as Record<
          string,
          number
        >;
        if (Object.values(open).every((n) => n === 0)) break;
      } catch {
        break; // no such endpoint: nothing to wait for
      }
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
    const per1k = (cpu: number, n: number) => (n > 0 ? (cpu * 1000) / n : Number.NaN);
    const a = used.a;
    const b = used.b;
    const fl = used.f;
    this.cost.push({
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
      sidecarPeakRssMb: this.rss.peak(this.stack.switchyard.pid),
    });
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
      `${c.label} ${c.stream ? "stream" : "json"}, ${RATE}/s`,
      false,
      order,
      async (side) => {
        const r = await this.load.open({ ...this.target(side, c), rate: RATE, durationMs: SEGMENT_MS });
        this.maxSendLagMs = Math.max(this.maxSendLagMs, r.sendLagP99Ms);
        return r;
      },
      (r) => r.ok,
    );
    const merged = (side: Side) => {
      const rs = res[side];
      return {
        first: rs.flatMap((r) => r.firstByteMs),
        end: rs.flatMap((r) => r.endMs),
        sent: rs.reduce((n, r) => n + r.sent, 0),
        errors: rs.reduce((n, r) => n + r.errors, 0),
        skipped: rs.reduce((n, r) => n + r.skipped, 0),
        samples: rs.flatMap((r) => r.errorSamples),
      };
    };
    const m = bySide(merged);
    const { a, b, f: fl } = m;
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
          ? addedP50 <= TARGETS.addedP50Ms && addedP99 <= TARGETS.addedP99Ms && a.errors + a.skipped === 0
          : null,
      };
    };
    const rows = [row("end", dist(a.end), dist(b.end), dist(fl.end))];
    if (c.stream) rows.unshift(row("first byte", dist(a.first), dist(b.first), dist(fl.first)));
    return rows;
  }

  async throughput(c: Case, i: number): Promise<ThroughputRow> {
    for (const side of SIDES) {
      await this.load.closed({ ...this.target(side, c), concurrency: CONCURRENCY, durationMs: WARM_MS });
    }
    const order: Side[] = i % 2 === 0 ? ["a", "b", "f", "f", "b", "a"] : ["b", "f", "a", "a", "f", "b"];
    const res = await this.interleaved(
      `${c.label} ${c.stream ? "stream" : "json"}, closed ${CONCURRENCY}`,
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
    let extProcStreamsOpen: HoldReport["extProcStreamsOpen"] = null;
    try {
      extProcStreamsOpen = (await (
        await fetch(`${s.sidecarUrl}/debug/streams`)
      ).json()) as HoldReport["extProcStreamsOpen"];
    } catch {
      // left null: the report says unavailable
    }
    const open = await simOpen(s.backends);
    await this.load.release();
    let after = open;
    const until = Date.now() + 10_000;
    while (after > 0 && Date.now() < until) {
      await sleep(200);
      after = await simOpen(s.backends);
    }
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

/** Envoy A's view of the ext_proc channel over the whole run (gRPC connections, resets, timeouts). */
const CHANNEL_COUNTERS = [
  "cluster.switchyard_grpc.upstream_cx_total",
  "cluster.switchyard_grpc.upstream_cx_protocol_error",
  "cluster.switchyard_grpc.upstream_rq_total",
  "cluster.switchyard_grpc.http2.tx_reset",
  "cluster.switchyard_grpc.upstream_rq_5xx",
  "http.llm.ext_proc.message_timeouts",
  "http.llm.downstream_rq_total",
  "http.llm.downstream_rq_5xx",
];

async function main(): Promise<number> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const environmentInfo = environment();
  const profDir = join(ROOT, ".run", "prof");
  const switchyardNodeArgs = process.env.BENCH_CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`]
    : undefined;
  if (switchyardNodeArgs) await mkdir(profDir, { recursive: true });
  process.stderr.write("bench: starting sims, switchyard, Envoy A and Envoy B …\n");
  const stack = await startBenchStack({ timing: FAST, switchyardNodeArgs });
  const sidecarStartRssMb = vmMb(stack.switchyard.pid, "VmRSS");
  const loadChild = new Child(
    "load generator",
    spawnWithFiles(process.execPath, [join(ROOT, "dist", "bench", "load.js")], 16_384, {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    }),
  );
  const load = new LoadDriver(loadChild.child);
  const bench = new Bench(stack, load, loadChild.pid);
  const stopAll = async () => {
    bench.stop();
    load.exit();
    await loadChild.stop();
    await stack.stop();
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  const latency: LatencyRow[] = [];
  const throughput: ThroughputRow[] = [];
  let hold: HoldReport | null = null;
  let channel: Record<string, number> = {};
  let bDownstream5xx = 0;
  try {
    await bench.smoke();
    process.stderr.write("bench: warming up\n");
    await bench.warmUp();
    for (const [i, c] of RUN_CASES.entries()) {
      process.stderr.write(`bench: latency ${c.label} ${c.stream ? "stream" : "json"} at ${RATE}/s\n`);
      latency.push(...(await bench.latency(c, i)));
    }
    for (const [i, c] of RUN_CASES.entries()) {
      process.stderr.write(
        `bench: throughput ${c.label} ${c.stream ? "stream" : "json"}, ${CONCURRENCY} connections\n`,
      );
      throughput.push(await bench.throughput(c, i));
    }
    if (selected("hold")) {
      process.stderr.write(`bench: ${HOLD_STREAMS} open streams\n`);
      hold = await bench.hold();
    }
    channel = await envoyCounters(stack.adminA, CHANNEL_COUNTERS);
    bDownstream5xx =
      (await envoyCounters(stack.adminB, ["http.llm.downstream_rq_5xx"]))["http.llm.downstream_rq_5xx"] ?? 0;
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n${stack.logs()}\n${loadChild.log()}\n`);
    await stopAll();
    return 1;
  }
  const sidecarPeakRssMb = vmMb(stack.switchyard.pid, "VmHWM");
  await stopAll();
  const notes: string[] = [];
  if (switchyardNodeArgs) notes.push(`switchyard CPU profile written to ${profDir}`);
  const partial = {
    startedAt,
    durationS: (Date.now() - t0) / 1000,
    environment: environmentInfo,
    setup: {
      sims: `1 process, 2 backends, ttft ${FAST.ttftMs} ms, ${FAST.tokens} tokens at once, maxRecorded 100`,
      holdSims: `ttft ${SLOW.ttftMs} ms, ${SLOW.tokensPerSec} token/s, ${SLOW.tokens} tokens, opened at ${HOLD_RAMP_PER_S}/s`,
      loadgen: "1 forked node process, node:http keep-alive Agent",
      clientModel:
        SENT_MODEL === MODEL
          ? `the client sends the served name "${MODEL}": switchyard's body rewrite has nothing to change`
          : `the client sends "${SENT_MODEL}": switchyard rewrites every body to the served name "${MODEL}"`,
      design: `each measurement = 2 × ${SEGMENT_MS / 1000} s per stack, A/B interleaved, after a ${WARM_MS / 1000} s warm-up`,
      rate: RATE,
      concurrency: CONCURRENCY,
      segmentMs: SEGMENT_MS,
      holdStreams: HOLD_STREAMS,
      switchyardCpuProfile: switchyardNodeArgs !== undefined,
    },
    targets: TARGETS,
    latency,
    throughput,
    cost: bench.cost,
    sidecarStartRssMb,
    sidecarPeakRssMb,
    loadgenMaxSendLagMs: bench.maxSendLagMs,
    hold,
    channel: { envoyA: channel, envoyBDownstream5xx: bDownstream5xx },
    notes,
  };
  const report: Report = { ...partial, verdicts: verdicts(partial) };
  console.log(formatReport(report));
  const jsonFile = join(ROOT, ".run", "bench-dataplane.json");
  await mkdir(join(ROOT, ".run"), { recursive: true });
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report written to ${jsonFile}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
