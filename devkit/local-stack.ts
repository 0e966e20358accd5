// Envoy in front of several switchyard sidecars on loopback, the way the local stack runs them
// (`npm run stack`) and the chaos report drives them: the sidecars first (each on its own ports,
// all writing the same xDS directory and sharing Envoy's access-log file), then a bootstrap that
// names them all, then Envoy. A random caller token goes to every process in its environment.
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_BOOTSTRAP, type SidecarEndpoint } from "../extproc/src/envoy/bootstrap.js";
import { writeBootstrap } from "../extproc/src/envoy/write-xds.js";
import { TOKEN_ENV } from "../extproc/src/vocab/names.js";
import {
  type Proc,
  sidecarHealthy,
  startEnvoy,
  startSidecar,
  waitEnvoyReady,
  waitFor,
  waitReadyz,
} from "./processes.js";

export interface LocalStackOptions {
  policyFile: string;
  /** Holds xds/, access-log/ and envoy.json. */
  dir: string;
  listenPort: number;
  adminPort: number;
  /** One per sidecar. */
  sidecars: { grpcPort: number; httpPort: number }[];
  /** switchyard's --drain-ms (its default when absent). */
  drainMs?: number;
  /** "inherit" passes every process's output through (the local stack). */
  output?: "pipe" | "inherit";
}

export class LocalStack {
  readonly url: string;
  readonly adminUrl: string;
  readonly accessLogFile: string;
  /** The sidecar now in each slot. */
  readonly sidecars: Proc[] = [];
  /** Sidecars that were replaced (their output is kept). */
  readonly retired: Proc[] = [];
  envoy: Proc | undefined;
  private readonly env: Record<string, string>;
  private policyFile: string;

  private constructor(private readonly o: LocalStackOptions) {
    this.url = `http://127.0.0.1:${o.listenPort}`;
    this.adminUrl = `http://127.0.0.1:${o.adminPort}`;
    this.accessLogFile = join(o.dir, "access-log", "access.log");
    this.env = { [TOKEN_ENV]: randomBytes(16).toString("hex") };
    this.policyFile = o.policyFile;
  }

  /** Sidecars started from now on load `file` (a policy swapped by restarting them). */
  usePolicy(file: string): void {
    this.policyFile = file;
  }

  static async start(o: LocalStackOptions): Promise<LocalStack> {
    const s = new LocalStack(o);
    await mkdir(o.dir, { recursive: true });
    try {
      for (let i = 0; i < o.sidecars.length; i++) s.sidecars.push(s.launch(i));
      for (const [i, p] of s.sidecars.entries()) await waitReadyz(p, s.endpoint(i).httpPort);
      const bootstrap = join(o.dir, "envoy.json");
      await writeBootstrap(bootstrap, {
        ...DEFAULT_BOOTSTRAP,
        listenAddress: "127.0.0.1",
        listenPort: o.listenPort,
        adminPort: o.adminPort,
        sidecars: o.sidecars.map((_, i) => s.endpoint(i)),
        xdsDir: join(o.dir, "xds"),
        accessLogFile: s.accessLogFile,
      });
      s.envoy = startEnvoy("envoy", bootstrap, { output: o.output, env: s.env });
      await waitEnvoyReady(s.envoy, s.adminUrl, { routes: "switchyard", clusters: "swy." });
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  endpoint(i: number): SidecarEndpoint {
    const ports = this.o.sidecars[i];
    if (!ports) throw new Error(`no sidecar slot ${i}`);
    return { address: "127.0.0.1", ...ports };
  }

  /** Starts a sidecar for slot i (the caller waits for it). */
  launch(i: number): Proc {
    const ep = this.endpoint(i);
    const flags: Record<string, string | number> = {
      "admin-port": this.o.adminPort,
      "access-log": this.accessLogFile,
    };
    if (this.o.drainMs !== undefined) flags["drain-ms"] = this.o.drainMs;
    return startSidecar({
      name: `sidecar ${String.fromCharCode(97 + i)}`,
      policyFile: this.policyFile,
      xdsDir: join(this.o.dir, "xds"),
      grpcPort: ep.grpcPort,
      httpPort: ep.httpPort,
      flags,
      output: this.o.output,
      env: this.env,
    });
  }

  /** Puts a new sidecar in slot i (after the old one exited) and waits until it answers /readyz. */
  async replace(i: number): Promise<Proc> {
    const old = this.sidecars[i];
    if (old) this.retired.push(old);
    const next = this.launch(i);
    this.sidecars[i] = next;
    await waitReadyz(next, this.endpoint(i).httpPort);
    return next;
  }

  /**
   * Stops sidecar i (SIGTERM: it drains; SIGKILL: it dies at once), starts a new one on the same
   * ports and waits until Envoy's health check passes it: one step of a rolling restart.
   */
  async restartSidecar(i: number, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const old = this.sidecars[i] as Proc;
    if (signal === "SIGKILL") {
      old.child.kill("SIGKILL");
      await old.exited;
    } else await old.stop();
    await this.replace(i);
    const healthy = sidecarHealthy(this.endpoint(i).grpcPort);
    await waitFor("envoy sees the new sidecar healthy", async () =>
      (await (await fetch(`${this.adminUrl}/clusters`)).text()).includes(healthy),
    );
  }

  /** Every sidecar process this stack started, replaced ones included. */
  allSidecars(): Proc[] {
    return [...this.retired, ...this.sidecars];
  }

  async stop(): Promise<void> {
    await this.envoy?.stop();
    await Promise.all(this.sidecars.map((p) => p.stop()));
  }
}
