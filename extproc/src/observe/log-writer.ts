// Writes log lines to stdout without blocking the event loop: lines are joined per tick
// and handed to an fs.WriteStream (libuv's thread pool does the write), so a line is never
// split across writes and a slow stdout costs memory, not latency. Past a bound, lines are
// dropped and counted rather than buffered without limit.
//
// Logging never takes routing down: a broken stdout (EPIPE on a closed pipe, ENOSPC on a full
// disk) is reported once on stderr, its lines are dropped and counted, and a fresh stream is
// tried again after a pause (a full disk may get space back).
import { createWriteStream, type WriteStream } from "node:fs";

const MAX_PENDING_BYTES = 64 * 1024 * 1024;
const RETRY_MS = 5000;

type Out = WriteStream | NodeJS.WritableStream;

export class LogWriter {
  private batch: string[] = [];
  private scheduled = false;
  private out: Out | undefined;
  private brokenSince: number | undefined;
  private reported = false;
  /** Settles once the last write handed to the stream is done (or the stream failed). */
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly waiting = new Set<() => void>();
  dropped = 0;
  /** Called for each line dropped (metrics). */
  onDrop: (reason: "backpressure" | "broken") => void = () => {};

  constructor(
    private readonly open: () => Out = () => createWriteStream("", { fd: 1, autoClose: false }),
    private readonly warn: (msg: string) => void = (m) => process.stderr.write(`switchyard: ${m}\n`),
    private readonly now: () => number = Date.now,
  ) {
    this.out = this.attach(open());
  }

  write(obj: object): void {
    if (this.out === undefined && !this.retry()) {
      this.drop("broken");
      return;
    }
    const pending = (this.out as WriteStream).writableLength ?? 0;
    if (pending > MAX_PENDING_BYTES) {
      this.drop("backpressure");
      return;
    }
    this.batch.push(JSON.stringify(obj));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const text = `${this.batch.join("\n")}\n`;
    const lines = this.batch.length;
    this.batch = [];
    if (this.out === undefined) {
      for (let i = 0; i < lines; i++) this.drop("broken");
      return;
    }
    const out = this.out;
    this.lastWrite = new Promise<void>((resolve) => {
      this.waiting.add(resolve);
      out.write(text, () => {
        this.waiting.delete(resolve);
        resolve();
      });
    });
  }

  /**
   * Resolves once every line written so far has reached stdout (or was dropped and counted):
   * the access-log reader moves its checkpoint only past lines that are out.
   */
  written(): Promise<void> {
    this.flush();
    return this.lastWrite;
  }

  private drop(reason: "backpressure" | "broken"): void {
    this.dropped++;
    this.onDrop(reason);
  }

  private attach(out: Out): Out {
    (out as NodeJS.EventEmitter).on("error", (err: NodeJS.ErrnoException) => {
      if (this.out !== out) return;
      this.out = undefined;
      // Lines in a failed write are dropped, not pending: nobody waits on them.
      for (const resolve of this.waiting) resolve();
      this.waiting.clear();
      this.brokenSince = this.now();
      if (!this.reported) {
        this.reported = true;
        this.warn(
          `stdout failed (${err.code ?? err.message}): request log lines are dropped and counted (switchyard_log_lines_dropped_total); routing goes on`,
        );
      }
    });
    return out;
  }

  /** After a pause, a fresh stream; false while still paused. */
  private retry(): boolean {
    if (this.brokenSince !== undefined && this.now() - this.brokenSince < RETRY_MS) return false;
    try {
      this.out = this.attach(this.open());
      this.brokenSince = undefined;
      return true;
    } catch {
      this.brokenSince = this.now();
      return false;
    }
  }
}
