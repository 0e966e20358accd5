// No request vanishes from the record when a sidecar restarts or dies. Envoy writes its access
// log to a file whatever the sidecars do; the sidecar holding the reader lease turns it into log
// lines and, when it stops (SIGTERM) or dies (SIGKILL), another one goes on from its saved
// position. Counted under an open loop of 50 requests/s (half streaming): every response has
// its log line, exactly once across a graceful restart, at least once across a kill -9.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { countOutcomes, type LoadResult, OpenLoop } from "../../devkit/open-loop.js";
import { type Proc, waitFor, waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture, type Stack, startStack } from "./harness.js";
import { AI_BOT } from "./util.js";

const RATE = 50;

/** Log lines per request id of this run, from every sidecar that ever ran. */
function linesByRequest(stack: Stack, tag: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of stack.allSidecars())
    for (const l of p.jsonLines()) {
      const id = l.request_id;
      if (typeof id === "string" && id.startsWith(`${tag}-`)) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  return counts;
}

/** The sidecar that holds the reader lease now (it says so on stderr when it takes it). */
function reader(stack: Stack): number {
  const i = stack.sidecars.findIndex((p: Proc) => p.log().includes("reading Envoy's access log"));
  if (i < 0) throw new Error("no sidecar reads the access log");
  return i;
}

/** Runs the loop around `fault`: some answers before it, some after it. */
async function around(stack: Stack, tag: string, fault: () => Promise<void>): Promise<LoadResult> {
  const loop = new OpenLoop({ url: stack.url, rate: RATE, tag });
  loop.start();
  const served = async (what: string, n: number) => {
    const from = loop.answered;
    await waitUntil(
      what,
      () => loop.answered - from,
      (got) => got >= n,
      30_000,
    );
  };
  await served("answers before the fault", RATE);
  await fault();
  await served("answers after the fault", RATE);
  return loop.stop();
}

/** Waits until every answered request has a log line; returns the line counts. */
async function everyLine(stack: Stack, tag: string, load: LoadResult): Promise<Map<string, number>> {
  return waitUntil(
    "a log line for every request",
    () => linesByRequest(stack, tag),
    (lines) => [...load.outcomes.keys()].every((id) => lines.has(id)),
    30_000,
  );
}

describe("log lines across sidecar restarts and deaths", () => {
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

  it("the sidecar without the lease follows the log: its windows count every request, it writes no line", async () => {
    const other = 1 - reader(stack);
    const status = `http://127.0.0.1:${stack.endpoints[other]?.httpPort}/status`;
    type Status = { pools: { backends: { recent: { requests: number } }[] }[] };
    const seen = async () =>
      ((await (await fetch(status)).json()) as Status).pools
        .flatMap((p) => p.backends)
        .reduce((n, b) => n + b.recent.requests, 0);
    const before = await seen();
    for (let i = 0; i < 20; i++)
      assert.equal(
        (await chat(stack.url, { headers: { ...AI_BOT, "x-request-id": `follow-${i}` } })).status,
        200,
      );
    await waitUntil("the follower's windows count the 20 requests", seen, (n) => n >= before + 20);
    await waitUntil(
      "the reader's lines for them",
      () => linesByRequest(stack, "follow").size,
      (n) => n === 20,
    );
    const own = (stack.sidecars[other] as Proc)
      .jsonLines()
      .filter((l) => String(l.request_id).startsWith("follow-"));
    assert.deepEqual(own, [], "only the reader writes log lines");
  });

  it("a rolling restart (SIGTERM, reader first): every request answered 200, one log line each", async (t) => {
    const first = reader(stack);
    const load = await around(stack, "rolling", async () => {
      await stack.restartSidecar(first, "SIGTERM");
      await stack.restartSidecar(1 - first, "SIGTERM");
    });
    const lines = await everyLine(stack, "rolling", load);
    const twice = [...lines].filter(([, n]) => n > 1).map(([id]) => id);
    t.diagnostic(`${load.sent} requests: ${JSON.stringify(countOutcomes(load.outcomes.values()))}`);
    assert.deepEqual(countOutcomes(load.outcomes.values()), [["200", load.sent]]);
    assert.equal(lines.size, load.sent, "no line for a request this run did not send");
    assert.deepEqual(twice, [], "no line written twice");
  });

  it("the reader killed with SIGKILL: the other sidecar takes over and no request lacks its line", async (t) => {
    const victim = reader(stack);
    const load = await around(stack, "kill9", async () => {
      const survivor = stack.sidecars[1 - victim] as Proc;
      await stack.restartSidecar(victim, "SIGKILL");
      await waitFor("the survivor takes the reader lease", () =>
        survivor.log().includes("reading Envoy's access log"),
      );
    });
    const lines = await everyLine(stack, "kill9", load);
    const twice = [...lines.values()].filter((n) => n > 1).length;
    const outcomes = countOutcomes(load.outcomes.values());
    // Requests whose ext_proc stream was open on the killed sidecar fail; they are logged too.
    t.diagnostic(`${load.sent} requests: ${JSON.stringify(outcomes)}; ${twice} lines written twice`);
    assert.equal(lines.size, load.sent);
  });
});

describe("access-log rotation under traffic", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      policy: await readFixture("e2e-policy.yml"),
      sims: e2eFleet({ ttftMs: 5, tokensPerSec: 0, tokens: 8 }),
      // ~20 KiB: a rotation every few dozen requests.
      sidecarFlags: { "access-log-rotate-mb": 0.02 },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  it("renamed, reopened by Envoy, finished: every request has one line", async (t) => {
    const loop = new OpenLoop({ url: stack.url, rate: RATE, tag: "rotate" });
    loop.start();
    const rotations = () => stack.switchyard.log().split("access log: rotated").length - 1;
    await waitUntil("three rotations", rotations, (n) => n >= 3, 60_000);
    const load = await loop.stop();
    const lines = await everyLine(stack, "rotate", load);
    t.diagnostic(`${load.sent} requests, ${rotations()} rotations`);
    assert.deepEqual(countOutcomes(load.outcomes.values()), [["200", load.sent]]);
    assert.deepEqual(
      [...lines.values()].filter((n) => n > 1),
      [],
      "no line twice",
    );
    await waitFor(
      "the rotated file finished and removed",
      async () => !existsSync(`${stack.accessLogFile}.1`),
    );
  });
});
