// Raw HTTP client for the sim tests. It uses node:http without an agent, so every exchange has
// its own connection and a failure (refused, reset, truncated) shows up as a socket error rather
// than being hidden or retried by a connection pool.

import { type IncomingHttpHeaders, request } from "node:http";
import { performance } from "node:perf_hooks";

export interface Exchange {
  status?: number;
  headers?: IncomingHttpHeaders;
  /** Whatever body bytes arrived, even if the response was cut short. */
  body: string;
  /** Set when the request failed or the response did not complete. */
  error?: NodeJS.ErrnoException;
  /** Time until the first response byte reached the socket, if any did. */
  firstByteMs?: number;
}

export interface ExchangeOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON with content-type application/json. */
  body?: unknown;
  /** Abort after this long (the exchange then resolves with an error). */
  timeoutMs?: number;
}

function encodeBody(o: ExchangeOptions): { payload?: string; headers: Record<string, string> } {
  const headers = { ...o.headers };
  if (o.body === undefined) return { headers };
  if (typeof o.body === "string") return { payload: o.body, headers };
  return { payload: JSON.stringify(o.body), headers: { "content-type": "application/json", ...headers } };
}

/** One request on a fresh connection; always resolves, with `error` describing any failure. */
export function exchange(port: number, o: ExchangeOptions): Promise<Exchange> {
  const { payload, headers } = encodeBody(o);
  const method = o.method ?? (payload === undefined ? "GET" : "POST");
  return new Promise((resolve) => {
    const t0 = performance.now();
    const out: Exchange = { body: "" };
    let settled = false;
    const finish = (err?: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      if (err && !out.error) out.error = err;
      resolve(out);
    };
    const req = request({ host: "127.0.0.1", port, method, path: o.path, headers, agent: false }, (res) => {
      out.status = res.statusCode;
      out.headers = res.headers;
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        out.body += c;
      });
      res.on("error", (e) => finish(e));
      res.on("close", () =>
        finish(res.complete ? undefined : Object.assign(new Error("incomplete"), { code: "INCOMPLETE" })),
      );
    });
    req.on("socket", (s) => s.once("data", () => (out.firstByteMs ??= performance.now() - t0)));
    req.on("error", (e) => finish(e));
    if (o.timeoutMs !== undefined) {
      const timer = setTimeout(
        () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })),
        o.timeoutMs,
      );
      req.on("close", () => clearTimeout(timer));
    }
    req.end(payload);
  });
}

/** SSE events of a body, without their `data: ` prefix; fails on anything else in the framing. */
export function sseEvents(body: string): string[] {
  const parts = body.split("\n\n");
  const tail = parts.pop();
  if (tail !== "") throw new Error(`SSE body does not end with a blank line: ${JSON.stringify(tail)}`);
  return parts.map((p) => {
    if (!p.startsWith("data: ") || p.includes("\n")) throw new Error(`not a single-line data event: ${p}`);
    return p.slice("data: ".length);
  });
}

export const CHAT = { model: "m1", messages: [{ role: "user", content: "hello world, sixteen chars" }] };
