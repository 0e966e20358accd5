// Envoy's bootstrap (pure): the listener, the router-level ext_proc, the gRPC clusters back
// to switchyard, and file-based CDS/RDS pointing at the directory switchyard writes.
import { clientError, type ErrorCode, errorBody } from "../errors.js";
import { H, TOKEN_ENV, TOKEN_METADATA_KEY } from "../vocab/names.js";
import { DEFAULT_PORTS } from "../vocab/ports.js";
import { DEFAULT_ACCESS_LOG, fileAccessLog } from "./access-log-format.js";
import {
  DEFAULT_XDS_DIR,
  GRPC_CLUSTER,
  NO_BREAKER_LIMITS,
  ROUTE_CONFIG_NAME,
  STREAM_IDLE_S,
} from "./common.js";
import { extProcFilter, upstreamHttpFilters } from "./upstream-filters.js";

export interface BootstrapOptions {
  listenAddress: string;
  listenPort: number;
  adminAddress: string;
  adminPort: number;
  /**
   * The switchyard processes Envoy talks to (ext_proc on `grpcPort`); Envoy health-checks each
   * on `httpPort` /readyz, so a sidecar that is draining for a restart gets no new streams
   * while another one is up.
   */
  sidecars: SidecarEndpoint[];
  /** Directory holding cds.json and rds.json (absolute, or relative to Envoy's working directory). */
  xdsDir: string;
  /** The file Envoy writes its access log to, and switchyard reads it from. */
  accessLogFile: string;
}

export interface SidecarEndpoint {
  address: string;
  grpcPort: number;
  httpPort: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = {
  listenAddress: "0.0.0.0",
  listenPort: DEFAULT_PORTS.proxy,
  adminAddress: "127.0.0.1",
  adminPort: DEFAULT_PORTS.envoyAdmin,
  // Two sidecars, so that restarting one (a policy swap) or losing one fails no request.
  sidecars: [
    { address: "127.0.0.1", grpcPort: DEFAULT_PORTS.grpc, httpPort: DEFAULT_PORTS.http },
    { address: "127.0.0.1", grpcPort: DEFAULT_PORTS.grpc2, httpPort: DEFAULT_PORTS.http2 },
  ],
  xdsDir: DEFAULT_XDS_DIR,
  accessLogFile: DEFAULT_ACCESS_LOG,
};

const T = "type.googleapis.com/";

/** Envoy's local reply for `status` as an OpenAI error; the message is Envoy's own text unless given. */
function jsonReply(status: number, code: ErrorCode, fixedMessage?: string) {
  const body = JSON.parse(errorBody(clientError(code, fixedMessage ?? "%LOCAL_REPLY_BODY%"))) as object;
  return {
    filter: {
      status_code_filter: {
        comparison: { op: "EQ", value: { default_value: status, runtime_key: `switchyard.reply_${status}` } },
      },
    },
    body_format_override: { json_format: body, content_type: "application/json" },
  };
}

/** The mapper, narrowed to replies that carry a response flag (an empty flag list matches any). */
function withAnyResponseFlag(mapper: ReturnType<typeof jsonReply>) {
  return { ...mapper, filter: { and_filter: { filters: [mapper.filter, { response_flag_filter: {} }] } } };
}

// No x-switchyard-cluster (ext_proc gave no decision) or an unknown cluster: a JSON 500, not an empty 503.
function noRouteReply() {
  const reply = jsonReply(500, "internal_error", "switchyard made no routing decision for this request");
  return {
    filter: { response_flag_filter: { flags: ["NC"] } },
    status_code: 500,
    body_format_override: reply.body_format_override,
  };
}

/** Listener HCM settings shared with the bench's "Envoy alone": SSE must outlive every default timeout. */
export const HCM_BASE = {
  stat_prefix: "llm",
  codec_type: "AUTO",
  stream_idle_timeout: `${STREAM_IDLE_S}s`,
  request_timeout: "0s",
} as const;

/** Attempts without a 2xx: no response at all (connect failure, reset, per-try timeout) or >= 300. */
const FAILED_ATTEMPT = {
  or_filter: {
    filters: [
      {
        status_code_filter: {
          comparison: { op: "LE", value: { default_value: 199, runtime_key: "switchyard.attempt_log_le" } },
        },
      },
      {
        status_code_filter: {
          comparison: { op: "GE", value: { default_value: 300, runtime_key: "switchyard.attempt_log_ge" } },
        },
      },
    ],
  },
};

/**
 * Every gRPC stream Envoy opens to switchyard carries the caller token as initial metadata:
 * an upstream filter on the sidecar cluster adds it from Envoy's own environment at run time,
 * so no rendered file holds the secret. A stream without it is refused (extproc/caller-token.ts).
 */
function callerTokenFilters(): object[] {
  const token = { key: TOKEN_METADATA_KEY, value: `%ENVIRONMENT(${TOKEN_ENV})%` };
  return [
    {
      name: "envoy.filters.http.header_mutation",
      typed_config: {
        "@type": `${T}envoy.extensions.filters.http.header_mutation.v3.HeaderMutation`,
        mutations: {
          request_mutations: [{ append: { header: token, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" } }],
        },
      },
    },
    {
      name: "envoy.filters.http.upstream_codec",
      typed_config: { "@type": `${T}envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec` },
    },
  ];
}

/**
 * A sidecar that dies (kill -9, OOM) refuses connections: it leaves rotation at the first
 * refused connection instead of at the next failed health check. Only connection-level
 * failures count (gRPC answers are not judged), and one sidecar of two at most is out.
 */
const SIDECAR_OUTLIER_DETECTION = {
  split_external_local_origin_errors: true,
  consecutive_local_origin_failure: 1,
  enforcing_consecutive_local_origin_failure: 100,
  enforcing_consecutive_5xx: 0,
  enforcing_consecutive_gateway_failure: 0,
  enforcing_success_rate: 0,
  enforcing_local_origin_success_rate: 0,
  enforcing_failure_percentage: 0,
  enforcing_failure_percentage_local_origin: 0,
  interval: "1s",
  // Out until its health check passes again (successful_active_health_check_uneject_host is on
  // by default), not back after a second to fail more streams.
  base_ejection_time: "30s",
  max_ejection_time: "300s",
  max_ejection_percent: 50,
};

function grpcCluster(name: string, o: BootstrapOptions): object {
  return {
    name,
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
        explicit_http_config: { http2_protocol_options: {} },
        // Envoy resets every ext_proc stream that switchyard ends early, and Node's HTTP/2
        // server answers ~1,000 resets on one connection with GOAWAY (rapid-reset protection),
        // refusing the streams in flight. A fresh connection every 500 streams stays clear of it.
        common_http_protocol_options: { max_requests_per_connection: 500 },
        http_filters: callerTokenFilters(),
      },
    },
    outlier_detection: SIDECAR_OUTLIER_DETECTION,
    // One ext_proc stream per request and per attempt: the default of 1024 would cap concurrency,
    // and the default of 3 concurrent retries would fail the streams of a dead sidecar that the
    // ext_proc retry policy (upstream-filters.ts) moves to the other one.
    circuit_breakers: NO_BREAKER_LIMITS,
    // Readiness decides which sidecar gets new streams. With one sidecar, Envoy's panic mode
    // keeps using it even when it reports not ready.
    health_checks: [
      {
        timeout: "1s",
        interval: "1s",
        // Envoy checks idle clusters only once a minute by default.
        no_traffic_interval: "1s",
        // A 503 from /readyz (a draining sidecar) takes it out at once whatever this says; only
        // timeouts and refused connections count towards it, so a sidecar that answers slowly on a
        // busy machine is not taken out by one late answer (a dead one is ejected at its first
        // refused connection by outlier detection).
        unhealthy_threshold: 3,
        healthy_threshold: 1,
        http_health_check: { path: "/readyz" },
      },
    ],
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: o.sidecars.map((sc) => ({
            endpoint: {
              address: { socket_address: { address: sc.address, port_value: sc.grpcPort } },
              health_check_config: { port_value: sc.httpPort },
            },
          })),
        },
      ],
    },
  };
}

