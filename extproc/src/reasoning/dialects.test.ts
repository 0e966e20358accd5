// What each dialect writes: qwen3 (enable_thinking, thinking_token_budget, token math),
// deepseek (thinking, reasoning_effort in chat_template_kwargs), passthrough, strip.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { adaptBody as adapt, discourse, makePool } from "../../../test/fixtures/fixtures.js";
import type { ChatBody } from "../facts/body.js";
import type { PoolDoc, ReasoningDoc } from "../policy/schema.js";

const msgs = [{ role: "user", content: "hi" }];
const BUDGETS = { low: 512, medium: 2048, high: 8192 };

const qwen = (r: Partial<ReasoningDoc> = {}, caps: object = { max_output_tokens: 16384 }) =>
  makePool({ adapter: "qwen3", effort_budgets: BUDGETS, ...r }, caps);

/** The fields a test looks at; absent keys are left out so deepEqual also checks absence. */
function view(
  out: ChatBody,
  keys = [
    "chat_template_kwargs",
    "thinking_token_budget",
    "reasoning_effort",
    "max_tokens",
    "max_completion_tokens",
  ],
) {
  const v: ChatBody = {};
  for (const k of keys) if (k in out) v[k] = out[k];
  return v;
}

interface Case {
  name: string;
  pool: PoolDoc;
  body: ChatBody;
  want: ChatBody;
}

function runCases(cases: Case[]) {
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(view(adapt({ messages: msgs, ...c.body }, c.pool).out), c.want);
    });
  }
}

describe("qwen3: effort → enable_thinking and thinking_token_budget", () => {
  runCases([
    {
      name: "low → thinking, budget 512",
      pool: qwen(),
      body: { reasoning_effort: "low" },
      want: { chat_template_kwargs: { enable_thinking: true }, thinking_token_budget: 512 },
    },
    {
      name: "medium → thinking, budget 2048",
      pool: qwen(),
      body: { reasoning_effort: "medium" },
      want: { chat_template_kwargs: { enable_thinking: true }, thinking_token_budget: 2048 },
    },
    {
      name: "high → thinking, budget 8192",
      pool: qwen(),
      body: { reasoning_effort: "high" },
      want: { chat_template_kwargs: { enable_thinking: true }, thinking_token_budget: 8192 },
    },
    {
      name: "none → no thinking, the client's budget removed",
      pool: qwen(),
      body: {
        reasoning_effort: "none",
        thinking_token_budget: 99,
        chat_template_kwargs: { enable_thinking: true, x: 1 },
      },
      want: { chat_template_kwargs: { enable_thinking: false, x: 1 } },
    },
    {
      name: "minimal without a budget → no thinking",
      pool: qwen(),
      body: { reasoning_effort: "minimal" },
      want: { chat_template_kwargs: { enable_thinking: false } },
    },
    {
      name: "minimal with a budget → thinking, that budget",
      pool: qwen({ effort_budgets: { minimal: 64 } }),
      body: { reasoning_effort: "minimal" },
      want: { chat_template_kwargs: { enable_thinking: true }, thinking_token_budget: 64 },
    },
    {
      name: "low when only high has a budget → thinking, no budget",
      pool: qwen({ effort_budgets: { high: 8192 } }),
      body: { reasoning_effort: "low", thinking_token_budget: 5 },
      want: { chat_template_kwargs: { enable_thinking: true } },
    },
    {
      name: "no effort, no default → nothing written",
      pool: qwen(),
      body: { thinking_token_budget: 7 },
      want: { thinking_token_budget: 7 },
    },
    {
      name: "default_effort fills in when the client sends none",
      pool: qwen({ default_effort: "medium" }),
      body: {},
      want: { chat_template_kwargs: { enable_thinking: true }, thinking_token_budget: 2048 },
    },
    {
      name: "the client's effort beats default_effort",
      pool: qwen({ default_effort: "high" }),
      body: { reasoning_effort: "none" },
      want: { chat_template_kwargs: { enable_thinking: false } },
    },
    {
      name: "an invalid effort is ignored (default applies)",
      pool: qwen({ default_effort: "low" }),
      body: { reasoning_effort: "extreme" },
      want: { chat_template_kwargs: { enable_thinking: true }, thinking_token_budget: 512 },
    },
  ]);
});

