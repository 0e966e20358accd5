// `npm run loadtest -- --rate R --duration S [--target URL] [--mix FILE] [--policy FILE] [--json FILE]`
// A mixed workload against a running stack (`npm run stack`): open loop at R requests/s for S
// seconds, a live progress line, then the routing share per class and pool beside the share
// the policy predicts for the same mix (devkit/loadtest-mix.ts, through evaluate()), errors by
// kind, and TTFT and duration percentiles. Bounded: at most 1,000 requests/s for 10 minutes,
// 500 in flight, 60 s per request; loopback targets only unless --allow-remote.
import { readFile, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  type Kind,
  kindPicker,
  type Mix,
  type PreparedRequest,
  parseMix,
  percentile,
  predictShares,
  requestFor,
  type Shares,
} from "../devkit/loadtest-mix.js";
import { loadPolicyFile } from "../extproc/src/policy/load.js";
import { seededRandom } from "../extproc/src/routing/evaluate.js";
import { DEFAULT_PORTS } from "../extproc/src/vocab/ports.js";

const MAX_RATE = 1000;
const MAX_DURATION_S = 600;
const MAX_IN_FLIGHT = 500;
const REQUEST_TIMEOUT_MS = 60_000;
const DRAIN_MS = 30_000;

interface Result {
  kind: string;
  /** "class → pool" from the decision headers, or "rejected:<code>"/"error:<kind>". */
  route: string;
  /** undefined when the request succeeded. */
  error?: string;
  ttftMs?: number;
  durationMs: number;
}

interface Options {
  rate: number;
  durationS: number;
  target: URL;
  mix: Mix;
  mixFile: string;
  policyFile: string;
  json?: string;
}

async function options(argv: string[]): Promise<Options> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: "string", default: "20" },
      duration: { type: "string", default: "10" },
      target: { type: "string", default: `http://127.0.0.1:${DEFAULT_PORTS.proxy}` },
      mix: { type: "string", default: "examples/loadtest-mix.yml" },
      policy: { type: "string", default: "examples/discourse.yml" },
      json: { type: "string" },
      "allow-remote": { type: "boolean", default: false },
    },
  });
  const rate = Number(values.rate);
  const durationS = Number(values.duration);
  if (!(rate > 0 && rate <= MAX_RATE))
    throw new Error(`--rate wants 0 < R <= ${MAX_RATE}, got ${values.rate}`);
  if (!(durationS > 0 && durationS <= MAX_DURATION_S))
    throw new Error(`--duration wants 0 < S <= ${MAX_DURATION_S} seconds, got ${values.duration}`);
  const target = new URL(values.target);
  if (target.protocol !== "http:") throw new Error("--target must be an http:// URL");
  if (!values["allow-remote"] && !isLoopback(target.hostname))
    throw new Error(
      `--target ${target.hostname} is not a loopback address; pass --allow-remote to load it anyway`,
    );
  const mix = parseMix(await readFile(values.mix, "utf8"));
  return { rate, durationS, target, mix, mixFile: values.mix, policyFile: values.policy, json: values.json };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h === "::1";
}

const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });

function send(target: URL, kind: Kind, req: PreparedRequest): Promise<Result> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let ttftMs: number | undefined;
    const chunks: Buffer[] = [];
    const done = (route: string, error?: string) =>
      resolve({ kind: kind.name, route, error, ttftMs, durationMs: performance.now() - t0 });
    const r = request(
      {
        host: target.hostname,
        port: target.port || 80,
        path: req.path,
        method: "POST",
        agent,
        headers: { ...req.headers, "content-length": req.body.length },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const cls = res.headers["x-switchyard-class"];
        const pool = res.headers["x-switchyard-pool"];
        res.on("data", (c: Buffer) => {
          ttftMs ??= performance.now() - t0;
          if (res.statusCode !== 200 && chunks.length < 8) chunks.push(c);
        });
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status === 200) return done(`${cls ?? "?"} → ${pool || "?"}`);
          const code = errorCode(Buffer.concat(chunks).toString("utf8"));
          const kindOfError = `http_${status}${code ? ` ${code}` : ""}`;
          done(status < 500 && code ? `rejected:${code}` : `error:${kindOfError}`, kindOfError);
        });
        res.on("error", (e) => done("error:response", `response ${e.message}`));
      },
    );
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", (e: NodeJS.ErrnoException) => done(`error:${e.code ?? e.message}`, e.code ?? e.message));
    r.end(req.body);
  });
}

function errorCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

interface RunResult {
  results: Result[];
  skipped: number;
  wallS: number;
}

