// Request validation in the order vLLM applies it, so a router sees the same status for the same
// mistake: content-type and JSON decoding and the pydantic schema (FastAPI layer, 400 "Bad
// Request"), then the model check (404 NotFoundError), then context-length limits (400).

import { errorJson } from "./modes.js";
import type { Endpoint, FinishReason } from "./sse.js";

export interface GenPlan {
  endpoint: Endpoint;
  stream: boolean;
  /** Completion tokens to produce: min(configured length, max_tokens). */
  tokens: number;
  finish: FinishReason;
  includeUsage: boolean;
  promptTokens: number;
  /** Chat, non-streaming only: answer with a call of this function (tool_choice named one, or "required"). */
  toolCall?: string;
}

export type Validation = { ok: true; plan: GenPlan } | { ok: false; status: number; body: string };

export interface ValidateInput {
  endpoint: Endpoint;
  contentType: string | undefined;
  /** Parsed JSON, or undefined when the body was not valid JSON. */
  json: unknown;
  servedModel: string;
  /** Further accepted names (vLLM's extra --served-model-name values). */
  aliases?: readonly string[];
  configuredTokens: number;
  maxModelLen: number;
}

type Body = Record<string, unknown>;

function badRequest(message: string): Validation {
  return { ok: false, status: 400, body: errorJson(400, message) };
}

function checkShape(endpoint: Endpoint, contentType: string | undefined, json: unknown): string | Body {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  // vLLM rejects other media types with 400 (a RequestValidationError), not 415.
  if (media !== "application/json") return "Unsupported Media Type: Only 'application/json' is allowed";
  if (json === undefined) return "JSON decode error";
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return "Input should be a valid dictionary or object to extract fields from";
  }
  const body = json as Body;
  if (endpoint === "chat" && !Array.isArray(body.messages)) return "Field required: body.messages";
  if (endpoint === "completion" && body.prompt === undefined && body.prompt_embeds === undefined) {
    return "Either prompt or prompt_embeds must be provided and non-empty.";
  }
  if (body.stream_options != null && body.stream !== true) {
    return "Stream options can only be defined when `stream=True`.";
  }
  return body;
}

/** The requested limit; chat prefers max_completion_tokens, as vLLM does. */
function requestedMax(endpoint: Endpoint, body: Body): unknown {
  if (endpoint === "chat") return body.max_completion_tokens ?? body.max_tokens;
  // CompletionRequest.max_tokens defaults to 16 in vLLM.
  return body.max_tokens === undefined ? 16 : body.max_tokens;
}

export function validateRequest(input: ValidateInput): Validation {
  const shape = checkShape(input.endpoint, input.contentType, input.json);
  if (typeof shape === "string") return badRequest(shape);
  const body = shape;
  const max = requestedMax(input.endpoint, body);
  if (max != null && (!Number.isInteger(max) || (max as number) < 1)) {
    return badRequest(`max_tokens must be at least 1, got ${String(max)}.`);
  }
  // An absent or empty model means "the served model" in vLLM; only a different name is a 404.
  const model = body.model;
  if (
    typeof model === "string" &&
    model !== "" &&
    model !== input.servedModel &&
    !(input.aliases ?? []).includes(model)
  ) {
    return {
      ok: false,
      status: 404,
      body: errorJson(404, `The model \`${model}\` does not exist.`, "NotFoundError", "model"),
    };
  }
  const promptTokens = estimatePromptTokens(input.endpoint, body);
  const limit = contextError(promptTokens, max as number | null | undefined, input.maxModelLen);
  if (limit) return { ok: false, status: 400, body: limit };
  const capped = typeof max === "number" && max <= input.configuredTokens;
  return {
    ok: true,
    plan: {
      endpoint: input.endpoint,
      stream: body.stream === true,
      tokens: capped ? (max as number) : input.configuredTokens,
      finish: capped ? "length" : "stop",
      includeUsage: includeUsage(body.stream_options),
      promptTokens,
      ...(input.endpoint === "chat" ? toolCallOf(body) : {}),
    },
  };
}

/** The function a chat request forces: tool_choice {function: {name}}, or "required" (the first tool). */
function toolCallOf(body: Body): { toolCall?: string } {
  const choice = body.tool_choice;
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: unknown } }[]) : [];
  let name: unknown;
  if (choice === "required") name = tools[0]?.function?.name;
  else if (typeof choice === "object" && choice !== null)
    name = (choice as { function?: { name?: unknown } }).function?.name;
  return typeof name === "string" ? { toolCall: name } : {};
}

// vLLM's StreamOptions.include_usage defaults to true: `"stream_options": {}` already asks for it.
function includeUsage(opts: unknown): boolean {
  if (typeof opts !== "object" || opts === null) return false;
  return (opts as Body).include_usage !== false;
}

function contextError(
  prompt: number,
  max: number | null | undefined,
  maxModelLen: number,
): string | undefined {
  if (prompt >= maxModelLen) {
    const msg =
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ` +
      `${prompt} input tokens. Please reduce the length of the input messages.`;
    return errorJson(400, msg, "BadRequestError", "input_tokens");
  }
  if (max != null && prompt + max > maxModelLen) {
    const msg =
      `'max_tokens' or 'max_completion_tokens' is too large: ${max}. This model's maximum context ` +
      `length is ${maxModelLen} tokens and your request has ${prompt} input tokens ` +
      `(${max} > ${maxModelLen} - ${prompt}).`;
    return errorJson(400, msg, "BadRequestError", "max_tokens");
  }
  return undefined;
}

/** Roughly 4 characters per token, counting only text the tokenizer would see. */
export function estimatePromptTokens(endpoint: Endpoint, body: Body): number {
  let chars = 0;
  if (endpoint === "chat") {
    for (const m of body.messages as unknown[]) chars += messageChars(m);
  } else {
    chars = textChars(body.prompt);
  }
  return Math.max(1, Math.ceil(chars / 4));
}

function messageChars(m: unknown): number {
  if (typeof m !== "object" || m === null) return 0;
  return textChars((m as Body).content);
}

function textChars(v: unknown): number {
  if (typeof v === "string") return v.length;
  if (Array.isArray(v)) {
    let n = 0;
    for (const part of v) {
      if (typeof part === "string") n += part.length;
      else if (typeof part === "number")
        n += 4; // a token id
      else if (typeof part === "object" && part !== null) n += textChars((part as Body).text);
    }
    return n;
  }
  return 0;
}
