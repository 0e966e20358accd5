// One JSON object per finished request (pure): what an operator greps for.
import type { Json } from "../extproc/struct.js";
import type { Policy } from "../policy/compile.js";
import type { FinishedRequest } from "../telemetry/access-log.js";
import type { FailedAttempt } from "../telemetry/attempts.js";

export interface AttemptOutcome {
  attempt: number;
  pool: string | null;
  backend: string;
  outcome: string;
}

/**
 * Every attempt's fate, in the order they ran: the failed ones as Envoy's upstream log told
 * (connect_failed, http_503, reset, per_try_timeout), then the last one as the request ended,
 * unless that one failed too and is already listed. An attempt whose entry never came shows
 * as failed_before_response with no backend.
 */
export function attemptOutcomes(
  req: FinishedRequest,
  failed: readonly FailedAttempt[],
  poolOf: (backend: string) => string | undefined,
): AttemptOutcome[] {
  const total = Math.max(req.attemptCount, failed.length);
  const list: FailedAttempt[] = [...failed];
  const lastListed = total > 0 && failed.length >= total;
  if (!lastListed && req.backend !== "") {
    while (list.length < total - 1) list.push({ backend: "", outcome: "failed_before_response" });
    let outcome: string;
    if (req.status === undefined || req.status === 0) outcome = req.flags.join(",") || "no_response";
    else outcome = `http_${req.status}`;
    list.push({ backend: req.backend, outcome });
  }
  return list.map((a, i) => ({
    attempt: i + 1,
    pool: a.backend === "" ? null : (poolOf(a.backend) ?? null),
    backend: a.backend,
    outcome: a.outcome,
  }));
}

export function buildLogLine(
  req: FinishedRequest,
  attempts: readonly AttemptOutcome[],
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
    attempt_list: attempts as unknown as Json,
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
