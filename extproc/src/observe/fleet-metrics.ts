// The live fleet's metrics: window gauges per pool and per backend (read from the monitor when
// Prometheus scrapes), breaker state, and counters for breaker transitions and back-offs.
// Label values come from the policy (pool and backend names), never from requests.
import { Counter, Gauge, type Registry } from "prom-client";
import { backendName } from "../policy/backend-names.js";
import type { Policy } from "../policy/compile.js";
import { stateValue, type Transition } from "../telemetry/breakers.js";
import type { FleetMonitor } from "../telemetry/fleet-monitor.js";

interface WindowJson {
  rate_per_s: number;
  error_rate: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  duration_p95_ms: number | null;
  in_flight: number;
  breaker?: string;
  pool?: string;
}

export function registerFleetMetrics(
  registry: Registry,
  fleet: () => FleetMonitor | undefined,
  policy: () => Policy,
) {
  const labelNames = ["scope", "pool", "backend"] as const;
  const gauge = (name: string, help: string, read: (w: WindowJson) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const status = fleet()?.status() as
          | { pools: Record<string, WindowJson>; backends: Record<string, WindowJson> }
          | undefined;
        if (status === undefined) return;
        for (const [pool, w] of Object.entries(status.pools)) {
          const v = read(w);
          if (v !== null) this.set({ scope: "pool", pool, backend: "" }, v);
        }
        for (const [address, w] of Object.entries(status.backends)) {
          const v = read(w);
          if (v !== null)
            this.set({ scope: "backend", pool: w.pool ?? "", backend: backendName(policy(), address) }, v);
        }
      },
    });
  const ms = (v: number | null) => (v === null ? null : v / 1000);
  gauge("switchyard_window_ttft_p50_seconds", "p50 time to first token over the fleet window", (w) =>
    ms(w.ttft_p50_ms),
  );
  gauge("switchyard_window_ttft_p95_seconds", "p95 time to first token over the fleet window", (w) =>
    ms(w.ttft_p95_ms),
  );
  gauge("switchyard_window_duration_p95_seconds", "p95 request duration over the fleet window", (w) =>
    ms(w.duration_p95_ms),
  );
  gauge(
    "switchyard_window_error_ratio",
    "Share of failed attempts over the fleet window",
    (w) => w.error_rate,
  );
  gauge(
    "switchyard_window_requests_per_second",
    "Attempts per second over the fleet window",
    (w) => w.rate_per_s,
  );
  gauge("switchyard_window_in_flight", "Requests in flight (Envoy admin)", (w) => w.in_flight);
  const state = new Gauge({
    name: "switchyard_breaker_state",
    help: "Breaker state: 0 closed, 1 half-open, 2 open (scope pool or backend)",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const status = fleet()?.status() as
        | { pools: Record<string, WindowJson>; backends: Record<string, WindowJson> }
        | undefined;
      if (status === undefined) return;
      const v = (s: string | undefined) => stateValue(s === "open" || s === "half_open" ? s : "closed");
      for (const [pool, w] of Object.entries(status.pools))
        this.set({ scope: "pool", pool, backend: "" }, v(w.breaker));
      for (const [address, w] of Object.entries(status.backends))
        this.set(
          { scope: "backend", pool: w.pool ?? "", backend: backendName(policy(), address) },
          v(w.breaker),
        );
    },
  });
  const transitions = new Counter({
    name: "switchyard_breaker_transitions_total",
    help: "Breaker transitions by scope, pool or backend, and the state entered",
    labelNames: ["scope", "name", "to"] as const,
    registers: [registry],
  });
  const backoffs = new Counter({
    name: "switchyard_backoffs_total",
    help: "Back-offs started after a backend's 429/503 with Retry-After",
    labelNames: ["pool", "backend"] as const,
    registers: [registry],
  });
  return {
    state,
    transition(t: Transition) {
      const name = t.scope === "backend" ? backendName(policy(), t.name) : t.name;
      transitions.inc({ scope: t.scope, name, to: t.to });
    },
    backoff(backend: string, pool: string) {
      backoffs.inc({ pool, backend: backendName(policy(), backend) });
    },
  };
}
