// From jolteon: `switchyard import` converts the write-up's config shape into a policy whose only
// errors are the placeholders it wrote; filled in, the policy loads. `--check` is check.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { REPO_ROOT, readRepoFile } from "../../../test/fixtures/fixtures.js";
import { parsePolicy } from "../policy/load.js";
import { PLACEHOLDER } from "../policy/placeholders.js";
import { convertJolteon } from "./jolteon.js";

const SNIPPET = readRepoFile("test/fixtures/jolteon/issue-snippet.yml");

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ["bin/switchyard.js", ...args],
      { cwd: REPO_ROOT, timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr }),
    ),
  );
}

describe("switchyard import (jolteon → policy)", () => {
  const out = convertJolteon(SNIPPET);
  // biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document, read by known paths
  const doc = parse(out.yaml) as Record<string, any>;

  test("classes keep their order; each class's ladder moves to ladders.<class>", () => {
    assert.deepEqual(doc.classes, ["fast", "balanced"]);
    assert.deepEqual(doc.ladders, {
      fast: [{ "qwen-small": 70, "deepseek-flash": 30 }],
      balanced: [{ "deepseek-flash": 80, "qwen-large": 20 }, { "qwen-small": 100 }],
    });
  });
  test("the pool's reasoning block is carried over as it is", () =>
    assert.deepEqual(doc.pools["qwen-small"].reasoning, {
      adapter: "qwen3",
      forward_reasoning_effort: true,
      effort_budgets: { low: 512, medium: 2048, high: 8192 },
    }));
  test("jolteon's documented behaviour is written out: headers, translate capped at fast, modifiers", () => {
    assert.equal(doc.headers.feature, "X-Discourse-AI-Feature");
    assert.deepEqual(doc.features.translate, { class: "fast", cap: "fast" });
    assert.deepEqual(doc.modifiers, {
      tiers: { paid: 1, standard: 1, free: 0 },
      trial: -1,
      quota: [
        { above: 80, shift: -1 },
        { above: 150, shift: -2 },
      ],
    });
  });
  test("pools named only on a ladder get placeholders, and check's only errors are the placeholders", () => {
    assert.deepEqual(Object.keys(doc.pools), ["qwen-small", "deepseek-flash", "qwen-large"]);
    assert.equal(out.placeholders.length, 6);
    const r = parsePolicy(out.yaml);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.errors.length, 6);
    for (const e of r.errors)
      assert.match(e.message, /^placeholder '.*REPLACE_ME.*' \(left by switchyard import\)/);
  });
  test("filled in, the converted policy loads", () => {
    let port = 18000;
    const filled = out.yaml
      .replace(/REPLACE_ME\/served-model-of-([\w-]+)/g, "org/$1")
      .replace(/REPLACE_ME-[\w-]+:8000/g, () => `127.0.0.1:${port++}`);
    const values = filled.split("\n").filter((l) => !l.startsWith("#"));
    assert.ok(!values.join("\n").includes(PLACEHOLDER));
    const r = parsePolicy(filled);
    assert.ok(r.ok, r.ok ? "" : r.errors.map((e) => e.message).join("; "));
  });
  test("backends in jolteon's forms: host:port, a URL, {name, url}", () => {
    const c = convertJolteon(`classes: { fast: { ladder: [{ p: 1 }] } }
pools:
  p:
    model: org/m
    backends: ["10.0.0.1:8000", "http://10.0.0.2:8000/v1", { name: dub-1, url: "http://10.0.0.3:8000" }]
`);
    const p = (parse(c.yaml) as { pools: { p: { served_model: string; backends: object[] } } }).pools.p;
    assert.equal(p.served_model, "org/m");
    assert.deepEqual(p.backends, [
      { address: "10.0.0.1:8000" },
      { address: "10.0.0.2:8000" },
      { address: "10.0.0.3:8000", name: "dub-1" },
    ]);
    assert.deepEqual(c.placeholders, []);
  });
  test("the CLI prints the policy and the placeholders to fill in; exit 0", async () => {
    const r = await run("import", "test/fixtures/jolteon/issue-snippet.yml");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# Converted from a jolteon config/);
    assert.match(r.stderr, /import: fill in 6 placeholder\(s\): pools\.qwen-small\.served_model/);
  });
});

describe("jolteon's command spellings", () => {
  test("switchyard --check FILE is check", async () => {
    const r = await run("--check", "examples/discourse.yml");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^examples\/discourse\.yml: OK/);
  });
});
