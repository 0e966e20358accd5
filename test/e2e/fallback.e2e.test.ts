// Fallback through a real Envoy: the next backend of a pool, then the next ladder step, only
// before the first response byte; every attempt's body adapted for its own pool. ai_bot walks
// qwen-large (ql1, ql2) → deepseek-flash (ds1, ds2) → qwen-small (qs1, qs2), two attempts per
// pool. Each describe has its own stack: outlier detection (3 consecutive connection-level
// failures eject a host for 15 s, at most half of a pool) is the one piece of state that a mode
// reset does not clear.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Agent } from "node:http";
import { describe, it } from "node:test";
import { waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import {
  AI_BOT,
  attemptsFor,
  envoyStats,
  logLine,
  POOLS,
  policyWith,
  post,
  receivedCounts,
  servedBy,
  sseData,
  taggedBody,
  totalReceived,
  useStack,
} from "./util.js";

const QWEN_LARGE_MODEL = "Qwen/Qwen3-VL-235B-A22B-Instruct";
const DEEPSEEK_MODEL = "deepseek-ai/DeepSeek-V4-Flash";
/**
 * Streams the upstream ext_proc opened (one per attempt it ran for). It sits in the router's
 * upstream_http_filters with stat_prefix "upstream", and Envoy 1.40 names those counters
 * `http.<hcm prefix>ext_proc.upstream.*` (no dot after the HCM prefix; envoy/FINDINGS.md §13).
 */
async function upstreamStreamsStarted(s: Parameters<typeof envoyStats>[0]): Promise<number> {
  const stat = "http.llmext_proc.upstream.streams_started";
  return (await envoyStats(s, `^${stat.replaceAll(".", "\\.")}$`))[stat] ?? 0;
}

const defaultStack = async () => ({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() });

/** A body with reasoning, so the qwen3 and deepseek adapters each leave their own marks. */
const reasoningBody = (tag: string) =>
  taggedBody(tag, { reasoning_effort: "high", max_tokens: 100, chat_template_kwargs: { keep: 1 }, seed: 7 });

function assertQwen3Body(body: Record<string, unknown>, where: string) {
  assert.equal(body.model, QWEN_LARGE_MODEL, where);
  assert.deepEqual(body.chat_template_kwargs, { keep: 1, enable_thinking: true }, where);
  assert.equal(body.thinking_token_budget, 8192, where);
  assert.equal(body.max_tokens, 100 + 8192, where);
}

function assertDeepSeekBody(body: Record<string, unknown>, where: string) {
  assert.equal(body.model, DEEPSEEK_MODEL, where);
  assert.deepEqual(body.chat_template_kwargs, { keep: 1, thinking: true, reasoning_effort: "high" }, where);
  assert.equal("thinking_token_budget" in body, false, `${where}: no Qwen budget`);
  assert.equal("enable_thinking" in (body.chat_template_kwargs as object), false, `${where}: no Qwen switch`);
  assert.equal(body.max_tokens, 100, `${where}: the client's max_tokens, not the qwen-raised one`);
  assert.equal(body.seed, 7, `${where}: unknown fields survive`);
}

describe("fallback: a refused connection", () => {
  const stack = useStack(defaultStack);

  it("moves to the other backend of the same pool: 20/20 served by ql2, nothing leaves qwen-large", async () => {
    const s = stack();
    await s.sims.byName("ql1").setMode("refuse");
    const before = await envoyStats(s, "upstream_cx_connect_fail$");
    for (let i = 0; i < 20; i++) {
      const r = await post(s.url, { headers: AI_BOT, body: taggedBody(`refuse-${i}`) });
      assert.equal(r.status, 200, `request ${i}: ${r.body}\n${s.logs()}`);
      assert.equal(servedBy(r), "ql2", `request ${i}`);
    }
    assert.deepEqual(receivedCounts(s, [...POOLS.qwenLarge, ...POOLS.deepseek, ...POOLS.qwenSmall]), {
      ql1: 0,
      ql2: 20,
      ds1: 0,
      ds2: 0,
      qs1: 0,
      qs2: 0,
    });
    // ql1 was tried (and refused) for some of them: least-request picks it first about half the
    // time until outlier detection ejects it.
    const after = await envoyStats(s, "upstream_cx_connect_fail$");
    // Connections are the pool cluster's, whichever path cluster the request named.
    const key = "cluster.pool.qwen-large.upstream_cx_connect_fail";
    assert.ok((after[key] ?? 0) - (before[key] ?? 0) >= 1, `connect failures: ${JSON.stringify(after)}`);
  });
});

describe("fallback: a pool whose backends are all down", () => {
  const stack = useStack(defaultStack);

  it("both qwen-large backends refuse → deepseek-flash serves, with a DeepSeek body", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode("refuse")));
    const r = await post(s.url, { headers: AI_BOT, body: reasoningBody("pool-down") });
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    assert.match(servedBy(r) ?? "", /^ds[12]$/);
    assert.equal(r.headers["x-switchyard-pool"], "deepseek-flash");
    const attempts = attemptsFor(s, "pool-down");
    assert.deepEqual(
      attempts.map((a) => a.backend),
      [servedBy(r)],
    );
    assertDeepSeekBody(attempts[0]?.body ?? {}, "deepseek attempt");
  });

  it("a body qwen-large takes as it is reaches it untouched; on a fallback DeepSeek still gets its model name", async () => {
    const s = stack();
    const asIs = (tag: string) => taggedBody(tag, { model: QWEN_LARGE_MODEL, seed: 7 });
    const upstreamStreams = () => upstreamStreamsStarted(s);
    const before = await upstreamStreams();
    const direct = await post(s.url, { headers: AI_BOT, body: asIs("as-is") });
    assert.equal(direct.status, 200, `${direct.body}\n${s.logs()}`);
    const [first] = attemptsFor(s, "as-is");
    assert.match(first?.backend ?? "", /^ql[12]$/);
    assert.deepEqual(first?.body, asIs("as-is"), "the client's body, unchanged");
    // A rewrite would have moved the patched "model" member to the end.
    assert.deepEqual(Object.keys(first?.body ?? {}), Object.keys(asIs("as-is")), "not re-spliced");
    assert.equal(
      first?.request.headers["content-length"],
      String(Buffer.byteLength(JSON.stringify(asIs("as-is")))),
    );
    assert.equal((await upstreamStreams()) - before, 0, "no upstream ext_proc stream for the router's pool");

    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode("refuse")));
    const fallback = await post(s.url, { headers: AI_BOT, body: asIs("as-is-fallback") });
    assert.equal(fallback.status, 200, `${fallback.body}\n${s.logs()}`);
    const [served] = attemptsFor(s, "as-is-fallback");
    assert.match(served?.backend ?? "", /^ds[12]$/);
    assert.deepEqual(served?.body, { ...asIs("as-is-fallback"), model: DEEPSEEK_MODEL });
  });

  it("reset before response headers on both qwen-large backends → each tried once, then deepseek-flash", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode("reset")));
    const r = await post(s.url, { headers: AI_BOT, body: reasoningBody("reset") });
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    const trail = attemptsFor(s, "reset").map((a) => a.backend);
    assert.equal(trail.length, 3, `trail ${trail}`);
    assert.deepEqual(trail.slice(0, 2).sort(), ["ql1", "ql2"]);
    assert.equal(trail[2], servedBy(r));
    assert.match(trail[2] ?? "", /^ds[12]$/);
  });
});

