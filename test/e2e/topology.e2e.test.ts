// One Envoy cluster per pool: what Envoy knows about a backend (ejection, in-flight requests,
// connections) is one state, shared by every class and ladder path that uses its pool.
// Here two classes share qwen-large: balanced walks qwen-large → qwen-small and frontier
// (ai_bot) qwen-large → deepseek-flash → qwen-small, so they name different path clusters.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { Agent } from "node:http";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { waitFor, waitUntil } from "../../devkit/processes.js";
import type { SimOptions } from "../sim/sim-backend.js";
import { establishedTo, hostStates, hostsOf } from "./envoy-hosts.js";
import { e2eFleet } from "./fleet.js";
import type { Stack } from "./harness.js";
import {
  AI_BOT,
  envoyStats,
  POOLS,
  policyWith,
  post,
  receivedCounts,
  servedBy,
  taggedBody,
  useStack,
} from "./util.js";

/** balanced: no feature header (the default class). */
const BALANCED = {};
const SHARED_LADDERS = {
  ladders: {
    balanced: [{ "qwen-large": 100 }, { "qwen-small": 100 }],
  },
};
const BALANCED_PATH = "swy.qwen-large.qwen-small";
const FRONTIER_PATH = "swy.qwen-large.deepseek-flash.qwen-small";

const sharedStack = (sims: SimOptions[] = e2eFleet()) =>
  useStack(async () => ({ policy: await policyWith(SHARED_LADDERS), sims }));

const addr = (s: Stack, name: string) => s.sims.byName(name).address;

/** Sends frontier requests with ql1 refusing connections until Envoy has ejected ql1 from its pool. */
async function ejectQl1(s: Stack): Promise<void> {
  await s.sims.byName("ql1").setMode("refuse");
  let i = 0;
  await waitUntil(
    "ql1 ejected from pool.qwen-large",
    async () => {
      const r = await post(s.url, { headers: AI_BOT, body: taggedBody(`eject-${i++}`) });
      assert.equal(r.status, 200, r.body.toString());
      return hostsOf(s.adminUrl, addr(s, "ql1"));
    },
    (hosts) => hosts.some((h) => h.ejected),
  );
  await s.sims.byName("ql1").setMode("ok");
  for (const sim of s.sims.backends) sim.clearReceived();
}

describe("topology: a backend is a host of exactly one cluster, its pool's", () => {
  const stack = sharedStack();

  it("pool clusters hold the backends; path clusters hold none", async () => {
    const s = stack();
    const hosts = await hostStates(s.adminUrl);
    for (const name of [...POOLS.qwenLarge, ...POOLS.deepseek, ...POOLS.qwenSmall]) {
      const of = hosts.filter((h) => h.address === addr(s, name));
      assert.deepEqual(
        of.map((h) => h.cluster),
        [
          `pool.${name.startsWith("ql") ? "qwen-large" : name.startsWith("ds") ? "deepseek-flash" : "qwen-small"}`,
        ],
        name,
      );
    }
    assert.equal(hosts.filter((h) => h.cluster.startsWith("swy.")).length, 0);
  });

  it("one connection pool per backend: sequential requests of two classes share one connection to each", async (t) => {
    const s = stack();
    // One client connection: one Envoy worker, so one connection pool per cluster and host.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 20; i++) {
        const headers = i % 2 === 0 ? BALANCED : AI_BOT;
        const r = await post(s.url, { headers, body: taggedBody(`cx-${i}`), agent });
        assert.equal(r.status, 200, r.body.toString());
        assert.match(servedBy(r) ?? "", /^ql[12]$/);
      }
    } finally {
      agent.destroy();
    }
    const counts = receivedCounts(s, POOLS.qwenLarge);
    const stats = await envoyStats(s, "upstream_cx_total$");
    for (const name of POOLS.qwenLarge) {
      const [host] = await hostsOf(s.adminUrl, addr(s, name));
      const open = await establishedTo(s.sims.byName(name).port);
      t.diagnostic(
        `${name}: ${counts[name]} requests from both classes, Envoy cx_total ${host?.cxTotal}, open TCP connections ${open}`,
      );
      assert.ok((counts[name] ?? 0) > 0, `${name} served some of the 20 (least-request ties are random)`);
      assert.equal(host?.cxTotal, 1, `${name}: one connection for both classes' requests`);
      assert.equal(open, 1, `${name}: one TCP connection`);
    }
    for (const path of [BALANCED_PATH, FRONTIER_PATH])
      assert.equal(stats[`cluster.${path}.upstream_cx_total`] ?? 0, 0, `${path} opens no connection itself`);
    assert.equal(stats["cluster.pool.qwen-large.upstream_cx_total"], 2);
  });
});

