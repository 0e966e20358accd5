// Header facts: names case-insensitive, values trimmed, and every garbage rule of headers.ts
// (a defined fact plus a note, never a throw).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse } from "../../../test/fixtures/fixtures.js";
import { PolicySchema } from "../policy/schema.js";
import type { Reason } from "../vocab/reasons.js";
import { readHeaderFacts } from "./headers.js";
import type { HeaderBag } from "./types.js";

const NAMES = PolicySchema.shape.headers.parse({});

function read(bag: HeaderBag, names = NAMES) {
  const notes: Reason[] = [];
  const facts = readHeaderFacts(bag, names, notes);
  return { facts, notes: notes.map((n) => n.short) };
}

describe("header names", () => {
  test("the default names are the generic x-llm-* ones", () => {
    assert.deepEqual(NAMES, {
      feature: "x-llm-feature",
      tier: "x-llm-tier",
      trial: "x-llm-trial",
      quota_used: "x-llm-quota-used",
      vision: "x-llm-vision",
      site: "x-llm-site",
      latency_budget_ms: "x-llm-latency-budget-ms",
      label: "x-llm-label",
    });
  });
  test("policy header names are lowercased when the policy loads", () => {
    const h = discourse().headers;
    assert.equal(h.feature, "x-discourse-ai-feature");
    assert.equal(h.quota_used, "x-discourse-ai-quota-used");
  });
});

describe("header values", () => {
  test("no headers → trial and vision false, nothing else, no notes", () => {
    assert.deepEqual(read({}), { facts: { trial: false, vision: false }, notes: [] });
  });
  test("feature and tier are trimmed and lowercased", () => {
    const { facts } = read({ "x-llm-feature": "  Summarize ", "x-llm-tier": "\tPAID " });
    assert.equal(facts.feature, "summarize");
    assert.equal(facts.tier, "paid");
  });
  test("empty feature and tier are absent", () => {
    assert.deepEqual(read({ "x-llm-feature": "  ", "x-llm-tier": "" }), {
      facts: { trial: false, vision: false },
      notes: [],
    });
  });
  test("site is kept as sent (trimmed, case kept), cut to 128 characters", () => {
    assert.equal(read({ "x-llm-site": " Forum.Example " }).facts.site, "Forum.Example");
    assert.equal(read({ "x-llm-site": "s".repeat(300) }).facts.site, "s".repeat(128));
  });
});

describe("trial and vision flags", () => {
  const truthy = ["true", "1", "yes", "on", "TRUE", "Yes", " on "];
  const falsy = ["false", "0", "no", "off", "", "  ", "FALSE", "Off"];
  const garbage = ["maybe", "2", "y", "t", "nope", "enabled"];
  for (const flag of ["trial", "vision"] as const) {
    for (const v of truthy) {
      test(`${flag} ${JSON.stringify(v)} → true`, () => {
        assert.deepEqual(read({ [`x-llm-${flag}`]: v }), {
          facts: { trial: flag === "trial", vision: flag === "vision" },
          notes: [],
        });
      });
    }
    for (const v of falsy) {
      test(`${flag} ${JSON.stringify(v)} → false, no note`, () => {
        assert.deepEqual(read({ [`x-llm-${flag}`]: v }), {
          facts: { trial: false, vision: false },
          notes: [],
        });
      });
    }
    for (const v of garbage) {
      test(`${flag} ${JSON.stringify(v)} → false with a note`, () => {
        assert.deepEqual(read({ [`x-llm-${flag}`]: v }), {
          facts: { trial: false, vision: false },
          notes: [`${flag}:ignored`],
        });
      });
    }
  }
  test("the note quotes the value and says how it was read", () => {
    const notes: Reason[] = [];
    readHeaderFacts({ "x-llm-trial": "maybe" }, NAMES, notes);
    assert.deepEqual(notes, [
      { step: "facts", short: "trial:ignored", text: "trial 'maybe' is not a yes/no value; read as false" },
    ]);
  });
});

describe("quota used", () => {
  const accepted: [string, number][] = [
    ["87", 87],
    ["87.5", 87.5],
    ["87%", 87],
    ["87.25%", 87.25],
    [" 151 ", 151],
    ["0", 0],
    ["007", 7],
    ["80.123456", 80.123456],
  ];
  for (const [v, n] of accepted) {
    test(`quota ${JSON.stringify(v)} → ${n}`, () => {
      assert.deepEqual(read({ "x-llm-quota-used": v }), {
        facts: { trial: false, vision: false, quotaUsed: n },
        notes: [],
      });
    });
  }
  const ignored = [
    "abc",
    "-3",
    "1e9",
    "0x10",
    "",
    "  ",
    "87 %",
    ".5",
    "5.",
    "80.1234567",
    "+5",
    "Infinity",
    "NaN",
    "1,5",
    "%",
  ];
  for (const v of ignored) {
    test(`quota ${JSON.stringify(v)} → ignored with a note`, () => {
      assert.deepEqual(read({ "x-llm-quota-used": v }), {
        facts: { trial: false, vision: false },
        notes: ["quota:ignored"],
      });
    });
  }
  test("a long garbage value is clipped to 40 characters in the note", () => {
    const notes: Reason[] = [];
    readHeaderFacts({ "x-llm-quota-used": "z".repeat(100) }, NAMES, notes);
    assert.equal(notes[0]?.text, `quota used '${"z".repeat(40)}…' is not a plain percentage; ignored`);
  });
});

describe("latency budget", () => {
  for (const [v, n] of [
    ["250", 250],
    [" 1 ", 1],
    ["999999999", 999_999_999],
  ] as const) {
    test(`latency budget ${JSON.stringify(v)} → ${n}`, () => {
      assert.equal(read({ "x-llm-latency-budget-ms": v }).facts.latencyBudgetMs, n);
    });
  }
  for (const v of ["0", "-1", "1.5", "abc", "", "1234567890", "1e3"]) {
    test(`latency budget ${JSON.stringify(v)} → ignored with a note`, () => {
      assert.deepEqual(read({ "x-llm-latency-budget-ms": v }), {
        facts: { trial: false, vision: false },
        notes: ["latency_budget:ignored"],
      });
    });
  }
});
