// `npm run loadtest` against a real stack: every request of the mix answered, and the routing
// share it observes matches the share the policy predicts for the same mix (devkit/loadtest-mix.ts).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import { useStack } from "./util.js";

describe("load test with routing shares", () => {
  const stack = useStack(async () => ({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() }));

  it("sends the mix at the rate asked, and observed shares match the predicted ones", async () => {
    const json = join(stack().dir, "loadtest.json");
    const args = ["--rate", "25", "--duration", "2", "--target", stack().url, "--policy", stack().policyFile];
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, "dist/scripts/loadtest.js"), ...args, "--json", json],
      { cwd: ROOT, timeout: 120_000 },
    );
    assert.match(stdout, /routing share \(class → pool\)\s+observed\s+predicted/);
    assert.match(stderr, /sent 50\/50/);
    const r = JSON.parse(await readFile(json, "utf8")) as {
      requests: number;
      errors: Record<string, number>;
      observed: Record<string, number>;
      predicted: Record<string, number>;
      ttft_ms: { p50?: number };
    };
    assert.equal(r.requests, 50);
    assert.deepEqual(r.errors, {});
    assert.ok(r.ttft_ms.p50 !== undefined);
    // The prediction is for the requests actually sent and every pool pick in this policy is
    // certain, so the two agree exactly (up to float sums).
    assert.deepEqual(Object.keys(r.observed).sort(), Object.keys(r.predicted).sort());
    for (const [k, p] of Object.entries(r.predicted))
      assert.ok(Math.abs((r.observed[k] ?? 0) - p) < 1e-9, `${k}: observed ${r.observed[k]}, predicted ${p}`);
  });

  it("refuses a target off this machine", async () => {
    const run = promisify(execFile)(process.execPath, [
      join(ROOT, "dist/scripts/loadtest.js"),
      "--target",
      "http://192.0.2.1:8080",
      "--duration",
      "1",
    ]);
    await assert.rejects(run, (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr ?? "", /not a loopback address/);
      return true;
    });
  });
});
