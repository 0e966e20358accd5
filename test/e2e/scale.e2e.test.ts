// Scale: a ladder of 4 steps × 3 pools (12 pools, 81 paths) is 12 pool clusters and 81 small
// path clusters (a list of names), not 81 clusters that each hold all 36 backends. The pinned
// Envoy validates it, loads it from files and reloads a change to one pool without touching any
// cluster. Times are printed, not asserted (a shared machine's clock says little).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import {
  envoyBin,
  envoyStats,
  freePorts,
  startEnvoy,
  waitEnvoyReady,
  waitFor,
} from "../../devkit/processes.js";
import { DEFAULT_BOOTSTRAP, renderBootstrap } from "../../extproc/src/envoy/bootstrap.js";
import { renderXdsFiles, writeBootstrap, writeXds } from "../../extproc/src/envoy/write-xds.js";
import { parsePolicy } from "../../extproc/src/policy/load.js";
import { gridPolicy } from "../fixtures/grid-policy.js";
import { hostStates } from "./envoy-hosts.js";

const run = promisify(execFile);

function grid(weight = 1) {
  const text = gridPolicy(4, 3).replace(
    '{ address: "127.0.0.1:20051" }',
    `{ address: "127.0.0.1:20051", weight: ${weight} }`,
  );
  const r = parsePolicy(text);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("; "));
  return r.policy;
}

describe("scale: 4 ladder steps × 3 pools", () => {
  it("renders 93 clusters and validates with the pinned Envoy (clusters inline, so validate checks them)", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-scale-"));
    const t0 = performance.now();
    const files = renderXdsFiles(grid(), [], join(dir, "xds"));
    const renderMs = performance.now() - t0;
    await writeXds(join(dir, "xds"), files);
    // validate mode does not read CDS files: put the clusters into static_resources.
    const bootstrap = renderBootstrap({
      ...DEFAULT_BOOTSTRAP,
      xdsDir: join(dir, "xds"),
      accessLogFile: join(dir, "access.log"),
    }) as {
      static_resources: { clusters: object[] };
      dynamic_resources?: object;
    };
    const clusters = (JSON.parse(files.cds) as { resources: Record<string, unknown>[] }).resources.map(
      ({ "@type": _, ...c }) => c,
    );
    bootstrap.static_resources.clusters.push(...clusters);
    delete bootstrap.dynamic_resources;
    await writeFile(join(dir, "static.json"), JSON.stringify(bootstrap));
    const t1 = performance.now();
    const { stdout, stderr } = await run(envoyBin(), [
      "--mode",
      "validate",
      "-c",
      join(dir, "static.json"),
      "-l",
      "warning",
    ]);
    const validateMs = performance.now() - t1;
    assert.match(stdout + stderr, /configuration .* OK/);
    assert.equal(files.clusterCount, 93);
    t.diagnostic(
      `render ${renderMs.toFixed(0)} ms (${files.clusterCount} clusters, cds.json ${files.cds.length} bytes, ${files.eds.size} endpoint files), envoy --mode validate ${validateMs.toFixed(0)} ms`,
    );
  });

  it("Envoy loads it from the xDS files, and a weight change in one pool reloads no cluster", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-scale-"));
    const xds = join(dir, "xds");
    const [listen, admin, grpc, http] = (await freePorts(4)) as [number, number, number, number];
    const first = renderXdsFiles(grid());
    await writeXds(xds, first);
    await writeBootstrap(join(dir, "envoy.json"), {
      ...DEFAULT_BOOTSTRAP,
      listenAddress: "127.0.0.1",
      listenPort: listen,
      adminPort: admin,
      sidecars: [{ address: "127.0.0.1", grpcPort: grpc, httpPort: http }],
      xdsDir: xds,
      accessLogFile: join(dir, "access.log"),
    });
    const adminUrl = `http://127.0.0.1:${admin}`;
    const t0 = performance.now();
    const envoy = startEnvoy("envoy", join(dir, "envoy.json"));
    try {
      await waitEnvoyReady(envoy, adminUrl, { routes: "switchyard" });
      await waitFor("12 pools × 3 backends loaded", async () => {
        const hosts = await hostStates(adminUrl);
        return hosts.filter((h) => h.cluster.startsWith("pool.")).length === 36;
      });
      const loadMs = performance.now() - t0;
      const stats = async () =>
        envoyStats(adminUrl, "^cluster_manager\\.(cluster_added|cluster_modified|active_clusters)$");
      const before = await stats();
      assert.equal(
        before["cluster_manager.active_clusters"],
        93 + 1,
        "93 + switchyard's gRPC cluster (the access log goes through a file)",
      );

      const t1 = performance.now();
      await writeXds(xds, renderXdsFiles(grid(5), first.current));
      await waitFor("the new weight in Envoy", async () =>
        (await hostStates(adminUrl)).some((h) => h.address === "127.0.0.1:20051" && h.weight === 5),
      );
      const reloadMs = performance.now() - t1;
      assert.deepEqual(
        await stats(),
        before,
        "no cluster added or modified: only one pool's endpoints changed",
      );
      t.diagnostic(
        `Envoy start to 93 clusters and 36 hosts loaded ${loadMs.toFixed(0)} ms; weight change seen after ${reloadMs.toFixed(0)} ms`,
      );
    } finally {
      await envoy.stop();
    }
  });
});