describe("fallback: listed status codes before the first byte", () => {
  const stack = useStack(defaultStack);

  it("503 on ql1 → ql2 serves the same request", async () => {
    const s = stack();
    await s.sims.byName("ql1").setMode({ status: 503 });
    // Least-request picks ql1 first for about half the requests; stop at the first that did.
    let trail: string[] = [];
    for (let i = 0; i < 12 && trail[0] !== "ql1"; i++) {
      const r = await post(s.url, { headers: AI_BOT, body: taggedBody(`503-${i}`) });
      assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
      assert.equal(servedBy(r), "ql2");
      trail = attemptsFor(s, `503-${i}`).map((a) => a.backend);
    }
    assert.deepEqual(trail, ["ql1", "ql2"], "no request in 12 went to ql1 first");
  });

  it("under load the retry still finds the busy healthy backend: 429 on ql1, ql2 slow → all served by ql2", async () => {
    const s = stack();
    // 429 is no 5xx, so outlier detection keeps ql1 in the pool for the whole run. ql1 fails at
    // once and so has fewer active requests than ql2, which least-request prefers on every draw.
    await s.sims.byName("ql1").setMode({ status: 429 });
    s.sims.byName("ql2").setTiming({ ttftMs: 200 });
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const trails: Record<string, number> = {};
    let next = 0;
    const worker = async () => {
      while (next < 120) {
        const i = next++;
        const r = await post(s.url, { headers: AI_BOT, body: taggedBody(`busy-${i}`), agent });
        const trail = attemptsFor(s, `busy-${i}`)
          .map((a) => a.backend)
          .join(",");
        trails[`${r.status} ${trail}`] = (trails[`${r.status} ${trail}`] ?? 0) + 1;
      }
    };
    try {
      await Promise.all(Array.from({ length: 20 }, worker));
    } finally {
      agent.destroy();
    }
    const served = Object.keys(trails).sort();
    assert.ok(
      served.every((k) => k === "200 ql2" || k === "200 ql1,ql2"),
      `a retry went back to ql1 instead of ql2: ${JSON.stringify(trails)}`,
    );
    assert.ok((trails["200 ql1,ql2"] ?? 0) > 0, `ql1 was never tried first: ${JSON.stringify(trails)}`);
  });

  it("503 on ql1 and 429 on ql2 → both tried once, then deepseek-flash serves", async () => {
    const s = stack();
    await s.sims.byName("ql1").setMode({ status: 503 });
    await s.sims.byName("ql2").setMode({ status: 429, retryAfterS: 1 });
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("503-429") });
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    const trail = attemptsFor(s, "503-429").map((a) => a.backend);
    assert.equal(trail.length, 3, `trail ${trail}`);
    assert.deepEqual(trail.slice(0, 2).sort(), ["ql1", "ql2"]);
    assert.equal(trail[2], servedBy(r));
    assert.match(trail[2] ?? "", /^ds[12]$/);
  });
});

