// The four dialects. Keys an adapter owns are written; every other field and every other
// chat_template_kwargs key is left as the client sent it.
import type { ReasoningAdapter } from "./adapter.js";
import { effortFor, raiseForBudget, withTemplateKwargs } from "./adapter.js";

/** Qwen3 templates: chat_template_kwargs.enable_thinking plus a top-level thinking_token_budget. */
export const qwen3: ReasoningAdapter = {
  name: "qwen3",
  forwardsByDefault: false,
  adapt(body, facts, pool, patch) {
    const effort = effortFor(facts, pool);
    if (effort === undefined) return;
    const budget = effort === "none" ? undefined : pool.reasoning.effort_budgets?.[effort];
    const thinking = effort !== "none" && !(effort === "minimal" && budget === undefined);
    withTemplateKwargs(body, patch, { enable_thinking: thinking });
    if (thinking && budget !== undefined) {
      patch.set.thinking_token_budget = budget;
      raiseForBudget(facts, budget, pool, patch);
    } else {
      patch.remove.push("thinking_token_budget");
    }
  },
};

/** DeepSeek V4 templates: chat_template_kwargs.thinking and chat_template_kwargs.reasoning_effort. */
export const deepseek: ReasoningAdapter = {
  name: "deepseek",
  forwardsByDefault: false,
  adapt(body, facts, pool, patch) {
    const effort = effortFor(facts, pool);
    if (effort === undefined) return;
    if (effort === "none") {
      withTemplateKwargs(body, patch, { thinking: false }, ["reasoning_effort"]);
      return;
    }
    const mapped = pool.reasoning.effort_map?.[effort] ?? effort;
    withTemplateKwargs(body, patch, { thinking: true, reasoning_effort: mapped });
  },
};

/** Servers that take OpenAI's reasoning_effort as it is. */
export const passthrough: ReasoningAdapter = {
  name: "passthrough",
  forwardsByDefault: true,
  adapt(_body, facts, pool, patch) {
    if (facts.reasoningEffort === undefined && pool.reasoning.default_effort !== undefined) {
      patch.set.reasoning_effort = pool.reasoning.default_effort;
    }
  },
};

/** Models without reasoning: the field goes, whatever forward_reasoning_effort says. */
export const strip: ReasoningAdapter = {
  name: "strip",
  forwardsByDefault: false,
  adapt(_body, _facts, _pool, patch) {
    patch.remove.push("reasoning_effort");
  },
};

export const ADAPTERS: Readonly<Record<ReasoningAdapter["name"], ReasoningAdapter>> = {
  qwen3,
  deepseek,
  passthrough,
  strip,
};
