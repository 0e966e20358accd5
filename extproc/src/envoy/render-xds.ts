// Policy -> Envoy xDS resources (pure). One cluster per ladder path: pool i of the path is
// priority i, so Envoy's previous_priorities retry plugin walks the ladder while
// previous_hosts walks the backends of a pool. Routes live in RDS so that retry settings
// and the body limit follow the policy without touching the listener.
import { isIP } from "node:net";
import type { Policy } from "../policy/compile.js";
import {
  H,
  METADATA_NAMESPACE,
  PHASE_METADATA_KEY,
  pathClusterName,
  UPSTREAM_NAMESPACE,
} from "../vocab/names.js";
import { enumeratePaths } from "./paths.js";

/** Backends are bounded by their own queues, not by Envoy's default breakers (1024 requests, 3 retries). */
export const NO_BREAKER_LIMITS = {
  thresholds: [
    { max_connections: 100_000, max_pending_requests: 100_000, max_requests: 100_000, max_retries: 100_000 },
  ],
};

export const GRPC_CLUSTER = "switchyard_grpc";
export const ROUTE_CONFIG_NAME = "switchyard";
const T = "type.googleapis.com/";

/** Keeps a pool at 100 % of traffic while any of its backends is healthy (no early spill). */
const OVERPROVISIONING = 100_000;
/** Idle gap allowed inside a streaming response before the attempt is cut. */
export const STREAM_IDLE_S = 300;

export function extProcFilter(phase: "router" | "upstream"): object {
  const config: Record<string, unknown> = {
    "@type": `${T}envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor`,
    grpc_service: {
      envoy_grpc: { cluster_name: GRPC_CLUSTER },
      initial_metadata: [{ key: PHASE_METADATA_KEY, value: phase }],
    },
    failure_mode_allow: false,
    message_timeout: "2s",
    processing_mode: {
      request_header_mode: "SEND",
      response_header_mode: "SKIP",
      // The upstream filter asks for the body (mode_override) only for an attempt on a pool
      // other than the one the router already rewrote the body for.
      request_body_mode: phase === "router" ? "BUFFERED" : "NONE",
      response_body_mode: "NONE",
      request_trailer_mode: "SKIP",
      response_trailer_mode: "SKIP",
    },
    metadata_options: { receiving_namespaces: { untyped: [METADATA_NAMESPACE, UPSTREAM_NAMESPACE] } },
  };
  if (phase === "router") {
    // The router sets x-envoy-max-retries from the path length.
    config.mutation_rules = { allow_envoy: true };
  } else {
    config.allow_mode_override = true;
    // The upstream processor reads attributes and forwarded metadata, not headers: forward one.
    config.forward_rules = { allowed_headers: { patterns: [{ exact: H.requestId }] } };
    config.metadata_options = { forwarding_namespaces: { untyped: [UPSTREAM_NAMESPACE] } };
    config.request_attributes = ["upstream.address"];
  }
  return { name: "envoy.filters.http.ext_proc", typed_config: config };
}

/**
 * A parsed CEL AST (cel.expr.Expr): Envoy 1.40's CEL matcher takes no expression text
 * (`cel_expr_string` loads, then fails with "CEL expression not set").
 */
type Cel = Record<string, unknown>;
function celBuilder() {
  let id = 0;
  const node = (body: Cel): Cel => ({ id: ++id, ...body });
  const ident = (name: string) => node({ ident_expr: { name } });
  const select = (operand: Cel, field: string) => node({ select_expr: { operand, field } });
  const str = (v: string) => node({ const_expr: { string_value: v } });
  const index = (operand: Cel, key: string) =>
    node({ call_expr: { function: "_[_]", args: [operand, str(key)] } });
  const eq = (a: Cel, b: Cel) => node({ call_expr: { function: "_==_", args: [a, b] } });
  return { ident, select, index, eq };
}

/**
 * `xds.upstream_host_metadata.filter_metadata['switchyard']['pool'] ==
 *  metadata.filter_metadata['switchyard.upstream']['adapted_for']`: the attempt's backend
 * belongs to the pool the router already rewrote the body for.
 */
function onRouterPool(): Cel {
  const c = celBuilder();
  const hostPool = c.index(
    c.index(
      c.select(c.select(c.ident("xds"), "upstream_host_metadata"), "filter_metadata"),
      METADATA_NAMESPACE,
    ),
    "pool",
  );
  const adaptedFor = c.index(
    c.index(c.select(c.ident("metadata"), "filter_metadata"), UPSTREAM_NAMESPACE),
    "adapted_for",
  );
  return c.eq(hostPool, adaptedFor);
}

/**
 * The upstream ext_proc, skipped (no gRPC stream at all) for an attempt on the pool the router
 * already rewrote the body for. The matcher runs per attempt; when it cannot evaluate (no
 * metadata) it does not match and the filter runs, so a missing note costs a stream, never a
 * wrong body.
 */
function upstreamExtProc(): object {
  return {
    name: "switchyard.upstream_ext_proc",
    typed_config: {
      "@type": `${T}envoy.extensions.common.matching.v3.ExtensionWithMatcher`,
      extension_config: extProcFilter("upstream"),
      xds_matcher: {
        matcher_list: {
          matchers: [
            {
              predicate: {
                single_predicate: {
                  input: {
                    name: "attributes",
                    typed_config: { "@type": `${T}xds.type.matcher.v3.HttpAttributesCelMatchInput` },
                  },
                  custom_match: {
                    name: "on_router_pool",
                    typed_config: {
                      "@type": `${T}xds.type.matcher.v3.CelMatcher`,
                      expr_match: { cel_expr_parsed: { expr: onRouterPool() } },
                    },
                  },
                },
              },
              on_match: {
                action: {
                  name: "skip",
                  typed_config: {
                    "@type": `${T}envoy.extensions.filters.common.matcher.action.v3.SkipFilter`,
                  },
                },
              },
            },
          ],
        },
      },
    },
  };
}

