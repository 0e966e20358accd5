// The fleet monitor with a hand-driven clock: windows, the pool breaker's states, back-off after
// a Retry-After, probes that never reach their pool, and thin traffic that must not turn a pool
// cold. Each case feeds outcomes and reads the FleetView the decision would see.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Policy } from "../policy/compile.js";
import { parsePolicy } from "../policy/load.js";
import type { Transition } from "./breakers.js";
import { FleetMonitor, type Outcome, STALE_WINDOWS } from "./fleet-monitor.js";
import { SlidingWindow, WindowSet } from "./window.js";

const POLICY = `
version: 1
classes: [plain]
default_class: plain
ladders:
  plain: [{ cheap: 1 }, { backup: 1 }]
pools:
  cheap:
    served_model: m
    backends: [{ address: "127.0.0.1:9001" }, { address: "127.0.0.1:9002" }]
  backup:
    served_model: m
    backends: [{ address: "127.0.0.1:9003" }]
fleet:
  window_s: 10
  min_samples: 5
  pool_breaker: { enabled: true, error_rate: 0.5, min_samples: 4, cooldown_s: 2, probes: 2 }
  retry_after_max_s: 3
`;

function setup() {
  const r = parsePolicy(POLICY, {});
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const policy: Policy = r.policy;
  let now = 1_000_000;
  const transitions: Transition[] = [];
  const downs: string[] = [];
  const m = new FleetMonitor(
    new WindowSet(),
    () => policy,
    {
      transition: (t) => transitions.push(t),
      backoff: () => {},
      down: (pool) => downs.push(pool),
    },
    () => new Map(),
    () => now,
  );
  const feed = (o: Partial<Outcome>, n = 1) => {
    for (let i = 0; i < n; i++)
      m.record({ backend: "127.0.0.1:9001", pool: "cheap", ok: true, ttftMs: 50, ...o });
  };
  return {
    m,
    feed,
    transitions,
    downs,
    advance: (ms: number) => {
      now += ms;
      m.tick();
    },
    pool: (name: string) => m.view().pools.get(name),
  };
}

describe("fleet monitor", () => {
  test("the pool breaker opens on its error rate, goes half-open after the cooldown, closes on good probes", () => {
    const f = setup();
    f.feed({ ok: false, status: 500, ttftMs: undefined }, 3);
    f.feed({}, 1);
    f.advance(250);
    assert.equal(f.pool("cheap")?.breaker, "open");
    assert.deepEqual([...f.m.down("cheap")].sort(), ["127.0.0.1:9001", "127.0.0.1:9002"]);
    f.advance(2000);
    assert.equal(f.pool("cheap")?.breaker, "half_open");
    assert.equal(f.m.down("cheap").size, 0, "half-open: the backends are back in the endpoint file");
    f.m.routed("cheap");
    f.m.routed("cheap");
    assert.equal(
      f.pool("cheap")?.probesOut,
      true,
      "every probe is out: the pool is skipped until they report",
    );
    f.feed({}, 2);
    assert.equal(f.pool("cheap")?.breaker, "closed");
    assert.deepEqual(
      f.transitions.map((t) => `${t.from}->${t.to}`),
      ["closed->open", "open->half_open", "half_open->closed"],
    );
  });

  test("every pool of a ladder open: their backends stay in the endpoint files (else Envoy has no host)", () => {
    const f = setup();
    f.feed({ ok: false, status: 500, ttftMs: undefined }, 4);
    f.advance(250);
    assert.equal(f.pool("cheap")?.breaker, "open");
    assert.equal(f.m.down("cheap").size, 2, "backup is still open to the ladder: cheap's backends are out");
    f.feed({ backend: "127.0.0.1:9003", pool: "backup", ok: false, status: 500, ttftMs: undefined }, 4);
    f.advance(250);
    assert.equal(f.pool("backup")?.breaker, "open");
    assert.equal(f.m.down("cheap").size, 0, "both open: cheap's backends are back in");
    assert.equal(f.m.down("backup").size, 0);
  });

  test("a probe that never reached its pool is given back (Envoy passed the pool)", () => {
    const f = setup();
    f.feed({ ok: false, status: 500, ttftMs: undefined }, 4);
    f.advance(250);
    f.advance(2000);
    f.m.routed("cheap");
    f.m.routed("cheap");
    assert.equal(f.pool("cheap")?.probesOut, true);
    assert.ok(f.m.down("cheap").size > 0, "probes out: the pool's backends are out again");
    f.m.missed("cheap");
    assert.equal(f.pool("cheap")?.probesOut, false, "one probe back: the pool takes a request again");
    assert.equal(f.m.down("cheap").size, 0);
    f.m.missed("cheap");
    f.m.missed("cheap");
    f.m.routed("cheap");
    assert.equal(f.pool("cheap")?.probesOut, false, "giving back never goes below zero");
  });

  test("429s with a Retry-After back the backend off and do not count as errors (the breaker stays closed)", () => {
    const f = setup();
    f.feed({ ok: false, status: 429, retryAfterS: 30, ttftMs: undefined }, 10);
    f.feed({ backend: "127.0.0.1:9002", ok: false, status: 429, retryAfterS: 30, ttftMs: undefined }, 10);
    f.advance(250);
    assert.equal(f.pool("cheap")?.breaker, "closed");
    assert.equal(f.pool("cheap")?.errorRate, 0);
    assert.equal(f.pool("cheap")?.shedding, true);
    assert.equal(f.m.backendState("127.0.0.1:9001"), "backoff");
    f.advance(3000);
    assert.equal(f.pool("cheap")?.shedding, false, "the back-off is capped at retry_after_max_s");
    assert.equal(f.m.down("cheap").size, 0);
  });

  test("a 429 without Retry-After is an error like any other", () => {
    const f = setup();
    f.feed({ ok: false, status: 429, ttftMs: undefined }, 4);
    f.advance(250);
    assert.equal(f.pool("cheap")?.breaker, "open");
  });

  test("thin traffic: a pool keeps its numbers from recent older samples instead of turning cold", () => {
    const f = setup();
    f.feed({ ttftMs: 80 }, 5);
    f.advance(250);
    assert.equal(f.pool("cheap")?.samples, 5);
    f.advance(10_000); // every sample is now older than the 10 s window
    assert.equal(f.pool("cheap")?.samples, 5, "judged on the last min_samples samples");
    assert.equal(f.pool("cheap")?.ttftP95Ms, 80);
    f.advance(STALE_WINDOWS * 10_000);
    assert.equal(f.pool("cheap")?.samples, 0, `none older than ${STALE_WINDOWS} windows counts`);
    assert.equal(f.pool("cheap")?.ttftP95Ms, null);
  });
});

describe("sliding window", () => {
  test("topping up takes the newest older samples first, up to the count asked", () => {
    const w = new SlidingWindow(8, 1000);
    for (let i = 0; i < 6; i++) w.add({ at: i * 100, ttftMs: i * 10, error: false });
    // At 2000 every sample is older than the window.
    assert.equal(w.summary(2000).count, 0);
    const s = w.summary(2000, 3, 5000);
    assert.equal(s.count, 3);
    assert.equal(s.ttftP50, 40, "samples 3, 4, 5 (ttft 30, 40, 50)");
    assert.equal(s.rate, 0, "the rate is the window's own");
  });

  test("the ring stays bounded: old samples are overwritten", () => {
    const w = new SlidingWindow(4, 1000);
    for (let i = 0; i < 100; i++) w.add({ at: 500, ttftMs: i, error: false });
    const s = w.summary(600);
    assert.equal(s.count, 4);
    assert.equal(s.ttftP95, 99);
  });
});
