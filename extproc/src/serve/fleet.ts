// Wiring of the live fleet: the monitor, its metrics, one stderr line per breaker transition
// and back-off, and the endpoint files rewritten when a backend is taken out or let back.
import type { Registry } from "prom-client";
import { renderXdsFiles, writeEndpoints } from "../envoy/write-xds.js";
import { registerFleetMetrics } from "../observe/fleet-metrics.js";
import { backendName } from "../policy/backend-names.js";
import type { PolicyHolder } from "../policy/holder.js";
import type { BackendState } from "../telemetry/envoy-admin.js";
import { FleetMonitor } from "../telemetry/fleet-monitor.js";
import type { WindowSet } from "../telemetry/window.js";

export interface FleetWiring {
  holder: PolicyHolder;
  windows: WindowSet;
  registry: Registry;
  inFlight: () => ReadonlyMap<string, BackendState>;
  xdsDir: string;
  log: (msg: string) => void;
}

export function startFleet(w: FleetWiring): FleetMonitor {
  let monitor: FleetMonitor | undefined;
  const metrics = registerFleetMetrics(
    w.registry,
    () => monitor,
    () => w.holder.policy,
  );
  const name = (scope: string, n: string) => (scope === "backend" ? backendName(w.holder.policy, n) : n);
  // Endpoint files are written one after another, each with the state of its moment.
  let writes = Promise.resolve();
  const rewrite = () => {
    writes = writes
      .then(() => {
        const m = monitor as FleetMonitor;
        return writeEndpoints(
          w.xdsDir,
          renderXdsFiles(w.holder.policy, [], undefined, (p) => m.down(p)),
        );
      })
      .catch((err: Error) => w.log(`cannot write endpoint files: ${err.message}`));
  };
  monitor = new FleetMonitor(
    w.windows,
    () => w.holder.policy,
    {
      transition(t) {
        metrics.transition(t);
        w.log(`breaker ${t.scope} ${name(t.scope, t.name)}: ${t.from} -> ${t.to} (${t.why})`);
      },
      backoff(backend, pool, seconds, status) {
        metrics.backoff(backend, pool);
        w.log(
          `backoff backend ${name("backend", backend)} (pool ${pool}): ${seconds}s after ${status} with Retry-After`,
        );
      },
      down(pool) {
        const out = [...(monitor as FleetMonitor).down(pool)].map((a) => name("backend", a));
        w.log(`endpoints pool ${pool}: out of rotation [${out.join(", ")}]`);
        rewrite();
      },
    },
    w.inFlight,
  );
  monitor.start();
  return monitor;
}
