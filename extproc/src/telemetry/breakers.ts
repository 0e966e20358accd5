// The breaker state machines, clock passed in: a pool breaker (open: the decision skips the
// pool; half-open: `probes` requests go through and must all succeed) and a backend breaker
// (open: the backend is out of its pool's endpoint file; half-open: back in, and its next
// `probes` requests must stay within the limit it was taken out for).
import type { BreakerState } from "../routing/fleet-view.js";

export interface Transition {
  scope: "pool" | "backend";
  name: string;
  from: BreakerState;
  to: BreakerState;
  why: string;
}

export interface ProbeRules {
  cooldownMs: number;
  probes: number;
}

export class Breaker {
  state: BreakerState = "closed";
  private since = 0;
  /** Half-open: probes sent (pool breaker) and probes that succeeded. */
  routed = 0;
  ok = 0;
  /** What a probe must beat (backend breaker: the TTFT limit it was taken out for). */
  limitMs: number | undefined;

  constructor(
    readonly scope: "pool" | "backend",
    readonly name: string,
  ) {}

  open(now: number, why: string, limitMs?: number): Transition | undefined {
    if (this.state === "open") return undefined;
    const from = this.state;
    this.state = "open";
    this.since = now;
    this.limitMs = limitMs ?? this.limitMs;
    return { scope: this.scope, name: this.name, from, to: "open", why };
  }

  /** Open long enough: let probes through. */
  cool(now: number, rules: ProbeRules): Transition | undefined {
    if (
      this.state === "half_open" &&
      this.routed >= rules.probes &&
      now - this.since >= 2 * rules.cooldownMs
    ) {
      // Probes sent and never heard of (their log lines lost): send new ones.
      this.routed = 0;
      this.since = now;
      return undefined;
    }
    if (this.state !== "open" || now - this.since < rules.cooldownMs) return undefined;
    this.state = "half_open";
    this.since = now;
    this.routed = 0;
    this.ok = 0;
    return {
      scope: this.scope,
      name: this.name,
      from: "open",
      to: "half_open",
      why: `cooldown ${rules.cooldownMs / 1000}s over: ${rules.probes} probes`,
    };
  }

  /** One outcome while half-open. */
  probe(now: number, good: boolean, rules: ProbeRules, why: string): Transition | undefined {
    if (this.state !== "half_open") return undefined;
    if (!good) return this.open(now, `probe failed: ${why}`);
    this.ok++;
    if (this.ok < rules.probes) return undefined;
    this.state = "closed";
    this.since = now;
    return {
      scope: this.scope,
      name: this.name,
      from: "half_open",
      to: "closed",
      why: `${this.ok} probes succeeded`,
    };
  }

  /** Half-open and every probe is out: the decision skips the pool until they come back. */
  probesOut(rules: ProbeRules): boolean {
    return this.state === "half_open" && this.routed >= rules.probes;
  }
}

/** 0 closed, 1 half-open, 2 open: the breaker-state gauge's value. */
export function stateValue(s: BreakerState): number {
  return s === "closed" ? 0 : s === "half_open" ? 1 : 2;
}
