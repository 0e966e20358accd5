// Envoy's access-log lines -> FinishedRequest (first step of the one-way access-log path:
// read line -> join attempts -> one record -> log line, metrics and windows). The line's
// fields are envoy/access-log-format.ts's.

import type { AccessLogEntry } from "../envoy/access-log-format.js";
import { type DecisionRecord, decisionFromJson } from "../extproc/decision-record.js";
import type { Json } from "../vocab/json.js";

export type { AccessLogEntry };

export interface FinishedRequest {
  requestId: string;
  /** What joins a request with its attempts: switchyard's own key, else (not routed) the request id. */
  joinKey: string;
  startedAt: number;
  path: string;
  status: number | undefined;
  flags: string[];
  details: string;
  failureReason: string;
  cluster: string;
  backend: string;
  attemptCount: number;
  /** Start to the first response body byte from the backend (envoy/access-log-format.ts ttft_us). */
  ttftMs: number | undefined;
  durationMs: number | undefined;
  /** The backend's Retry-After in seconds (delta-seconds form only), if it sent one. */
  retryAfterS: number | undefined;
  responseBytes: number;
  requestBytes: number;
  decision: DecisionRecord;
  clientDisconnected: boolean;
  /** The response started, then the backend's stream broke (reset, protocol error, idle timeout). */
  brokenAfterResponse: boolean;
}

/** Response flags of a backend stream that died: reset, protocol error, idle or duration timeout. */
const BROKEN_FLAGS: ReadonlySet<string> = new Set(["UPE", "UR", "UC", "SI", "UMSDR"]);

const text = (v: unknown): string => (typeof v === "string" && v !== "-" ? v : "");
const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const usToMs = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v / 1000 : undefined;

const NO_METADATA: Record<string, Json> = {};

function metadataOf(v: unknown): DecisionRecord {
  const obj =
    v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, Json>) : NO_METADATA;
  return decisionFromJson(obj);
}

export function readLogEntry(e: AccessLogEntry): FinishedRequest {
  const flags = text(e.flags) === "" ? [] : text(e.flags).split(",");
  const backend = text(e.backend);
  const status = count(e.status) || undefined;
  const details = text(e.details);
  const clientDisconnected = flags.includes("DC") || flags.includes("DR");
  const started = Number(e.start);
  const durationMs = usToMs(e.duration_us) ?? (typeof e.duration_ms === "number" ? e.duration_ms : undefined);
  return {
    requestId: text(e.request_id),
    joinKey: text(e.join_key) || text(e.request_id),
    startedAt: Number.isFinite(started) && started > 0 ? Math.round(started * 1e6) / 1e3 : Date.now(),
    path: text(e.path),
    status,
    flags,
    details,
    // Envoy's formatter writes spaces as underscores.
    failureReason: text(e.failure).replaceAll("_", " "),
    cluster: text(e.cluster),
    backend,
    attemptCount: count(e.attempts),
    ttftMs: usToMs(e.ttft_us),
    retryAfterS: /^\d{1,6}$/.test(text(e.retry_after)) ? Number(text(e.retry_after)) : undefined,
    durationMs,
    responseBytes: count(e.response_bytes),
    requestBytes: count(e.request_bytes),
    decision: metadataOf(e.metadata),
    clientDisconnected,
    brokenAfterResponse:
      !clientDisconnected &&
      (details.startsWith("upstream_reset_after_response_started") ||
        (status !== undefined && status < 500 && backend !== "" && flags.some((f) => BROKEN_FLAGS.has(f)))),
  };
}

/**
 * The error code a client got, in errors.ts's words: switchyard's own rejection, or what one of
 * Envoy's local replies maps to (the bootstrap's local_reply_config sends the same codes).
 */
export function errorCodeOf(req: FinishedRequest): string | undefined {
  if (req.decision.error !== undefined) return req.decision.error;
  if (req.backend !== "" || req.status === undefined) return undefined;
  if (req.flags.includes("DPE")) {
    if (req.status === 431) return "request_headers_too_large";
    if (req.status === 426) return "upgrade_required";
    return "invalid_http_request";
  }
  if (req.status === 413) return "body_too_large";
  if (req.status === 404) return "not_found";
  if (
    req.status === 503 &&
    (req.flags.includes("UH") || req.flags.includes("URX") || req.flags.includes("UF"))
  )
    return "no_healthy_upstream";
  if (req.status === 504 && req.flags.includes("UT")) return "upstream_timeout";
  if (req.status === 500) return "internal_error";
  return undefined;
}

/** An entry from the router's upstream_log: one attempt, not the whole request. */
export function isUpstreamEntry(e: AccessLogEntry): boolean {
  return typeof e.type === "string" && e.type.startsWith("Upstream");
}

/** How one attempt failed, in the log line's outcome words. */
export function attemptFailure(a: FinishedRequest): string {
  if (a.status !== undefined) return `http_${a.status}`;
  if (a.flags.includes("UF")) return "connect_failed";
  if (a.flags.includes("UT")) return "per_try_timeout";
  if (a.flags.includes("UR") || a.flags.includes("UC")) return "reset";
  return a.flags.join(",") || "failed_before_response";
}
