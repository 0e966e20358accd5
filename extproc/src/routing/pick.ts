// One weighted pick per ladder step, with injected randomness; a pool already on the path is
// not picked again, and a step whose pools are all on the path already is passed over.
import type { WeightedPool } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";

export function pickPath(
  steps: readonly (readonly WeightedPool[])[],
  rand: () => number,
  reasons: Reason[],
): string[] {
  const path: string[] = [];
  // Plain loops, no per-step arrays: this runs on every request.
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as readonly WeightedPool[];
    let total = 0;
    let open = 0;
    for (const p of step) {
      if (path.includes(p.pool)) continue;
      total += p.weight;
      open++;
    }
    if (open === 0) {
      reasons.push(reason("pick", `step${i}:skip`, `step ${i + 1}: every pool is already on the path`));
      continue;
    }
    let r = rand() * total;
    let chosen: WeightedPool | undefined;
    for (const p of step) {
      if (path.includes(p.pool)) continue;
      chosen = p; // the last open pool if rounding leaves r >= 0
      r -= p.weight;
      if (r < 0) break;
    }
    const picked = chosen as WeightedPool;
    path.push(picked.pool);
    const share = String(Math.round((picked.weight / total) * 100));
    reasons.push(
      reason("pick", `step${i}:${picked.pool}`, `step ${i + 1}: picked ${picked.pool} (${share}% of weight)`),
    );
  }
  return path;
}
