// One weighted pick per ladder step, with injected randomness; a pool already on the path is
// not picked again, and a step whose pools are all on the path already is passed over.
import type { WeightedPool } from "../policy/compile.js";
import { type Reason, reason } from "./reasons.js";

export function pickPath(steps: readonly (readonly WeightedPool[])[], rand: () => number, reasons: Reason[]): string[] {
  const path: string[] = [];
  steps.forEach((step, i) => {
    const open = step.filter(({ pool }) => !path.includes(pool));
    if (open.length === 0) {
      reasons.push(reason("pick", `step${i}:skip`, `step ${i + 1}: every pool is already on the path`));
      return;
    }
    const total = open.reduce((sum, p) => sum + p.weight, 0);
    let r = rand() * total;
    let chosen = open[open.length - 1] as WeightedPool;
    for (const p of open) {
      r -= p.weight;
      if (r < 0) {
        chosen = p;
        break;
      }
    }
    path.push(chosen.pool);
    const share = ((chosen.weight / total) * 100).toFixed(0);
    reasons.push(reason("pick", `step${i}:${chosen.pool}`, `step ${i + 1}: picked ${chosen.pool} (${share}% of weight)`));
  });
  return path;
}
