// The processes of the data-plane bench, all on 127.0.0.1 with free ports: the simulated
// backends (one separate process), switchyard `serve`, Envoy with switchyard's bootstrap (stack
// A), a second Envoy with a hand-built bootstrap straight to the same backends (B), and a third
// Envoy with A's bootstrap and xDS pointed at a do-nothing grpc-js server (F, the floor:
// bench/floor-extproc.ts), and a fourth with F's bootstrap pointed at a do-nothing Go server
// (G: bench/go-floor, built here). Started with devkit/processes.ts, like the e2e harness.
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  envoyStats,
  freePorts,
  type Proc,
  ROOT,
  type StartOptions,
  sidecarHealthy,
  startEnvoy,
  startProc,
  startSidecar,
  waitEnvoyReady,
  waitFor,
  waitReadyz,
} from "../devkit/processes.js";
import type { SimOptions } from "../test/sim/types.js";
import { type Backend, envoyAloneBootstrap, floorBootstrap } from "./dataplane-bootstraps.js";
import { buildGoFloor, startGoFloor } from "./go-floor.js";

export type { Backend } from "./dataplane-bootstraps.js";

export const MODEL = "bench-model";
/**
 * The name the bench's client sends by default: the sims also serve it (vLLM takes several
 * --served-model-name values), so B and F pass it through while switchyard rewrites it to MODEL,
 * the pool's served_model, as it would for a client that names models its own way.
 */
export const CLIENT_MODEL = "bench-client-model";

/** Every bench process: many sockets, bounded output kept for a failure report, time to drain. */
export const BENCH_PROC: StartOptions = { nofile: 16_384, keepChunks: 400, killAfterMs: 12_000 };

/** A process's kept output under its name, for a failure report. */
export const logOf = (p: Proc) => `--- ${p.name} ---\n${p.log()}`;

export type SimTiming = Required<Pick<SimOptions, "ttftMs" | "tokensPerSec" | "tokens">>;

export interface BenchStack {
  dir: string;
  backends: Backend[];
  sims: Proc;
  switchyard: Proc;
  envoyA: Proc;
  envoyB: Proc;
  /** The floor: Envoy F and its do-nothing ext_proc server. */
  floor: Proc;
  envoyF: Proc;
  /** The Go floor: Envoy G and its do-nothing Go ext_proc server. */
  goFloor: Proc;
  envoyG: Proc;
  /** Listener URLs: A = Envoy + switchyard, B = Envoy alone, F and G = Envoy + a floor server. */
  urlA: string;
  urlB: string;
  urlF: string;
  urlG: string;
  /** Envoy admin URLs of A and B. */
  adminA: string;
  adminB: string;
  sidecarUrl: string;
  logs(): string;
  stop(): Promise<void>;
}

export interface BenchStackOptions {
  /** Fast answers for the latency and throughput phases. */
  timing: SimTiming;
  /** Extra node flags for switchyard (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  switchyardNodeArgs?: string[];
  /** The same for the grpc-js floor server (stack F), to profile it beside switchyard. */
  floorNodeArgs?: string[];
  /** Extra Envoy arguments for stack A (e.g. a component log level while investigating). */
  envoyArgs?: string[];
}

