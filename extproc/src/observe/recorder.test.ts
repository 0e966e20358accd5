// The recorder keeps each labelled series (fast-counter.ts, fast-histogram.ts) instead of
// prom-client's per-call label work: the same records give the same log lines, the same
// exposition text and the same samples as the plain prom-client metrics did.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { backendName } from "../policy/backend-names.js";
import type { Policy } from "../policy/compile.js";
import { PolicyHolder } from "../policy/holder.js";
import { parsePolicy } from "../policy/load.js";
import type { RequestRecord } from "../telemetry/attempts.js";
import type { FleetMonitor, Outcome } from "../telemetry/fleet-monitor.js";
import { WindowSet } from "../telemetry/window.js";
import type { Json } from "../vocab/json.js";
import type { LogWriter } from "./log-writer.js";
import { createMetrics } from "./metrics.js";
import { Recorder } from "./recorder.js";

const BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

const policyNamed = (name: string): Policy => {
  const r = parsePolicy(`version: 1
classes: [fast, deep]
default_class: fast
ladders: { fast: [{ p: 1 }, { q: 1 }], deep: [{ q: 1 }] }
pools:
  p: { served_model: m, backends: [{ address: "10.0.0.1:8000", name: ${name} }, { address: "10.0.0.2:8000" }] }
  q: { served_model: n, backends: [{ address: "10.0.0.3:8000" }] }
`);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.policy;
};

type Req = Partial<RequestRecord["req"]> & { decision: RequestRecord["req"]["decision"] };
const record = (req: Req, rest: Partial<Omit<RequestRecord, "req">> = {}): RequestRecord =>
  ({
    req: {
      requestId: "r",
      joinKey: "r",
      startedAt: 1_700_000_000_123.456,
      path: "/v1/chat/completions",
      status: 200,
      flags: [],
      details: "",
      failureReason: "",
      cluster: "",
      backend: "10.0.0.1:8000",
      attemptCount: 1,
      ttftMs: 12.5,
      durationMs: 40.25,
      retryAfterS: undefined,
      responseBytes: 2048,
      requestBytes: 512,
      clientDisconnected: false,
      brokenAfterResponse: false,
      ...req,
    },
    pool: "p",
    attempts: [{ attempt: 1, pool: "p", backend: req.backend ?? "10.0.0.1:8000", outcome: "http_200" }],
    outcome: "ok",
    errorCode: undefined,
    ...rest,
  }) as RequestRecord;

const RECORDS: RequestRecord[] = [
  record({
    decision: { class: "fast", reasons: ["default"], path: ["p", "q"], model: "auto", stream: false },
  }),
  record({
    decision: { class: "fast", reasons: ["default"], path: ["p", "q"] },
    ttftMs: 300,
    durationMs: 7000,
  }),
  // A retried request: a refused connection and a 503 with Retry-After, then served by q.
  record(
    {
      decision: { class: "fast", reasons: ["r"], path: ["p", "q"] },
      backend: "10.0.0.3:8000",
      attemptCount: 3,
    },
    {
      pool: "q",
      attempts: [
        { attempt: 1, pool: "p", backend: "10.0.0.1:8000", outcome: "connect_failed" },
        { attempt: 2, pool: "p", backend: "10.0.0.2:8000", outcome: "http_503", retryAfterS: 2 },
        { attempt: 3, pool: "q", backend: "10.0.0.3:8000", outcome: "http_200" },
      ],
    },
  ),
  // The last attempt failed (5xx with a flag), an untrusted caller.
  record(
    {
      decision: { class: "deep", reasons: [], trusted: false },
      status: 503,
      flags: ["URX", "UF"],
      ttftMs: undefined,
    },
    {
      pool: "q",
      outcome: "error",
      attempts: [{ attempt: 1, pool: "q", backend: "10.0.0.1:8000", outcome: "http_503" }],
    },
  ),
  // Broken after the response started.
  record(
    { decision: { class: "fast", reasons: [] }, brokenAfterResponse: true, flags: ["UPE"] },
    { outcome: "upstream_reset_after_response" },
  ),
  // Switchyard's rejection: no backend, no pool.
  record(
    {
      decision: { reasons: [], error: "invalid_request" },
      backend: "",
      status: 400,
      ttftMs: undefined,
      durationMs: 1,
    },
    { pool: null, attempts: [], outcome: "rejected", errorCode: "invalid_request" },
  ),
  record(
    { decision: { reasons: [] }, backend: "", status: 413, ttftMs: undefined, durationMs: undefined },
    { pool: null, attempts: [], outcome: "client_error", errorCode: "body_too_large" },
  ),
  // No status at all, an attempt whose entry never came.
  record(
    { decision: { class: "fast", reasons: [] }, status: undefined, attemptCount: 2, flags: [] },
    {
      outcome: "error",
      attempts: [
        { attempt: 1, pool: null, backend: "", outcome: "failed_before_response" },
        { attempt: 2, pool: "p", backend: "10.0.0.1:8000", outcome: "no_response" },
      ],
    },
  ),
];

