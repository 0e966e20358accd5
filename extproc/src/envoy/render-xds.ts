// Policy -> Envoy xDS resources (pure): one cluster per pool and one composite cluster per
// ladder path (envoy/clusters.ts), and the routes. Routes live in RDS so that retry settings
// and the body limit follow the policy without touching the listener.
import type { Policy } from "../policy/compile.js";
import { H, METADATA_NAMESPACE } from "../vocab/names.js";
import { renderPolicyClusters } from "./clusters.js";
import { DEFAULT_XDS_DIR, ROUTE_CONFIG_NAME, STREAM_IDLE_S, T } from "./common.js";
import { renderModelsRoutes } from "./models-route.js";
import { enumeratePaths } from "./paths.js";

export {
  DEFAULT_XDS_DIR,
  GRPC_CLUSTER,
  NO_BREAKER_LIMITS,
  ROUTE_CONFIG_NAME,
  STREAM_IDLE_S,
} from "./common.js";
export { extProcFilter } from "./upstream-filters.js";

export interface RenderedClusters {
  /** The CDS file's content. */
  cds: { version_info: string; resources: object[] };
  /** EDS files by path relative to the xDS directory. */
  endpoints: Map<string, object>;
}

/** `xdsDir` is the xDS directory as Envoy sees it: the pool clusters name their endpoint files in it. */
export function renderClusters(
  policy: Policy,
  xdsDir: string = DEFAULT_XDS_DIR,
  down?: (pool: string) => ReadonlySet<string>,
): RenderedClusters {
  const { clusters, endpoints } = renderPolicyClusters(policy, enumeratePaths(policy), xdsDir, down);
  return { cds: { version_info: policy.hash, resources: clusters }, endpoints };
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
        // Without the router's x-envoy-max-retries (path entries - 1) one pool's attempts; never
        // more than the shortest path cluster has entries.
        num_retries: r.attempts_per_pool - 1,
        per_try_timeout: `${r.per_try_timeout_ms / 1000}s`,
        per_try_idle_timeout: `${STREAM_IDLE_S}s`,
        retry_back_off: { base_interval: "0.01s", max_interval: "0.05s" },
        // The path cluster (composite) moves to the next pool by attempt number; previous_hosts
        // keeps a retry inside a pool off the backends already tried. It only re-draws the least-request pick, and a host that fails fast has
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
        routes: [
          chatRoute("/v1/chat/completions"),
          chatRoute("/v1/completions"),
          ...renderModelsRoutes(policy),
          notFound,
        ],
      },
    ],
  };
  return { version_info: policy.hash, resources: [routeConfig] };
}
