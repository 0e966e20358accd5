// Writes a patched body as text without re-serialising what did not change. The client's
// text is split once into top-level members (key + raw value); a patched body is the
// untouched members' raw text plus the patched fields. A 5 MB body of base64 images thus
// costs one scan that jumps from quote to quote, not a JSON.stringify per pool and attempt.
import type { BodyPatch } from "./adapter.js";

export interface Member {
  key: string;
  /** The raw `"key": value` text. */
  raw: string;
}

/**
 * Top-level members of a JSON object's text, or undefined if the text is not one. Meant for
 * text JSON.parse accepted: the structure is checked, scalar tokens are not validated.
 */
export function indexMembers(text: string): Member[] | undefined {
  const members: Member[] = [];
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === 0x7d) return members;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return undefined;
    const key = readKey(text, i, keyEnd);
    let j = skipWs(text, keyEnd);
    if (text.charCodeAt(j) !== 0x3a) return undefined;
    j = skipWs(text, j + 1);
    const valueEnd = valueEndAt(text, j);
    if (valueEnd < 0) return undefined;
    members.push({ key, raw: text.slice(i, valueEnd) });
    i = skipWs(text, valueEnd);
    const c = text.charCodeAt(i);
    if (c === 0x7d) return members;
    if (c !== 0x2c) return undefined;
    i = skipWs(text, i + 1);
  }
}

export function renderPatched(members: readonly Member[], patch: BodyPatch): string {
  // A patch has a handful of keys: array lookups beat a Set, and concatenation beats join.
  const setKeys = Object.keys(patch.set);
  let out = "{";
  let sep = "";
  for (const m of members) {
    if (setKeys.includes(m.key) || patch.remove.includes(m.key)) continue;
    out += sep + m.raw;
    sep = ",";
  }
  for (const k of setKeys) {
    const v = toJson(patch.set[k]);
    if (v === undefined) continue; // left out, as JSON.stringify does
    out += `${sep}${quoteKey(k)}:${v}`;
    sep = ",";
  }
  return `${out}}`;
}

// The keys adapters write, quoted once.
const QUOTED_KEYS: ReadonlyMap<string, string> = new Map(
  [
    "model",
    "chat_template_kwargs",
    "enable_thinking",
    "thinking",
    "thinking_token_budget",
    "reasoning_effort",
    "max_tokens",
    "max_completion_tokens",
  ].map((k) => [k, `"${k}"`]),
);

function quoteKey(k: string): string {
  return QUOTED_KEYS.get(k) ?? (toJson(k) as string);
}

/** A character JSON.stringify would escape: quote, backslash, control character, surrogate half. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be found
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON.stringify's output for a patched value. Patches hold short strings, numbers, booleans
 * and small objects, and on the hot path a JSON.stringify call costs more than the rest of
 * the render; these are written directly, anything else goes to JSON.stringify.
 */
export function toJson(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (v === null) return "null";
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype || typeof (v as { toJSON?: unknown }).toJSON === "function")
        return JSON.stringify(v);
      let out = "{";
      let sep = "";
      for (const k of Object.keys(v)) {
        const s = toJson((v as Record<string, unknown>)[k]);
        if (s === undefined) continue;
        out += `${sep}${quoteKey(k)}:${s}`;
        sep = ",";
      }
      return `${out}}`;
    }
    default:
      return JSON.stringify(v);
  }
}

/** A key's value; only keys with escapes pay for JSON.parse. */
function readKey(t: string, start: number, end: number): string {
  const inner = t.slice(start + 1, end - 1);
  return inner.indexOf("\\") < 0 ? inner : (JSON.parse(t.slice(start, end)) as string);
}

function skipWs(t: string, i: number): number {
  let j = i;
  let c = t.charCodeAt(j);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = t.charCodeAt(++j);
  return j;
}

/** Index just past the closing quote of the string that opens at `start`, or -1. */
function stringEnd(t: string, start: number): number {
  let q = start;
  for (;;) {
    q = t.indexOf('"', q + 1);
    if (q < 0) return -1;
    if (t.charCodeAt(q - 1) !== 0x5c) return q + 1;
    let backslashes = 1;
    for (let k = q - 2; t.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
  }
}

/** Index just past the JSON value that starts at `start`, or -1. */
function valueEndAt(t: string, start: number): number {
  const c = t.charCodeAt(start);
  if (c === 0x22) return stringEnd(t, start);
  if (c !== 0x7b && c !== 0x5b) {
    let j = start;
    while (j < t.length) {
      const ch = t.charCodeAt(j);
      if (
        ch === 0x2c ||
        ch === 0x7d ||
        ch === 0x5d ||
        ch === 0x20 ||
        ch === 0x0a ||
        ch === 0x0d ||
        ch === 0x09
      )
        break;
      j++;
    }
    return j;
  }
  let depth = 0;
  let j = start;
  while (j < t.length) {
    const ch = t.charCodeAt(j);
    if (ch === 0x22) {
      j = stringEnd(t, j);
      if (j < 0) return -1;
      continue;
    }
    if (ch === 0x7b || ch === 0x5b) depth++;
    else if (ch === 0x7d || ch === 0x5d) {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return -1;
}