/** What the recorder did before: prom-client's own metrics, labels resolved on every call. */
function reference(policyOf: () => Policy) {
  const registry = new Registry();
  const requests = new Counter({
    name: "switchyard_requests_total",
    help: "Finished requests by class, pool that served them, HTTP status and outcome (ok, rejected, client_error, error, upstream_reset_after_response, client_disconnected)",
    labelNames: ["class", "pool", "status", "outcome"],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: "switchyard_ttft_seconds",
    help: "Request arrival to the first byte from the backend",
    labelNames: ["class", "pool", "backend"],
    buckets: BUCKETS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "switchyard_request_duration_seconds",
    help: "Request arrival to the last byte sent to the client",
    labelNames: ["class", "pool", "backend"],
    buckets: BUCKETS,
    registers: [registry],
  });
  const attemptFailures = new Counter({
    name: "switchyard_attempt_failures_total",
    help: "Upstream attempts that failed, by backend and reason",
    labelNames: ["backend", "reason"],
    registers: [registry],
  });
  const rejections = new Counter({
    name: "switchyard_rejections_total",
    help: "Requests answered with an error before any backend was tried, by error code",
    labelNames: ["code"],
    registers: [registry],
  });
  const lines: string[] = [];
  const samples: Outcome[] = [];
  const record = (r: RequestRecord) => {
    const policy = policyOf();
    lines.push(JSON.stringify(referenceLine(r, policy)));
    const { req, pool, attempts } = r;
    const cls = req.decision.class ?? "none";
    requests.inc({ class: cls, pool: pool ?? "none", status: String(req.status ?? 0), outcome: r.outcome });
    const code = r.errorCode;
    if (code && req.status !== undefined && req.status < 500) rejections.inc({ code });
    for (const a of attempts.slice(0, -1)) {
      if (a.backend === "") continue;
      attemptFailures.inc({ backend: backendName(policy, a.backend), reason: a.outcome });
    }
    if (req.backend) {
      const failed = failedAttempt(r);
      if (failed) {
        const reason =
          r.outcome === "upstream_reset_after_response"
            ? "upstream_reset_after_response"
            : (req.flags[0] ?? `http_${req.status}`);
        attemptFailures.inc({ backend: backendName(policy, req.backend), reason });
      }
      const labels = { class: cls, pool: pool ?? "none", backend: backendName(policy, req.backend) };
      if (req.ttftMs !== undefined && !failed) ttft.observe(labels, req.ttftMs / 1000);
      if (req.durationMs !== undefined) duration.observe(labels, req.durationMs / 1000);
    }
    for (const a of attempts.slice(0, -1)) {
      if (a.backend === "") continue;
      const status = /^http_(\d{3})$/.exec(a.outcome)?.[1];
      samples.push({
        backend: a.backend,
        pool: a.pool ?? "none",
        ok: false,
        status: status === undefined ? undefined : Number(status),
        retryAfterS: a.retryAfterS,
      });
    }
    if (!req.backend) return;
    const failed = failedAttempt(r);
    samples.push({
      backend: req.backend,
      pool: pool ?? "none",
      ok: !failed && req.status !== 429,
      ttftMs: failed ? undefined : req.ttftMs,
      durationMs: req.durationMs,
      status: req.status,
      retryAfterS: req.retryAfterS,
    });
  };
  return { registry, lines, samples, record };
}

