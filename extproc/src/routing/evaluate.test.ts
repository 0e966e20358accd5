// The edge of the pure pipeline: what is refused before a decision, and why.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse } from "../../../test/fixtures/fixtures.js";
import { MAX_NESTING } from "../facts/body.js";
import { evaluate, seededRandom } from "./evaluate.js";

const policy = discourse();
const run = (body: string, headers: Record<string, string> = {}) =>
  evaluate(policy, headers, Buffer.from(body), seededRandom(1));
const code = (ev: ReturnType<typeof run>) =>
  ev.kind === "bad_body" ? ev.error.code : ev.decision.kind === "reject" ? ev.decision.error.code : "route";
const CHAT = '{"model":"m","messages":[{"role":"user","content":"hi"}]';

describe("nesting depth of request settings", () => {
  for (const field of [
    "model",
    "tools",
    "functions",
    "max_tokens",
    "reasoning_effort",
    "chat_template_kwargs",
  ]) {
    test(`${field}: 4,100 nested arrays → 400 nesting_too_deep, never a throw`, () => {
      const deep = `${"[".repeat(4100)}${"]".repeat(4100)}`;
      const ev = run(`${CHAT},"${field}":${deep}}`);
      assert.equal(code(ev), "nesting_too_deep");
      if (ev.kind === "bad_body") assert.match(ev.error.message, new RegExp(`'${field}'`));
    });
  }
  test(`${MAX_NESTING} levels are fine; messages are not limited (never walked recursively)`, () => {
    const ok = `${"[".repeat(MAX_NESTING)}${"]".repeat(MAX_NESTING)}`;
    assert.equal(code(run(`${CHAT},"metadata":${ok}}`)), "route");
    const deepContent = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    assert.equal(code(run(`{"model":"m","messages":[{"role":"user","content":${deepContent}}]}`)), "route");
  });
});

describe("content-type", () => {
  const cases: [string | undefined, string][] = [
    [undefined, "route"],
    ["application/json", "route"],
    ["Application/JSON; charset=utf-8", "route"],
    ["application/vnd.api+json", "route"],
    ["text/plain", "unsupported_media_type"],
    ["application/x-www-form-urlencoded", "unsupported_media_type"],
    ["multipart/form-data; boundary=x", "unsupported_media_type"],
  ];
  for (const [type, want] of cases) {
    test(`${type ?? "(none)"} → ${want}`, () => {
      const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
      assert.equal(code(run(`${CHAT}}`, headers)), want);
    });
  }
});
