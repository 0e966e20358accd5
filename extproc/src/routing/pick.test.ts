// The weighted pick: one pick per step, shares follow the weights, no pool twice on a path,
// and a fixed seed gives a fixed sequence.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse, fixturePolicy } from "../../../test/fixtures/fixtures.js";
import type { HeaderBag } from "../facts/types.js";
import type { Policy, WeightedPool } from "../policy/compile.js";
import type { Reason } from "../vocab/reasons.js";
import { evaluate, seededRandom } from "./evaluate.js";
import { pickPath } from "./pick.js";

const BODY = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

function paths(policy: Policy, headers: HeaderBag, n: number, rand: () => number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const ev = evaluate(policy, headers, Buffer.from(BODY), rand);
    if (ev.kind !== "decided" || ev.decision.kind !== "route") assert.fail("expected a route");
    out.push(ev.decision.path);
  }
  return out;
}

const share = (ps: string[][], pool: string, step = 0) =>
  (100 * ps.filter((p) => p[step] === pool).length) / ps.length;

/** A rand that returns the given values in turn. */
const fixed = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};

const step = (...pools: [string, number][]): WeightedPool[] =>
  pools.map(([pool, weight]) => ({ pool, weight }));

describe("weighted pick: boundaries with a fixed rand", () => {
  const fast = [step(["qwen-small", 70], ["deepseek-flash", 30])];
  const cases: [number, string][] = [
    [0, "qwen-small"],
    [0.6999, "qwen-small"],
    [0.7, "deepseek-flash"],
    [0.99999, "deepseek-flash"],
  ];
  for (const [r, pool] of cases) {
    test(`fast ladder, rand ${r} → ${pool}`, () => {
      const reasons: Reason[] = [];
      assert.deepEqual(pickPath(fast, fixed(r), reasons), [pool]);
      assert.deepEqual(
        reasons.map((x) => x.short),
        [`step0:${pool}`],
      );
    });
  }
  test("shares are rounded half up: 1 of 8 → 13%, 7 of 8 → 88%", () => {
    const reasons: Reason[] = [];
    pickPath([step(["a", 1], ["b", 7])], fixed(0), reasons);
    pickPath([step(["a", 1], ["b", 7])], fixed(0.5), reasons);
    assert.deepEqual(
      reasons.map((r) => r.text),
      ["step 1: picked a (13% of weight)", "step 1: picked b (88% of weight)"],
    );
  });
  test("the reason gives the picked pool's share of the open weight", () => {
    const reasons: Reason[] = [];
    pickPath(fast, fixed(0.9), reasons);
    assert.equal(reasons[0]?.text, "step 1: picked deepseek-flash (30% of weight)");
  });
});

describe("weighted pick: distribution under fixed seeds (10,000 decisions each)", () => {
  const policy = discourse();
  for (const seed of [1, 42, 20260101]) {
    test(`fast ladder 70/30, seed ${seed} → qwen-small 70% ± 3`, () => {
      const ps = paths(policy, { "x-discourse-ai-feature": "translate" }, 10_000, seededRandom(seed));
      const s = share(ps, "qwen-small");
      assert.ok(Math.abs(s - 70) <= 3, `qwen-small share ${s}%`);
      assert.equal(
        ps.filter((p) => p[0] === "deepseek-flash").length + ps.filter((p) => p[0] === "qwen-small").length,
        10_000,
      );
    });
    test(`balanced ladder 80/20 then qwen-small, seed ${seed}`, () => {
      const ps = paths(policy, { "x-discourse-ai-feature": "summarize" }, 10_000, seededRandom(seed));
      const s = share(ps, "deepseek-flash");
      assert.ok(Math.abs(s - 80) <= 3, `deepseek-flash share ${s}%`);
      assert.equal(share(ps, "qwen-small", 1), 100);
    });
  }
  test("a 50/50 step under a seed is not lopsided", () => {
    const ps = paths(fixturePolicy("capabilities"), {}, 10_000, seededRandom(3));
    const s = share(ps, "seer");
    assert.ok(Math.abs(s - 50) <= 3, `seer share ${s}%`);
  });
});

describe("weighted pick: no pool twice on a path", () => {
  test("repeat ladder: step 2 holds only step 1's pool → skipped", () => {
    const ev = evaluate(
      fixturePolicy("capabilities"),
      { "x-llm-feature": "repeat" },
      Buffer.from(BODY),
      seededRandom(1),
    );
    if (ev.kind !== "decided" || ev.decision.kind !== "route") assert.fail("expected a route");
    assert.deepEqual(ev.decision.path, ["plain", "seer"]);
    assert.deepEqual(
      ev.decision.reasons.filter((r) => r.step === "pick").map((r) => r.short),
      ["step0:plain", "step1:skip", "step2:seer"],
    );
  });
  test("mixed ladder: when step 1 picks plain, step 2 (plain only) is skipped", () => {
    const ps = paths(fixturePolicy("capabilities"), {}, 500, seededRandom(11));
    assert.ok(ps.some((p) => p[0] === "plain"));
    for (const p of ps) assert.deepEqual(p, p[0] === "plain" ? ["plain"] : ["seer", "plain"]);
  });
  test("overlapping steps: the remaining weight decides, a picked pool is never open again", () => {
    const steps = [step(["a", 1], ["b", 1]), step(["a", 1], ["b", 1]), step(["a", 1], ["b", 1], ["c", 1])];
    const rand = seededRandom(5);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const path = pickPath(steps, rand, []);
      assert.equal(path.length, 3);
      assert.equal(new Set(path).size, 3, `duplicate in ${path}`);
      assert.equal(path[2], "c");
      seen.add(path.join(","));
    }
    assert.deepEqual([...seen].sort(), ["a,b,c", "b,a,c"]);
  });
  test("rand 0 every time → first open pool of each step", () => {
    const reasons: Reason[] = [];
    const steps = [step(["a", 1], ["b", 1]), step(["a", 1], ["b", 3])];
    assert.deepEqual(pickPath(steps, fixed(0), reasons), ["a", "b"]);
    assert.equal(reasons[1]?.text, "step 2: picked b (100% of weight)");
  });
  test("frontier ladder → qwen-large, deepseek-flash, qwen-small", () => {
    const ps = paths(discourse(), { "x-discourse-ai-feature": "ai_bot" }, 50, seededRandom(9));
    for (const p of ps) assert.deepEqual(p, ["qwen-large", "deepseek-flash", "qwen-small"]);
  });
});

describe("weighted pick: determinism", () => {
  const policy = discourse();
  const headers = { "x-discourse-ai-feature": "summarize" };
  test("the same seed gives the same 200 paths", () => {
    assert.deepEqual(
      paths(policy, headers, 200, seededRandom(123)),
      paths(policy, headers, 200, seededRandom(123)),
    );
  });
  test("another seed gives another sequence", () => {
    assert.notDeepEqual(
      paths(policy, headers, 200, seededRandom(123)),
      paths(policy, headers, 200, seededRandom(124)),
    );
  });
  test("seededRandom stays in [0, 1)", () => {
    const r = seededRandom(0);
    for (let i = 0; i < 10_000; i++) {
      const v = r();
      assert.ok(v >= 0 && v < 1, String(v));
    }
  });
});
