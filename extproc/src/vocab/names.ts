// The ground floor's shared vocabulary: every header name, metadata key and cluster name
// switchyard writes or reads on the data plane, in one place.
export const H = {
  /** Route selection: the route's cluster_header. */
  cluster: "x-switchyard-cluster",
  /** Decision carried to later phases and, when enabled, back to the client. */
  class: "x-switchyard-class",
  pool: "x-switchyard-pool",
  /** Envoy's per-request retry count override (needs mutation_rules.allow_envoy). */
  maxRetries: "x-envoy-max-retries",
  requestId: "x-request-id",
  /**
   * switchyard's own id for a routed request, set by the router and logged by Envoy with the
   * request and with each failed attempt: the key that joins them. A client's x-request-id may
   * repeat; this one cannot (a client's own value is stripped before routing).
   */
  joinKey: "x-switchyard-request",
  contentLength: "content-length",
} as const;

/** gRPC initial metadata key telling the server which filter opened the stream. */
export const PHASE_METADATA_KEY = "x-switchyard-phase";
/**
 * gRPC initial metadata key carrying the caller token: Envoy adds it to every stream from the
 * environment variable TOKEN_ENV, and switchyard refuses a stream without the token it has.
 */
export const TOKEN_METADATA_KEY = "x-switchyard-token";
export const TOKEN_ENV = "SWITCHYARD_GRPC_TOKEN";
export type Phase = "router" | "upstream";

/** Dynamic metadata namespace for the access log. */
export const METADATA_NAMESPACE = "switchyard";
/**
 * Router -> upstream filter (forwarded to the upstream ext_proc with every attempt, never to a
 * backend): the pool the router already rewrote the body for, and how to take that back.
 * Request headers would not do: an upstream filter's header edits stay on the request that
 * Envoy replays for the next attempt.
 */
export const UPSTREAM_NAMESPACE = "switchyard.upstream";

// Envoy cluster names, used by the renderer, the router and the admin poller alike.
// A pool is one Envoy cluster (its backends, least-request state, outlier detection and
// connection pools); a ladder path [a, b, c] is one composite cluster that lists the pool
// clusters in order, each attempts_per_pool times (see envoy/clusters.ts). Pool names have no
// dots (policy/schema.ts), so neither name can be mistaken for the other.
export const PATH_CLUSTER_PREFIX = "swy.";
export const POOL_CLUSTER_PREFIX = "pool.";

export function pathClusterName(path: readonly string[]): string {
  return PATH_CLUSTER_PREFIX + path.join(".");
}

export function poolClusterName(pool: string): string {
  return POOL_CLUSTER_PREFIX + pool;
}
