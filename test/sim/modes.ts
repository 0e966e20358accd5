// Failure modes of the simulated backend and their two spellings: the object form used by the
// library API and fleet files, and the compact string form used by `x-sim-mode`, `--mode` and the
// admin endpoint (where either form is accepted).

import { STATUS_CODES } from "node:http";

export type SimStatusCode = 429 | 500 | 502 | 503 | 504;
const STATUS_CHOICES: readonly number[] = [429, 500, 502, 503, 504];

/** Answer with this status and a vLLM-style error body before any token. */
export interface SimStatusMode {
  status: SimStatusCode;
  /** `Retry-After` header value in seconds; the header is sent only when this is set. */
  retryAfterS?: number;
}

/** Send headers and this many SSE `data:` events (role chunk included), then drop the connection. */
export interface SimDieMode {
  dieAfterChunks: number;
}

/**
 * Send this many SSE events, then an in-band error event and `data: [DONE]` on a 200 response.
 * This is how vLLM itself reports a failure that happens after streaming began.
 */
export interface SimErrorMode {
  errorAfterChunks: number;
}

export type SimMode = "ok" | "refuse" | "reset" | "hang" | SimStatusMode | SimDieMode | SimErrorMode;

/** The mode a single request is served with; "refuse" cannot apply to an accepted request. */
export type RequestMode = Exclude<SimMode, "refuse">;

const SIMPLE = new Set(["ok", "refuse", "reset", "hang"]);

/** Parse either spelling; returns undefined for anything unrecognised so callers can report it. */
export function parseMode(value: unknown): SimMode | undefined {
  if (typeof value === "string") return parseModeString(value.trim().toLowerCase());
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.status === "number" && STATUS_CHOICES.includes(v.status)) {
    const retry = v.retryAfterS;
    if (retry !== undefined && !isCount(retry)) return undefined;
    return retry === undefined
      ? { status: v.status as SimStatusCode }
      : { status: v.status as SimStatusCode, retryAfterS: retry as number };
  }
  if (isCount(v.dieAfterChunks)) return { dieAfterChunks: v.dieAfterChunks as number };
  if (isCount(v.errorAfterChunks)) return { errorAfterChunks: v.errorAfterChunks as number };
  return undefined;
}

// Grammar: ok | refuse | reset | hang | status-<code>[-retry-<s>] | die-after-<n> | error-after-<n>
function parseModeString(s: string): SimMode | undefined {
  if (SIMPLE.has(s)) return s as SimMode;
  const status = /^status-(\d{3})(?:-retry-(\d+))?$/.exec(s);
  if (status) {
    const code = Number(status[1]);
    if (!STATUS_CHOICES.includes(code)) return undefined;
    const retry = status[2];
    return retry === undefined
      ? { status: code as SimStatusCode }
      : { status: code as SimStatusCode, retryAfterS: Number(retry) };
  }
  const after = /^(die|error)-after-(\d+)$/.exec(s);
  if (after) {
    const n = Number(after[2]);
    return after[1] === "die" ? { dieAfterChunks: n } : { errorAfterChunks: n };
  }
  return undefined;
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/** The string spelling, for logs and the admin API. */
export function formatMode(mode: SimMode): string {
  if (typeof mode === "string") return mode;
  if ("status" in mode) {
    return mode.retryAfterS === undefined
      ? `status-${mode.status}`
      : `status-${mode.status}-retry-${mode.retryAfterS}`;
  }
  if ("dieAfterChunks" in mode) return `die-after-${mode.dieAfterChunks}`;
  return `error-after-${mode.errorAfterChunks}`;
}

/**
 * vLLM's ErrorResponse JSON: `{"error": {"message", "type", "param", "code"}}`.
 * Handler-level errors use exception-ish types ("NotFoundError", "BadRequestError"); FastAPI-level
 * ones (schema validation, HTTPException) use the HTTP reason phrase ("Bad Request").
 */
export function errorJson(code: number, message: string, type?: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type: type ?? STATUS_CODES[code] ?? "Error", param, code } });
}
