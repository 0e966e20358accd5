import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { discourse } from "../../../test/fixtures/fixtures.js";
import { gridPolicy } from "../../../test/fixtures/grid-policy.js";
import { parsePolicy } from "../policy/load.js";
import { renderClusters, renderRoutes } from "./render-xds.js";

type Cluster = {
  name: string;
  type?: string;
  lb_policy: string;
  cluster_type?: { typed_config: { clusters: { name: string }[] } };
  outlier_detection?: { max_ejection_percent: number };
  load_assignment?: unknown;
  eds_cluster_config?: { eds_config: { path_config_source: { path: string } } };
};

const load = (text: string) => {
  const r = parsePolicy(text);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("; "));
  return r.policy;
};
const clusters = (text: string, dir = "/x") => {
  const { cds, endpoints } = renderClusters(load(text), dir);
  return { list: cds.resources as Cluster[], endpoints };
};
const byName = (list: Cluster[]) => new Map(list.map((c) => [c.name, JSON.stringify(c)]));

describe("clusters: one per pool, one composite per path", () => {
  it("discourse: 3 pool clusters with their backends in EDS files, path clusters list pool clusters", () => {
    const { cds, endpoints } = renderClusters(discourse(), "/x");
    const list = cds.resources as Cluster[];
    const pools = list.filter((c) => c.name.startsWith("pool."));
    assert.deepEqual(
      pools.map((c) => c.name),
      ["pool.deepseek-flash", "pool.qwen-large", "pool.qwen-small"],
    );
    for (const p of pools) {
      assert.equal(p.type, "EDS");
      assert.equal(p.lb_policy, "LEAST_REQUEST");
      assert.equal(p.load_assignment, undefined, "endpoints are in the EDS file, not in CDS");
      assert.equal(
        p.eds_cluster_config?.eds_config.path_config_source.path,
        `/x/pools/${p.name.slice(5)}.json`,
      );
      assert.ok((p.outlier_detection?.max_ejection_percent ?? 100) < 100, "ejection never empties a pool");
    }
    assert.deepEqual([...endpoints.keys()].sort(), [
      "pools/deepseek-flash.json",
      "pools/qwen-large.json",
      "pools/qwen-small.json",
    ]);
    const frontier = list.find((c) => c.name === "swy.qwen-large.deepseek-flash.qwen-small");
    assert.equal(frontier?.lb_policy, "CLUSTER_PROVIDED");
    assert.deepEqual(
      frontier?.cluster_type?.typed_config.clusters.map((c) => c.name),
      [
        "pool.qwen-large",
        "pool.qwen-large",
        "pool.deepseek-flash",
        "pool.deepseek-flash",
        "pool.qwen-small",
        "pool.qwen-small",
      ],
    );
    for (const c of list)
      assert.equal("http_filters" in c, false, "the router's upstream_http_filters apply");
  });

  it("4 steps × 3 pools: 12 pool clusters + 81 path clusters (not 81 clusters of 12 pools' backends)", (t) => {
    const t0 = performance.now();
    const { list, endpoints } = clusters(gridPolicy(4, 3));
    const ms = performance.now() - t0;
    const pools = list.filter((c) => c.name.startsWith("pool."));
    const paths = list.filter((c) => c.name.startsWith("swy."));
    assert.equal(pools.length, 12);
    assert.equal(paths.length, 81);
    assert.equal(list.length, 93);
    assert.equal(endpoints.size, 12, "one endpoint file per pool");
    for (const p of paths)
      assert.equal(p.cluster_type?.typed_config.clusters.length, 8, "4 pools × 2 attempts");
    const bytes = JSON.stringify(list).length;
    t.diagnostic(`rendered ${list.length} clusters (${bytes} bytes of CDS) in ${ms.toFixed(1)} ms`);
  });

  it("the default retry count never exceeds the shortest path cluster's entries", () => {
    const policy = load(gridPolicy(2, 2));
    const routes = renderRoutes(policy) as {
      resources: { virtual_hosts: { routes: { route?: { retry_policy: Record<string, unknown> } }[] }[] }[];
    };
    const retry = routes.resources[0]?.virtual_hosts[0]?.routes[0]?.route?.retry_policy ?? {};
    assert.equal(retry.num_retries, 1);
    assert.equal("retry_priority" in retry, false, "no priorities: the composite moves between pools");
  });
});

describe("clusters: a change to one pool leaves everything else byte-identical", () => {
  const base = gridPolicy(2, 2);
  const before = clusters(base);

  it("a new backend in one pool changes only that pool's endpoint file, not a single cluster", () => {
    const after = clusters(
      base.replace(
        '{ address: "127.0.0.1:20002" }',
        '{ address: "127.0.0.1:20002" }, { address: "127.0.0.1:20009" }',
      ),
    );
    assert.deepEqual(byName(after.list), byName(before.list));
    const changed = [...after.endpoints].filter(
      ([file, cla]) => JSON.stringify(cla) !== JSON.stringify(before.endpoints.get(file)),
    );
    assert.deepEqual(
      changed.map(([file]) => file),
      ["pools/p0a.json"],
    );
  });

  it("a weight change in one pool's backend: the same", () => {
    const after = clusters(
      base.replace('{ address: "127.0.0.1:20011" }', '{ address: "127.0.0.1:20011", weight: 5 }'),
    );
    assert.deepEqual(byName(after.list), byName(before.list));
    const changed = [...after.endpoints].filter(
      ([file, cla]) => JSON.stringify(cla) !== JSON.stringify(before.endpoints.get(file)),
    );
    assert.deepEqual(
      changed.map(([file]) => file),
      ["pools/p0b.json"],
    );
  });

  it("a ladder weight change touches no cluster; a host name makes that one pool STRICT_DNS", () => {
    assert.deepEqual(byName(clusters(base.replace("p1a: 1", "p1a: 7")).list), byName(before.list));
    const named = clusters(base.replace('"127.0.0.1:20020"', '"backend.internal:20020"'));
    const a = byName(before.list);
    const b = byName(named.list);
    const differ = [...b.keys()].filter((k) => a.get(k) !== b.get(k));
    assert.deepEqual(differ, ["pool.p1a"]);
    const p1a = named.list.find((c) => c.name === "pool.p1a");
    assert.equal(p1a?.type, "STRICT_DNS");
    assert.ok(p1a?.load_assignment, "inline endpoints: EDS takes IP addresses only");
    assert.equal(named.endpoints.has("pools/p1a.json"), false);
  });
});
