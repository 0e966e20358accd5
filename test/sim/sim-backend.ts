// A fake vLLM OpenAI-compatible server: no model, just timed fake tokens with vLLM's wire format,
// plus switchable failure modes so routing, retries and fallbacks can be tested end to end.
// Used in-process by tests and benchmarks, and out of process through main.ts + /sim/* endpoints.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { DEFAULT_EMBEDDING_DIM, embeddingsResponse } from "./embeddings.js";
import { labelAnswer, type SimLabeler } from "./labeler.js";
import { errorJson, formatMode, parseMode, type RequestMode, type SimMode } from "./modes.js";
import { serveGeneration } from "./respond.js";
import { type Endpoint, modelList } from "./sse.js";
import type {
  RecordedRequest,
  SetModeOptions,
  SimBackend,
  SimFleet,
  SimOptions,
  SimStats,
  SimTiming,
} from "./types.js";
import { validateRequest } from "./validate.js";

export type { SimDieMode, SimErrorMode, SimMode, SimStatusCode, SimStatusMode } from "./modes.js";
export { formatMode, parseMode } from "./modes.js";
export type * from "./types.js";

const GENERATION_PATHS: Record<string, Endpoint> = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "completion",
};
const MAX_BODY_BYTES = 32 * 1024 * 1024;

