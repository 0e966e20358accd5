// The reader lease: one holder per access-log file, handed over on release and freed by the
// kernel when the holder is killed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, test } from "node:test";
import { ReaderLease } from "./reader-lease.js";

describe("ReaderLease", () => {
  test("one holder per file; the next one gets it on release", async () => {
    const file = `/tmp/swy-lease-${process.pid}-${Date.now()}/access.log`;
    const a = ReaderLease.forFile(file, 10);
    const b = ReaderLease.forFile(file, 10);
    const other = ReaderLease.forFile(`${file}.other`, 10);
    assert.equal(await a.acquire(), true);
    assert.equal(await other.acquire(), true, "another file has its own lease");
    let bHeld = false;
    const pending = b.acquire().then((held) => {
      bHeld = held;
    });
    // b tries at least twice while a holds the lease.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(bHeld, false);
    await a.release();
    await pending;
    assert.equal(bHeld, true);
    await b.release();
    await other.release();
  });

  test("cancel ends a pending acquire with false", async () => {
    const file = `/tmp/swy-lease-${process.pid}-${Date.now()}-c/access.log`;
    const a = ReaderLease.forFile(file, 10);
    const b = ReaderLease.forFile(file, 10);
    await a.acquire();
    const pending = b.acquire();
    b.cancel();
    assert.equal(await pending, false);
    await a.release();
  });

  test("a holder killed with SIGKILL frees the lease", async () => {
    const lease = ReaderLease.forFile(`/tmp/swy-lease-${process.pid}-${Date.now()}-k/access.log`, 10);
    const child = spawn(
      process.execPath,
      [
        "-e",
        `require("node:net").createServer().listen({ path: "\\0${lease.name}" }, () => console.log("held"));`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await once(child.stdout, "data");
    let held = false;
    const pending = lease.acquire().then((h) => {
      held = h;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(held, false, "the child holds it");
    child.kill("SIGKILL");
    await pending;
    assert.equal(held, true);
    await lease.release();
  });
});
