// How a pool wants the body: one adapter per reasoning dialect behind one interface. An
// adapter returns a patch of top-level fields computed from the client's original body and
// the pool alone, so every attempt (and every pool on a fallback path) starts clean.
import type { ChatBody } from "../facts/body.js";
import type { BodyFacts } from "../facts/types.js";
import type { Effort, PoolDoc } from "../policy/schema.js";

export interface BodyPatch {
  /** Top-level fields to write (replacing the client's). */
  set: Record<string, unknown>;
  /** Top-level fields to drop. */
  remove: string[];
}

export interface ReasoningAdapter {
  readonly name: PoolDoc["reasoning"]["adapter"];
  /** Whether the client's top-level reasoning_effort survives when the policy does not say. */
  readonly forwardsByDefault: boolean;
  adapt(body: ChatBody, facts: BodyFacts, pool: PoolDoc, patch: BodyPatch): void;
}

export function effortFor(facts: BodyFacts, pool: PoolDoc): Effort | undefined {
  return facts.reasoningEffort ?? pool.reasoning.default_effort;
}

/** chat_template_kwargs with the client's own keys kept and ours written over them. */
export function withTemplateKwargs(
  body: ChatBody,
  patch: BodyPatch,
  own: Record<string, unknown>,
  drop: string[] = [],
) {
  const current = patch.set.chat_template_kwargs ?? body.chat_template_kwargs;
  const base =
    current !== null && typeof current === "object" && !Array.isArray(current) ? { ...current } : {};
  for (const k of drop) delete (base as Record<string, unknown>)[k];
  patch.set.chat_template_kwargs = { ...base, ...own };
}

/**
 * Token math for a thinking budget: the client's max tokens is what the user wants to read,
 * so the limit rises by the budget, cut to the pool's max_output_tokens but never below the
 * client's own value. Without a client limit nothing is written (the server's default holds).
 */
export function raiseForBudget(facts: BodyFacts, budget: number, pool: PoolDoc, patch: BodyPatch): void {
  if (facts.maxTokens === undefined || facts.maxTokensField === undefined) return;
  const limit = pool.capabilities.max_output_tokens;
  const wanted = facts.maxTokens + budget;
  patch.set[facts.maxTokensField] =
    limit === undefined ? wanted : Math.max(facts.maxTokens, Math.min(wanted, limit));
}
