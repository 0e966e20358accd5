// The load test's mix and prediction: requests built as the kinds say, shares from evaluate().
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parsePolicy } from "../extproc/src/policy/load.js";
import { parseMix, percentile, predictShares, requestFor } from "./loadtest-mix.js";
import { ROOT } from "./processes.js";

const readRepoFile = (path: string) => readFileSync(join(ROOT, path), "utf8");
function discourse() {
  const r = parsePolicy(readRepoFile("examples/discourse.yml"));
  if (!r.ok) throw new Error("examples/discourse.yml does not load");
  return r.policy;
}

describe("load test mix", () => {
  const mix = parseMix(readRepoFile("examples/loadtest-mix.yml"));
  test("the example mix parses", () => assert.ok(mix.kinds.length >= 8));
  test("a kind becomes headers and a body", () => {
    const kind = mix.kinds.find((k) => k.image) ?? assert.fail("no image kind");
    const req = requestFor(kind, mix);
    assert.equal(req.path, "/v1/chat/completions");
    const body = JSON.parse(req.body.toString()) as { messages: { content: { type: string }[] }[] };
    assert.deepEqual(
      body.messages[0]?.content.map((p) => p.type),
      ["text", "image_url"],
    );
  });
  test("predicted shares add up to 1 and follow the policy's ladders", () => {
    const shares = predictShares(discourse(), mix, 500);
    const sum = [...shares.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, String(sum));
    // Weights add up to 100. Fast: translate standard (20, capped), summarize at quota 90 % (10,
    // balanced -1) and 160 % (5, -2 clamped), the switchyard/fast model (5).
    const fast = (shares.get("fast → qwen-small") ?? 0) + (shares.get("fast → deepseek-flash") ?? 0);
    assert.ok(Math.abs(fast - 0.4) < 1e-9, String(fast));
    // Inside fast, the one weighted pick: qwen-small 70, deepseek-flash 30 (500 seeded draws per kind).
    assert.ok(Math.abs((shares.get("fast → qwen-small") ?? 0) / fast - 0.7) < 0.06);
    // Images never go to deepseek-flash (no vision).
    assert.ok(
      [...shares.keys()].every((k) => !k.startsWith("rejected")),
      [...shares.keys()].join(", "),
    );
  });
  test("a mix with an unknown key is refused with its path", () =>
    assert.throws(() => parseMix("kinds: [{ name: a, weight: 1, colour: red }]"), /kinds\.0/));
  test("percentile is nearest-rank", () => {
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
    assert.equal(percentile([1, 2, 3, 4], 1), 4);
    assert.equal(percentile([], 0.5), undefined);
  });
});
