// Recent outcomes per backend and per pool, for /status, the metrics and the FleetView the
// decision reads: a fixed-size ring of samples per key (memory is bounded whatever the
// traffic), read back as percentiles over the policy's window (fleet.window_s).
import { ShareWindow } from "./share.js";

export interface Sample {
  at: number;
  ttftMs: number | undefined;
  /** Arrival to the last byte; undefined for an attempt that failed before a response. */
  durationMs?: number | undefined;
  error: boolean;
}

export interface WindowSummary {
  /** Samples the numbers stand on (with a top-up, more than the window holds). */
  count: number;
  /** Samples inside the window. */
  inWindow: number;
  errorRate: number;
  ttftP50: number | null;
  ttftP95: number | null;
  durationP95: number | null;
  /** Samples per second over the window. */
  rate: number;
}

export const EMPTY_SUMMARY: WindowSummary = {
  count: 0,
  inWindow: 0,
  errorRate: 0,
  ttftP50: null,
  ttftP95: null,
  durationP95: null,
  rate: 0,
};

const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);

export class SlidingWindow {
  private readonly samples: (Sample | undefined)[];
  private next = 0;

  constructor(
    size = 512,
    private readonly horizonMs = 5 * 60 * 1000,
  ) {
    this.samples = new Array(size);
  }

  add(s: Sample): void {
    this.samples[this.next] = s;
    this.next = (this.next + 1) % this.samples.length;
  }

  /** Forget everything (a breaker that closes starts from fresh numbers). */
  clear(): void {
    this.samples.fill(undefined);
  }

  /**
   * Percentiles over the window. With `atLeast`, a window holding fewer samples than that is
   * topped up with the most recent older ones, none older than `maxAgeMs`: a pool whose
   * traffic is thin does not turn cold (back to exploration) the moment its last samples
   * age out. `count` is then the number of samples the numbers stand on; `inWindow` and
   * `rate` stay the window's own.
   */
  summary(now: number, atLeast = 0, maxAgeMs = this.horizonMs): WindowSummary {
    const ttfts: number[] = [];
    const durations: number[] = [];
    let count = 0;
    let errors = 0;
    const take = (s: Sample) => {
      count++;
      if (s.error) errors++;
      if (s.ttftMs !== undefined) ttfts.push(s.ttftMs);
      if (s.durationMs !== undefined && !s.error) durations.push(s.durationMs);
    };
    for (const s of this.samples) {
      if (s === undefined || now - s.at > this.horizonMs) continue;
      take(s);
    }
    const inWindow = count;
    if (count < atLeast && maxAgeMs > this.horizonMs) {
      // Newest first, from the ring's write position backwards: only samples the pass above skipped.
      const n = this.samples.length;
      for (let k = 1; k <= n && count < atLeast; k++) {
        const s = this.samples[(this.next - k + n) % n];
        if (s === undefined) break;
        const age = now - s.at;
        if (age <= this.horizonMs) continue;
        if (age > maxAgeMs) break;
        take(s);
      }
    }
    ttfts.sort((a, b) => a - b);
    durations.sort((a, b) => a - b);
    return {
      count,
      inWindow,
      errorRate: count === 0 ? 0 : errors / count,
      ttftP50: pct(ttfts, 0.5),
      ttftP95: pct(ttfts, 0.95),
      durationP95: pct(durations, 0.95),
      rate: inWindow / (this.horizonMs / 1000),
    };
  }
}

export class WindowSet {
  private windows = new Map<string, SlidingWindow>();
  private poolWindows = new Map<string, SlidingWindow>();
  private size = 512;
  private horizonMs = 5 * 60 * 1000;
  /** Requests per class and serving pool, over the same few minutes. */
  readonly share = new ShareWindow();

  /** Window length and ring size (the policy's fleet section); a change starts every window afresh. */
  configure(size: number, horizonMs: number): void {
    if (size === this.size && horizonMs === this.horizonMs) return;
    this.size = size;
    this.horizonMs = horizonMs;
    this.windows = new Map();
    this.poolWindows = new Map();
  }

  get horizon(): number {
    return this.horizonMs;
  }

  /** A backend's window, by address. */
  get(key: string): SlidingWindow {
    return this.getIn(this.windows, key);
  }
  has(key: string): boolean {
    return this.windows.has(key);
  }
  /** A pool's window: every attempt on any of its backends. */
  pool(name: string): SlidingWindow {
    return this.getIn(this.poolWindows, name);
  }
  hasPool(name: string): boolean {
    return this.poolWindows.has(name);
  }

  /** Drops the windows of backends and pools no longer in the policy (bounded keys). */
  retain(addresses: ReadonlySet<string>, pools: ReadonlySet<string>): void {
    for (const k of this.windows.keys()) if (!addresses.has(k)) this.windows.delete(k);
    for (const k of this.poolWindows.keys()) if (!pools.has(k)) this.poolWindows.delete(k);
  }

  private getIn(map: Map<string, SlidingWindow>, key: string): SlidingWindow {
    let w = map.get(key);
    if (!w) {
      w = new SlidingWindow(this.size, this.horizonMs);
      map.set(key, w);
    }
    return w;
  }
}
