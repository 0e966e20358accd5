// Envoy's access log, as a file: one JSON object per line, written by Envoy whether or not a
// switchyard process is up, and read back by the sidecar that holds the reader lease
// (telemetry/access-log-tail.ts). Request entries (the HCM's access_log) and failed-attempt
// entries (the router's upstream_log) name the same path, so Envoy writes them through one
// file object: an attempt's line always comes before its request's. FINDINGS §15 has why a
// file and not the gRPC access-log service.
import { H } from "../vocab/names.js";
import { T } from "./common.js";

/**
 * Field name → Envoy command operator. A value that is one operator keeps its type (numbers
 * stay numbers); a missing value is null. Times are microseconds from the request's start.
 */
export const ACCESS_LOG_FORMAT = {
  /** DownstreamEnd for a request, UpstreamEnd for one attempt (router upstream_log). */
  type: "%ACCESS_LOG_TYPE%",
  /** Seconds since the epoch, with microseconds. */
  start: "%START_TIME(%s.%6f)%",
  request_id: "%REQ(X-REQUEST-ID)%",
  /** switchyard's join key (set by the router, on the request and every attempt). */
  join_key: `%REQ(${H.joinKey.toUpperCase()})%`,
  path: "%REQ(:PATH)%",
  status: "%RESPONSE_CODE%",
  /** Short names, comma-separated ("URX,UF"), or "-". */
  flags: "%RESPONSE_FLAGS%",
  details: "%RESPONSE_CODE_DETAILS%",
  /** Spaces come out as underscores ("delayed_connect_error:_Connection_refused"). */
  failure: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  cluster: "%UPSTREAM_CLUSTER%",
  /** The host an attempt went to, also when it could not connect (ip:port). */
  backend: "%UPSTREAM_HOST%",
  attempts: "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
  /** Start to the backend's response headers. */
  ttfb_us: "%COMMON_DURATION(DS_RX_BEG:US_RX_BEG:us)%",
  /**
   * Start to the first byte of the backend's response *body* (the first SSE event of a stream):
   * the true time to first token, since vLLM sends its headers before prefill ends.
   */
  ttft_us: "%COMMON_DURATION(DS_RX_BEG:US_RX_BODY_BEG:us)%",
  /** The backend's Retry-After (on an attempt's line: that attempt's response), for back-off. */
  retry_after: "%RESP(RETRY-AFTER)%",
  /** Start to the last byte sent; null when the client went away first (then duration_ms). */
  duration_us: "%COMMON_DURATION(DS_RX_BEG:DS_TX_END:us)%",
  duration_ms: "%DURATION%",
  request_bytes: "%BYTES_RECEIVED%",
  response_bytes: "%BYTES_SENT%",
  /** The router's (and upstream filter's) dynamic metadata in namespace switchyard, as JSON. */
  metadata: "%DYNAMIC_METADATA(switchyard)%",
} as const;

export type AccessLogField = keyof typeof ACCESS_LOG_FORMAT;

/** One line of the file, as JSON.parse gives it back. */
export type AccessLogEntry = { [K in AccessLogField]?: unknown };

/** Where Envoy writes the access log unless told otherwise (beside DEFAULT_XDS_DIR). */
export const DEFAULT_ACCESS_LOG = "/var/run/switchyard/access-log/access.log";

/**
 * Envoy's file access logger for `path`. Envoy buffers lines and writes them every
 * --file-flush-interval-msec (default 10 s; run Envoy with 100) or per 64 KiB.
 */
export function fileAccessLog(path: string, filter?: object): object {
  return {
    name: "envoy.access_loggers.file",
    ...(filter ? { filter } : {}),
    typed_config: {
      "@type": `${T}envoy.extensions.access_loggers.file.v3.FileAccessLog`,
      path,
      log_format: { json_format: ACCESS_LOG_FORMAT },
    },
  };
}
