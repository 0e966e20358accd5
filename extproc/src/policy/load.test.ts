// Policy errors exactly as a user sees them: file:line:col, severity, YAML path, message.
// Each case edits one line of BASE (numbered below) or appends to it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readRepoFile, repoPath } from "../../../test/fixtures/fixtures.js";
import { loadPolicyFile, parsePolicy } from "./load.js";
import { formatProblem } from "./problems.js";

const BASE = `version: 1
classes: [fast, smart]
default_class: fast
features:
  chat: { class: smart, cap: smart }
ladders:
  fast:
    - { small: 1 }
  smart:
    - { big: 3, small: 1 }
pools:
  small:
    served_model: s
    backends: [{ address: 127.0.0.1:7001 }]
    capabilities: { vision: true }
  big:
    served_model: b
    backends: [{ address: 127.0.0.1:7002 }]
    capabilities: { vision: true }
`;

/** BASE with each `from` replaced once by `to`; a `from` that is missing is a broken test. */
function edit(...pairs: string[]): string {
  let text = BASE;
  for (let i = 0; i < pairs.length; i += 2) {
    const [from, to] = [pairs[i] as string, pairs[i + 1] as string];
    assert.ok(text.includes(from), `BASE has no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  return text;
}

/** Every problem (errors first, then warnings) as `check` prints it. */
function problems(text: string): string[] {
  const r = parsePolicy(text);
  const errors = r.ok ? [] : r.errors;
  return [...errors, ...r.warnings].map((p) => formatProblem("policy.yml", p));
}

const BIG_REASONING = "    served_model: b\n";
const withReasoning = (r: string) => edit(BIG_REASONING, `${BIG_REASONING}    reasoning: ${r}\n`);

const CASES: [string, string, string[]][] = [
  [
    "unknown top-level key, with a suggestion",
    `${BASE}respone: { decision_headers: false }\n`,
    ["policy.yml:20:1: error: respone: unknown key 'respone' (did you mean 'response'?)"],
  ],
  [
    "unknown nested key pools.small.capabilites",
    edit("    capabilities: { vision: true }\n  big", "    capabilites: { vision: true }\n  big"),
    [
      "policy.yml:15:5: error: pools.small.capabilites: unknown key 'capabilites' (did you mean 'capabilities'?)",
    ],
  ],
  [
    "ladder naming an unknown pool, with a suggestion",
    edit("    - { small: 1 }", "    - { smal: 1 }"),
    [
      "policy.yml:8:9: error: ladders.fast[0].smal: unknown pool 'smal' (did you mean 'small'?)",
      "policy.yml:8:5: warning: ladders.fast: no pool on the 'fast' ladder has vision: image requests of this class are rejected",
    ],
  ],
  [
    "cap is not a class",
    edit("cap: smart", "cap: smrt"),
    [
      "policy.yml:5:30: error: features.chat.cap: 'smrt' is not a class (did you mean 'smart'?); classes: fast, smart",
    ],
  ],
  [
    "floor is not a class (too far for a suggestion)",
    edit("cap: smart }", "cap: smart, floor: slow }"),
    ["policy.yml:5:44: error: features.chat.floor: 'slow' is not a class; classes: fast, smart"],
  ],
  [
    "default_class is not a class",
    edit("default_class: fast", "default_class: fats"),
    [
      "policy.yml:3:16: error: default_class: 'fats' is not a class (did you mean 'fast'?); classes: fast, smart",
    ],
  ],
  [
    "floor above cap",
    edit("{ class: smart, cap: smart }", "{ class: smart, cap: fast, floor: smart }"),
    ["policy.yml:5:43: error: features.chat.floor: floor 'smart' is above cap 'fast'"],
  ],
  [
    "weights 0 and negative",
    edit("{ big: 3, small: 1 }", "{ big: 0, small: -2 }"),
    [
      "policy.yml:10:9: error: ladders.smart[0].big: weight must be greater than 0, got 0",
      "policy.yml:10:17: error: ladders.smart[0].small: weight must be greater than 0, got -2",
    ],
  ],
  [
    "a weight that is not a number",
    edit("big: 3", "big: lots"),
    ["policy.yml:10:14: error: ladders.smart[0].big: Invalid input: expected number, received string"],
  ],
  [
    "a class without a ladder",
    edit("classes: [fast, smart]", "classes: [fast, smart, best]"),
    ["policy.yml:7:3: error: ladders: class 'best' has no ladder"],
  ],
  [
    "an empty step",
    edit("    - { big: 3, small: 1 }", "    - { big: 3, small: 1 }\n    - {}"),
    ["policy.yml:11:7: error: ladders.smart[1]: empty step: name at least one pool with a weight"],
  ],
  [
    "a ladder with no steps",
    edit("  fast:\n    - { small: 1 }", "  fast: []"),
    ["policy.yml:7:9: error: ladders.fast: a ladder needs at least one step"],
  ],
  [
    "a ladder for an unknown class",
    edit("  smart:\n", "  smrt:\n"),
    [
      "policy.yml:7:3: error: ladders: class 'smart' has no ladder",
      "policy.yml:10:5: error: ladders.smrt: ladder for unknown class 'smrt' (did you mean 'smart'?)",
    ],
  ],
  [
    "one backend in two pools",
    edit("127.0.0.1:7002", "127.0.0.1:7001"),
    [
      "policy.yml:18:27: error: pools.big.backends[0].address: backend 127.0.0.1:7001 is also in pool 'small'",
    ],
  ],
  [
    "a class listed twice",
    edit("[fast, smart]", "[fast, smart, fast]"),
    ["policy.yml:2:24: error: classes[2]: class 'fast' is listed twice"],
  ],
  [
    "a class name in capitals",
    edit("[fast, smart]", "[Fast, smart]"),
    [
      "policy.yml:2:11: error: classes[0]: class must be lowercase letters, digits, '-' or '_', starting with a letter",
    ],
  ],
  [
    "a missing required key",
    edit("default_class: fast\n", ""),
    ["policy.yml:1:1: error: default_class: required key 'default_class' is missing"],
  ],
  [
    "version 2",
    edit("version: 1", "version: 2"),
    ["policy.yml:1:10: error: version: Invalid input: expected 1"],
  ],
  [
    "a pool without backends",
    edit("    backends: [{ address: 127.0.0.1:7002 }]", "    backends: []"),
    ["policy.yml:18:15: error: pools.big.backends: a pool needs at least one backend"],
  ],
  [
    "a backend address without a port",
    edit("127.0.0.1:7002", "localhost"),
    ["policy.yml:18:27: error: pools.big.backends[0].address: address must be host:port"],
  ],
  [
    "two quota bands with the same start",
    `${BASE}modifiers:\n  quota:\n    - { above: 80, shift: -1 }\n    - { above: 80, shift: -2 }\n`,
    [
      "policy.yml:23:16: error: modifiers.quota[1].above: two quota bands start above 80",
      "policy.yml:21:3: warning: modifiers: routing headers count from any caller that reaches Envoy (anyone can send a paid tier or leave out the quota header): add trust: with sources and/or a secret",
    ],
  ],
  [
    "a tier shift out of range",
    `${BASE}modifiers:\n  tiers: { paid: 11 }\n`,
    ["policy.yml:21:18: error: modifiers.tiers.paid: Too big: expected number to be <=10"],
  ],
  [
    "a header name with a space",
    `${BASE}headers: { feature: 'X Feature' }\n`,
    ["policy.yml:20:21: error: headers.feature: not a valid HTTP header name"],
  ],
  [
    "an unknown adapter",
    withReasoning("{ adapter: qwen4 }"),
    [
      'policy.yml:18:27: error: pools.big.reasoning.adapter: Invalid option: expected one of "qwen3"|"deepseek"|"passthrough"|"strip"',
    ],
  ],
  [
    "an effort_map key that is not an effort",
    withReasoning("{ adapter: deepseek, effort_map: { hgh: max } }"),
    ["policy.yml:18:51: error: pools.big.reasoning.effort_map.hgh: unknown key 'hgh'"],
  ],
  // The parser's own messages and positions.
  [
    "invalid YAML: an unclosed flow map",
    edit("    - { small: 1 }", "    - { small: 1 "),
    [
      "policy.yml:9:3: error: (top level): invalid YAML: Flow map in block collection must be sufficiently indented and end with a }",
    ],
  ],
  [
    "invalid YAML: a duplicate key",
    edit("default_class: fast", "default_class: fast\ndefault_class: smart"),
    ["policy.yml:4:1: error: (top level): invalid YAML: Map keys must be unique"],
  ],
  ["an empty file", "", ["policy.yml: error: (top level): Invalid input: expected object, received null"]],
  // Warnings: the policy loads.
  [
    "warning: a ladder with no vision pool",
    edit("    capabilities: { vision: true }\n  big", "    capabilities: { vision: false }\n  big"),
    [
      "policy.yml:8:5: warning: ladders.fast: no pool on the 'fast' ladder has vision: image requests of this class are rejected",
    ],
  ],
  [
    "warning: a pool on no ladder",
    `${BASE}  idle:\n    served_model: i\n    backends: [{ address: 127.0.0.1:7003 }]\n    capabilities: { vision: true }\n`,
    ["policy.yml:21:5: warning: pools.idle: pool 'idle' is on no ladder and never receives traffic"],
  ],
  [
    "warning: qwen3 without effort_budgets",
    withReasoning("{ adapter: qwen3 }"),
    [
      "policy.yml:18:16: warning: pools.big.reasoning: qwen3 adapter without effort_budgets: thinking is switched but never budgeted",
    ],
  ],
  [
    "warning: a thinking budget that leaves no room for the answer",
    edit(
      "    served_model: b\n    backends: [{ address: 127.0.0.1:7002 }]\n    capabilities: { vision: true }",
      "    served_model: b\n    backends: [{ address: 127.0.0.1:7002 }]\n    capabilities: { vision: true, max_output_tokens: 4096 }\n    reasoning: { adapter: qwen3, effort_budgets: { low: 512, high: 4096 } }",
    ),
    [
      "policy.yml:20:68: warning: pools.big.reasoning.effort_budgets.high: thinking budget 4096 is not below max_output_tokens 4096: at effort 'high' thinking can use the whole output and leave no room for the answer",
    ],
  ],
  [
    "warning: effort_map on a qwen3 pool",
    withReasoning("{ adapter: qwen3, effort_budgets: { low: 1 }, effort_map: { high: max } }"),
    [
      "policy.yml:18:74: warning: pools.big.reasoning.effort_map: effort_map is used by the deepseek adapter only",
    ],
  ],
];

describe("policy problems: the exact text a user sees", () => {
  test("BASE itself loads with no problems", () => {
    assert.deepEqual(problems(BASE), []);
  });
  for (const [name, text, want] of CASES) {
    test(name, () => {
      assert.deepEqual(problems(text), want);
    });
  }
  test("warnings do not stop a policy from loading", () => {
    const r = parsePolicy(
      edit("    capabilities: { vision: true }\n  big", "    capabilities: { vision: false }\n  big"),
    );
    assert.equal(r.ok, true);
  });
  test("a partial effort_map loads (deepseek: low → low, high → max)", () => {
    const r = parsePolicy(withReasoning("{ adapter: deepseek, effort_map: { low: low, high: max } }"));
    if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("; "));
    assert.deepEqual(r.policy.pools.get("big")?.reasoning.effort_map, { low: "low", high: "max" });
  });
});

describe("the bundled examples", () => {
  test("examples/discourse.yml loads with no errors and no warnings", async () => {
    const r = await loadPolicyFile(repoPath("examples/discourse.yml"));
    assert.deepEqual({ ok: r.ok, warnings: r.warnings }, { ok: true, warnings: [] });
  });
  test("examples/minimal.yml loads; its one text-only pool gets the vision warning", () => {
    const r = parsePolicy(readRepoFile("examples/minimal.yml"));
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.warnings.map((w) => formatProblem("minimal.yml", w)),
      [
        "minimal.yml:7:5: warning: ladders.default: no pool on the 'default' ladder has vision: image requests of this class are rejected",
      ],
    );
  });
  test("the policy hash names the exact text", () => {
    const a = parsePolicy(BASE);
    const b = parsePolicy(`${BASE}# a comment\n`);
    if (!a.ok || !b.ok) assert.fail("BASE must load");
    assert.match(a.policy.hash, /^[0-9a-f]{12}$/);
    assert.notEqual(a.policy.hash, b.policy.hash);
  });
  test("a missing file is a problem, not a throw", async () => {
    const r = await loadPolicyFile(repoPath("test/fixtures/policies/no-such-file.yml"));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.errors.map((e) => formatProblem("x.yml", e)),
      ["x.yml: error: (top level): cannot read policy file: ENOENT"],
    );
  });
});
