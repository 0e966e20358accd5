// One pick per ladder step, with injected randomness and the fleet as an argument; a pool already
// on the path is not picked again, a step whose pools are all on the path is passed over, and a
// pool the fleet says to skip (breaker open, probes out, shedding) is not picked while its step
// has another; a step with none left keeps a skipped pool (every path has an Envoy cluster) and
// Envoy passes it at once, its backends being UNHEALTHY in the endpoint file. Each step
// picks by its strategy: weighted (the policy's weights), round_robin, latency_first (lowest
// p95 TTFT) or cost_first (cheapest whose p95 fits the budget, else the fastest); the last two
// send `exploreShare` of a step's picks to pools with fewer than min_samples in the window.
import type { WeightedPool } from "../policy/compile.js";
import type { Strategy } from "../policy/fleet.js";
import { type Reason, reason } from "../vocab/reasons.js";
import { type FleetView, NO_FLEET, skipReason } from "./fleet-view.js";

export interface PickContext {
  view: FleetView;
  /** One per step of `steps`. */
  strategies: readonly Strategy[];
  budgetMs: number | undefined;
  /** Pool -> price for cost_first (Infinity: no price). */
  prices: ReadonlyMap<string, number>;
  minSamples: number;
  exploreShare: number;
}

const WEIGHTED: PickContext = {
  view: NO_FLEET,
  strategies: [],
  budgetMs: undefined,
  prices: new Map(),
  minSamples: 1,
  exploreShare: 0,
};

export function pickPath(
  steps: readonly (readonly WeightedPool[])[],
  rand: () => number,
  reasons: Reason[],
  ctx: PickContext = WEIGHTED,
): string[] {
  const live = ctx.view.pools.size > 0;
  const path = walk(steps, rand, reasons, ctx, live);
  if (path.length > 0 || !live) return path;
  // Every pool the ladder offers is skipped: trying one beats refusing the request.
  reasons.push(
    reason("pick", "fleet:all_skipped", "every pool is skipped by the fleet: picking as if none were"),
  );
  return walk(steps, rand, reasons, ctx, false);
}

function walk(
  steps: readonly (readonly WeightedPool[])[],
  rand: () => number,
  reasons: Reason[],
  ctx: PickContext,
  live: boolean,
): string[] {
  const path: string[] = [];
  // Plain loops and no per-step arrays on the weighted path: this runs on every request.
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as readonly WeightedPool[];
    let open = 0;
    let skipped = 0;
    for (const p of step) {
      if (path.includes(p.pool)) continue;
      if (live) {
        const why = skipReason(ctx.view.pools.get(p.pool));
        if (why !== undefined) {
          skipped++;
          reasons.push(
            reason("fleet", `skip:${p.pool}:${why}`, () => `step ${i + 1}: ${p.pool} skipped (${why})`),
          );
          continue;
        }
      }
      open++;
    }
    if (open === 0 && skipped === 0) {
      reasons.push(reason("pick", `step${i}:skip`, () => `step ${i + 1}: every pool is already on the path`));
      continue;
    }
    if (open === 0) {
      // Every pool of the step is skipped. The step stays on the path, so the path is one Envoy
      // has a cluster for, but its backends are out of the pool's endpoint file (the monitor
      // marks them UNHEALTHY), so Envoy hands the attempt to the next pool at once.
      const pool = weighted(step, (p) => !path.includes(p.pool), rand, i, reasons, "passed");
      path.push(pool);
      continue;
    }
    const usable = (p: WeightedPool) =>
      !path.includes(p.pool) && (skipped === 0 || skipReason(ctx.view.pools.get(p.pool)) === undefined);
    const strategy = ctx.strategies[i] ?? "weighted";
    if (strategy === "weighted") path.push(weighted(step, usable, rand, i, reasons));
    else if (strategy === "round_robin") path.push(roundRobin(step, usable, ctx.view.seq, i, reasons));
    else path.push(byNumbers(strategy, step, usable, rand, i, ctx, reasons));
  }
  return path;
}

