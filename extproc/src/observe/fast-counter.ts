// A Prometheus counter for the access-log path (several increments per request): prom-client's
// Counter validates and hashes the labels on every inc(), even through a child from labels().
// Here a series is resolved once (the caller keeps it) and an increment is one addition. The
// registry reads it like any prom-client metric and prints the same lines (fast-counter.test.ts).
import type { Registry } from "prom-client";

interface Series {
  labels: Record<string, string>;
  value: number;
  /** Incremented since creation or the last reset (prom-client prints only those). */
  live: boolean;
}

export interface CounterSeries {
  inc(): void;
}

export class FastCounter<L extends string> {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();
  /** The series incremented since the last reset, in the order of their first increment (as prom-client prints them). */
  private readonly printed = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registers: Registry[],
  ) {
    for (const r of registers) r.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** The series for these label values, to keep and increment. */
  labels(values: Record<L, string>): CounterSeries {
    const labels: Record<string, string> = {};
    for (const k of this.labelNames) labels[k] = String(values[k]);
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, value: 0, live: false };
      this.series.set(key, s);
    }
    const series = s;
    const printed = this.printed;
    return {
      inc() {
        if (!series.live) {
          series.live = true;
          printed.set(key, series);
        }
        series.value++;
      },
    };
  }

  /** Increments the series for these labels (resolves it each time: for rare paths). */
  inc(values: Record<L, string>): void {
    this.labels(values).inc();
  }

  /** What prom-client's registry reads: one value per series incremented since the last reset. */
  async get() {
    const values: { labels: Record<string, string>; value: number }[] = [];
    for (const s of this.printed.values()) values.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.value = 0;
      s.live = false;
    }
    this.printed.clear();
  }
}
