// The byte route of the upstream rewrite must give exactly the text route's bytes, for every
// dialect, or step aside (undefined) so that the text route runs.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse, fixtureBody, makePool } from "../../../test/fixtures/fixtures.js";
import type { PoolDoc } from "../policy/schema.js";
import {
  adaptBodyBytes,
  adaptBodyBytesWithUndo,
  indexMemberBytes,
  restoreBody,
  undoFrom,
} from "./body-bytes.js";
import { fromStruct, toStruct } from "./struct.js";
import { adaptBodyText } from "./upstream-processor.js";

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

function assertSameAsText(text: string, label: string): void {
  const raw = Buffer.from(text);
  for (const [poolName, pool] of pools) {
    const viaBytes = adaptBodyBytes(raw, pool);
    assert.ok(viaBytes, `${label} / ${poolName}: the byte route stepped aside`);
    assert.equal(viaBytes.toString(), adaptBodyText(raw, pool)?.toString(), `${label} / ${poolName}`);
  }
}

describe("adaptBodyBytes", () => {
  for (const [bodyName, text] of bodies) {
    test(`${bodyName}: same bytes as the text route for every pool`, () => assertSameAsText(text, bodyName));
  }

  test("effort × max tokens × chat_template_kwargs: same bytes as the text route for every pool", () => {
    for (const [name, text] of syntheticBodies()) assertSameAsText(text, name);
  });

  test("steps aside for invalid UTF-8, which the text route writes back as U+FFFD", () => {
    const raw = Buffer.concat([
      Buffer.from('{"model":"x","messages":[{"content":"'),
      Buffer.from([0xff]),
      Buffer.from('"}]}'),
    ]);
    assert.equal(adaptBodyBytes(raw, makePool({})), undefined);
  });

  for (const text of ["[1]", '"s"', "", '{"a":1', '{"a" 1}', '{"a":1} x', '{"a":1,}']) {
    test(`steps aside for ${JSON.stringify(text)}`, () => {
      assert.equal(adaptBodyBytes(Buffer.from(text), makePool({})), undefined);
    });
  }

  test("indexes members as byte ranges, multi-byte text included", () => {
    const raw = Buffer.from('{"a":"é😀", "b" : [1,{"c":"}"}]}');
    const members = indexMemberBytes(raw);
    assert.deepEqual(
      members?.map((m) => [m.key, raw.toString("utf8", m.start, m.end)]),
      [
        ["a", '"a":"é😀"'],
        ["b", '"b" : [1,{"c":"}"}]'],
      ],
    );
  });
});

describe("restoreBody: a later attempt on another pool", () => {
  const all = [...bodies, ...syntheticBodies()];
  test("the first pool's rewrite taken back and adapted again = adapted from the client's body", () => {
    let checked = 0;
    for (const [label, text] of all) {
      const raw = Buffer.from(text);
      for (const [firstName, first] of pools) {
        const pre = adaptBodyBytesWithUndo(raw, first);
        assert.ok(pre, `${label} / ${firstName}`);
        // The undo record travels in dynamic metadata (a protobuf Struct) from router to upstream.
        const undo = undoFrom(fromStruct(toStruct({ u: { ...pre.undo } })).u);
        assert.ok(undo, `${label} / ${firstName}: undo record survives the Struct`);
        const restored = restoreBody(pre.body, undo);
        assert.ok(restored, `${label} / ${firstName}`);
        for (const [nextName, next] of pools) {
          const direct: string = adaptBodyBytes(raw, next)?.toString() ?? "";
          const again: string = adaptBodyBytes(restored, next)?.toString() ?? "";
          assert.deepEqual(JSON.parse(again), JSON.parse(direct), `${label}: ${firstName} → ${nextName}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 1000, `only ${checked} combinations`);
  });

  test("restores the client's members byte for byte, and drops keys the rewrite added", () => {
    const raw = Buffer.from('{"model":"m","messages":[],"reasoning_effort":"high","x":1}');
    const pre = adaptBodyBytesWithUndo(raw, makePool({ adapter: "qwen3", effort_budgets: { high: 64 } }));
    assert.ok(pre);
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
    const pre = adaptBodyBytesWithUndo(raw, pool);
    assert.ok(pre);
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
      const pre = adaptBodyBytesWithUndo(Buffer.from(body), pool);
      assert.ok(pre, label);
      assert.equal(pre.unchanged, unchanged, `${label}: ${pre.body.toString()}`);
      if (!unchanged) assert.notDeepEqual(JSON.parse(pre.body.toString()), JSON.parse(body), label);
    }
  });

  test("undoFrom refuses anything but {keys: string[], members: string}", () => {
    for (const bad of [
      undefined,
      null,
      "x",
      {},
      { keys: "a", members: "" },
      { keys: [1], members: "" },
      { keys: [] },
    ])
      assert.equal(undoFrom(bad), undefined, JSON.stringify(bad));
    assert.deepEqual(undoFrom({ keys: ["a"], members: '"a":1' }), { keys: ["a"], members: '"a":1' });
  });
});