export function renderBootstrap(o: BootstrapOptions): object {
  const watched = { path: o.xdsDir };
  const fileSource = (file: string) => ({
    resource_api_version: "V3",
    path_config_source: { path: `${o.xdsDir}/${file}`, watched_directory: watched },
  });
  return {
    node: { id: "switchyard-envoy", cluster: "switchyard" },
    admin: { address: { socket_address: { address: o.adminAddress, port_value: o.adminPort } } },
    static_resources: {
      listeners: [
        {
          name: "llm",
          address: { socket_address: { address: o.listenAddress, port_value: o.listenPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
                    ...HCM_BASE,
                    // A client must not pick the cluster, nor forge the key that joins attempts to
                    // requests: drop both headers before the first route match.
                    early_header_mutation_extensions: [
                      {
                        name: "envoy.http.early_header_mutation.header_mutation",
                        typed_config: {
                          "@type": `${T}envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation`,
                          mutations: [{ remove: H.cluster }, { remove: H.joinKey }],
                        },
                      },
                    ],
                    // One line per request, client disconnects included, in a file that outlives
                    // any sidecar: whichever sidecar holds the reader lease turns it into log lines.
                    access_log: [fileAccessLog(o.accessLogFile)],
                    rds: { route_config_name: ROUTE_CONFIG_NAME, config_source: fileSource("rds.json") },
                    http_filters: [
                      extProcFilter("router"),
                      {
                        name: "envoy.filters.http.router",
                        typed_config: {
                          "@type": `${T}envoy.extensions.filters.http.router.v3.Router`,
                          // One line per attempt that got no 2xx, in the same file (before its
                          // request's line): how each retried attempt failed.
                          upstream_log: [fileAccessLog(o.accessLogFile, FAILED_ATTEMPT)],
                          // The upstream ext_proc for every attempt, once here instead of on
                          // every cluster (switchyard's clusters have no http_filters of their own).
                          upstream_http_filters: upstreamHttpFilters(),
                        },
                      },
                    ],
                    // Envoy's own replies in the same OpenAI error shape as switchyard's. Replies of
                    // the HTTP codec (bad HTTP, 431, 426, a `*` target) do not pass through these
                    // mappers in 1.40 (FINDINGS §14): they stay plain text, and are logged.
                    local_reply_config: {
                      mappers: [
                        noRouteReply(),
                        jsonReply(413, "body_too_large"),
                        // Only Envoy's own 503s (they carry a response flag: UH, UF, URX, …);
                        // switchyard's 503 overloaded carries none and keeps its body.
                        withAnyResponseFlag(jsonReply(503, "no_healthy_upstream")),
                        jsonReply(
                          504,
                          "upstream_timeout",
                          "no backend answered within the per-try timeout, or switchyard did not answer Envoy in time",
                        ),
                        jsonReply(
                          500,
                          "internal_error",
                          "switchyard could not process the request (ext_proc error)",
                        ),
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [grpcCluster(GRPC_CLUSTER, o)],
    },
    dynamic_resources: { cds_config: fileSource("cds.json") },
  };
}
