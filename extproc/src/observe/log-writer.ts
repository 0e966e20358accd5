// Writes log lines to stdout without blocking the event loop: lines are joined per tick
// and handed to an fs.WriteStream (libuv's thread pool does the write), so a line is never
// split across writes and a slow stdout costs memory, not latency. Past a bound, lines are
// dropped and counted rather than buffered without limit.
import { createWriteStream, type WriteStream } from "node:fs";

const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export class LogWriter {
  private batch: string[] = [];
  private scheduled = false;
  dropped = 0;

  constructor(private readonly out: WriteStream | NodeJS.WritableStream = createWriteStream("", { fd: 1 })) {}

  write(obj: object): void {
    const pending = (this.out as WriteStream).writableLength ?? 0;
    if (pending > MAX_PENDING_BYTES) {
      this.dropped++;
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
    this.batch = [];
    this.out.write(text);
  }
}
