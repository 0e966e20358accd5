// The decision: facts in, class + ladder + path (or a rejection) out, with every reason.
// Pure: no clock, no I/O, no metrics; the live fleet comes in as `view`, randomness as `rand`.
import type { ClientError } from "../errors.js";
import type { RequestFacts } from "../facts/types.js";
import type { Policy, WeightedPool } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";
import { type BaseSource, computeClass } from "./class-math.js";
import { filterLadder, needsOf } from "./filter.js";
import type { FleetView } from "./fleet-view.js";
import { pickPath } from "./pick.js";

export type Decision =
  | {
      kind: "route";
      classIndex: number;
      className: string;
      /** Where the base class came from. */
      base: BaseSource;
      /** The class's ladder after capability filters, empty steps dropped. */
      ladder: WeightedPool[][];
      /** One pool per step, in fallback order. */
      path: string[];
      reasons: Reason[];
    }
  | { kind: "reject"; error: ClientError; className: string; base: BaseSource; reasons: Reason[] };

export function decide(policy: Policy, facts: RequestFacts, view: FleetView, rand: () => number): Decision {
  const reasons: Reason[] = [...facts.notes];
  const { index: cls, base } = computeClass(policy, facts, reasons);
  const className = policy.classes[cls] as string;
  const filtered = filterLadder(policy, cls, needsOf(facts), reasons);
  if (!filtered.ok) {
    reasons.push(reason("reject", `reject:${filtered.error.code}`, filtered.error.message));
    return { kind: "reject", error: filtered.error, className, base, reasons };
  }
  const byClass = policy.strategies[cls] ?? [];
  const fleet = policy.doc.fleet;
  const path = pickPath(filtered.steps, rand, reasons, {
    view,
    strategies: filtered.origin.map((s) => byClass[s] ?? "weighted"),
    budgetMs: facts.headers.latencyBudgetMs ?? policy.budgets[cls],
    prices: policy.prices,
    minSamples: fleet.min_samples,
    exploreShare: fleet.explore_share,
  });
  return { kind: "route", classIndex: cls, className, base, ladder: filtered.steps, path, reasons };
}
