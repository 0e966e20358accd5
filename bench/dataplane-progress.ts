// The data-plane bench's live progress line on stderr: what runs now, how far into it, how much
// of the planned measuring time is done and about how long is left. On a terminal the line is
// redrawn every half second; into a file or a pipe, one line per measurement is written instead.

const TICK_MS = 500;

const clock = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
};

export class Progress {
  private readonly t0 = Date.now();
  /** Measuring time (segments and warm-ups) done, and planned in all. */
  private doneMs = 0;
  private current: { what: string; ms: number; start: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly live = process.stderr.isTTY === true;
  constructor(private plannedMs: number) {}

  /** A permanent line (a measurement starts, a phase is skipped, …). */
  say(text: string): void {
    this.clear();
    process.stderr.write(`bench: ${text}  [${this.eta()}]\n`);
    this.draw();
  }

  /** Planned time that will not be spent (a rate A does not hold). */
  skip(ms: number): void {
    this.plannedMs -= ms;
  }

  /** Runs `work`, expected to take `ms`, with the live line naming it. */
  async run<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
    this.current = { what, ms, start: Date.now() };
    if (this.live && this.timer === undefined) {
      this.timer = setInterval(() => this.draw(), TICK_MS);
      this.timer.unref();
    }
    this.draw();
    try {
      return await work();
    } finally {
      this.doneMs += ms;
      this.current = undefined;
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private eta(): string {
    const elapsed = Date.now() - this.t0;
    const inSegment = this.current ? Math.min(this.current.ms, Date.now() - this.current.start) : 0;
    const done = this.doneMs + inSegment;
    // Warm-ups between segments, settling and start-up make the run slower than its plan.
    const slowdown = done > 0 ? Math.max(1, elapsed / done) : 1;
    const pct = this.plannedMs > 0 ? Math.min(100, (100 * done) / this.plannedMs) : 100;
    const left = Math.max(0, this.plannedMs - done) * slowdown;
    return `${pct.toFixed(0)} %, ${clock(elapsed)} elapsed, ~${clock(left)} left`;
  }

  private draw(): void {
    if (!this.live || this.current === undefined) return;
    const c = this.current;
    const at = Math.min(c.ms, Date.now() - c.start);
    const line = `bench: ${c.what} ${clock(at)}/${clock(c.ms)}  [${this.eta()}]`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  }

  private clear(): void {
    if (this.live) process.stderr.write("\r\x1b[2K");
  }
}
