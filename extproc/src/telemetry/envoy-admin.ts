// Polls Envoy's admin /clusters?format=json for per-backend health and in-flight counts.
// A backend is a host of exactly one cluster, its pool's (path clusters hold no hosts: they
// pick a pool cluster per attempt), so its numbers there are all of its traffic.
import { POOL_CLUSTER_PREFIX } from "../vocab/names.js";

export interface BackendState {
  rqActive: number;
  healthy: boolean;
  /** 1 when outlier detection has ejected it from its pool cluster, else 0. */
  ejectedIn: number;
}

interface HostStatus {
  address?: { socket_address?: { address?: string; port_value?: number } };
  stats?: { name?: string; value?: string | number }[];
  health_status?: Record<string, unknown>;
}
interface ClustersJson {
  cluster_statuses?: { name?: string; host_statuses?: HostStatus[] }[];
}

export function readClusters(json: ClustersJson): Map<string, BackendState> {
  const out = new Map<string, BackendState>();
  for (const c of json.cluster_statuses ?? []) {
    if (!c.name?.startsWith(POOL_CLUSTER_PREFIX)) continue;
    for (const h of c.host_statuses ?? []) {
      const sa = h.address?.socket_address;
      if (!sa?.address) continue;
      const key = `${sa.address}:${sa.port_value ?? 0}`;
      const s = out.get(key) ?? { rqActive: 0, healthy: true, ejectedIn: 0 };
      s.rqActive += Number(h.stats?.find((x) => x.name === "rq_active")?.value ?? 0);
      const hs = h.health_status ?? {};
      const ejected = hs.failed_outlier_check === true;
      const failing =
        ejected ||
        hs.failed_active_health_check === true ||
        (hs.eds_health_status !== undefined && hs.eds_health_status !== "HEALTHY");
      if (ejected) s.ejectedIn++;
      if (failing) s.healthy = false;
      out.set(key, s);
    }
  }
  return out;
}

export class EnvoyAdminPoller {
  backends = new Map<string, BackendState>();
  lastOk: number | undefined;
  lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly adminUrl: string,
    private readonly onUpdate: (b: Map<string, BackendState>) => void = () => {},
  ) {}

  start(intervalMs = 2000): void {
    const tick = () => void this.poll();
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    try {
      const res = await fetch(`${this.adminUrl}/clusters?format=json`, { signal: AbortSignal.timeout(1500) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.backends = readClusters((await res.json()) as ClustersJson);
      this.lastOk = Date.now();
      this.lastError = undefined;
      this.onUpdate(this.backends);
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }
}