function socketAddress(address: string): { address: string; port_value: number } {
  const i = address.lastIndexOf(":");
  return { address: address.slice(0, i), port_value: Number(address.slice(i + 1)) };
}

export function renderPathCluster(policy: Policy, path: readonly string[]): object {
  const name = pathClusterName(path);
  let allIps = true;
  const endpoints = path.map((poolName, priority) => {
    const pool = policy.pools.get(poolName);
    if (pool === undefined) throw new Error(`path names unknown pool ${poolName}`);
    return {
      priority,
      locality: { sub_zone: poolName },
      lb_endpoints: pool.backends.map((b) => {
        const sa = socketAddress(b.address);
        if (!isIP(sa.address)) allIps = false;
        return {
          endpoint: { address: { socket_address: sa } },
          load_balancing_weight: b.weight,
          metadata: { filter_metadata: { [METADATA_NAMESPACE]: { pool: poolName } } },
        };
      }),
    };
  });
  return {
    "@type": `${T}envoy.config.cluster.v3.Cluster`,
    name,
    type: allIps ? "STATIC" : "STRICT_DNS",
    connect_timeout: "1s",
    lb_policy: "LEAST_REQUEST",
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    outlier_detection: {
      consecutive_5xx: 5,
      consecutive_gateway_failure: 3,
      enforcing_consecutive_gateway_failure: 100,
      interval: "5s",
      base_ejection_time: "15s",
      max_ejection_percent: 100,
    },
    circuit_breakers: NO_BREAKER_LIMITS,
    load_assignment: { cluster_name: name, policy: { overprovisioning_factor: OVERPROVISIONING }, endpoints },
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
        explicit_http_config: { http_protocol_options: {} },
        http_filters: [
          upstreamExtProc(),
          {
            name: "envoy.filters.http.upstream_codec",
            typed_config: { "@type": `${T}envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec` },
          },
        ],
      },
    },
  };
}

export function renderClusters(policy: Policy): object {
  const resources = enumeratePaths(policy).map((path) => renderPathCluster(policy, path));
  return { version_info: policy.hash, resources };
}

export function renderRoutes(policy: Policy): object {
  const r = policy.doc.retry;
  const decisionHeaders = policy.doc.response.decision_headers
    ? [
        { header: { key: H.class, value: `%REQ(${H.class})%` }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
        {
          header: { key: H.pool, value: `%UPSTREAM_METADATA(${METADATA_NAMESPACE}:pool)%` },
          append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
        },
      ]
    : [];
  const chatRoute = (path: string) => ({
    name: path,
    match: { path, headers: [{ name: ":method", string_match: { exact: "POST" } }] },
    route: {
      cluster_header: H.cluster,
      // SSE responses run for minutes: no overall timeout; the per-try timeout bounds the
      // wait for the first byte and the idle timeout bounds silence mid-stream.
      timeout: "0s",
      idle_timeout: `${STREAM_IDLE_S}s`,
      retry_policy: {
        // `reset` covers resets before headers and per-try timeouts; Envoy never retries once
        // response headers went downstream, with or without it.
        retry_on: "connect-failure,refused-stream,reset,retriable-status-codes",
        retriable_status_codes: r.retriable_status_codes,
        num_retries: r.attempts_per_pool - 1,
        per_try_timeout: `${r.per_try_timeout_ms / 1000}s`,
        per_try_idle_timeout: `${STREAM_IDLE_S}s`,
        retry_back_off: { base_interval: "0.01s", max_interval: "0.05s" },
        // previous_hosts only re-draws the least-request pick, and a host that fails fast has
        // fewer active requests than a busy healthy one: with 5 re-draws about 1 retry in 7 went
        // back to the failed host under load (test/e2e/fallback.e2e.test.ts). Draws are cheap.
        host_selection_retry_max_attempts: 100,
        retry_host_predicate: [
          {
            name: "envoy.retry_host_predicates.previous_hosts",
            typed_config: {
              "@type": `${T}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`,
            },
          },
        ],
        retry_priority: {
          name: "envoy.retry_priorities.previous_priorities",
          typed_config: {
            "@type": `${T}envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig`,
            update_frequency: r.attempts_per_pool,
          },
        },
      },
    },
    response_headers_to_add: decisionHeaders,
  });
  const notFound = {
    name: "not_found",
    match: { prefix: "/" },
    direct_response: {
      status: 404,
      body: {
        inline_string: JSON.stringify({
          error: {
            message: "switchyard serves POST /v1/chat/completions and /v1/completions",
            type: "invalid_request_error",
            param: null,
            code: "not_found",
          },
        }),
      },
    },
    response_headers_to_add: [
      {
        header: { key: "content-type", value: "application/json" },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      },
    ],
    typed_per_filter_config: {
      "envoy.filters.http.ext_proc": {
        "@type": `${T}envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute`,
        disabled: true,
      },
    },
  };
  const routeConfig = {
    "@type": `${T}envoy.config.route.v3.RouteConfiguration`,
    name: ROUTE_CONFIG_NAME,
    virtual_hosts: [
      {
        name: "switchyard",
        domains: ["*"],
        request_body_buffer_limit: policy.doc.limits.max_body_bytes,
        routes: [chatRoute("/v1/chat/completions"), chatRoute("/v1/completions"), notFound],
      },
    ],
  };
  return { version_info: policy.hash, resources: [routeConfig] };
}
