// Quality class arithmetic, exactly as the design says: base class from the feature, then
// the modifiers stack (tier, trial, the highest quota band), then clamp to the class range,
// then the feature's cap, then its floor.
import type { RequestFacts } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";

const signed = (n: number) => (n >= 0 ? `+${n}` : String(n));

export function computeClass(policy: Policy, facts: RequestFacts, reasons: Reason[]): number {
  const { classes } = policy;
  const h = facts.headers;
  const rule = h.feature === undefined ? undefined : policy.features.get(h.feature);
  let cls = rule?.base ?? policy.defaultClass;
  if (rule)
    reasons.push(reason("base", `feature:${h.feature}`, `feature '${h.feature}' starts at ${classes[cls]}`));
  else if (h.feature !== undefined) {
    reasons.push(
      reason(
        "base",
        "feature:unknown",
        `feature '${h.feature}' is not in the policy; default class ${classes[cls]}`,
      ),
    );
  } else reasons.push(reason("base", "feature:none", `no feature header; default class ${classes[cls]}`));

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
  return cls;
}
