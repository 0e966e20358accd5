// The CLI as an operator runs it: `node bin/switchyard.js ...` from the repository root,
// checking exit codes (0 ok, 1 bad policy, 2 bad usage) and what is printed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { REPO_ROOT } from "../../../test/fixtures/fixtures.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["bin/switchyard.js", ...args],
      { cwd: REPO_ROOT, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function runJson(...args: string[]): Promise<Record<string, unknown>> {
  const r = await run(...args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const DISCOURSE = "examples/discourse.yml";
const CAPS = "test/fixtures/policies/capabilities.yml";
const BROKEN = "test/fixtures/policies/broken.yml";

describe("switchyard check", () => {
  test("a good policy → exit 0 and a summary", async () => {
    const r = await run("check", DISCOURSE);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^examples\/discourse\.yml: OK \(policy [0-9a-f]{12}\)$/);
    assert.ok(lines.includes("  classes   fast < balanced < frontier (default balanced)"), r.stdout);
    assert.ok(lines.includes("  ladder    fast: {qwen-small 70, deepseek-flash 30}"), r.stdout);
    assert.ok(
      lines.includes("  features  ai_bot→frontier  translate→fast (cap fast)  summarize→balanced"),
      r.stdout,
    );
  });
  test("warnings are printed and the exit code stays 0", async () => {
    const r = await run("check", "examples/minimal.yml");
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /^examples\/minimal\.yml:7:5: warning: ladders\.default: no pool on the 'default' ladder has vision/,
    );
  });
  test("a bad policy → exit 1 listing every problem", async () => {
    const r = await run("check", BROKEN);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), [
      `${BROKEN}:7:5: warning: ladders.fast: no pool on the 'fast' ladder has vision: image requests of this class are rejected`,
      `${BROKEN}:16:5: warning: pools.idle: pool 'idle' is on no ladder and never receives traffic`,
      `${BROKEN}:7:9: error: ladders.fast[0].qwen-smal: unknown pool 'qwen-smal' (did you mean 'qwen-small'?)`,
      `${BROKEN}:9:9: error: ladders.slow[0].qwen-small: weight must be greater than 0, got 0`,
      `${BROKEN}: 2 error(s), 2 warning(s)`,
    ]);
  });
  test("a missing file → exit 1", async () => {
    const r = await run("check", "test/fixtures/policies/nope.yml");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /cannot read policy file: ENOENT/);
  });
  for (const args of [[], ["a.yml", "b.yml"], ["--strict", DISCOURSE]]) {
    test(`check ${args.join(" ") || "(no FILE)"} → exit 2 with usage`, async () => {
      const r = await run("check", ...args);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^switchyard: .*\nusage:\n {2}switchyard check FILE/);
    });
  }
});

describe("switchyard explain --json", () => {
  test("a route: {class, ladder, path, bodies, reasons}", async () => {
    const j = await runJson(
      "explain",
      DISCOURSE,
      "-H",
      "X-Discourse-AI-Feature: ai_bot",
      "--seed",
      "1",
      "--json",
    );
    assert.deepEqual(Object.keys(j), ["class", "base_from", "ladder", "path", "bodies", "reasons"]);
    assert.equal(j.class, "frontier");
    assert.equal(j.base_from, "feature");
    assert.deepEqual(j.path, ["qwen-large", "deepseek-flash", "qwen-small"]);
    assert.deepEqual(j.ladder, [
      [{ pool: "qwen-large", weight: 100 }],
      [{ pool: "deepseek-flash", weight: 100 }],
      [{ pool: "qwen-small", weight: 100 }],
    ]);
    const bodies = j.bodies as Record<string, { model: string }>;
    assert.deepEqual(Object.keys(bodies), ["qwen-large", "deepseek-flash", "qwen-small"]);
    assert.equal(bodies["deepseek-flash"]?.model, "deepseek-ai/DeepSeek-V4-Flash");
    assert.deepEqual(j.reasons, [
      "feature:ai_bot",
      "class:frontier",
      "step0:qwen-large",
      "step1:deepseek-flash",
      "step2:qwen-small",
    ]);
  });
  test("header names in any case; each pool's body is adapted", async () => {
    const j = await runJson(
      "explain",
      DISCOURSE,
      "-H",
      "X-DISCOURSE-AI-FEATURE: summarize",
      "--body",
      "test/fixtures/bodies/tools.json",
      "--seed",
      "4",
      "--json",
    );
    assert.equal(j.class, "balanced");
    const bodies = j.bodies as Record<string, Record<string, unknown>>;
    for (const [pool, body] of Object.entries(bodies)) {
      if (pool === "deepseek-flash")
        assert.deepEqual(body.chat_template_kwargs, { thinking: true, reasoning_effort: "low" });
      else assert.deepEqual(body.chat_template_kwargs, { enable_thinking: true }, pool);
    }
  });
  test("the same seed gives the same answer", async () => {
    const args = ["explain", DISCOURSE, "-H", "x-discourse-ai-feature: translate", "--seed", "77", "--json"];
    const runs = await Promise.all([run(...args), run(...args)]);
    assert.equal(runs[0]?.stdout, runs[1]?.stdout);
  });
  test("a capability rejection: {class, error: {status, code, message}, reasons}, exit 0", async () => {
    const j = await runJson(
      "explain",
      CAPS,
      "-H",
      "x-llm-feature: text",
      "--body",
      "test/fixtures/bodies/vision-data-uri.json",
      "--json",
    );
    assert.deepEqual(j, {
      class: "text",
      base_from: "feature",
      error: {
        status: 400,
        code: "no_capable_pool",
        message: "no pool on the 'text' ladder supports vision (image input)",
      },
      reasons: ["feature:text", "class:text", "drop:plain:vision", "reject:no_capable_pool"],
    });
  });
  test("a class model sets the base class: base_from model", async () => {
    const args = ["explain", DISCOURSE, "-H", "X-Discourse-AI-Feature: ai_bot", "--json"];
    const j = await runJson(...args, "--body", "test/fixtures/bodies/class-model.json");
    assert.equal(j.class, "fast");
    assert.equal(j.base_from, "model");
    assert.deepEqual((j.reasons as string[]).slice(0, 2), ["model:switchyard/fast", "class:fast"]);
  });
  test("a bad body: {error, reasons}, exit 0", async () => {
    const j = await runJson("explain", DISCOURSE, "--body", "test/fixtures/bodies/truncated.txt", "--json");
    assert.deepEqual(Object.keys(j), ["error", "reasons"]);
    assert.deepEqual((j.error as { code: string }).code, "invalid_json");
    assert.deepEqual(j.reasons, ["reject:invalid_json"]);
  });
});

