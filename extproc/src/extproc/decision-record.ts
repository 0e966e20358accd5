// The typed records the router hands on through Envoy's dynamic metadata:
// - DecisionRecord (namespace `switchyard`): what was decided and from which facts, for the
//   access log. Envoy returns it in every log entry; telemetry decodes it back.
// - UpstreamNote (namespace `switchyard.upstream`): the pool the router already rewrote the
//   body for and how to take that back, forwarded to the upstream ext_proc on every attempt.
// One module owns both shapes, their encoding and their decoding, so adding a routing fact
// touches the record here, the reader that fills it and the log line, nothing else.
import { LABEL_SOURCES, type LabelSource, type RequestFacts } from "../facts/types.js";
import type { Undo } from "../reasoning/render-body.js";
import type { Json } from "../vocab/json.js";
import { METADATA_NAMESPACE, UPSTREAM_NAMESPACE } from "../vocab/names.js";
import { fromStruct, type PbStruct, type PbValue, toValue } from "./struct.js";

export interface DecisionRecord {
  class?: string;
  /** Where the base class came from: feature (header), model (a class model id or alias), default. */
  baseFrom?: string;
  /** The ladder path, pools in fallback order. */
  path?: string[];
  /** The error code of a rejection. */
  error?: string;
  /** The decision's short trace. */
  reasons: string[];
  model?: string;
  stream?: boolean;
  reasoningEffort?: string;
  feature?: string;
  tier?: string;
  trial?: boolean;
  quotaUsed?: number;
  vision?: boolean;
  site?: string;
  /** False when the policy's trust section did not trust the caller (its routing headers were ignored). */
  trusted?: boolean;
  /** The classifier's label, when the request got one, and where it came from. */
  label?: string;
  labelSource?: LabelSource;
}

export interface UpstreamNote {
  adaptedFor: string;
  undo: Undo;
}

/** The record of a decision's facts and trace (the decision's own fields are set after). */
export function factsRecord(f: RequestFacts, reasons: string[]): DecisionRecord {
  return {
    reasons,
    model: f.body.model,
    stream: f.body.stream,
    reasoningEffort: f.body.reasoningEffort,
    feature: f.headers.feature,
    tier: f.headers.tier,
    trial: f.headers.trial,
    quotaUsed: f.headers.quotaUsed,
    vision: f.headers.vision || f.body.imageCount > 0,
    site: f.headers.site,
    trusted: f.trusted,
    label: f.label?.name,
    labelSource: f.label?.source,
  };
}

/** Wire keys: the names the access log and earlier releases use. */
const KEYS = {
  class: "class",
  baseFrom: "base_from",
  path: "path",
  error: "error",
  model: "model",
  stream: "stream",
  reasoningEffort: "reasoning_effort",
  feature: "feature",
  tier: "tier",
  trial: "trial",
  quotaUsed: "quota_used",
  vision: "vision",
  site: "site",
  trusted: "trusted",
  label: "label",
  labelSource: "label_source",
} as const satisfies Record<Exclude<keyof DecisionRecord, "reasons">, string>;

const WIRE_KEYS = Object.entries(KEYS) as [keyof typeof KEYS, string][];

/** ProcessingResponse.dynamic_metadata for a decision and, when the body was rewritten, its note. */
export function encodeMetadata(record: DecisionRecord, note?: UpstreamNote): PbStruct {
  // Built as a Struct directly (once per request), not as JSON first and then converted.
  const fields: Record<string, PbValue> = {};
  for (const [k, wire] of WIRE_KEYS) {
    const v = record[k];
    if (v === undefined) continue;
    fields[wire] = toValue(Array.isArray(v) ? v.join(",") : v);
  }
  fields.reasons = toValue(record.reasons.join(" "));
  const namespaces: Record<string, PbValue> = { [METADATA_NAMESPACE]: { structValue: { fields } } };
  if (note !== undefined)
    namespaces[UPSTREAM_NAMESPACE] = toValue({
      adapted_for: note.adaptedFor,
      undo: { keys: note.undo.keys, members: note.undo.members },
    });
  return { fields: namespaces };
}

const str = (v: Json | undefined) => (typeof v === "string" ? v : undefined);

/** The decision record back from a `switchyard` metadata Struct (absent fields stay absent). */
export function decodeDecision(s: PbStruct | undefined | null): DecisionRecord {
  return decisionFromJson(fromStruct(s));
}

/** The same from the metadata as JSON (an access-log line carries it so). */
export function decisionFromJson(m: Record<string, Json | undefined>): DecisionRecord {
  const num = (v: Json | undefined) => (typeof v === "number" ? v : undefined);
  const bool = (v: Json | undefined) => (typeof v === "boolean" ? v : undefined);
  const path = str(m.path);
  const reasons = str(m.reasons);
  return {
    class: str(m.class),
    baseFrom: str(m.base_from),
    path: path === undefined || path === "" ? undefined : path.split(","),
    error: str(m.error),
    reasons: reasons === undefined || reasons === "" ? [] : reasons.split(" "),
    model: str(m.model),
    stream: bool(m.stream),
    reasoningEffort: str(m.reasoning_effort),
    feature: str(m.feature),
    tier: str(m.tier),
    trial: bool(m.trial),
    quotaUsed: num(m.quota_used),
    vision: bool(m.vision),
    site: str(m.site),
    trusted: bool(m.trusted),
    label: str(m.label),
    labelSource: labelSource(str(m.label_source)),
  };
}

const SOURCES: ReadonlySet<string> = new Set(LABEL_SOURCES);
const labelSource = (v: string | undefined) =>
  v !== undefined && SOURCES.has(v) ? (v as LabelSource) : undefined;

/** The upstream note from forwarded metadata; undefined if there is none or it is not one. */
export function decodeNote(s: PbStruct | undefined | null): UpstreamNote | undefined {
  const m = fromStruct(s);
  const adaptedFor = str(m.adapted_for);
  const u = m.undo;
  if (adaptedFor === undefined || u === null || typeof u !== "object" || Array.isArray(u)) return undefined;
  const { keys, members } = u;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string") || typeof members !== "string")
    return undefined;
  return { adaptedFor, undo: { keys: keys as string[], members } };
}