describe("topology: an ejected backend gets no traffic from any path that includes its pool", () => {
  const stack = sharedStack([
    ...e2eFleet(),
    { name: "ds3", servedModel: "deepseek-ai/DeepSeek-V4-Flash", ttftMs: 5, tokensPerSec: 0, tokens: 8 },
  ]);

  it("ejected by frontier traffic, skipped by balanced traffic too", async () => {
    const s = stack();
    await ejectQl1(s);
    const ejections = await envoyStats(s, "pool.qwen-large.outlier_detection.ejections_enforced_total$");
    for (let i = 0; i < 10; i++) {
      for (const [cls, headers] of [
        ["balanced", BALANCED],
        ["frontier", AI_BOT],
      ] as const) {
        const r = await post(s.url, { headers, body: taggedBody(`after-${cls}-${i}`) });
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(servedBy(r), "ql2", `${cls} request ${i}`);
      }
    }
    assert.deepEqual(receivedCounts(s, POOLS.qwenLarge), { ql1: 0, ql2: 20 });
    // ql1 answers again: only the ejection kept it out, and it held for the whole run.
    const [ql1] = await hostsOf(s.adminUrl, addr(s, "ql1"));
    assert.equal(ql1?.ejected, true, "still ejected after the 20 requests");
    assert.deepEqual(
      await envoyStats(s, "pool.qwen-large.outlier_detection.ejections_enforced_total$"),
      ejections,
    );
  });

  it("a reload that changes other pools, or adds a backend to this one, keeps the ejection", async (t) => {
    const s = stack();
    await ejectQl1(s);
    const ejectedAt = await envoyStats(s, "pool.qwen-large.outlier_detection.ejections_enforced_total$");
    const cdsFile = join(s.dir, "xds", "cds.json");
    const poolCluster = async (name: string) =>
      JSON.stringify(
        (JSON.parse(await readFile(cdsFile, "utf8")) as { resources: { name: string }[] }).resources.find(
          (c) => c.name === name,
        ),
      );
    const before = {
      large: await poolCluster("pool.qwen-large"),
      flash: await poolCluster("pool.deepseek-flash"),
    };
    type Backends = { address: string; weight?: number }[];
    const reloaded = async (
      edit: (pools: Record<string, { backends: Backends }>) => void,
      until: () => Promise<boolean>,
    ) => {
      const doc = parse(await readFile(s.policyFile, "utf8")) as {
        pools: Record<string, { backends: Backends }>;
      };
      edit(doc.pools);
      await writeFile(s.policyFile, stringify(doc));
      await waitFor("Envoy has the new endpoints", until);
    };

    // 1. deepseek-flash gets a third backend: only its endpoint file changes.
    const ds3 = addr(s, "ds3");
    await reloaded(
      (pools) => pools["deepseek-flash"]?.backends.push({ address: ds3 }),
      async () => (await hostsOf(s.adminUrl, ds3)).length === 1,
    );
    // 2. qwen-large: ql2's weight changes, in qwen-large's own endpoint file.
    await reloaded(
      (pools) => {
        const ql2 = pools["qwen-large"]?.backends.find((b) => b.address === addr(s, "ql2"));
        if (ql2) ql2.weight = 3;
      },
      async () => (await hostsOf(s.adminUrl, addr(s, "ql2")))[0]?.weight === 3,
    );
    assert.equal(await poolCluster("pool.qwen-large"), before.large, "pool.qwen-large byte-identical in CDS");
    assert.equal(
      await poolCluster("pool.deepseek-flash"),
      before.flash,
      "pool.deepseek-flash byte-identical in CDS",
    );
    const [ql1] = await hostsOf(s.adminUrl, addr(s, "ql1"));
    t.diagnostic(`after two reloads: ql1 ${JSON.stringify(ql1)}`);
    assert.equal(ql1?.ejected, true, "ql1 is still ejected: its cluster was not rebuilt");
    assert.deepEqual(
      await envoyStats(s, "pool.qwen-large.outlier_detection.ejections_enforced_total$"),
      ejectedAt,
      "the same ejection, not a new one",
    );
    for (let i = 0; i < 6; i++) {
      const r = await post(s.url, { headers: i % 2 ? AI_BOT : BALANCED, body: taggedBody(`reloaded-${i}`) });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(servedBy(r), "ql2");
    }
  });
});

