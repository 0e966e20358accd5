// Public types of the simulated vLLM backend (re-exported by sim-backend.ts).

import type { IncomingHttpHeaders } from "node:http";
import type { SimLabeler } from "./labeler.js";
import type { SimMode } from "./modes.js";

export interface SimTiming {
  /** Time to first token; streaming headers go out with it unless earlyHeaders is set. */
  ttftMs?: number;
  /** Decode speed; 0 sends all tokens at once. */
  tokensPerSec?: number;
  /** Completion length in tokens (a request's max_tokens can only shorten it). */
  tokens?: number;
}

export interface SimOptions extends SimTiming {
  /** Echoed in the `x-sim-backend` response header. */
  name: string;
  /** vLLM's --served-model-name: the accepted `model` value, and the name responses carry. */
  servedModel: string;
  /**
   * Further --served-model-name values (vLLM takes several): also accepted as `model`, and
   * listed by /v1/models; responses still name servedModel, as vLLM names the first.
   */
  aliases?: string[];
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Initial failure mode (default "ok"); see SimBackend.setMode. */
  mode?: SimMode;
  /** Reported by /v1/models and enforced like vLLM (prompt + max_tokens must fit). */
  maxModelLen?: number;
  /**
   * Real vLLM (Starlette StreamingResponse under uvicorn) sends `200` and the headers as soon as
   * the request is accepted, and only the first SSE event waits for the first token. Default
   * false: headers wait for the first token.
   */
  earlyHeaders?: boolean;
  /**
   * Idle keep-alive timeout, default 65 s so a proxy's pooled connections stay reusable. Real
   * vLLM closes idle connections after only 5 s (uvicorn, VLLM_HTTP_TIMEOUT_KEEP_ALIVE); set
   * 5000 to reproduce the reuse race that causes against a proxy with a longer idle timeout.
   */
  keepAliveTimeoutMs?: number;
  /** Cap on `received` (oldest entries are dropped), to bound memory under benchmarks. */
  maxRecorded?: number;
  /** Non-streaming chat answers a label instead of fake tokens (a classifier endpoint). */
  labeler?: SimLabeler;
  /** Length of /v1/embeddings vectors (default 1024). */
  embeddingDim?: number;
}

export interface SetModeOptions extends SimTiming {
  /** Go back to "ok" after this long; the only way to end "refuse" from outside the process. */
  durationMs?: number;
  /**
   * Share of generation requests served with the mode (0–1, default 1); the others are "ok".
   * Deterministic: with 0.5 every second request fails. Not for "refuse" (a listener is all or nothing).
   */
  rate?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, the raw string if it was not JSON, undefined if empty. */
  body: unknown;
  at: number;
}

export interface SimStats {
  /** Requests recorded since start (clearReceived does not reset it). */
  requests: number;
  /** Generation responses still in flight (streaming, waiting for ttft, or hanging). */
  open: number;
}

export interface SimBackend {
  readonly name: string;
  readonly servedModel: string;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** host:port, as an Envoy cluster endpoint would name it. */
  readonly address: string;
  /** Requests to /v1/* and unknown paths (not /health or /sim/*), oldest first; cleared in place. */
  readonly received: RecordedRequest[];
  readonly mode: SimMode;
  /**
   * Modes apply to the generation endpoints (/v1/chat/completions, /v1/completions) and
   * /v1/embeddings (answered after ttftMs) only, so
   * /health, /v1/models and /sim/* keep answering, except under "refuse", which closes the
   * listener (same port on return to "ok") and drops every open connection. Resolves once the
   * listener matches the mode. Timing options in `opts` apply too, as with setTiming.
   */
  setMode(mode: SimMode, opts?: SetModeOptions): Promise<void>;
  /** Applies to requests that arrive afterwards. */
  setTiming(timing: SimTiming): void;
  /** The chat label mode (undefined: fake tokens again); applies to requests that arrive afterwards. */
  setLabeler(labeler: SimLabeler | undefined): void;
  clearReceived(): void;
  stats(): SimStats;
  close(): Promise<void>;
}

export interface SimFleet {
  readonly backends: SimBackend[];
  byName(name: string): SimBackend;
  close(): Promise<void>;
}
