// The data-plane bench's load generator, in its own process so that its CPU is not the
// sidecar's or Envoy's. Forked by bench/dataplane.ts and driven over IPC (bench/load-protocol.ts),
// or run by hand:
//
//   node dist/bench/load.js --url http://127.0.0.1:8080 --mode open --rate 500 --duration-ms 5000 \
//     [--body-bytes 2048] [--stream] [--model bench-model] [--concurrency 32]
//
// node:http with one keep-alive Agent per target; latency is taken from the moment the request
// is handed to node:http, so the generator's own scheduling lag (reported apart) is not in it.
import { Agent, type ClientRequest, request } from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  type ClosedJob,
  type ClosedResult,
  chatBody,
  type HoldJob,
  type HoldResult,
  type Job,
  type OpenJob,
  type OpenResult,
  type Reply,
  type Target,
} from "./load-protocol.js";

const MAX_SOCKETS = 2_100;
/** Open loop: beyond this many in flight, requests are counted as skipped instead of sent. */
const MAX_IN_FLIGHT = 2_000;
const REQUEST_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 15_000;
const ERROR_SAMPLES = 5;

interface Outcome {
  ok: boolean;
  firstByteMs: number;
  endMs: number;
  error?: string;
}

const agents = new Map<string, Agent>();
function agentFor(url: string): Agent {
  let a = agents.get(url);
  if (a === undefined) {
    a = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS });
    agents.set(url, a);
  }
  return a;
}

const bodies = new Map<string, Buffer>();
function bodyFor(t: Target): Buffer {
  const key = `${t.bodyBytes}/${t.stream}/${t.model}`;
  let b = bodies.get(key);
  if (b === undefined) {
    b = chatBody(t.bodyBytes, t.stream, t.model);
    bodies.set(key, b);
  }
  return b;
}

/** One POST; `done` is called exactly once. A stream must end with [DONE] to count as ok. */
function send(
  agent: Agent,
  t: Target,
  body: Buffer,
  done: (o: Outcome) => void,
  onFirstByte?: () => void,
): ClientRequest {
  const u = new URL(t.url);
  const t0 = performance.now();
  let finished = false;
  const finish = (o: Outcome) => {
    if (finished) return;
    finished = true;
    done(o);
  };
  const fail = (error: string) => finish({ ok: false, firstByteMs: 0, endMs: 0, error });
  const req = request({
    agent,
    host: u.hostname,
    port: u.port,
    method: "POST",
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json", "content-length": body.length },
  });
  req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error("timeout")));
  req.on("error", (e) => fail(e.message));
  req.on("response", (res) => {
    let first = -1;
    let tail = "";
    res.on("data", (c: Buffer) => {
      if (first < 0) {
        first = performance.now() - t0;
        onFirstByte?.();
      }
      if (t.stream || res.statusCode !== 200) tail = (tail + c.toString("latin1")).slice(-200);
    });
    res.on("error", (e) => fail(e.message));
    res.on("aborted", () => fail("response aborted"));
    res.on("end", () => {
      const end = performance.now() - t0;
      if (res.statusCode !== 200) return fail(`status ${res.statusCode}: ${tail.slice(0, 160)}`);
      if (t.stream && !tail.includes("[DONE]")) return fail("stream ended without [DONE]");
      finish({ ok: true, firstByteMs: first < 0 ? end : first, endMs: end });
    });
  });
  req.end(body);
  return req;
}

function p99(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(0.99 * s.length))] as number;
}

function sample(list: string[], e: string | undefined): void {
  if (list.length < ERROR_SAMPLES && e !== undefined && !list.includes(e)) list.push(e);
}

/**
 * Calls `fire` `total` times, `rate` per second from now; a late timer fires the missed calls at
 * once. Resolves, after the last call, with each call's lag behind its schedule (ms).
 */
function fireAtRate(rate: number, total: number, fire: () => void): Promise<number[]> {
  const interval = 1000 / rate;
  const lags: number[] = [];
  const start = performance.now();
  let next = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        lags.push(now - (start + next * interval));
        next++;
        fire();
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      else resolve(lags);
    };
    tick();
  });
}

function recordOpen(r: OpenResult, o: Outcome): void {
  if (o.ok) {
    r.ok++;
    r.firstByteMs.push(o.firstByteMs);
    r.endMs.push(o.endMs);
  } else {
    r.errors++;
    sample(r.errorSamples, o.error);
  }
}

async function runOpen(job: OpenJob): Promise<OpenResult> {
  const agent = agentFor(job.url);
  const body = bodyFor(job);
  const total = Math.round((job.rate * job.durationMs) / 1000);
  const r: OpenResult = {
    sent: 0,
    ok: 0,
    errors: 0,
    skipped: 0,
    firstByteMs: [],
    endMs: [],
    sendLagP99Ms: 0,
    errorSamples: [],
  };
  const live = new Set<ClientRequest>();
  let drained: () => void = () => {};
  const drainedAll = new Promise<void>((res) => {
    drained = res;
  });
  const fire = () => {
    if (live.size >= MAX_IN_FLIGHT) {
      r.skipped++;
      return;
    }
    r.sent++;
    const req = send(agent, job, body, (o) => {
      live.delete(req);
      recordOpen(r, o);
      if (r.sent + r.skipped >= total && live.size === 0) drained();
    });
    live.add(req);
  };
  const lags = await fireAtRate(job.rate, total, fire);
  if (live.size > 0) {
    const timer = setTimeout(drained, DRAIN_TIMEOUT_MS);
    await drainedAll;
    clearTimeout(timer);
  }
  for (const req of live) req.destroy(new Error("still open after the drain timeout"));
  r.sendLagP99Ms = p99(lags);
  return r;
}

