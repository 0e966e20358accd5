// Every ladder path decide() can produce, so that each has an Envoy cluster before any
// request names it. The capability filters depend on the request only through
// (vision, tools, tokens), and tokens matter only relative to the pools' context windows,
// so a handful of profiles covers every filter outcome; for each, every pick outcome.
import type { Policy, WeightedPool } from "../policy/compile.js";
import { filterLadder, type Needs } from "../routing/filter.js";

export function enumeratePaths(policy: Policy): string[][] {
  const windows = new Set<number>([0]);
  for (const p of policy.pools.values())
    if (p.capabilities.context_window) windows.add(p.capabilities.context_window + 1);
  const seen = new Map<string, string[]>();
  for (let cls = 0; cls < policy.classes.length; cls++) {
    for (const vision of [false, true]) {
      for (const tools of [false, true]) {
        for (const tokens of windows) {
          const needs: Needs = { vision, tools, tokens };
          const filtered = filterLadder(policy, cls, needs, []);
          if (!filtered.ok) continue;
          for (const path of allPicks(filtered.steps)) seen.set(path.join("."), path);
        }
      }
    }
  }
  return [...seen.values()].sort((a, b) => a.join(".").localeCompare(b.join(".")));
}

function allPicks(steps: readonly (readonly WeightedPool[])[]): string[][] {
  let partial: string[][] = [[]];
  for (const step of steps) {
    const next: string[][] = [];
    for (const path of partial) {
      const open = step.filter(({ pool }) => !path.includes(pool));
      if (open.length === 0) next.push(path);
      for (const { pool } of open) next.push([...path, pool]);
    }
    partial = next;
  }
  return partial.filter((p) => p.length > 0);
}
