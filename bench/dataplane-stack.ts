// The processes of the data-plane bench, all on 127.0.0.1 with free ports: the simulated
// backends (one separate process), switchyard `serve`, Envoy with switchyard's bootstrap (stack
// A), a second Envoy with a hand-built bootstrap straight to the same backends (B), and a third
// Envoy with A's bootstrap and xDS pointed at a do-nothing grpc-js server (F, the floor:
// bench/floor-extproc.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envoyBin, freePort, ROOT, waitFor } from "../devkit/processes.js";
import { HCM_BASE } from "../extproc/src/envoy/bootstrap.js";
import { NO_BREAKER_LIMITS, STREAM_IDLE_S } from "../extproc/src/envoy/render-xds.js";
import type { SimOptions } from "../test/sim/types.js";

export const MODEL = "bench-model";
/**
 * The name the bench's client sends by default: the sims also serve it (vLLM takes several
 * --served-model-name values), so B and F pass it through while switchyard rewrites it to MODEL,
 * the pool's served_model, as it would for a client that names models its own way.
 */
export const CLIENT_MODEL = "bench-client-model";
const T = "type.googleapis.com/";
const LOG_CHUNKS = 400;

/** A child process we started; output kept (bounded) for when something fails. */
export class Child {
  private readonly out: string[] = [];
  readonly exited: Promise<void>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer) => {
      this.out.push(d.toString());
      if (this.out.length > LOG_CHUNKS) this.out.splice(0, this.out.length - LOG_CHUNKS);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((r) => child.once("exit", () => r()));
  }
  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 12_000);
    await this.exited;
    clearTimeout(t);
  }
  log(): string {
    return `--- ${this.name} ---\n${this.out.join("")}`;
  }
}

/** Soft and hard "Max open files" of this process (children inherit them). */
export function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line?.match(/(\d+|unlimited)\s+(\d+|unlimited)/)?.slice(1) ?? ["1024", "1024"]).map(
    (v) => (v === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(v)),
  );
  return { soft: soft as number, hard: hard as number };
}

/**
 * Spawns `cmd args`, raising the soft open-file limit to `nofile` (within the hard limit)
 * through `sh -c 'ulimit -n N; exec …'` when it is lower; exec keeps the pid.
 */
export function spawnWithFiles(
  cmd: string,
  args: string[],
  nofile: number,
  opts: Parameters<typeof spawn>[2],
): ChildProcess {
  const { soft, hard } = openFileLimits();
  if (soft >= nofile) return spawn(cmd, args, opts);
  const n = Math.min(nofile, hard);
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return spawn("sh", ["-c", `ulimit -n ${n} && exec ${quoted}`], opts);
}

const NOFILE = 16_384;
const quiet = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };

export interface Backend {
  name: string;
  port: number;
  url: string;
}

export interface BenchStack {
  dir: string;
  backends: Backend[];
  sims: Child;
  switchyard: Child;
  envoyA: Child;
  envoyB: Child;
  /** The floor: Envoy F and its do-nothing ext_proc server. */
  floor: Child;
  envoyF: Child;
  /** Listener URLs: A = Envoy + switchyard, B = Envoy alone, F = Envoy + the floor server. */
  urlA: string;
  urlB: string;
  urlF: string;
  /** Envoy admin URLs of A and B. */
  adminA: string;
  adminB: string;
  sidecarUrl: string;
  logs(): string;
  stop(): Promise<void>;
}

