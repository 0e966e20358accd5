// Fleet-aware routing against the real Envoy: true TTFT (first body byte, not headers), the
// strategies moving traffic as backends change speed, the pool breaker, the backend breaker
// (taken out through the pool's endpoint file) and Retry-After back-pressure. Sims send their
// headers at once (earlyHeaders, like vLLM); speeds change while running (setMode / setTiming).
// Every test waits for events (status numbers, stderr lines, sim counters) and prints its split.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Agent } from "node:http";
import { join } from "node:path";
import { describe, it } from "node:test";
import { waitFor } from "../../devkit/processes.js";
import type { Stack } from "./harness.js";
import { header, logLine, post, servedBy, taggedBody, useStack } from "./util.js";

const POLICY = `
version: 1
classes: [lat, cost, plain]
default_class: plain
features:
  lat: { class: lat }
  cost: { class: cost }
ladders:
  lat: [{ cheap: 50, fast: 50 }, { backup: 1 }]
  cost: [{ cheap: 50, fast: 50 }, { backup: 1 }]
  plain: [{ cheap: 1 }, { backup: 1 }]
pools:
  cheap:
    served_model: m
    price: { input_per_mtok: 0.1, output_per_mtok: 0.2 }
    backends: [{ address: "\${addr:c1}" }, { address: "\${addr:c2}" }]
  fast:
    served_model: m
    price: { input_per_mtok: 1, output_per_mtok: 2 }
    backends: [{ address: "\${addr:f1}" }, { address: "\${addr:f2}" }]
  backup:
    served_model: m
    backends: [{ address: "\${addr:b1}" }]
retry: { attempts_per_pool: 2, per_try_timeout_ms: 5000 }
fleet:
  window_s: 3
  min_samples: 5
  explore_share: 0.1
  strategies: { lat: latency_first, cost: cost_first }
  latency_budget_ms: { cost: 300 }
  pool_breaker: { enabled: true, error_rate: 0.3, min_samples: 8, cooldown_s: 2, probes: 3 }
  backend_breaker: { enabled: true, slower_than_pool: 5, min_samples: 3, cooldown_s: 5, probes: 2 }
  retry_after_max_s: 3
`;

const sim = (name: string, ttftMs: number) => ({
  name,
  servedModel: "m",
  ttftMs,
  tokensPerSec: 0,
  tokens: 4,
  earlyHeaders: true,
});
const SIMS = [sim("c1", 100), sim("c2", 100), sim("f1", 20), sim("f2", 20), sim("b1", 20)];
const POOL_OF: Record<string, string> = { c1: "cheap", c2: "cheap", f1: "fast", f2: "fast", b1: "backup" };

type Split = Record<string, number>;
interface Batch {
  split: Split;
  errors: number;
  total: number;
}

/** `n` streaming requests of `feature`, 4 at a time; the pools that served them. */
async function batch(s: Stack, feature: string, n: number): Promise<Batch> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const split: Split = {};
  let errors = 0;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await post(s.url, {
        headers: { "x-llm-feature": feature },
        body: taggedBody(`fleet-${feature}`, { stream: true }),
        agent,
      });
      if (r.status !== 200) {
        errors++;
        continue;
      }
      const pool = POOL_OF[servedBy(r) ?? ""] ?? header(r, "x-switchyard-pool") ?? "?";
      split[pool] = (split[pool] ?? 0) + 1;
    }
  };
  try {
    await Promise.all([worker(), worker(), worker(), worker()]);
  } finally {
    agent.destroy();
  }
  return { split, errors, total: n };
}

const share = (b: Batch, pool: string) => (b.split[pool] ?? 0) / b.total;
const show = (b: Batch) =>
  `${Object.entries(b.split)
    .map(([p, n]) => `${p} ${n} (${((100 * n) / b.total).toFixed(0)} %)`)
    .join(", ")}; client errors ${b.errors}`;

interface PoolStatus {
  samples: number;
  ttft_p95_ms: number | null;
  breaker: string;
}
async function fleetStatus(s: Stack): Promise<Record<string, PoolStatus>> {
  const res = await fetch(`${s.sidecarUrl}/status`);
  const j = (await res.json()) as { fleet: { pools: Record<string, PoolStatus> } };
  return j.fleet.pools;
}

