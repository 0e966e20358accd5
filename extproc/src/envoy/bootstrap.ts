// Envoy's bootstrap (pure): the listener, the router-level ext_proc, the gRPC clusters back
// to switchyard, and file-based CDS/RDS pointing at the directory switchyard writes.
import { clientError, type ErrorCode, errorBody } from "../errors.js";
import { H } from "../vocab/names.js";
import { DEFAULT_PORTS } from "../vocab/ports.js";
import { DEFAULT_XDS_DIR, GRPC_CLUSTER, ROUTE_CONFIG_NAME, STREAM_IDLE_S } from "./common.js";
import { extProcFilter, upstreamHttpFilters } from "./upstream-filters.js";

export interface BootstrapOptions {
  listenAddress: string;
  listenPort: number;
  adminAddress: string;
  adminPort: number;
  /**
   * The switchyard processes Envoy talks to (ext_proc and access log on `grpcPort`); Envoy
   * health-checks each on `httpPort` /readyz, so a sidecar that is draining for a restart
   * gets no new streams while another one is up.
   */
  sidecars: SidecarEndpoint[];
  /** Directory holding cds.json and rds.json (absolute, or relative to Envoy's working directory). */
  xdsDir: string;
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
  sidecars: [{ address: "127.0.0.1", grpcPort: DEFAULT_PORTS.grpc, httpPort: DEFAULT_PORTS.http }],
  xdsDir: DEFAULT_XDS_DIR,
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

export const ALS_CLUSTER = "switchyard_als";

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
 * Envoy's gRPC access log to switchyard. Request entries and attempt entries share one
 * configuration, so Envoy gives them one logger and one stream: an attempt's entry always
 * arrives before its request's.
 */
function grpcAccessLog(filter?: object): object {
  return {
    name: "envoy.access_loggers.http_grpc",
    ...(filter ? { filter } : {}),
    typed_config: {
      "@type": `${T}envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig`,
      common_config: {
        log_name: "switchyard",
        transport_api_version: "V3",
        grpc_service: { envoy_grpc: { cluster_name: ALS_CLUSTER } },
        buffer_flush_interval: "0.1s",
      },
      // switchyard's join key, on the request's entry and on each attempt's.
      additional_request_headers_to_log: [H.joinKey],
    },
  };
}

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
      },
    },
    // One ext_proc stream per request and per attempt: the default of 1024 would cap concurrency.
    circuit_breakers: {
      thresholds: [{ max_connections: 100_000, max_pending_requests: 100_000, max_requests: 100_000 }],
    },
    // Readiness decides which sidecar gets new streams. With one sidecar, Envoy's panic mode
    // keeps using it even when it reports not ready.
    health_checks: [
      {
        timeout: "0.5s",
        interval: "1s",
        // Envoy checks idle clusters only once a minute by default.
        no_traffic_interval: "1s",
        unhealthy_threshold: 1,
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
                    // One entry per request, client disconnects included, streamed to switchyard.
                    access_log: [grpcAccessLog()],
                    rds: { route_config_name: ROUTE_CONFIG_NAME, config_source: fileSource("rds.json") },
                    http_filters: [
                      extProcFilter("router"),
                      {
                        name: "envoy.filters.http.router",
                        typed_config: {
                          "@type": `${T}envoy.extensions.filters.http.router.v3.Router`,
                          // One entry per attempt that got no 2xx, on the same stream as the
                          // request entries: how each retried attempt failed.
                          upstream_log: [grpcAccessLog(FAILED_ATTEMPT)],
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
      // ext_proc and the access log go to the same gRPC server on separate clusters, so a burst
      // of log traffic never competes with ext_proc for connections or circuit-breaker slots.
      clusters: [grpcCluster(GRPC_CLUSTER, o), grpcCluster(ALS_CLUSTER, o)],
    },
    dynamic_resources: { cds_config: fileSource("cds.json") },
  };
}
