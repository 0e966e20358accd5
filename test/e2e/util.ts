// Helpers shared by the e2e suites: a stack per describe with modes reset after each test, a
// raw HTTP client that keeps the exact bytes and their arrival times, per-request attempt
// trails from the sims, switchyard's log line of a request, and Envoy admin stats.
import assert from "node:assert/strict";
import { type Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { after, afterEach, before } from "node:test";
import { parse, stringify } from "yaml";
import { envoyStats as readEnvoyStats, waitUntil } from "../../devkit/processes.js";
import type { RecordedRequest, SimBackend, SimOptions } from "../sim/sim-backend.js";
import { readFixture, type Stack, type StackOptions, startStack } from "./harness.js";

/** The routing header that sends a request to the frontier ladder: qwen-large → deepseek-flash → qwen-small. */
export const AI_BOT = { "X-Discourse-AI-Feature": "ai_bot" } as const;
/** The fast ladder: qwen-small only. */
export const TRANSLATE = { "X-Discourse-AI-Feature": "translate" } as const;

export const POOLS = {
  qwenSmall: ["qs1", "qs2"],
  qwenLarge: ["ql1", "ql2"],
  deepseek: ["ds1", "ds2"],
} as const;

/**
 * One stack for the enclosing describe. After each test every sim goes back to "ok" with its
 * starting timing and forgets what it received, so tests in the describe start from the same
 * place (Envoy's outlier-detection state is the one thing that carries over).
 */
export function useStack(make: () => Promise<StackOptions>): () => Stack {
  let stack: Stack | undefined;
  let specs: SimOptions[] = [];
  before(async () => {
    const opts = await make();
    specs = opts.sims;
    stack = await startStack(opts);
  });
  afterEach(async () => {
    if (!stack) return;
    const s = stack;
    await Promise.all(
      specs.map(async (spec) => {
        const sim = s.sims.byName(spec.name);
        await sim.setMode("ok", {
          ttftMs: spec.ttftMs,
          tokensPerSec: spec.tokensPerSec,
          tokens: spec.tokens,
        });
        sim.clearReceived();
      }),
    );
  });
  after(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error("stack not started");
    return stack;
  };
}

/** The e2e policy fixture with some top-level sections replaced (e.g. `retry`). */
export async function policyWith(overrides: Record<string, unknown>): Promise<string> {
  const doc = parse(await readFixture("e2e-policy.yml")) as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    const current = doc[key];
    if (current === undefined) throw new Error(`e2e-policy.yml has no ${key} section`);
    doc[key] = typeof value === "object" && value !== null ? { ...(current as object), ...value } : value;
  }
  return stringify(doc);
}

export interface RawResponse {
  status: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Every body byte that arrived, even when the response was cut short. */
  body: Buffer;
  /** Arrival time (ms since the request started) and size of each body chunk. */
  chunks: { atMs: number; bytes: number }[];
  /** True when the body ended cleanly (chunked terminator or full content-length). */
  complete: boolean;
  error: Error | undefined;
  elapsedMs: number;
}

export interface PostOptions {
  path?: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON. */
  body: unknown;
  agent?: Agent | false;
  signal?: AbortSignal;
  /** Called once, with the response status, when the first body byte arrives. */
  onFirstByte?: (status: number | undefined) => void;
  timeoutMs?: number;
}

/** One POST over node:http; always resolves, with what arrived and how the exchange ended. */
export function post(baseUrl: string, o: PostOptions): Promise<RawResponse> {
  const url = new URL(o.path ?? "/v1/chat/completions", baseUrl);
  const payload = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const out: RawResponse = {
      status: undefined,
      headers: {},
      body: Buffer.alloc(0),
      chunks: [],
      complete: false,
      error: undefined,
      elapsedMs: 0,
    };
    const parts: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      out.error ??= err;
      out.body = Buffer.concat(parts);
      out.elapsedMs = performance.now() - t0;
      resolve(out);
    };
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent: o.agent ?? false,
        headers: { "content-type": "application/json", ...o.headers },
        signal: o.signal,
      },
      (res) => {
        out.status = res.statusCode;
        out.headers = res.headers;
        res.on("data", (c: Buffer) => {
          if (parts.length === 0) o.onFirstByte?.(res.statusCode);
          parts.push(c);
          out.chunks.push({ atMs: performance.now() - t0, bytes: c.length });
        });
        res.on("error", (e) => finish(e));
        res.on("close", () => {
          out.complete = res.complete;
          finish(res.complete ? undefined : new Error("response ended before it was complete"));
        });
      },
    );
    req.on("error", (e) => finish(e));
    if (o.timeoutMs !== undefined) {
      const timer = setTimeout(() => req.destroy(new Error(`no answer in ${o.timeoutMs} ms`)), o.timeoutMs);
      req.on("close", () => clearTimeout(timer));
    }
    req.end(payload);
  });
}

export function header(r: RawResponse, name: string): string | undefined {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The sim that sent the response (every sim response carries x-sim-backend). */
export function servedBy(r: RawResponse): string | undefined {
  return header(r, "x-sim-backend");
}

/** A chat body that carries `tag` in the OpenAI `user` field, which every adapter leaves alone. */
export function taggedBody(tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: "any", messages: [{ role: "user", content: "hi" }], user: tag, ...extra };
}

export interface Attempt {
  backend: string;
  body: Record<string, unknown>;
  request: RecordedRequest;
}

/** Every request the sims received for `tag`, oldest first. */
export function attemptsFor(stack: Stack, tag: string): Attempt[] {
  const out: Attempt[] = [];
  for (const sim of stack.sims.backends) {
    for (const r of sim.received) {
      const body = r.body as Record<string, unknown> | undefined;
      if (body?.user === tag) out.push({ backend: sim.name, body, request: r });
    }
  }
  return out.sort((a, b) => a.request.at - b.request.at);
}

/** How many requests each named sim received (all of them, tagged or not). */
export function receivedCounts(stack: Stack, names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, stack.sims.byName(n).received.length]));
}

export function totalReceived(stack: Stack): number {
  return stack.sims.backends.reduce((n, s: SimBackend) => n + s.received.length, 0);
}

/** Envoy admin counters and gauges whose name matches `filter` (a regex), by full name. */
export async function envoyStats(stack: Stack, filter: string): Promise<Record<string, number>> {
  return readEnvoyStats(stack.adminUrl, filter);
}

/**
 * switchyard's log line for the request sent with `x-request-id: id`. It is written when Envoy
 * ends the request, so once it is there no further attempt of that request can reach a backend.
 */
export async function logLine(stack: Stack, id: string): Promise<Record<string, unknown>> {
  const lines = await waitUntil(
    `switchyard's log line for ${id}`,
    () =>
      stack
        .allSidecars()
        .flatMap((p) => p.jsonLines())
        .filter((l) => l.request_id === id),
    (found) => found.length > 0,
  );
  assert.equal(lines.length, 1, `one log line for ${id}: ${JSON.stringify(lines)}`);
  return lines[0] as Record<string, unknown>;
}

/** SSE `data:` payloads of a body; the framing must be exactly `data: ...\n\n` per event. */
export function sseData(body: string): { events: string[]; rest: string } {
  const parts = body.split("\n\n");
  const rest = parts.pop() ?? "";
  return {
    events: parts.map((p) => {
      if (!p.startsWith("data: ") || p.includes("\n")) throw new Error(`not a single-line data event: ${p}`);
      return p.slice("data: ".length);
    }),
    rest,
  };
}
