// The access-log reader against a file written the way Envoy writes it (appends of whole or
// partial lines, a rename + reopen on rotation): every line is handed on once, in order, and a
// second reader goes on where the first stopped.
import assert from "node:assert/strict";
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { AccessLogEntry } from "./access-log.js";
import { AccessLogTail, type TailOptions } from "./access-log-tail.js";

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await delay(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const line = (i: number) => `${JSON.stringify({ type: "DownstreamEnd", request_id: `r${i}` })}\n`;
const ids = (entries: AccessLogEntry[]) => entries.map((e) => e.request_id);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `r${from + i}`);

function reader(file: string, over: Partial<TailOptions> = {}) {
  const seen: AccessLogEntry[] = [];
  let bad = 0;
  const logs: string[] = [];
  const tail = new AccessLogTail({
    file,
    onEntry: (e) => seen.push(e),
    onBadLine: () => bad++,
    settled: async () => {},
    reopen: async () => {},
    rotateBytes: 1 << 30,
    pollMs: 10,
    log: (m) => logs.push(m),
    ...over,
  });
  return { tail, seen, bad: () => bad, logs };
}

describe("AccessLogTail", () => {
  test("hands on whole lines in order, each once, also when a line arrives in pieces", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "swy-tail-")), "access.log");
    const r = reader(file);
    r.tail.start();
    appendFileSync(file, line(0) + line(1));
    const third = line(2);
    appendFileSync(file, third.slice(0, 10));
    await until("two lines", () => r.seen.length === 2);
    appendFileSync(file, `${third.slice(10)}not json\n${line(3)}`);
    await until("four lines", () => r.seen.length === 4 && r.bad() === 1);
    await r.tail.stop();
    assert.deepEqual(ids(r.seen), range(0, 4));
    assert.equal(r.bad(), 1, "the line that is not JSON is counted, and skipped");
  });

  test("a second reader goes on where the first stopped: nothing twice, nothing missing", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "swy-tail-")), "access.log");
    for (let i = 0; i < 5; i++) appendFileSync(file, line(i));
    const a = reader(file);
    a.tail.start();
    await until("five lines", () => a.seen.length === 5);
    await a.tail.stop();
    // Envoy goes on writing while no sidecar reads.
    for (let i = 5; i < 9; i++) appendFileSync(file, line(i));
    const b = reader(file);
    b.tail.start();
    await until("four more lines", () => b.seen.length === 4);
    await b.tail.stop();
    assert.deepEqual(ids(a.seen), range(0, 5));
    assert.deepEqual(ids(b.seen), range(5, 9));
  });

  test("a reader that dies before its lines are out: the next one reads them again (twice, not lost)", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "swy-tail-")), "access.log");
    for (let i = 0; i < 3; i++) appendFileSync(file, line(i));
    // `settled` does not resolve: the process "dies" with its lines not yet out.
    let revive: (() => void) | undefined;
    const a = reader(file, { settled: () => new Promise<void>((r) => (revive = r)) });
    a.tail.start();
    await until("three lines", () => a.seen.length === 3);
    appendFileSync(file, line(3));
    const b = reader(file);
    b.tail.start();
    await until("all four", () => b.seen.length === 4);
    await b.tail.stop();
    assert.deepEqual(ids(b.seen), range(0, 4));
    assert.match(
      b.logs.join("\n"),
      /bytes 0-\d+ of .*may appear twice/,
      "the next reader says which lines may repeat",
    );
    // (Only to close the first reader's file: a killed process has no say any more.)
    const stopped = a.tail.stop();
    revive?.();
    await stopped;
  });

  test("rotation: rename to .1, Envoy reopens, the old file is finished and removed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "swy-tail-"));
    const file = join(dir, "access.log");
    // A stand-in for Envoy: appends through one descriptor, reopens the path when asked.
    let fd = openSync(file, "a");
    let reopens = 0;
    const envoy = {
      write: (i: number) => writeSync(fd, line(i)),
      reopen: async () => {
        reopens++;
        closeSync(fd);
        fd = openSync(file, "a");
      },
    };
    const r = reader(file, { rotateBytes: 300, reopen: envoy.reopen });
    r.tail.start();
    for (let i = 0; i < 40; i++) {
      envoy.write(i);
      if (i % 5 === 4) await until(`line ${i}`, () => r.seen.length === i + 1);
    }
    await until("forty lines", () => r.seen.length === 40);
    await until("the rotated file is gone", () => !existsSync(`${file}.1`));
    await r.tail.stop();
    closeSync(fd);
    assert.deepEqual(ids(r.seen), range(0, 40));
    assert.ok(reopens >= 2, `rotated ${reopens} times`);
    const saved = JSON.parse(readFileSync(`${file}.offset`, "utf8")) as { ino: number; offset: number };
    assert.equal(saved.ino, (await stat(file)).ino, "the position names the live file");
  });

  test("follow: from the end of the file, no position kept, across the reader's rotation", async () => {
    const dir = await mkdtemp(join(tmpdir(), "swy-tail-"));
    const file = join(dir, "access.log");
    let fd = openSync(file, "a");
    writeSync(fd, line(0));
    const reopen = async () => {
      closeSync(fd);
      fd = openSync(file, "a");
    };
    const main = reader(file, { rotateBytes: 200, reopen });
    const follower = reader(file, { follow: true, rotateBytes: 1 });
    follower.tail.start();
    await until("the follower at the end", () => follower.tail.reading);
    main.tail.start();
    await until("the reader read line 0", () => main.seen.length === 1);
    for (let i = 1; i < 12; i++) {
      writeSync(fd, line(i));
      await until(`line ${i}`, () => main.seen.length === i + 1 && follower.seen.length >= i);
    }
    await main.tail.stop();
    await follower.tail.stop();
    closeSync(fd);
    assert.deepEqual(ids(main.seen), range(0, 12));
    assert.deepEqual(
      ids(follower.seen),
      range(1, 12),
      "what came after it started, once, rotations included",
    );
    assert.ok(
      main.logs.some((l) => l.includes("rotated")),
      "the reader rotated meanwhile",
    );
    const saved = JSON.parse(readFileSync(`${file}.offset`, "utf8")) as { offset: number };
    assert.ok(saved.offset > 0, "only the reader keeps a position");
  });

  test("waits for a file that Envoy has not created yet", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "swy-tail-")), "access.log");
    const r = reader(file);
    r.tail.start();
    assert.equal(existsSync(file), false);
    appendFileSync(file, line(0));
    await until("the first line", () => r.seen.length === 1);
    await r.tail.stop();
  });
});
