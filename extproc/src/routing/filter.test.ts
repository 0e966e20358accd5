// Capability filters: vision (header or image parts), tools, context window; empty steps
// dropped; a rejection names what no pool had.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse, fixtureBody, fixturePolicy } from "../../../test/fixtures/fixtures.js";
import type { HeaderBag } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import type { Decision } from "./decide.js";
import { evaluate, seededRandom } from "./evaluate.js";

const caps = fixturePolicy("capabilities");

function decision(policy: Policy, headers: HeaderBag, body: object | string): Decision {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const ev = evaluate(policy, headers, Buffer.from(text), seededRandom(7));
  if (ev.kind !== "decided") assert.fail(`body rejected: ${ev.error.message}`);
  return ev.decision;
}

function routed(d: Decision) {
  if (d.kind !== "route") assert.fail(`rejected: ${d.error.message}`);
  const ladder = d.ladder.map((step) => step.map((p) => `${p.pool} ${p.weight}`));
  const drops = d.reasons.filter((r) => r.step === "filter").map((r) => r.short);
  return { ladder, path: d.path, drops };
}

function rejected(d: Decision) {
  if (d.kind !== "reject") assert.fail(`routed to ${d.path.join(" → ")}`);
  assert.equal(d.reasons.at(-1)?.short, `reject:${d.error.code}`);
  return { status: d.error.status, code: d.error.code, message: d.error.message };
}

const hello = { model: "m", messages: [{ role: "user", content: "Hello" }] };
/** One message of 4 chars: 4 tokens for the message + 1 for the text. */
const fiveTokens = (extra: object = {}) => ({
  model: "m",
  messages: [{ role: "user", content: "abcd" }],
  ...extra,
});
const image = (url: string) => ({ type: "image_url", image_url: { url } });

describe("vision filter", () => {
  // Seed 7 picks plain in step 1, so step 2 (plain only) adds nothing.
  const unfiltered = { ladder: [["plain 50", "seer 50"], ["plain 1"]], path: ["plain"], drops: [] };
  const visionOnly = {
    ladder: [["seer 50"]],
    path: ["seer"],
    drops: ["drop:plain:vision", "drop:plain:vision"],
  };

  test("mixed, no vision → whole ladder", () => {
    assert.deepEqual(routed(decision(caps, {}, hello)), unfiltered);
  });
  test("mixed/vision header → seer only; the emptied step 2 is dropped", () => {
    assert.deepEqual(routed(decision(caps, { "x-llm-vision": "yes" }, hello)), visionOnly);
  });
  test("mixed/vision header 'no' → whole ladder", () => {
    assert.deepEqual(routed(decision(caps, { "x-llm-vision": "no" }, hello)), unfiltered);
  });
  test("mixed/image_url data URI in a later message (fixture body) → seer only", () => {
    assert.deepEqual(routed(decision(caps, {}, fixtureBody("vision-data-uri"))), visionOnly);
  });
  test("mixed/image part nested after text parts → seer only", () => {
    const body = {
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: [{ type: "text", text: "ok" }] },
        { role: "user", content: [{ type: "text", text: "look" }, image("https://example.com/cat.png")] },
      ],
    };
    assert.deepEqual(routed(decision(caps, {}, body)), visionOnly);
  });
  test("text/vision header → 400 no_capable_pool naming vision", () => {
    assert.deepEqual(rejected(decision(caps, { "x-llm-feature": "text", "x-llm-vision": "1" }, hello)), {
      status: 400,
      code: "no_capable_pool",
      message: "no pool on the 'text' ladder supports vision (image input)",
    });
  });
  test("text/image in body → 400 no_capable_pool naming vision", () => {
    const body = { messages: [{ role: "user", content: [image("data:image/png;base64,AAAA")] }] };
    assert.equal(rejected(decision(caps, { "x-llm-feature": "text" }, body)).code, "no_capable_pool");
  });
  test("discourse: ai_bot/vision → the deepseek-flash step is dropped", () => {
    const d = routed(
      decision(discourse(), { "x-discourse-ai-feature": "ai_bot", "x-discourse-ai-vision": "true" }, hello),
    );
    assert.deepEqual(d, {
      ladder: [["qwen-large 100"], ["qwen-small 100"]],
      path: ["qwen-large", "qwen-small"],
      drops: ["drop:deepseek-flash:vision"],
    });
  });
});