function failedAttempt(r: RequestRecord): boolean {
  const { req } = r;
  return (
    r.outcome === "upstream_reset_after_response" ||
    req.status === undefined ||
    req.status >= 500 ||
    req.flags.some((f) => f === "UF" || f === "UT" || f === "UR")
  );
}

/** The log line, a pinned copy of log-line.ts's (the bytes must not change). */
function referenceLine(record: RequestRecord, policy: Policy): Record<string, Json> {
  const { req, pool, attempts } = record;
  const d = req.decision;
  const served = pool === null ? null : (policy.pools.get(pool)?.served_model ?? null);
  const str = (v: Json | undefined) => (v === undefined ? null : v);
  return {
    ts: new Date(req.startedAt).toISOString(),
    request_id: req.requestId,
    path: req.path,
    site: str(d.site),
    trusted: str(d.trusted),
    feature: str(d.feature),
    tier: str(d.tier),
    trial: str(d.trial),
    quota_used: str(d.quotaUsed),
    vision: str(d.vision),
    class: str(d.class),
    base_from: str(d.baseFrom),
    label: str(d.label),
    label_source: str(d.labelSource),
    pool,
    backend: req.backend ? backendName(policy, req.backend) : null,
    backend_address: req.backend || null,
    attempts: req.attemptCount,
    attempt_list: attempts.map((a) => ({
      ...a,
      backend: a.backend && backendName(policy, a.backend),
    })) as unknown as Json,
    status: req.status ?? null,
    outcome: record.outcome,
    ttft_ms: req.ttftMs ?? null,
    duration_ms: req.durationMs ?? null,
    bytes: req.responseBytes,
    request_bytes: req.requestBytes,
    model: str(d.model),
    served_model: served,
    reasoning_effort: str(d.reasoningEffort),
    stream: str(d.stream),
    error: record.errorCode ?? null,
    reasons: d.reasons,
    response_flags: req.flags,
    response_details: req.details || null,
    failure_reason: req.failureReason || null,
    client_disconnected: req.clientDisconnected,
  };
}

/** The request metrics' part of an exposition (the default process metrics differ by process). */
const requestMetrics = (text: string) =>
  text
    .split("\n")
    .filter((l) =>
      /^(# (HELP|TYPE) )?switchyard_(requests_total|ttft_seconds|request_duration_seconds|attempt_failures_total|rejections_total)/.test(
        l,
      ),
    )
    .join("\n");

test("the same log lines, exposition text and samples as prom-client's metrics, across a policy reload", async () => {
  const holder = new PolicyHolder(policyNamed("dub-1"));
  const metrics = createMetrics();
  const lines: string[] = [];
  const writer = { write: (o: object) => lines.push(JSON.stringify(o)) } as unknown as LogWriter;
  const samples: Outcome[] = [];
  const fleet = { record: (o: Outcome) => samples.push(o), missed: () => {} } as unknown as FleetMonitor;
  const recorder = new Recorder(holder, metrics, writer, new WindowSet(), () => 0, fleet);
  const ref = reference(() => holder.policy);
  for (let round = 0; round < 3; round++) {
    // The backend's name changes with the policy: new series under the new name, as before.
    if (round === 2) holder.swap(policyNamed("dub-2"));
    for (const r of RECORDS) {
      recorder.record(r);
      ref.record(r);
    }
  }
  assert.deepEqual(lines, ref.lines);
  assert.deepEqual(samples, ref.samples);
  const ours = requestMetrics(await metrics.registry.metrics());
  assert.equal(ours, requestMetrics(await ref.registry.metrics()));
  assert.match(ours, /switchyard_attempt_failures_total\{backend="dub-2",reason="connect_failed"\} 1/);
  assert.match(ours, /switchyard_requests_total\{class="fast",pool="p",status="200",outcome="ok"\} 6/);
  assert.match(ours, /switchyard_rejections_total\{code="body_too_large"\} 3/);
  metrics.registry.resetMetrics();
  ref.registry.resetMetrics();
  recorder.record(RECORDS[5] as RequestRecord);
  ref.record(RECORDS[5] as RequestRecord);
  assert.equal(
    requestMetrics(await metrics.registry.metrics()),
    requestMetrics(await ref.registry.metrics()),
  );
});
