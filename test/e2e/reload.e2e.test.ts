// Editing the policy file reloads it: Envoy gets the new clusters from the watched xDS
// directory without a restart, requests in flight finish, and an invalid edit is refused.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture, type Stack, startStack } from "./harness.js";

describe("policy reload", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() });
  });
  after(async () => {
    await stack?.stop();
  });

  const reloads = async (result: string) => {
    const text = await (await fetch(`${stack.sidecarUrl}/metrics`)).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`switchyard_policy_reloads_total{result="${result}"}`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

  it("a new ladder takes effect without an Envoy restart and without failing requests in flight", async () => {
    const translate = { "X-Discourse-AI-Feature": "translate" };
    const first = await chat(stack.url, { headers: translate });
    assert.equal(first.status, 200, first.text);
    assert.match(first.headers.get("x-sim-backend") ?? "", /^qs/);

    // Slow streams in flight across the reload.
    const qwenSmall = ["qs1", "qs2"].map((n) => stack.sims.byName(n));
    for (const sim of qwenSmall) sim.setTiming({ tokensPerSec: 10, tokens: 20 });
    try {
      const inFlight = Array.from({ length: 10 }, () =>
        chat(stack.url, {
          headers: translate,
          body: { model: "x", stream: true, messages: [{ role: "user", content: "hi" }] },
        }),
      );
      await waitUntil(
        "10 streams open on qwen-small",
        () => qwenSmall.reduce((n, sim) => n + sim.stats().open, 0),
        (open) => open >= 10,
      );

      const text = await readFile(stack.policyFile, "utf8");
      const envoyPid = stack.envoy.child.pid;
      const applied = await reloads("applied");
      const edited = text.replace(
        "  fast:\n    - { qwen-small: 100 }",
        "  fast:\n    - { deepseek-flash: 100 }",
      );
      assert.notEqual(edited, text, "the fixture's fast ladder is qwen-small");
      await writeFile(stack.policyFile, edited);
      await waitUntil(
        "the reload applied",
        () => reloads("applied"),
        (n) => n > applied,
      );

      const after = await chat(stack.url, { headers: translate });
      assert.equal(after.status, 200, after.text);
      assert.match(after.headers.get("x-sim-backend") ?? "", /^ds/, "fast now routes to deepseek-flash");
      assert.equal(stack.envoy.child.pid, envoyPid);
      assert.equal(stack.envoy.child.exitCode, null, "Envoy was not restarted");

      const results = await Promise.all(inFlight);
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.match(r.text, /data: \[DONE\]\n\n$/, "stream completed across the reload");
      }
    } finally {
      for (const sim of qwenSmall) sim.setTiming({ tokensPerSec: 0, tokens: 8 });
    }
  });

  it("an invalid edit is refused and the running policy keeps serving", async () => {
    const good = await readFile(stack.policyFile, "utf8");
    const before = await reloads("rejected");
    const bad = good.replace("default_class: balanced", "default_class: balanced\nbogus_key: 1");
    assert.notEqual(bad, good, "the policy has default_class: balanced");
    try {
      await writeFile(stack.policyFile, bad);
      await waitUntil(
        "the reload rejected",
        () => reloads("rejected"),
        (n) => n > before,
      );
      assert.match(stack.switchyard.log(), /unknown key 'bogus_key'/);
      const r = await chat(stack.url, { headers: { "X-Discourse-AI-Feature": "translate" } });
      assert.equal(r.status, 200, r.text);
    } finally {
      await writeFile(stack.policyFile, good);
    }
  });
});
