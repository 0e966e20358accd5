import type { Policy } from "../policy/compile.js";
import type { Reason } from "../vocab/reasons.js";
import { type ChatBody, readBodyFacts } from "./body.js";
import { readHeaderFacts } from "./headers.js";
import { isTrusted } from "./trust.js";
import type { HeaderBag, RequestFacts } from "./types.js";

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
  return {
    trusted,
    // An untrusted caller's routing headers are read as if absent.
    headers: readHeaderFacts(trusted ? headers : {}, policy.headers, notes),
    body: readBodyFacts(body, bytes, notes),
    notes,
  };
}
