// Data-plane benchmark (a report, not a test): client → Envoy + switchyard (A) against
// client → Envoy alone (B) and two floors, Envoy with switchyard's config and a do-nothing
// ext_proc server in grpc-js (F) or in Go (G), same simulated backends, same run, interleaved.
// Measures latency at fixed rates (20, 100, 300/s, and 500/s where A holds it), the maximum
// throughput of each, CPU per request of each ext_proc server and each Envoy, switchyard's RSS
// with 2,000 SSE responses open, and ends with issue 15's targets. Run: npm run bench
// (needs the Go toolchain: the bench builds bench/go-floor itself).
//
// Processes: the simulated backends (one process), switchyard, the two floor servers, four
// Envoys and the load generator (bench/load.ts, forked) each run apart; the machine's cores
// are shared by all.
// Env knobs: BENCH_CPU_PROF=1 writes a switchyard CPU profile to .run/prof/ and one of the
// grpc-js floor server to .run/prof/floor/;
// BENCH_SEGMENT_MS, BENCH_ROUNDS, BENCH_RATES (comma list), BENCH_EXTRA_RATE (0: none),
// BENCH_CONCURRENCY, BENCH_HOLD_STREAMS override the defaults;
// BENCH_ONLY (comma list of 2k-json, 2k-stream, 256k-json, 256k-stream, hold) runs a subset;
// BENCH_CLIENT_MODEL=served makes the client send the pool's served name, so switchyard's body
// rewrite has nothing to change (by default the client sends another name and every request is
// rewritten).
//
// The pieces: dataplane-config.ts (cases, rates, knobs), dataplane-stack.ts (the processes),
// dataplane-phases.ts (the measurements), dataplane-report.ts (tables), dataplane-targets.ts
// (the verdicts), dataplane-progress.ts (the live progress line).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Proc, ROOT, startProc } from "../devkit/processes.js";
import {
  type Case,
  CONCURRENCY,
  EXTRA_RATE,
  FAST,
  HOLD_MARGIN,
  HOLD_RAMP_PER_S,
  HOLD_STREAMS,
  latencySegmentMs,
  RATES,
  ROUNDS,
  RUN_CASES,
  SEGMENT_MS,
  SENT_MODEL,
  SIDES,
  SLOW,
  selected,
  WARM_MS,
} from "./dataplane-config.js";
import { Bench } from "./dataplane-phases.js";
import { environment, vmMb } from "./dataplane-proc.js";
import { Progress } from "./dataplane-progress.js";
import {
  formatReport,
  type HoldReport,
  type LatencyRow,
  type Report,
  type ThroughputRow,
} from "./dataplane-report.js";
import {
  BENCH_PROC,
  type BenchStack,
  envoyCounters,
  logOf,
  MODEL,
  startBenchStack,
} from "./dataplane-stack.js";
import { TARGETS, verdicts } from "./dataplane-targets.js";
import { LoadDriver } from "./load-driver.js";

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
const PROF_DIR = join(ROOT, ".run", "prof");

/** What the phases measured. */
interface Measured {
  latency: LatencyRow[];
  throughput: ThroughputRow[];
  hold: HoldReport | null;
  channel: Record<string, number>;
  bDownstream5xx: number;
}

const mode = (stream: boolean) => (stream ? "stream" : "json");
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** Planned measuring time of one measurement (warm-up and segments) at a segment length. */
const measurementMs = (segmentMs: number) => SIDES.length * (WARM_MS + ROUNDS * segmentMs);
/** The rates of one case's latency phases, EXTRA_RATE last. */
const caseRates = () => (EXTRA_RATE > 0 && !RATES.includes(EXTRA_RATE) ? [...RATES, EXTRA_RATE] : RATES);

/** Planned measuring time of the whole run, for the progress line (the hold phase is not counted). */
function plannedMs(): number {
  const perCase =
    measurementMs(SEGMENT_MS) +
    caseRates().reduce((ms, rate) => ms + measurementMs(latencySegmentMs(rate)), 0);
  return 2 * SIDES.length * WARM_MS + RUN_CASES.length * perCase;
}

/** One case: its maximum throughput first, then latency at each rate (EXTRA_RATE only where A holds it). */
async function measureCase(bench: Bench, progress: Progress, c: Case, i: number, out: Measured) {
  const name = `${c.label} ${mode(c.stream)}`;
  progress.say(`${name}: throughput, ${CONCURRENCY} connections`);
  const t = await bench.throughput(c, i);
  out.throughput.push(t);
  for (const rate of caseRates()) {
    if (!RATES.includes(rate) && t.rate.a < HOLD_MARGIN * rate) {
      progress.skip(measurementMs(latencySegmentMs(rate)));
      progress.say(`${name}: ${rate}/s left out, A's maximum was ${Math.round(t.rate.a)} req/s`);
      continue;
    }
    progress.say(`${name}: latency at ${rate}/s`);
    out.latency.push(...(await bench.latency(c, i, rate)));
  }
}