describe("switchyard explain (text)", () => {
  test("prints facts, trace, path and bodies", async () => {
    const r = await run(
      "explain",
      DISCOURSE,
      "-H",
      "X-Discourse-AI-Feature: ai_bot",
      "-H",
      "X-Discourse-AI-Trial: maybe",
      "--seed",
      "1",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^facts {5}feature=ai_bot tier=- trial=false/);
    assert.ok(r.stdout.includes("trial 'maybe' is not a yes/no value; read as false"), r.stdout);
    assert.ok(r.stdout.includes("\npath      qwen-large → deepseek-flash → qwen-small\n"), r.stdout);
    assert.ok(r.stdout.includes("\nclass     frontier (base class from the feature header)\n"), r.stdout);
    assert.ok(r.stdout.includes("body for qwen-small (qwen3):"), r.stdout);
  });
  test("an invalid policy → exit 1 with its problems on stderr", async () => {
    const r = await run("explain", BROKEN);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.yml:7:9: error: ladders\.fast\[0\]\.qwen-smal: unknown pool/);
    assert.equal(r.stdout, "");
  });
});

describe("usage errors → exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown flag", ["explain", DISCOURSE, "--jsn"], /Unknown option '--jsn'/],
    ["a missing FILE", ["explain", "--json"], /explain takes exactly one FILE/],
    ["a bad -H", ["explain", DISCOURSE, "-H", "NoColon"], /-H wants "Name: value", got "NoColon"/],
    ["an empty header name", ["explain", DISCOURSE, "-H", ": v"], /-H wants "Name: value"/],
    ["a non-integer seed", ["explain", DISCOURSE, "--seed", "x"], /--seed wants an integer, got x/],
    [
      "an unreadable body",
      ["explain", DISCOURSE, "--body", "no/such/body.json"],
      /cannot read --body no\/such\/body\.json: ENOENT/,
    ],
    ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["no command", [], /^usage:/],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const r = await run(...args);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "");
    });
  }
  test("help → exit 0 with usage on stdout", async () => {
    const r = await run("--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage:\n {2}switchyard check FILE/);
  });
});

describe("switchyard explain --fleet", () => {
  test("a snapshot with qwen-large's breaker open: the frontier path passes it by", async () => {
    const { mkdtemp, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "swy-fleet-"));
    const file = join(dir, "status.json");
    const pool = (breaker: string) => ({
      samples: 50,
      ttft_p50_ms: 100,
      ttft_p95_ms: 200,
      error_rate: 0,
      breaker,
      shedding: false,
    });
    await writeFile(
      file,
      JSON.stringify({
        fleet: {
          pools: {
            "qwen-large": pool("open"),
            "deepseek-flash": pool("closed"),
            "qwen-small": pool("closed"),
          },
        },
      }),
    );
    const args = ["explain", DISCOURSE, "-H", "X-Discourse-AI-Feature: ai_bot", "--seed", "1", "--json"];
    const without = await runJson(...args);
    const withFleet = await runJson(...args, "--fleet", file);
    const reasons = (o: Record<string, unknown>) => (o.reasons as string[]).join(" ");
    assert.doesNotMatch(reasons(without), /breaker_open/);
    assert.match(reasons(withFleet), /skip:qwen-large:breaker_open/);
  });
});
