// What the classifier reads from a request: the text of the last user message (or a
// completion's prompt), cut to `input_chars`, and a few shape facts for the heuristic. The
// cache key is a hash of the normalised text, so the cache holds no prompt text.
import { createHash, hash } from "node:crypto";
import type { ChatBody } from "../facts/body.js";
import type { RequestFacts } from "../facts/types.js";

export interface ClassifierInput {
  /** The last user message's text (text parts joined by newlines), at most input_chars long. */
  text: string;
  /** Messages in the conversation (its depth). */
  messages: number;
  hasTools: boolean;
  /** The whole prompt's size estimate (facts/body.ts). */
  promptTokens: number;
}

export function classifierInput(body: ChatBody, facts: RequestFacts, maxChars: number): ClassifierInput {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let text = "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (m === null || typeof m !== "object" || m.role !== "user") continue;
    text = contentText(m.content, maxChars);
    break;
  }
  if (text === "" && messages.length === 0 && typeof body.prompt === "string") text = body.prompt;
  return {
    text: text.length > maxChars ? text.slice(0, maxChars) : text,
    messages: messages.length,
    hasTools: facts.body.hasTools,
    promptTokens: facts.body.promptTokens,
  };
}

function contentText(content: unknown, maxChars: number): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const part of content) {
    const t = (part as { type?: unknown; text?: unknown } | null)?.text;
    if (typeof t !== "string") continue;
    out = out === "" ? t : `${out}\n${t}`;
    if (out.length >= maxChars) break;
  }
  return out;
}

/** Whitespace other than the plain space (what \s matches, less " "). */
const OTHER_SPACE = /[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/** Lowercase, whitespace runs collapsed, trimmed: "Hello   World " and "hello world" share a key. */
export function normalize(text: string): string {
  const lower = text.toLowerCase();
  // Most prompts need no collapsing, and finding that out costs a fraction of the replace.
  const collapse = lower.includes("  ") || OTHER_SPACE.test(lower);
  return (collapse ? lower.replace(/\s+/g, " ") : lower).trim();
}

// crypto.hash (one call, no Hash object) since Node 20.12; createHash before that.
const sha256 =
  typeof hash === "function"
    ? (s: string) => hash("sha256", s, "base64")
    : (s: string) => createHash("sha256").update(s).digest("base64");

/** The cache key: SHA-256 of the normalised text, base64 (44 characters; the text is not kept). */
export function cacheKey(text: string): string {
  return sha256(normalize(text));
}
