// GET /status: what an operator wants during an incident, in one `curl | jq`.
import { backendName } from "../policy/backend-names.js";
import type { Policy } from "../policy/compile.js";
import type { BackendState } from "../telemetry/envoy-admin.js";
import type { FleetMonitor } from "../telemetry/fleet-monitor.js";
import type { WindowSet } from "../telemetry/window.js";

export interface StatusInputs {
  version: string;
  startedAt: number;
  now: number;
  policy: Policy;
  policyFile: string;
  loadedAt: number;
  backends: ReadonlyMap<string, BackendState>;
  envoy: { url: string; lastOk: number | undefined; error: string | undefined };
  windows: WindowSet;
  streams: { router: number; upstream: number };
  logDropped: number;
  /** The live fleet (windows, breakers, back-off); `explain --fleet` reads this section back. */
  fleet?: FleetMonitor;
}

export function buildStatus(s: StatusInputs): object {
  const p = s.policy;
  return {
    version: s.version,
    uptime_s: Math.round((s.now - s.startedAt) / 1000),
    policy: { file: s.policyFile, hash: p.hash, loaded_at: new Date(s.loadedAt).toISOString() },
    classes: p.classes.map((name, i) => ({ name, ladder: p.ladders[i] })),
    pools: [...p.pools].map(([name, pool]) => ({
      name,
      served_model: pool.served_model,
      reasoning_adapter: pool.reasoning.adapter,
      backends: pool.backends.map((b) => {
        const envoy = s.backends.get(b.address);
        const recent = s.windows.has(b.address) ? s.windows.get(b.address).summary(s.now) : undefined;
        return {
          name: backendName(p, b.address),
          address: b.address,
          health: envoy === undefined ? "unknown" : envoy.healthy ? "healthy" : "unhealthy",
          ejected_in_clusters: envoy?.ejectedIn ?? null,
          in_flight: envoy?.rqActive ?? null,
          ...(s.fleet === undefined ? {} : { breaker: s.fleet.backendState(b.address) }),
          recent: {
            requests: recent?.count ?? 0,
            error_rate: recent?.errorRate ?? 0,
            ttft_p50_ms: recent?.ttftP50 ?? null,
            ttft_p95_ms: recent?.ttftP95 ?? null,
          },
        };
      }),
    })),
    traffic: s.windows.share.summary(s.now),
    ...(s.fleet === undefined ? {} : { fleet: s.fleet.status() }),
    envoy_admin: {
      url: s.envoy.url,
      last_ok: s.envoy.lastOk === undefined ? null : new Date(s.envoy.lastOk).toISOString(),
      error: s.envoy.error ?? null,
    },
    extproc_open_streams: s.streams,
    log_lines_dropped: s.logDropped,
  };
}
