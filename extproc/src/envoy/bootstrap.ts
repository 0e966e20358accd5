// Envoy's bootstrap (pure): the listener, the router-level ext_proc, the gRPC clusters back
// to switchyard, and file-based CDS/RDS pointing at the directory switchyard writes.
import { errorBody, clientError, type ErrorCode } from "../errors.js";
import { extProcFilter, GRPC_CLUSTER, ROUTE_CONFIG_NAME, STREAM_IDLE_S } from "./render-xds.js";

export interface BootstrapOptions {
  listenAddress: string;
  listenPort: number;
  adminAddress: string;
  adminPort: number;
  /** Where switchyard's gRPC server listens (ext_proc and access log). */
  grpcAddress: string;
  grpcPort: number;
  /** Directory holding cds.json and rds.json (absolute, or relative to Envoy's working directory). */
  xdsDir: string;
  /** Per-connection buffer: must hold the largest body the policy allows. */
  bufferLimitBytes: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = {
  listenAddress: "0.0.0.0",
  listenPort: 8080,
  adminAddress: "127.0.0.1",
  adminPort: 9901,
  grpcAddress: "127.0.0.1",
  grpcPort: 50051,
  xdsDir: "/var/run/switchyard/xds",
  bufferLimitBytes: 16 * 1024 * 1024,
};

const T = "type.googleapis.com/";

function jsonReply(status: number, code: ErrorCode, message: string) {
  const body = JSON.parse(errorBody(clientError(code, message))) as { error: Record<string, unknown> };
  body.error.message = "%LOCAL_REPLY_BODY%";
  return {
    filter: { status_code_filter: { comparison: { op: "EQ", value: { default_value: status, runtime_key: `switchyard.reply_${status}` } } } },
    body_format_override: { json_format: body, content_type: "application/json" },
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
          per_connection_buffer_limit_bytes: o.bufferLimitBytes,
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
                    stat_prefix: "llm",
                    codec_type: "AUTO",
                    stream_idle_timeout: `${STREAM_IDLE_S}s`,
                    request_timeout: "0s",
                    rds: { route_config_name: ROUTE_CONFIG_NAME, config_source: fileSource("rds.json") },
                    http_filters: [
                      extProcFilter("router"),
                      { name: "envoy.filters.http.router", typed_config: { "@type": `${T}envoy.extensions.filters.http.router.v3.Router` } },
                    ],
                    // Envoy's own replies in the same OpenAI error shape as switchyard's.
                    local_reply_config: {
                      mappers: [
                        jsonReply(413, "body_too_large", "request body too large"),
                        jsonReply(503, "no_healthy_upstream", "no backend could take the request"),
                        jsonReply(504, "upstream_timeout", "no backend answered in time"),
                        jsonReply(500, "internal_error", "switchyard failed to process the request"),
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: GRPC_CLUSTER,
          type: "STATIC",
          connect_timeout: "1s",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          // One ext_proc stream per request and per attempt: the default of 1024 would cap concurrency.
          circuit_breakers: {
            thresholds: [{ max_connections: 100_000, max_pending_requests: 100_000, max_requests: 100_000 }],
          },
          load_assignment: {
            cluster_name: GRPC_CLUSTER,
            endpoints: [
              { lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.grpcAddress, port_value: o.grpcPort } } } }] },
            ],
          },
        },
      ],
    },
    dynamic_resources: { cds_config: fileSource("cds.json") },
  };
}
