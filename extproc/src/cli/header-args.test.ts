// explain's -H arguments: names in any case reach the facts, as on the data plane.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse } from "../../../test/fixtures/fixtures.js";
import { readHeaderFacts } from "../facts/headers.js";
import type { HeaderBag } from "../facts/types.js";
import type { Reason } from "../vocab/reasons.js";
import { parseHeaderArgs, UsageError } from "./explain.js";

function read(bag: HeaderBag, names: Parameters<typeof readHeaderFacts>[1]) {
  const notes: Reason[] = [];
  const facts = readHeaderFacts(bag, names, notes);
  return { facts, notes: notes.map((n) => n.short) };
}

describe("explain -H", () => {
  test("CLI -H names in any case reach the facts (parseHeaderArgs lowercases)", () => {
    const bag = parseHeaderArgs([
      "X-Discourse-AI-Feature: AI_Bot",
      "x-DISCOURSE-ai-tier:  Paid ",
      "X-Discourse-AI-Trial:yes",
    ]);
    assert.deepEqual(bag, {
      "x-discourse-ai-feature": "AI_Bot",
      "x-discourse-ai-tier": "Paid",
      "x-discourse-ai-trial": "yes",
    });
    assert.deepEqual(read(bag, discourse().headers), {
      facts: { feature: "ai_bot", tier: "paid", trial: true, vision: false },
      notes: [],
    });
  });
  test("parseHeaderArgs: the first value of a repeated header wins; colons in the value stay", () => {
    assert.deepEqual(parseHeaderArgs(["X-Llm-Site: a:b:c", "x-llm-site: other"]), { "x-llm-site": "a:b:c" });
  });
  for (const bad of ["X-Llm-Feature", ": value", ""]) {
    test(`parseHeaderArgs rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => parseHeaderArgs([bad]),
        (e: unknown) => e instanceof UsageError && /-H wants "Name: value"/.test(String(e)),
      );
    });
  }
});
