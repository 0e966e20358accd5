// switchyard's two ext_proc filters: the router-level one (the decision) and the upstream one
// (one per attempt, rewriting the body for the attempt's pool), which goes into the router's
// upstream_http_filters once, so every pool and path cluster uses it without carrying a copy.
import { H, METADATA_NAMESPACE, PHASE_METADATA_KEY, UPSTREAM_NAMESPACE } from "../vocab/names.js";
import { GRPC_CLUSTER, T } from "./common.js";

/** Stat prefix of the upstream filter: its counters are `http.<hcm>.upstream.ext_proc.*`, apart from the router's. */
export const UPSTREAM_EXT_PROC_STAT_PREFIX = "upstream";

/**
 * A stream whose sidecar is gone (refused connection, or reset before the sidecar answered:
 * killed, crashed) is opened again on another sidecar, with the messages already sent (Envoy
 * buffers them for this). Once a sidecar has answered, nothing is retried.
 */
const SIDECAR_RETRY = {
  retry_on: "connect-failure,refused-stream,reset",
  num_retries: 2,
  retry_back_off: { base_interval: "0.01s", max_interval: "0.05s" },
  retry_host_predicate: [
    {
      name: "envoy.retry_host_predicates.previous_hosts",
      typed_config: { "@type": `${T}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate` },
    },
  ],
  host_selection_retry_max_attempts: 5,
};

export function extProcFilter(phase: "router" | "upstream"): object {
  const config: Record<string, unknown> = {
    "@type": `${T}envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor`,
    grpc_service: {
      envoy_grpc: { cluster_name: GRPC_CLUSTER },
      initial_metadata: [{ key: PHASE_METADATA_KEY, value: phase }],
      retry_policy: SIDECAR_RETRY,
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
    // The connection's peer, for the policy's trust.sources (not X-Forwarded-For: a client cannot claim it).
    config.request_attributes = ["source.address"];
  } else {
    config.stat_prefix = UPSTREAM_EXT_PROC_STAT_PREFIX;
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
 * belongs to the pool the router already rewrote the body for. Host metadata is the pool
 * cluster's endpoint metadata, also when the attempt went through a path (composite) cluster.
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

/**
 * The router's upstream_http_filters: Envoy runs them for every attempt on a cluster that has no
 * http_filters of its own, which is every cluster switchyard renders (a path cluster's pools'
 * own filters would not run anyway: the composite cluster's chain, or the router's, does).
 */
export function upstreamHttpFilters(): object[] {
  return [
    upstreamExtProc(),
    {
      name: "envoy.filters.http.upstream_codec",
      typed_config: { "@type": `${T}envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec` },
    },
  ];
}