function weighted(
  step: readonly WeightedPool[],
  usable: (p: WeightedPool) => boolean,
  rand: () => number,
  i: number,
  reasons: Reason[],
  token = "",
): string {
  let total = 0;
  for (const p of step) if (usable(p)) total += p.weight;
  let r = rand() * total;
  let chosen: WeightedPool | undefined;
  for (const p of step) {
    if (!usable(p)) continue;
    chosen = p; // the last open pool if rounding leaves r >= 0
    r -= p.weight;
    if (r < 0) break;
  }
  const picked = chosen as WeightedPool;
  reasons.push(
    reason(
      "pick",
      token === "" ? `step${i}:${picked.pool}` : `step${i}:${token}:${picked.pool}`,
      () =>
        `step ${i + 1}: picked ${picked.pool} (${Math.round((picked.weight / total) * 100)}% of weight${token === "" ? "" : `, ${token}`})`,
    ),
  );
  return picked.pool;
}

function roundRobin(
  step: readonly WeightedPool[],
  usable: (p: WeightedPool) => boolean,
  seq: number,
  i: number,
  reasons: Reason[],
): string {
  const open = step.filter(usable);
  const picked = open[seq % open.length] as WeightedPool;
  reasons.push(
    reason(
      "pick",
      `step${i}:round_robin:${picked.pool}`,
      () => `step ${i + 1}: ${picked.pool} in turn (request ${seq})`,
    ),
  );
  return picked.pool;
}

const ms = (v: number) => `${Math.round(v)}ms`;

function byNumbers(
  strategy: "latency_first" | "cost_first",
  step: readonly WeightedPool[],
  usable: (p: WeightedPool) => boolean,
  rand: () => number,
  i: number,
  ctx: PickContext,
  reasons: Reason[],
): string {
  // Ranked: pools with numbers to judge (min_samples, topped up from recent older samples).
  // Explored: pools whose window itself holds fewer than min_samples, ranked or not, so a pool
  // the strategy passes over still gets fresh numbers and can win again once it recovers.
  // One pass, no arrays: this runs on every request of a class with a live strategy.
  const { pools } = ctx.view;
  const budget = strategy === "cost_first" ? ctx.budgetMs : undefined;
  let ranked = 0;
  let thin = 0;
  let fastest = "";
  let fastestP95 = Number.POSITIVE_INFINITY;
  let best = "";
  let bestP95 = 0;
  let bestPrice = Number.POSITIVE_INFINITY;
  for (const p of step) {
    if (!usable(p)) continue;
    const v = pools.get(p.pool);
    if (v === undefined || v.inWindow < ctx.minSamples) thin++;
    if (v === undefined || v.samples < ctx.minSamples || v.ttftP95Ms === null) continue;
    const p95 = v.ttftP95Ms;
    ranked++;
    if (p95 < fastestP95) {
      fastest = p.pool;
      fastestP95 = p95;
    }
    if (strategy === "cost_first" && (budget === undefined || p95 <= budget)) {
      const price = ctx.prices.get(p.pool) ?? Number.POSITIVE_INFINITY;
      if (best === "" || price < bestPrice) {
        best = p.pool;
        bestP95 = p95;
        bestPrice = price;
      }
    }
  }
  if (ranked === 0) return weighted(step, usable, rand, i, reasons, `${strategy}:cold`);
  if (thin > 0 && rand() < ctx.exploreShare) {
    const isThin = (p: WeightedPool) => {
      const v = pools.get(p.pool);
      return usable(p) && (v === undefined || v.inWindow < ctx.minSamples);
    };
    return weighted(step, isThin, rand, i, reasons, "explore");
  }
  if (strategy === "latency_first") {
    const n = ranked;
    reasons.push(
      reason(
        "pick",
        `step${i}:latency_first:${fastest}(p95 ${ms(fastestP95)})`,
        () => `step ${i + 1}: ${fastest} has the lowest p95 TTFT (${ms(fastestP95)}) of ${n} pools with data`,
      ),
    );
    return fastest;
  }
  if (best !== "") {
    const fit = budget === undefined ? ", no budget" : `<${ms(budget)}`;
    const p95 = bestP95;
    reasons.push(
      reason(
        "pick",
        `step${i}:cost_first:${best}(p95 ${ms(p95)}${fit})`,
        () => `step ${i + 1}: ${best} is the cheapest pool whose p95 TTFT (${ms(p95)}) fits the budget`,
      ),
    );
    return best;
  }
  const limit = budget as number;
  reasons.push(
    reason(
      "pick",
      `step${i}:cost_first:${fastest}(p95 ${ms(fastestP95)}>${ms(limit)},fastest)`,
      () => `step ${i + 1}: no pool fits the ${ms(limit)} budget; ${fastest} is the fastest`,
    ),
  );
  return fastest;
}
