// Envoy's gRPC access-log entries -> FinishedRequest (first step of the one-way access-log
// path: decode entry -> join attempts -> one record -> log line, metrics and windows).

import { type DecisionRecord, decodeDecision } from "../extproc/decision-record.js";
import type { PbStruct } from "../extproc/struct.js";
import { H, METADATA_NAMESPACE } from "../vocab/names.js";

interface PbDuration {
  seconds?: number;
  nanos?: number;
}
interface PbAddress {
  socket_address?: { address?: string; port_value?: number };
}

export interface PbHttpLogEntry {
  common_properties?: {
    start_time?: PbDuration;
    time_to_first_upstream_rx_byte?: PbDuration;
    time_to_last_downstream_tx_byte?: PbDuration;
    duration?: PbDuration;
    upstream_remote_address?: PbAddress;
    upstream_cluster?: string;
    response_flags?: Record<string, boolean | object>;
    metadata?: { filter_metadata?: Record<string, PbStruct> };
    upstream_transport_failure_reason?: string;
    upstream_request_attempt_count?: number;
    /** DownstreamEnd for the request's entry, UpstreamEnd for one attempt's (router upstream_log). */
    access_log_type?: string;
  };
  request?: {
    request_id?: string;
    path?: string;
    request_method?: string;
    request_body_bytes?: number;
    /** additional_request_headers_to_log: switchyard's join key. */
    request_headers?: Record<string, string>;
  };
  response?: {
    response_code?: { value?: number };
    response_body_bytes?: number;
    response_code_details?: string;
  };
}

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
  ttftMs: number | undefined;
  durationMs: number | undefined;
  responseBytes: number;
  requestBytes: number;
  decision: DecisionRecord;
  clientDisconnected: boolean;
  /** The response started, then the backend's stream broke (reset, protocol error, idle timeout). */
  brokenAfterResponse: boolean;
}

/** Response flags of a backend stream that died: reset, protocol error, idle or duration timeout. */
const BROKEN_FLAGS: ReadonlySet<string> = new Set(["UPE", "UR", "UC", "SI", "UMSDR"]);

/** Envoy's short response-flag names, as %RESPONSE_FLAGS% prints them. */
const FLAG_CODES: Record<string, string> = {
  failed_local_healthcheck: "LH",
  no_healthy_upstream: "UH",
  upstream_request_timeout: "UT",
  local_reset: "LR",
  upstream_remote_reset: "UR",
  upstream_connection_failure: "UF",
  upstream_connection_termination: "UC",
  upstream_overflow: "UO",
  no_route_found: "NR",
  delay_injected: "DI",
  fault_injected: "FI",
  rate_limited: "RL",
  rate_limit_service_error: "RLSE",
  downstream_connection_termination: "DC",
  upstream_retry_limit_exceeded: "URX",
  stream_idle_timeout: "SI",
  invalid_envoy_request_headers: "IH",
  downstream_protocol_error: "DPE",
  upstream_max_stream_duration_reached: "UMSDR",
  response_from_cache_filter: "RFCF",
  no_filter_config_found: "NFCF",
  duration_timeout: "DT",
  upstream_protocol_error: "UPE",
  no_cluster_found: "NC",
  overload_manager: "OM",
  dns_resolution_failure: "DF",
  downstream_remote_reset: "DR",
};

const ms = (d: PbDuration | undefined): number | undefined =>
  d === undefined || d === null
    ? undefined
    : Math.round(((d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6) * 1000) / 1000;

export function readLogEntry(e: PbHttpLogEntry): FinishedRequest {
  const c = e.common_properties ?? {};
  const flags = Object.entries(c.response_flags ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => FLAG_CODES[k] ?? k);
  const sa = c.upstream_remote_address?.socket_address;
  const status = e.response?.response_code?.value || undefined;
  const details = e.response?.response_code_details ?? "";
  const clientDisconnected = flags.includes("DC") || flags.includes("DR");
  return {
    requestId: e.request?.request_id ?? "",
    joinKey: e.request?.request_headers?.[H.joinKey] ?? e.request?.request_id ?? "",
    startedAt: ms(c.start_time) ?? Date.now(),
    path: e.request?.path ?? "",
    status,
    flags,
    details,
    failureReason: c.upstream_transport_failure_reason ?? "",
    cluster: c.upstream_cluster ?? "",
    backend: sa?.address ? `${sa.address}:${sa.port_value ?? 0}` : "",
    attemptCount: c.upstream_request_attempt_count ?? 0,
    ttftMs: ms(c.time_to_first_upstream_rx_byte),
    durationMs: ms(c.duration) ?? ms(c.time_to_last_downstream_tx_byte),
    responseBytes: Number(e.response?.response_body_bytes ?? 0),
    requestBytes: Number(e.request?.request_body_bytes ?? 0),
    decision: decodeDecision(c.metadata?.filter_metadata?.[METADATA_NAMESPACE]),
    clientDisconnected,
    brokenAfterResponse:
      !clientDisconnected &&
      (details.startsWith("upstream_reset_after_response_started") ||
        (status !== undefined && status < 500 && !!sa?.address && flags.some((f) => BROKEN_FLAGS.has(f)))),
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
  if (req.status === 503 && (req.flags.includes("UH") || req.flags.includes("URX") || req.flags.includes("UF")))
    return "no_healthy_upstream";
  if (req.status === 504 && req.flags.includes("UT")) return "upstream_timeout";
  if (req.status === 500) return "internal_error";
  return undefined;
}

/** An entry from the router's upstream_log: one attempt, not the whole request. */
export function isUpstreamEntry(e: PbHttpLogEntry): boolean {
  return e.common_properties?.access_log_type?.startsWith("Upstream") === true;
}

/** How one attempt failed, in the log line's outcome words. */
export function attemptFailure(a: FinishedRequest): string {
  if (a.status !== undefined) return `http_${a.status}`;
  if (a.flags.includes("UF")) return "connect_failed";
  if (a.flags.includes("UT")) return "per_try_timeout";
  if (a.flags.includes("UR") || a.flags.includes("UC")) return "reset";
  return a.flags.join(",") || "failed_before_response";
}
