// Policy reloads: on SIGHUP or when the file changes. A new policy is checked, its Envoy files
// written, and only then swapped in; an invalid one, or one whose files cannot be written, is
// refused and the running one kept. The policy's directory is watched, not the file: a save by
// rename (editors, `mv new policy.yml`, a Kubernetes ConfigMap's symlink swap) replaces the file
// a file watch was following, and that watch would never fire again.
import { watch } from "node:fs";
import { basename, dirname } from "node:path";
import type { Policy } from "../policy/compile.js";
import type { PolicyHolder } from "../policy/holder.js";
import { loadPolicyFile } from "../policy/load.js";
import { formatProblem } from "../policy/problems.js";

export interface ReloaderOptions {
  file: string;
  holder: PolicyHolder;
  /** Writes the new policy's Envoy files. */
  publish: (p: Policy) => Promise<void>;
  /** Called after the swap and on a refusal, for metrics. */
  onResult: (result: "applied" | "rejected", policy: Policy) => void;
  log: (msg: string) => void;
  /** Time given to Envoy's directory watch to load new clusters before requests name them. */
  settleMs?: number;
}

export class Reloader {
  private queue: Promise<void> = Promise.resolve();
  private debounce: NodeJS.Timeout | undefined;
  private readonly watcher;

  constructor(private readonly o: ReloaderOptions) {
    const name = basename(o.file);
    this.watcher = watch(dirname(o.file), (_event, changed) => {
      // A ConfigMap swaps its `..data` symlink, not the file; unknown names count too.
      if (changed !== null && changed !== name && !String(changed).startsWith("..")) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reload(), 200);
    });
  }

  /** Queues a reload; reloads run one at a time, in order, and a failed one never stops the next. */
  reload(): Promise<void> {
    this.queue = this.queue.then(() =>
      this.run().catch((err: Error) => {
        this.o.onResult("rejected", this.o.holder.policy);
        this.o.log(`reload failed, keeping policy ${this.o.holder.policy.hash}: ${err.message}`);
      }),
    );
    return this.queue;
  }

  close(): void {
    clearTimeout(this.debounce);
    this.watcher.close();
  }

  private async run(): Promise<void> {
    const { file, holder, log } = this.o;
    const next = await loadPolicyFile(file);
    if (!next.ok) {
      this.o.onResult("rejected", holder.policy);
      log(`reload rejected, keeping policy ${holder.policy.hash}:`);
      for (const e of next.errors) log(`  ${formatProblem(file, e)}`);
      return;
    }
    if (next.policy.hash === holder.policy.hash) return;
    await this.o.publish(next.policy);
    await new Promise((r) => setTimeout(r, this.o.settleMs ?? 1000));
    holder.swap(next.policy);
    this.o.onResult("applied", next.policy);
    log(`reloaded policy ${next.policy.hash}`);
  }
}
