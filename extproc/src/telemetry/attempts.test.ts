// Attempt outcomes: Envoy's per-attempt log entries joined to the attempts the upstream
// ext_proc saw, in the order the attempts ran.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { attemptFailure, type FinishedRequest, isUpstreamEntry, readLogEntry } from "./access-log.js";
import { AttemptRegistry } from "./attempts.js";

const finished = (over: Partial<FinishedRequest>): FinishedRequest => ({
  ...readLogEntry({}),
  ...over,
});

describe("attemptFailure", () => {
  const cases: [Partial<FinishedRequest>, string][] = [
    [{ status: 503 }, "http_503"],
    [{ status: 429, flags: ["UR"] }, "http_429"],
    [{ flags: ["UF"] }, "connect_failed"],
    [{ flags: ["UT"] }, "per_try_timeout"],
    [{ flags: ["UR"] }, "reset"],
    [{ flags: ["UC"] }, "reset"],
    [{ flags: ["UO", "LR"] }, "UO,LR"],
    [{}, "failed_before_response"],
  ];
  for (const [over, want] of cases)
    test(`${JSON.stringify(over)} → ${want}`, () => assert.equal(attemptFailure(finished(over)), want));
});

describe("isUpstreamEntry", () => {
  test("tells an attempt's entry from a request's by Envoy's access_log_type", () => {
    assert.equal(isUpstreamEntry({ common_properties: { access_log_type: "UpstreamEnd" } }), true);
    assert.equal(isUpstreamEntry({ common_properties: { access_log_type: "DownstreamEnd" } }), false);
    assert.equal(isUpstreamEntry({}), false);
  });
});

describe("AttemptRegistry.fail", () => {
  test("marks the earliest open attempt on that backend; take() returns attempt order", () => {
    const r = new AttemptRegistry();
    r.begin("id", { attempt: 2, pool: "p", backend: "b:2" });
    r.begin("id", { attempt: 1, pool: "p", backend: "b:1" });
    r.begin("id", { attempt: 3, pool: "q", backend: "c:1" });
    r.fail("id", "b:1", "connect_failed");
    r.fail("id", "b:2", "http_503");
    r.fail("id", "nowhere:1", "http_500");
    r.fail("other", "b:1", "http_500");
    assert.deepEqual(
      r.take("id").map((a) => [a.attempt, a.backend, a.failure]),
      [
        [1, "b:1", "connect_failed"],
        [2, "b:2", "http_503"],
        [3, "c:1", undefined],
      ],
    );
    assert.equal(r.size, 0);
  });

  test("two attempts on one backend get their outcomes in order", () => {
    const r = new AttemptRegistry();
    r.begin("id", { attempt: 1, pool: "p", backend: "b:1" });
    r.begin("id", { attempt: 2, pool: "p", backend: "b:1" });
    r.fail("id", "b:1", "http_429");
    r.fail("id", "b:1", "reset");
    assert.deepEqual(
      r.take("id").map((a) => a.failure),
      ["http_429", "reset"],
    );
  });
});
