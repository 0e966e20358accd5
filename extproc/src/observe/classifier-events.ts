// The classifier's events (classify/) as Prometheus metrics. Label values are bounded: kinds,
// sources, reasons and breaker states are fixed sets, labels come from the policy.
import type { ClassifierEvents } from "../classify/classifier.js";
import type { Metrics } from "./metrics.js";

const STATES = ["closed", "open", "half_open"] as const;

export function classifierEvents(m: Metrics): ClassifierEvents {
  const breaker = (state: string) => {
    for (const s of STATES) m.classifierBreaker.set({ state: s }, s === state ? 1 : 0);
  };
  breaker("closed");
  return {
    labelled(kind, fact, seconds) {
      m.classifierSeconds.observe({ kind, source: fact.source }, seconds);
      m.classifierLabels.inc({ label: fact.name, source: fact.source });
      if (fact.why !== undefined) m.classifierFallbacks.inc({ reason: fact.why });
    },
    cache(hit) {
      m.classifierCache.inc({ result: hit ? "hit" : "miss" });
    },
    call(kind, outcome) {
      m.classifierCalls.inc({ kind, outcome });
    },
    breaker,
  };
}
