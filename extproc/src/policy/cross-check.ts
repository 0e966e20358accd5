// Checks that need the whole document: names that must refer to something, and things that
// are legal but likely wrong (warnings). Pure: returns problems with paths, no positions.
import { AUTO_CLASS } from "./classifier.js";
import { checkFleet } from "./fleet.js";
import { didYouMean, type PathSeg, type Problem } from "./problems.js";
import type { PolicyDoc } from "./schema.js";

export function crossCheck(doc: PolicyDoc): Problem[] {
  const out: Problem[] = [];
  const error = (path: PathSeg[], message: string) => out.push({ severity: "error", path, message });
  const warn = (path: PathSeg[], message: string) => out.push({ severity: "warning", path, message });
  const classes = new Set(doc.classes);
  const pools = Object.keys(doc.pools);

  doc.classes.forEach((c, i) => {
    if (doc.classes.indexOf(c) !== i) error(["classes", i], `class '${c}' is listed twice`);
  });
  const needClass = (path: PathSeg[], c: string) => {
    if (!classes.has(c))
      error(path, `'${c}' is not a class${didYouMean(c, classes)}; classes: ${doc.classes.join(", ")}`);
  };
  needClass(["default_class"], doc.default_class);

  for (const [feature, f] of Object.entries(doc.features)) {
    if (f.class !== AUTO_CLASS) needClass(["features", feature, "class"], f.class);
    if (f.cap !== undefined) needClass(["features", feature, "cap"], f.cap);
    if (f.floor !== undefined) needClass(["features", feature, "floor"], f.floor);
    if (
      f.cap !== undefined &&
      f.floor !== undefined &&
      doc.classes.indexOf(f.floor) > doc.classes.indexOf(f.cap)
    ) {
      error(["features", feature, "floor"], `floor '${f.floor}' is above cap '${f.cap}'`);
    }
  }

  const aboves = new Set<number>();
  doc.modifiers.quota.forEach((band, i) => {
    if (aboves.has(band.above))
      error(["modifiers", "quota", i, "above"], `two quota bands start above ${band.above}`);
    aboves.add(band.above);
  });

  const onLadder = new Set<string>();
  for (const c of doc.classes) {
    if (doc.ladders[c] === undefined) error(["ladders"], `class '${c}' has no ladder`);
  }
  for (const [c, steps] of Object.entries(doc.ladders)) {
    if (!classes.has(c)) error(["ladders", c], `ladder for unknown class '${c}'${didYouMean(c, classes)}`);
    if (steps.length === 0) error(["ladders", c], "a ladder needs at least one step");
    steps.forEach((step, i) => {
      const entries = Object.entries(step);
      if (entries.length === 0) error(["ladders", c, i], "empty step: name at least one pool with a weight");
      for (const [pool, weight] of entries) {
        onLadder.add(pool);
        if (doc.pools[pool] === undefined) {
          error(["ladders", c, i, pool], `unknown pool '${pool}'${didYouMean(pool, pools)}`);
        }
        if (!(weight > 0)) error(["ladders", c, i, pool], `weight must be greater than 0, got ${weight}`);
      }
    });
    if (classes.has(c) && steps.length > 0) {
      const vision = steps.some((s) => Object.keys(s).some((p) => doc.pools[p]?.capabilities.vision));
      if (!vision)
        warn(
          ["ladders", c],
          `no pool on the '${c}' ladder has vision: image requests of this class are rejected`,
        );
    }
  }

  const owner = new Map<string, string>();
  for (const [pool, p] of Object.entries(doc.pools)) {
    if (!onLadder.has(pool))
      warn(["pools", pool], `pool '${pool}' is on no ladder and never receives traffic`);
    p.backends.forEach((b, i) => {
      const other = owner.get(b.address);
      if (other !== undefined && other !== pool) {
        error(["pools", pool, "backends", i, "address"], `backend ${b.address} is also in pool '${other}'`);
      }
      owner.set(b.address, pool);
    });
    const r = p.reasoning;
    if (r.adapter === "qwen3" && r.effort_budgets === undefined) {
      warn(
        ["pools", pool, "reasoning"],
        "qwen3 adapter without effort_budgets: thinking is switched but never budgeted",
      );
    }
    const maxOut = p.capabilities.max_output_tokens;
    if (r.adapter === "qwen3" && r.effort_budgets !== undefined && maxOut !== undefined) {
      for (const [effort, budget] of Object.entries(r.effort_budgets)) {
        if (budget !== undefined && budget >= maxOut)
          warn(
            ["pools", pool, "reasoning", "effort_budgets", effort],
            `thinking budget ${budget} is not below max_output_tokens ${maxOut}: at effort '${effort}' thinking can use the whole output and leave no room for the answer`,
          );
      }
    }
    if (r.adapter !== "qwen3" && r.effort_budgets !== undefined) {
      warn(
        ["pools", pool, "reasoning", "effort_budgets"],
        `effort_budgets are used by the qwen3 adapter only`,
      );
    }
    if (r.adapter !== "deepseek" && r.effort_map !== undefined) {
      warn(["pools", pool, "reasoning", "effort_map"], `effort_map is used by the deepseek adapter only`);
    }
  }
  out.push(...checkFleet(doc.fleet, classes, doc.ladders, (p) => doc.pools[p]?.price !== undefined));
  return out;
}
