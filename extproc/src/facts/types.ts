import type { Effort } from "../policy/schema.js";
import type { Reason } from "../vocab/reasons.js";

/** Request headers with lowercase names; the first value wins when a header repeats. */
export type HeaderBag = Readonly<Record<string, string | undefined>>;

export interface HeaderFacts {
  feature?: string;
  tier?: string;
  trial: boolean;
  /** Percent of quota used, a finite number >= 0; absent when missing or unusable. */
  quotaUsed?: number;
  vision: boolean;
  site?: string;
  latencyBudgetMs?: number;
  /** A label the caller names (headers.label), already checked against classifier.labels. */
  label?: string;
}

export interface BodyFacts {
  model?: string;
  stream: boolean;
  imageCount: number;
  hasTools: boolean;
  reasoningEffort?: Effort;
  /** The client's output limit and the field it came in (max_completion_tokens wins). */
  maxTokens?: number;
  maxTokensField?: "max_tokens" | "max_completion_tokens";
  /** Rough prompt size: text chars / 4, plus per-message and per-image allowances. */
  promptTokens: number;
  bytes: number;
}

/** Where a request's label came from (docs/policy.md, "The classifier"). */
export const LABEL_SOURCES = ["header", "heuristic", "embeddings", "llm", "cache", "fallback"] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

/** Why the fallback label was used. */
export const FALLBACK_REASONS = [
  "no_text",
  "no_match",
  "below_threshold",
  "not_ready",
  "breaker_open",
  "timeout",
  "error",
  "malformed",
] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/** The classifier's answer, a fact like any header: the decision reads it, never computes it. */
export interface LabelFact {
  name: string;
  source: LabelSource;
  /** Set when source is "fallback". */
  why?: FallbackReason;
}

export interface RequestFacts {
  /** Whether the caller's routing headers counted (policy trust section). */
  trusted: boolean;
  headers: HeaderFacts;
  body: BodyFacts;
  /** The content label, when the classifier ran (classify/; the router fills it in before decide). */
  label?: LabelFact;
  /** Inputs that were garbage and how they were read. */
  notes: Reason[];
}
