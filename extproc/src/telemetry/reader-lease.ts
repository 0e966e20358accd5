// One reader per access-log file among the sidecars that share it. The lease is an abstract
// Unix socket named after the file: only one process can bind a name, and the kernel frees it
// when that process ends, however it ends (kill -9 included), so a waiting sidecar takes over
// within one retry. Abstract names belong to the network namespace, which sidecars sharing a
// file share too (one Kubernetes pod, or docker compose's shared network namespace).
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:net";
import { platform } from "node:os";
import { resolve } from "node:path";

export class ReaderLease {
  private server: Server | undefined;
  private cancelled = false;
  private wake: (() => void) | undefined;

  constructor(
    /** The abstract socket name, without the leading NUL. */
    readonly name: string,
    private readonly retryMs = 200,
  ) {}

  static forFile(file: string, retryMs?: number): ReaderLease {
    const digest = createHash("sha256").update(resolve(file)).digest("hex").slice(0, 32);
    return new ReaderLease(`switchyard-access-log-${digest}`, retryMs);
  }

  get held(): boolean {
    return this.server !== undefined;
  }

  /**
   * Resolves true once this process holds the lease (waiting while another one does), false
   * if cancelled first. Off Linux (no abstract sockets) the lease is granted at once: run one
   * sidecar per access-log file there.
   */
  async acquire(): Promise<boolean> {
    if (platform() !== "linux") return !this.cancelled;
    while (!this.cancelled) {
      const server = await this.tryBind();
      if (server) {
        if (this.cancelled) {
          server.close();
          return false;
        }
        this.server = server;
        return true;
      }
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, this.retryMs);
      });
    }
    return false;
  }

  /** Stops a pending acquire. */
  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  /** Gives the lease up (a waiting sidecar gets it within its retry interval). */
  async release(): Promise<void> {
    this.cancel();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private tryBind(): Promise<Server | undefined> {
    return new Promise((res, rej) => {
      const server = createServer((socket) => socket.destroy());
      server.once("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE") res(undefined);
        else rej(err);
      });
      server.listen({ path: `\0${this.name}` }, () => {
        server.unref();
        res(server);
      });
    });
  }
}
