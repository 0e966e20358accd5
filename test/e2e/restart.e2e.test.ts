// Restarting switchyard loses no request when Envoy has a second sidecar to turn to: a
// sidecar that gets SIGTERM reports not ready, keeps serving while Envoy's health check
// moves new ext_proc streams to the other one, and only then stops.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture, type Stack, startStack } from "./harness.js";

describe("sidecar restart under traffic", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      policy: await readFixture("e2e-policy.yml"),
      sims: e2eFleet(),
      sidecars: 2,
      drainMs: 2500,
    });
  });
  after(async () => {
    await stack?.stop();
  });

  it("rolling restart of both sidecars: every request succeeds", async (t) => {
    let running = true;
    const failures: string[] = [];
    let done = 0;
    const loop = async () => {
      while (running) {
        try {
          const r = await chat(stack.url, { headers: { "X-Discourse-AI-Feature": "ai_bot" } });
          if (r.status !== 200) failures.push(`${r.status} ${r.text.slice(0, 200)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        done++;
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    await new Promise((r) => setTimeout(r, 500));
    const pid0 = stack.sidecars[0]?.child.pid;
    const all = [...stack.sidecars];
    await stack.restartSidecar(0);
    await stack.restartSidecar(1);
    assert.notEqual(stack.sidecars[0]?.child.pid, pid0, "sidecar 0 was replaced");
    // Drained and exited by itself (the harness would SIGKILL it after 5 s): open access-log
    // streams are answered on shutdown instead of holding the server open.
    assert.equal(all[0]?.child.exitCode, 0);
    assert.equal(all[1]?.child.exitCode, 0);
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(loops);
    t.diagnostic(`${done} requests during two restarts, ${failures.length} failed`);
    assert.ok(done > 100, `only ${done} requests were sent`);
    all.push(...stack.sidecars);
    const failed = all.flatMap((p) => p.jsonLines()).filter((l) => l.status !== 200);
    assert.deepEqual(
      failures,
      [],
      JSON.stringify(failed.map((l) => [l.status, l.response_details, l.response_flags])),
    );
  });
});
