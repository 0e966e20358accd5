// What the data-plane bench measures and how long: the cases, the rates, the sim timings and
// the environment knobs (see bench/dataplane.ts), shared by the phases and the report.
import { CLIENT_MODEL, MODEL } from "./dataplane-stack.js";

const envNum = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const envNums = (k: string, d: number[]) =>
  process.env[k] ? process.env[k].split(",").map((v) => Number(v.trim())) : d;
/** The fixed rates (requests/s) of the latency phases; the latency targets hold at these. */
export const RATES = envNums("BENCH_RATES", [20, 100, 300]);
/**
 * One more rate, measured in a case only where A holds it: A's maximum throughput in that case
 * (measured first) is at least HOLD_MARGIN times the rate. 0 leaves it out.
 */
export const EXTRA_RATE = envNum("BENCH_EXTRA_RATE", 500);
export const HOLD_MARGIN = 1.25;
/** One measured segment; each stack gets one per round, rounds alternate the order (B A F G, G F A B). */
export const SEGMENT_MS = envNum("BENCH_SEGMENT_MS", 3_000);
/** Rounds per measurement; the report takes the median of each stack's segments. */
export const ROUNDS = envNum("BENCH_ROUNDS", 3);
/** A latency segment lasts long enough for this many requests (20/s: 10 s), so its p99 means something. */
export const MIN_LATENCY_SAMPLES = 200;
export const latencySegmentMs = (rate: number) => Math.max(SEGMENT_MS, (1000 * MIN_LATENCY_SAMPLES) / rate);
export const WARM_MS = 1_000;
export const CONCURRENCY = envNum("BENCH_CONCURRENCY", 32);
export const HOLD_STREAMS = envNum("BENCH_HOLD_STREAMS", 2_000);
/** New streams per second while opening them: each one costs two ext_proc exchanges. */
export const HOLD_RAMP_PER_S = 200;
export const FAST = { ttftMs: 2, tokensPerSec: 0, tokens: 8 };
export const SLOW = { ttftMs: 10, tokensPerSec: 1, tokens: 60 };
export const CASES = [
  { label: "2 KB", bodyBytes: 2 * 1024, stream: false },
  { label: "2 KB", bodyBytes: 2 * 1024, stream: true },
  { label: "256 KB", bodyBytes: 256 * 1024, stream: false },
  { label: "256 KB", bodyBytes: 256 * 1024, stream: true },
];
export type Case = (typeof CASES)[number];
const caseKey = (c: Case) => `${c.bodyBytes / 1024}k-${c.stream ? "stream" : "json"}`;
export const SENT_MODEL = process.env.BENCH_CLIENT_MODEL === "served" ? MODEL : CLIENT_MODEL;
const ONLY = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
/** Whether BENCH_ONLY (unset: everything) selects a phase: a case key or "hold". */
export const selected = (key: string) => ONLY === undefined || ONLY.includes(key);
export const RUN_CASES = CASES.filter((c) => selected(caseKey(c)));

/** A = Envoy + switchyard, B = Envoy alone, F = Envoy + the grpc-js floor, G = Envoy + the Go floor. */
export type Side = "a" | "b" | "f" | "g";
export const SIDES: Side[] = ["a", "b", "f", "g"];
/** One value per stack. */
export const bySide = <T>(f: (side: Side) => T): Record<Side, T> => ({
  a: f("a"),
  b: f("b"),
  f: f("f"),
  g: f("g"),
});
/** The interleaved order of a measurement's segments: each stack once per round, alternating direction. */
export function segmentOrder(i: number): Side[] {
  const forward: Side[] = i % 2 === 0 ? ["b", "a", "f", "g"] : ["a", "g", "b", "f"];
  return Array.from({ length: ROUNDS }, (_, r) => (r % 2 === 0 ? forward : [...forward].reverse())).flat();
}
