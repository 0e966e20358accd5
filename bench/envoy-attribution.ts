// Where Envoy's own CPU per request goes with switchyard's config (issue 15): the floor stack F
// (switchyard's bootstrap and xDS, its ext_proc cluster pointed at the do-nothing grpc-js server
// bench/floor-extproc.ts) built up one part at a time, beside Envoy alone (B):
//
//   B              no ext_proc at all (bench/dataplane-bootstraps.ts)
//   bare ext_proc  the router ext_proc without switchyard's settings (attributes, metadata,
//                  retry policy, caller token): a bound on what those cost, not a candidate
//   ext_proc       F without the access log, the upstream filter chain and upstream_log
//   + access log   the HCM's file access log (json_format, envoy/access-log-format.ts)
//   + upstream     the router's upstream_http_filters: the upstream ext_proc behind its CEL matcher
//                  (the floor names the pool, so the matcher skips it, as for switchyard's own answers)
//   + upstream_log the router's failed-attempt log = F, exactly as `switchyard serve` writes it
//   F, 1-field log F with the access-log format cut to one field: a bound on what a smaller
//                  format could save (not a candidate: switchyard builds its log line from them)
//
// One set of sims and one floor server, one Envoy per variant, all started once; the same fixed
// rate of 2 KB json chat requests to each in turn, interleaved over rounds (the order reversed
// every other round), Envoy's CPU from /proc/<pid>/stat over each segment. Loopback only; it
// stops by itself. Env: BENCH_RATE (300), BENCH_SEGMENT_MS (3000), BENCH_ROUNDS (3).
//
//   npm run bench:envoy-attribution
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  envoyStats,
  freePorts,
  type Proc,
  ROOT,
  sidecarHealthy,
  startEnvoy,
  startProc,
  waitEnvoyReady,
  waitFor,
  waitReadyz,
} from "../devkit/processes.js";
import { type BootstrapOptions, DEFAULT_BOOTSTRAP, renderBootstrap } from "../extproc/src/envoy/bootstrap.js";
import { renderXdsFiles, writeXds } from "../extproc/src/envoy/write-xds.js";
import { loadPolicyFile } from "../extproc/src/policy/load.js";
import type { SimOptions } from "../test/sim/types.js";
import { type Backend, envoyAloneBootstrap } from "./dataplane-bootstraps.js";
import { FAST, ROUNDS, SEGMENT_MS, SENT_MODEL, WARM_MS } from "./dataplane-config.js";
import { median } from "./dataplane-phases.js";
import { cpuSeconds, environment } from "./dataplane-proc.js";
import { BENCH_PROC, CLIENT_MODEL, logOf, MODEL } from "./dataplane-stack.js";
import { LoadDriver } from "./load-driver.js";
import type { OpenResult } from "./load-protocol.js";

const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : 300;
const BODY_BYTES = 2 * 1024;
const url = (port: number) => `http://127.0.0.1:${port}`;

/** The parts of switchyard's bootstrap this bench takes out (shape from extproc/src/envoy/bootstrap.ts). */
type Config = Record<string, unknown>;
interface Hcm {
  access_log?: { typed_config: { log_format: { json_format: Record<string, string> } } }[];
  http_filters: { name: string; typed_config: Config }[];
}
interface FullBootstrap {
  static_resources: {
    listeners: { filter_chains: { filters: { typed_config: Hcm }[] }[] }[];
    clusters: { name: string; typed_extension_protocol_options: Record<string, Config> }[];
  };
}

const hcmOf = (b: FullBootstrap): Hcm => {
  const hcm = b.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config;
  if (hcm === undefined) throw new Error("switchyard's bootstrap has no HCM where expected");
  return hcm;
};
const filterOf = (b: FullBootstrap, name: string): Config => {
  const f = hcmOf(b).http_filters.find((f) => f.name === name);
  if (f === undefined) throw new Error(`switchyard's bootstrap has no ${name} filter`);
  return f.typed_config;
};
const routerOf = (b: FullBootstrap) => filterOf(b, "envoy.filters.http.router");

interface Variant {
  key: string;
  label: string;
  /** What it has on top of the row before it (the increment column). */
  adds: string;
  /** Changes F's bootstrap (undefined: Envoy alone, B). */
  edit?: (b: FullBootstrap) => void;
}