async function run(o: Options): Promise<RunResult> {
  const total = Math.round(o.rate * o.durationS);
  const pick = kindPicker(o.mix, seededRandom(7));
  const prepared = new Map(o.mix.kinds.map((k) => [k.name, requestFor(k, o.mix)]));
  const results: Result[] = [];
  const pending = new Set<Promise<void>>();
  let skipped = 0;
  let sent = 0;
  const t0 = performance.now();
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const progress = (final = false) => {
    const now = performance.now();
    if (!final && now - lastLine < (tty ? 500 : 5000)) return;
    lastLine = now;
    const errors = results.filter((r) => r.error !== undefined).length;
    const line = `sent ${sent}/${total}  done ${results.length}  in flight ${pending.size}  errors ${errors}  skipped ${skipped}  ${((now - t0) / 1000).toFixed(1)} s`;
    process.stderr.write(tty ? `\r${line.padEnd(90)}${final ? "\n" : ""}` : `${line}\n`);
  };
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    progress();
    if (pending.size >= MAX_IN_FLIGHT) {
      skipped++;
      continue;
    }
    const kind = pick();
    sent++;
    const p: Promise<void> = send(o.target, kind, prepared.get(kind.name) as PreparedRequest).then((r) => {
      results.push(r);
      pending.delete(p);
    });
    pending.add(p);
  }
  const drain = Promise.all(pending);
  const timer = setInterval(() => progress(), 500);
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([drain, new Promise((r) => (giveUp = setTimeout(r, DRAIN_MS)))]);
  clearTimeout(giveUp);
  clearInterval(timer);
  progress(true);
  agent.destroy();
  return { results, skipped, wallS: (performance.now() - t0) / 1000 };
}

const fmtPct = (v: number) => `${(100 * v).toFixed(1)} %`.padStart(8);
const fmtMs = (v: number | undefined) => (v === undefined ? "–" : `${Math.round(v)} ms`).padStart(9);

function report(o: Options, predicted: Shares, outcome: RunResult) {
  const { results, skipped, wallS } = outcome;
  const observed: Shares = new Map();
  for (const r of results) observed.set(r.route, (observed.get(r.route) ?? 0) + 1 / results.length);
  const keys = [...new Set([...predicted.keys(), ...observed.keys()])].sort();
  const lines: string[] = [];
  lines.push(
    `\n${results.length} requests in ${wallS.toFixed(1)} s (${(results.length / wallS).toFixed(1)}/s) to ${o.target.origin}, mix ${o.mixFile}, policy ${o.policyFile}${skipped ? `; ${skipped} not sent (over ${MAX_IN_FLIGHT} in flight)` : ""}`,
  );
  lines.push("\nrouting share (class → pool)      observed  predicted");
  for (const k of keys)
    lines.push(`  ${k.padEnd(32)}${fmtPct(observed.get(k) ?? 0)}  ${fmtPct(predicted.get(k) ?? 0)}`);
  lines.push(
    "  (observed: the pool that served, from x-switchyard-class/-pool; predicted: the path's first pool,",
    "   from the policy's decision code for the requests sent, 2,000 seeded draws per kind)",
  );
  const errors = new Map<string, number>();
  for (const r of results) if (r.error !== undefined) errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
  lines.push(`\nerrors: ${errors.size === 0 ? "none" : ""}`);
  for (const [e, n] of [...errors].sort((a, b) => b[1] - a[1]))
    lines.push(`  ${e.padEnd(40)}${String(n).padStart(6)}`);
  const ok = results.filter((r) => r.error === undefined);
  const ttft = ok.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs])).sort((a, b) => a - b);
  const dur = ok.map((r) => r.durationMs).sort((a, b) => a - b);
  lines.push(`\nlatency of ${ok.length} successful requests       p50      p90      p99      max`);
  const row = (name: string, v: number[]) =>
    `  ${name.padEnd(36)}${[0.5, 0.9, 0.99, 1].map((p) => fmtMs(percentile(v, p))).join("")}`;
  lines.push(row("time to first byte", ttft), row("duration", dur));
  console.log(lines.join("\n"));
  return {
    target: o.target.origin,
    rate: o.rate,
    duration_s: o.durationS,
    requests: results.length,
    skipped,
    observed: Object.fromEntries(observed),
    predicted: Object.fromEntries(predicted),
    errors: Object.fromEntries(errors),
    ttft_ms: { p50: percentile(ttft, 0.5), p90: percentile(ttft, 0.9), p99: percentile(ttft, 0.99) },
    duration_ms: { p50: percentile(dur, 0.5), p90: percentile(dur, 0.9), p99: percentile(dur, 0.99) },
  };
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = await options(process.argv.slice(2));
  } catch (err) {
    console.error(`loadtest: ${(err as Error).message}`);
    return 2;
  }
  const loaded = await loadPolicyFile(o.policyFile);
  if (!loaded.ok) {
    console.error(`loadtest: ${o.policyFile} does not load; run switchyard check ${o.policyFile}`);
    return 1;
  }
  process.stderr.write(
    `loadtest: ${o.rate}/s for ${o.durationS} s against ${o.target.origin} (${o.mix.kinds.length} kinds from ${o.mixFile})\n`,
  );
  const outcome = await run(o);
  const sent = new Map<string, number>();
  for (const r of outcome.results) sent.set(r.kind, (sent.get(r.kind) ?? 0) + 1);
  const predicted = predictShares(loaded.policy, o.mix, 2000, "127.0.0.1", sent);
  const out = report(o, predicted, outcome);
  if (o.json) await writeFile(o.json, `${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

process.exitCode = await main();
