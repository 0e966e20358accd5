// The splice renderer on its own: member indexing over bytes, refusal of non-objects, and a
// seeded fuzz of generated bodies (quotes, backslashes, unicode, nesting, odd whitespace)
// checked against JSON.parse and JSON.stringify.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../routing/evaluate.js";
import type { BodyPatch } from "./adapter.js";
import {
  indexMembers as indexBytes,
  type Member,
  renderPatched as renderBytes,
  toJson,
} from "./render-body.js";

/** The byte functions over text, so the cases read as JSON. */
const indexMembers = (text: string) =>
  indexBytes(Buffer.from(text))?.map((m: Member) => ({
    key: m.key,
    raw: Buffer.from(text).toString("utf8", m.start, m.end),
  }));
const renderPatched = (text: string, patch: BodyPatch) => {
  const raw = Buffer.from(text);
  return renderBytes(raw, indexBytes(raw) ?? [], patch).toString("utf8");
};

// indexMembers runs on bytes JSON.parse already accepted; the refusals below are the cheap
// structural checks, not a validator.
describe("indexMembers", () => {
  test("splits the top level into key + raw member text", () => {
    assert.deepEqual(indexMembers('{"a":1, "b" : [1,{"c":"}"}] ,"d":"x\\"y"}'), [
      { key: "a", raw: '"a":1' },
      { key: "b", raw: '"b" : [1,{"c":"}"}]' },
      { key: "d", raw: '"d":"x\\"y"' },
    ]);
  });
  test("decodes escaped key names", () => {
    assert.deepEqual(
      indexMembers('{"mod\\u0065l":1}')?.map((m) => m.key),
      ["model"],
    );
  });
  test("keeps duplicate keys as separate members", () => {
    assert.deepEqual(
      indexMembers('{"a":1,"a":2}')?.map((m) => m.raw),
      ['"a":1', '"a":2'],
    );
  });
  test("an empty object has no members", () => {
    assert.deepEqual(indexMembers(" {\n} "), []);
  });
  for (const text of [
    "[1]",
    '"s"',
    "3",
    "",
    "   ",
    '{"a":1',
    '{"a" 1}',
    "{a:1}",
    '{"a":"open}',
    '{"a":[1,2}',
  ]) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      assert.equal(indexMembers(text), undefined);
    });
  }
});

describe("renderPatched", () => {
  const members = '{"model":"a","keep":{"x":[1]},"drop":true,"model":"b"}';
  test("drops removed keys, replaces set keys (every duplicate), appends set values", () => {
    const out = renderPatched(members, { set: { model: "served", n: 2 }, remove: ["drop"] });
    assert.equal(out, '{"keep":{"x":[1]},"model":"served","n":2}');
  });
  test("a set value of undefined removes the key (as JSON.stringify would)", () => {
    assert.equal(
      renderPatched(members, { set: { keep: undefined }, remove: [] }),
      '{"model":"a","drop":true,"model":"b"}',
    );
  });
  test("an empty patch gives the members back unchanged", () => {
    assert.deepEqual(JSON.parse(renderPatched(members, { set: {}, remove: [] })), {
      model: "b",
      keep: { x: [1] },
      drop: true,
    });
  });
});

describe("toJson writes exactly what JSON.stringify writes", () => {
  const withToJson = { toJSON: () => "custom" };
  const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
  const values: unknown[] = [
    "plain",
    "Qwen/Qwen3-VL-235B-A22B-Instruct",
    "",
    'quote " inside',
    "back\\slash",
    "tab\tnew\nline\u0001\u001f",
    "line sep \u2028 para \u2029",
    "emoji 👋 pair",
    "lone \ud800 high",
    "lone \udc00 low",
    "é 中文",
    0,
    -0,
    2048,
    -1.5e-7,
    1e21,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    [1, "a", null, undefined, { b: undefined }],
    { enable_thinking: true, reasoning_effort: "max", n: { deep: ["x"] } },
    { skip: undefined, keep: 1, 'we"ird': 2, "2": "integer keys first", "1": "one" },
    {},
    withToJson,
    nullProto,
    new Date(0),
  ];
  for (const v of values) {
    test(`${typeof v} ${String(JSON.stringify(v)).slice(0, 40)}`, () => {
      assert.equal(toJson(v), JSON.stringify(v));
    });
  }
});

describe("fuzz: generated bodies round-trip through indexMembers", () => {
  const rand = seededRandom(2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const PIECES = [
    '"',
    "\\",
    "\\\\",
    '\\"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "é",
    "中",
    "👋",
    "\u2028",
    "\t",
    "a",
    "0",
  ];
  const str = () => Array.from({ length: Math.floor(rand() * 8) }, () => pick(PIECES)).join("");
  const value = (depth: number): unknown => {
    const kind = Math.floor(rand() * (depth > 3 ? 4 : 6));
    if (kind === 0) return str();
    if (kind === 1) return Math.round((rand() - 0.5) * 1e6) / 100;
    if (kind === 2) return pick([true, false, null]);
    if (kind === 3) return str();
    if (kind === 4) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(rand() * 4) }, () => [str(), value(depth + 1)]),
    );
  };
  const spaced = (text: string) =>
    text.replace(
      /([{},:[\]])(?=(?:[^"\\]|\\.|"(?:[^"\\]|\\.)*")*$)/g,
      (c) => `${pick(["", " ", "\n", "\t", "\r\n"])}${c}${pick(["", " ", "\n  "])}`,
    );

  test("500 bodies: keys, raw values and a patched render all agree with JSON.parse", () => {
    for (let i = 0; i < 500; i++) {
      const obj = Object.fromEntries(
        Array.from({ length: 1 + Math.floor(rand() * 6) }, () => [str(), value(0)]),
      );
      const text = pick([
        (o: unknown) => JSON.stringify(o),
        (o: unknown) => JSON.stringify(o, null, 2),
        (o: unknown) => spaced(JSON.stringify(o)),
      ])(obj);
      assert.deepEqual(JSON.parse(text), obj, "the generator writes valid JSON");
      const members = indexMembers(text);
      if (members === undefined) assert.fail(`refused: ${text}`);
      assert.deepEqual(
        members.map((m) => m.key),
        Object.keys(obj),
      );
      for (const m of members) assert.deepEqual(JSON.parse(`{${m.raw}}`), { [m.key]: obj[m.key] });
      const first = Object.keys(obj)[0] as string;
      const rendered = renderPatched(text, { set: { model: "m" }, remove: [first] });
      const want: Record<string, unknown> = { ...obj, model: "m" };
      if (first !== "model") delete want[first];
      assert.deepEqual(JSON.parse(rendered), want);
    }
  });
});

describe("indexMembers over bytes", () => {
  test("indexes members as byte ranges, multi-byte text included", () => {
    const raw = Buffer.from('{"a":"é😀", "b" : [1,{"c":"}"}]}');
    const members = indexBytes(raw);
    assert.deepEqual(
      members?.map((m) => [m.key, raw.toString("utf8", m.start, m.end)]),
      [
        ["a", '"a":"é😀"'],
        ["b", '"b" : [1,{"c":"}"}]'],
      ],
    );
  });
  for (const text of ['{"a":1} x', '{"a":1,}']) {
    test(`refuses ${JSON.stringify(text)}`, () => assert.equal(indexBytes(Buffer.from(text)), undefined));
  }
});
