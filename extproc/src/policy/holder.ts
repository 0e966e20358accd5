// The live policy; a reload swaps it, and streams already open keep the one they started with.
import type { Policy } from "./compile.js";

/** Backend address -> pool; `check` guarantees that an address belongs to one pool. */
export function poolsByAddress(policy: Policy): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, pool] of policy.pools) for (const b of pool.backends) m.set(b.address, name);
  return m;
}

export class PolicyHolder {
  private byAddress: Map<string, string>;
  constructor(private current: Policy) {
    this.byAddress = poolsByAddress(current);
  }
  get policy(): Policy {
    return this.current;
  }
  /** Backend address -> pool name, for the live policy. */
  get addresses(): ReadonlyMap<string, string> {
    return this.byAddress;
  }
  swap(next: Policy): void {
    this.current = next;
    this.byAddress = poolsByAddress(next);
  }
}
