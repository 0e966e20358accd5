// The live view of the fleet: outcomes from the access log go into per-backend and per-pool
// windows; a tick (every 250 ms) judges the breakers and back-offs and rebuilds the FleetView
// the router hands to decide(). Backends taken out (breaker open, or backing off after a
// Retry-After) are reported through `onDown`, which rewrites that pool's endpoint file with
// them UNHEALTHY, so Envoy stops sending them anything, whatever class or path.
import { isIP } from "node:net";
import type { Policy } from "../policy/compile.js";
import type { FleetDoc } from "../policy/fleet.js";
import { type FleetView, type PoolView, poolViewJson } from "../routing/fleet-view.js";
import { Breaker, type ProbeRules, type Transition } from "./breakers.js";
import type { BackendState } from "./envoy-admin.js";
import { EMPTY_SUMMARY, type WindowSet, type WindowSummary } from "./window.js";

export interface Outcome {
  /** Backend address (ip:port). */
  backend: string;
  pool: string;
  ok: boolean;
  ttftMs?: number | undefined;
  durationMs?: number | undefined;
  /** A 429/503's Retry-After, in seconds. */
  retryAfterS?: number | undefined;
  status?: number | undefined;
}

export interface FleetEvents {
  transition(t: Transition): void;
  backoff(backend: string, pool: string, seconds: number, status: number | undefined): void;
  /** The set of backends out of `pool` changed. */
  down(pool: string): void;
}

const TICK_MS = 250;
/**
 * A pool with fewer than min_samples in its window is judged on its most recent samples up to
 * this many windows old, so thin traffic does not flip it back to exploration (docs/policy.md).
 */
export const STALE_WINDOWS = 5;