async function measure(bench: Bench, stack: BenchStack, progress: Progress): Promise<Measured> {
  const out: Measured = { latency: [], throughput: [], hold: null, channel: {}, bDownstream5xx: 0 };
  await bench.smoke();
  progress.say("warming up");
  await bench.warmUp();
  for (const [i, c] of RUN_CASES.entries()) await measureCase(bench, progress, c, i, out);
  if (selected("hold")) {
    progress.say(`${HOLD_STREAMS} open streams`);
    out.hold = await bench.hold();
  }
  progress.stop();
  out.channel = await envoyCounters(stack.adminA, CHANNEL_COUNTERS);
  const bCounters = await envoyCounters(stack.adminB, ["http.llm.downstream_rq_5xx"]);
  out.bDownstream5xx = bCounters["http.llm.downstream_rq_5xx"] ?? 0;
  return out;
}

/** How the run was set up, as the report's header says it. */
function setup(cpuProfile: boolean): Report["setup"] {
  return {
    sims: `1 process, 2 backends, ttft ${FAST.ttftMs} ms, ${FAST.tokens} tokens at once, maxRecorded 100`,
    holdSims: `ttft ${SLOW.ttftMs} ms, ${SLOW.tokensPerSec} token/s, ${SLOW.tokens} tokens, opened at ${HOLD_RAMP_PER_S}/s`,
    loadgen: "1 forked node process, node:http keep-alive Agent",
    clientModel:
      SENT_MODEL === MODEL
        ? `the client sends the served name "${MODEL}": switchyard's body rewrite has nothing to change`
        : `the client sends "${SENT_MODEL}": switchyard rewrites every body to the served name "${MODEL}"`,
    design:
      `each measurement = ${ROUNDS} rounds of one segment per stack (${SEGMENT_MS / 1000} s; at a fixed rate at least ` +
      `long enough for 200 requests), stacks interleaved, order alternating, after a ${WARM_MS / 1000} s warm-up each`,
    rates: caseRates().join(", "),
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    segmentMs: SEGMENT_MS,
    holdStreams: HOLD_STREAMS,
    switchyardCpuProfile: cpuProfile,
  };
}

async function writeReport(report: Report): Promise<void> {
  console.log(formatReport(report));
  const jsonFile = join(ROOT, ".run", "bench-dataplane.json");
  await mkdir(join(ROOT, ".run"), { recursive: true });
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report written to ${jsonFile}`);
}

function startLoadGenerator(): Proc {
  const script = join(ROOT, "dist", "bench", "load.js");
  return startProc("load generator", process.execPath, [script], { ...BENCH_PROC, ipc: true });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const environmentInfo = environment();
  const cpuProfile = process.env.BENCH_CPU_PROF !== undefined && process.env.BENCH_CPU_PROF !== "";
  if (cpuProfile) await mkdir(PROF_DIR, { recursive: true });
  say("building the Go floor, starting sims, switchyard, the floors and four Envoys …");
  const stack = await startBenchStack({
    timing: FAST,
    switchyardNodeArgs: cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`] : undefined,
    floorNodeArgs: cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${join(PROF_DIR, "floor")}`] : undefined,
  });
  const sidecarStartRssMb = vmMb(stack.switchyard.pid, "VmRSS");
  const loadProc = startLoadGenerator();
  const load = new LoadDriver(loadProc.child);
  const progress = new Progress(plannedMs());
  const bench = new Bench(stack, load, loadProc.pid, progress);
  const stopAll = async () => {
    progress.stop();
    bench.stop();
    load.exit();
    await loadProc.stop();
    await stack.stop();
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  let measured: Measured;
  try {
    measured = await measure(bench, stack, progress);
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n${stack.logs()}\n${logOf(loadProc)}\n`);
    await stopAll();
    return 1;
  }
  const sidecarPeakRssMb = vmMb(stack.switchyard.pid, "VmHWM");
  await stopAll();
  const { latency, throughput, hold, channel, bDownstream5xx } = measured;
  const partial = {
    startedAt,
    durationS: (Date.now() - t0) / 1000,
    environment: environmentInfo,
    setup: setup(cpuProfile),
    targets: TARGETS,
    latency,
    throughput,
    cost: bench.cost,
    sidecarStartRssMb,
    sidecarPeakRssMb,
    loadgenMaxSendLagMs: bench.maxSendLagMs,
    hold,
    channel: { envoyA: channel, envoyBDownstream5xx: bDownstream5xx },
    notes: cpuProfile
      ? [`switchyard CPU profile written to ${PROF_DIR}, the grpc-js floor's to ${join(PROF_DIR, "floor")}`]
      : [],
  };
  await writeReport({ ...partial, verdicts: verdicts(partial) });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
