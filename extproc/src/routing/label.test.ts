// The classifier's label as a fact of the pure decision: it sets the base class when no header
// does (no feature, or a class: auto feature), and everything after the base applies as always.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  classifierYaml,
  HEURISTIC_YAML,
  policyWithClassifier,
} from "../../../test/fixtures/classifier-set.js";
import { readFacts } from "../facts/read-facts.js";
import type { HeaderBag, LabelFact } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { parsePolicy } from "../policy/load.js";
import { needsLabel } from "./class-math.js";
import { evaluate, seededRandom } from "./evaluate.js";

function load(text: string): Policy {
  const r = parsePolicy(text, {});
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("\n"));
  return r.policy;
}

const policy = load(
  policyWithClassifier(classifierYaml("heuristic", HEURISTIC_YAML)).replace(
    "ladders:",
    "modifiers: { tiers: { paid: 1, free: -1 } }\nladders:",
  ),
);
const body = (model = "x") => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });

function decide(headers: HeaderBag, label?: LabelFact, model?: string) {
  const ev = evaluate(policy, headers, Buffer.from(body(model)), seededRandom(1), undefined, label);
  if (ev.kind !== "decided") assert.fail(ev.error.message);
  return {
    cls: ev.decision.className,
    base: ev.decision.base,
    reasons: ev.decision.reasons.map((r) => r.short),
  };
}

const HC: LabelFact = { name: "high-compute", source: "embeddings" };
const FAST: LabelFact = { name: "fast-path", source: "cache" };

describe("the label in the decision", () => {
  const cases: [string, HeaderBag, LabelFact | undefined, string, string, string[]][] = [
    ["no feature + high-compute → frontier", {}, HC, "frontier", "label", ["label:high-compute:embeddings"]],
    ["no feature + fast-path (cache) → fast", {}, FAST, "fast", "label", ["label:fast-path:cache"]],
    [
      "no feature + high-compute + tier free → balanced (modifiers after)",
      { "x-llm-tier": "free" },
      HC,
      "balanced",
      "label",
      ["tier:free-1"],
    ],
    [
      "no feature + fast-path + tier paid → balanced",
      { "x-llm-tier": "paid" },
      FAST,
      "balanced",
      "label",
      ["tier:paid+1"],
    ],
    [
      "composer (auto, cap balanced) + high-compute → balanced (capped)",
      { "x-feature": "composer" },
      HC,
      "balanced",
      "label",
      ["feature:composer", "label:high-compute:embeddings", "cap:balanced"],
    ],
    [
      "composer + fast-path → fast",
      { "x-feature": "composer" },
      FAST,
      "fast",
      "label",
      ["label:fast-path:cache"],
    ],
    [
      "composer without a label → default_class",
      { "x-feature": "composer" },
      undefined,
      "balanced",
      "default",
      ["label:none"],
    ],
    [
      "ai_bot + a label → frontier from the feature, the label unused",
      { "x-feature": "ai_bot" },
      FAST,
      "frontier",
      "feature",
      ["feature:ai_bot"],
    ],
    [
      "a fallback label says why",
      {},
      { name: "general", source: "fallback", why: "timeout" },
      "balanced",
      "label",
      ["classify:timeout", "label:general:fallback"],
    ],
  ];
  for (const [name, headers, label, cls, base, has] of cases) {
    test(name, () => {
      const d = decide(headers, label);
      assert.equal(d.cls, cls, d.reasons.join(" "));
      assert.equal(d.base, base);
      for (const r of has) assert.ok(d.reasons.includes(r), `${r} in ${d.reasons.join(" ")}`);
      if (base !== "label") assert.ok(!d.reasons.some((r) => r.startsWith("label:") && r !== "label:none"));
    });
  }
});

describe("needsLabel: when the router asks the classifier", () => {
  const facts = (headers: HeaderBag, model = "x") => readFacts(policy, headers, JSON.parse(body(model)), 0);
  const cases: [string, HeaderBag, string, boolean][] = [
    ["no feature header", {}, "x", true],
    ["a class: auto feature", { "x-feature": "composer" }, "x", true],
    ["a feature with a class", { "x-feature": "ai_bot" }, "x", false],
    ["an unknown feature (default_class, as without a classifier)", { "x-feature": "nope" }, "x", false],
    ["a class model", {}, "switchyard/fast", false],
    ["model auto", {}, "auto", true],
  ];
  for (const [name, headers, model, want] of cases)
    test(name, () => assert.equal(needsLabel(policy, facts(headers, model)), want));

  test("never without a classifier", () => {
    const plain = load(policyWithClassifier("").replace("  composer: { class: auto, cap: balanced }\n", ""));
    assert.equal(needsLabel(plain, readFacts(plain, {}, JSON.parse(body()), 0)), false);
  });

  test("the label header: a declared label is a fact; anything else is noted and ignored", () => {
    assert.equal(facts({ "x-llm-label": " High-Compute " }).headers.label, "high-compute");
    const f = facts({ "x-llm-label": "huge" });
    assert.equal(f.headers.label, undefined);
    assert.deepEqual(
      f.notes.map((n) => n.short),
      ["label:ignored"],
    );
  });
});
