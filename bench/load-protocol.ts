// The messages between the data-plane bench (parent) and its load generator (a forked child,
// bench/load.ts), plus the request body both sides agree on.

/** What every job sends: a Chat Completions body of about `bodyBytes` to `url`. */
export interface Target {
  /** http://127.0.0.1:PORT (the path is always /v1/chat/completions). */
  url: string;
  bodyBytes: number;
  stream: boolean;
  model: string;
}

/** Fixed-rate open loop: `rate` requests/s for `durationMs`, whatever the responses do. */
export interface OpenJob extends Target {
  op: "open";
  rate: number;
  durationMs: number;
}

/** Closed loop: `concurrency` requests in flight for `durationMs`. */
export interface ClosedJob extends Target {
  op: "closed";
  concurrency: number;
  durationMs: number;
}

/** Open `count` streams (ramped at `perSec`) and hold them until a "release" job. */
export interface HoldJob extends Target {
  op: "hold";
  count: number;
  perSec: number;
  /** Give up waiting for first bytes after this long. */
  timeoutMs: number;
}

export type Job = OpenJob | ClosedJob | HoldJob | { op: "release" } | { op: "exit" };

export interface OpenResult {
  sent: number;
  ok: number;
  errors: number;
  /** Not sent because too many were already in flight (the target could not keep up). */
  skipped: number;
  /** Per successful request, ms from the write of the request: first body byte and the end. */
  firstByteMs: number[];
  endMs: number[];
  /** How late the generator itself sent requests (its own event-loop lag), p99 in ms. */
  sendLagP99Ms: number;
  /** First few error descriptions, for the report. */
  errorSamples: string[];
}

export interface ClosedResult {
  /** Successful responses completed inside the window. */
  completed: number;
  /** Successful responses in all, including those that finished after the window. */
  completedTotal: number;
  errors: number;
  windowS: number;
  errorSamples: string[];
}

export interface HoldResult {
  opened: number;
  firstBytes: number;
  errors: number;
  /** ms from the first request to the last first byte. */
  allFirstBytesMs: number;
  errorSamples: string[];
}

export interface ReleaseResult {
  aborted: number;
}

export type Reply =
  | { op: "open"; result: OpenResult }
  | { op: "closed"; result: ClosedResult }
  | { op: "hold"; result: HoldResult }
  | { op: "release"; result: ReleaseResult }
  | { op: "error"; message: string };

/**
 * A Chat Completions request with one long user message, padded so that the JSON is exactly
 * `bytes` long (or as short as it can be when `bytes` is smaller than the frame).
 */
export function chatBody(bytes: number, stream: boolean, model: string): Buffer {
  const frame = (content: string) =>
    JSON.stringify({ model, stream, max_tokens: 16, messages: [{ role: "user", content }] });
  const base = Buffer.byteLength(frame(""));
  const words = "the quick brown fox jumps over the lazy dog while the router decides ";
  const need = Math.max(0, bytes - base);
  const content = words.repeat(Math.ceil(need / words.length)).slice(0, need);
  return Buffer.from(frame(content));
}
