// One contract for every reasoning adapter (hono style: the same suite, run per dialect):
// unknown fields and chat_template_kwargs keys survive, `model` is the served model, the
// output depends only on the original body and the pool, the input is never mutated, an
// adapter writes only keys it owns, and the splice renderer agrees with applyPatch.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { adaptBody as adapt, makePool } from "../../../test/fixtures/fixtures.js";
import type { ChatBody } from "../facts/body.js";
import type { PoolDoc } from "../policy/schema.js";
import { indexMembers, renderPatched } from "./render-body.js";

const EFFORTS = [undefined, "none", "minimal", "low", "medium", "high"] as const;

function bodyWith(effort: string | undefined, extra: ChatBody = {}): ChatBody {
  const body: ChatBody = {
    model: "client-model",
    messages: [{ role: "user", content: "hi" }],
    temperature: 0.2,
    x_vendor_extension: { nested: [1, { deep: true }] },
    max_tokens: 1000,
    ...extra,
  };
  if (effort !== undefined) body.reasoning_effort = effort;
  return body;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const kwargsOf = (b: ChatBody) => (b.chat_template_kwargs ?? {}) as Record<string, unknown>;

/** Bodies whose text trips naive scanners; each must parse as JSON. */
const TRICKY_TEXTS: Record<string, string> = {
  "escaped quotes and backslashes": String.raw`{"model":"client","messages":[{"role":"user","content":"say \"hi\" \\ then \\\"quoted\\\" and end\\\\"}],"we\"ird\\":"\\","reasoning_effort":"high","max_tokens":100,"note":"\\"}`,
  "nested arrays and structure inside strings": String.raw`{"x":[[1,[2,[3,{"a":[4,"]"]}]]],[]],"s":"{[,:]}\"}","messages":[{"content":"a,b}c]"}],"reasoning_effort":"low","chat_template_kwargs":{"k":[{"v":"}"}],"custom":true}}`,
  unicode: String.raw`{"model":"m","messages":[{"role":"user","content":"héllo 👋 中文 \u00e9 \ud83d\ude00"}],"ключ":"значение","emoji🙂":"✓","reasoning_effort":"medium","max_completion_tokens":64}`,
  "whitespace and newlines between tokens":
    '  \n{\n  "model" :\t"m" ,\r\n  "messages" : [ { "role" : "user" , "content" : "hi" } ] ,\n  "max_tokens" : 50 ,\n  "reasoning_effort"\n:\n"high"\n, "n"  :  -1.5e3 ,"t":true,"z":null}\n',
  "duplicate keys (the last one wins)":
    '{"model":"a","model":"b","x":1,"x":2,"reasoning_effort":"low","reasoning_effort":"high","chat_template_kwargs":{"a":1},"chat_template_kwargs":{"b":2},"max_tokens":10,"max_tokens":20}',
  "literals and numbers":
    '{"a":true,"b":false,"c":null,"d":-0.5E+3,"e":1e-7,"f":12345678901234567890,"g":0,"max_tokens":null,"stream":true}',
  "escaped key names": String.raw`{"mod\u0065l":"x","reasoning\u005feffort":"high","max\u005ftokens":30}`,
  "empty object": "{}",
  "empty object with space": " { } ",
  "effort none with kwargs the dialects own":
    '{"reasoning_effort":"none","chat_template_kwargs":{"reasoning_effort":"max","thinking":true,"enable_thinking":true,"other":1},"thinking_token_budget":99}',
  "base64 image": `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,${"QUJD".repeat(5000)}"}}]}],"reasoning_effort":"high","max_tokens":10}`,
};

/** What a dialect may add to a body beyond `model` (top level and chat_template_kwargs). */
interface Owns {
  top: string[];
  kwargs: string[];
}

/** Pools of every dialect, adapted for before the pool under test, from the same original. */
const OTHERS: [string, PoolDoc][] = [
  [
    "qwen3",
    makePool({
      adapter: "qwen3",
      forward_reasoning_effort: true,
      effort_budgets: { low: 1, medium: 2, high: 3 },
    }),
  ],
  ["deepseek", makePool({ adapter: "deepseek", effort_map: { high: "max" } }, {}, "deepseek")],
  ["passthrough", makePool({ adapter: "passthrough", default_effort: "high" })],
  ["strip", makePool({ adapter: "strip" })],
];

function runAdapterContract(name: string, makeOne: () => PoolDoc, owns: Owns) {
  describe(`adapter contract: ${name}`, () => {
    const pool = makeOne();
    assert.equal(pool.reasoning.adapter, name);

    for (const effort of EFFORTS) {
      const label = effort ?? "no effort";
      test(`${label}: unknown body fields survive untouched`, () => {
        const body = bodyWith(effort);
        const { out } = adapt(body, pool);
        for (const k of ["messages", "temperature", "x_vendor_extension"])
          assert.deepEqual(out[k], body[k], k);
      });
      test(`${label}: chat_template_kwargs keys the dialect does not own survive`, () => {
        const body = bodyWith(effort, {
          chat_template_kwargs: { add_generation_prompt: true, custom_flag: "keep-me" },
        });
        const kw = kwargsOf(adapt(body, pool).out);
        assert.equal(kw.add_generation_prompt, true);
        assert.equal(kw.custom_flag, "keep-me");
      });
      test(`${label}: model becomes the served model`, () => {
        assert.equal(adapt(bodyWith(effort), pool).out.model, "served/model");
        assert.equal(adapt({}, pool).out.model, "served/model");
      });
      test(`${label}: only owned keys are added`, () => {
        const body = bodyWith(effort, { chat_template_kwargs: { keep: 1 } });
        const { out } = adapt(body, pool);
        const addedTop = Object.keys(out).filter((k) => !(k in body) && k !== "model");
        const addedKw = Object.keys(kwargsOf(out)).filter((k) => !(k in kwargsOf(body)));
        assert.deepEqual(
          addedTop.filter((k) => !owns.top.includes(k)),
          [],
          "top-level keys",
        );
        assert.deepEqual(
          addedKw.filter((k) => !owns.kwargs.includes(k)),
          [],
          "chat_template_kwargs keys",
        );
      });
      test(`${label}: other pools first, from the same original, leave no trace`, () => {
        const original = bodyWith(effort, { chat_template_kwargs: { keep: 1 } });
        const pristine = structuredClone(original);
        const fresh = adapt(pristine, pool).out;
        for (const [other, otherPool] of OTHERS) {
          adapt(original, otherPool);
          assert.deepEqual(adapt(original, pool).out, fresh, `after ${other}`);
        }
      });
      test(`${label}: the input body is never mutated`, () => {
        const body = bodyWith(effort, {
          chat_template_kwargs: {
            keep: 1,
            enable_thinking: "client",
            thinking: "client",
            reasoning_effort: "client",
          },
        });
        const copy = structuredClone(body);
        deepFreeze(body); // a write would throw in strict mode
        const { out } = adapt(body, pool);
        assert.deepEqual(body, copy);
        assert.notEqual(out, body);
      });
    }

    for (const [what, text] of Object.entries(TRICKY_TEXTS)) {
      test(`splice renderer = applyPatch: ${what}`, () => {
        const body = JSON.parse(text) as ChatBody;
        const raw = Buffer.from(text);
        const members = indexMembers(raw);
        if (members === undefined) assert.fail("indexMembers refused a JSON object");
        const { patch, out } = adapt(body, pool);
        const rendered = renderPatched(raw, members, patch).toString("utf8");
        assert.deepEqual(JSON.parse(rendered), out);
        // Untouched members are copied as the client wrote them.
        const patched = new Set([...patch.remove, ...Object.keys(patch.set)]);
        for (const m of members) {
          const own = raw.toString("utf8", m.start, m.end);
          if (!patched.has(m.key)) assert.ok(rendered.includes(own), own.slice(0, 40));
        }
      });
    }
  });
}

runAdapterContract(
  "qwen3",
  () =>
    makePool(
      { adapter: "qwen3", effort_budgets: { minimal: 64, low: 512, medium: 2048, high: 8192 } },
      { max_output_tokens: 16384 },
    ),
  { top: ["thinking_token_budget"], kwargs: ["enable_thinking"] },
);
runAdapterContract(
  "deepseek",
  () => makePool({ adapter: "deepseek", effort_map: { high: "max", low: "low" } }),
  {
    top: [],
    kwargs: ["thinking", "reasoning_effort"],
  },
);
runAdapterContract("passthrough", () => makePool({ adapter: "passthrough", default_effort: "low" }), {
  top: ["reasoning_effort"],
  kwargs: [],
});
runAdapterContract("strip", () => makePool({ adapter: "strip", forward_reasoning_effort: true }), {
  top: [],
  kwargs: [],
});
