// Default ports, defined once: the CLI, the rendered bootstrap and the local stack read these.
export const DEFAULT_PORTS = {
  /** Envoy's listener for client requests. */
  proxy: 8080,
  /** Envoy's admin interface (loopback only). */
  envoyAdmin: 9901,
  /** switchyard's gRPC server (ext_proc). */
  grpc: 50051,
  /** switchyard's HTTP server: /healthz, /readyz, /metrics, /status. */
  http: 9090,
  /** The second sidecar's gRPC and HTTP ports (the local stack and docker compose run two). */
  grpc2: 50052,
  http2: 9092,
} as const;
