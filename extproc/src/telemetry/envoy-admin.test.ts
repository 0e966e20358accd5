import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readClusters } from "./envoy-admin.js";

const host = (port: number, health: Record<string, unknown>, rqActive: number) => ({
  address: { socket_address: { address: "127.0.0.1", port_value: port } },
  stats: [{ name: "rq_active", value: String(rqActive) }],
  health_status: { eds_health_status: "HEALTHY", ...health },
});

describe("readClusters: a backend's state comes from its pool cluster", () => {
  test("pool hosts are read; path clusters, switchyard's own clusters and other names are not", () => {
    const state = readClusters({
      cluster_statuses: [
        { name: "swy.big.small" },
        {
          name: "pool.big",
          host_statuses: [host(7001, {}, 3), host(7002, { failed_outlier_check: true }, 0)],
        },
        { name: "switchyard_grpc", host_statuses: [host(50051, {}, 9)] },
        { name: "pool.small", host_statuses: [host(7003, { eds_health_status: "UNHEALTHY" }, 1)] },
      ],
    });
    assert.deepEqual(Object.fromEntries(state), {
      "127.0.0.1:7001": { rqActive: 3, healthy: true, ejectedIn: 0 },
      "127.0.0.1:7002": { rqActive: 0, healthy: false, ejectedIn: 1 },
      "127.0.0.1:7003": { rqActive: 1, healthy: false, ejectedIn: 0 },
    });
  });
});
