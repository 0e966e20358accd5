// Writes the xDS files atomically (temp file + rename) so Envoy's directory watch never sees
// half a file. Clusters of earlier policies are kept for a while (see `retain`) so that a
// request decided just before a reload still finds its cluster.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Policy } from "../policy/compile.js";
import { type BootstrapOptions, renderBootstrap } from "./bootstrap.js";
import { renderClusters, renderRoutes } from "./render-xds.js";

export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

export interface RenderedFiles {
  cds: string;
  rds: string;
  clusterCount: number;
  /** This policy's own clusters (without the kept ones): the next reload keeps these. */
  current: readonly object[];
}

export function renderXdsFiles(policy: Policy, keep: readonly object[] = []): RenderedFiles {
  const clusters = renderClusters(policy) as { version_info: string; resources: { name: string }[] };
  const names = new Set(clusters.resources.map((c) => c.name));
  const kept = (keep as { name: string }[]).filter((c) => !names.has(c.name));
  const cds = { ...clusters, resources: [...clusters.resources, ...kept] };
  return {
    cds: `${JSON.stringify(cds, null, 1)}\n`,
    rds: `${JSON.stringify(renderRoutes(policy), null, 1)}\n`,
    clusterCount: cds.resources.length,
    current: clusters.resources,
  };
}

/** Writes cds.json then rds.json: routes never name a cluster Envoy has not been given. */
export async function writeXds(dir: string, files: RenderedFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeAtomic(join(dir, "cds.json"), files.cds);
  await writeAtomic(join(dir, "rds.json"), files.rds);
}

export async function writeBootstrap(file: string, opts: BootstrapOptions): Promise<void> {
  await writeAtomic(file, `${JSON.stringify(renderBootstrap(opts), null, 1)}\n`);
}
