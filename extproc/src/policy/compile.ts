// Turns a checked policy document into the lookup tables the hot path uses.
import { createHash } from "node:crypto";
import { BlockList } from "node:net";
import { AUTO_CLASS, compileLabels } from "./classifier.js";
import { compileStrategies, type Strategy } from "./fleet.js";
import { compileModels } from "./models.js";
import { type PolicyDoc, type PoolDoc, parseCidr } from "./schema.js";

export interface WeightedPool {
  pool: string;
  weight: number;
}

export interface FeatureRule {
  base: number;
  /** class: auto: the base class comes from the classifier's label (base is default_class then). */
  auto?: boolean;
  cap?: number;
  floor?: number;
}

export interface Policy {
  doc: PolicyDoc;
  /** sha256 of the source text, first 12 hex digits: names this exact policy in logs and metrics. */
  hash: string;
  /** The policy file's text (the body worker parses its own copy). */
  source: string;
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
  /** Who may set routing headers; undefined: everyone. */
  trust: Trust | undefined;
  /** A request's `model` -> class index, for class model ids and aliases (policy/models.ts). */
  models: ReadonlyMap<string, number>;
  /** Classifier label -> class index; empty without a classifier (policy/classifier.ts). */
  labels: ReadonlyMap<string, number>;
  /** Strategy per class index and ladder step (policy/fleet.ts). */
  strategies: readonly (readonly Strategy[])[];
  /** Latency budget per class index (fleet.latency_budget_ms), undefined: none. */
  budgets: readonly (number | undefined)[];
  /** Price per pool for cost_first: input + output per million tokens; no price: Infinity. */
  prices: ReadonlyMap<string, number>;
}

export interface Trust {
  sources: BlockList | undefined;
  /** The secret header's name and the sha256 of its value (the value itself is not kept). */
  secret: { header: string; digest: Buffer } | undefined;
}

/** The trust rules, with the secret read from `env` (checked at load: see load.ts). */
export function compileTrust(doc: PolicyDoc, env: NodeJS.ProcessEnv): Trust | undefined {
  const t = doc.trust;
  if (t === undefined) return undefined;
  let sources: BlockList | undefined;
  if (t.sources.length > 0) {
    sources = new BlockList();
    for (const s of t.sources) {
      const c = parseCidr(s);
      if (c) sources.addSubnet(c.address, c.prefix, c.family);
    }
  }
  const value = t.secret === undefined ? undefined : env[t.secret.env];
  const secret =
    t.secret === undefined || value === undefined
      ? undefined
      : { header: t.secret.header, digest: createHash("sha256").update(value).digest() };
  return { sources, secret };
}

export function compilePolicy(doc: PolicyDoc, source: string, env: NodeJS.ProcessEnv = {}): Policy {
  const idx = (c: string) => doc.classes.indexOf(c);
  const features = new Map<string, FeatureRule>();
  for (const [name, f] of Object.entries(doc.features)) {
    const rule: FeatureRule =
      f.class === AUTO_CLASS ? { base: idx(doc.default_class), auto: true } : { base: idx(f.class) };
    if (f.cap !== undefined) rule.cap = idx(f.cap);
    if (f.floor !== undefined) rule.floor = idx(f.floor);
    features.set(name, rule);
  }
  return {
    doc,
    hash: createHash("sha256").update(source).digest("hex").slice(0, 12),
    source,
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
    trust: compileTrust(doc, env),
    models: compileModels(doc),
    labels: compileLabels(doc),
    strategies: compileStrategies(doc.fleet, doc.classes, (c) => doc.ladders[c]?.length ?? 0),
    budgets: doc.classes.map((c) => doc.fleet.latency_budget_ms[c]),
    prices: new Map(
      Object.entries(doc.pools).map(([name, p]) => [
        name,
        p.price === undefined ? Number.POSITIVE_INFINITY : p.price.input_per_mtok + p.price.output_per_mtok,
      ]),
    ),
  };
}