export class FleetMonitor {
  private current: FleetView = { at: 0, pools: new Map(), seq: 0 };
  private seq = 0;
  private readonly poolBreakers = new Map<string, Breaker>();
  private readonly backendBreakers = new Map<string, Breaker>();
  /** Backend address -> until when it backs off (ms since the epoch). */
  private readonly backoffUntil = new Map<string, number>();
  private readonly downNow = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windows: WindowSet,
    private readonly policy: () => Policy,
    private readonly events: FleetEvents,
    private readonly inFlight: () => ReadonlyMap<string, BackendState> = () => new Map(),
    private readonly now: () => number = Date.now,
  ) {
    this.configure();
  }

  private get doc(): FleetDoc {
    return this.policy().doc.fleet;
  }

  /** After a (re)load: window length and size from the policy, state of removed pools dropped. */
  configure(): void {
    const p = this.policy();
    this.windows.configure(p.doc.fleet.window_samples, p.doc.fleet.window_s * 1000);
    const addresses = new Set<string>();
    for (const pool of p.pools.values()) for (const b of pool.backends) addresses.add(b.address);
    this.windows.retain(addresses, new Set(p.pools.keys()));
    for (const k of this.poolBreakers.keys()) if (!p.pools.has(k)) this.poolBreakers.delete(k);
    for (const k of this.backendBreakers.keys()) if (!addresses.has(k)) this.backendBreakers.delete(k);
    for (const k of this.backoffUntil.keys()) if (!addresses.has(k)) this.backoffUntil.delete(k);
    this.tick();
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The snapshot for one decision: the last tick's numbers and this request's turn. */
  view(): FleetView {
    const v = this.current;
    return { at: v.at, pools: v.pools, seq: this.seq++ };
  }

  /** The router sent a request to `pool` first: counts the probes of a half-open pool. */
  routed(pool: string): void {
    const b = this.poolBreakers.get(pool);
    if (b === undefined || b.state !== "half_open") return;
    b.routed++;
    if (b.probesOut(this.poolRules())) {
      this.syncDown();
      this.rebuild(this.now());
    }
  }

  /**
   * A request routed to `pool` first never reached it: Envoy passed the pool (its endpoint file
   * still had the backends out when the attempt was made). A probe counted for it is given back,
   * so a half-open pool is not left waiting for outcomes that will never come.
   */
  missed(pool: string): void {
    const b = this.poolBreakers.get(pool);
    if (b === undefined || b.state !== "half_open" || b.routed === 0) return;
    const wasOut = b.probesOut(this.poolRules());
    b.routed--;
    if (wasOut) {
      this.syncDown();
      this.rebuild(this.now());
    }
  }

  /** One attempt's outcome (a failed attempt, or the request's last one). */
  record(o: Outcome): void {
    const at = this.now();
    if (!this.policy().pools.has(o.pool)) return;
    const cap = this.doc.retry_after_max_s;
    const backsOff =
      o.retryAfterS !== undefined && o.retryAfterS > 0 && cap > 0 && (o.status === 429 || o.status === 503);
    // A backend shedding with a Retry-After is back-pressure, handled by the back-off below: it
    // does not count as an error in the windows (else a 429 storm would also open the breaker).
    if (!backsOff) {
      const sample = { at, ttftMs: o.ok ? o.ttftMs : undefined, durationMs: o.durationMs, error: !o.ok };
      this.windows.get(o.backend).add(sample);
      this.windows.pool(o.pool).add(sample);
    }
    if (backsOff) {
      const seconds = Math.min(o.retryAfterS as number, cap);
      const until = at + seconds * 1000;
      if ((this.backoffUntil.get(o.backend) ?? 0) < until) {
        const fresh = !this.backoffUntil.has(o.backend);
        this.backoffUntil.set(o.backend, until);
        if (fresh) this.events.backoff(o.backend, o.pool, seconds, o.status);
        this.syncDown();
        this.rebuild(at);
      }
    }
    this.judgeProbe(at, o);
  }

  /** Judge every breaker and back-off, then rebuild the view. */
  tick(): void {
    const at = this.now();
    for (const [b, until] of this.backoffUntil) if (until <= at) this.backoffUntil.delete(b);
    for (const name of this.policy().pools.keys()) {
      this.judgePool(at, name);
      this.judgeBackends(at, name);
    }
    this.syncDown();
    this.rebuild(at);
  }

  /** A backend's breaker state, or "backoff" while it honours a Retry-After. */
  backendState(address: string): string {
    if (this.backoffUntil.has(address)) return "backoff";
    return this.backendBreakers.get(address)?.state ?? "closed";
  }

  /** Backends out of `pool` now (breaker open or backing off): UNHEALTHY in its endpoint file. */
  down(pool: string): ReadonlySet<string> {
    return this.downNow.get(pool) ?? new Set();
  }

  private poolRules(): ProbeRules {
    const b = this.doc.pool_breaker;
    return { cooldownMs: b.cooldown_s * 1000, probes: b.probes };
  }
  private backendRules(): ProbeRules {
    const b = this.doc.backend_breaker;
    return { cooldownMs: b.cooldown_s * 1000, probes: b.probes };
  }

  private breaker(map: Map<string, Breaker>, scope: "pool" | "backend", name: string): Breaker {
    let b = map.get(name);
    if (b === undefined) {
      b = new Breaker(scope, name);
      map.set(name, b);
    }
    return b;
  }

  private emit(t: Transition | undefined, at: number): void {
    if (t === undefined) return;
    this.events.transition(t);
    if (t.scope === "backend") {
      if (t.to !== "open") this.windows.get(t.name).clear();
    } else if (t.to === "closed") this.windows.pool(t.name).clear();
    this.syncDown();
    this.rebuild(at);
  }

  private judgePool(at: number, name: string): void {
    const cfg = this.doc.pool_breaker;
    const b = this.breaker(this.poolBreakers, "pool", name);
    if (b.state === "closed") {
      if (!cfg.enabled) return;
      const s = this.windows.hasPool(name) ? this.windows.pool(name).summary(at) : EMPTY_SUMMARY;
      if (s.count < cfg.min_samples) return;
      const why =
        s.errorRate >= cfg.error_rate
          ? `error_rate ${s.errorRate.toFixed(2)}>=${cfg.error_rate} over ${s.count} samples`
          : cfg.ttft_p95_ms !== undefined && s.ttftP95 !== null && s.ttftP95 > cfg.ttft_p95_ms
            ? `ttft_p95 ${Math.round(s.ttftP95)}ms>${cfg.ttft_p95_ms}ms over ${s.count} samples`
            : undefined;
      if (why !== undefined) this.emit(b.open(at, why), at);
      return;
    }
    this.emit(b.cool(at, this.poolRules()), at);
  }

  private judgeBackends(at: number, pool: string): void {
    const cfg = this.doc.backend_breaker;
    const doc = this.policy().pools.get(pool);
    if (!cfg.enabled || doc === undefined || doc.backends.length < 2) return;
    if (!doc.backends.every((b) => isIP(b.address.slice(0, b.address.lastIndexOf(":"))) !== 0)) return;
    const stats = new Map<string, WindowSummary>();
    for (const b of doc.backends)
      stats.set(
        b.address,
        this.windows.has(b.address) ? this.windows.get(b.address).summary(at) : EMPTY_SUMMARY,
      );
    const maxOut = Math.floor(doc.backends.length / 2);
    let out = doc.backends.filter((b) => this.backendBreakers.get(b.address)?.state === "open").length;
    for (const b of doc.backends) {
      const br = this.breaker(this.backendBreakers, "backend", b.address);
      if (br.state !== "closed") {
        this.emit(br.cool(at, this.backendRules()), at);
        continue;
      }
      const mine = stats.get(b.address) as WindowSummary;
      if (mine.count < cfg.min_samples || out >= maxOut) continue;
      const peers = doc.backends
        .filter((p) => p.address !== b.address && this.backendBreakers.get(p.address)?.state !== "open")
        .map((p) => stats.get(p.address) as WindowSummary)
        .filter((s) => s.count >= cfg.min_samples);
      if (peers.length === 0) continue;
      const p95s = peers.flatMap((s) => (s.ttftP95 === null ? [] : [s.ttftP95])).sort((x, y) => x - y);
      const median = p95s.length === 0 ? null : (p95s[Math.floor((p95s.length - 1) / 2)] as number);
      const peerErr = peers.reduce((a, s) => a + s.errorRate, 0) / peers.length;
      let why: string | undefined;
      let limit: number | undefined;
      if (median !== null && mine.ttftP95 !== null && mine.ttftP95 > cfg.slower_than_pool * median) {
        limit = cfg.slower_than_pool * median;
        why = `ttft_p95 ${Math.round(mine.ttftP95)}ms>${cfg.slower_than_pool}x pool ${Math.round(median)}ms`;
      } else if (mine.errorRate - peerErr > cfg.error_rate_over_pool)
        why = `error_rate ${mine.errorRate.toFixed(2)} vs pool ${peerErr.toFixed(2)}`;
      if (why === undefined) continue;
      out++;
      this.emit(br.open(at, why, limit), at);
    }
  }

  private judgeProbe(at: number, o: Outcome): void {
    const pb = this.poolBreakers.get(o.pool);
    if (pb?.state === "half_open") {
      const limit = this.doc.pool_breaker.ttft_p95_ms;
      const slow = o.ok && limit !== undefined && o.ttftMs !== undefined && o.ttftMs > limit;
      this.emit(pb.probe(at, o.ok && !slow, this.poolRules(), describe(o)), at);
    }
    const bb = this.backendBreakers.get(o.backend);
    if (bb?.state === "half_open") {
      const slow = o.ok && bb.limitMs !== undefined && o.ttftMs !== undefined && o.ttftMs > bb.limitMs;
      this.emit(bb.probe(at, o.ok && !slow, this.backendRules(), describe(o)), at);
    }
  }

  /** The decision skips this pool: breaker open, or half-open with every probe out. */
  private poolSkipped(name: string): boolean {
    const pb = this.poolBreakers.get(name);
    return pb !== undefined && (pb.state === "open" || pb.probesOut(this.poolRules()));
  }

  /**
   * A skipped pool has every backend out of its endpoint file, so Envoy passes its step at once
   * (routing/pick.ts): but only while every ladder the pool is on keeps a pool that is not
   * skipped. With all of a ladder's pools out, Envoy would have no host for that class and
   * answer every request 503; kept in, the decision picks as if none were skipped
   * (fleet:all_skipped) and the requests go out.
   */
  private poolOut(name: string): boolean {
    if (!this.poolSkipped(name)) return false;
    for (const ladder of this.policy().ladders) {
      if (!ladder.some((step) => step.some((p) => p.pool === name))) continue;
      if (ladder.every((step) => step.every((p) => this.poolSkipped(p.pool)))) return false;
    }
    return true;
  }

  /** Brings the endpoint files' out-sets up to date: every pool, since one pool's state can keep another's backends in. */
  private syncDown(): void {
    for (const name of this.policy().pools.keys()) this.syncPool(name);
  }

  private syncPool(pool: string): void {
    const doc = this.policy().pools.get(pool);
    if (doc === undefined) return;
    const next = new Set<string>();
    const skipped = this.poolOut(pool);
    for (const b of doc.backends) {
      if (
        skipped ||
        this.backendBreakers.get(b.address)?.state === "open" ||
        this.backoffUntil.has(b.address)
      )
        next.add(b.address);
    }
    const prev = this.downNow.get(pool) ?? new Set<string>();
    if (next.size === prev.size && [...next].every((a) => prev.has(a))) return;
    this.downNow.set(pool, next);
    this.events.down(pool);
  }

  private rebuild(at: number): void {
    const pools = new Map<string, PoolView>();
    const rules = this.poolRules();
    const { min_samples, window_s } = this.doc;
    for (const [name, doc] of this.policy().pools) {
      const s = this.windows.hasPool(name)
        ? this.windows.pool(name).summary(at, min_samples, STALE_WINDOWS * window_s * 1000)
        : EMPTY_SUMMARY;
      const b = this.poolBreakers.get(name);
      pools.set(name, {
        samples: s.count,
        inWindow: s.inWindow,
        ttftP50Ms: s.ttftP50,
        ttftP95Ms: s.ttftP95,
        errorRate: s.errorRate,
        breaker: b?.state ?? "closed",
        probesOut: b?.probesOut(rules) ?? false,
        shedding: doc.backends.every((x) => this.backoffUntil.has(x.address)),
      });
    }
    this.current = { at, pools, seq: 0 };
  }

  /** The /status `fleet` section; `explain --fleet` reads it back (routing/fleet-view.ts). */
  status(): object {
    const at = this.current.at;
    const p = this.policy();
    const flight = this.inFlight();
    const win = (s: WindowSummary) => ({
      requests: s.count,
      rate_per_s: round(s.rate),
      error_rate: round(s.errorRate),
      ttft_p50_ms: s.ttftP50,
      ttft_p95_ms: s.ttftP95,
      duration_p95_ms: s.durationP95,
    });
    const pools: Record<string, object> = {};
    const backends: Record<string, object> = {};
    for (const [name, doc] of p.pools) {
      const v = this.current.pools.get(name);
      const s = this.windows.hasPool(name) ? this.windows.pool(name).summary(at) : EMPTY_SUMMARY;
      let inFlight = 0;
      for (const b of doc.backends) {
        const bs = this.windows.has(b.address) ? this.windows.get(b.address).summary(at) : EMPTY_SUMMARY;
        const f = flight.get(b.address)?.rqActive ?? 0;
        inFlight += f;
        const until = this.backoffUntil.get(b.address);
        backends[b.address] = {
          pool: name,
          ...win(bs),
          in_flight: f,
          breaker: this.backendBreakers.get(b.address)?.state ?? "closed",
          backoff_until: until === undefined ? null : new Date(until).toISOString(),
          out: this.down(name).has(b.address),
        };
      }
      // The decision's numbers last: `explain --fleet` reads back exactly what the router saw
      // (topped up from older samples when the window is thin; `in_window` says how many are new).
      pools[name] = { ...win(s), ...(v ? poolViewJson(v) : {}), in_flight: inFlight };
    }
    return { at: new Date(at).toISOString(), window_s: this.doc.window_s, pools, backends };
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;

function describe(o: Outcome): string {
  if (!o.ok) return o.status === undefined ? "failed" : `http_${o.status}`;
  return o.ttftMs === undefined ? "ok" : `ttft ${Math.round(o.ttftMs)}ms`;
}