/** Sends batches of `feature` until `done` holds (traffic is what moves the windows). */
async function driveUntil(
  s: Stack,
  feature: string,
  what: string,
  done: () => Promise<boolean> | boolean,
  seen: Batch[] = [],
  timeoutMs = 30_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return;
    if (Date.now() > until) throw new Error(`timed out driving traffic until ${what}\n${s.logs()}`);
    seen.push(await batch(s, feature, 8));
  }
}

/** Whether the sidecar's output since `from` (a length of its log, taken when the test began) has `text`. */
const stderrHas = (s: Stack, text: string, from = 0) => s.switchyard.log().slice(from).includes(text);
/** Where this test's own output starts: lines an earlier test left must not satisfy its waits. */
const mark = (s: Stack) => s.switchyard.log().length;
const errorsIn = (bs: Batch[]) => bs.reduce((n, b) => n + b.errors, 0);

/**
 * Envoy has loaded `pool`'s endpoint file with every one of `addresses` marked out (`out`), or
 * every one back in: its admin shows (or no longer shows) the EDS health flag. The file is
 * written when the monitor decides; Envoy picks it up a moment later.
 */
async function envoySees(s: Stack, pool: string, addresses: string[], out = true): Promise<void> {
  await waitFor(`Envoy sees ${addresses.join(", ")} of ${pool} ${out ? "out" : "back in"}`, async () => {
    const lines = (await (await fetch(`${s.adminUrl}/clusters`)).text()).split("\n");
    return addresses.every((a) => {
      const flags = lines.find((l) => l.startsWith(`pool.${pool}::${a}::health_flags::`));
      return flags !== undefined && flags.includes("failed_eds_health") === out;
    });
  });
}
const cheapAddresses = (s: Stack) => ["c1", "c2"].map((n) => s.sims.byName(n).address);