function policyYaml(backends: Backend[]): string {
  return `# data-plane bench: one class, one pool of two simulated backends
version: 1
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
}

const url = (port: number) => `http://127.0.0.1:${port}`;

/** Free ports for every listener of the bench, by role. */
async function benchPorts() {
  const free = await freePorts(16);
  const next = () => free.shift() as number;
  return {
    sims: [next(), next()],
    a: { listen: next(), admin: next(), grpc: next(), http: next() },
    b: { listen: next(), admin: next() },
    f: { listen: next(), admin: next(), grpc: next(), http: next() },
    g: { listen: next(), admin: next(), grpc: next(), http: next() },
  };
}
type Ports = Awaited<ReturnType<typeof benchPorts>>;

/** The simulated backends, in their own process. */
async function startSims(dir: string, backends: Backend[], timing: SimTiming): Promise<Proc> {
  const fleet: SimOptions[] = backends.map((b) => ({
    name: b.name,
    servedModel: MODEL,
    aliases: [CLIENT_MODEL],
    host: "127.0.0.1",
    port: b.port,
    ...timing,
    maxRecorded: 100,
    maxModelLen: 10_000_000,
  }));
  const fleetFile = join(dir, "fleet.json");
  await writeFile(fleetFile, JSON.stringify(fleet, null, 2));
  const simMain = join(ROOT, "dist", "test", "sim", "main.js");
  const sims = startProc("sims", process.execPath, [simMain, "--fleet", fleetFile], BENCH_PROC);
  for (const b of backends) await waitFor(`sim ${b.name}`, async () => (await fetch(`${b.url}/health`)).ok);
  return sims;
}

/** Stack A: switchyard serve, then Envoy with the bootstrap it writes. */
async function startStackA(
  dir: string,
  p: Ports["a"],
  backends: Backend[],
  o: BenchStackOptions,
  track: Track,
) {
  const policyFile = join(dir, "policy.yml");
  await writeFile(policyFile, policyYaml(backends));
  const bootstrap = join(dir, "envoy-switchyard.json");
  const switchyard = track(
    startSidecar({
      ...BENCH_PROC,
      policyFile,
      xdsDir: join(dir, "xds"),
      grpcPort: p.grpc,
      httpPort: p.http,
      flags: { bootstrap, "listen-address": "127.0.0.1", "listen-port": p.listen, "admin-port": p.admin },
      nodeArgs: o.switchyardNodeArgs,
    }),
  );
  await waitReadyz(switchyard, p.http);
  const envoyA = track(startEnvoy("envoy A (switchyard)", bootstrap, { ...BENCH_PROC, args: o.envoyArgs }));
  await waitEnvoyReady(envoyA, url(p.admin), { clusters: "swy." });
  return { switchyard, envoyA, bootstrap };
}

/** Stack B: Envoy alone. */
async function startStackB(dir: string, p: Ports["b"], backends: Backend[], track: Track): Promise<Proc> {
  const bootstrap = join(dir, "envoy-alone.json");
  await writeFile(bootstrap, JSON.stringify(envoyAloneBootstrap(p.listen, p.admin, backends), null, 2));
  const envoyB = track(startEnvoy("envoy B (alone)", bootstrap, BENCH_PROC));
  await waitEnvoyReady(envoyB, url(p.admin));
  return envoyB;
}

/** Stack F: the floor server, then Envoy with A's bootstrap and xDS files pointed at it. */
async function startStackF(
  dir: string,
  p: Ports["f"],
  bootstrapA: string,
  track: Track,
  nodeArgs: string[] = [],
) {
  const floorArgs = [
    ...nodeArgs,
    join(ROOT, "dist", "bench", "floor-extproc.js"),
    ...["--grpc-port", String(p.grpc), "--http-port", String(p.http)],
    ...["--cluster", "swy.bench", "--pool", "bench"],
  ];
  const floor = track(startProc("floor ext_proc server", process.execPath, floorArgs, BENCH_PROC));
  await waitReadyz(floor, p.http);
  const bootstrap = join(dir, "envoy-floor.json");
  const ports = { listenPort: p.listen, adminPort: p.admin, grpcPort: p.grpc, httpPort: p.http };
  // F's Envoy writes its access log to a file of its own, which nothing reads: the floor pays
  // Envoy's logging cost and no sidecar's.
  const logA = join(dir, "access-log", "access.log");
  const logF = join(dir, "access-log-floor", "access.log");
  await mkdir(dirname(logF), { recursive: true });
  const textA = readFileSync(bootstrapA, "utf8");
  if (!textA.includes(logA)) throw new Error(`${bootstrapA} does not log to ${logA}`);
  const boot = floorBootstrap(JSON.parse(textA.replaceAll(logA, logF)), ports);
  await writeFile(bootstrap, JSON.stringify(boot, null, 2));
  const envoyF = track(startEnvoy("envoy F (floor)", bootstrap, BENCH_PROC));
  await waitEnvoyReady(envoyF, url(p.admin), { clusters: sidecarHealthy(p.grpc) });
  return { floor, envoyF };
}

/**
 * Stack G: the Go floor server, then Envoy with F's bootstrap (A's, with the floor's changes)
 * given G's ports and pointed at the Go server.
 */
async function startStackG(dir: string, p: Ports["g"], bootstrapF: string, track: Track) {
  const binary = await buildGoFloor();
  const goFloor = track(
    await startGoFloor({
      ...BENCH_PROC,
      binary,
      dir,
      grpcPort: p.grpc,
      httpPort: p.http,
      cluster: "swy.bench",
      pool: "bench",
    }),
  );
  await waitReadyz(goFloor, p.http);
  const bootstrap = join(dir, "envoy-go-floor.json");
  const ports = { listenPort: p.listen, adminPort: p.admin, grpcPort: p.grpc, httpPort: p.http };
  const boot = floorBootstrap(JSON.parse(readFileSync(bootstrapF, "utf8")), ports);
  await writeFile(bootstrap, JSON.stringify(boot, null, 2));
  const envoyG = track(startEnvoy("envoy G (Go floor)", bootstrap, BENCH_PROC));
  await waitEnvoyReady(envoyG, url(p.admin), { clusters: sidecarHealthy(p.grpc) });
  return { goFloor, envoyG };
}

/** Remembers a started process (stopped in reverse order, its output in a failure report). */
type Track = (p: Proc) => Proc;

export async function startBenchStack(o: BenchStackOptions): Promise<BenchStack> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-bench-"));
  const ports = await benchPorts();
  const backends: Backend[] = ports.sims.map((port, i) => ({ name: `s${i + 1}`, port, url: url(port) }));
  const started: Proc[] = [];
  const track: Track = (p) => {
    started.push(p);
    return p;
  };
  const logs = () => started.map(logOf).join("\n");
  const stop = async () => {
    for (const c of [...started].reverse()) await c.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const sims = track(await startSims(dir, backends, o.timing));
    const { switchyard, envoyA, bootstrap } = await startStackA(dir, ports.a, backends, o, track);
    const envoyB = await startStackB(dir, ports.b, backends, track);
    const { floor, envoyF } = await startStackF(dir, ports.f, bootstrap, track, o.floorNodeArgs);
    // startStackF writes F's bootstrap there.
    const { goFloor, envoyG } = await startStackG(dir, ports.g, join(dir, "envoy-floor.json"), track);
    return {
      dir,
      backends,
      sims,
      switchyard,
      envoyA,
      envoyB,
      floor,
      envoyF,
      goFloor,
      envoyG,
      urlA: url(ports.a.listen),
      urlB: url(ports.b.listen),
      urlF: url(ports.f.listen),
      urlG: url(ports.g.listen),
      adminA: url(ports.a.admin),
      adminB: url(ports.b.admin),
      sidecarUrl: url(ports.a.http),
      logs,
      stop,
    };
  } catch (err) {
    const text = logs();
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
}

/** Changes the timing of every simulated backend (applies to requests that arrive afterwards). */
export async function setSimTiming(backends: Backend[], timing: SimTiming): Promise<void> {
  for (const b of backends) {
    const res = await fetch(`${b.url}/sim/mode`, { method: "POST", body: JSON.stringify(timing) });
    if (!res.ok) throw new Error(`sim ${b.name}: POST /sim/mode answered ${res.status}`);
  }
}

/** Selected counters from an Envoy admin /stats (name → value); missing ones read 0. */
export async function envoyCounters(adminUrl: string, names: string[]): Promise<Record<string, number>> {
  const all = await envoyStats(adminUrl);
  return Object.fromEntries(names.map((n) => [n, all[n] ?? 0]));
}

/** Generation responses the simulated backends still have open, summed. */
export async function simOpen(backends: Backend[]): Promise<number> {
  let open = 0;
  for (const b of backends)
    open += ((await (await fetch(`${b.url}/sim/stats`)).json()) as { open: number }).open;
  return open;
}
