// Capability filters over the whole ladder: a pool that cannot serve the request leaves
// every step; a step left empty is dropped. When nothing is left, the rejection names
// the capability no pool had.
import { type ClientError, clientError } from "../errors.js";
import type { RequestFacts } from "../facts/types.js";
import type { Policy, WeightedPool } from "../policy/compile.js";
import type { PoolDoc } from "../policy/schema.js";
import { type Reason, reason } from "../vocab/reasons.js";

export interface Needs {
  vision: boolean;
  tools: boolean;
  /** Prompt estimate plus the client's max_tokens: what must fit the context window. */
  tokens: number;
}

export function needsOf(facts: RequestFacts): Needs {
  return {
    vision: facts.headers.vision || facts.body.imageCount > 0,
    tools: facts.body.hasTools,
    tokens: facts.body.promptTokens + (facts.body.maxTokens ?? 0),
  };
}

type Check = { name: string; ok: (p: PoolDoc) => boolean };

function checksFor(needs: Needs): Check[] {
  const checks: Check[] = [];
  if (needs.vision) checks.push({ name: "vision", ok: (p) => p.capabilities.vision });
  if (needs.tools) checks.push({ name: "tools", ok: (p) => p.capabilities.tools });
  checks.push({
    name: "context",
    ok: (p) => (p.capabilities.context_window ?? Number.POSITIVE_INFINITY) >= needs.tokens,
  });
  return checks;
}

export type FilterResult =
  | {
      ok: true;
      steps: WeightedPool[][] /** The policy ladder's index of each kept step. */;
      origin: number[];
    }
  | { ok: false; error: ClientError };

export function filterLadder(policy: Policy, cls: number, needs: Needs, reasons: Reason[]): FilterResult {
  const ladder = policy.ladders[cls] ?? [];
  const checks = checksFor(needs);
  const steps: WeightedPool[][] = [];
  const origin: number[] = [];
  for (let s = 0; s < ladder.length; s++) {
    const step = ladder[s] as (typeof ladder)[number];
    const kept: WeightedPool[] = [];
    for (const wp of step) {
      const doc = policy.pools.get(wp.pool);
      let names = doc === undefined ? "unknown" : "";
      if (doc !== undefined)
        for (const c of checks) if (!c.ok(doc)) names = names === "" ? c.name : `${names}+${c.name}`;
      if (names === "") {
        kept.push(wp);
        continue;
      }
      reasons.push(reason("filter", `drop:${wp.pool}:${names}`, `pool ${wp.pool} dropped: lacks ${names}`));
    }
    if (kept.length > 0) {
      steps.push(kept);
      origin.push(s);
    }
  }
  if (steps.length > 0) return { ok: true, steps, origin };
  return { ok: false, error: rejection(policy, cls, ladder, checks, needs) };
}

function rejection(
  policy: Policy,
  cls: number,
  ladder: readonly (readonly WeightedPool[])[],
  checks: Check[],
  needs: Needs,
): ClientError {
  const pools = ladder.flat().flatMap(({ pool }) => policy.pools.get(pool) ?? []);
  const className = policy.classes[cls];
  const missing = checks.filter((c) => !pools.some((p) => c.ok(p))).map((c) => c.name);
  if (missing.includes("context") && missing.length === 1) {
    const biggest = Math.max(...pools.map((p) => p.capabilities.context_window ?? 0));
    return clientError(
      "context_length_exceeded",
      `the request needs about ${needs.tokens} tokens (prompt estimate plus max_tokens), more than the largest context window (${biggest}) on the '${className}' ladder`,
    );
  }
  const what = missing.filter((m) => m !== "context");
  // Every need is met by some pool, but no pool meets them all: name only the needs some
  // pool lacks (a context window every pool has is not the problem).
  const lacking = checks.filter((c) => pools.some((p) => !c.ok(p))).map((c) => c.name);
  const described =
    what.length > 0
      ? what.map((m) => describe(m, needs)).join(" and ")
      : `${lacking.map((m) => describe(m, needs)).join(" and ")} together`;
  return clientError("no_capable_pool", `no pool on the '${className}' ladder supports ${described}`);
}

function describe(cap: string, needs: Needs): string {
  if (cap === "vision") return "vision (image input)";
  if (cap === "tools") return "tools (function calling)";
  return `a context window of ${needs.tokens} tokens`;
}
