// What Envoy's admin says about each backend: in which cluster it is a host, its health flags
// and its connection and request counters (/clusters?format=json), and how many TCP
// connections the kernel has open to it (/proc/net/tcp, loopback only).
import { readFile } from "node:fs/promises";

export interface HostState {
  cluster: string;
  /** host:port */
  address: string;
  ejected: boolean;
  healthy: boolean;
  cxTotal: number;
  cxActive: number;
  rqTotal: number;
  weight: number;
}

interface ClustersJson {
  cluster_statuses?: {
    name: string;
    host_statuses?: {
      address?: { socket_address?: { address?: string; port_value?: number } };
      stats?: { name?: string; value?: string | number }[];
      health_status?: Record<string, unknown>;
      weight?: number;
    }[];
  }[];
}

export async function hostStates(adminUrl: string): Promise<HostState[]> {
  const json = (await (await fetch(`${adminUrl}/clusters?format=json`)).json()) as ClustersJson;
  return (json.cluster_statuses ?? []).flatMap((c) =>
    (c.host_statuses ?? []).map((h) => {
      const stat = (name: string) => Number(h.stats?.find((s) => s.name === name)?.value ?? 0);
      const hs = h.health_status ?? {};
      const ejected = hs.failed_outlier_check === true;
      return {
        cluster: c.name,
        address: `${h.address?.socket_address?.address}:${h.address?.socket_address?.port_value}`,
        ejected,
        healthy: !ejected && hs.failed_active_health_check !== true && hs.eds_health_status === "HEALTHY",
        cxTotal: stat("cx_total"),
        cxActive: stat("cx_active"),
        rqTotal: stat("rq_total"),
        weight: h.weight ?? 1,
      };
    }),
  );
}

/** The host entries of one backend, in whatever clusters hold it. */
export async function hostsOf(adminUrl: string, address: string): Promise<HostState[]> {
  return (await hostStates(adminUrl)).filter((h) => h.address === address);
}

/** Established TCP connections whose server side is 127.0.0.1:port (each loopback connection has one). */
export async function establishedTo(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const lines = (await readFile("/proc/net/tcp", "utf8")).split("\n").slice(1);
  return lines.filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === `0100007F:${hex}` && f[3] === "01";
  }).length;
}
