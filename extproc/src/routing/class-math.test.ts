// Class math, rule by rule: base from the feature, tier, trial, quota bands, clamp, cap, floor.
// Each case names the request ("feature/modifier → class") and pins the class and the trace.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse, fixturePolicy, loadPolicy } from "../../../test/fixtures/fixtures.js";
import type { HeaderBag } from "../facts/types.js";
import { compilePolicy, type Policy } from "../policy/compile.js";
import { evaluate, seededRandom } from "./evaluate.js";

const BODY = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

/** The class and the trace up to and including the class step (facts notes first). */
function classOf(policy: Policy, headers: HeaderBag): { cls: string; reasons: string[] } {
  const ev = evaluate(policy, headers, Buffer.from(BODY), seededRandom(1));
  if (ev.kind !== "decided") assert.fail(`body rejected: ${ev.error.message}`);
  const shorts = ev.decision.reasons.map((r) => r.short);
  const end = shorts.findIndex((s) => s.startsWith("class:"));
  assert.ok(end >= 0, `no class step in ${shorts.join(", ")}`);
  return { cls: ev.decision.className, reasons: shorts.slice(0, end + 1) };
}

interface Case {
  name: string;
  headers: Record<string, string>;
  cls: string;
  reasons: string[];
}

function runCases(policyOf: () => Policy, prefix: string, cases: Case[]) {
  const policy = policyOf();
  for (const c of cases) {
    test(c.name, () => {
      const bag: Record<string, string> = {};
      for (const [k, v] of Object.entries(c.headers)) bag[`${prefix}${k}`] = v;
      const got = classOf(policy, bag);
      assert.deepEqual(got, { cls: c.cls, reasons: c.reasons });
    });
  }
}

