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
  // A patch has a handful of keys: array lookups beat building a Set per render.
  const setKeys = Object.keys(patch.set);
  const parts: string[] = [];
  for (const m of members) if (!setKeys.includes(m.key) && !patch.remove.includes(m.key)) parts.push(m.raw);
  // One stringify for all patched fields; like JSON.stringify, it leaves out undefined values.
  const set = JSON.stringify(patch.set);
  if (set.length > 2) parts.push(set.slice(1, -1));
  return `{${parts.join(",")}}`;
}

/** A key's value; only keys with escapes pay for JSON.parse. */
function readKey(t: string, start: number, end: number): string {
  const inner = t.slice(start + 1, end - 1);
  return inner.includes("\\") ? (JSON.parse(t.slice(start, end)) as string) : inner;
}

function skipWs(t: string, i: number): number {
  let j = i;
  while (j < t.length) {
    const c = t.charCodeAt(j);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    j++;
  }
  return j;
}

/** Index just past the closing quote of the string that opens at `start`, or -1. */
function stringEnd(t: string, start: number): number {
  let q = start;
  for (;;) {
    q = t.indexOf('"', q + 1);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let k = q - 1; t.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
  }
}

/** Index just past the JSON value that starts at `start`, or -1. */
function valueEndAt(t: string, start: number): number {
  const c = t[start];
  if (c === '"') return stringEnd(t, start);
  if (c !== "{" && c !== "[") {
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
