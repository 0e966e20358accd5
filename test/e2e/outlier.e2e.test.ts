// A few bad requests must not take a fleet down (issue 10, item 9). Requests that every backend
// fails the same way say nothing about the backends: four of them, then normal traffic, and the
// normal traffic gets no error. Outlier detection counts only connection-level failures
// (refused, reset, per-try timeout) in a row, or a failure rate at volume, and never ejects more
// than half of a pool (envoy/clusters.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostStates } from "./envoy-hosts.js";
import { e2eFleet } from "./fleet.js";
import type { Stack } from "./harness.js";
import {
  AI_BOT,
  envoyStats,
  policyWith,
  post,
  TRANSLATE,
  taggedBody,
  totalReceived,
  useStack,
} from "./util.js";

/** The simulated backends answer a request carrying this header in that mode, whatever their own. */
const BAD = (mode: string) => ({ ...AI_BOT, "x-sim-mode": mode });
const CLASSES = [AI_BOT, TRANSLATE, {}] as const;

async function normalTraffic(s: Stack, tag: string, n = 30): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await post(s.url, { headers: CLASSES[i % CLASSES.length], body: taggedBody(`${tag}-${i}`) });
    statuses[r.status ?? 0] = (statuses[r.status ?? 0] ?? 0) + 1;
  }
  return statuses;
}

async function poolHealth(s: Stack): Promise<Record<string, { healthy: number; ejected: number }>> {
  const out: Record<string, { healthy: number; ejected: number }> = {};
  for (const h of await hostStates(s.adminUrl)) {
    if (!h.cluster.startsWith("pool.")) continue;
    const p = out[h.cluster] ?? { healthy: 0, ejected: 0 };
    if (h.ejected) p.ejected++;
    else p.healthy++;
    out[h.cluster] = p;
  }
  return out;
}

describe("outlier detection: bad requests do not eject the fleet", () => {
  const stack = useStack(async () => ({
    policy: await policyWith({ retry: { per_try_timeout_ms: 500 } }),
    sims: e2eFleet(),
  }));

  it("four requests every backend answers with 503, then normal traffic: zero errors, nothing ejected", async (t) => {
    const s = stack();
    for (let i = 0; i < 4; i++) {
      const r = await post(s.url, { headers: BAD("status-503"), body: taggedBody(`bad-${i}`) });
      assert.equal(r.status, 503, "every attempt (6 backends) answered 503");
    }
    assert.equal(totalReceived(s), 24, "4 requests × 6 attempts reached the backends");
    const statuses = await normalTraffic(s, "after-503");
    const health = await poolHealth(s);
    t.diagnostic(`normal traffic: ${JSON.stringify(statuses)}; pools: ${JSON.stringify(health)}`);
    assert.deepEqual(statuses, { 200: 30 });
    for (const [pool, h] of Object.entries(health)) assert.equal(h.ejected, 0, pool);
  });

  it("four requests every backend lets time out (per-try timeouts count as the backend's), then normal traffic: zero errors, each pool keeps a backend", async (t) => {
    const s = stack();
    const bad = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        post(s.url, { headers: BAD("hang"), body: taggedBody(`hang-${i}`), timeoutMs: 20_000 }),
      ),
    );
    assert.deepEqual(
      bad.map((r) => r.status),
      [504, 504, 504, 504],
    );
    const health = await poolHealth(s);
    const ejections = await envoyStats(s, "outlier_detection\\.ejections_(enforced_total|overflow)$");
    t.diagnostic(`pools after the timeouts: ${JSON.stringify(health)}; ${JSON.stringify(ejections)}`);
    for (const [pool, h] of Object.entries(health)) assert.ok(h.healthy >= 1, `${pool} keeps a backend`);
    const statuses = await normalTraffic(s, "after-hang");
    t.diagnostic(`normal traffic: ${JSON.stringify(statuses)}`);
    assert.deepEqual(statuses, { 200: 30 });
  });
});
