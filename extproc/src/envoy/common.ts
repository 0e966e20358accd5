// Constants shared by the bootstrap and the xDS renderers (and the bench's Envoy-alone baseline).

/** Backends are bounded by their own queues, not by Envoy's default breakers (1024 requests, 3 retries). */
export const NO_BREAKER_LIMITS = {
  thresholds: [
    { max_connections: 100_000, max_pending_requests: 100_000, max_requests: 100_000, max_retries: 100_000 },
  ],
};

export const GRPC_CLUSTER = "switchyard_grpc";
export const ROUTE_CONFIG_NAME = "switchyard";
/** Idle gap allowed inside a streaming response before the attempt is cut. */
export const STREAM_IDLE_S = 300;
/** Where `switchyard serve` writes the xDS files and Envoy watches them unless told otherwise. */
export const DEFAULT_XDS_DIR = "/var/run/switchyard/xds";
/** The type URL prefix of every typed_config. */
export const T = "type.googleapis.com/";
