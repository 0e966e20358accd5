// Who may set routing headers: source ranges, a secret header, both, or (no trust section) anyone.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parsePolicy } from "../policy/load.js";
import type { Reason } from "../vocab/reasons.js";
import { isTrusted, sourceIp } from "./trust.js";

const BASE = `version: 1
classes: [fast]
default_class: fast
ladders: { fast: [{ p: 1 }] }
pools: { p: { served_model: m, backends: [{ address: "127.0.0.1:1" }] } }
`;
const trustOf = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
  const r = parsePolicy(`${BASE}${yaml}`, env);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("; "));
  return r.policy.trust;
};

describe("sourceIp", () => {
  const cases: [string | undefined, string | undefined][] = [
    ["10.1.2.3:5000", "10.1.2.3"],
    ["[::1]:8080", "::1"],
    ["fd00::7", "fd00::7"],
    ["10.1.2.3", "10.1.2.3"],
    ["not-an-ip:1", undefined],
    ["", undefined],
    [undefined, undefined],
  ];
  for (const [src, want] of cases) test(`${src} → ${want}`, () => assert.equal(sourceIp(src), want));
});

describe("isTrusted", () => {
  const ranges = trustOf("trust:\n  sources: [10.0.0.0/8, 'fd00::/8']\n");
  const secret = trustOf("trust:\n  secret: { header: X-Caller-Key, env: CALLER_KEY }\n", {
    CALLER_KEY: "s3cret",
  });
  const cases: [
    string,
    ReturnType<typeof trustOf>,
    string | null | undefined,
    Record<string, string>,
    boolean,
  ][] = [
    ["no trust section: anyone", undefined, "203.0.113.1:1", {}, true],
    ["in range", ranges, "10.9.9.9:443", {}, true],
    ["IPv6 in range", ranges, "[fd00::1]:443", {}, true],
    ["out of range", ranges, "203.0.113.1:1", {}, false],
    ["no address from Envoy", ranges, null, {}, false],
    ["explain without --source", ranges, undefined, {}, true],
    ["right secret", secret, "203.0.113.1:1", { "x-caller-key": "s3cret" }, true],
    ["wrong secret", secret, "203.0.113.1:1", { "x-caller-key": "s3cre" }, false],
    ["no secret", secret, "203.0.113.1:1", {}, false],
  ];
  for (const [name, trust, source, bag, want] of cases) {
    test(`${name} → ${want ? "trusted" : "not trusted"}`, () => {
      const notes: Reason[] = [];
      assert.equal(isTrusted(trust, source, bag, notes), want);
      assert.equal(notes.length, want ? 0 : 1);
      if (!want) assert.equal(notes[0]?.short, "trust:untrusted");
    });
  }
});

describe("trust in the policy", () => {
  test("a secret whose environment variable is missing is an error naming it", () => {
    const r = parsePolicy(`${BASE}trust:\n  secret: { header: x-k, env: NOT_SET_ANYWHERE }\n`, {});
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors[0]?.message ?? "", /NOT_SET_ANYWHERE is not set/);
  });
  test("a range that is not one is an error with its path", () => {
    const r = parsePolicy(`${BASE}trust:\n  sources: [10.0.0.0/33]\n`, {});
    assert.equal(r.ok, false);
    if (!r.ok) assert.deepEqual(r.errors[0]?.path, ["trust", "sources", 0]);
  });
  test("an empty trust section is refused", () => {
    assert.equal(parsePolicy(`${BASE}trust: {}\n`, {}).ok, false);
  });
  test("check warns when tiers shift classes and no trust section says who may send them", () => {
    const r = parsePolicy(`${BASE}modifiers: { tiers: { paid: 1 } }\n`, {});
    assert.ok(r.ok);
    const about = (w: { message: string }[]) =>
      w.filter((x) => /routing headers count from any caller/.test(x.message));
    assert.equal(about(r.warnings).length, 1);
    const trusted = parsePolicy(
      `${BASE}modifiers: { tiers: { paid: 1 } }\ntrust: { sources: [10.0.0.0/8] }\n`,
      {},
    );
    assert.deepEqual(about(trusted.warnings), []);
  });
});
