// End-to-end environment: simulated backends, then the switchyard process, then a real
// Envoy, all on loopback with free ports; readiness polled; logs kept for failures.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePorts,
  type Proc,
  ROOT,
  sidecarHealthy,
  startEnvoy,
  startSidecar,
  waitEnvoyReady,
  waitFor,
  waitReadyz,
} from "../../devkit/processes.js";
import { DEFAULT_BOOTSTRAP, type SidecarEndpoint } from "../../extproc/src/envoy/bootstrap.js";
import { writeBootstrap } from "../../extproc/src/envoy/write-xds.js";
import { TOKEN_ENV } from "../../extproc/src/vocab/names.js";
import { type SimFleet, type SimOptions, startSimFleet } from "../sim/sim-backend.js";

export interface Stack {
  url: string;
  adminUrl: string;
  sidecarUrl: string;
  dir: string;
  policyFile: string;
  /** Envoy's access-log file (the sidecars read it). */
  accessLogFile: string;
  /** Each sidecar's address and ports. */
  endpoints: SidecarEndpoint[];
  callerToken: string | false;
  sims: SimFleet;
  /** The first sidecar (the one whose stdout tests read). */
  readonly switchyard: Proc;
  sidecars: Proc[];
  /**
   * Stop sidecar i (SIGTERM: it drains; SIGKILL: it dies at once), start a new one on the same
   * ports, wait until Envoy's health check passes it.
   */
  restartSidecar(i: number, signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Every sidecar process the stack started, replaced ones included (their output is kept). */
  allSidecars(): Proc[];
  /** Sidecars started from now on (restartSidecar) load this policy file instead. */
  usePolicy(file: string): void;
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
  /** The gRPC caller token Envoy and the sidecars share (default: a random one; false: none). */
  callerToken?: string | false;
  /** Further `switchyard serve` flags for every sidecar. */
  sidecarFlags?: Record<string, string | number>;
}

export function fillPolicy(template: string, sims: SimFleet): string {
  return template.replace(/\$\{addr:([\w-]+)\}/g, (_m, name: string) => {
    const sim = sims.byName(name);
    if (!sim) throw new Error(`policy names sim ${name}, which the stack does not start`);
    return sim.address;
  });
}

/** Each sidecar's ports (gRPC, HTTP, from `ports`), and how to start (or restart) one. */
function sidecarPlan(opts: StackOptions, dir: string, policyFile: string, admin: number, ports: number[]) {
  const count = opts.sidecars ?? 1;
  const endpoints: SidecarEndpoint[] = Array.from({ length: count }, (_, i) => ({
    address: "127.0.0.1",
    grpcPort: ports[2 * i] as number,
    httpPort: ports[2 * i + 1] as number,
  }));
  const token = opts.callerToken === undefined ? randomBytes(16).toString("hex") : opts.callerToken;
  const env: Record<string, string> = token === false ? {} : { [TOKEN_ENV]: token };
  const accessLogFile = join(dir, "access-log", "access.log");
  let current = policyFile;
  const usePolicy = (file: string) => {
    current = file;
  };
  const start = (ep: SidecarEndpoint) =>
    startSidecar({
      policyFile: current,
      xdsDir: join(dir, "xds"),
      grpcPort: ep.grpcPort,
      httpPort: ep.httpPort,
      flags: {
        "admin-port": admin,
        "drain-ms": opts.drainMs ?? 100,
        "access-log": accessLogFile,
        ...opts.sidecarFlags,
      },
      env,
    });
  return { endpoints, start, env, token, accessLogFile, usePolicy };
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const sims = await startSimFleet(opts.sims);
  const dir = await mkdtemp(join(tmpdir(), "switchyard-e2e-"));
  const policyFile = join(dir, "policy.yml");
  await writeFile(policyFile, fillPolicy(opts.policy, sims));
  // All at once, so no two of them can be the same port.
  const [listen, admin, ...sidecarPorts] = (await freePorts(2 + 2 * (opts.sidecars ?? 1))) as [
    number,
    number,
    ...number[],
  ];
  const { endpoints, start, env, token, accessLogFile, usePolicy } = sidecarPlan(
    opts,
    dir,
    policyFile,
    admin,
    sidecarPorts,
  );
  const sidecars = endpoints.map(start);
  const bootstrap = join(dir, "envoy.json");
  await writeBootstrap(bootstrap, {
    ...DEFAULT_BOOTSTRAP,
    listenAddress: "127.0.0.1",
    listenPort: listen,
    adminPort: admin,
    sidecars: endpoints,
    xdsDir: join(dir, "xds"),
    accessLogFile,
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  let envoy: Proc | undefined;
  const retired: Proc[] = [];
  const logs = () =>
    `${[...retired, ...sidecars].map((p, i) => `--- switchyard ${i} ---\n${p.log()}`).join("\n")}\n--- envoy ---\n${envoy?.log() ?? ""}`;
  try {
    for (const [i, ep] of endpoints.entries()) await waitReadyz(sidecars[i] as Proc, ep.httpPort);
    envoy = startEnvoy("envoy", bootstrap, { args: opts.envoyArgs, env });
    await waitEnvoyReady(envoy, adminUrl, { routes: "switchyard", clusters: "swy." });
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
    sidecarUrl: `http://127.0.0.1:${(endpoints[0] as SidecarEndpoint).httpPort}`,
    dir,
    policyFile,
    accessLogFile,
    endpoints,
    callerToken: token,
    sims,
    get switchyard() {
      return sidecars[0] as Proc;
    },
    sidecars,
    envoy: started,
    logs,
    allSidecars: () => [...retired, ...sidecars],
    usePolicy,
    async restartSidecar(i: number, signal: "SIGTERM" | "SIGKILL" = "SIGTERM") {
      const ep = endpoints[i] as SidecarEndpoint;
      const old = sidecars[i] as Proc;
      retired.push(old);
      if (signal === "SIGKILL") {
        old.child.kill("SIGKILL");
        await old.exited;
      } else await old.stop();
      const next = start(ep);
      sidecars[i] = next;
      await waitReadyz(next, ep.httpPort);
      // A rolling restart goes on only once Envoy's health check sees the new sidecar.
      await waitFor("envoy sees the new sidecar healthy", async () =>
        (await (await fetch(`${adminUrl}/clusters`)).text()).includes(sidecarHealthy(ep.grpcPort)),
      );
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
