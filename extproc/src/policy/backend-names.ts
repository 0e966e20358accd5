// A backend's display name: its `name` in the policy (jolteon's log says "backend": "dub-1"),
// else its address. The log line, the metrics' backend label and /status all read it here.
import type { Policy } from "./compile.js";
import type { Problem } from "./problems.js";

const cache = new WeakMap<Policy, Map<string, string>>();

/** address -> name, for the backends that have one; computed once per loaded policy. */
export function backendNames(policy: Policy): ReadonlyMap<string, string> {
  let m = cache.get(policy);
  if (m === undefined) {
    m = new Map();
    for (const pool of policy.pools.values())
      for (const b of pool.backends) if (b.name !== undefined) m.set(b.address, b.name);
    cache.set(policy, m);
  }
  return m;
}

/** The name to show for a backend address (the address itself when the policy gives none). */
export function backendName(policy: Policy, address: string): string {
  return backendNames(policy).get(address) ?? address;
}

/** Names must be unique and must not be another backend's address (the two share one label). */
export function backendNameProblems(doc: Policy["doc"]): Problem[] {
  const out: Problem[] = [];
  const seen = new Map<string, string>();
  const addresses = new Set<string>();
  for (const pool of Object.values(doc.pools)) for (const b of pool.backends) addresses.add(b.address);
  for (const [poolName, pool] of Object.entries(doc.pools))
    pool.backends.forEach((b, i) => {
      if (b.name === undefined) return;
      const path = ["pools", poolName, "backends", i, "name"];
      const other = seen.get(b.name);
      if (other !== undefined && other !== b.address)
        out.push({
          severity: "error",
          path,
          message: `backend name '${b.name}' is also the name of ${other}`,
        });
      else if (addresses.has(b.name) && b.name !== b.address)
        out.push({
          severity: "error",
          path,
          message: `backend name '${b.name}' is another backend's address`,
        });
      seen.set(b.name, b.address);
    });
  return out;
}
