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
  if (text[i] !== "{") return undefined;
  i = skipWs(text, i + 1);
  if (text[i] === "}") return members;
  for (;;) {
    if (text[i] !== '"') return undefined;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return undefined;
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    let j = skipWs(text, keyEnd);
    if (text[j] !== ":") return undefined;
    j = skipWs(text, j + 1);
    const valueEnd = valueEndAt(text, j);
    if (valueEnd < 0) return undefined;
    members.push({ key, raw: text.slice(i, valueEnd) });
    i = skipWs(text, valueEnd);
    if (text[i] === "}") return members;
    if (text[i] !== ",") return undefined;
    i = skipWs(text, i + 1);
  }
}

export function renderPatched(members: readonly Member[], patch: BodyPatch): string {
  const parts: string[] = [];
  const drop = new Set([...patch.remove, ...Object.keys(patch.set)]);
  for (const m of members) if (!drop.has(m.key)) parts.push(m.raw);
  for (const [k, v] of Object.entries(patch.set)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${parts.join(",")}}`;
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
    while (j < t.length && !",}] \n\r\t".includes(t[j] as string)) j++;
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