describe("fallback: every attempt gets a body adapted for its own pool", () => {
  const stack = useStack(defaultStack);

  it("qwen-large 503, 503 → deepseek-flash: qwen3 bodies to the qwen backends, a DeepSeek body to DeepSeek", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode({ status: 503 })));
    const upstreamStreams = () => upstreamStreamsStarted(s);
    const before = await upstreamStreams();
    const r = await post(s.url, { headers: AI_BOT, body: reasoningBody("adapt") });
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    // The router rewrote the body for qwen-large: only the deepseek attempt opened an upstream stream.
    assert.equal((await upstreamStreams()) - before, 1, "upstream ext_proc streams for 3 attempts");
    const attempts = attemptsFor(s, "adapt");
    assert.deepEqual(
      attempts
        .map((a) => a.backend)
        .slice(0, 2)
        .sort(),
      ["ql1", "ql2"],
    );
    assert.equal(attempts.length, 3);
    assertQwen3Body(attempts[0]?.body ?? {}, `first attempt (${attempts[0]?.backend})`);
    assertQwen3Body(attempts[1]?.body ?? {}, `second attempt (${attempts[1]?.backend})`);
    assertDeepSeekBody(attempts[2]?.body ?? {}, `third attempt (${attempts[2]?.backend})`);
    for (const a of attempts) {
      assert.equal(a.request.headers["content-length"], String(Buffer.byteLength(JSON.stringify(a.body))));
    }
  });
});