describe("tools filter", () => {
  test("mixed/tools → plain (no tools) dropped", () => {
    const d = routed(decision(caps, {}, fixtureBody("tools")));
    assert.deepEqual(d.ladder, [["seer 50"]]);
    assert.deepEqual(d.drops, ["drop:plain:tools", "drop:plain:tools"]);
  });
  test("mixed/legacy functions → plain dropped", () => {
    const d = routed(decision(caps, {}, { ...hello, functions: [{ name: "f", parameters: {} }] }));
    assert.deepEqual(d.ladder, [["seer 50"]]);
  });
  test("mixed/empty tools list → nothing dropped", () => {
    assert.deepEqual(routed(decision(caps, {}, { ...hello, tools: [] })).drops, []);
  });
  test("text/tools → 400 no_capable_pool naming tools", () => {
    assert.deepEqual(rejected(decision(caps, { "x-llm-feature": "text" }, fixtureBody("tools"))), {
      status: 400,
      code: "no_capable_pool",
      message: "no pool on the 'text' ladder supports tools (function calling)",
    });
  });
  test("mixed/vision+tools → seer; plain dropped once per step with both names", () => {
    const d = routed(decision(caps, { "x-llm-vision": "1" }, fixtureBody("tools")));
    assert.deepEqual(d.drops, ["drop:plain:vision+tools", "drop:plain:vision+tools"]);
  });
  test("split/vision+tools → 400: each exists, never together", () => {
    assert.deepEqual(
      rejected(decision(caps, { "x-llm-feature": "split", "x-llm-vision": "1" }, fixtureBody("tools"))),
      {
        status: 400,
        code: "no_capable_pool",
        message:
          "no pool on the 'split' ladder supports vision (image input) and tools (function calling) together",
      },
    );
  });
  test("split/tools → hands only", () => {
    const d = routed(decision(caps, { "x-llm-feature": "split" }, fixtureBody("tools")));
    assert.deepEqual(d, { ladder: [["hands 1"]], path: ["hands"], drops: ["drop:eyes:tools"] });
  });
});

describe("context window filter (prompt estimate + max_tokens)", () => {
  // plain: 4096 tokens, seer: 8192; the body's prompt estimate is 5 tokens.
  test("5 + 4091 = 4096 fits plain exactly → nothing dropped", () => {
    assert.deepEqual(routed(decision(caps, {}, fiveTokens({ max_tokens: 4091 }))).drops, []);
  });
  test("5 + 4092 = 4097 → plain dropped from both steps", () => {
    const d = routed(decision(caps, {}, fiveTokens({ max_tokens: 4092 })));
    assert.deepEqual(d, {
      ladder: [["seer 50"]],
      path: ["seer"],
      drops: ["drop:plain:context", "drop:plain:context"],
    });
  });
  test("max_completion_tokens counts the same way", () => {
    assert.deepEqual(routed(decision(caps, {}, fiveTokens({ max_completion_tokens: 4092 }))).ladder, [
      ["seer 50"],
    ]);
  });
  test("a long prompt alone (no max_tokens) → plain dropped", () => {
    const long = { messages: [{ role: "user", content: "x".repeat(4100 * 4) }] };
    assert.deepEqual(routed(decision(caps, {}, long)).ladder, [["seer 50"]]);
  });
  test("5 + 8187 = 8192 fits seer exactly", () => {
    assert.deepEqual(routed(decision(caps, {}, fiveTokens({ max_tokens: 8187 }))).path, ["seer"]);
  });
  test("5 + 8188 → 400 context_length_exceeded with the numbers", () => {
    assert.deepEqual(rejected(decision(caps, {}, fiveTokens({ max_tokens: 8188 }))), {
      status: 400,
      code: "context_length_exceeded",
      message:
        "the request needs about 8193 tokens (prompt estimate plus max_tokens), more than the largest context window (8192) on the 'mixed' ladder",
    });
  });
  test("split (no context_window declared) takes any size", () => {
    const d = routed(decision(caps, { "x-llm-feature": "split" }, fiveTokens({ max_tokens: 10_000_000 })));
    assert.deepEqual(d.drops, []);
  });
  test("mixed/vision + 4097 tokens → seer (vision and context both drop plain)", () => {
    const d = routed(decision(caps, { "x-llm-vision": "1" }, fiveTokens({ max_tokens: 4092 })));
    assert.deepEqual(d.drops, ["drop:plain:vision+context", "drop:plain:vision+context"]);
  });
  test("text/vision + too long → 400 no_capable_pool (vision is named, not context)", () => {
    const d = rejected(
      decision(caps, { "x-llm-feature": "text", "x-llm-vision": "1" }, fiveTokens({ max_tokens: 5000 })),
    );
    assert.equal(d.message, "no pool on the 'text' ladder supports vision (image input)");
  });
});
