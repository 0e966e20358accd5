// What a jolteon operator reaches for: `kill -HUP $(pidof switchyard)` reloads (the sidecar's
// process title is switchyard), and backend names (jolteon's "backend": "dub-1") show in the
// log line, the metrics and /status. Signals go to this test's own sidecar only, by its pid.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import { logLine, TRANSLATE, useStack } from "./util.js";

/** The e2e policy with qwen-small's backends named like jolteon's. */
async function namedPolicy(): Promise<string> {
  const base = await readFixture("e2e-policy.yml");
  const addr = (sim: string) => `"$\{addr:${sim}}"`; // the harness's placeholder, literally
  const named = base.replace(
    `backends: [{ address: ${addr("qs1")} }, { address: ${addr("qs2")} }]`,
    `backends: [{ address: ${addr("qs1")}, name: dub-1 }, { address: ${addr("qs2")}, name: dub-2 }]`,
  );
  assert.notEqual(named, base, "the fixture's qwen-small backends line changed");
  return named;
}

describe("from jolteon: process title, SIGHUP, backend names", () => {
  const stack = useStack(async () => ({ policy: await namedPolicy(), sims: e2eFleet() }));

  it("the sidecar's process is called switchyard, so pidof finds it, and SIGHUP reloads", async () => {
    const pid = stack().switchyard.pid;
    assert.equal((await readFile(`/proc/${pid}/comm`, "utf8")).trim(), "switchyard");
    const { stdout } = await promisify(execFile)("pidof", ["switchyard"]);
    assert.ok(stdout.trim().split(/\s+/).includes(String(pid)), `pidof switchyard: ${stdout}`);
    // An unchanged file reloads to the same policy (nothing to apply), so the sidecar's word is the proof.
    process.kill(pid, "SIGHUP");
    await waitUntil(
      "the sidecar's reload on SIGHUP",
      () => stack().switchyard.log(),
      (log) => log.includes("SIGHUP: reloading"),
    );
    assert.equal((await fetch(`${stack().sidecarUrl}/readyz`)).status, 200, "still serving");
  });

  it("a named backend is its name in the log line (address beside it), the metrics and /status", async () => {
    const id = randomUUID();
    const r = await fetch(`${stack().url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": id, ...TRANSLATE },
      body: JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(r.status, 200);
    const sim = stack().sims.byName(r.headers.get("x-sim-backend") as string);
    const name = sim.name === "qs1" ? "dub-1" : "dub-2";
    const line = await logLine(stack(), id);
    assert.equal(line.backend, name);
    assert.equal(line.backend_address, sim.address);
    assert.deepEqual(
      (line.attempt_list as { backend: string }[]).map((a) => a.backend),
      [name],
    );
    const metrics = await (await fetch(`${stack().sidecarUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`switchyard_request_duration_seconds_count\\{[^}]*backend="${name}"`));
    const status = (await (await fetch(`${stack().sidecarUrl}/status`)).json()) as {
      pools: { name: string; backends: { name: string; address: string }[] }[];
    };
    const qs = status.pools.find((p) => p.name === "qwen-small");
    assert.deepEqual(
      qs?.backends.map((b) => [b.name, b.address]),
      [
        ["dub-1", stack().sims.byName("qs1").address],
        ["dub-2", stack().sims.byName("qs2").address],
      ],
    );
  });
});
