// The one body rewriter: the client's bytes in, one pool's body out, without re-serialising
// what did not change. The body is split once into top-level members (byte ranges of each
// `"key": value`); a rewritten body is the untouched members' raw bytes plus the patched
// fields. A 5 MB body of base64 images thus costs one scan that jumps from quote to quote,
// not a JSON.stringify per pool and attempt. The router, the upstream processor and `explain`
// all render through rewriteForPool / renderPatched.
import { isUtf8 } from "node:buffer";
import type { ChatBody } from "../facts/body.js";
import type { BodyFacts } from "../facts/types.js";
import type { PoolDoc } from "../policy/schema.js";
import { adaptForPool, applyPatch } from "./adapt.js";
import type { BodyPatch } from "./adapter.js";

/** One top-level member: its key and the byte range of its raw `"key": value` text. */
export interface Member {
  key: string;
  start: number;
  end: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index just past the closing quote of the string that opens at `start`, or -1. */
function stringEnd(b: Buffer, start: number): number {
  let q = start;
  for (;;) {
    q = b.indexOf(QUOTE, q + 1);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let k = q - 1; b[k] === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
  }
}

function skipWs(b: Buffer, i: number): number {
  let j = i;
  let c = b[j];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++j];
  return j;
}

/** Index just past the JSON value that starts at `start`, or -1. */
function valueEnd(b: Buffer, start: number): number {
  const c = b[start];
  if (c === QUOTE) return stringEnd(b, start);
  if (c !== 0x7b && c !== 0x5b) {
    let j = start;
    for (; j < b.length; j++) {
      const ch = b[j];
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
    }
    return j;
  }
  let depth = 0;
  let j = start;
  while (j < b.length) {
    const ch = b[j];
    if (ch === QUOTE) {
      j = stringEnd(b, j);
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

/** A key's value; only keys with escapes pay for JSON.parse. */
function readKey(b: Buffer, start: number, end: number): string | undefined {
  const inner = b.subarray(start + 1, end - 1);
  if (!inner.includes(BACKSLASH)) return inner.toString("utf8");
  try {
    return JSON.parse(b.toString("utf8", start, end)) as string;
  } catch {
    return undefined;
  }
}

/**
 * Top-level members of a JSON object's UTF-8 bytes (structural characters are ASCII, so they
 * never occur inside a multi-byte character). Undefined if the bytes are not an object.
 * Structure is checked, scalars are not: meant for bytes JSON.parse accepted.
 */
export function indexMembers(b: Buffer): Member[] | undefined {
  const members: Member[] = [];
  let i = skipWs(b, 0);
  if (b[i] !== 0x7b) return undefined;
  i = skipWs(b, i + 1);
  if (b[i] === 0x7d) return skipWs(b, i + 1) === b.length ? members : undefined;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return undefined;
    const key = readKey(b, i, keyEnd);
    if (key === undefined) return undefined;
    let j = skipWs(b, keyEnd);
    if (b[j] !== 0x3a) return undefined;
    j = skipWs(b, j + 1);
    const end = valueEnd(b, j);
    if (end < 0) return undefined;
    members.push({ key, start: i, end });
    i = skipWs(b, end);
    if (b[i] === 0x7d) return skipWs(b, i + 1) === b.length ? members : undefined;
    if (b[i] !== 0x2c) return undefined;
    i = skipWs(b, i + 1);
  }
}

/**
 * What one pool's rewrite changed, so that a later attempt can get the client's settings back:
 * the router rewrites the body for the path's first pool, and Envoy replays that rewritten
 * body on every retry.
 */
export interface Undo {
  /** Every top-level key the rewrite wrote or removed. */
  keys: string[];
  /** The client's own `"key": value` text of those keys, in body order, comma-joined. */
  members: string;
}

export interface Rewrite {
  body: Buffer;
  undo: Undo;
  /**
   * True when the pool wants exactly what the client sent (every field the adapter sets already
   * has that value, every field it removes is absent): `body` is then the client's own bytes and
   * the undo record is empty, so the router sends no body back to Envoy at all.
   */
  unchanged: boolean;
}

const NO_UNDO: Undo = { keys: [], members: "" };

/**
 * The body `pool` wants, from the client's bytes and the parsed body and facts the router
 * already has (nothing is parsed again). Bytes that are not valid UTF-8 are rewritten from
 * their decoded text, as JSON.parse read them (U+FFFD in place of bad bytes).
 */
export function rewriteForPool(raw: Buffer, body: ChatBody, facts: BodyFacts, pool: PoolDoc): Rewrite {
  const patch = adaptForPool(body, facts, pool);
  const base = isUtf8(raw) ? raw : Buffer.from(raw.toString("utf8"));
  if (isNoOp(body, patch)) return { body: base, undo: NO_UNDO, unchanged: base === raw };
  const members = indexMembers(base);
  if (members === undefined) {
    // Not reached for bytes JSON.parse accepted; kept so that a scanner gap costs speed, not a body.
    const out = applyPatch(body, patch);
    const all = JSON.stringify(body);
    return {
      body: Buffer.from(JSON.stringify(out)),
      undo: { keys: Object.keys(out), members: all.slice(1, -1) },
      unchanged: false,
    };
  }
  const keys = [...new Set([...Object.keys(patch.set), ...patch.remove])];
  const undone = members
    .filter((m) => keys.includes(m.key))
    .map((m) => base.toString("utf8", m.start, m.end));
  return {
    body: renderPatched(base, members, patch),
    undo: { keys, members: undone.join(",") },
    unchanged: false,
  };
}

/**
 * Members that hold the prompt itself. Adapters compute their patch from top-level settings
 * (reasoning_effort, max tokens, chat_template_kwargs), never from the prompt, so an attempt
 * that did not come through the router parses only the others.
 */
const PROMPT_KEYS: ReadonlySet<string> = new Set(["messages", "prompt"]);

/**
 * For bytes the router did not parse (an upstream attempt on another pool): the members and
 * the settings (every member but the prompt) parsed; undefined if the bytes are not a JSON
 * object. A long prompt is never decoded.
 */
export function readSettings(
  raw: Buffer,
): { base: Buffer; members: Member[]; settings: ChatBody } | undefined {
  const base = isUtf8(raw) ? raw : Buffer.from(raw.toString("utf8"));
  const members = indexMembers(base);
  if (members === undefined) return undefined;
  const settings = members.filter((m) => !PROMPT_KEYS.has(m.key));
  try {
    const text = `{${settings.map((m) => base.toString("utf8", m.start, m.end)).join(",")}}`;
    return { base, members, settings: JSON.parse(text) as ChatBody };
  } catch {
    return undefined;
  }
}

/** The client's settings already are what the patch writes (compared as JSON text). */
export function isNoOp(body: ChatBody, patch: BodyPatch): boolean {
  const has = (k: string) => Object.hasOwn(body, k);
  for (const k of patch.remove) if (has(k)) return false;
  for (const [k, v] of Object.entries(patch.set)) {
    if (v === undefined ? has(k) : !has(k) || toJson((body as Record<string, unknown>)[k]) !== toJson(v))
      return false;
  }
  return true;
}

/** "{", the untouched members as raw byte ranges in order, then the patched fields, "}". */
export function renderPatched(raw: Buffer, members: readonly Member[], patch: BodyPatch): Buffer {
  // A patch has a handful of keys: array lookups beat a Set.
  const setKeys = Object.keys(patch.set);
  const extra: string[] = [];
  for (const k of setKeys) {
    const v = toJson(patch.set[k]);
    if (v !== undefined) extra.push(`${quoteKey(k)}:${v}`); // undefined is left out, as JSON.stringify does
  }
  return splice(raw, members, (k) => !setKeys.includes(k) && !patch.remove.includes(k), extra);
}

function splice(
  raw: Buffer,
  members: readonly Member[],
  keep: (key: string) => boolean,
  extra: readonly string[],
): Buffer {
  const parts: Buffer[] = [];
  let sep = "{";
  for (const m of members) {
    if (!keep(m.key)) continue;
    parts.push(Buffer.from(sep), raw.subarray(m.start, m.end));
    sep = ",";
  }
  const tail = extra.filter((e) => e !== "");
  parts.push(Buffer.from(tail.length > 0 ? `${sep}${tail.join(",")}}` : sep === "{" ? "{}" : "}"));
  return Buffer.concat(parts);
}

/**
 * The rewritten body with the client's settings put back: the rewrite's keys dropped and the
 * client's own members appended. Member order differs from the client's, which adapters never
 * read; undefined if `adapted` is not a JSON object.
 */
export function restoreBody(adapted: Buffer, undo: Undo): Buffer | undefined {
  const members = indexMembers(adapted);
  if (members === undefined) return undefined;
  return splice(adapted, members, (k) => !undo.keys.includes(k), [undo.members]);
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
