import type { Policy } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";
import { type ChatBody, readBodyFacts } from "./body.js";
import { readHeaderFacts } from "./headers.js";
import { isTrusted } from "./trust.js";
import type { HeaderBag, HeaderFacts, RequestFacts } from "./types.js";

/** `source` is the caller's address as Envoy saw the connection (for trust.sources). */
export function readFacts(
  policy: Policy,
  headers: HeaderBag,
  body: ChatBody,
  bytes: number,
  source?: string | null,
): RequestFacts {
  const notes: Reason[] = [];
  const trusted = isTrusted(policy.trust, source, headers, notes);
  // An untrusted caller's routing headers are read as if absent.
  const bag = trusted ? headers : {};
  const headerFacts = readHeaderFacts(bag, policy.headers, notes);
  if (policy.labels.size > 0) readLabelHeader(policy, bag, headerFacts, notes);
  return { trusted, headers: headerFacts, body: readBodyFacts(body, bytes, notes), notes };
}

/** The label header counts when it names one of classifier.labels (any case); else it is noted. */
function readLabelHeader(policy: Policy, bag: HeaderBag, facts: HeaderFacts, notes: Reason[]): void {
  const named = bag[policy.headers.label]?.trim().toLowerCase();
  if (!named) return;
  if (policy.labels.has(named)) facts.label = named;
  else
    notes.push(
      reason(
        "facts",
        "label:ignored",
        `label '${named.slice(0, 40)}' is not one of the classifier's labels; ignored`,
      ),
    );
}
