// Routing headers -> facts. Total: every value, however odd, yields a defined fact, and
// anything that was not taken at face value leaves a note. Rules (documented in docs/policy.md, "Header facts"):
// - names are case-insensitive (the bag has lowercase names); values are trimmed;
// - feature and tier are lowercased; a tier the policy does not know shifts nothing;
// - trial and vision: true/1/yes/on are true, false/0/no/off/empty are false, anything else
//   is false and noted;
// - quota used: a plain non-negative decimal ("87", "87.5"), optionally with a trailing
//   "%"; anything else ("abc", "-3", "1e9", "0x10", an empty value) is ignored and noted, so no
//   band applies;
// - latency budget: a positive integer of milliseconds, else (empty included) ignored and noted;
// - site: kept for logs, cut to 128 characters.
import type { PolicyDoc } from "../policy/schema.js";
import { type Reason, reason } from "../vocab/reasons.js";
import type { HeaderBag, HeaderFacts } from "./types.js";

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off", ""]);
const PLAIN_PERCENT = /^(\d{1,15}(?:\.\d{1,6})?)%?$/;

export function readHeaderFacts(bag: HeaderBag, names: PolicyDoc["headers"], notes: Reason[]): HeaderFacts {
  const get = (name: string) => bag[name]?.trim();
  const facts: HeaderFacts = { trial: false, vision: false };

  const feature = get(names.feature)?.toLowerCase();
  if (feature) facts.feature = feature;
  const tier = get(names.tier)?.toLowerCase();
  if (tier) facts.tier = tier;
  facts.trial = readFlag("trial", get(names.trial), notes);
  facts.vision = readFlag("vision", get(names.vision), notes);

  const quota = get(names.quota_used);
  if (quota !== undefined) {
    const m = PLAIN_PERCENT.exec(quota);
    if (m?.[1] !== undefined) facts.quotaUsed = Number(m[1]);
    else
      notes.push(
        reason("facts", "quota:ignored", `quota used '${clip(quota)}' is not a plain percentage; ignored`),
      );
  }

  const site = get(names.site);
  if (site) facts.site = site.slice(0, 128);

  const budget = get(names.latency_budget_ms);
  if (budget !== undefined) {
    const n = Number(budget);
    if (/^\d{1,9}$/.test(budget) && n > 0) facts.latencyBudgetMs = n;
    else
      notes.push(
        reason(
          "facts",
          "latency_budget:ignored",
          `latency budget '${clip(budget)}' is not a positive integer; ignored`,
        ),
      );
  }
  return facts;
}

function readFlag(what: string, value: string | undefined, notes: Reason[]): boolean {
  if (value === undefined) return false;
  const v = value.toLowerCase();
  if (TRUE.has(v)) return true;
  if (!FALSE.has(v))
    notes.push(
      reason("facts", `${what}:ignored`, `${what} '${clip(value)}' is not a yes/no value; read as false`),
    );
  return false;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
