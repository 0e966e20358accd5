// The whole pure pipeline for one request: body bytes -> parsed body -> facts -> decision.
// The body is parsed here once; the rewriter reads the parsed body and facts from the result.
// The router-level processor and `switchyard explain` both call this, so the trace an
// operator reads is the one the data plane acted on.
import { type ClientError, clientError } from "../errors.js";
import { type ChatBody, MAX_NESTING, parseChatBody, tooDeep } from "../facts/body.js";
import { readFacts } from "../facts/read-facts.js";
import type { HeaderBag, LabelFact, RequestFacts } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";
import { type Decision, decide } from "./decide.js";
import { type FleetView, NO_FLEET } from "./fleet-view.js";

export type Evaluation =
  | { kind: "decided"; raw: Buffer; body: ChatBody; facts: RequestFacts; decision: Decision }
  | { kind: "bad_body"; error: ClientError; reasons: Reason[] };

/** A request read up to its facts: what the classifier needs before the decision. */
export type Reading =
  | { kind: "read"; raw: Buffer; body: ChatBody; facts: RequestFacts }
  | Extract<Evaluation, { kind: "bad_body" }>;

/**
 * `source` is the caller's address as Envoy saw the connection, for the policy's trust section:
 * null when Envoy sent none (untrusted unless the secret is sent), undefined for no caller at all
 * (explain without --source, tests: trusted).
 */
export function evaluate(
  policy: Policy,
  headers: HeaderBag,
  raw: Buffer,
  rand: () => number,
  source?: string | null,
  label?: LabelFact,
  view: FleetView = NO_FLEET,
): Evaluation {
  const read = readRequest(policy, headers, raw, source);
  return read.kind === "read" ? decideRead(policy, read, rand, label, view) : read;
}

/** The decision for a request already read, with the classifier's label when it ran, and the live fleet. */
export function decideRead(
  policy: Policy,
  read: Extract<Reading, { kind: "read" }>,
  rand: () => number,
  label?: LabelFact,
  view: FleetView = NO_FLEET,
): Extract<Evaluation, { kind: "decided" }> {
  // The reading is this request's own: the label goes onto its facts (a copy would cost more
  // than the rest of the labelled decision).
  if (label !== undefined) read.facts.label = label;
  const facts = read.facts;
  return {
    kind: "decided",
    raw: read.raw,
    body: read.body,
    facts,
    decision: decide(policy, facts, view, rand),
  };
}

/** Size, media type, JSON, nesting, then the facts; `source` as for evaluate. */
export function readRequest(
  policy: Policy,
  headers: HeaderBag,
  raw: Buffer,
  source?: string | null,
): Reading {
  const bytes = raw.length;
  if (bytes > policy.doc.limits.max_body_bytes) {
    const error = clientError(
      "body_too_large",
      `request body is ${bytes} bytes; the limit is ${policy.doc.limits.max_body_bytes}`,
    );
    return { kind: "bad_body", error, reasons: [reason("reject", "reject:body_too_large", error.message)] };
  }
  const type = headers["content-type"];
  if (type !== undefined && !isJson(type)) {
    const error = clientError(
      "unsupported_media_type",
      `content-type '${type.slice(0, 80)}' is not application/json; send the body as JSON`,
    );
    return {
      kind: "bad_body",
      error,
      reasons: [reason("reject", "reject:unsupported_media_type", error.message)],
    };
  }
  const parsed = parseChatBody(raw.toString("utf8"));
  if (!parsed.ok) {
    const error =
      parsed.code === "invalid_json"
        ? clientError("invalid_json", `request body is not valid JSON: ${parsed.detail}`)
        : clientError("body_not_object", `request body must be a JSON object, got ${parsed.detail}`);
    return { kind: "bad_body", error, reasons: [reason("reject", `reject:${parsed.code}`, error.message)] };
  }
  const deep = tooDeep(parsed.body);
  if (deep !== undefined) {
    const error = clientError(
      "nesting_too_deep",
      `request field '${deep}' nests deeper than ${MAX_NESTING} levels of arrays or objects`,
    );
    return { kind: "bad_body", error, reasons: [reason("reject", "reject:nesting_too_deep", error.message)] };
  }
  return {
    kind: "read",
    raw,
    body: parsed.body,
    facts: readFacts(policy, headers, parsed.body, bytes, source),
  };
}

/** application/json, any case, with or without parameters (charset); a missing type is taken as JSON. */
function isJson(contentType: string): boolean {
  const media = contentType.split(";")[0]?.trim().toLowerCase();
  return media === "application/json" || media === "" || media?.endsWith("+json") === true;
}

/** Deterministic randomness for --seed and tests (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