describe("fallback: no retry when the status is not listed or the response started", () => {
  const stack = useStack(defaultStack);

  it("500 is not retried: the client gets the backend's 500 as sent, no other backend sees the request", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode({ status: 500 })));
    const direct = await post(s.sims.byName("ql1").url, { body: { model: QWEN_LARGE_MODEL, messages: [] } });
    s.sims.byName("ql1").clearReceived();
    const id = randomUUID();
    const r = await post(s.url, { headers: { ...AI_BOT, "x-request-id": id }, body: taggedBody("500") });
    assert.equal(r.status, 500);
    assert.equal(r.headers["content-type"], "application/json");
    assert.match(servedBy(r) ?? "", /^ql[12]$/, "the backend's response, not a local reply");
    assert.equal(r.body.toString(), direct.body.toString());
    // Envoy has ended the request once switchyard logs it: no retry can come after that.
    assert.equal((await logLine(s, id)).attempts, 1);
    assert.equal(totalReceived(s), 1);
  });

  it("a stream cut after 3 events reaches the client truncated (no [DONE]); nothing is retried", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode({ dieAfterChunks: 3 })));
    const id = randomUUID();
    const r = await post(s.url, {
      headers: { ...AI_BOT, "x-request-id": id },
      body: taggedBody("die", { stream: true }),
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /^text\/event-stream/);
    assert.equal(r.complete, false, "the client must see the stream break");
    const { events } = sseData(r.body.toString());
    assert.equal(events.length, 3, r.body.toString());
    assert.equal(events.includes("[DONE]"), false);
    assert.equal((await logLine(s, id)).attempts, 1);
    assert.deepEqual(
      attemptsFor(s, "die").map((a) => a.backend),
      [servedBy(r)],
    );
    assert.equal(totalReceived(s), 1);
  });
});

describe("fallback: every attempt fails", () => {
  const stack = useStack(defaultStack);
  const ALL = [...POOLS.qwenLarge, ...POOLS.deepseek, ...POOLS.qwenSmall];

  it("every backend refuses → Envoy's local 503 as JSON, code no_healthy_upstream", async () => {
    const s = stack();
    await Promise.all(ALL.map((n) => s.sims.byName(n).setMode("refuse")));
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("all-refuse") });
    assert.equal(r.status, 503, r.body.toString());
    assert.match(String(r.headers["content-type"]), /^application\/json/);
    const err = JSON.parse(r.body.toString()) as { error: { code: string; message: string; type: string } };
    assert.equal(err.error.code, "no_healthy_upstream");
    assert.ok(err.error.message.length > 0);
    assert.equal(typeof err.error.type, "string");
  });

  it("every backend answers 503 → 6 attempts, then the last backend's own 503 passes through unchanged", async () => {
    const s = stack();
    await Promise.all(ALL.map((n) => s.sims.byName(n).setMode({ status: 503 })));
    const direct = await post(s.sims.byName("qs1").url, { body: { model: "x", messages: [] } });
    s.sims.byName("qs1").clearReceived();
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("all-503") });
    assert.equal(r.status, 503);
    const trail = attemptsFor(s, "all-503").map((a) => a.backend);
    assert.deepEqual(trail.slice(0, 2).sort(), ["ql1", "ql2"], `trail ${trail}`);
    assert.deepEqual(trail.slice(2, 4).sort(), ["ds1", "ds2"], `trail ${trail}`);
    assert.deepEqual(trail.slice(4).sort(), ["qs1", "qs2"], `trail ${trail}`);
    assert.equal(servedBy(r), trail[5], "the last attempt's response");
    // Not a local reply: the mapper for 503 does not touch an upstream response.
    assert.equal(r.body.toString(), direct.body.toString());
  });
});

