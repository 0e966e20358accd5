// Restarting switchyard loses no request when Envoy has a second sidecar to turn to: a
// sidecar that gets SIGTERM reports not ready, keeps serving while Envoy's health check
// moves new ext_proc streams to the other one, and only then stops.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitUntil } from "../../devkit/processes.js";
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
    // Each step waits for traffic to have gone through: before the first restart, during each
    // restart (while one sidecar drains the other serves), and after both.
    const served = async (what: string, count: number) => {
      const from = done;
      await waitUntil(
        what,
        () => done - from,
        (n) => n >= count,
      );
    };
    await served("requests before the restarts", 20);
    const pid0 = stack.sidecars[0]?.child.pid;
    const all = [...stack.sidecars];
    const during: number[] = [];
    for (const i of [0, 1]) {
      const from = done;
      await stack.restartSidecar(i);
      during.push(done - from);
    }
    assert.notEqual(stack.sidecars[0]?.child.pid, pid0, "sidecar 0 was replaced");
    // Drained and exited by itself (the harness would SIGKILL it after 5 s): open access-log
    // streams are answered on shutdown instead of holding the server open.
    assert.equal(all[0]?.child.exitCode, 0);
    assert.equal(all[1]?.child.exitCode, 0);
    await served("requests after both restarts", 20);
    running = false;
    await Promise.all(loops);
    t.diagnostic(
      `${done} requests in all, ${during.join(" and ")} during the two restarts, ${failures.length} failed`,
    );
    assert.ok(
      during.every((n) => n > 0),
      `requests were served while each sidecar restarted: ${during}`,
    );
    all.push(...stack.sidecars);
    const failed = all.flatMap((p) => p.jsonLines()).filter((l) => l.status !== 200);
    assert.deepEqual(
      failures,
      [],
      JSON.stringify(failed.map((l) => [l.status, l.response_details, l.response_flags])),
    );
  });
});
