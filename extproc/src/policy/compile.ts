// Turns a checked policy document into the lookup tables the hot path uses.
import { createHash } from "node:crypto";
import type { PolicyDoc, PoolDoc } from "./schema.js";

export interface WeightedPool {
  pool: string;
  weight: number;
}

export interface FeatureRule {
  base: number;
  cap?: number;
  floor?: number;
}

export interface Policy {
  doc: PolicyDoc;
  /** sha256 of the source text, first 12 hex digits: names this exact policy in logs and metrics. */
  hash: string;
  classes: readonly string[];
  defaultClass: number;
  features: ReadonlyMap<string, FeatureRule>;
  tiers: ReadonlyMap<string, number>;
  trialShift: number;
  /** Sorted by `above`, highest first: the first band the quota is strictly above applies. */
  quotaBands: readonly { above: number; shift: number }[];
  /** Indexed by class index. */
  ladders: readonly (readonly (readonly WeightedPool[])[])[];
  pools: ReadonlyMap<string, PoolDoc>;
  headers: PolicyDoc["headers"];
}

export function compilePolicy(doc: PolicyDoc, source: string): Policy {
  const idx = (c: string) => doc.classes.indexOf(c);
  const features = new Map<string, FeatureRule>();
  for (const [name, f] of Object.entries(doc.features)) {
    const rule: FeatureRule = { base: idx(f.class) };
    if (f.cap !== undefined) rule.cap = idx(f.cap);
    if (f.floor !== undefined) rule.floor = idx(f.floor);
    features.set(name, rule);
  }
  return {
    doc,
    hash: createHash("sha256").update(source).digest("hex").slice(0, 12),
    classes: doc.classes,
    defaultClass: idx(doc.default_class),
    features,
    tiers: new Map(Object.entries(doc.modifiers.tiers)),
    trialShift: doc.modifiers.trial,
    quotaBands: [...doc.modifiers.quota].sort((a, b) => b.above - a.above),
    ladders: doc.classes.map((c) =>
      (doc.ladders[c] ?? []).map((step) => Object.entries(step).map(([pool, weight]) => ({ pool, weight }))),
    ),
    pools: new Map(Object.entries(doc.pools)),
    headers: doc.headers,
  };
}
