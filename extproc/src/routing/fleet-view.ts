// What the decision knows about the fleet right now: per pool, the live window's numbers and
// the breaker and back-off state. It comes in as an argument (telemetry/ builds it from the
// access log; `explain --fleet FILE` reads it from a /status snapshot), so decide() stays pure
// and any choice can be reproduced from the snapshot it was made with.

export type BreakerState = "closed" | "open" | "half_open";

export interface PoolView {
  /**
   * Requests (attempts) the numbers stand on: the window's, topped up with the most recent older
   * ones when the window holds fewer than min_samples (telemetry/window.ts).
   */
  samples: number;
  /** Requests (attempts) inside the window itself: below min_samples the pool is explored. */
  inWindow: number;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  errorRate: number;
  breaker: BreakerState;
  /** Half-open and its probes are all out: skipped like an open pool until they come back. */
  probesOut: boolean;
  /** Every backend of the pool is backing off (Retry-After) or taken out: skipped. */
  shedding: boolean;
}

export interface FleetView {
  /** When the snapshot was taken (ms since the epoch); 0 for no snapshot. */
  at: number;
  pools: ReadonlyMap<string, PoolView>;
  /** A request counter, for round_robin (the caller counts; the decision only reads it). */
  seq: number;
}

/** No live data: every pool cold and closed, so every strategy but round_robin acts as weighted. */
export const NO_FLEET: FleetView = { at: 0, pools: new Map(), seq: 0 };

/** Why a pool is skipped on the ladder, or undefined when it may be picked. */
export function skipReason(v: PoolView | undefined): "breaker_open" | "probing" | "shedding" | undefined {
  if (v === undefined) return undefined;
  if (v.breaker === "open") return "breaker_open";
  if (v.probesOut) return "probing";
  if (v.shedding) return "shedding";
  return undefined;
}

/** The /status `fleet.pools` entry of one pool (snake_case JSON), and back. */
export interface PoolViewJson {
  samples: number;
  /** Absent in older snapshots: then `samples`. */
  in_window?: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  error_rate: number;
  breaker: BreakerState;
  probes_out?: boolean;
  shedding: boolean;
}

export function poolViewJson(v: PoolView): PoolViewJson {
  return {
    samples: v.samples,
    in_window: v.inWindow,
    ttft_p50_ms: v.ttftP50Ms,
    ttft_p95_ms: v.ttftP95Ms,
    error_rate: v.errorRate,
    breaker: v.breaker,
    probes_out: v.probesOut,
    shedding: v.shedding,
  };
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * A FleetView from JSON: either a whole /status document (its `fleet` member is used) or the
 * `fleet` object itself. Unknown or malformed pool entries are dropped; throws only when there is
 * no `pools` object at all.
 */
export function parseFleetJson(json: unknown): FleetView {
  const root = json !== null && typeof json === "object" ? (json as Record<string, unknown>) : {};
  const fleet = (root.fleet ?? root) as Record<string, unknown>;
  const pools = fleet.pools;
  if (pools === null || typeof pools !== "object" || Array.isArray(pools))
    throw new Error("no fleet.pools object (expected /status output or its fleet member)");
  const out = new Map<string, PoolView>();
  for (const [name, raw] of Object.entries(pools as Record<string, unknown>)) {
    if (raw === null || typeof raw !== "object") continue;
    const p = raw as Record<string, unknown>;
    const breaker = p.breaker === "open" || p.breaker === "half_open" ? p.breaker : "closed";
    const samples = num(p.samples) ?? 0;
    out.set(name, {
      samples,
      inWindow: num(p.in_window) ?? samples,
      ttftP50Ms: num(p.ttft_p50_ms),
      ttftP95Ms: num(p.ttft_p95_ms),
      errorRate: num(p.error_rate) ?? 0,
      breaker,
      probesOut: p.probes_out === true,
      shedding: p.shedding === true,
    });
  }
  const at = typeof fleet.at === "string" ? Date.parse(fleet.at) : num(fleet.at);
  return { at: at ?? 0, pools: out, seq: num(fleet.seq) ?? 0 };
}