describe("fleet-aware routing", () => {
  const stack = useStack(async () => ({ policy: POLICY, sims: SIMS }));

  it("ttft_ms is the first body byte: headers at once, first token after 400 ms → ttft_ms ≥ 400", async (t) => {
    const s = stack();
    const c1 = s.sims.byName("c1");
    const c2 = s.sims.byName("c2");
    c1.setTiming({ ttftMs: 400 });
    c2.setTiming({ ttftMs: 400 });
    const id = `ttft-${Date.now()}`;
    const r = await post(s.url, {
      headers: { "x-request-id": id },
      body: taggedBody("ttft", { stream: true }),
    });
    assert.equal(r.status, 200);
    const line = await logLine(s, id);
    t.diagnostic(`ttft_ms ${line.ttft_ms}, duration_ms ${line.duration_ms}, served by ${servedBy(r)}`);
    assert.equal(line.pool, "cheap");
    assert.ok(typeof line.ttft_ms === "number" && line.ttft_ms >= 400, `ttft_ms ${line.ttft_ms}`);
  });

  it("latency_first moves most traffic to the fast pool within one window", async (t) => {
    const s = stack();
    const warm: Batch[] = [];
    await driveUntil(
      s,
      "lat",
      "both pools warm",
      async () => {
        const f = await fleetStatus(s);
        return (f.cheap?.samples ?? 0) >= 5 && (f.fast?.samples ?? 0) >= 5;
      },
      warm,
    );
    const first = warm.reduce<Batch>(
      (a, b) => {
        for (const [p, n] of Object.entries(b.split)) a.split[p] = (a.split[p] ?? 0) + n;
        return { split: a.split, errors: a.errors + b.errors, total: a.total + b.total };
      },
      { split: {}, errors: 0, total: 0 },
    );
    const second = await batch(s, "lat", 80);
    t.diagnostic(`until warm (${first.total}): ${show(first)}`);
    t.diagnostic(`next 80: ${show(second)}`);
    assert.equal(errorsIn([first, second]), 0);
    assert.ok(share(second, "fast") >= 0.7, `fast share ${share(second, "fast")}`);
  });

  it("cost_first keeps the cheap pool under budget, moves when its p95 exceeds it, comes back on recovery", async (t) => {
    const s = stack();
    const warm: Batch[] = [];
    await driveUntil(
      s,
      "cost",
      "cheap is warm and under budget",
      async () => {
        const f = await fleetStatus(s);
        return (f.cheap?.samples ?? 0) >= 5 && (f.cheap?.ttft_p95_ms ?? 1e9) < 300;
      },
      warm,
    );
    const cheapOk = await batch(s, "cost", 60);
    t.diagnostic(`cheap at 100 ms: ${show(cheapOk)}`);
    assert.ok(share(cheapOk, "cheap") >= 0.7, `cheap share ${share(cheapOk, "cheap")}`);

    for (const n of ["c1", "c2"]) s.sims.byName(n).setTiming({ ttftMs: 600 });
    const moving: Batch[] = [];
    await driveUntil(
      s,
      "cost",
      "cheap p95 over the 300 ms budget",
      async () => {
        const f = await fleetStatus(s);
        return (f.cheap?.ttft_p95_ms ?? 0) > 300;
      },
      moving,
    );
    const slow = await batch(s, "cost", 60);
    t.diagnostic(`cheap at 600 ms: ${show(slow)}`);
    assert.ok(share(slow, "fast") >= 0.7, `fast share ${share(slow, "fast")}`);

    for (const n of ["c1", "c2"]) s.sims.byName(n).setTiming({ ttftMs: 100 });
    const back: Batch[] = [];
    await driveUntil(
      s,
      "cost",
      "cheap p95 back under budget",
      async () => {
        const f = await fleetStatus(s);
        return (f.cheap?.samples ?? 0) >= 5 && (f.cheap?.ttft_p95_ms ?? 1e9) < 300;
      },
      back,
    );
    const recovered = await batch(s, "cost", 60);
    t.diagnostic(`cheap back at 100 ms: ${show(recovered)}`);
    assert.ok(share(recovered, "cheap") >= 0.7, `cheap share ${share(recovered, "cheap")}`);
    assert.equal(errorsIn([...warm, cheapOk, ...moving, slow, ...back, recovered]), 0);
  });

  it("a pool failing 50 % opens its breaker with no client error, and closes after recovery", async (t) => {
    const s = stack();
    const from = mark(s);
    for (const n of ["c1", "c2"]) await s.sims.byName(n).setMode({ status: 503 }, { rate: 0.5 });
    const failing: Batch[] = [];
    await driveUntil(
      s,
      "plain",
      "the cheap breaker opens",
      () => stderrHas(s, "breaker pool cheap: closed -> open", from),
      failing,
    );
    await envoySees(s, "cheap", cheapAddresses(s));
    const cheapBefore = s.sims.byName("c1").received.length + s.sims.byName("c2").received.length;
    const open = await batch(s, "plain", 20);
    const cheapDuring =
      s.sims.byName("c1").received.length + s.sims.byName("c2").received.length - cheapBefore;
    t.diagnostic(`while failing: ${failing.map(show).join(" | ")}`);
    t.diagnostic(`breaker open: ${show(open)}; attempts on cheap ${cheapDuring}`);
    assert.equal(share(open, "backup"), 1, "an open pool is skipped: the next step serves");
    for (const n of ["c1", "c2"]) await s.sims.byName(n).setMode("ok");
    const after: Batch[] = [];
    await driveUntil(
      s,
      "plain",
      "the cheap breaker closes",
      () => stderrHas(s, "breaker pool cheap: half_open -> closed", from),
      after,
    );
    await envoySees(s, "cheap", cheapAddresses(s), false);
    const closed = await batch(s, "plain", 20);
    t.diagnostic(`closed again: ${show(closed)}`);
    assert.equal(share(closed, "cheap"), 1);
    assert.equal(errorsIn([...failing, open, ...after, closed]), 0, "clients saw no error");
  });

  it("a backend 10x slower than its peer is taken out via the endpoint file, and let back", async (t) => {
    const s = stack();
    const from = mark(s);
    const c1 = s.sims.byName("c1");
    c1.setTiming({ ttftMs: 1000 });
    const slow: Batch[] = [];
    await driveUntil(
      s,
      "plain",
      "c1's breaker opens",
      () => stderrHas(s, `breaker backend ${c1.address}: closed -> open`, from),
      slow,
    );
    // The monitor logs the endpoint file's new content once it asked for the write.
    await waitFor("c1 out of cheap's endpoint file", () =>
      stderrHas(s, `endpoints pool cheap: out of rotation [${c1.address}]`, from),
    );
    // The file is written; Envoy has taken c1 out once its admin shows the EDS health flag.
    await envoySees(s, "cheap", [c1.address]);
    const eds = await readFile(join(s.dir, "xds", "pools", "cheap.json"), "utf8").catch(() => "");
    const before = c1.received.length;
    const out = await batch(s, "plain", 30);
    const toC1 = c1.received.length - before;
    t.diagnostic(`slow c1: ${slow.map(show).join(" | ")}`);
    t.diagnostic(
      `c1 out: ${show(out)}; c1 got ${toC1} of 30 (file had UNHEALTHY before: ${eds.includes("UNHEALTHY")})`,
    );
    assert.ok(toC1 <= 1, `c1 got ${toC1} requests while out`);
    c1.setTiming({ ttftMs: 100 });
    const back: Batch[] = [];
    await driveUntil(
      s,
      "plain",
      "c1 let back",
      () => stderrHas(s, `breaker backend ${c1.address}: half_open -> closed`, from),
      back,
    );
    const b2 = c1.received.length;
    const again = await batch(s, "plain", 30);
    t.diagnostic(`c1 back: ${show(again)}; c1 got ${c1.received.length - b2} of 30`);
    assert.ok(c1.received.length - b2 > 0, "c1 serves again");
    assert.equal(errorsIn([...slow, out, ...back, again]), 0);
  });

  it("a 429 storm with Retry-After spills to the next step with zero client errors", async (t) => {
    const s = stack();
    const from = mark(s);
    for (const n of ["c1", "c2"]) await s.sims.byName(n).setMode({ status: 429, retryAfterS: 30 });
    const storm = await batch(s, "plain", 4);
    await waitFor("cheap shedding", async () => {
      const f = (await fleetStatus(s)) as Record<string, { shedding?: boolean }>;
      return f.cheap?.shedding === true;
    });
    await envoySees(s, "cheap", cheapAddresses(s));
    const before = s.sims.byName("c1").received.length + s.sims.byName("c2").received.length;
    const shedding = await batch(s, "plain", 30);
    const toCheap = s.sims.byName("c1").received.length + s.sims.byName("c2").received.length - before;
    t.diagnostic(
      `storm: ${show(storm)}; shedding: ${show(shedding)}; attempts on cheap while shedding ${toCheap}`,
    );
    assert.equal(errorsIn([storm, shedding]), 0);
    assert.equal(share(shedding, "backup"), 1);
    assert.equal(toCheap, 0, "a shedding pool gets no attempt");
    assert.ok(stderrHas(s, "s after 429 with Retry-After"), "back-off logged (capped at retry_after_max_s)");
    for (const n of ["c1", "c2"]) await s.sims.byName(n).setMode("ok");
    await waitFor("back-off over (capped at 3 s)", async () => {
      const f = (await fleetStatus(s)) as Record<string, { shedding?: boolean }>;
      return f.cheap?.shedding === false;
    });
    // A 429 with a Retry-After is back-pressure, not an error: cheap's breaker stays closed and
    // the pool comes back as soon as Envoy has its backends back in.
    assert.ok(!stderrHas(s, "breaker pool cheap: closed -> open", from), "the 429s did not open the breaker");
    const after: Batch[] = [];
    await driveUntil(
      s,
      "plain",
      "cheap serving again",
      () => {
        const last = after[after.length - 1];
        return last !== undefined && share(last, "cheap") === 1;
      },
      after,
    );
    t.diagnostic(`after back-off: ${after.map(show).join(" | ")}`);
    assert.equal(errorsIn(after), 0);
  });

  it("every pool of a ladder open at once: requests still go out, and are served once backends answer", async (t) => {
    const s = stack();
    const from = mark(s);
    const all = ["c1", "c2", "b1"];
    for (const n of all) await s.sims.byName(n).setMode({ status: 503 });
    const failing: Batch[] = [];
    await driveUntil(
      s,
      "plain",
      "both breakers of the plain ladder open",
      () =>
        stderrHas(s, "breaker pool cheap: closed -> open", from) &&
        stderrHas(s, "breaker pool backup: closed -> open", from),
      failing,
    );
    const addresses = (names: string[]) => names.map((n) => s.sims.byName(n).address);
    // Both pools are skipped, so the monitor keeps their backends in the endpoint files (all
    // out, Envoy would have no host for the class): the decision picks as if none were skipped.
    await envoySees(s, "cheap", addresses(["c1", "c2"]), false);
    await envoySees(s, "backup", addresses(["b1"]), false);
    for (const n of all) await s.sims.byName(n).setMode("ok");
    const open = await batch(s, "plain", 12);
    t.diagnostic(`while failing: ${failing.length} batches; all open, backends healthy again: ${show(open)}`);
    const still = await fleetStatus(s);
    t.diagnostic(`breakers after the batch: cheap ${still.cheap?.breaker}, backup ${still.backup?.breaker}`);
    assert.equal(open.errors, 0, "no client error once the backends answer, breakers open or not");
  });
});
