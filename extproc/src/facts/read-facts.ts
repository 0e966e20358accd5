import type { Policy } from "../policy/compile.js";
import type { Reason } from "../vocab/reasons.js";
import { type ChatBody, readBodyFacts } from "./body.js";
import { readHeaderFacts } from "./headers.js";
import type { HeaderBag, RequestFacts } from "./types.js";

export function readFacts(policy: Policy, headers: HeaderBag, body: ChatBody, bytes: number): RequestFacts {
  const notes: Reason[] = [];
  return {
    headers: readHeaderFacts(headers, policy.headers, notes),
    body: readBodyFacts(body, bytes, notes),
    notes,
  };
}
