// The access log comes back through switchyard as one JSON line per request; metrics and
// /status move with the traffic.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { waitFor, waitUntil } from "../../devkit/processes.js";
import type { SimMode } from "../sim/modes.js";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture, type Stack, startStack } from "./harness.js";
import { logLine } from "./util.js";

describe("observability", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() });
  });
  after(async () => {
    await stack?.stop();
  });

  const lineFor = (id: string) => logLine(stack, id);
  const metrics = async () => (await fetch(`${stack.sidecarUrl}/metrics`)).text();
  /** Sum of every series of `name` whose labels include all of `labels` (comma-separated k="v"). */
  const metricValue = (text: string, name: string, labels: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`${name}{`) && labels.split(",").every((p) => l.includes(p)))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);

  it("a plain success: one line with the decision, the backend and timings", async () => {
    const id = randomUUID();
    const r = await chat(stack.url, {
      headers: { "x-request-id": id, "X-Discourse-AI-Feature": "ai_bot", "X-Discourse-AI-Tier": "paid" },
      body: { model: "gpt-x", messages: [{ role: "user", content: "hi" }], reasoning_effort: "low" },
    });
    assert.equal(r.status, 200);
    const l = await lineFor(id);
    assert.equal(l.class, "frontier");
    assert.equal(l.pool, "qwen-large");
    assert.equal(l.backend, stack.sims.byName(r.headers.get("x-sim-backend") as string).address);
    assert.equal(l.status, 200);
    assert.equal(l.attempts, 1);
    assert.equal(l.feature, "ai_bot");
    assert.equal(l.tier, "paid");
    assert.equal(l.model, "gpt-x");
    assert.equal(l.served_model, "Qwen/Qwen3-VL-235B-A22B-Instruct");
    assert.equal(l.reasoning_effort, "low");
    assert.equal(l.stream, false);
    assert.equal(l.client_disconnected, false);
    assert.equal(typeof l.ttft_ms, "number");
    assert.ok((l.duration_ms as number) >= (l.ttft_ms as number));
    assert.ok((l.bytes as number) > 0);
    assert.ok((l.reasons as string[]).includes("class:frontier"));
    assert.deepEqual(
      (l.attempt_list as { pool: string; outcome: string }[]).map((a) => [a.pool, a.outcome]),
      [["qwen-large", "http_200"]],
    );
  });

  /** One ai_bot request while ql1 and ql2 (qwen-large) misbehave as given: its status and log line. */
  const withQwenLarge = async (ql1: SimMode, ql2: SimMode) => {
    await stack.sims.byName("ql1").setMode(ql1);
    await stack.sims.byName("ql2").setMode(ql2);
    try {
      const id = randomUUID();
      const r = await chat(stack.url, {
        headers: { "x-request-id": id, "X-Discourse-AI-Feature": "ai_bot" },
      });
      return { status: r.status, line: await lineFor(id) };
    } finally {
      await stack.sims.byName("ql1").setMode("ok");
      await stack.sims.byName("ql2").setMode("ok");
    }
  };

  it("a fallback lists every attempt with pool, backend and outcome", async () => {
    const { status, line: l } = await withQwenLarge("refuse", "refuse");
    assert.equal(status, 200);
    assert.equal(l.pool, "deepseek-flash");
    assert.equal(l.attempts, 3);
    const list = l.attempt_list as { pool: string; backend: string; outcome: string }[];
    assert.deepEqual(
      list.map((a) => [a.pool, a.outcome]),
      [
        ["qwen-large", "connect_failed"],
        ["qwen-large", "connect_failed"],
        ["deepseek-flash", "http_200"],
      ],
    );
    assert.notEqual(list[0]?.backend, list[1]?.backend, "the second attempt goes to the other backend");
    const m = await metrics();
    assert.ok(
      metricValue(
        m,
        "switchyard_attempt_failures_total",
        `backend="${stack.sims.byName("ql1").address}",reason="connect_failed"`,
      ) >= 1,
    );
  });

  it("a retried status is listed with its code, from Envoy's per-attempt log", async () => {
    const { status, line: l } = await withQwenLarge({ status: 503 }, { status: 429 });
    assert.equal(status, 200);
    const list = l.attempt_list as { pool: string; backend: string; outcome: string }[];
    const byBackend = Object.fromEntries(list.map((a) => [a.backend, a.outcome]));
    assert.deepEqual(byBackend, {
      [stack.sims.byName("ql1").address]: "http_503",
      [stack.sims.byName("ql2").address]: "http_429",
      [l.backend as string]: "http_200",
    });
    assert.equal(list.at(-1)?.pool, "deepseek-flash");
  });

  it("a rejection gets a line and is counted by code", async () => {
    const id = randomUUID();
    const r = await chat(stack.url, { headers: { "x-request-id": id }, raw: "{not json" });
    assert.equal(r.status, 400);
    const l = await lineFor(id);
    assert.equal(l.status, 400);
    assert.equal(l.error, "invalid_json");
    assert.equal(l.pool, null);
    assert.equal(l.attempts, 0);
    assert.ok(metricValue(await metrics(), "switchyard_rejections_total", 'code="invalid_json"') >= 1);
  });

  it("a client that disconnects mid-stream gets a line marked client_disconnected", async () => {
    const id = randomUUID();
    const sim = stack.sims.byName("qs1");
    const other = stack.sims.byName("qs2");
    sim.setTiming({ tokensPerSec: 5, tokens: 50 });
    other.setTiming({ tokensPerSec: 5, tokens: 50 });
    try {
      const body = JSON.stringify({ model: "x", stream: true, messages: [{ role: "user", content: "hi" }] });
      await new Promise<void>((resolve, reject) => {
        const req = request(`${stack.url}/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-request-id": id,
            "X-Discourse-AI-Feature": "translate",
          },
        });
        req.on("response", (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        });
        req.on("error", (e) =>
          e.message.includes("aborted") || e.message.includes("socket hang up") ? resolve() : reject(e),
        );
        req.end(body);
      });
      const l = await lineFor(id);
      assert.equal(l.client_disconnected, true);
      assert.ok((l.response_flags as string[]).includes("DC"), `flags ${JSON.stringify(l.response_flags)}`);
      assert.equal(l.stream, true);
    } finally {
      sim.setTiming({ tokensPerSec: 0, tokens: 8 });
      other.setTiming({ tokensPerSec: 0, tokens: 8 });
    }
  });

  it("metrics move: requests by class/pool/status, TTFT, ext_proc time by phase, policy info", async () => {
    const series = {
      requests: ["switchyard_requests_total", 'class="fast",pool="qwen-small",status="200"'],
      ttft: ["switchyard_ttft_seconds_count", 'class="fast",pool="qwen-small"'],
      router: ["switchyard_extproc_processing_seconds_count", 'phase="router"'],
      upstream: ["switchyard_extproc_processing_seconds_count", 'phase="upstream"'],
    } as const;
    const read = (text: string) =>
      Object.fromEntries(
        Object.entries(series).map(([k, [name, labels]]) => [k, metricValue(text, name, labels)]),
      ) as Record<keyof typeof series, number>;
    const before = read(await metrics());
    for (let i = 0; i < 3; i++) {
      const r = await chat(stack.url, { headers: { "X-Discourse-AI-Feature": "translate" } });
      assert.equal(r.status, 200);
    }
    // A fallback from qwen-large to deepseek-flash: the one attempt that runs the upstream phase.
    const { status, line } = await withQwenLarge("refuse", "refuse");
    assert.equal(status, 200);
    assert.equal(line.pool, "deepseek-flash");
    const after = read(
      await waitUntil(
        "the three fast requests counted",
        metrics,
        (m) => read(m).requests >= before.requests + 3,
      ),
    );
    assert.ok(after.ttft >= before.ttft + 3, `TTFT count ${before.ttft} → ${after.ttft}`);
    assert.ok(after.router >= before.router + 4, `router phase count ${before.router} → ${after.router}`);
    assert.ok(
      after.upstream >= before.upstream + 1,
      `upstream phase count ${before.upstream} → ${after.upstream}`,
    );
    const m = await metrics();
    assert.match(m, /switchyard_policy_info\{hash="[0-9a-f]{12}"\} 1/);
    assert.match(m, /process_resident_memory_bytes/);
  });

  it("/status reflects a backend going down", async () => {
    const dead = stack.sims.byName("ds1");
    await dead.setMode("refuse");
    try {
      // balanced → deepseek-flash first: ds1 takes (and fails) a share of first attempts.
      for (let i = 0; i < 16; i++) assert.equal((await chat(stack.url)).status, 200);
      type B = { address: string; health: string; recent: { error_rate: number } };
      let backend: B | undefined;
      await waitFor("ds1 unhealthy in /status", async () => {
        const status = (await (await fetch(`${stack.sidecarUrl}/status`)).json()) as {
          pools: { name: string; backends: B[] }[];
        };
        backend = status.pools
          .find((p) => p.name === "deepseek-flash")
          ?.backends.find((b) => b.address === dead.address);
        return backend?.health === "unhealthy";
      });
      assert.ok((backend?.recent.error_rate ?? 0) > 0, JSON.stringify(backend));
    } finally {
      await dead.setMode("ok");
    }
  });
});
