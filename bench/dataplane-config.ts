// What the data-plane bench measures and how long: the cases, the rates, the sim timings and
// the environment knobs (see bench/dataplane.ts), shared by the phases and the report.
import { CLIENT_MODEL, MODEL } from "./dataplane-stack.js";

const envNum = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
export const RATE = envNum("BENCH_RATE", 500);
/** One measured segment; each stack gets two per measurement (A B B A or B A A B). */
export const SEGMENT_MS = envNum("BENCH_SEGMENT_MS", 3_000);
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

export type Side = "a" | "b" | "f";
export const SIDES: Side[] = ["a", "b", "f"];
/** One value per stack. */
export const bySide = <T>(f: (side: Side) => T): Record<Side, T> => ({ a: f("a"), b: f("b"), f: f("f") });
