// Swapping the policy by restarting the sidecars, one after the other, fails no request even
// when the new policy has other ladders: a sidecar that starts keeps the clusters already
// written for one generation, so the sidecar still on the old policy finds the path clusters
// it routes to. Counted under an open loop of 50 requests/s, half streaming.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { countOutcomes, OpenLoop } from "../../devkit/open-loop.js";
import { waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { readFixture, type Stack, startStack } from "./harness.js";

const RATE = 50;
const FRONTIER =
  "  frontier:\n    - { qwen-large: 100 }\n    - { deepseek-flash: 100 }\n    - { qwen-small: 100 }";
const FRONTIER_SWAPPED = "  frontier:\n    - { qwen-large: 100 }\n    - { qwen-small: 100 }";

describe("policy swap by restart", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      policy: await readFixture("e2e-policy.yml"),
      sims: e2eFleet({ ttftMs: 20, tokensPerSec: 200, tokens: 8 }),
      sidecars: 2,
      drainMs: 1500,
    });
  });
  after(async () => {
    await stack?.stop();
  });

  it("a rolling restart onto a policy with another frontier ladder: every request answered 200", async (t) => {
    const text = await readFile(stack.policyFile, "utf8");
    assert.ok(text.includes(FRONTIER), "the fixture's frontier ladder");
    const swapped = join(dirname(stack.policyFile), "policy-swapped.yml");
    await writeFile(swapped, text.replace(FRONTIER, FRONTIER_SWAPPED));
    const loop = new OpenLoop({ url: stack.url, rate: RATE, tag: "swap" });
    loop.start();
    const served = async (what: string) => {
      const from = loop.answered;
      await waitUntil(
        what,
        () => loop.answered - from,
        (n) => n >= RATE,
        30_000,
      );
    };
    await served("answers before the swap");
    stack.usePolicy(swapped);
    for (const i of [0, 1]) await stack.restartSidecar(i, "SIGTERM");
    await served("answers after the swap");
    const load = await loop.stop();
    t.diagnostic(`${load.sent} requests: ${JSON.stringify(countOutcomes(load.outcomes.values()))}`);
    assert.deepEqual(countOutcomes(load.outcomes.values()), [["200", load.sent]]);
    // Both sidecars now run the new policy: a frontier request walks the new ladder.
    const line = await waitUntil(
      "a frontier request decided by the new policy",
      () =>
        stack
          .allSidecars()
          .flatMap((p) => p.jsonLines())
          .filter((l) => String(l.request_id).startsWith("swap-") && l.feature === "ai_bot")
          .at(-1),
      (l) => l !== undefined,
    );
    assert.deepEqual(
      ((line?.reasons ?? []) as string[]).filter((r) => r.startsWith("step")),
      ["step0:qwen-large", "step1:qwen-small"],
    );
  });
});
