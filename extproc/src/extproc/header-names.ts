// Every header name switchyard writes or reads on the data plane, in one place.
export const H = {
  /** Route selection: the route's cluster_header. */
  cluster: "x-switchyard-cluster",
  /** Decision carried to later phases and, when enabled, back to the client. */
  class: "x-switchyard-class",
  path: "x-switchyard-path",
  pool: "x-switchyard-pool",
  /** Envoy's per-request retry count override (needs mutation_rules.allow_envoy). */
  maxRetries: "x-envoy-max-retries",
  requestId: "x-request-id",
  contentLength: "content-length",
} as const;

/** gRPC initial metadata key telling the server which filter opened the stream. */
export const PHASE_METADATA_KEY = "x-switchyard-phase";
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
