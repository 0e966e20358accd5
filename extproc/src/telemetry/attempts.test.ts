// Attempt outcomes: Envoy's per-attempt log entries (failed attempts) and the request's own
// entry, in the order the attempts ran.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { attemptFailure, type FinishedRequest, isUpstreamEntry, readLogEntry } from "./access-log.js";
import { AttemptRegistry, attemptOutcomes, type FailedAttempt } from "./attempts.js";

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
    assert.equal(isUpstreamEntry({ type: "UpstreamEnd" }), true);
    assert.equal(isUpstreamEntry({ type: "DownstreamEnd" }), false);
    assert.equal(isUpstreamEntry({}), false);
  });
});

describe("attempt_list: failed attempts from Envoy's upstream log + the request's own entry", () => {
  const poolOf = (b: string) => ({ "a:1": "qwen", "a:2": "qwen", "d:1": "deepseek" })[b];
  const outcomes = (req: Partial<FinishedRequest>, failed: FailedAttempt[]) =>
    attemptOutcomes(finished(req), failed, poolOf).map((a) => [a.attempt, a.pool, a.backend, a.outcome]);

  test("registry keeps failures per request, in order, and hands them out once", () => {
    const r = new AttemptRegistry();
    r.fail("id", { backend: "a:1", outcome: "connect_failed" });
    r.fail("other", { backend: "d:1", outcome: "http_500" });
    r.fail("id", { backend: "a:2", outcome: "http_503" });
    r.fail("", { backend: "a:2", outcome: "http_503" });
    assert.deepEqual(
      r.take("id").map((a) => a.backend),
      ["a:1", "a:2"],
    );
    assert.deepEqual(r.take("id"), []);
    assert.equal(r.size, 1);
  });

  test("a plain success is one attempt with the request's status", () => {
    assert.deepEqual(outcomes({ attemptCount: 1, backend: "a:1", status: 200 }, []), [
      [1, "qwen", "a:1", "http_200"],
    ]);
  });

  test("two failures, then a success on the next pool", () => {
    assert.deepEqual(
      outcomes({ attemptCount: 3, backend: "d:1", status: 200 }, [
        { backend: "a:1", outcome: "connect_failed" },
        { backend: "a:2", outcome: "http_503" },
      ]),
      [
        [1, "qwen", "a:1", "connect_failed"],
        [2, "qwen", "a:2", "http_503"],
        [3, "deepseek", "d:1", "http_200"],
      ],
    );
  });

  test("when every attempt failed, the last one is listed once, with Envoy's attempt outcome", () => {
    assert.deepEqual(
      outcomes({ attemptCount: 2, backend: "a:2", status: 503, flags: ["UF", "URX"] }, [
        { backend: "a:1", outcome: "connect_failed" },
        { backend: "a:2", outcome: "connect_failed" },
      ]),
      [
        [1, "qwen", "a:1", "connect_failed"],
        [2, "qwen", "a:2", "connect_failed"],
      ],
    );
  });

  test("a lost attempt entry leaves a placeholder, so the list is as long as Envoy's count", () => {
    assert.deepEqual(outcomes({ attemptCount: 2, backend: "a:2", status: 200 }, []), [
      [1, null, "", "failed_before_response"],
      [2, "qwen", "a:2", "http_200"],
    ]);
  });

  test("a rejection has no attempts; a response that died mid-stream shows Envoy's flags", () => {
    assert.deepEqual(outcomes({ attemptCount: 0, backend: "", status: 400 }, []), []);
    assert.deepEqual(outcomes({ attemptCount: 1, backend: "a:1", flags: ["UR"] }, []), [
      [1, "qwen", "a:1", "UR"],
    ]);
  });
});
