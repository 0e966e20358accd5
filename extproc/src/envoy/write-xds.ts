// Writes the xDS files atomically (temp file + rename) so Envoy's directory watches never see
// half a file: cds.json (pool and path clusters), rds.json (routes) and one endpoint file per
// pool under pools/ (file-based EDS). Clusters of earlier policies are kept for a while (see
// `keep`) so that a request decided just before a reload still finds its cluster.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Policy } from "../policy/compile.js";
import { type BootstrapOptions, renderBootstrap } from "./bootstrap.js";
import { DEFAULT_XDS_DIR } from "./common.js";
import { renderClusters, renderRoutes } from "./render-xds.js";

export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

export interface RenderedFiles {
  /** cds.json with the endpoint files in `xdsDir` (the default directory when that is undefined). */
  cds: string;
  rds: string;
  /** Endpoint files (EDS), by path relative to the xDS directory: `pools/<pool>.json`. */
  eds: ReadonlyMap<string, string>;
  clusterCount: number;
  /** This policy's own clusters (without the kept ones): the next reload keeps these. */
  current: readonly object[];
  /** The xDS directory as Envoy sees it; undefined: wherever writeXds writes the files. */
  xdsDir: string | undefined;
  /** cds.json with the endpoint files in `dir`. */
  cdsIn(dir: string): string;
}

const text = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;
/** Stands for the xDS directory in clusters rendered before it is known. */
const DIR_TOKEN = "@XDS_DIR@";
const jsonString = (s: string) => JSON.stringify(s).slice(1, -1);

/**
 * `xdsDir` is the xDS directory as Envoy sees it: the pool clusters name their endpoint files
 * there. Without it the files name the directory writeXds writes them to (Envoy and
 * switchyard on one file system). `keep` is the previous policy's `current`: its clusters stay
 * one more generation unless this policy has a cluster of the same name.
 */
export function renderXdsFiles(
  policy: Policy,
  keep: readonly object[] = [],
  xdsDir?: string,
  down?: (pool: string) => ReadonlySet<string>,
): RenderedFiles {
  const { cds: clusters, endpoints } = renderClusters(policy, xdsDir ?? DIR_TOKEN, down);
  const names = new Set((clusters.resources as { name: string }[]).map((c) => c.name));
  const kept = (keep as { name: string }[]).filter((c) => !names.has(c.name));
  const cds = { ...clusters, resources: [...clusters.resources, ...kept] };
  const cdsText = text(cds);
  const cdsIn = (dir: string) => cdsText.replaceAll(DIR_TOKEN, jsonString(dir));
  return {
    cds: cdsIn(xdsDir ?? DEFAULT_XDS_DIR),
    rds: text(renderRoutes(policy)),
    eds: new Map([...endpoints].map(([file, cla]) => [file, text({ resources: [cla] })])),
    clusterCount: cds.resources.length,
    current: clusters.resources,
    xdsDir,
    cdsIn,
  };
}

/** Writes `file` only when its content changes: an unchanged file is not even touched. */
async function writeIfChanged(file: string, content: string): Promise<void> {
  const old = await readFile(file, "utf8").catch(() => undefined);
  if (old !== content) await writeAtomic(file, content);
}

/**
 * Endpoint files first (a new pool cluster reads its file as soon as CDS names it), then
 * cds.json, then rds.json (routes never name a cluster Envoy has not been given). Endpoint
 * files of pools that neither this policy nor the kept clusters name go last.
 */
export async function writeXds(dir: string, files: RenderedFiles): Promise<void> {
  const pools = join(dir, "pools");
  await mkdir(pools, { recursive: true });
  const cds = files.xdsDir === undefined ? files.cdsIn(resolve(dir)) : files.cds;
  for (const [file, content] of files.eds) await writeIfChanged(join(dir, file), content);
  await writeIfChanged(join(dir, "cds.json"), cds);
  await writeIfChanged(join(dir, "rds.json"), files.rds);
  const named = new Set(endpointFilesNamed(cds).map((p) => basename(p)));
  for (const f of await readdir(pools)) {
    if (f.endsWith(".json") && !named.has(f)) await rm(join(pools, f), { force: true });
  }
}

/** Only the endpoint files (a backend taken out or let back): no cluster changes. */
export async function writeEndpoints(dir: string, files: RenderedFiles): Promise<void> {
  for (const [file, content] of files.eds) await writeIfChanged(join(dir, file), content);
}

/**
 * The clusters of the cds.json already in `dir` (written by the other sidecar, or by this one
 * before it restarted); none if there is none. A sidecar that starts keeps them for one
 * generation: during a rolling restart that swaps the policy, the sidecar still on the old
 * policy routes to clusters the new one may not have.
 */
export async function readWrittenClusters(dir: string): Promise<object[]> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, "cds.json"), "utf8")) as { resources?: unknown };
    return Array.isArray(parsed.resources) ? (parsed.resources as object[]) : [];
  } catch {
    return [];
  }
}

export async function writeBootstrap(file: string, opts: BootstrapOptions): Promise<void> {
  await writeAtomic(file, `${JSON.stringify(renderBootstrap(opts), null, 1)}\n`);
}

/** The endpoint files the clusters in a cds.json read. */
export function endpointFilesNamed(cds: string): string[] {
  type Cluster = { eds_cluster_config?: { eds_config?: { path_config_source?: { path?: string } } } };
  const { resources } = JSON.parse(cds) as { resources: Cluster[] };
  return resources.flatMap((c) => c.eds_cluster_config?.eds_config?.path_config_source?.path ?? []);
}
