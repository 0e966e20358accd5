// Reads Envoy's access-log file (envoy/access-log-format.ts) line by line, from where the last
// reader stopped. The position is kept in `<file>.offset` and moves only once the lines read
// so far are out (`settled`), so a reader that stops hands over cleanly, and one that dies
// (kill -9) leaves at most its last batch (64 KiB) to be read again: lines can repeat then,
// never go missing. The position file also says where the batch in hand ends, so the next
// reader says on stderr which bytes may come out twice. Envoy keeps writing while no sidecar
// reads; the next reader catches up.
//
// Rotation: past `rotateBytes` the reader renames the file to `<file>.1` and asks Envoy to
// reopen its logs (admin /reopen_logs), which creates a new file; Envoy closes the old one
// before it creates the new one, so once the new file exists the old one is complete. The
// reader finishes `<file>.1`, deletes it and goes on with the new file.
import { type FileHandle, open, readFile, rename, stat, unlink } from "node:fs/promises";
import type { AccessLogEntry } from "./access-log.js";

export interface TailOptions {
  file: string;
  /** Each complete line, parsed, in file order. */
  onEntry: (entry: AccessLogEntry) => void;
  /** A line that is not a JSON object (counted, skipped). */
  onBadLine: () => void;
  /** Resolves once what onEntry produced so far is out; the position moves only then. */
  settled: () => Promise<void>;
  /** Asks Envoy to reopen its access log. */
  reopen: () => Promise<void>;
  /** Rotate past this size. */
  rotateBytes: number;
  /** How often to look for new lines at the end of the file. */
  pollMs?: number;
  log: (msg: string) => void;
  /** Bytes written by Envoy and not read yet, after each look. */
  onLag?: (bytes: number) => void;
  /**
   * Follow only: start at the end of the file, keep no position, never rotate or delete (a
   * sidecar without the reader lease follows the log for its fleet view).
   */
  follow?: boolean;
}

interface Position {
  path: string;
  ino: number;
  offset: number;
}

/** One batch: what a reader that dies may leave to be read again. */
const BATCH_BYTES = 64 << 10;
const MAX_LINE = 64 << 20;
const REOPEN_RETRY_MS = 5_000;

