// Class-named models: `switchyard/<class>` and policy aliases set the base class (the feature
// keeps its cap and floor); `auto`, unknown names and served names leave the base to the
// feature header or default_class; an untrusted caller's class model counts for nothing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse } from "../../../test/fixtures/fixtures.js";
import type { HeaderBag } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { parsePolicy } from "../policy/load.js";
import { modelList } from "../policy/models.js";
import { evaluate, seededRandom } from "./evaluate.js";

function classOf(policy: Policy, model: unknown, headers: HeaderBag = {}, source?: string) {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
  const ev = evaluate(policy, headers, Buffer.from(body), seededRandom(1), source);
  if (ev.kind !== "decided") assert.fail(ev.error.message);
  const shorts = ev.decision.reasons.map((r) => r.short);
  return { cls: ev.decision.className, base: ev.decision.base, reasons: shorts };
}

describe("class models: examples/discourse.yml", () => {
  const p = discourse();
  const F = "x-discourse-ai-feature";
  const cases: [string, unknown, Record<string, string>, string, string, string][] = [
    [
      "switchyard/frontier → frontier",
      "switchyard/frontier",
      {},
      "frontier",
      "model",
      "model:switchyard/frontier",
    ],
    ["switchyard/fast → fast", "switchyard/fast", {}, "fast", "model", "model:switchyard/fast"],
    [
      "switchyard/fast + ai_bot → fast (model wins the base)",
      "switchyard/fast",
      { [F]: "ai_bot" },
      "fast",
      "model",
      "model:switchyard/fast",
    ],
    [
      "switchyard/frontier + translate → fast (the feature's cap holds)",
      "switchyard/frontier",
      { [F]: "translate" },
      "fast",
      "model",
      "cap:fast",
    ],
    ["alias gpt-4o-mini → fast", "gpt-4o-mini", {}, "fast", "model", "model:gpt-4o-mini"],
    ["auto → default_class", "auto", {}, "balanced", "default", "feature:none"],
    [
      "auto + ai_bot → frontier (the feature decides)",
      "auto",
      { [F]: "ai_bot" },
      "frontier",
      "feature",
      "feature:ai_bot",
    ],
    ["unknown model → default_class", "gpt-9", {}, "balanced", "default", "feature:none"],
    [
      "a pool's served name → default_class (names no class)",
      "Qwen/Qwen3-VL-8B-Instruct",
      {},
      "balanced",
      "default",
      "feature:none",
    ],
    ["model not a string → default_class", 42, {}, "balanced", "default", "feature:none"],
    [
      "switchyard/frontier + paid → frontier (clamped)",
      "switchyard/frontier",
      { "x-discourse-ai-tier": "paid" },
      "frontier",
      "model",
      "clamp:frontier",
    ],
    [
      "switchyard/balanced + trial → fast (modifiers apply after the base)",
      "switchyard/balanced",
      { "x-discourse-ai-trial": "true" },
      "fast",
      "model",
      "trial-1",
    ],
  ];
  for (const [name, model, headers, cls, base, token] of cases) {
    test(name, () => {
      const got = classOf(p, model, headers, "127.0.0.1");
      assert.equal(got.cls, cls, got.reasons.join(" "));
      assert.equal(got.base, base);
      assert.ok(got.reasons.includes(token), `${token} in ${got.reasons.join(" ")}`);
    });
  }
  test("an untrusted caller's class model is ignored (model:untrusted, default class)", () => {
    const got = classOf(p, "switchyard/frontier", {}, "203.0.113.9");
    assert.deepEqual([got.cls, got.base], ["balanced", "default"]);
    assert.deepEqual(got.reasons.slice(0, 3), ["trust:untrusted", "model:untrusted", "feature:none"]);
  });
  test("GET /v1/models lists auto, then one model per class", () => {
    const ids = (modelList(p.doc) as { data: { id: string }[] }).data.map((m) => m.id);
    assert.deepEqual(ids, ["auto", "switchyard/fast", "switchyard/balanced", "switchyard/frontier"]);
  });
});

describe("models section checks", () => {
  const BASE = `version: 1
classes: [fast, big]
default_class: fast
ladders: { fast: [{ p: 1 }], big: [{ p: 1 }] }
pools: { p: { served_model: m, backends: [{ address: "127.0.0.1:1" }] } }
`;
  const problems = (yaml: string) => {
    const r = parsePolicy(`${BASE}${yaml}`);
    return [...(r.ok ? [] : r.errors), ...r.warnings]
      .filter((e) => e.path[0] === "models")
      .map((e) => `${e.severity}: ${e.path.join(".")}: ${e.message}`);
  };
  test("an alias must name a class", () =>
    assert.deepEqual(problems("models: { aliases: { gpt-4o: huge } }"), [
      "error: models.aliases.gpt-4o: 'huge' is not a class; classes: fast, big",
    ]));
  test("an alias may not shadow a class id or auto", () =>
    assert.deepEqual(problems("models: { aliases: { auto: big, switchyard/fast: big } }"), [
      "error: models.aliases.auto: 'auto' is already the automatic model",
      "error: models.aliases.switchyard/fast: 'switchyard/fast' is already a class's model id",
    ]));
  test("prefix '' makes class names the ids; a served name equal to one warns", () =>
    assert.deepEqual(problems("models: { prefix: '', aliases: { m: big } }"), [
      "warning: models: 'm' is also a pool's served_model: a request naming it gets a class, not that pool",
    ]));
  test("a prefix that makes a class id 'auto' is an error", () => {
    const renamed = BASE.replace("[fast, big]", "[auto, big]")
      .replace("default_class: fast", "default_class: auto")
      .replace("fast: [{ p: 1 }]", "auto: [{ p: 1 }]");
    const r = parsePolicy(`${renamed}models: { prefix: '' }\n`);
    assert.equal(r.ok, false);
  });
});
