// Chat Completions body -> facts. The body is parsed once at the edge (parseChatBody) and
// read here without copying: a 5 MB body of base64 images costs one JSON.parse and a walk
// over the message list, never a pass over the image bytes.
import { EFFORTS, type Effort } from "../policy/schema.js";
import { type Reason, reason } from "../vocab/reasons.js";
import type { BodyFacts } from "./types.js";

export type ChatBody = Record<string, unknown>;

export type ParsedBody =
  | { ok: true; body: ChatBody }
  | { ok: false; code: "invalid_json" | "body_not_object"; detail: string };

export function parseChatBody(text: string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: "invalid_json", detail: (err as Error).message };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const detail = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return { ok: false, code: "body_not_object", detail };
  }
  return { ok: true, body: value as ChatBody };
}

/**
 * How deep request settings may nest. Chat settings (tools, response_format, chat_template_kwargs)
 * nest a few levels; thousands of levels are an attack on recursive code downstream (ours, a
 * JSON serializer, the backend's), refused before anything walks them.
 */
export const MAX_NESTING = 128;

/**
 * The first top-level member (other than the prompt) that nests deeper than `max`, or undefined.
 * Iterative, so a hostile depth cannot overflow the stack here either.
 */
export function tooDeep(body: ChatBody, max = MAX_NESTING): string | undefined {
  for (const [key, value] of Object.entries(body)) {
    if (key === "messages" || key === "prompt" || value === null || typeof value !== "object") continue;
    const stack: [unknown, number][] = [[value, 1]];
    while (stack.length > 0) {
      const [v, depth] = stack.pop() as [unknown, number];
      if (depth > max) return key;
      for (const child of Object.values(v as object))
        if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/** Token allowances of the prompt estimate (documented; vLLM's real counts vary by model). */
export const TOKENS_PER_MESSAGE = 4;
export const TOKENS_PER_IMAGE = 768;
const CHARS_PER_TOKEN = 4;
const EFFORT_SET: ReadonlySet<string> = new Set(EFFORTS);
/** The output limit fields, the one that wins first. */
const LIMIT_FIELDS = ["max_completion_tokens", "max_tokens"] as const;

export function readBodyFacts(body: ChatBody, bytes: number, notes: Reason[]): BodyFacts {
  const facts: BodyFacts = {
    stream: body.stream === true,
    imageCount: 0,
    hasTools: false,
    promptTokens: 0,
    bytes,
  };
  if (typeof body.model === "string") facts.model = body.model;

  let chars = 0;
  let tokens = 0;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const msg of messages) {
    tokens += TOKENS_PER_MESSAGE;
    const content = (msg as { content?: unknown } | null)?.content;
    if (typeof content === "string") chars += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (isImagePart(part)) facts.imageCount++;
        else if (typeof (part as { text?: unknown })?.text === "string")
          chars += (part as { text: string }).text.length;
      }
    }
  }
  if (typeof body.prompt === "string") chars += body.prompt.length; // /v1/completions

  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? body.tools : undefined;
  const functions = Array.isArray(body.functions) && body.functions.length > 0 ? body.functions : undefined;
  if (tools || functions) {
    facts.hasTools = true;
    chars += JSON.stringify(tools ?? functions).length;
  }
  facts.promptTokens = tokens + Math.ceil(chars / CHARS_PER_TOKEN) + facts.imageCount * TOKENS_PER_IMAGE;

  const effort = body.reasoning_effort;
  if (typeof effort === "string" && EFFORT_SET.has(effort)) facts.reasoningEffort = effort as Effort;
  else if (effort !== undefined && effort !== null) {
    notes.push(
      reason(
        "facts",
        "effort:ignored",
        `reasoning_effort ${JSON.stringify(effort).slice(0, 40)} is not one of ${EFFORTS.join("/")}; ignored`,
      ),
    );
  }

  for (const field of LIMIT_FIELDS) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v === "number" && Number.isInteger(v) && v > 0) {
      facts.maxTokens = v;
      facts.maxTokensField = field;
      break;
    }
    notes.push(
      reason(
        "facts",
        `${field}:ignored`,
        `${field} ${JSON.stringify(v).slice(0, 40)} is not a positive integer; ignored`,
      ),
    );
  }
  return facts;
}

function isImagePart(part: unknown): boolean {
  if (part === null || typeof part !== "object") return false;
  const p = part as { type?: unknown; image_url?: unknown };
  return (
    p.type === "image_url" || p.type === "input_image" || p.type === "image" || p.image_url !== undefined
  );
}
