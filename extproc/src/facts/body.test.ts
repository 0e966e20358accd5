// Body facts: model, stream, images, tools, reasoning_effort, the output limit and the prompt
// estimate; garbage yields defined facts and notes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixtureBody } from "../../../test/fixtures/fixtures.js";
import type { Reason } from "../vocab/reasons.js";
import { type ChatBody, parseChatBody, readBodyFacts, TOKENS_PER_IMAGE, TOKENS_PER_MESSAGE } from "./body.js";

function read(body: ChatBody, bytes = 0) {
  const notes: Reason[] = [];
  const facts = readBodyFacts(body, bytes, notes);
  return { facts, notes: notes.map((n) => n.short) };
}

const user = (content: unknown) => ({ role: "user", content });
const chat = (...contents: unknown[]): ChatBody => ({ messages: contents.map(user) });

describe("parseChatBody", () => {
  test("an object parses", () => {
    assert.deepEqual(parseChatBody('{"model":"m"}'), { ok: true, body: { model: "m" } });
  });
  for (const [text, code, detail] of [
    ["{", "invalid_json", /JSON/],
    ["", "invalid_json", /JSON/],
    ["[1]", "body_not_object", /^an array$/],
    ["null", "body_not_object", /^null$/],
    ['"s"', "body_not_object", /^string$/],
    ["3", "body_not_object", /^number$/],
  ] as const) {
    test(`${JSON.stringify(text)} → ${code}`, () => {
      const r = parseChatBody(text);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.code, code);
      assert.match(r.detail, detail);
    });
  }
});

describe("simple fields", () => {
  test("an empty body → defined defaults", () => {
    assert.deepEqual(read({}, 2), {
      facts: { stream: false, imageCount: 0, hasTools: false, promptTokens: 0, bytes: 2 },
      notes: [],
    });
  });
  test("model: a string is kept, anything else is absent", () => {
    assert.equal(read({ model: "Qwen/Qwen3-8B" }).facts.model, "Qwen/Qwen3-8B");
    assert.equal(read({ model: 42 }).facts.model, undefined);
    assert.equal("model" in read({ model: null }).facts, false);
  });
  test("stream: only the boolean true counts", () => {
    assert.equal(read({ stream: true }).facts.stream, true);
    assert.equal(read({ stream: "true" }).facts.stream, false);
    assert.equal(read({ stream: 1 }).facts.stream, false);
  });
  test("bytes is passed through", () => {
    assert.equal(read({}, 5_000_000).facts.bytes, 5_000_000);
  });
});

describe("images", () => {
  const img = { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } };
  const cases: [string, ChatBody, number][] = [
    ["text only", chat("hi", [{ type: "text", text: "hello" }]), 0],
    ["image_url with a data URI", chat([img]), 1],
    ["image_url with an https URL", chat([{ type: "image_url", image_url: { url: "https://x/y.png" } }]), 1],
    ["input_image part", chat([{ type: "input_image", image_url: "https://x/y.png" }]), 1],
    ["image part", chat([{ type: "image", source: {} }]), 1],
    ["part with image_url but no type", chat([{ image_url: { url: "https://x/y.png" } }]), 1],
    [
      "parts nested in later messages",
      chat("first", "second", [{ type: "text", text: "t" }, img], [img, img]),
      3,
    ],
    ["garbage parts", chat([null, 3, "s", [], { type: "text" }]), 0],
  ];
  for (const [name, body, n] of cases) {
    test(`${name} → ${n} image(s)`, () => {
      assert.equal(read(body).facts.imageCount, n);
    });
  }
  test("the vision fixture body (data URI in the 4th message) → 1 image", () => {
    assert.equal(read(JSON.parse(fixtureBody("vision-data-uri"))).facts.imageCount, 1);
  });
});

describe("tools", () => {
  const tool = { type: "function", function: { name: "f", parameters: {} } };
  const cases: [string, ChatBody, boolean][] = [
    ["a tools list", { tools: [tool] }, true],
    ["an empty tools list", { tools: [] }, false],
    ["tools that is not a list", { tools: { f: tool } }, false],
    ["legacy functions", { functions: [{ name: "f" }] }, true],
    ["an empty functions list", { functions: [] }, false],
    ["no tools", {}, false],
  ];
  for (const [name, body, has] of cases) {
    test(`${name} → hasTools ${has}`, () => {
      assert.equal(read(body).facts.hasTools, has);
    });
  }
});

