// The two Envoy bootstraps the bench builds itself: B, Envoy alone (switchyard's listener
// settings, no ext_proc, one static cluster of the same backends), and F, the floor (A's
// bootstrap with the sidecar clusters pointed at bench/floor-extproc.ts).
import { HCM_BASE } from "../extproc/src/envoy/bootstrap.js";
import { GRPC_CLUSTER, NO_BREAKER_LIMITS, STREAM_IDLE_S } from "../extproc/src/envoy/render-xds.js";

const T = "type.googleapis.com/";
const DIRECT = "direct";

export interface Backend {
  name: string;
  port: number;
  url: string;
}

const socket = (port: number) => ({ socket_address: { address: "127.0.0.1", port_value: port } });

/** The listener: switchyard's HCM settings (codec, timeouts), the router filter alone, route timeout 0. */
function aloneListener(listenPort: number): object {
  const chatRoute = (path: string) => ({
    match: { path, headers: [{ name: ":method", string_match: { exact: "POST" } }] },
    route: { cluster: DIRECT, timeout: "0s", idle_timeout: `${STREAM_IDLE_S}s` },
  });
  const hcm = {
    "@type": `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
    ...HCM_BASE,
    route_config: {
      name: DIRECT,
      virtual_hosts: [
        {
          name: DIRECT,
          domains: ["*"],
          routes: [chatRoute("/v1/chat/completions"), chatRoute("/v1/completions")],
        },
      ],
    },
    http_filters: [
      {
        name: "envoy.filters.http.router",
        typed_config: { "@type": `${T}envoy.extensions.filters.http.router.v3.Router` },
      },
    ],
  };
  return {
    name: "llm",
    address: socket(listenPort),
    filter_chains: [
      { filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] },
    ],
  };
}

/** One static LEAST_REQUEST cluster of the backends. */
function aloneCluster(backends: Backend[]): object {
  return {
    name: DIRECT,
    type: "STATIC",
    connect_timeout: "1s",
    lb_policy: "LEAST_REQUEST",
    // Same limits as switchyard's path clusters, so neither side hits a default breaker.
    circuit_breakers: NO_BREAKER_LIMITS,
    load_assignment: {
      cluster_name: DIRECT,
      endpoints: [{ lb_endpoints: backends.map((b) => ({ endpoint: { address: socket(b.port) } })) }],
    },
  };
}

/**
 * Envoy alone: the listener and HCM settings of switchyard's bootstrap (codec, timeouts) without
 * any ext_proc filter, one static LEAST_REQUEST cluster of the same backends, route timeout 0.
 */
export function envoyAloneBootstrap(listenPort: number, adminPort: number, backends: Backend[]): object {
  return {
    node: { id: "bench-envoy-alone", cluster: "bench" },
    admin: { address: socket(adminPort) },
    static_resources: { listeners: [aloneListener(listenPort)], clusters: [aloneCluster(backends)] },
  };
}

/** The parts of switchyard's bootstrap that the floor's copy changes. */
export interface Bootstrap {
  admin: { address: { socket_address: { port_value: number } } };
  static_resources: {
    listeners: { address: { socket_address: { port_value: number } } }[];
    clusters: {
      name: string;
      load_assignment: {
        endpoints: {
          lb_endpoints: {
            endpoint: {
              address: { socket_address: { port_value: number } };
              health_check_config?: { port_value: number };
            };
          }[];
        }[];
      };
    }[];
  };
}

/** A's bootstrap with its own listener and admin ports and the sidecar clusters pointed at the floor server. */
export function floorBootstrap(
  b: Bootstrap,
  p: { listenPort: number; adminPort: number; grpcPort: number; httpPort: number },
): Bootstrap {
  b.admin.address.socket_address.port_value = p.adminPort;
  for (const l of b.static_resources.listeners) l.address.socket_address.port_value = p.listenPort;
  for (const c of b.static_resources.clusters) {
    if (c.name !== GRPC_CLUSTER) continue;
    for (const group of c.load_assignment.endpoints) {
      // One sidecar endpoint is enough for the floor.
      group.lb_endpoints = group.lb_endpoints.slice(0, 1);
      for (const e of group.lb_endpoints) {
        e.endpoint.address.socket_address.port_value = p.grpcPort;
        if (e.endpoint.health_check_config) e.endpoint.health_check_config.port_value = p.httpPort;
      }
    }
  }
  return b;
}