type Edit = (b: FullBootstrap) => void;
const noAccessLog: Edit = (b) => {
  delete hcmOf(b).access_log;
};
const noUpstreamFilters: Edit = (b) => {
  delete routerOf(b).upstream_http_filters;
};
const noUpstreamLog: Edit = (b) => {
  delete routerOf(b).upstream_log;
};
/**
 * The router ext_proc with none of switchyard's settings beyond the processing mode and timeout:
 * no request attributes, metadata namespaces, mutation rules, initial metadata, gRPC retry
 * policy, nor the caller-token filter on the sidecar cluster.
 */
const bareExtProc: Edit = (b) => {
  const ext = filterOf(b, "envoy.filters.http.ext_proc");
  for (const k of ["request_attributes", "metadata_options", "mutation_rules"]) delete ext[k];
  const grpc = ext.grpc_service as Config;
  delete grpc.retry_policy;
  delete grpc.initial_metadata;
  for (const c of b.static_resources.clusters)
    for (const o of Object.values(c.typed_extension_protocol_options ?? {})) delete o.http_filters;
};
const all =
  (...edits: Edit[]): Edit =>
  (b) => {
    for (const e of edits) e(b);
  };

const VARIANTS: Variant[] = [
  { key: "b", label: "B: Envoy alone", adds: "" },
  {
    key: "bare",
    label: "bare router ext_proc (a bound)",
    adds: "ext_proc protocol",
    edit: all(noAccessLog, noUpstreamFilters, noUpstreamLog, bareExtProc),
  },
  {
    key: "extproc",
    label: "ext_proc router filter only",
    adds: "its settings",
    edit: all(noAccessLog, noUpstreamFilters, noUpstreamLog),
  },
  {
    key: "log",
    label: "+ file access log",
    adds: "access log",
    edit: all(noUpstreamFilters, noUpstreamLog),
  },
  {
    key: "upstream",
    label: "+ upstream ext_proc + matcher",
    adds: "upstream filter",
    edit: noUpstreamLog,
  },
  { key: "f", label: "+ upstream_log = F", adds: "upstream_log", edit: () => {} },
  {
    key: "f1",
    label: "F, log format cut to 1 field (a bound)",
    adds: "1-field format vs F",
    edit: (b) => {
      for (const l of hcmOf(b).access_log ?? [])
        l.typed_config.log_format.json_format = { type: "%ACCESS_LOG_TYPE%" };
    },
  },
];

/** The bench's policy: one class, one pool of the two sims (as in bench/dataplane-stack.ts). */
const policyYaml = (backends: Backend[]) => `version: 1
classes: [standard]
default_class: standard
ladders:
  standard: [{ bench: 100 }]
pools:
  bench:
    served_model: ${MODEL}
    backends: [${backends.map((b) => `{ address: "127.0.0.1:${b.port}" }`).join(", ")}]
retry:
  attempts_per_pool: 2
  per_try_timeout_ms: 30000
`;

interface Started {
  variant: Variant;
  envoy: Proc;
  url: string;
  admin: string;
}

interface Row {
  variant: Variant;
  cpuMsPerReq: number;
  /** CPU ms per request of each round's segment, in round order (for paired increments). */
  cpuByRound: number[];
  p50: number;
  p99: number;
  ok: number;
  errors: number;
}

