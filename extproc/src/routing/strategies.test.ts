// Strategies per step with a FleetView: each case names the fleet it sees and the pool and
// reason token it must give. The view is an argument, so every case is a plain table row.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { WeightedPool } from "../policy/compile.js";
import type { Strategy } from "../policy/fleet.js";
import type { Reason } from "../vocab/reasons.js";
import { type FleetView, type PoolView, parseFleetJson, poolViewJson } from "./fleet-view.js";
import { type PickContext, pickPath } from "./pick.js";

const step = (...pools: [string, number][]): WeightedPool[] =>
  pools.map(([pool, weight]) => ({ pool, weight }));
const pv = (p95: number | null, over: Partial<PoolView> = {}): PoolView => ({
  samples: 50,
  ttftP50Ms: p95,
  ttftP95Ms: p95,
  errorRate: 0,
  breaker: "closed",
  probesOut: false,
  shedding: false,
  ...over,
  inWindow: over.inWindow ?? over.samples ?? 50,
});
const view = (pools: Record<string, PoolView>, seq = 0): FleetView => ({
  at: 1,
  pools: new Map(Object.entries(pools)),
  seq,
});
const ctx = (v: FleetView, strategies: Strategy[], budgetMs?: number, exploreShare = 0): PickContext => ({
  view: v,
  strategies,
  budgetMs,
  prices: new Map([
    ["cheap", 1],
    ["mid", 5],
    ["dear", 20],
  ]),
  minSamples: 10,
  exploreShare,
});
const fixed = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};
const TWO_STEPS = [step(["cheap", 50], ["mid", 30], ["dear", 20]), step(["dear", 100])];

function pick(c: PickContext, rand = fixed(0.5), steps = TWO_STEPS): { path: string[]; reasons: string[] } {
  const reasons: Reason[] = [];
  const path = pickPath(steps, rand, reasons, c);
  return { path, reasons: reasons.map((r) => r.short) };
}

