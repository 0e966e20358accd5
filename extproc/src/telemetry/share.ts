// Traffic share class -> pool over the last few minutes, for /status and the status page:
// counts in 10-second buckets, so a share is a sum over at most 30 small maps.

const BUCKET_MS = 10_000;

export interface ShareSummary {
  window_s: number;
  total: number;
  /** One row per class seen, with the requests each pool served (pool "none": no pool served). */
  classes: { class: string; total: number; pools: Record<string, number> }[];
}

export class ShareWindow {
  private readonly buckets = new Map<number, Map<string, number>>();

  constructor(private readonly horizonMs = 5 * 60 * 1000) {}

  add(at: number, cls: string, pool: string): void {
    const b = Math.floor(at / BUCKET_MS);
    let counts = this.buckets.get(b);
    if (counts === undefined) {
      counts = new Map();
      this.buckets.set(b, counts);
      this.prune(at);
    }
    const key = `${cls}\u0000${pool}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  summary(now: number): ShareSummary {
    this.prune(now);
    const byClass = new Map<string, Record<string, number>>();
    let total = 0;
    for (const counts of this.buckets.values())
      for (const [key, n] of counts) {
        const [cls, pool] = key.split("\u0000") as [string, string];
        const pools = byClass.get(cls) ?? {};
        pools[pool] = (pools[pool] ?? 0) + n;
        byClass.set(cls, pools);
        total += n;
      }
    const classes = [...byClass].map(([cls, pools]) => ({
      class: cls,
      total: Object.values(pools).reduce((a, b) => a + b, 0),
      pools,
    }));
    return { window_s: this.horizonMs / 1000, total, classes };
  }

  private prune(now: number): void {
    const oldest = Math.floor((now - this.horizonMs) / BUCKET_MS);
    for (const b of this.buckets.keys()) if (b < oldest) this.buckets.delete(b);
  }
}