const fmt = (n: number, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

async function startAll(dir: string, track: (p: Proc) => Proc): Promise<Started[]> {
  const ports = await freePorts(4 + 2 * VARIANTS.length);
  const next = () => ports.shift() as number;
  const backends: Backend[] = [next(), next()].map((port, i) => ({
    name: `s${i + 1}`,
    port,
    url: url(port),
  }));
  const fleet: SimOptions[] = backends.map((b) => ({
    name: b.name,
    servedModel: MODEL,
    aliases: [CLIENT_MODEL],
    host: "127.0.0.1",
    port: b.port,
    ...FAST,
    maxRecorded: 100,
    maxModelLen: 10_000_000,
  }));
  await writeFile(join(dir, "fleet.json"), JSON.stringify(fleet));
  const simMain = join(ROOT, "dist", "test", "sim", "main.js");
  track(startProc("sims", process.execPath, [simMain, "--fleet", join(dir, "fleet.json")], BENCH_PROC));
  for (const b of backends) await waitFor(`sim ${b.name}`, async () => (await fetch(`${b.url}/health`)).ok);

  // switchyard's xDS files, rendered as `switchyard render` does.
  const policyFile = join(dir, "policy.yml");
  await writeFile(policyFile, policyYaml(backends));
  const loaded = await loadPolicyFile(policyFile);
  if (!loaded.ok) throw new Error(`bench policy: ${JSON.stringify(loaded.errors)}`);
  const xdsDir = join(dir, "xds");
  await writeXds(xdsDir, renderXdsFiles(loaded.policy, [], xdsDir));

  const grpcPort = next();
  const httpPort = next();
  const floorArgs = [
    join(ROOT, "dist", "bench", "floor-extproc.js"),
    ...["--grpc-port", String(grpcPort), "--http-port", String(httpPort)],
    ...["--cluster", "swy.bench", "--pool", "bench"],
  ];
  const floor = track(startProc("floor ext_proc server", process.execPath, floorArgs, BENCH_PROC));
  await waitReadyz(floor, httpPort);

  const started: Started[] = [];
  for (const variant of VARIANTS) {
    const [listenPort, adminPort] = [next(), next()];
    let bootstrap: object;
    if (variant.edit === undefined) bootstrap = envoyAloneBootstrap(listenPort, adminPort, backends);
    else {
      const logDir = join(dir, `log-${variant.key}`);
      await mkdir(logDir, { recursive: true });
      const opts: BootstrapOptions = {
        ...DEFAULT_BOOTSTRAP,
        listenAddress: "127.0.0.1",
        listenPort,
        adminPort,
        sidecars: [{ address: "127.0.0.1", grpcPort, httpPort }],
        xdsDir,
        accessLogFile: join(logDir, "access.log"),
      };
      const full = renderBootstrap(opts) as FullBootstrap;
      variant.edit(full);
      bootstrap = full;
    }
    const file = join(dir, `envoy-${variant.key}.json`);
    await writeFile(file, JSON.stringify(bootstrap, null, 1));
    const envoy = track(startEnvoy(`envoy ${variant.key}`, file, BENCH_PROC));
    const admin = url(adminPort);
    await waitEnvoyReady(envoy, admin, variant.edit ? { clusters: sidecarHealthy(grpcPort) } : {});
    started.push({ variant, envoy, url: url(listenPort), admin });
  }
  return started;
}

const quantile = (xs: number[], q: number) => {
  const s = Float64Array.from(xs).sort();
  return s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
};

async function measure(stacks: Started[], load: LoadDriver): Promise<Row[]> {
  const target = (s: Started) => ({ url: s.url, bodyBytes: BODY_BYTES, stream: false, model: SENT_MODEL });
  for (const s of stacks) {
    const r = await load.open({ ...target(s), rate: RATE, durationMs: WARM_MS });
    if (r.ok === 0) throw new Error(`${s.variant.label}: no request succeeded: ${r.errorSamples.join("; ")}`);
  }
  const segs = new Map<string, { cpu: number; p50: number; p99: number; ok: number; errors: number }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? stacks : [...stacks].reverse();
    for (const s of order) {
      const before = cpuSeconds(s.envoy.pid);
      const r: OpenResult = await load.open({ ...target(s), rate: RATE, durationMs: SEGMENT_MS });
      const cpu = cpuSeconds(s.envoy.pid) - before;
      const seg = {
        cpu: r.ok > 0 ? (cpu * 1000) / r.ok : Number.NaN,
        p50: quantile(r.endMs, 0.5),
        p99: quantile(r.endMs, 0.99),
        ok: r.ok,
        errors: r.errors + r.skipped,
      };
      segs.set(s.variant.key, [...(segs.get(s.variant.key) ?? []), seg]);
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${s.variant.label}: ${fmt(seg.cpu)} ms CPU/req, p50 ${fmt(seg.p50, 2)} ms, ${r.ok} ok, ${seg.errors} failed\n`,
      );
    }
  }
  return stacks.map(({ variant }) => {
    const list = segs.get(variant.key) ?? [];
    return {
      variant,
      cpuMsPerReq: median(list.map((x) => x.cpu)),
      cpuByRound: list.map((x) => x.cpu),
      p50: median(list.map((x) => x.p50)),
      p99: median(list.map((x) => x.p99)),
      ok: list.reduce((n, x) => n + x.ok, 0),
      errors: list.reduce((n, x) => n + x.errors, 0),
    };
  });
}

const signed = (n: number) => `${n >= 0 ? "+" : ""}${fmt(n)}`;

/**
 * A part's cost: the median over rounds of (this config − the one before) within the same round,
 * whose two segments ran back to back; the range shows how far single rounds strayed.
 */
function increment(r: Row, base: Row, label = r.variant.adds): string {
  const diffs = r.cpuByRound.map((c, i) => c - (base.cpuByRound[i] ?? Number.NaN));
  const lo = Math.min(...diffs);
  const hi = Math.max(...diffs);
  return `${label}: ${signed(median(diffs))} (${signed(lo)} … ${signed(hi)})`;
}

function table(rows: Row[]): string {
  const out = [
    "| Envoy config | Envoy CPU ms/req | increment, median of rounds (range) | p50 ms | p99 ms | ok / failed |",
    "|---|---|---|---|---|---|",
  ];
  const full = rows.find((r) => r.variant.key === "f");
  rows.forEach((r, i) => {
    // The last row compares with F, the others with the row before.
    const base = r.variant.key === "f1" ? full : rows[i - 1];
    const inc = base === undefined ? "" : increment(r, base);
    out.push(
      `| ${r.variant.label} | ${fmt(r.cpuMsPerReq)} | ${inc} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.ok} / ${r.errors} |`,
    );
  });
  const b = rows.find((r) => r.variant.key === "b");
  const extProc = rows.find((r) => r.variant.key === "extproc");
  if (b !== undefined && extProc !== undefined && full !== undefined) {
    out.push("", `F vs B, ${increment(full, b, "all of switchyard's config")} ms`);
    out.push(
      `F vs ext_proc only, ${increment(full, extProc, "access log + upstream filter + upstream_log")} ms`,
    );
  }
  return out.join("\n");
}

async function main(): Promise<number> {
  const env = environment();
  const dir = await mkdtemp(join(tmpdir(), "switchyard-envoy-attr-"));
  const procs: Proc[] = [];
  const track = (p: Proc) => {
    procs.push(p);
    return p;
  };
  const stopAll = async () => {
    for (const p of [...procs].reverse()) await p.stop();
    await rm(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  try {
    process.stderr.write(`starting sims, the floor server and ${VARIANTS.length} Envoys …\n`);
    const stacks = await startAll(dir, track);
    const loadProc = track(
      startProc("load generator", process.execPath, [join(ROOT, "dist", "bench", "load.js")], {
        ...BENCH_PROC,
        ipc: true,
      }),
    );
    const load = new LoadDriver(loadProc.child);
    const rows = await measure(stacks, load);
    // ext_proc streams per config: the router's one per request; the upstream filter's none, since
    // the matcher skips it for an attempt on the pool the router answered for (as with switchyard).
    const streams = await Promise.all(stacks.map((s) => envoyStats(s.admin, "streams_started")));
    load.exit();
    console.log(
      `Envoy CPU per request by config part: ${RATE} req/s of ${BODY_BYTES / 1024} KB json, ` +
        `${ROUNDS} rounds of ${SEGMENT_MS} ms segments, medians (Envoy ${env.envoy}, ${env.cores} cores, load ${env.loadavg})\n`,
    );
    console.log(table(rows));
    const count = (i: number, stat: string) => streams[i]?.[stat] ?? 0;
    const started = stacks.map(
      (s, i) =>
        `${s.variant.key} ${count(i, "http.llm.ext_proc.streams_started")}/${count(i, "http.llmext_proc.upstream.streams_started")}`,
    );
    console.log(`\next_proc streams started, router/upstream filter: ${started.join(", ")}`);
    return 0;
  } catch (err) {
    console.error(`${(err as Error).message}\n${procs.map(logOf).join("\n")}`);
    return 1;
  } finally {
    await stopAll();
  }
}

process.exitCode = await main();