export interface BenchStackOptions {
  /** Fast answers for the latency and throughput phases. */
  timing: Required<Pick<SimOptions, "ttftMs" | "tokensPerSec" | "tokens">>;
  /** Extra node flags for switchyard (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  switchyardNodeArgs?: string[];
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

/**
 * Envoy alone: the listener and HCM settings of switchyard's bootstrap (codec, timeouts) without
 * any ext_proc filter, one static LEAST_REQUEST cluster of the same backends, route timeout 0.
 */
export function envoyAloneBootstrap(listenPort: number, adminPort: number, backends: Backend[]): object {
  const cluster = "direct";
  const socket = (port: number) => ({ socket_address: { address: "127.0.0.1", port_value: port } });
  const chatRoute = (path: string) => ({
    match: { path, headers: [{ name: ":method", string_match: { exact: "POST" } }] },
    route: { cluster, timeout: "0s", idle_timeout: `${STREAM_IDLE_S}s` },
  });
  return {
    node: { id: "bench-envoy-alone", cluster: "bench" },
    admin: { address: socket(adminPort) },
    static_resources: {
      listeners: [
        {
          name: "llm",
          address: socket(listenPort),
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
                    ...HCM_BASE,
                    route_config: {
                      name: "direct",
                      virtual_hosts: [
                        {
                          name: "direct",
                          domains: ["*"],
                          routes: [chatRoute("/v1/chat/completions"), chatRoute("/v1/completions")],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: "envoy.filters.http.router",
                        typed_config: { "@type": `${T}envoy.extensions.filters.http.router.v3.Router` },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: cluster,
          type: "STATIC",
          connect_timeout: "1s",
          lb_policy: "LEAST_REQUEST",
          // Same limits as switchyard's path clusters, so neither side hits a default breaker.
          circuit_breakers: NO_BREAKER_LIMITS,
          load_assignment: {
            cluster_name: cluster,
            endpoints: [{ lb_endpoints: backends.map((b) => ({ endpoint: { address: socket(b.port) } })) }],
          },
        },
      ],
    },
  };
}

interface Bootstrap {
  admin: { address: { socket_address: { port_value: number } } };
  static_resources: {
    listeners: { address: { socket_address: { port_value: number } } }[];
    clusters: {
      name: string;
      load_assignment: {
        endpoints: {
          lb_endpoints: {
            endpoint: {
              address: { socket_address: { port_value: number } };
              health_check_config?: { port_value: number };
            };
          }[];
        }[];
      };
    }[];
  };
}

/** A's bootstrap with its own listener and admin ports and the sidecar clusters pointed at the floor server. */
function floorBootstrap(
  b: Bootstrap,
  p: { listenPort: number; adminPort: number; grpcPort: number; httpPort: number },
): Bootstrap {
  b.admin.address.socket_address.port_value = p.adminPort;
  for (const l of b.static_resources.listeners) l.address.socket_address.port_value = p.listenPort;
  for (const c of b.static_resources.clusters) {
    if (c.name !== "switchyard_grpc" && c.name !== "switchyard_als") continue;
    for (const group of c.load_assignment.endpoints) {
      // One sidecar endpoint is enough for the floor.
      group.lb_endpoints = group.lb_endpoints.slice(0, 1);
      for (const e of group.lb_endpoints) {
        e.endpoint.address.socket_address.port_value = p.grpcPort;
        if (e.endpoint.health_check_config) e.endpoint.health_check_config.port_value = p.httpPort;
      }
    }
  }
  return b;
}

async function ok(url: string): Promise<boolean> {
  return (await fetch(url)).ok;
}

function startEnvoy(name: string, bootstrap: string, extra: string[] = []): Child {
  const args = ["-c", bootstrap, "--use-dynamic-base-id", "-l", "warning", ...extra];
  return new Child(name, spawnWithFiles(envoyBin(), args, NOFILE, quiet));
}

export async function startBenchStack(o: BenchStackOptions): Promise<BenchStack> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-bench-"));
  const ports = async (n: number) => Promise.all(Array.from({ length: n }, freePort));
  const [p1, p2, listenA, adminA, grpc, http, listenB, adminB, listenF, adminF, grpcF, httpF] =
    await ports(12);
  const backends: Backend[] = [p1, p2].map((port, i) => ({
    name: `s${i + 1}`,
    port: port as number,
    url: `http://127.0.0.1:${port}`,
  }));

  const started: Child[] = [];
  const logs = () => started.map((c) => c.log()).join("\n");
  const stop = async () => {
    for (const c of [...started].reverse()) await c.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // The simulated backends, in their own process.
    const fleet: SimOptions[] = backends.map((b) => ({
      name: b.name,
      servedModel: MODEL,
      aliases: [CLIENT_MODEL],
      host: "127.0.0.1",
      port: b.port,
      ...o.timing,
      maxRecorded: 100,
      maxModelLen: 10_000_000,
    }));
    const fleetFile = join(dir, "fleet.json");
    await writeFile(fleetFile, JSON.stringify(fleet, null, 2));
    const simMain = join(ROOT, "dist", "test", "sim", "main.js");
    const sims = new Child(
      "sims",
      spawnWithFiles(process.execPath, [simMain, "--fleet", fleetFile], NOFILE, quiet),
    );
    started.push(sims);
    for (const b of backends) await waitFor(`sim ${b.name}`, () => ok(`${b.url}/health`));

    // Stack A: switchyard serve, then Envoy with the bootstrap it writes.
    const policyFile = join(dir, "policy.yml");
    await writeFile(policyFile, policyYaml(backends));
    const bootstrapA = join(dir, "envoy-switchyard.json");
    const serveArgs = [
      ...(o.switchyardNodeArgs ?? []),
      join(ROOT, "bin", "switchyard.js"),
      "serve",
      policyFile,
      ...["--xds-dir", join(dir, "xds"), "--bootstrap", bootstrapA],
      ...["--grpc-port", String(grpc), "--http-port", String(http)],
      ...["--listen-address", "127.0.0.1", "--listen-port", String(listenA), "--admin-port", String(adminA)],
    ];
    const switchyard = new Child("switchyard", spawnWithFiles(process.execPath, serveArgs, NOFILE, quiet));
    started.push(switchyard);
    const sidecarUrl = `http://127.0.0.1:${http}`;
    await waitFor("switchyard /readyz", () => ok(`${sidecarUrl}/readyz`));
    const envoyA = startEnvoy("envoy A (switchyard)", bootstrapA, o.envoyArgs);
    started.push(envoyA);
    await waitFor("envoy A ready with routes and clusters", async () => {
      if (!(await ok(`http://127.0.0.1:${adminA}/ready`))) return false;
      const clusters = await (await fetch(`http://127.0.0.1:${adminA}/clusters`)).text();
      return clusters.includes("swy.");
    });

    // Stack B: Envoy alone.
    const bootstrapB = join(dir, "envoy-alone.json");
    await writeFile(
      bootstrapB,
      JSON.stringify(envoyAloneBootstrap(listenB as number, adminB as number, backends), null, 2),
    );
    const envoyB = startEnvoy("envoy B (alone)", bootstrapB);
    started.push(envoyB);
    await waitFor("envoy B ready", () => ok(`http://127.0.0.1:${adminB}/ready`));

    // Stack F: the floor server, then Envoy with A's bootstrap and xDS files pointed at it.
    const floor = new Child(
      "floor ext_proc server",
      spawnWithFiles(
        process.execPath,
        [
          join(ROOT, "dist", "bench", "floor-extproc.js"),
          ...["--grpc-port", String(grpcF), "--http-port", String(httpF)],
          ...["--cluster", "swy.bench", "--pool", "bench"],
        ],
        NOFILE,
        quiet,
      ),
    );
    started.push(floor);
    await waitFor("floor server /readyz", () => ok(`http://127.0.0.1:${httpF}/readyz`));
    const bootstrapF = join(dir, "envoy-floor.json");
    const bootF = floorBootstrap(JSON.parse(readFileSync(bootstrapA, "utf8")), {
      listenPort: listenF as number,
      adminPort: adminF as number,
      grpcPort: grpcF as number,
      httpPort: httpF as number,
    });
    await writeFile(bootstrapF, JSON.stringify(bootF, null, 2));
    const envoyF = startEnvoy("envoy F (floor)", bootstrapF);
    started.push(envoyF);
    await waitFor("envoy F ready with routes and clusters", async () => {
      if (!(await ok(`http://127.0.0.1:${adminF}/ready`))) return false;
      const clusters = await (await fetch(`http://127.0.0.1:${adminF}/clusters`)).text();
      return clusters.includes(`switchyard_grpc::127.0.0.1:${grpcF}::health_flags::healthy`);
    });

    return {
      dir,
      backends,
      sims,
      switchyard,
      envoyA,
      envoyB,
      floor,
      envoyF,
      urlA: `http://127.0.0.1:${listenA}`,
      urlB: `http://127.0.0.1:${listenB}`,
      urlF: `http://127.0.0.1:${listenF}`,
      adminA: `http://127.0.0.1:${adminA}`,
      adminB: `http://127.0.0.1:${adminB}`,
      sidecarUrl,
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
export async function setSimTiming(
  backends: Backend[],
  timing: Required<Pick<SimOptions, "ttftMs" | "tokensPerSec" | "tokens">>,
): Promise<void> {
  for (const b of backends) {
    const res = await fetch(`${b.url}/sim/mode`, { method: "POST", body: JSON.stringify(timing) });
    if (!res.ok) throw new Error(`sim ${b.name}: POST /sim/mode answered ${res.status}`);
  }
}

/** Selected counters from an Envoy admin /stats (name → value); missing ones read 0. */
export async function envoyCounters(adminUrl: string, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/stats`)).text();
  const all = new Map<string, number>();
  for (const line of text.split("\n")) {
    const i = line.lastIndexOf(": ");
    if (i > 0) all.set(line.slice(0, i), Number(line.slice(i + 2)));
  }
  return Object.fromEntries(names.map((n) => [n, all.get(n) ?? 0]));
}

/** Generation responses the simulated backends still have open, summed. */
export async function simOpen(backends: Backend[]): Promise<number> {
  let open = 0;
  for (const b of backends)
    open += ((await (await fetch(`${b.url}/sim/stats`)).json()) as { open: number }).open;
  return open;
}
