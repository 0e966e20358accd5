// explain's classification step: the CLI with a heuristic policy (what it prints, --label,
// --json), and runExplain against an embeddings endpoint served by the sim.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  classifierYaml,
  examplesYaml,
  HEURISTIC_YAML,
  policyWithClassifier,
} from "../../../test/fixtures/classifier-set.js";
import { REPO_ROOT } from "../../../test/fixtures/fixtures.js";
import { type SimBackend, startSimBackend } from "../../../test/sim/sim-backend.js";
import { parsePolicy } from "../policy/load.js";
import { explainJson, runExplain } from "./explain.js";

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["bin/switchyard.js", ...args],
      { cwd: REPO_ROOT, timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr }),
    );
  });
}

describe("explain with a classifier", () => {
  let file: string;
  let body: string;
  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-explain-"));
    file = join(dir, "policy.yml");
    body = join(dir, "body.json");
    await writeFile(file, policyWithClassifier(classifierYaml("heuristic", HEURISTIC_YAML)));
    await writeFile(
      body,
      JSON.stringify({ model: "x", messages: [{ role: "user", content: "prove it step by step" }] }),
    );
  });

  test("the step is shown before the trace, with the scores", async () => {
    const r = await cli("explain", file, "--body", body, "--seed", "1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^classify {2}heuristic: label high-compute \(heuristic, [\d.]+ ms\) → class frontier; score: fast-path 1, general 0, high-compute 3$/m,
    );
    assert.match(r.stdout, /label 'high-compute' \(heuristic\) means class frontier/);
  });

  test("--label takes the label as the label header would; --json has a classification object", async () => {
    const r = await cli("explain", file, "--body", body, "--label", "fast-path", "--json");
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      classification: Record<string, unknown>;
      class: string;
      base_from: string;
    };
    assert.deepEqual(
      [j.classification.label, j.classification.source, j.class, j.base_from],
      ["fast-path", "header", "fast", "label"],
    );
  });

  test("a feature with a class: no classification step", async () => {
    const r = await cli("explain", file, "-H", "X-Feature: ai_bot", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.equal("classification" in (JSON.parse(r.stdout) as object), false);
  });

  test("--label that is not a label → usage error, exit 2", async () => {
    const r = await cli("explain", file, "--label", "huge");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--label wants one of the classifier's labels: fast-path, general, high-compute/);
  });
});

describe("explain with an embeddings endpoint", () => {
  let sim: SimBackend;
  before(async () => {
    sim = await startSimBackend({ name: "emb", servedModel: "embedder", ttftMs: 0 });
  });
  after(() => sim.close());

  test("embeds the examples, then the text; similarity per label", async () => {
    const yaml = `  embeddings:\n    url: http://${sim.address}/v1/embeddings\n    model: embedder\n    timeout_ms: 1500\n    threshold: 0.05\n    examples:\n${examplesYaml()}\n`;
    const r = parsePolicy(policyWithClassifier(classifierYaml("embeddings", yaml)), {});
    assert.ok(r.ok);
    const text = JSON.stringify({
      model: "x",
      messages: [{ role: "user", content: "translate hello into Italian" }],
    });
    const { ev, classified } = await runExplain(r.policy, {}, text, 1);
    assert.equal(sim.received.length, 2, "the examples, then the text");
    const j = explainJson(r.policy, ev, classified) as {
      classification: { label: string; scores: number[] };
      class: string;
    };
    assert.equal(j.classification.label, "fast-path");
    assert.equal(j.classification.scores.length, 3);
    assert.equal(j.class, "fast");
  });

  test("an endpoint that is down: the fallback label, with why", async () => {
    const yaml = `  embeddings:\n    url: http://127.0.0.1:1/v1/embeddings\n    model: embedder\n    examples: { fast-path: [hi] }\n`;
    const r = parsePolicy(policyWithClassifier(classifierYaml("embeddings", yaml)), {});
    assert.ok(r.ok);
    const { classified } = await runExplain(
      r.policy,
      {},
      JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      1,
    );
    assert.deepEqual([classified?.label.source, classified?.label.why], ["fallback", "not_ready"]);
    assert.match(classified?.label.detail ?? "", /embedding the examples: error/);
  });
});

describe("check with a classifier", () => {
  test("the summary names the kind, the labels and the fallback", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-check-"));
    const file = join(dir, "policy.yml");
    await writeFile(file, policyWithClassifier(classifierYaml("heuristic", HEURISTIC_YAML)));
    const r = await cli("check", file);
    assert.equal(r.code, 0, r.stdout);
    assert.match(
      r.stdout,
      /^ {2}classify {2}heuristic: fast-path→fast {2}general→balanced {2}high-compute→frontier; fallback general$/m,
    );
  });
});

describe("examples/classifier.yml", () => {
  test("checks, and labels a request by its content", async () => {
    const c = await cli("check", "examples/classifier.yml");
    assert.equal(c.code, 0, c.stdout);
    assert.doesNotMatch(c.stdout, /warning/);
    const dir = await mkdtemp(join(tmpdir(), "switchyard-example-"));
    const q = join(dir, "q.json");
    await writeFile(
      q,
      JSON.stringify({ messages: [{ role: "user", content: "Prove that the loop terminates" }] }),
    );
    const r = await cli("explain", "examples/classifier.yml", "--body", q, "--json");
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { class: string; path: string[]; classification: { label: string } };
    assert.deepEqual(
      [j.classification.label, j.class, j.path[0]],
      ["high-compute", "frontier", "qwen-large"],
    );
  });
});
