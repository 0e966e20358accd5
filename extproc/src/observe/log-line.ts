// One JSON object per finished request (pure): what an operator greps for.

import { backendName } from "../policy/backend-names.js";
import type { Policy } from "../policy/compile.js";
import type { RequestRecord } from "../telemetry/attempts.js";
import type { Json } from "../vocab/json.js";

export function buildLogLine(record: RequestRecord, policy: Policy): Record<string, Json> {
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
    // The backend's policy name (default: its address), and the address it was reached at.
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
