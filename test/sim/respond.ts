// Timed generation: turns a validated request into a paced SSE stream or a delayed JSON body.
// One timer per response at a time; each tick writes every event that is due by then, so under
// CPU pressure writes coalesce instead of falling behind the configured token rate.

import type { ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { errorJson, type RequestMode } from "./modes.js";
import { DONE_EVENT, errorEvent, fullResponse, StreamFramer, type Usage } from "./sse.js";
import type { GenPlan } from "./validate.js";

export interface Timing {
  ttftMs: number;
  /** 0 = every token at once, at time to first token. */
  tokensPerSec: number;
}

export interface Job {
  plan: GenPlan;
  id: string;
  model: string;
  timing: Timing;
  /** Only "ok", die-after and error-after reach generation; the others are handled earlier. */
  mode: RequestMode;
  /** Send 200 + headers at once instead of at the first token (what real vLLM does). */
  earlyHeaders: boolean;
  /** A non-streaming chat answer's content instead of the fake tokens (the labeler, labeler.ts). */
  answer?: string;
}

const GENERATION_ERROR = errorJson(500, "Internal server error", "InternalServerError");

export function serveGeneration(res: ServerResponse, job: Job): void {
  if (job.plan.stream) serveStream(res, job);
  else serveFull(res, job);
}

function usageOf(plan: GenPlan): Usage {
  return {
    prompt_tokens: plan.promptTokens,
    total_tokens: plan.promptTokens + plan.tokens,
    completion_tokens: plan.tokens,
  };
}

function intervalMs(t: Timing): number {
  return t.tokensPerSec > 0 ? 1000 / t.tokensPerSec : 0;
}

/** Events a failure mode lets through before it strikes (undefined = no failure). */
function eventLimit(mode: RequestMode): number | undefined {
  if (typeof mode !== "object") return undefined;
  if ("dieAfterChunks" in mode) return mode.dieAfterChunks;
  if ("errorAfterChunks" in mode) return mode.errorAfterChunks;
  return undefined;
}

function writeStreamHead(res: ServerResponse): void {
  if (res.headersSent) return;
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
}

/**
 * Drop the connection like a crashed server: flush what was written, then FIN. A chunked body
 * without its terminating chunk (or a short Content-Length body) is what the client sees.
 */
function dieAfterFlush(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  socket.once("finish", () => socket.destroy());
  socket.end();
}

function serveStream(res: ServerResponse, job: Job): void {
  const { plan, timing } = job;
  const framer = new StreamFramer(plan.endpoint, job.id, Math.floor(Date.now() / 1000), job.model);
  const offset = plan.endpoint === "chat" ? 1 : 0; // the role event
  const total = offset + plan.tokens + (plan.includeUsage ? 1 : 0) + 1; // + [DONE]
  const limit = eventLimit(job.mode);
  const interval = intervalMs(timing);
  const t0 = performance.now();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;

  const eventAt = (k: number): string => {
    if (k < offset) return framer.role();
    const j = k - offset;
    if (j < plan.tokens) return framer.token(j, j === plan.tokens - 1 ? plan.finish : null);
    if (plan.includeUsage && j === plan.tokens) return framer.usage(usageOf(plan));
    return DONE_EVENT;
  };
  // The role event rides with the first token; usage and [DONE] ride with the last one.
  const dueAt = (k: number): number =>
    timing.ttftMs + Math.min(Math.max(k - offset, 0), plan.tokens - 1) * interval;

  const tick = (): void => {
    timer = undefined;
    writeStreamHead(res);
    const elapsed = performance.now() - t0;
    let out = "";
    // Always emit the event this tick was scheduled for, even if the clock reads a hair early.
    do {
      if (sent === limit) break;
      out += eventAt(sent++);
    } while (sent < total && dueAt(sent) <= elapsed);
    if (out !== "") res.write(out);
    if (sent === limit) strike(res, job.mode);
    else if (sent === total) res.end();
    else timer = setTimeout(tick, Math.max(0, dueAt(sent) - (performance.now() - t0)));
  };

  res.on("close", () => {
    if (timer) clearTimeout(timer);
  });
  if (job.earlyHeaders) {
    writeStreamHead(res);
    res.flushHeaders();
  }
  timer = setTimeout(tick, timing.ttftMs);
}

function strike(res: ServerResponse, mode: RequestMode): void {
  if (typeof mode === "object" && "errorAfterChunks" in mode) {
    res.end(errorEvent(GENERATION_ERROR) + DONE_EVENT);
    return;
  }
  // headersSent turns true at writeHead, before anything is on the wire: flush unconditionally.
  res.flushHeaders();
  dieAfterFlush(res);
}

function serveFull(res: ServerResponse, job: Job): void {
  const { plan, timing } = job;
  // Non-streaming responses arrive whole, once the last token would have been generated.
  const delay = timing.ttftMs + (plan.tokens - 1) * intervalMs(timing);
  const timer = setTimeout(() => finishFull(res, job), delay);
  res.on("close", () => clearTimeout(timer));
}

function finishFull(res: ServerResponse, job: Job): void {
  const { plan, mode } = job;
  if (typeof mode === "object" && "errorAfterChunks" in mode) {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(GENERATION_ERROR);
    return;
  }
  const body = fullResponse({
    endpoint: plan.endpoint,
    id: job.id,
    created: Math.floor(Date.now() / 1000),
    model: job.model,
    tokens: plan.tokens,
    finish: plan.finish,
    usage: usageOf(plan),
    ...(plan.toolCall === undefined ? {} : { toolCall: plan.toolCall }),
    ...(job.answer === undefined ? {} : { text: job.answer }),
  });
  const bytes = Buffer.from(body);
  res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length });
  if (typeof mode === "object" && "dieAfterChunks" in mode) {
    // Promise the whole body, deliver half: the client must notice the truncation.
    res.write(bytes.subarray(0, bytes.length >> 1));
    dieAfterFlush(res);
    return;
  }
  res.end(bytes);
}