describe("reasoning_effort", () => {
  for (const effort of ["none", "minimal", "low", "medium", "high"]) {
    test(`"${effort}" → kept`, () => {
      assert.deepEqual(read({ reasoning_effort: effort }), {
        facts: {
          stream: false,
          imageCount: 0,
          hasTools: false,
          promptTokens: 0,
          bytes: 0,
          reasoningEffort: effort,
        },
        notes: [],
      });
    });
  }
  for (const bad of ["extreme", "HIGH", "", 5, true, { level: "high" }]) {
    test(`${JSON.stringify(bad)} → ignored with a note`, () => {
      const r = read({ reasoning_effort: bad });
      assert.equal(r.facts.reasoningEffort, undefined);
      assert.deepEqual(r.notes, ["effort:ignored"]);
    });
  }
  test("null → absent, no note", () => {
    assert.deepEqual(read({ reasoning_effort: null }).notes, []);
  });
});

describe("max_tokens and max_completion_tokens", () => {
  const cases: [string, ChatBody, object, string[]][] = [
    ["max_tokens 100", { max_tokens: 100 }, { maxTokens: 100, maxTokensField: "max_tokens" }, []],
    [
      "max_completion_tokens 200",
      { max_completion_tokens: 200 },
      { maxTokens: 200, maxTokensField: "max_completion_tokens" },
      [],
    ],
    [
      "both: max_completion_tokens wins",
      { max_tokens: 100, max_completion_tokens: 200 },
      { maxTokens: 200, maxTokensField: "max_completion_tokens" },
      [],
    ],
    [
      "both, max_completion_tokens smaller: it still wins",
      { max_tokens: 900, max_completion_tokens: 50 },
      { maxTokens: 50, maxTokensField: "max_completion_tokens" },
      [],
    ],
    [
      "bad max_completion_tokens falls back to max_tokens, with a note",
      { max_tokens: 100, max_completion_tokens: 0 },
      { maxTokens: 100, maxTokensField: "max_tokens" },
      ["max_completion_tokens:ignored"],
    ],
    ["max_tokens 1.5 → ignored", { max_tokens: 1.5 }, {}, ["max_tokens:ignored"]],
    ["max_tokens '100' → ignored", { max_tokens: "100" }, {}, ["max_tokens:ignored"]],
    ["max_tokens -1 → ignored", { max_tokens: -1 }, {}, ["max_tokens:ignored"]],
    ["max_tokens null → absent, no note", { max_tokens: null }, {}, []],
  ];
  for (const [name, body, want, notes] of cases) {
    test(name, () => {
      const r = read(body);
      assert.deepEqual(
        { maxTokens: r.facts.maxTokens, maxTokensField: r.facts.maxTokensField },
        { maxTokens: undefined, maxTokensField: undefined, ...want },
      );
      assert.deepEqual(r.notes, notes);
    });
  }
});

describe("prompt token estimate", () => {
  const tokens = (body: ChatBody) => read(body).facts.promptTokens;
  test("per message allowance plus text chars / 4, rounded up", () => {
    assert.equal(tokens(chat("abcd", "abcdefgh")), 2 * TOKENS_PER_MESSAGE + 3);
    assert.equal(tokens(chat("abcde")), TOKENS_PER_MESSAGE + 2);
  });
  test("grows with the text", () => {
    const sizes = [0, 10, 100, 1000, 10_000].map((n) => tokens(chat("x".repeat(n))));
    for (let i = 1; i < sizes.length; i++)
      assert.ok((sizes[i] as number) > (sizes[i - 1] as number), sizes.join(" < "));
    assert.equal(sizes[4], TOKENS_PER_MESSAGE + 2500);
  });
  test("text parts count, each image adds its allowance, base64 bytes do not count as text", () => {
    const img = { type: "image_url", image_url: { url: `data:image/png;base64,${"A".repeat(100_000)}` } };
    assert.equal(
      tokens(chat([{ type: "text", text: "abcdefgh" }, img])),
      TOKENS_PER_MESSAGE + 2 + TOKENS_PER_IMAGE,
    );
  });
  test("tools count as their JSON text", () => {
    const tools = [{ type: "function", function: { name: "get_weather" } }];
    assert.equal(tokens({ tools }), Math.ceil(JSON.stringify(tools).length / 4));
  });
  test("/v1/completions prompt counts", () => {
    assert.equal(tokens({ prompt: "x".repeat(40) }), 10);
  });
  test("garbage messages do not throw and count their allowance only", () => {
    assert.equal(tokens({ messages: [null, 5, "text", { content: 7 }] }), 4 * TOKENS_PER_MESSAGE);
    assert.equal(tokens({ messages: "not a list" }), 0);
  });
});