function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  extra: Record<string, string> = {},
): void {
  const length = String(Buffer.byteLength(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": length, ...extra });
  res.end(body);
}

/** Reads the whole body; resolves undefined if the client goes away or it is absurdly large. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(undefined));
  });
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

class Sim implements SimBackend {
  readonly name: string;
  readonly servedModel: string;
  readonly aliases: readonly string[];
  readonly received: RecordedRequest[] = [];
  port = 0;
  private readonly host: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timing: Required<SimTiming>;
  private readonly maxModelLen: number;
  private readonly earlyHeaders: boolean;
  private readonly maxRecorded: number;
  private readonly embeddingDim: number;
  private labeler: SimLabeler | undefined;
  private current: SimMode = "ok";
  /** Share of requests the current mode applies to (setMode's rate), and the share owed so far. */
  private rate = 1;
  private owed = 0;
  private requests = 0;
  private open = 0;
  private revertTimer: NodeJS.Timeout | undefined;
  // Listener changes (refuse/unrefuse/close) run one at a time, in call order.
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: SimOptions) {
    this.name = opts.name;
    this.servedModel = opts.servedModel;
    this.aliases = opts.aliases ?? [];
    this.host = opts.host ?? "127.0.0.1";
    this.timing = { ttftMs: 20, tokensPerSec: 200, tokens: 16 };
    this.setTiming(opts);
    this.maxModelLen = opts.maxModelLen ?? 32768;
    this.earlyHeaders = opts.earlyHeaders ?? false;
    this.maxRecorded = opts.maxRecorded ?? 10_000;
    this.embeddingDim = opts.embeddingDim ?? DEFAULT_EMBEDDING_DIM;
    this.labeler = opts.labeler;
    this.server = createServer((req, res) => this.onRequest(req, res));
    // A backend that closes idle connections while a proxy may still pick them from its pool
    // makes the proxy fail requests on a reused connection; 65 s keeps that race out of tests
    // unless asked for. headersTimeout must exceed keepAliveTimeout.
    this.server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 65_000;
    this.server.headersTimeout = this.server.keepAliveTimeout + 1000;
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  get url(): string {
    return `http://${this.address}`;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get mode(): SimMode {
    return this.current;
  }

  async start(port: number, mode: SimMode): Promise<void> {
    await this.listen(port);
    const addr = this.server.address();
    if (addr === null || typeof addr === "string") throw new Error("sim: no TCP address after listen");
    this.port = addr.port;
    // Even a backend that starts refusing holds its port first, so its address is known.
    if (mode !== "ok") await this.setMode(mode);
  }

  setMode(mode: SimMode, opts: SetModeOptions = {}): Promise<void> {
    this.setTiming(opts);
    if (this.revertTimer) clearTimeout(this.revertTimer);
    this.revertTimer = undefined;
    this.current = mode;
    this.rate = Math.min(1, Math.max(0, opts.rate ?? 1));
    this.owed = 0;
    if (opts.durationMs !== undefined && !this.closed) {
      this.revertTimer = setTimeout(() => void this.setMode("ok"), opts.durationMs);
    }
    return this.enqueue(() => this.syncListener());
  }

  setTiming(t: SimTiming): void {
    if (t.ttftMs !== undefined) this.timing.ttftMs = Math.max(0, t.ttftMs);
    if (t.tokensPerSec !== undefined) this.timing.tokensPerSec = Math.max(0, t.tokensPerSec);
    if (t.tokens !== undefined) this.timing.tokens = Math.max(1, Math.floor(t.tokens));
  }

  setLabeler(labeler: SimLabeler | undefined): void {
    this.labeler = labeler;
  }

  clearReceived(): void {
    this.received.length = 0;
  }

  stats(): SimStats {
    return { requests: this.requests, open: this.open };
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.revertTimer) clearTimeout(this.revertTimer);
      this.enqueue(() => this.stopListening());
    }
    return this.queue;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(step, step);
    return this.queue;
  }

  private async syncListener(): Promise<void> {
    if (this.closed) return;
    const want = this.current !== "refuse";
    if (want && !this.server.listening) await this.listen(this.port);
    if (!want && this.server.listening) await this.stopListening();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        this.server.off("error", done);
        this.server.off("listening", done);
        if (err) reject(err);
        else resolve();
      };
      this.server.once("error", done);
      this.server.once("listening", done);
      this.server.listen({ port, host: this.host, backlog: 4096 });
    });
  }

  /** Stop accepting and drop every connection, idle keep-alive ones included, like a dead process. */
  private stopListening(): Promise<void> {
    const closed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    return closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader("x-sim-backend", this.name);
    const url = req.url ?? "/";
    const path = url.split("?", 1)[0] as string;
    if (path === "/health") {
      res.writeHead(req.method === "GET" ? 200 : 405);
      res.end();
      return;
    }
    void readBody(req).then((raw) => {
      if (raw === undefined) {
        req.socket.destroy();
        return;
      }
      const json = raw === "" ? undefined : parseJson(raw);
      if (path.startsWith("/sim/")) {
        void this.admin(req, res, path, json);
        return;
      }
      this.record(req, url, raw, json);
      this.route(req, res, path, json);
    });
  }

  private record(req: IncomingMessage, url: string, raw: string, json: unknown): void {
    this.requests++;
    const body = raw === "" ? undefined : (json ?? raw);
    this.received.push({ method: req.method ?? "", path: url, headers: req.headers, body, at: Date.now() });
    // Trim in batches so a long benchmark does not pay for a shift per request.
    if (this.received.length > 2 * this.maxRecorded) {
      this.received.splice(0, this.received.length - this.maxRecorded);
    }
  }

  private route(req: IncomingMessage, res: ServerResponse, path: string, json: unknown): void {
    const endpoint = GENERATION_PATHS[path];
    if (endpoint !== undefined && req.method === "POST") {
      this.generate(req, res, endpoint, json);
    } else if (path === "/v1/embeddings" && req.method === "POST") {
      this.embed(req, res, json);
    } else if (path === "/v1/models" && req.method === "GET") {
      sendJson(res, 200, modelList([this.servedModel, ...this.aliases], this.maxModelLen));
    } else if (endpoint !== undefined || path === "/v1/models" || path === "/v1/embeddings") {
      sendJson(res, 405, '{"detail":"Method Not Allowed"}');
    } else {
      sendJson(res, 404, '{"detail":"Not Found"}');
    }
  }

  /** The `x-sim-mode` header wins over the backend's mode; null means the header is invalid. */
  private requestMode(req: IncomingMessage): RequestMode | null {
    const header = headerValue(req.headers["x-sim-mode"]);
    if (header === undefined) {
      if (this.current === "refuse") return "reset";
      if (this.rate >= 1 || this.current === "ok") return this.current;
      this.owed += this.rate;
      if (this.owed < 1) return "ok";
      this.owed -= 1;
      return this.current;
    }
    const mode = parseMode(header);
    return mode === undefined || mode === "refuse" ? null : mode;
  }

  private generate(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, json: unknown): void {
    const mode = this.requestMode(req);
    if (mode === null) {
      const msg = `sim: bad x-sim-mode ${JSON.stringify(req.headers["x-sim-mode"])}`;
      sendJson(res, 400, errorJson(400, msg));
      return;
    }
    this.open++;
    res.on("close", () => this.open--);
    if (this.failEarly(req, res, mode)) return;
    const timing = { ...this.timing };
    const v = validateRequest({
      endpoint,
      contentType: headerValue(req.headers["content-type"]),
      json,
      servedModel: this.servedModel,
      aliases: this.aliases,
      configuredTokens: timing.tokens,
      maxModelLen: this.maxModelLen,
    });
    if (!v.ok) {
      sendJson(res, v.status, v.body);
      return;
    }
    const id = `${endpoint === "chat" ? "chatcmpl" : "cmpl"}-${this.requestId(req, json)}`;
    const earlyHeaders = this.earlyHeaders;
    const answer =
      this.labeler && endpoint === "chat" && !v.plan.stream
        ? labelAnswer(this.labeler, json as Record<string, unknown>)
        : undefined;
    serveGeneration(res, { plan: v.plan, id, model: this.servedModel, timing, mode, earlyHeaders, answer });
  }

  /** /v1/embeddings: the same failure modes as generation, then the vectors after ttftMs. */
  private embed(req: IncomingMessage, res: ServerResponse, json: unknown): void {
    const mode = this.requestMode(req);
    if (mode === null) {
      sendJson(res, 400, errorJson(400, "sim: bad x-sim-mode"));
      return;
    }
    this.open++;
    res.on("close", () => this.open--);
    if (this.failEarly(req, res, mode)) return;
    const r = embeddingsResponse(json, [this.servedModel, ...this.aliases], this.embeddingDim);
    const timer = setTimeout(() => sendJson(res, r.status, r.body), this.timing.ttftMs);
    res.on("close", () => clearTimeout(timer));
  }

  /**
   * Modes that strike before validation, as a dead or overloaded server (or a proxy in front of
   * it) would. Returns true when the request has been dealt with.
   */
  private failEarly(req: IncomingMessage, res: ServerResponse, mode: RequestMode): boolean {
    if (mode === "hang") return true; // answered only by close() or the client giving up
    if (mode === "reset") {
      req.socket.resetAndDestroy(); // RST, not FIN: the client sees ECONNRESET, no status
      return true;
    }
    if (typeof mode === "object" && "status" in mode) {
      const extra: Record<string, string> = {};
      if (mode.retryAfterS !== undefined) extra["retry-after"] = String(mode.retryAfterS);
      sendJson(res, mode.status, errorJson(mode.status, `sim: simulated ${mode.status}`), extra);
      return true;
    }
    return false;
  }

  /** vLLM derives the response id from X-Request-Id (which Envoy sets), else body.request_id. */
  private requestId(req: IncomingMessage, json: unknown): string {
    const header = headerValue(req.headers["x-request-id"]);
    if (header) return header;
    const fromBody = (json as { request_id?: unknown } | undefined)?.request_id;
    return typeof fromBody === "string" && fromBody !== "" ? fromBody : randomUUID().replaceAll("-", "");
  }

  private async admin(req: IncomingMessage, res: ServerResponse, path: string, json: unknown): Promise<void> {
    const key = `${req.method} ${path}`;
    if (key === "GET /sim/requests") return sendJson(res, 200, JSON.stringify(this.received));
    if (key === "DELETE /sim/requests") {
      this.clearReceived();
      res.writeHead(204);
      return void res.end();
    }
    if (key === "GET /sim/stats") return sendJson(res, 200, JSON.stringify(this.adminState()));
    if (key === "POST /sim/mode") return this.adminSetMode(res, json);
    sendJson(res, 404, '{"detail":"Not Found"}');
  }

  private adminState(): Record<string, unknown> {
    return { name: this.name, mode: formatMode(this.current), ...this.timing, ...this.stats() };
  }

  private async adminSetMode(res: ServerResponse, json: unknown): Promise<void> {
    const body = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
    const mode = body.mode === undefined ? this.current : parseMode(body.mode);
    if (mode === undefined)
      return sendJson(res, 400, errorJson(400, `sim: bad mode ${JSON.stringify(body.mode)}`));
    const num = (k: string): number | undefined =>
      typeof body[k] === "number" ? (body[k] as number) : undefined;
    const opts: SetModeOptions = {
      ttftMs: num("ttftMs"),
      tokensPerSec: num("tokensPerSec"),
      tokens: num("tokens"),
      durationMs: num("durationMs"),
    };
    if (mode === "refuse") {
      // Answer first: refusing closes this very connection.
      res.on("finish", () => void this.setMode(mode, opts));
      return sendJson(res, 200, JSON.stringify({ ...this.adminState(), mode: "refuse" }));
    }
    await this.setMode(mode, opts);
    sendJson(res, 200, JSON.stringify(this.adminState()));
  }
}

export async function startSimBackend(opts: SimOptions): Promise<SimBackend> {
  const sim = new Sim(opts);
  try {
    await sim.start(opts.port ?? 0, opts.mode ?? "ok");
  } catch (err) {
    await sim.close();
    throw err;
  }
  return sim;
}

export async function startSimFleet(specs: SimOptions[]): Promise<SimFleet> {
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`sim fleet: duplicate backend name ${s.name}`);
    names.add(s.name);
  }
  const results = await Promise.allSettled(specs.map((s) => startSimBackend(s)));
  const backends = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const close = async (): Promise<void> => {
    await Promise.all(backends.map((b) => b.close()));
  };
  if (failed) {
    await close();
    throw failed.reason;
  }
  return {
    backends,
    byName(name: string): SimBackend {
      const b = backends.find((x) => x.name === name);
      if (!b) throw new Error(`sim fleet: no backend named ${name}`);
      return b;
    },
    close,
  };
}
