// Envoy's access-log lines (shaped like the pinned Envoy's lines in a lab run, format envoy/access-log-format.ts)
// read into FinishedRequest, and joined with their attempts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AccessLogEntry, errorCodeOf, readLogEntry } from "./access-log.js";
import { AccessLogJoiner } from "./attempts.js";

const META = {
  class: "frontier",
  path: "qwen-large,deepseek-flash,qwen-small",
  feature: "ai_bot",
  quota_used: 85.5,
  trusted: true,
  reasons: "base:frontier",
};

const OK: AccessLogEntry = {
  attempts: 1,
  backend: "127.0.0.1:45135",
  cluster: "swy.qwen-large.deepseek-flash.qwen-small",
  details: "via_upstream",
  duration_ms: 491,
  duration_us: 491157,
  failure: null,
  flags: "-",
  join_key: "e628989e8932-0",
  metadata: META,
  path: "/v1/chat/completions",
  request_bytes: 59,
  request_id: "ok",
  response_bytes: 717,
  start: "1796322998.968654",
  status: 200,
  ttfb_us: 490911,
  ttft_us: 490933,
  type: "DownstreamEnd",
};

const REFUSED_ATTEMPT: AccessLogEntry = {
  attempts: 0,
  backend: "127.0.0.1:45135",
  cluster: "swy.qwen-large.deepseek-flash.qwen-small",
  details: null,
  duration_us: null,
  failure: "delayed_connect_error:_Connection_refused",
  flags: "UF",
  join_key: "e628989e8932-1",
  metadata: null,
  request_id: "fallback",
  status: 0,
  type: "UpstreamEnd",
};

describe("readLogEntry: one line of Envoy's access log", () => {
  test("a served request: status, backend, times in ms, bytes, the decision from the metadata", () => {
    const r = readLogEntry(OK);
    assert.equal(r.requestId, "ok");
    assert.equal(r.joinKey, "e628989e8932-0");
    assert.equal(r.status, 200);
    assert.deepEqual(r.flags, []);
    assert.equal(r.backend, "127.0.0.1:45135");
    assert.equal(r.attemptCount, 1);
    assert.equal(r.ttftMs, 490.933, "to the first body byte");
    assert.equal(r.durationMs, 491.157);
    assert.equal(r.startedAt, 1796322998968.654);
    assert.equal(r.responseBytes, 717);
    assert.equal(r.requestBytes, 59);
    assert.equal(r.decision.class, "frontier");
    assert.deepEqual(r.decision.path, ["qwen-large", "deepseek-flash", "qwen-small"]);
    assert.equal(r.decision.quotaUsed, 85.5);
    assert.equal(r.decision.trusted, true);
    assert.equal(r.clientDisconnected, false);
    assert.equal(r.brokenAfterResponse, false);
  });

  test("an attempt that could not connect: its host, flag UF, the failure in Envoy's words", () => {
    const a = readLogEntry(REFUSED_ATTEMPT);
    assert.equal(a.status, undefined);
    assert.equal(a.backend, "127.0.0.1:45135");
    assert.deepEqual(a.flags, ["UF"]);
    assert.equal(a.failureReason, "delayed connect error: Connection refused");
  });

  test("every backend refused: Envoy's local 503, code no_healthy_upstream", () => {
    const r = readLogEntry({
      ...OK,
      status: 503,
      flags: "URX,UF",
      details: "upstream_reset_before_response_started{remote_connection_failure}",
      ttfb_us: null,
      ttft_us: null,
      attempts: 6,
    });
    assert.deepEqual(r.flags, ["URX", "UF"]);
    assert.equal(r.ttftMs, undefined);
    assert.equal(errorCodeOf({ ...r, backend: "" }), "no_healthy_upstream");
  });

  test("a client that went away: DC, and the duration from %DURATION% when there is no last byte", () => {
    const r = readLogEntry({
      ...OK,
      flags: "DC",
      details: "downstream_remote_disconnect",
      duration_us: null,
    });
    assert.equal(r.clientDisconnected, true);
    assert.equal(r.durationMs, 491);
  });

  test("a stream broken after the response started", () => {
    const r = readLogEntry({
      ...OK,
      flags: "UPE",
      details: "upstream_reset_after_response_started{protocol_error}",
    });
    assert.equal(r.brokenAfterResponse, true);
  });

  test("a rejection: no backend, the error code from the metadata", () => {
    const r = readLogEntry({
      ...OK,
      status: 400,
      backend: null,
      cluster: null,
      join_key: null,
      details: "switchyard_invalid_json",
      metadata: { error: "invalid_json", reasons: "" },
    });
    assert.equal(r.backend, "");
    assert.equal(r.joinKey, "ok", "no join key: the request id joins");
    assert.equal(errorCodeOf(r), "invalid_json");
  });

  test("garbage in, defined values out", () => {
    const r = readLogEntry({ status: "x", flags: 7, metadata: [1], ttft_us: "12", start: null });
    assert.equal(r.status, undefined);
    assert.deepEqual(r.flags, []);
    assert.equal(r.ttftMs, undefined);
    assert.equal(r.decision.class, undefined);
    assert.ok(r.startedAt > 0);
  });
});

describe("AccessLogJoiner over file lines", () => {
  test("the attempt lines that come first are joined into the request's record", () => {
    const joiner = new AccessLogJoiner((b) => (b === "127.0.0.1:45135" ? "qwen-large" : "deepseek-flash"));
    try {
      assert.equal(joiner.onEntry(REFUSED_ATTEMPT), undefined);
      const record = joiner.onEntry({
        ...OK,
        request_id: "fallback",
        join_key: "e628989e8932-1",
        attempts: 2,
        backend: "127.0.0.1:42913",
      });
      assert.deepEqual(
        record?.attempts.map((a) => [a.pool, a.backend, a.outcome]),
        [
          ["qwen-large", "127.0.0.1:45135", "connect_failed"],
          ["deepseek-flash", "127.0.0.1:42913", "http_200"],
        ],
      );
      assert.equal(record?.outcome, "ok");
    } finally {
      joiner.close();
    }
  });
});
