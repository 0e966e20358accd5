import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { LogWriter } from "./log-writer.js";

class Sink extends Writable {
  writes: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.writes.push(chunk.toString());
    done();
  }
}

describe("LogWriter", () => {
  it("batches the lines of one tick into one write of whole lines, in order", async () => {
    const sink = new Sink();
    const w = new LogWriter(() => sink);
    for (let i = 0; i < 1000; i++) w.write({ i, text: "x".repeat(100) });
    assert.equal(sink.writes.length, 0, "nothing is written synchronously");
    await new Promise((r) => setImmediate(r));
    assert.equal(sink.writes.length, 1);
    const lines = (sink.writes[0] as string).split("\n");
    assert.equal(lines.pop(), "", "ends with a newline");
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it("written() resolves only once the lines so far have reached the stream", async () => {
    let release: (() => void) | undefined;
    const gated = new Writable({
      write(_chunk, _enc, done) {
        release = done;
      },
    });
    const w = new LogWriter(() => gated);
    w.write({ a: 1 });
    let out = false;
    const written = w.written().then(() => {
      out = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(out, false, "the write has not completed");
    release?.();
    await written;
    assert.equal(out, true);
    await w.written(); // nothing pending: at once
  });

  it("written() settles when the stream fails (the lines are lost, nobody waits forever)", async () => {
    const failing = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      },
    });
    const w = new LogWriter(
      () => failing,
      () => {},
    );
    w.write({ a: 1 });
    await w.written();
  });

  it("drops and counts lines instead of buffering without bound when stdout stalls", async () => {
    const stalled = new Writable({ highWaterMark: 1, write: () => {} }); // never calls back
    const w = new LogWriter(() => stalled);
    const big = { text: "y".repeat(1024 * 1024) };
    for (let round = 0; round < 80; round++) {
      w.write(big);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(w.dropped > 0, "some lines were dropped");
    assert.ok(stalled.writableLength <= 66 * 1024 * 1024, `pending ${stalled.writableLength}`);
  });

  it("a broken stdout (EPIPE) is reported once, its lines dropped and counted, and writing resumes later", async () => {
    let fail = true;
    const sinks: Sink[] = [];
    const open = () => {
      const s = new Sink();
      if (fail)
        s._write = (_c: Buffer, _e: BufferEncoding, done: (err?: Error) => void) =>
          done(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      sinks.push(s);
      return s;
    };
    const warnings: string[] = [];
    let now = 0;
    const w = new LogWriter(
      open,
      (m) => warnings.push(m),
      () => now,
    );
    const drops: string[] = [];
    w.onDrop = (r) => drops.push(r);
    w.write({ n: 1 });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) w.write({ n: i });
    assert.equal(w.dropped, 10);
    assert.deepEqual(new Set(drops), new Set(["broken"]));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /EPIPE/);
    fail = false;
    now = 10_000; // past the pause: a fresh stream is tried
    w.write({ n: "back" });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sinks.at(-1)?.writes, ['{"n":"back"}\n']);
    assert.equal(warnings.length, 1, "reported once");
  });
});
