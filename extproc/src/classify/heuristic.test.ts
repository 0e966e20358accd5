// The heuristic classifier: the labelled set, each condition, scores, ties and min_score.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  classifierYaml,
  HEURISTIC_YAML,
  LABELLED,
  policyWithClassifier,
} from "../../../test/fixtures/classifier-set.js";
import { readFacts } from "../facts/read-facts.js";
import type { Policy } from "../policy/compile.js";
import { parsePolicy } from "../policy/load.js";
import type { Labelled } from "./classifier.js";
import { buildClassifier } from "./classifiers.js";
import { compileHeuristic, keywordRegex } from "./heuristic.js";

function load(classifier: string): Policy {
  const r = parsePolicy(policyWithClassifier(classifier), {});
  if (!r.ok) assert.fail(r.errors.map((e) => `${e.path.join(".")}: ${e.message}`).join("\n"));
  return r.policy;
}

const chat = (text: string, extra: Record<string, unknown> = {}) => ({
  model: "x",
  messages: [{ role: "user", content: text }],
  ...extra,
});

function labelOf(policy: Policy, body: Record<string, unknown>): Labelled {
  const c = buildClassifier(policy);
  assert.ok(c);
  const out = c.label(body, readFacts(policy, {}, body, 0));
  assert.ok(!(out instanceof Promise), "the heuristic answers at once");
  return out;
}

describe("heuristic classifier", () => {
  const policy = load(classifierYaml("heuristic", HEURISTIC_YAML));

  test(`the labelled set: ${LABELLED.length} prompts, every one right`, () => {
    assert.ok(LABELLED.length >= 30);
    const wrong = LABELLED.filter(([text, want]) => labelOf(policy, chat(text)).name !== want).map(
      ([t]) => t,
    );
    assert.deepEqual(wrong, []);
    assert.equal(labelOf(policy, chat("hello")).source, "heuristic");
  });

  test("tools and conversation depth add their scores", () => {
    const tools = { tools: [{ type: "function", function: { name: "f" } }] };
    const text = "please answer the following thing for me quite soon, ok?"; // 57 chars
    assert.deepEqual(labelOf(policy, chat(text)).scores, [1, 1.5, 0]);
    assert.deepEqual(labelOf(policy, chat(text, tools)).scores, [1, 2.5, 0]);
    const deep = Array.from({ length: 12 }, (_, i) => ({
      role: i % 2 ? "assistant" : "user",
      content: "ok",
    }));
    deep.push({ role: "user", content: "hm" });
    assert.equal(labelOf(policy, { model: "x", messages: deep }).scores?.[2], 1);
  });

  test("no rule reaching min_score → the fallback label, no_match", () => {
    const p = load(
      classifierYaml(
        "heuristic",
        "  heuristic:\n    min_score: 2\n    rules: [{ label: fast-path, max_chars: 10 }]\n",
      ),
    );
    const l = labelOf(p, chat("a longer text than ten characters"));
    assert.deepEqual([l.name, l.source, l.why], ["general", "fallback", "no_match"]);
  });

  test("the last user message is what is classified; text parts count", () => {
    const body = {
      model: "x",
      messages: [
        { role: "user", content: "prove this theorem" },
        { role: "assistant", content: "ok" },
        { role: "user", content: [{ type: "text", text: "hello" }] },
      ],
    };
    assert.equal(labelOf(policy, body).name, "fast-path");
  });

  test("ties go to the label listed first; a negative score takes away", () => {
    const h = compileHeuristic(
      {
        min_score: 1,
        rules: [
          { label: "b", score: 2, keywords: ["x"] },
          { label: "a", score: 2, keywords: ["x"] },
          { label: "a", score: -5, regex: "^no" },
        ],
      },
      ["a", "b"],
    );
    const input = (text: string) => ({ text, messages: 1, hasTools: false, promptTokens: 1 });
    assert.equal(h(input("x")).label, 0);
    assert.equal(h(input("no x")).label, 1);
  });

  test("keywords match whole words and phrases, any case, across whitespace", () => {
    const re = keywordRegex([["sum", "step by step", "c++"]]);
    assert.ok(re.test("What is the SUM?"));
    assert.ok(!re.test("a summary"));
    assert.ok(re.test("go step  by\nstep"));
    assert.ok(re.test("in C++ please"));
  });

  test("code and math detection", () => {
    const h = compileHeuristic(
      {
        min_score: 1,
        rules: [
          { label: "code", score: 1, code: true },
          { label: "math", score: 1, math: true },
        ],
      },
      ["code", "math"],
    );
    const lab = (text: string) => h({ text, messages: 1, hasTools: false, promptTokens: 1 }).scores;
    assert.deepEqual(lab("```\nx\n```"), [1, 0]);
    assert.deepEqual(lab("import os\nprint(1)"), [1, 0]);
    assert.deepEqual(lab("SELECT * FROM t"), [1, 0]);
    assert.deepEqual(lab("\\frac{a}{b}"), [0, 1]);
    assert.deepEqual(lab("x^2 + 1"), [0, 1]);
    assert.deepEqual(lab("2 + 2 = 4"), [0, 1]);
    assert.deepEqual(lab("∑ over i"), [0, 1]);
    assert.deepEqual(lab("just words, class of 2024"), [0, 0]);
  });
});

describe("heuristic keyword lists", () => {
  test("lists that share words or overlap in the text are each found", () => {
    const h = compileHeuristic(
      {
        min_score: 1,
        rules: [
          { label: "a", score: 1, keywords: ["step by"] },
          { label: "b", score: 1, keywords: ["by step"] },
          { label: "c", score: 1, keywords: ["step"] },
          { label: "d", score: 1, keywords: ["step by", "zzz"] },
        ],
      },
      ["a", "b", "c", "d"],
    );
    assert.deepEqual(
      h({ text: "go step by step", messages: 1, hasTools: false, promptTokens: 1 }).scores,
      [1, 1, 1, 1],
    );
    assert.deepEqual(
      h({ text: "stepby", messages: 1, hasTools: false, promptTokens: 1 }).scores,
      [0, 0, 0, 0],
    );
  });
});

describe("heuristic: keywords and math in one scan", () => {
  const h = compileHeuristic(
    {
      min_score: 1,
      rules: [
        { label: "k", score: 1, keywords: ["prove"] },
        { label: "m", score: 1, math: true },
      ],
    },
    ["k", "m"],
  );
  const scores = (text: string) => h({ text, messages: 1, hasTools: false, promptTokens: 1 }).scores;
  const cases: [string, number[]][] = [
    ["Prove that ∑ i is small", [1, 1]],
    ["∑ first, then prove", [1, 1]],
    ["prove it", [1, 0]],
    ["x^2 without the word", [0, 1]],
    ["nothing at all", [0, 0]],
  ];
  for (const [text, want] of cases) test(text, () => assert.deepEqual(scores(text), want));
});
