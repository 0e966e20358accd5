// Policy -> Envoy clusters (pure). Each pool is one cluster: its backends, least-request
// state, outlier detection and connection pools are shared by every class and path that uses
// the pool. Each ladder path is one composite cluster (envoy.clusters.composite) that lists the
// pool clusters in path order, each pool attempts_per_pool times: Envoy's attempt number picks
// the entry, so retries walk the backends of a pool (previous_hosts) and then the next pool.
// A pool with no healthy backend hands the attempt to the next entry at once.
// envoy/FINDINGS.md §13 has what this relies on, proven against the pinned Envoy.
import { isIP } from "node:net";
import type { Policy } from "../policy/compile.js";
import type { PoolDoc } from "../policy/schema.js";
import { METADATA_NAMESPACE, pathClusterName, poolClusterName } from "../vocab/names.js";
import { NO_BREAKER_LIMITS, T } from "./common.js";

/** A pool's endpoint file (file-based EDS), relative to the xDS directory. */
export function endpointsFile(pool: string): string {
  return `pools/${pool}.json`;
}

/**
 * Outlier detection tells "this backend is bad" from "this request is bad" as far as Envoy
 * can. A backend that refuses connections, resets or does not answer within the per-try
 * timeout fails locally (connection level) and is ejected after 3 such failures in a row. An
 * HTTP 5xx alone ejects nothing: a request every backend answers with 503 (too long, a
 * template error) would otherwise eject them all. A backend that fails at least 85 % of 20 or
 * more requests in one 5 s interval is ejected whatever the cause. At most half of a pool is
 * ejected at a time; Envoy still ejects one host when that is more than half (a
 * one-backend pool), and then the pool's attempts go to the next pool of the path.
 */
export const OUTLIER_DETECTION = {
  split_external_local_origin_errors: true,
  consecutive_local_origin_failure: 3,
  enforcing_consecutive_local_origin_failure: 100,
  enforcing_consecutive_5xx: 0,
  enforcing_consecutive_gateway_failure: 0,
  enforcing_success_rate: 0,
  failure_percentage_threshold: 85,
  enforcing_failure_percentage: 100,
  failure_percentage_minimum_hosts: 1,
  failure_percentage_request_volume: 20,
  interval: "5s",
  base_ejection_time: "15s",
  max_ejection_percent: 50,
};

function socketAddress(address: string): { address: string; port_value: number } {
  const i = address.lastIndexOf(":");
  return { address: address.slice(0, i), port_value: Number(address.slice(i + 1)) };
}

/** Every backend's address is an IP: the endpoints can live in an EDS file (Envoy resolves no names there). */
function allIps(pool: PoolDoc): boolean {
  return pool.backends.every((b) => isIP(socketAddress(b.address).address) !== 0);
}

/**
 * The pool's backends as a ClusterLoadAssignment; each endpoint names its pool in metadata (the
 * upstream filter's matcher and x-switchyard-pool read it). Backends in `down` (taken out by a
 * backend breaker or backing off, telemetry/fleet-monitor.ts) are UNHEALTHY: Envoy sends them nothing.
 */
export function renderPoolEndpoints(name: string, pool: PoolDoc, down?: ReadonlySet<string>): object {
  return {
    "@type": `${T}envoy.config.endpoint.v3.ClusterLoadAssignment`,
    cluster_name: poolClusterName(name),
    endpoints: [
      {
        lb_endpoints: pool.backends.map((b) => ({
          endpoint: { address: { socket_address: socketAddress(b.address) } },
          ...(down?.has(b.address) ? { health_status: "UNHEALTHY" } : {}),
          load_balancing_weight: b.weight,
          metadata: { filter_metadata: { [METADATA_NAMESPACE]: { pool: name } } },
        })),
      },
    ],
  };
}

/**
 * One pool's cluster. Its endpoints live in their own EDS file (`endpointsFile`), so adding a
 * backend or changing a weight leaves the cluster definition, and with it the state Envoy keeps
 * for the other backends, untouched. A pool with a host name among its backends is STRICT_DNS
 * with inline endpoints instead (EDS takes IP addresses only). `xdsDir` is the xDS directory as
 * Envoy sees it.
 */
export function renderPoolCluster(name: string, pool: PoolDoc, xdsDir: string): object {
  const clusterName = poolClusterName(name);
  const endpoints = allIps(pool)
    ? {
        type: "EDS",
        eds_cluster_config: {
          eds_config: {
            resource_api_version: "V3",
            path_config_source: {
              path: `${xdsDir}/${endpointsFile(name)}`,
              watched_directory: { path: `${xdsDir}/pools` },
            },
          },
        },
      }
    : {
        type: "STRICT_DNS",
        load_assignment: (({ "@type": _, ...cla }) => cla)(
          renderPoolEndpoints(name, pool) as { "@type": string },
        ),
      };
  return {
    "@type": `${T}envoy.config.cluster.v3.Cluster`,
    name: clusterName,
    ...endpoints,
    connect_timeout: "1s",
    lb_policy: "LEAST_REQUEST",
    // Without this Envoy balances over an all-ejected pool anyway (panic mode), and the path's
    // composite never moves on to the next pool.
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    outlier_detection: OUTLIER_DETECTION,
    circuit_breakers: NO_BREAKER_LIMITS,
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
        explicit_http_config: { http_protocol_options: {} },
      },
    },
  };
}

/**
 * A ladder path's composite cluster: entry i is the pool for attempt i + 1. The router never
 * allows more attempts than entries (x-envoy-max-retries = entries - 1): an attempt past the
 * end is a local 503 in Envoy 1.40, not a wrap-around. The retry budget (max_retries) is taken
 * from this cluster, so it gets the same breaker limits as the pools.
 */
export function renderPathCluster(path: readonly string[], attemptsPerPool: number): object {
  return {
    "@type": `${T}envoy.config.cluster.v3.Cluster`,
    name: pathClusterName(path),
    connect_timeout: "1s",
    lb_policy: "CLUSTER_PROVIDED",
    circuit_breakers: NO_BREAKER_LIMITS,
    cluster_type: {
      name: "envoy.clusters.composite",
      typed_config: {
        "@type": `${T}envoy.extensions.clusters.composite.v3.ClusterConfig`,
        clusters: path.flatMap((pool) =>
          Array.from({ length: attemptsPerPool }, () => ({ name: poolClusterName(pool) })),
        ),
      },
    },
  };
}

export interface PolicyClusters {
  /** Pool clusters, then path clusters, each sorted by name. */
  clusters: object[];
  /** EDS files by path relative to the xDS directory. */
  endpoints: Map<string, object>;
}

export function renderPolicyClusters(
  policy: Policy,
  paths: readonly string[][],
  xdsDir: string,
  down?: (pool: string) => ReadonlySet<string>,
): PolicyClusters {
  const pools = [...policy.pools].sort(([a], [b]) => a.localeCompare(b));
  const endpoints = new Map<string, object>();
  for (const [name, pool] of pools)
    if (allIps(pool)) endpoints.set(endpointsFile(name), renderPoolEndpoints(name, pool, down?.(name)));
  return {
    clusters: [
      ...pools.map(([name, pool]) => renderPoolCluster(name, pool, xdsDir)),
      ...paths.map((path) => renderPathCluster(path, policy.doc.retry.attempts_per_pool)),
    ],
    endpoints,
  };
}
