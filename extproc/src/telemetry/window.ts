// Recent per-backend outcomes for /status and, later, latency-aware routing: a fixed-size
// ring of samples, read back as percentiles over the last few minutes.
import { ShareWindow } from "./share.js";

export interface Sample {
  at: number;
  ttftMs: number | undefined;
  error: boolean;
}

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

  summary(now: number): { count: number; errorRate: number; ttftP50: number | null; ttftP95: number | null } {
    const recent = this.samples.filter((s): s is Sample => s !== undefined && now - s.at <= this.horizonMs);
    const ttfts = recent.flatMap((s) => (s.ttftMs === undefined ? [] : [s.ttftMs])).sort((a, b) => a - b);
    const pct = (p: number) =>
      ttfts.length === 0 ? null : (ttfts[Math.min(ttfts.length - 1, Math.floor(p * ttfts.length))] as number);
    const errors = recent.filter((s) => s.error).length;
    return {
      count: recent.length,
      errorRate: recent.length === 0 ? 0 : errors / recent.length,
      ttftP50: pct(0.5),
      ttftP95: pct(0.95),
    };
  }
}

export class WindowSet {
  private readonly windows = new Map<string, SlidingWindow>();
  /** Requests per class and serving pool, over the same few minutes. */
  readonly share = new ShareWindow();
  get(key: string): SlidingWindow {
    let w = this.windows.get(key);
    if (!w) {
      w = new SlidingWindow();
      this.windows.set(key, w);
    }
    return w;
  }
  has(key: string): boolean {
    return this.windows.has(key);
  }
}
