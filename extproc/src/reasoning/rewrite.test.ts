// The one body rewriter, end to end: what the router sends for the first pool, what an upstream
// attempt on another pool sends after taking that back, and the undo record between them, for
// every dialect, checked against the reference (JSON.stringify of applyPatch).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse, fixtureBody, makePool } from "../../../test/fixtures/fixtures.js";
import { type ChatBody, parseChatBody, readBodyFacts } from "../facts/body.js";
import type { PoolDoc } from "../policy/schema.js";
import { adaptForPool, applyPatch } from "./adapt.js";
import {
  isNoOp,
  type Rewrite,
  readSettings,
  renderPatched,
  restoreBody,
  rewriteForPool,
} from "./render-body.js";

/** The router's route: the body parsed once, facts read once, then the rewriter. */
function routerRewrite(raw: Buffer, pool: PoolDoc): Rewrite {
  const parsed = parseChatBody(raw.toString("utf8"));
  if (!parsed.ok) throw new Error(`not a body: ${raw.toString()}`);
  return rewriteForPool(raw, parsed.body, readBodyFacts(parsed.body, raw.length, []), pool);
}

/** The upstream processor's route: only the settings parsed. */
function upstreamRewrite(raw: Buffer, pool: PoolDoc): Buffer | undefined {
  const read = readSettings(raw);
  if (read === undefined) return undefined;
  const patch = adaptForPool(read.settings, readBodyFacts(read.settings, raw.length, []), pool);
  return isNoOp(read.settings, patch) ? read.base : renderPatched(read.base, read.members, patch);
}

/** The reference: the whole body parsed, patched as an object, stringified. */
function reference(raw: Buffer, pool: PoolDoc): ChatBody {
  const body = JSON.parse(raw.toString("utf8")) as ChatBody;
  return JSON.parse(
    JSON.stringify(applyPatch(body, adaptForPool(body, readBodyFacts(body, raw.length, []), pool))),
  );
}

const pools: [string, PoolDoc][] = [
  ...[...discourse().pools].map(([name, p]): [string, PoolDoc] => [`discourse ${name}`, p]),
  [
    "qwen3 budgets",
    makePool({ adapter: "qwen3", effort_budgets: { low: 512, high: 8192 } }, { max_output_tokens: 4096 }),
  ],
  [
    "qwen3 default effort",
    makePool({ adapter: "qwen3", default_effort: "medium", effort_budgets: { medium: 1024 } }),
  ],
  ["deepseek map", makePool({ adapter: "deepseek", effort_map: { high: "max" } })],
  ["passthrough default", makePool({ adapter: "passthrough", default_effort: "low" })],
  ["passthrough no forward", makePool({ adapter: "passthrough", forward_reasoning_effort: false })],
  ["strip", makePool({ adapter: "strip" })],
];

function syntheticBodies(): [string, string][] {
  const out: [string, string][] = [];
  for (const effort of [undefined, "none", "minimal", "low", "medium", "high", "bogus", 3, null]) {
    for (const maxTokens of [undefined, 100, 0, "x"]) {
      for (const kwargs of [undefined, { enable_thinking: true, keep: 1 }, "text", null]) {
        const b: Record<string, unknown> = {
          model: "m",
          messages: [{ role: "user", content: 'héllo 😀 "q" \\ } { ] [' }],
          stream: true,
        };
        if (effort !== undefined) b.reasoning_effort = effort;
        if (maxTokens !== undefined) b.max_completion_tokens = maxTokens;
        if (kwargs !== undefined) b.chat_template_kwargs = kwargs;
        const name = `effort ${String(effort)}, max ${String(maxTokens)}, kwargs ${JSON.stringify(kwargs)}`;
        out.push([name, JSON.stringify(b)], [`${name}, indented`, JSON.stringify(b, null, 2)]);
      }
    }
  }
  return out;
}

const bodies: [string, string][] = [
  ["tools fixture", fixtureBody("tools")],
  ["vision fixture", fixtureBody("vision-data-uri")],
  ["escaped key", '{"mo\\u0064el":"x","messages":[],"max_tokens":5,"reasoning_effort":"high"}'],
  ["duplicate keys", '{"model":"a","max_tokens":3,"max_tokens":7,"reasoning_effort":"low","messages":[]}'],
  ["empty object", " {\n} "],
  ["completions prompt", '{"model":"x","prompt":"p \\" } { ","max_tokens":9,"reasoning_effort":"medium"}'],
  [
    "nested settings",
    '{"model":"x","metadata":{"a":[1,{"b":"]}"}]},"tools":[{"type":"function"}],"messages":[]}',
  ],
];

function assertSameAsReference(text: string, label: string): void {
  const raw = Buffer.from(text);
  for (const [poolName, pool] of pools) {
    const want = reference(raw, pool);
    const router = routerRewrite(raw, pool).body;
    assert.deepEqual(JSON.parse(router.toString()), want, `router: ${label} / ${poolName}`);
    const upstream = upstreamRewrite(raw, pool);
    assert.ok(upstream, `upstream: ${label} / ${poolName}`);
    assert.equal(upstream.toString(), router.toString(), `upstream = router: ${label} / ${poolName}`);
  }
}

