// Quality class arithmetic, exactly as the design says: base class from the request's class
// model (policy/models.ts), else the feature, else default_class; then
// the modifiers stack (tier, trial, the highest quota band), then clamp to the class range,
// then the feature's cap, then its floor.
import type { RequestFacts } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";

const signed = (n: number) => (n >= 0 ? `+${n}` : String(n));

/**
 * Where the base class came from: the feature header, the request's model, the classifier's
 * label, or default_class.
 */
export type BaseSource = "feature" | "model" | "label" | "default";

export function computeClass(
  policy: Policy,
  facts: RequestFacts,
  reasons: Reason[],
): { index: number; base: BaseSource } {
  const { classes } = policy;
  const h = facts.headers;
  const rule = h.feature === undefined ? undefined : policy.features.get(h.feature);
  const { index: base, source } = baseClass(policy, facts, rule !== undefined, reasons);
  let cls = base;

  let shift = 0;
  if (h.tier !== undefined) {
    const t = policy.tiers.get(h.tier);
    if (t === undefined)
      reasons.push(reason("modifier", "tier:unknown", `tier '${h.tier}' is not in the policy; no shift`));
    else {
      shift += t;
      reasons.push(reason("modifier", `tier:${h.tier}${signed(t)}`, `tier '${h.tier}' shifts ${signed(t)}`));
    }
  }
  if (h.trial && policy.trialShift !== 0) {
    shift += policy.trialShift;
    reasons.push(
      reason("modifier", `trial${signed(policy.trialShift)}`, `trial shifts ${signed(policy.trialShift)}`),
    );
  }
  if (h.quotaUsed !== undefined) {
    const used = h.quotaUsed;
    const band = policy.quotaBands.find((b) => used > b.above);
    if (band) {
      shift += band.shift;
      reasons.push(
        reason(
          "modifier",
          `quota>${band.above}${signed(band.shift)}`,
          `quota used ${h.quotaUsed}% is over ${band.above}%: shifts ${signed(band.shift)}`,
        ),
      );
    }
  }

  const raw = cls + shift;
  cls = Math.min(Math.max(raw, 0), classes.length - 1);
  if (cls !== raw)
    reasons.push(
      reason("clamp", `clamp:${classes[cls]}`, `shifted past the class range; clamped to ${classes[cls]}`),
    );
  if (rule?.cap !== undefined && cls > rule.cap) {
    cls = rule.cap;
    reasons.push(reason("cap", `cap:${classes[cls]}`, `feature '${h.feature}' is capped at ${classes[cls]}`));
  }
  if (rule?.floor !== undefined && cls < rule.floor) {
    cls = rule.floor;
    reasons.push(
      reason("floor", `floor:${classes[cls]}`, `feature '${h.feature}' has floor ${classes[cls]}`),
    );
  }
  reasons.push(reason("class", `class:${classes[cls]}`, `class ${classes[cls]}`));
  return { index: cls, base: source };
}

/**
 * The base class: a model id or alias that names a class wins (a client that cannot set headers
 * can still ask for one; the feature keeps its cap and floor), then the feature, then
 * default_class. An untrusted caller's class model counts as much as its headers: not at all.
 */
function baseClass(
  policy: Policy,
  facts: RequestFacts,
  known: boolean,
  reasons: Reason[],
): { index: number; source: BaseSource } {
  const { classes } = policy;
  const feature = facts.headers.feature;
  const model = facts.body.model;
  const byModel = model === undefined ? undefined : policy.models.get(model);
  if (byModel !== undefined && facts.trusted) {
    const keeps = known ? ` (feature '${feature}' keeps its cap and floor)` : "";
    reasons.push(
      reason("base", `model:${model}`, `model '${model}' names class ${classes[byModel]}${keeps}`),
    );
    return { index: byModel, source: "model" };
  }
  if (byModel !== undefined)
    reasons.push(
      reason("base", "model:untrusted", `model '${model}' names a class, but the caller is not trusted`),
    );
  const auto = known && policy.features.get(feature as string)?.auto === true;
  if (known && !auto) {
    const index = policy.features.get(feature as string)?.base as number;
    reasons.push(reason("base", `feature:${feature}`, `feature '${feature}' starts at ${classes[index]}`));
    return { index, source: "feature" };
  }
  if (auto)
    reasons.push(reason("base", `feature:${feature}`, `feature '${feature}' is labelled by the classifier`));
  const byLabel = labelClass(policy, facts, reasons);
  if (byLabel !== undefined) return { index: byLabel, source: "label" };
  const index = policy.defaultClass;
  if (auto) {
    reasons.push(reason("base", "label:none", `no label; default class ${classes[index]}`));
    return { index, source: "default" };
  }
  if (feature !== undefined)
    reasons.push(
      reason(
        "base",
        "feature:unknown",
        `feature '${feature}' is not in the policy; default class ${classes[index]}`,
      ),
    );
  else reasons.push(reason("base", "feature:none", `no feature header; default class ${classes[index]}`));
  return { index, source: "default" };
}

/**
 * Whether the request's base class would come from the classifier's label: a classifier is
 * configured, no trusted class model decides, and the feature header is absent or its feature
 * is `class: auto`. The router classifies only then (the same order as baseClass above).
 */
export function needsLabel(policy: Policy, facts: RequestFacts): boolean {
  if (policy.labels.size === 0) return false;
  const model = facts.body.model;
  if (facts.trusted && model !== undefined && policy.models.has(model)) return false;
  const feature = facts.headers.feature;
  return feature === undefined || policy.features.get(feature)?.auto === true;
}

/** The label's class, with its trace (`classify:<why>` for a fallback, then `label:<label>:<source>`). */
function labelClass(policy: Policy, facts: RequestFacts, reasons: Reason[]): number | undefined {
  const l = facts.label;
  const index = l === undefined ? undefined : policy.labels.get(l.name);
  if (l === undefined || index === undefined) return undefined;
  if (l.why !== undefined)
    reasons.push(
      reason("base", `classify:${l.why}`, `the classifier fell back (${l.why.replace("_", " ")})`),
    );
  reasons.push(
    reason(
      "base",
      `label:${l.name}:${l.source}`,
      `label '${l.name}' (${l.source}) means class ${policy.classes[index]}`,
    ),
  );
  return index;
}
