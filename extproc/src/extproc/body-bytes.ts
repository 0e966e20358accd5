// The upstream body rewrite on the client's bytes. Every attempt rewrites the whole body, and
// for a long prompt the text route (decode the buffer, JSON.parse all of it, render a string,
// encode it again) cost about 1 ms per 256 KB. Here the untouched members are copied as raw
// byte ranges and only the small members the adapters read are decoded and parsed.
import { isUtf8 } from "node:buffer";
import { type ChatBody, readBodyFacts } from "../facts/body.js";
import type { PoolDoc } from "../policy/schema.js";
import { adaptForPool } from "../reasoning/adapt.js";
import { toJson } from "../reasoning/render-body.js";

/** One top-level member: its key and the byte range of its raw `"key": value` text. */
export interface ByteMember {
  key: string;
  start: number;
  end: number;
}

/**
 * Members that hold the prompt itself. Adapters compute their patch from top-level settings
 * (reasoning_effort, max tokens, chat_template_kwargs), never from the prompt, so these are
 * copied through without being parsed.
 */
const PROMPT_KEYS: ReadonlySet<string> = new Set(["messages", "prompt"]);

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
 * Top-level members of a JSON object's UTF-8 bytes (the byte twin of render-body's
 * indexMembers; structural characters are ASCII, so they never occur inside a multi-byte
 * character). Undefined if the bytes are not an object. Structure is checked, scalars are not.
 */
export function indexMemberBytes(b: Buffer): ByteMember[] | undefined {
  const members: ByteMember[] = [];
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

export interface Adapted {
  body: Buffer;
  undo: Undo;
  /**
   * True when the pool wants exactly what the client sent (every field the adapter sets already
   * has that value, every field it removes is absent): `body` is then the client's own bytes and
   * the undo record is empty, so the router sends no body back to Envoy at all.
   */
  unchanged: boolean;
}

/**
 * The body for `pool`, or undefined when the bytes do not suit this route (not valid UTF-8,
 * not an object, a member that does not parse): the caller then takes the text route, which
 * gives the same bytes for every body this one accepts, except a body the pool takes as it is,
 * which comes back as the client's own bytes.
 */
export function adaptBodyBytes(raw: Buffer, pool: PoolDoc): Buffer | undefined {
  return adaptBodyBytesWithUndo(raw, pool)?.body;
}

/** adaptBodyBytes, plus the record that restoreBody needs to take the rewrite back. */
export function adaptBodyBytesWithUndo(raw: Buffer, pool: PoolDoc): Adapted | undefined {
  // Invalid UTF-8 comes out of the text route with U+FFFD in place of the bad bytes.
  if (!isUtf8(raw)) return undefined;
  const members = indexMemberBytes(raw);
  if (members === undefined) return undefined;
  const settings = members.filter((m) => !PROMPT_KEYS.has(m.key));
  let body: ChatBody;
  try {
    body = JSON.parse(`{${settings.map((m) => raw.toString("utf8", m.start, m.end)).join(",")}}`) as ChatBody;
  } catch {
    return undefined;
  }
  const patch = adaptForPool(body, readBodyFacts(body, raw.length, []), pool);
  if (isNoOp(body, patch.set, patch.remove))
    return { body: raw, undo: { keys: [], members: "" }, unchanged: true };
  // As renderPatched: "{", untouched members in order, then the patched fields, "}".
  const setKeys = Object.keys(patch.set);
  const keys = [...new Set([...setKeys, ...patch.remove])];
  const patched = setKeys.map((k) => {
    const v = toJson(patch.set[k]);
    return v === undefined ? "" : `${toJson(k)}:${v}`;
  });
  const undone = members.filter((m) => keys.includes(m.key)).map((m) => raw.toString("utf8", m.start, m.end));
  return {
    body: spliceMembers(raw, members, (k) => !keys.includes(k), patched),
    undo: { keys, members: undone.join(",") },
    unchanged: false,
  };
}

/** The client's settings already are what the patch writes (compared as JSON text). */
function isNoOp(body: ChatBody, set: Record<string, unknown>, remove: readonly string[]): boolean {
  const has = (k: string) => Object.hasOwn(body, k);
  for (const k of remove) if (has(k)) return false;
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined ? has(k) : !has(k) || toJson((body as Record<string, unknown>)[k]) !== toJson(v))
      return false;
  }
  return true;
}

/** "{", the members `keep` accepts as raw byte ranges in order, then the `extra` member texts, "}". */
function spliceMembers(
  raw: Buffer,
  members: readonly ByteMember[],
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
  const members = indexMemberBytes(adapted);
  if (members === undefined) return undefined;
  return spliceMembers(adapted, members, (k) => !undo.keys.includes(k), [undo.members]);
}

/** The undo record from dynamic metadata; undefined if it is not one. */
export function undoFrom(v: unknown): Undo | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const { keys, members } = v as Record<string, unknown>;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string") || typeof members !== "string")
    return undefined;
  return { keys, members };
}
