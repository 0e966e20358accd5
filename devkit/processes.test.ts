// Polling says what it last saw; a started process keeps (bounded) output and stops.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freePorts, GiveUp, startProc, waitFor, waitUntil } from "./processes.js";

describe("waitUntil / waitFor", () => {
  it("returns the value that satisfied the condition", async () => {
    let n = 0;
    assert.equal(
      await waitUntil(
        "n to reach 3",
        () => ++n,
        (v) => v >= 3,
      ),
      3,
    );
  });

  it("a timeout names what it waited for and the last value read", async () => {
    await assert.rejects(
      waitUntil(
        "the open count to drop",
        () => ({ open: 2 }),
        (v) => v.open === 0,
        120,
      ),
      /^Error: timed out after 120 ms waiting for the open count to drop; the last read returned \{"open":2\}$/,
    );
  });

  it("a timeout carries the last assertion message of the check", async () => {
    let n = 0;
    const check = () => {
      n++;
      assert.equal(n, 0, `attempt ${n} saw the wrong backend`);
      return true;
    };
    await assert.rejects(waitFor("the backend", check, 120), (err: Error) => {
      assert.match(err.message, /^timed out after 120 ms waiting for the backend; the last read threw: /);
      assert.match(err.message, new RegExp(`attempt ${n} saw the wrong backend`));
      return true;
    });
  });

  it("GiveUp stops at once", async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor(
        "switchyard /readyz",
        () => {
          throw new GiveUp("switchyard exited (1)");
        },
        10_000,
      ),
      /^Error: gave up waiting for switchyard \/readyz: switchyard exited \(1\)$/,
    );
    assert.ok(Date.now() - started < 5_000);
  });
});

describe("startProc", () => {
  it("keeps stdout apart, stderr with it, JSON lines parsed, and the last chunks only when bounded", async () => {
    const script = 'console.log(JSON.stringify({a:1})); console.error("warn"); console.log("plain")';
    const p = startProc("node", process.execPath, ["-e", script]);
    assert.equal(await p.exited, 0);
    assert.deepEqual(p.jsonLines(), [{ a: 1 }]);
    assert.match(p.log(), /warn/);
    assert.doesNotMatch(p.stdout.join(""), /warn/);
    assert.equal(p.running, false);
    await p.stop(); // a no-op once exited

    const bounded = startProc(
      "node",
      process.execPath,
      ["-e", "for (let i = 0; i < 50; i++) console.error(i)"],
      {
        keepChunks: 1,
      },
    );
    await bounded.exited;
    assert.equal(bounded.out.length, 1);
    assert.match(bounded.log(), /49\n$/);
  });

  it("stop() ends a running process", async () => {
    const p = startProc("sleeper", process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
    assert.equal(p.running, true);
    await p.stop();
    assert.equal(p.running, false);
  });

  it("raises the open-file limit through the shell when asked, keeping the pid", async () => {
    const p = startProc("limits", process.execPath, ["-e", "console.log(process.pid)"], { nofile: 1 << 30 });
    await p.exited;
    assert.equal(p.stdout.join("").trim(), String(p.pid));
  });
});

it("freePorts gives distinct ports", async () => {
  const ports = await freePorts(8);
  assert.equal(new Set(ports).size, 8);
});
