// The parent side of the load generator protocol (bench/load-protocol.ts): one job at a
// time over IPC, each answered by one reply.
import type { ChildProcess } from "node:child_process";
import type {
  ClosedResult,
  HoldResult,
  Job,
  OpenResult,
  ReleaseResult,
  Reply,
  Target,
} from "./load-protocol.js";

/** Sends jobs to the load generator one at a time and waits for each reply. */
export class LoadDriver {
  private waiting: ((r: Reply) => void) | undefined;
  constructor(private readonly child: ChildProcess) {
    child.on("message", (m: Reply) => this.waiting?.(m));
    child.once("exit", (code) => this.waiting?.({ op: "error", message: `load generator exited (${code})` }));
  }
  private run(job: Job): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.child.send(job);
    });
  }
  private async expect<T>(job: Job): Promise<T> {
    const r = await this.run(job);
    if (r.op === "error") throw new Error(`load generator: ${r.message}`);
    return r.result as T;
  }
  open = (j: Target & { rate: number; durationMs: number }) => this.expect<OpenResult>({ op: "open", ...j });
  closed = (j: Target & { concurrency: number; durationMs: number }) =>
    this.expect<ClosedResult>({ op: "closed", ...j });
  hold = (j: Target & { count: number; perSec: number; timeoutMs: number }) =>
    this.expect<HoldResult>({ op: "hold", ...j });
  release = () => this.expect<ReleaseResult>({ op: "release" });
  exit(): void {
    if (this.child.connected) this.child.send({ op: "exit" } satisfies Job);
  }
}
