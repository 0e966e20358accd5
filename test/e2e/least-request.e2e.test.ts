// Inside a pool Envoy balances least-request: a backend that holds requests longer gets fewer
// new ones. qwen-small has a slow backend (300 ms to answer) and a fast one (5 ms); translate
// requests only go to qwen-small.
//
// Envoy's LEAST_REQUEST with the default choice_count 2 samples two hosts *with replacement* and
// takes the one with fewer active requests. With two hosts both samples land on the slow one a
// quarter of the time, so the fast share tends to ~75 %, not 100 %; round robin or random would
// give ~50 %. The bound below sits between the two (about 3 standard deviations from each at
// 300 requests), so it fails if balancing stops looking at active requests.
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { describe, it } from "node:test";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import { post, servedBy, TRANSLATE, taggedBody, useStack } from "./util.js";

const REQUESTS = 300;
const CONCURRENCY = 20;
// Envoy's two random choices cap the fast backend near 75 % with two hosts (measured 69-75 %);
// round robin gives 50 % (sd ~3 points over 300 requests), so 62 % separates them without flaking.
const MIN_FAST_SHARE = 0.62;

describe("least-request within a pool", () => {
  const stack = useStack(async () => ({
    policy: await readFixture("e2e-policy.yml"),
    sims: e2eFleet().map((s) => (s.name === "qs1" ? { ...s, ttftMs: 300 } : s)),
  }));

  it(`the fast backend takes more than ${MIN_FAST_SHARE * 100} % of ${REQUESTS} requests (${CONCURRENCY} concurrent)`, async (t) => {
    const s = stack();
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const split: Record<string, number> = {};
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        const r = await post(s.url, { headers: TRANSLATE, body: taggedBody(`lr-${i}`), agent });
        assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
        const name = servedBy(r) ?? "?";
        split[name] = (split[name] ?? 0) + 1;
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      agent.destroy();
    }
    const fast = split.qs2 ?? 0;
    const slow = split.qs1 ?? 0;
    t.diagnostic(
      `split: fast qs2 ${fast} (${((100 * fast) / REQUESTS).toFixed(1)} %), slow qs1 ${slow}, in ${Date.now() - started} ms`,
    );
    assert.equal(fast + slow, REQUESTS, `unexpected backends: ${JSON.stringify(split)}`);
    assert.ok(fast / REQUESTS > MIN_FAST_SHARE, `fast share ${fast}/${REQUESTS}`);
    assert.ok(slow > 0, "the slow backend is still in the pool (it is slow, not down)");
  });
});