describe("topology: least-request sees every class's requests to a backend", () => {
  // ql1 holds each request 300 ms, ql2 answers in 5 ms.
  const stack = sharedStack(e2eFleet().map((s) => (s.name === "ql1" ? { ...s, ttftMs: 300 } : s)));
  const SEQUENTIAL = 150;
  const CONCURRENT = 16;
  // Envoy's least-request with two random choices sends ~75 % to the host with fewer active
  // requests when the two differ, 50 % when they tie (as they always would for a class with
  // one request at a time that saw only its own requests); 62 % separates the two (see
  // least-request.e2e.test.ts for the bound).
  const MIN_FAST_SHARE = 0.62;

  it(`balanced, one request at a time, avoids the slow backend that frontier's ${CONCURRENT} concurrent requests keep busy`, async (t) => {
    const s = stack();
    const split = { balanced: { ql1: 0, ql2: 0 }, frontier: { ql1: 0, ql2: 0 } };
    const count = (cls: keyof typeof split, backend: string | undefined) => {
      assert.ok(backend === "ql1" || backend === "ql2", `served by ${backend}`);
      split[cls][backend] += 1;
    };
    let done = false;
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENT + 1 });
    const busy = async (w: number) => {
      for (let i = 0; !done; i++) {
        const r = await post(s.url, { headers: AI_BOT, body: taggedBody(`busy-${w}-${i}`), agent });
        assert.equal(r.status, 200, r.body.toString());
        count("frontier", servedBy(r));
      }
    };
    const workers = Array.from({ length: CONCURRENT }, (_, w) => busy(w));
    try {
      // Start once the frontier load holds requests on the slow backend.
      await waitFor(
        "frontier requests in flight on ql1",
        async () => (s.sims.byName("ql1").stats().open ?? 0) >= 2,
      );
      for (let i = 0; i < SEQUENTIAL; i++) {
        const r = await post(s.url, { headers: BALANCED, body: taggedBody(`seq-${i}`), agent });
        assert.equal(r.status, 200, r.body.toString());
        count("balanced", servedBy(r));
      }
    } finally {
      done = true;
      await Promise.all(workers);
      agent.destroy();
    }
    const share = (c: { ql1: number; ql2: number }) => c.ql2 / (c.ql1 + c.ql2);
    for (const cls of ["balanced", "frontier"] as const)
      t.diagnostic(
        `${cls}: fast ql2 ${split[cls].ql2} (${(100 * share(split[cls])).toFixed(1)} %), slow ql1 ${split[cls].ql1}`,
      );
    assert.ok(
      share(split.balanced) > MIN_FAST_SHARE,
      `balanced fast share ${JSON.stringify(split.balanced)}`,
    );
    assert.ok(
      share(split.frontier) > MIN_FAST_SHARE,
      `frontier fast share ${JSON.stringify(split.frontier)}`,
    );
  });
});