describe("fallback: attempts and per-try timeout come from the policy (attempts_per_pool 1, per_try 500 ms)", () => {
  const stack = useStack(async () => ({
    policy: await policyWith({ retry: { attempts_per_pool: 1, per_try_timeout_ms: 500 } }),
    sims: e2eFleet(),
  }));

  it("attempts_per_pool 1: one qwen-large backend is tried, then deepseek-flash serves", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode({ status: 503 })));
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("one-attempt") });
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    const trail = attemptsFor(s, "one-attempt").map((a) => a.backend);
    assert.equal(trail.length, 2, `trail ${trail}`);
    assert.match(trail[0] ?? "", /^ql[12]$/);
    assert.match(trail[1] ?? "", /^ds[12]$/);
  });

  it("attempts_per_pool 1, every backend 503 → exactly 3 attempts, one per pool, then the last 503", async () => {
    const s = stack();
    const all = [...POOLS.qwenLarge, ...POOLS.deepseek, ...POOLS.qwenSmall];
    await Promise.all(all.map((n) => s.sims.byName(n).setMode({ status: 503 })));
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("one-each") });
    assert.equal(r.status, 503);
    const trail = attemptsFor(s, "one-each").map((a) => a.backend);
    assert.equal(trail.length, 3, `trail ${trail}`);
    assert.match(trail.join(","), /^ql[12],ds[12],qs[12]$/);
    assert.equal(servedBy(r), trail[2]);
  });

  it("every backend hangs → one 500 ms try per pool, then Envoy's local 504 as JSON, code upstream_timeout", async () => {
    const s = stack();
    await Promise.all(s.sims.backends.map((b) => b.setMode("hang")));
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("all-hang"), timeoutMs: 10_000 });
    assert.equal(r.status, 504, r.body.toString());
    assert.match(String(r.headers["content-type"]), /^application\/json/);
    const err = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
    assert.equal(err.error.code, "upstream_timeout");
    assert.match(err.error.message, /per-try timeout/);
    assert.match(
      attemptsFor(s, "all-hang")
        .map((a) => a.backend)
        .join(","),
      /^ql[12],ds[12],qs[12]$/,
    );
    assert.ok(r.elapsedMs >= 1450, `three 500 ms tries took only ${r.elapsedMs} ms`);
  });

  it("a hanging backend is abandoned after per_try_timeout_ms (500) and the next pool serves", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode("hang")));
    const r = await post(s.url, { headers: AI_BOT, body: taggedBody("hang"), timeoutMs: 10_000 });
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    const trail = attemptsFor(s, "hang").map((a) => a.backend);
    assert.equal(trail.length, 2, `trail ${trail}`);
    assert.match(trail[0] ?? "", /^ql[12]$/);
    assert.equal(trail[1], servedBy(r));
    assert.ok(r.elapsedMs >= 480, `a 500 ms try was abandoned after ${r.elapsedMs} ms`);
    await waitUntil(
      "Envoy to close the abandoned attempt (qwen-large's open responses)",
      () => POOLS.qwenLarge.reduce((n, name) => n + s.sims.byName(name).stats().open, 0),
      (open) => open === 0,
    );
  });
});

describe("fallback: a hanging backend inside a pool (per_try 500 ms)", () => {
  const stack = useStack(async () => ({
    policy: await policyWith({ retry: { per_try_timeout_ms: 500 } }),
    sims: e2eFleet(),
  }));

  it("ql1 hangs → after 500 ms ql2 serves the same request", async () => {
    const s = stack();
    await s.sims.byName("ql1").setMode("hang");
    let trail: string[] = [];
    let last: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 12 && trail[0] !== "ql1"; i++) {
      last = await post(s.url, { headers: AI_BOT, body: taggedBody(`hang-${i}`), timeoutMs: 10_000 });
      assert.equal(last.status, 200, `${last.body}\n${s.logs()}`);
      assert.equal(servedBy(last), "ql2");
      trail = attemptsFor(s, `hang-${i}`).map((a) => a.backend);
    }
    assert.deepEqual(trail, ["ql1", "ql2"], "no request in 12 went to ql1 first");
    const ms = last?.elapsedMs ?? 0;
    assert.ok(ms >= 480, `ql1's 500 ms try was abandoned after ${ms} ms`);
  });
});