describe("qwen3: forward_reasoning_effort", () => {
  runCases([
    {
      name: "unset → reasoning_effort removed",
      pool: qwen(),
      body: { reasoning_effort: "none" },
      want: { chat_template_kwargs: { enable_thinking: false } },
    },
    {
      name: "false → removed",
      pool: qwen({ forward_reasoning_effort: false }),
      body: { reasoning_effort: "none" },
      want: { chat_template_kwargs: { enable_thinking: false } },
    },
    {
      name: "true → kept",
      pool: qwen({ forward_reasoning_effort: true }),
      body: { reasoning_effort: "none" },
      want: { chat_template_kwargs: { enable_thinking: false }, reasoning_effort: "none" },
    },
  ]);
});

describe("qwen3: token math (max_tokens is what the user reads; the budget comes on top)", () => {
  const on = { enable_thinking: true };
  runCases([
    {
      name: "1000 + 8192 under a 16384 limit → 9192",
      pool: qwen(),
      body: { reasoning_effort: "high", max_tokens: 1000 },
      want: { chat_template_kwargs: on, thinking_token_budget: 8192, max_tokens: 9192 },
    },
    {
      name: "1000 + 8192 capped by a 4096 limit → 4096",
      pool: qwen({}, { max_output_tokens: 4096 }),
      body: { reasoning_effort: "high", max_tokens: 1000 },
      want: { chat_template_kwargs: on, thinking_token_budget: 8192, max_tokens: 4096 },
    },
    {
      name: "6000 over a 4096 limit → 6000 (never below the client's)",
      pool: qwen({}, { max_output_tokens: 4096 }),
      body: { reasoning_effort: "high", max_tokens: 6000 },
      want: { chat_template_kwargs: on, thinking_token_budget: 8192, max_tokens: 6000 },
    },
    {
      name: "no max_output_tokens → 1000 + 512",
      pool: qwen({}, {}),
      body: { reasoning_effort: "low", max_tokens: 1000 },
      want: { chat_template_kwargs: on, thinking_token_budget: 512, max_tokens: 1512 },
    },
    {
      name: "max_completion_tokens is raised when the client used it",
      pool: qwen(),
      body: { reasoning_effort: "medium", max_completion_tokens: 100 },
      want: { chat_template_kwargs: on, thinking_token_budget: 2048, max_completion_tokens: 2148 },
    },
    {
      name: "both sent: max_completion_tokens raised, max_tokens left",
      pool: qwen(),
      body: { reasoning_effort: "medium", max_tokens: 500, max_completion_tokens: 100 },
      want: {
        chat_template_kwargs: on,
        thinking_token_budget: 2048,
        max_tokens: 500,
        max_completion_tokens: 2148,
      },
    },
    {
      name: "no client limit → none written",
      pool: qwen(),
      body: { reasoning_effort: "high" },
      want: { chat_template_kwargs: on, thinking_token_budget: 8192 },
    },
    {
      name: "an unusable client limit is left as sent",
      pool: qwen(),
      body: { reasoning_effort: "high", max_tokens: "lots" },
      want: { chat_template_kwargs: on, thinking_token_budget: 8192, max_tokens: "lots" },
    },
    {
      name: "none → max_tokens untouched",
      pool: qwen(),
      body: { reasoning_effort: "none", max_tokens: 1000 },
      want: { chat_template_kwargs: { enable_thinking: false }, max_tokens: 1000 },
    },
    {
      name: "thinking without a budget → max_tokens untouched",
      pool: qwen({ effort_budgets: {} }),
      body: { reasoning_effort: "high", max_tokens: 1000 },
      want: { chat_template_kwargs: on, max_tokens: 1000 },
    },
  ]);
});

