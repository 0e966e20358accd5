// google.protobuf.Struct in the shape protobufjs expects (camelCase, even with keepCase).
// Decoded ones come from protobufjs as they are: every member of a Value's `kind` reads as its
// default (null, "", 0, false), only the one on the wire is the Value's own property.

import type { Json } from "../vocab/json.js";

export type { Json };

export interface PbValue {
  /** NULL_VALUE, the enum's only value. */
  nullValue?: 0;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: PbStruct;
  listValue?: { values: PbValue[] };
}
export interface PbStruct {
  fields: Record<string, PbValue>;
}

export function toStruct(obj: Record<string, Json | undefined>): PbStruct {
  const fields: Record<string, PbValue> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

/** ES2024's String.prototype.toWellFormed (Node 20 has it; the TypeScript lib here does not). */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string };
const wellFormed = (s: string) =>
  (s as Es2024String).isWellFormed() ? s : (s as Es2024String).toWellFormed();

export function toValue(v: Json): PbValue {
  if (v === null) return { nullValue: 0 };
  if (typeof v === "number") return { numberValue: v };
  // A lone surrogate (JSON allows "\ud800") has no UTF-8 form: protobuf would carry invalid
  // UTF-8 and Envoy would refuse the whole message.
  if (typeof v === "string") return { stringValue: wellFormed(v) };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

/** Reads a decoded Struct back into plain JSON (for attributes and access-log metadata). */
export function fromStruct(s: PbStruct | undefined | null): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

const has = (v: PbValue, k: keyof PbValue) => Object.hasOwn(v, k) && v[k] !== undefined && v[k] !== null;

function fromValue(v: PbValue): Json {
  if (has(v, "structValue")) return fromStruct(v.structValue);
  if (has(v, "listValue")) return (v.listValue?.values ?? []).map(fromValue);
  if (has(v, "stringValue")) return v.stringValue as string;
  if (has(v, "numberValue")) return v.numberValue as number;
  if (has(v, "boolValue")) return v.boolValue as boolean;
  return null;
}

/** A Value's string, if it holds one (a decoded Value's other members read as "" too). */
export function stringOf(v: PbValue | undefined): string | undefined {
  return v !== undefined && has(v, "stringValue") ? v.stringValue : undefined;
}