describe("strategies", () => {
  const cases: [string, PickContext, string, string][] = [
    [
      "latency_first → lowest p95",
      ctx(view({ cheap: pv(900), mid: pv(120), dear: pv(300) }), ["latency_first"]),
      "mid",
      "step0:latency_first:mid(p95 120ms)",
    ],
    [
      "cost_first/budget 800 → cheapest that fits",
      ctx(view({ cheap: pv(412), mid: pv(120), dear: pv(50) }), ["cost_first"], 800),
      "cheap",
      "step0:cost_first:cheap(p95 412ms<800ms)",
    ],
    [
      "cost_first/cheap over budget → next cheapest",
      ctx(view({ cheap: pv(1200), mid: pv(600), dear: pv(50) }), ["cost_first"], 800),
      "mid",
      "step0:cost_first:mid(p95 600ms<800ms)",
    ],
    [
      "cost_first/none fits → fastest",
      ctx(view({ cheap: pv(1200), mid: pv(1000), dear: pv(900) }), ["cost_first"], 800),
      "dear",
      "step0:cost_first:dear(p95 900ms>800ms,fastest)",
    ],
    [
      "cost_first/no budget → cheapest",
      ctx(view({ cheap: pv(1200), mid: pv(1000), dear: pv(900) }), ["cost_first"]),
      "cheap",
      "step0:cost_first:cheap(p95 1200ms, no budget)",
    ],
    [
      "latency_first/no data → weighted (cold)",
      ctx(view({}), ["latency_first"]),
      "mid",
      "step0:latency_first:cold:mid",
    ],
    ["round_robin/seq 4 of 3 → second", ctx(view({}, 4), ["round_robin"]), "mid", "step0:round_robin:mid"],
    [
      "weighted/breaker open on cheap → skipped",
      ctx(view({ cheap: pv(100, { breaker: "open" }) }), ["weighted"]),
      "mid",
      "skip:cheap:breaker_open",
    ],
    [
      "latency_first/fast pool shedding → next fastest",
      ctx(view({ cheap: pv(900), mid: pv(120, { shedding: true }), dear: pv(300) }), ["latency_first"]),
      "dear",
      "skip:mid:shedding",
    ],
    [
      "weighted/half-open with probes out → skipped",
      ctx(view({ cheap: pv(100, { breaker: "half_open", probesOut: true }) }), ["weighted"]),
      "mid",
      "skip:cheap:probing",
    ],
  ];
  for (const [name, c, pool, token] of cases)
    test(name, () => {
      const got = pick(c);
      assert.equal(got.path[0], pool, got.reasons.join(" "));
      assert.ok(got.reasons.includes(token), got.reasons.join(" "));
    });

  test("exploration: a cold pool gets about explore_share of the step", () => {
    const c = ctx(
      view({ cheap: pv(900), mid: pv(120), dear: pv(300, { samples: 2 }) }),
      ["latency_first"],
      undefined,
      0.1,
    );
    let seed = 1;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const n = 4000;
    let dear = 0;
    for (let i = 0; i < n; i++) if (pick(c, rand).path[0] === "dear") dear++;
    const share = dear / n;
    assert.ok(share > 0.07 && share < 0.13, `cold pool got ${share}`);
    const once = pick(c, fixed(0.01, 0.5));
    assert.ok(once.reasons.includes("step0:explore:dear"), once.reasons.join(" "));
  });

  test("a ranked pool whose window went thin keeps its numbers and is also explored, so it can win again", () => {
    // cheap: slow numbers from older samples (topped up), 1 sample in the window; mid: fresh.
    const v = view({ cheap: pv(600, { samples: 10, inWindow: 1 }), dear: pv(120) });
    const c = ctx(v, ["cost_first"], 300, 0.1);
    const ranked = pick(c, fixed(0.5));
    assert.equal(ranked.path[0], "dear", ranked.reasons.join(" "));
    assert.ok(ranked.reasons.includes("step0:cost_first:dear(p95 120ms<300ms)"), ranked.reasons.join(" "));
    const explored = pick(c, fixed(0.05, 0.5));
    assert.equal(explored.path[0], "cheap", explored.reasons.join(" "));
    assert.ok(explored.reasons.includes("step0:explore:cheap"), explored.reasons.join(" "));
    // Thin but good: still ranked, so cost_first keeps it rather than falling back to weights.
    const good = pick(
      ctx(view({ cheap: pv(100, { samples: 10, inWindow: 2 }), dear: pv(120) }), ["cost_first"], 300, 0.1),
      fixed(0.5),
    );
    assert.equal(good.path[0], "cheap", good.reasons.join(" "));
  });

  test("a whole step skipped → it stays on the path as passed (Envoy finds no backend and moves on)", () => {
    const v = view({ cheap: pv(1, { breaker: "open" }), mid: pv(1, { breaker: "open" }) });
    const got = pick(ctx(v, ["weighted"]), fixed(0.25), [step(["cheap", 1], ["mid", 1]), step(["dear", 1])]);
    assert.deepEqual(got.path, ["cheap", "dear"]);
    assert.ok(got.reasons.includes("step0:passed:cheap"), got.reasons.join(" "));
    assert.ok(got.reasons.includes("skip:cheap:breaker_open"), got.reasons.join(" "));
  });

  test("a /status fleet snapshot round-trips", () => {
    const v = view({ cheap: pv(412), mid: pv(null, { samples: 0, breaker: "open" }) }, 7);
    const json = {
      fleet: { at: 1, seq: 7, pools: Object.fromEntries([...v.pools].map(([k, p]) => [k, poolViewJson(p)])) },
    };
    const back = parseFleetJson(JSON.parse(JSON.stringify(json)));
    assert.deepEqual([...back.pools], [...v.pools]);
    assert.equal(back.seq, 7);
  });
});
