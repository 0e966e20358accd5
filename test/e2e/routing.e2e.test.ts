// Router-level processing through a real Envoy: route selection, per-pool bodies, decision
// headers, and OpenAI-style errors for bad input.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture, type Stack, startStack } from "./harness.js";

describe("routing through Envoy", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() });
  });
  after(async () => {
    await stack?.stop();
  });

  const servedBy = (pool: string[]) => (h: Headers) => pool.includes(h.get("x-sim-backend") ?? "");

  it("ai_bot → frontier → qwen-large, with the body adapted for the qwen3 template", async () => {
    const r = await chat(stack.url, {
      headers: { "X-Discourse-AI-Feature": "ai_bot" },
      body: {
        model: "whatever",
        messages: [{ role: "user", content: "hi" }],
        reasoning_effort: "medium",
        max_tokens: 100,
        seed: 7,
      },
    });
    assert.equal(r.status, 200, stack.logs());
    assert.ok(servedBy(["ql1", "ql2"])(r.headers), `served by ${r.headers.get("x-sim-backend")}`);
    assert.equal(r.headers.get("x-switchyard-class"), "frontier");
    assert.equal(r.headers.get("x-switchyard-pool"), "qwen-large");
    const sim = stack.sims.byName(r.headers.get("x-sim-backend") as string);
    const body = sim.received.at(-1)?.body as Record<string, unknown>;
    assert.equal(body.model, "Qwen/Qwen3-VL-235B-A22B-Instruct");
    assert.deepEqual(body.chat_template_kwargs, { enable_thinking: true });
    assert.equal(body.thinking_token_budget, 2048);
    assert.equal(body.max_tokens, 2148);
    assert.equal(body.seed, 7, "unknown fields survive");
    assert.equal("reasoning_effort" in body, false, "qwen-large does not forward reasoning_effort");
  });

  it("translate/paid stays fast (capped) → qwen-small", async () => {
    const r = await chat(stack.url, {
      headers: { "x-discourse-ai-feature": "translate", "X-Discourse-AI-Tier": "paid" },
    });
    assert.equal(r.status, 200, stack.logs());
    assert.ok(servedBy(["qs1", "qs2"])(r.headers));
    assert.equal(r.headers.get("x-switchyard-class"), "fast");
  });

  it("no feature → balanced → deepseek-flash, with deepseek's reasoning fields", async () => {
    const r = await chat(stack.url, {
      body: {
        model: "x",
        messages: [{ role: "user", content: "hi" }],
        reasoning_effort: "high",
        chat_template_kwargs: { keep: 1 },
      },
    });
    assert.equal(r.status, 200, stack.logs());
    assert.ok(servedBy(["ds1", "ds2"])(r.headers));
    const sim = stack.sims.byName(r.headers.get("x-sim-backend") as string);
    const body = sim.received.at(-1)?.body as Record<string, unknown>;
    assert.equal(body.model, "deepseek-ai/DeepSeek-V4-Flash");
    assert.deepEqual(body.chat_template_kwargs, { keep: 1, thinking: true, reasoning_effort: "high" });
  });

  it("an image in the body skips the non-vision pool", async () => {
    const image = { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } };
    const r = await chat(stack.url, {
      body: {
        model: "x",
        messages: [{ role: "user", content: [{ type: "text", text: "what is it" }, image] }],
      },
    });
    assert.equal(r.status, 200, stack.logs());
    assert.ok(servedBy(["qs1", "qs2"])(r.headers), "balanced without deepseek-flash falls to qwen-small");
  });

  it("a 5 MB vision body is served (buffer limits follow the policy)", async () => {
    const big = "A".repeat(5 * 1024 * 1024);
    const image = { type: "image_url", image_url: { url: `data:image/png;base64,${big}` } };
    const r = await chat(stack.url, {
      headers: { "X-Discourse-AI-Feature": "ai_bot" },
      body: { model: "x", messages: [{ role: "user", content: [image] }] },
    });
    assert.equal(r.status, 200, `${r.text}\n${stack.logs()}`);
    const sim = stack.sims.byName(r.headers.get("x-sim-backend") as string);
    const body = sim.received.at(-1)?.body as { messages: { content: { image_url: { url: string } }[] }[] };
    assert.equal(
      body.messages[0]?.content[0]?.image_url.url.length,
      big.length + "data:image/png;base64,".length,
    );
  });

  const expectError = async (
    r: { status: number; text: string; headers: Headers },
    status: number,
    code: string,
  ) => {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const err = JSON.parse(r.text) as { error: { message: string; type: string; code: string } };
    assert.equal(err.error.code, code);
    assert.equal(typeof err.error.message, "string");
    assert.ok(err.error.message.length > 0);
    assert.equal(typeof err.error.type, "string");
    return err.error;
  };

  it("invalid JSON → 400 invalid_json", async () => {
    await expectError(await chat(stack.url, { raw: "{nope" }), 400, "invalid_json");
  });

  it("a JSON array → 400 body_not_object", async () => {
    await expectError(await chat(stack.url, { raw: "[1,2]" }), 400, "body_not_object");
  });

  it("a request no pool can hold → 400 context_length_exceeded, decided by switchyard", async () => {
    const r = await chat(stack.url, {
      headers: { "X-Discourse-AI-Feature": "ai_bot" },
      body: { model: "x", messages: [{ role: "user", content: "hi" }], max_tokens: 200_000 },
    });
    const err = await expectError(r, 400, "context_length_exceeded");
    assert.match(err.message, /context window/);
    assert.equal(r.headers.get("x-switchyard-class"), "frontier");
  });

  it("a body over limits.max_body_bytes → 413 as JSON from Envoy", async () => {
    const raw = JSON.stringify({
      model: "x",
      messages: [{ role: "user", content: "A".repeat(9 * 1024 * 1024) }],
    });
    await expectError(await chat(stack.url, { raw }), 413, "body_too_large");
  });

  it("other paths → 404 JSON without touching a backend", async () => {
    const res = await fetch(`${stack.url}/v1/embeddings`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");
  });
});
