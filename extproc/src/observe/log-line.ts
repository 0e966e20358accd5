// One JSON object per finished request (pure): what an operator greps for.
import type { Json } from "../extproc/struct.js";
import type { Policy } from "../policy/compile.js";
import type { FinishedRequest } from "../telemetry/access-log.js";
import type { AttemptRecord } from "../telemetry/attempts.js";

export interface AttemptOutcome {
  attempt: number;
  pool: string | null;
  backend: string;
  outcome: string;
}

/**
 * Each attempt's fate: all but the last failed before a response started, as Envoy's upstream
 * log tells (failed_before_response if that entry never came); the last one ended as the request.
 */
export function attemptOutcomes(req: FinishedRequest, attempts: readonly AttemptRecord[]): AttemptOutcome[] {
  return attempts.map((a, i) => {
    const last = i === attempts.length - 1 && a.backend === req.backend;
    let outcome: string;
    if (!last) outcome = a.failure ?? "failed_before_response";
    else if (req.status === undefined || req.status === 0) outcome = req.flags.join(",") || "no_response";
    else outcome = `http_${req.status}`;
    return { attempt: a.attempt, pool: a.pool ?? null, backend: a.backend, outcome };
  });
}

export function buildLogLine(
  req: FinishedRequest,
  attempts: readonly AttemptRecord[],
  policy: Policy,
  poolOf: (backend: string) => string | undefined,
): Record<string, Json> {
  const d = req.decision;
  const pool = req.backend ? (poolOf(req.backend) ?? null) : null;
  const served = pool === null ? null : (policy.pools.get(pool)?.served_model ?? null);
  const str = (v: Json | undefined) => (v === undefined ? null : v);
  return {
    ts: new Date(req.startedAt).toISOString(),
    request_id: req.requestId,
    path: req.path,
    site: str(d.site),
    feature: str(d.feature),
    tier: str(d.tier),
    trial: str(d.trial),
    quota_used: str(d.quota_used),
    vision: str(d.vision),
    class: str(d.class),
    pool,
    backend: req.backend || null,
    attempts: req.attemptCount,
    attempt_list: attemptOutcomes(req, attempts) as unknown as Json,
    status: req.status ?? null,
    ttft_ms: req.ttftMs ?? null,
    duration_ms: req.durationMs ?? null,
    bytes: req.responseBytes,
    request_bytes: req.requestBytes,
    model: str(d.model),
    served_model: served,
    reasoning_effort: str(d.reasoning_effort),
    stream: str(d.stream),
    error: str(d.error),
    reasons: typeof d.reasons === "string" && d.reasons !== "" ? d.reasons.split(" ") : [],
    response_flags: req.flags,
    response_details: req.details || null,
    failure_reason: req.failureReason || null,
    client_disconnected: req.clientDisconnected,
  };
}