async function runClosed(job: ClosedJob): Promise<ClosedResult> {
  const agent = agentFor(job.url);
  const body = bodyFor(job);
  const r: ClosedResult = {
    completed: 0,
    completedTotal: 0,
    errors: 0,
    windowS: job.durationMs / 1000,
    errorSamples: [],
  };
  const start = performance.now();
  const deadline = start + job.durationMs;
  const worker = () =>
    new Promise<void>((resolve) => {
      const next = () => {
        if (performance.now() >= deadline) return resolve();
        send(agent, job, body, (o) => {
          if (o.ok) {
            r.completedTotal++;
            if (performance.now() <= deadline) r.completed++;
            next();
          } else {
            r.errors++;
            sample(r.errorSamples, o.error);
            setTimeout(next, 1); // do not spin on a target that fails fast
          }
        });
      };
      next();
    });
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return r;
}

let held: { agent: Agent; reqs: ClientRequest[] } | undefined;

async function runHold(job: HoldJob): Promise<HoldResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const body = bodyFor(job);
  const reqs: ClientRequest[] = [];
  held = { agent, reqs };
  const r: HoldResult = { opened: 0, firstBytes: 0, errors: 0, allFirstBytesMs: 0, errorSamples: [] };
  const start = performance.now();
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const check = () => {
    if (r.firstBytes + r.errors < job.count) return;
    r.allFirstBytesMs = performance.now() - start;
    settle();
  };
  const openOne = () => {
    r.opened++;
    let first = false;
    const onOutcome = (o: Outcome) => {
      if (o.ok || held === undefined) return; // a stream that ended, or was released, is fine
      if (first) r.firstBytes--;
      r.errors++;
      sample(r.errorSamples, o.error);
      check();
    };
    const onFirst = () => {
      first = true;
      r.firstBytes++;
      check();
    };
    reqs.push(send(agent, job, body, onOutcome, onFirst));
  };
  const batch = Math.max(1, Math.round(job.perSec / 100));
  const ramp = () => {
    for (let i = 0; i < batch && r.opened < job.count; i++) openOne();
    if (r.opened < job.count) setTimeout(ramp, 10);
  };
  ramp();
  const timer = setTimeout(settle, job.timeoutMs);
  await settled;
  clearTimeout(timer);
  return r;
}

function release(): { aborted: number } {
  const h = held;
  held = undefined;
  if (h === undefined) return { aborted: 0 };
  for (const req of h.reqs) req.destroy();
  h.agent.destroy();
  return { aborted: h.reqs.length };
}

async function run(job: Job): Promise<Reply | undefined> {
  switch (job.op) {
    case "open":
      return { op: "open", result: await runOpen(job) };
    case "closed":
      return { op: "closed", result: await runClosed(job) };
    case "hold":
      return { op: "hold", result: await runHold(job) };
    case "release":
      return { op: "release", result: release() };
    case "exit":
      release();
      for (const a of agents.values()) a.destroy();
      process.disconnect?.();
      return undefined;
  }
}

function fromArgs(): Job {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      mode: { type: "string", default: "open" },
      rate: { type: "string", default: "500" },
      "duration-ms": { type: "string", default: "5000" },
      "body-bytes": { type: "string", default: "2048" },
      stream: { type: "boolean", default: false },
      model: { type: "string", default: "bench-model" },
      concurrency: { type: "string", default: "32" },
    },
  });
  if (values.url === undefined) throw new Error("--url is required");
  const target: Target = {
    url: values.url,
    bodyBytes: Number(values["body-bytes"]),
    stream: values.stream,
    model: values.model,
  };
  const durationMs = Number(values["duration-ms"]);
  if (values.mode === "closed")
    return { op: "closed", ...target, concurrency: Number(values.concurrency), durationMs };
  return { op: "open", ...target, rate: Number(values.rate), durationMs };
}

const send_ = process.send?.bind(process);
if (send_ !== undefined) {
  process.on("message", (job: Job) => {
    run(job).then(
      (reply) => reply && send_(reply),
      (err: Error) => send_({ op: "error", message: err.stack ?? err.message } satisfies Reply),
    );
  });
} else {
  run(fromArgs()).then(
    (reply) => {
      if (reply?.op === "open") {
        const { firstByteMs, endMs, ...rest } = reply.result;
        const q = (xs: number[], p: number) => Float64Array.from(xs).sort()[Math.floor(p * (xs.length - 1))];
        console.log(
          JSON.stringify({
            ...rest,
            p50EndMs: q(endMs, 0.5),
            p99EndMs: q(endMs, 0.99),
            p50FirstByteMs: q(firstByteMs, 0.5),
          }),
        );
      } else console.log(JSON.stringify(reply));
      for (const a of agents.values()) a.destroy();
    },
    (err: Error) => {
      console.error(`load: ${err.message}`);
      process.exitCode = 2;
    },
  );
}