describe("class math: examples/discourse.yml (fast < balanced < frontier)", () => {
  const q = (quota: string, cls: string, reasons: string[]): Case => ({
    name: `ai_bot/quota ${JSON.stringify(quota)} → ${cls}`,
    headers: { feature: "ai_bot", "quota-used": quota },
    cls,
    reasons,
  });
  const trial = (value: string, cls: string, reasons: string[]): Case => ({
    name: `ai_bot/trial ${JSON.stringify(value)} → ${cls}`,
    headers: { feature: "ai_bot", trial: value },
    cls,
    reasons,
  });
  runCases(discourse, "x-discourse-ai-", [
    // Base class.
    {
      name: "ai_bot → frontier",
      headers: { feature: "ai_bot" },
      cls: "frontier",
      reasons: ["feature:ai_bot", "class:frontier"],
    },
    {
      name: "summarize → balanced",
      headers: { feature: "summarize" },
      cls: "balanced",
      reasons: ["feature:summarize", "class:balanced"],
    },
    {
      name: "translate → fast",
      headers: { feature: "translate" },
      cls: "fast",
      reasons: ["feature:translate", "class:fast"],
    },
    {
      name: "AI_BOT (any case) → frontier",
      headers: { feature: " AI_Bot " },
      cls: "frontier",
      reasons: ["feature:ai_bot", "class:frontier"],
    },
    {
      name: "unknown feature → balanced (default)",
      headers: { feature: "poetry" },
      cls: "balanced",
      reasons: ["feature:unknown", "class:balanced"],
    },
    {
      name: "no feature → balanced (default)",
      headers: {},
      cls: "balanced",
      reasons: ["feature:none", "class:balanced"],
    },
    {
      name: "empty feature → balanced (default)",
      headers: { feature: "" },
      cls: "balanced",
      reasons: ["feature:none", "class:balanced"],
    },
    // Tier.
    {
      name: "summarize/paid → frontier",
      headers: { feature: "summarize", tier: "paid" },
      cls: "frontier",
      reasons: ["feature:summarize", "tier:paid+1", "class:frontier"],
    },
    {
      name: "summarize/PAID → frontier",
      headers: { feature: "summarize", tier: "PAID" },
      cls: "frontier",
      reasons: ["feature:summarize", "tier:paid+1", "class:frontier"],
    },
    {
      name: "summarize/free → balanced",
      headers: { feature: "summarize", tier: "free" },
      cls: "balanced",
      reasons: ["feature:summarize", "tier:free+0", "class:balanced"],
    },
    {
      name: "summarize/gold (unknown tier) → balanced",
      headers: { feature: "summarize", tier: "gold" },
      cls: "balanced",
      reasons: ["feature:summarize", "tier:unknown", "class:balanced"],
    },
    // Trial.
    trial("true", "balanced", ["feature:ai_bot", "trial-1", "class:balanced"]),
    trial("1", "balanced", ["feature:ai_bot", "trial-1", "class:balanced"]),
    trial("yes", "balanced", ["feature:ai_bot", "trial-1", "class:balanced"]),
    trial("on", "balanced", ["feature:ai_bot", "trial-1", "class:balanced"]),
    trial(" TRUE ", "balanced", ["feature:ai_bot", "trial-1", "class:balanced"]),
    trial("false", "frontier", ["feature:ai_bot", "class:frontier"]),
    trial("0", "frontier", ["feature:ai_bot", "class:frontier"]),
    trial("off", "frontier", ["feature:ai_bot", "class:frontier"]),
    trial("", "frontier", ["feature:ai_bot", "class:frontier"]),
    trial("maybe", "frontier", ["trial:ignored", "feature:ai_bot", "class:frontier"]),
    // Quota: a band applies when the value is strictly above it; the highest such band wins.
    q("80", "frontier", ["feature:ai_bot", "class:frontier"]),
    q("80.5", "balanced", ["feature:ai_bot", "quota>80-1", "class:balanced"]),
    q("150", "balanced", ["feature:ai_bot", "quota>80-1", "class:balanced"]),
    q("151", "fast", ["feature:ai_bot", "quota>150-2", "class:fast"]),
    q("87%", "balanced", ["feature:ai_bot", "quota>80-1", "class:balanced"]),
    q(" 87 ", "balanced", ["feature:ai_bot", "quota>80-1", "class:balanced"]),
    q("0", "frontier", ["feature:ai_bot", "class:frontier"]),
    q("-3", "frontier", ["quota:ignored", "feature:ai_bot", "class:frontier"]),
    q("abc", "frontier", ["quota:ignored", "feature:ai_bot", "class:frontier"]),
    q("1e9", "frontier", ["quota:ignored", "feature:ai_bot", "class:frontier"]),
    q("0x10", "frontier", ["quota:ignored", "feature:ai_bot", "class:frontier"]),
    q("87 %", "frontier", ["quota:ignored", "feature:ai_bot", "class:frontier"]),
    q("", "frontier", ["quota:ignored", "feature:ai_bot", "class:frontier"]),
    // Stacking, clamping, cap.
    {
      name: "summarize/paid/trial → balanced",
      headers: { feature: "summarize", tier: "paid", trial: "yes" },
      cls: "balanced",
      reasons: ["feature:summarize", "tier:paid+1", "trial-1", "class:balanced"],
    },
    {
      name: "ai_bot/paid/quota 151 → balanced",
      headers: { feature: "ai_bot", tier: "paid", "quota-used": "151" },
      cls: "balanced",
      reasons: ["feature:ai_bot", "tier:paid+1", "quota>150-2", "class:balanced"],
    },
    {
      name: "ai_bot/paid → frontier (clamped at the top)",
      headers: { feature: "ai_bot", tier: "paid" },
      cls: "frontier",
      reasons: ["feature:ai_bot", "tier:paid+1", "clamp:frontier", "class:frontier"],
    },
    {
      name: "summarize/trial/quota 151 → fast (clamped at the bottom)",
      headers: { feature: "summarize", trial: "1", "quota-used": "151" },
      cls: "fast",
      reasons: ["feature:summarize", "trial-1", "quota>150-2", "clamp:fast", "class:fast"],
    },
    {
      name: "translate/paid → fast (capped)",
      headers: { feature: "translate", tier: "paid" },
      cls: "fast",
      reasons: ["feature:translate", "tier:paid+1", "cap:fast", "class:fast"],
    },
    {
      name: "translate/trial → fast (clamped; the cap does not bind)",
      headers: { feature: "translate", trial: "on" },
      cls: "fast",
      reasons: ["feature:translate", "trial-1", "clamp:fast", "class:fast"],
    },
  ]);
});