describe("rewriteForPool", () => {
  for (const [bodyName, text] of bodies) {
    test(`${bodyName}: the reference body for every pool, router and upstream alike`, () =>
      assertSameAsReference(text, bodyName));
  }

  test("effort × max tokens × chat_template_kwargs: the reference body for every pool", () => {
    for (const [name, text] of syntheticBodies()) assertSameAsReference(text, name);
  });

  test("invalid UTF-8 is rewritten from its decoded text (U+FFFD), as JSON.parse read it", () => {
    const raw = Buffer.concat([
      Buffer.from('{"model":"x","messages":[{"content":"'),
      Buffer.from([0xff]),
      Buffer.from('"}]}'),
    ]);
    const out = routerRewrite(raw, makePool({})).body.toString("utf8");
    assert.deepEqual(JSON.parse(out).messages, [{ content: "\ufffd" }]);
  });

  for (const text of ["[1]", '"s"', "", '{"a":1', '{"a" 1}', '{"a":1} x', '{"a":1,}']) {
    test(`upstream passes ${JSON.stringify(text)} on (not an object)`, () => {
      assert.equal(upstreamRewrite(Buffer.from(text), makePool({})), undefined);
    });
  }
});

describe("restoreBody: a later attempt on another pool", () => {
  const all = [...bodies, ...syntheticBodies()];
  test("the first pool's rewrite taken back and adapted again = adapted from the client's body", () => {
    let checked = 0;
    for (const [label, text] of all) {
      const raw = Buffer.from(text);
      for (const [firstName, first] of pools) {
        const pre = routerRewrite(raw, first);
        // The undo record travels as JSON (dynamic metadata; decision-record.test.ts checks the Struct).
        const undo = JSON.parse(JSON.stringify(pre.undo)) as typeof pre.undo;
        const restored = restoreBody(pre.body, undo);
        assert.ok(restored, `${label} / ${firstName}`);
        for (const [nextName, next] of pools) {
          const direct: string = routerRewrite(raw, next).body.toString();
          const again: string = upstreamRewrite(restored, next)?.toString() ?? "";
          assert.deepEqual(JSON.parse(again), JSON.parse(direct), `${label}: ${firstName} → ${nextName}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 1000, `only ${checked} combinations`);
  });

  test("restores the client's members byte for byte, and drops keys the rewrite added", () => {
    const raw = Buffer.from('{"model":"m","messages":[],"reasoning_effort":"high","x":1}');
    const pre = routerRewrite(raw, makePool({ adapter: "qwen3", effort_budgets: { high: 64 } }));
    assert.ok(pre.undo.keys.includes("thinking_token_budget"));
    assert.equal(
      restoreBody(pre.body, pre.undo)?.toString(),
      '{"messages":[],"x":1,"model":"m","reasoning_effort":"high"}',
    );
  });

  test("a body the pool takes as it is: the client's own bytes, an empty undo, and it restores to itself", () => {
    const pool = makePool({ adapter: "passthrough" });
    const raw = Buffer.from(
      `{ "messages": [], "model": ${JSON.stringify(pool.served_model)}, "stream": true }`,
    );
    const pre = routerRewrite(raw, pool);
    assert.equal(pre.unchanged, true);
    assert.equal(pre.body, raw);
    assert.deepEqual(pre.undo, { keys: [], members: "" });
    assert.deepEqual(
      JSON.parse(restoreBody(pre.body, pre.undo)?.toString() ?? ""),
      JSON.parse(raw.toString()),
    );
  });

  test("unchanged only when every set field already has that value and every removed field is absent", () => {
    const cases: [string, PoolDoc, string, boolean][] = [
      ["other model", makePool({ adapter: "passthrough" }), '{"model":"client-name","messages":[]}', false],
      [
        "strip drops reasoning_effort",
        makePool({ adapter: "strip" }),
        '{"model":"M","reasoning_effort":"low"}',
        false,
      ],
      ["strip, nothing to drop", makePool({ adapter: "strip" }), '{"model":"M","messages":[]}', true],
      [
        "qwen3 adds the template switch",
        makePool({ adapter: "qwen3", effort_budgets: { high: 64 } }),
        '{"model":"M","reasoning_effort":"high"}',
        false,
      ],
    ];
    for (const [label, pool, text, unchanged] of cases) {
      const body = text.replace('"M"', JSON.stringify(pool.served_model));
      const pre = routerRewrite(Buffer.from(body), pool);
      assert.equal(pre.unchanged, unchanged, `${label}: ${pre.body.toString()}`);
      if (!unchanged) assert.notDeepEqual(JSON.parse(pre.body.toString()), JSON.parse(body), label);
    }
  });
});
