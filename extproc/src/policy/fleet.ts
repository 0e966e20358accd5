// The policy's `fleet` section: how long the live windows are, which strategy picks a pool in
// each ladder step, the latency budgets, the pool and backend breakers and the Retry-After cap.
// The live numbers themselves come in as a FleetView (routing/fleet-view.ts); this is only
// what the operator wrote.
import { z } from "zod";
import { didYouMean, type PathSeg, type Problem } from "./problems.js";

export const STRATEGIES = ["weighted", "latency_first", "cost_first", "round_robin"] as const;
export type Strategy = (typeof STRATEGIES)[number];

const strategy = z.enum(STRATEGIES);

const PoolBreakerSchema = z.strictObject({
  // Off by default: a breaker changes where failures go, so an operator turns it on knowingly.
  enabled: z.boolean().default(false),
  // Opens when the pool's error rate over the window reaches this...
  error_rate: z.number().gt(0).max(1).default(0.5),
  // ...or its p95 time to first token exceeds this (unset: latency never opens it).
  ttft_p95_ms: z.number().int().positive().optional(),
  // Samples the window needs before the breaker judges the pool.
  min_samples: z.number().int().min(1).max(10_000).default(10),
  cooldown_s: z.number().min(0.1).max(3600).default(10),
  // Requests let through half-open; all must succeed for the breaker to close.
  probes: z.number().int().min(1).max(100).default(3),
});

const BackendBreakerSchema = z.strictObject({
  enabled: z.boolean().default(false),
  // Out when its p95 TTFT is this many times its pool peers' (the median of their p95s)...
  slower_than_pool: z.number().min(1.5).max(1000).default(5),
  // ...or its error rate exceeds its peers' by this much.
  error_rate_over_pool: z.number().gt(0).max(1).default(0.5),
  min_samples: z.number().int().min(1).max(10_000).default(10),
  cooldown_s: z.number().min(0.1).max(3600).default(15),
  probes: z.number().int().min(1).max(100).default(3),
});

export const FleetSchema = z.strictObject({
  // The sliding window every live number is computed over.
  window_s: z.number().int().min(1).max(3600).default(60),
  // Samples kept per backend and per pool (a ring): memory is bounded whatever the traffic.
  window_samples: z.number().int().min(16).max(8192).default(512),
  // A pool with fewer samples in the window is "cold": it gets `explore_share` of its step.
  min_samples: z.number().int().min(1).max(10_000).default(10),
  explore_share: z.number().min(0).max(0.5).default(0.05),
  // Per class: one strategy for every step, or a list with one per step (the last repeats).
  strategies: z.record(z.string(), z.union([strategy, z.array(strategy).min(1)])).default({}),
  // Per class: the latency budget cost_first uses when the request sends none.
  latency_budget_ms: z.record(z.string(), z.number().int().positive()).default({}),
  pool_breaker: PoolBreakerSchema.default(PoolBreakerSchema.parse({})),
  backend_breaker: BackendBreakerSchema.default(BackendBreakerSchema.parse({})),
  // A backend's Retry-After (429/503) is honoured up to this many seconds.
  retry_after_max_s: z.number().int().min(0).max(3600).default(30),
});

export type FleetDoc = z.output<typeof FleetSchema>;
export const DEFAULT_FLEET: FleetDoc = FleetSchema.parse({});

/** The strategy per class (by index) and step: what pick.ts reads on the hot path. */
export function compileStrategies(
  fleet: FleetDoc,
  classes: readonly string[],
  stepsOf: (cls: string) => number,
): Strategy[][] {
  return classes.map((c) => {
    const s = fleet.strategies[c];
    const n = stepsOf(c);
    if (s === undefined) return new Array<Strategy>(n).fill("weighted");
    if (typeof s === "string") return new Array<Strategy>(n).fill(s);
    return Array.from({ length: n }, (_, i) => s[Math.min(i, s.length - 1)] as Strategy);
  });
}

/** Names in `fleet` must be classes; cost_first wants prices. */
export function checkFleet(
  fleet: FleetDoc,
  classes: ReadonlySet<string>,
  ladders: Record<string, Record<string, number>[]>,
  priced: (pool: string) => boolean,
): Problem[] {
  const out: Problem[] = [];
  const needClass = (path: PathSeg[], c: string) => {
    if (!classes.has(c))
      out.push({ severity: "error", path, message: `'${c}' is not a class${didYouMean(c, classes)}` });
  };
  for (const [c, s] of Object.entries(fleet.strategies)) {
    needClass(["fleet", "strategies", c], c);
    const steps = ladders[c] ?? [];
    if (Array.isArray(s) && s.length > steps.length && steps.length > 0)
      out.push({
        severity: "error",
        path: ["fleet", "strategies", c],
        message: `${s.length} strategies for a ladder of ${steps.length} steps`,
      });
    const list = typeof s === "string" ? steps.map(() => s) : s;
    list.forEach((st, i) => {
      if (st !== "cost_first") return;
      for (const pool of Object.keys(steps[i] ?? {}))
        if (!priced(pool))
          out.push({
            severity: "warning",
            path: ["fleet", "strategies", c],
            message: `cost_first in step ${i + 1}, but pool '${pool}' has no price: it counts as the most expensive`,
          });
    });
  }
  for (const c of Object.keys(fleet.latency_budget_ms)) needClass(["fleet", "latency_budget_ms", c], c);
  return out;
}