describe("class math: five classes, cap and floor (test/fixtures/policies/five-classes.yml)", () => {
  const c = (name: string, headers: Record<string, string>, cls: string, reasons: string[]): Case => ({
    name,
    headers,
    cls,
    reasons,
  });
  runCases(() => fixturePolicy("five-classes"), "x-llm-", [
    c("boxed → medium", { feature: "boxed" }, "medium", ["feature:boxed", "class:medium"]),
    c("boxed/paid → large (at the cap)", { feature: "boxed", tier: "paid" }, "large", [
      "feature:boxed",
      "tier:paid+1",
      "class:large",
    ]),
    c("boxed/vip → large (clamp, then cap)", { feature: "boxed", tier: "vip" }, "large", [
      "feature:boxed",
      "tier:vip+3",
      "clamp:huge",
      "cap:large",
      "class:large",
    ]),
    c("boxed/free → small (floor)", { feature: "boxed", tier: "free" }, "small", [
      "feature:boxed",
      "tier:free-2",
      "floor:small",
      "class:small",
    ]),
    c(
      "boxed/free/trial → small (clamp, then floor)",
      { feature: "boxed", tier: "free", trial: "1" },
      "small",
      ["feature:boxed", "tier:free-2", "trial-1", "clamp:tiny", "floor:small", "class:small"],
    ),
    c(
      "boxed/quota 91 → small (highest band, clamp, floor)",
      { feature: "boxed", "quota-used": "91" },
      "small",
      ["feature:boxed", "quota>90-3", "clamp:tiny", "floor:small", "class:small"],
    ),
    c("top/quota 90 → large (90 is not above 90)", { feature: "top", "quota-used": "90" }, "large", [
      "feature:top",
      "quota>50-1",
      "class:large",
    ]),
    c("top/quota 95 → small", { feature: "top", "quota-used": "95" }, "small", [
      "feature:top",
      "quota>90-3",
      "class:small",
    ]),
    c("top/quota 50 → huge", { feature: "top", "quota-used": "50" }, "huge", ["feature:top", "class:huge"]),
    c("top/vip → huge (clamped)", { feature: "top", tier: "vip" }, "huge", [
      "feature:top",
      "tier:vip+3",
      "clamp:huge",
      "class:huge",
    ]),
    c("bottom/free → tiny (clamped)", { feature: "bottom", tier: "free" }, "tiny", [
      "feature:bottom",
      "tier:free-2",
      "clamp:tiny",
      "class:tiny",
    ]),
    c("no feature/vip → huge (default medium, clamped)", { tier: "vip" }, "huge", [
      "feature:none",
      "tier:vip+3",
      "clamp:huge",
      "class:huge",
    ]),
  ]);

  test("boxed: the floor is applied after the cap (a compiled policy with floor above cap)", () => {
    // The loader rejects floor above cap; compiling directly shows the order: cap, then floor.
    const doc = structuredClone(fixturePolicy("five-classes").doc);
    doc.features.boxed = { class: "medium", cap: "small", floor: "large" };
    const got = classOf(compilePolicy(doc, "inline"), { "x-llm-feature": "boxed" });
    assert.deepEqual(got, {
      cls: "large",
      reasons: ["feature:boxed", "cap:small", "floor:large", "class:large"],
    });
  });
});

describe("class math: examples/minimal.yml (no modifiers)", () => {
  test("trial/unknown tier → default (no trial shift configured, no reason)", () => {
    const got = classOf(loadPolicy("examples/minimal.yml"), { "x-llm-trial": "true", "x-llm-tier": "paid" });
    assert.deepEqual(got, { cls: "default", reasons: ["feature:none", "tier:unknown", "class:default"] });
  });
});
