// Placeholders that `switchyard import` writes where a jolteon config says nothing (backends,
// served model names): legal in shape, so the rest of the policy can be checked, but `check`
// refuses each one by path until someone fills it in.
import type { PathSeg, Problem } from "./problems.js";

export const PLACEHOLDER = "REPLACE_ME";

export function placeholderProblems(doc: unknown): Problem[] {
  const out: Problem[] = [];
  const walk = (v: unknown, path: PathSeg[]) => {
    if (typeof v === "string") {
      if (v.includes(PLACEHOLDER))
        out.push({
          severity: "error",
          path,
          message: `placeholder '${v}' (left by switchyard import): fill in the real value`,
        });
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
    } else if (v !== null && typeof v === "object")
      for (const [k, x] of Object.entries(v)) {
        if (k.includes(PLACEHOLDER))
          out.push({
            severity: "error",
            path: [...path, k],
            message: `placeholder key '${k}' (left by switchyard import)`,
          });
        walk(x, [...path, k]);
      }
  };
  walk(doc, []);
  return out;
}