async function statOf(path: string) {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

export class AccessLogTail {
  private fd: FileHandle | undefined;
  private pos: Position | undefined;
  private buf = Buffer.alloc(BATCH_BYTES);
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastReopen = 0;
  /** The position file, open for writing in place (this reader's own). */
  private ckpt: FileHandle | undefined;
  private savedLength = 0;
  readonly rotated: string;
  readonly checkpoint: string;

  constructor(private readonly o: TailOptions) {
    this.rotated = `${o.file}.1`;
    this.checkpoint = `${o.file}.offset`;
  }

  /** True once a file is open (the position is known). */
  get reading(): boolean {
    return this.pos !== undefined;
  }

  start(): void {
    this.loop = this.run().catch((err: Error) => this.o.log(`access log reader stopped: ${err.message}`));
  }

  /** Finishes the batch in hand, saves the position and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping && this.pos === undefined) {
      const at = await this.resume();
      if (at) await this.openAt(at);
      else await this.sleep();
    }
    while (!this.stopping) {
      if ((await this.readBatch()) > 0) continue;
      if (await this.switchIfReplaced()) continue;
      await this.rotateIfLarge();
      await this.sleep();
    }
    await this.fd?.close();
    this.fd = undefined;
    await this.ckpt?.close();
    this.ckpt = undefined;
  }

  private sleep(): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
      setTimeout(r, this.o.pollMs ?? 100);
    });
  }

  /** Where the last reader stopped; else the oldest file there is, from its start. */
  private async resume(): Promise<Position | undefined> {
    if (this.o.follow) {
      const st = await statOf(this.o.file);
      return st ? { path: this.o.file, ino: st.ino, offset: st.size } : undefined;
    }
    let saved: { ino?: unknown; offset?: unknown; pending?: unknown } | undefined;
    try {
      saved = JSON.parse(await readFile(this.checkpoint, "utf8"));
    } catch {
      saved = undefined;
    }
    const files = [];
    for (const path of [this.rotated, this.o.file]) {
      const st = await statOf(path);
      if (st) files.push({ path, ino: st.ino, size: st.size });
    }
    const same = files.find((f) => f.ino === saved?.ino);
    if (same) {
      const offset = typeof saved?.offset === "number" && saved.offset <= same.size ? saved.offset : 0;
      if (typeof saved?.pending === "number" && saved.pending > offset)
        this.o.log(
          `access log: the last reader stopped while handing on bytes ${offset}-${saved.pending} of ${same.path}; their lines may appear twice`,
        );
      return { path: same.path, ino: same.ino, offset };
    }
    const first = files[0];
    if (first === undefined) return undefined;
    if (saved !== undefined)
      this.o.log(
        `access log: ${this.checkpoint} names a file that is gone; reading ${first.path} from its start`,
      );
    return { path: first.path, ino: first.ino, offset: 0 };
  }

  private async openAt(at: Position): Promise<void> {
    await this.fd?.close();
    this.fd = await open(at.path, "r");
    this.pos = { ...at, ino: (await this.fd.stat()).ino };
    await this.save();
  }

  /**
   * The position; `pending`: the end of the batch being handed on (not out yet). Written twice
   * per batch, so in place: one pwrite of the whole (space-padded) JSON at offset 0 through a
   * descriptor kept open, which a killed process leaves either before or after, never half
   * done. (A temporary file and a rename per save cost four file operations each, ~3 % of the
   * sidecar's CPU under load.)
   */
  private async save(pending?: number): Promise<void> {
    if (this.o.follow) return;
    const p = this.pos as Position;
    const text = JSON.stringify({ ino: p.ino, offset: p.offset, ...(pending ? { pending } : {}) });
    // At least as long as the last one, so nothing of it is left behind.
    this.savedLength = Math.max(this.savedLength, text.length);
    const bytes = Buffer.from(text.padEnd(this.savedLength, " "));
    if (this.ckpt !== undefined) {
      await this.ckpt.write(bytes, 0, bytes.length, 0);
      return;
    }
    // This reader's first save replaces the file whole (written, then renamed into place).
    const tmp = `${this.checkpoint}.${process.pid}.tmp`;
    const fh = await open(tmp, "w");
    try {
      await fh.write(bytes, 0, bytes.length, 0);
      await rename(tmp, this.checkpoint);
    } catch (err) {
      await fh.close();
      throw err;
    }
    this.ckpt = fh;
  }

  /** Reads and hands on the complete lines after the position; returns the bytes consumed. */
  private async readBatch(): Promise<number> {
    const fd = this.fd as FileHandle;
    const pos = this.pos as Position;
    const { bytesRead } = await fd.read(this.buf, 0, this.buf.length, pos.offset);
    const end = bytesRead === 0 ? -1 : this.buf.lastIndexOf(0x0a, bytesRead - 1);
    if (end < 0) {
      // Only part of a line so far: wait for the rest (and make room for a very long one).
      if (bytesRead === this.buf.length && this.buf.length < MAX_LINE)
        this.buf = Buffer.alloc(this.buf.length * 2);
      await this.reportLag();
      return 0;
    }
    await this.save(pos.offset + end + 1);
    let from = 0;
    while (from <= end) {
      const nl = this.buf.indexOf(0x0a, from);
      if (nl > from) this.handle(this.buf.toString("utf8", from, nl));
      from = nl + 1;
    }
    pos.offset += end + 1;
    await this.o.settled();
    await this.save();
    await this.reportLag();
    return end + 1;
  }

  private handle(line: string): void {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      this.o.onBadLine();
      return;
    }
    this.o.onEntry(entry as AccessLogEntry);
  }

  private async reportLag(): Promise<void> {
    if (!this.o.onLag) return;
    const size = (await (this.fd as FileHandle).stat()).size;
    this.o.onLag(Math.max(0, size - (this.pos as Position).offset));
  }

  /**
   * At the end of the file: when another file now sits at the access log's path (Envoy
   * reopened it after a rotation, or a new Envoy created it), the one being read is complete:
   * finish it and go on with the new one.
   */
  private async switchIfReplaced(): Promise<boolean> {
    const pos = this.pos as Position;
    const live = await statOf(this.o.file);
    if (live === undefined || live.ino === pos.ino) {
      if (pos.path === this.rotated && !this.o.follow && Date.now() - this.lastReopen > REOPEN_RETRY_MS)
        await this.askReopen();
      if (live !== undefined) await this.restartIfTruncated(live.size);
      return false;
    }
    while ((await this.readBatch()) > 0) {}
    const left = (await (this.fd as FileHandle).stat()).size - pos.offset;
    if (left > 0) {
      this.o.log(`access log: ${pos.path} ends in ${left} bytes without a newline; skipped`);
      this.o.onBadLine();
    }
    if (pos.path === this.rotated && !this.o.follow) await unlink(this.rotated).catch(() => {});
    await this.openAt({ path: this.o.file, ino: live.ino, offset: 0 });
    return true;
  }

  private async restartIfTruncated(size: number): Promise<void> {
    const pos = this.pos as Position;
    if (pos.path !== this.o.file || size >= pos.offset) return;
    this.o.log(`access log: ${pos.path} shrank below the read position; reading it from its start`);
    pos.offset = 0;
    await this.save();
  }

  private async rotateIfLarge(): Promise<void> {
    const pos = this.pos as Position;
    if (this.o.follow || pos.path !== this.o.file || pos.offset < this.o.rotateBytes) return;
    if (await statOf(this.rotated)) return;
    await rename(this.o.file, this.rotated);
    pos.path = this.rotated;
    await this.save();
    this.o.log(`access log: rotated ${this.o.file} at ${pos.offset} bytes`);
    await this.askReopen();
  }

  private async askReopen(): Promise<void> {
    this.lastReopen = Date.now();
    try {
      await this.o.reopen();
    } catch (err) {
      this.o.log(`access log: Envoy did not reopen its log (${(err as Error).message}); asking again in 5 s`);
    }
  }
}