describe("deepseek: chat_template_kwargs.thinking and .reasoning_effort", () => {
  const ds = (r: Partial<ReasoningDoc> = {}) => makePool({ adapter: "deepseek", ...r });
  runCases([
    {
      name: "high → thinking, effort high, top-level field removed",
      pool: ds(),
      body: { reasoning_effort: "high" },
      want: { chat_template_kwargs: { thinking: true, reasoning_effort: "high" } },
    },
    {
      name: "effort_map applies: high → max",
      pool: ds({ effort_map: { high: "max" } }),
      body: { reasoning_effort: "high" },
      want: { chat_template_kwargs: { thinking: true, reasoning_effort: "max" } },
    },
    {
      name: "an effort the map does not name passes as is",
      pool: ds({ effort_map: { high: "max" } }),
      body: { reasoning_effort: "medium" },
      want: { chat_template_kwargs: { thinking: true, reasoning_effort: "medium" } },
    },
    {
      name: "none → thinking false, the client's kwargs effort dropped, other kwargs kept",
      pool: ds(),
      body: { reasoning_effort: "none", chat_template_kwargs: { reasoning_effort: "max", keep: 1 } },
      want: { chat_template_kwargs: { keep: 1, thinking: false } },
    },
    { name: "no effort → nothing written", pool: ds(), body: { max_tokens: 10 }, want: { max_tokens: 10 } },
    {
      name: "default_effort fills in",
      pool: ds({ default_effort: "low" }),
      body: {},
      want: { chat_template_kwargs: { thinking: true, reasoning_effort: "low" } },
    },
    {
      name: "forward_reasoning_effort true keeps the top-level field",
      pool: ds({ forward_reasoning_effort: true }),
      body: { reasoning_effort: "low" },
      want: { chat_template_kwargs: { thinking: true, reasoning_effort: "low" }, reasoning_effort: "low" },
    },
    {
      name: "no token math: max_tokens stays",
      pool: ds(),
      body: { reasoning_effort: "high", max_tokens: 100 },
      want: { chat_template_kwargs: { thinking: true, reasoning_effort: "high" }, max_tokens: 100 },
    },
  ]);
});

describe("passthrough and strip", () => {
  const pt = (r: Partial<ReasoningDoc> = {}) => makePool({ adapter: "passthrough", ...r });
  const st = (r: Partial<ReasoningDoc> = {}) => makePool({ adapter: "strip", ...r });
  runCases([
    {
      name: "passthrough keeps reasoning_effort",
      pool: pt(),
      body: { reasoning_effort: "high" },
      want: { reasoning_effort: "high" },
    },
    {
      name: "passthrough: default_effort fills in",
      pool: pt({ default_effort: "low" }),
      body: {},
      want: { reasoning_effort: "low" },
    },
    {
      name: "passthrough: the client's effort beats default_effort",
      pool: pt({ default_effort: "low" }),
      body: { reasoning_effort: "high" },
      want: { reasoning_effort: "high" },
    },
    {
      name: "passthrough: forward false removes it, default too",
      pool: pt({ forward_reasoning_effort: false, default_effort: "low" }),
      body: { reasoning_effort: "high" },
      want: {},
    },
    {
      name: "passthrough: forward false and no client effort → default_effort not written",
      pool: pt({ forward_reasoning_effort: false, default_effort: "low" }),
      body: {},
      want: {},
    },
    {
      name: "passthrough: kwargs untouched",
      pool: pt(),
      body: { reasoning_effort: "high", chat_template_kwargs: { a: 1 } },
      want: { reasoning_effort: "high", chat_template_kwargs: { a: 1 } },
    },
    {
      name: "strip removes reasoning_effort",
      pool: st(),
      body: { reasoning_effort: "high", max_tokens: 5 },
      want: { max_tokens: 5 },
    },
    {
      name: "strip removes it even with forward true",
      pool: st({ forward_reasoning_effort: true }),
      body: { reasoning_effort: "high" },
      want: {},
    },
    { name: "strip ignores default_effort", pool: st({ default_effort: "high" }), body: {}, want: {} },
  ]);
});

describe("discourse pools: one request, each pool's body", () => {
  const policy = discourse();
  const body = {
    model: "x",
    messages: msgs,
    reasoning_effort: "high",
    max_tokens: 1000,
    chat_template_kwargs: { k: 1 },
  };
  const bodyFor = (pool: string) => {
    const doc = policy.pools.get(pool);
    if (!doc) assert.fail(pool);
    return adapt(body, doc).out;
  };
  test("qwen-large: thinking, budget 8192, max_tokens 9192, reasoning_effort forwarded", () => {
    assert.deepEqual(bodyFor("qwen-large"), {
      ...body,
      model: "Qwen/Qwen3-VL-235B-A22B-Instruct",
      chat_template_kwargs: { k: 1, enable_thinking: true },
      thinking_token_budget: 8192,
      max_tokens: 9192,
    });
  });
  test("qwen-small: max_tokens capped at its 8192 output limit", () => {
    assert.equal(bodyFor("qwen-small").max_tokens, 8192);
  });
  test("deepseek-flash: kwargs thinking + effort, no qwen keys, no top-level effort", () => {
    const { reasoning_effort: _, ...rest } = body;
    assert.deepEqual(bodyFor("deepseek-flash"), {
      ...rest,
      model: "deepseek-ai/DeepSeek-V4-Flash",
      chat_template_kwargs: { k: 1, thinking: true, reasoning_effort: "high" },
    });
  });
});
