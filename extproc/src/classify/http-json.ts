// One JSON POST to a classifier endpoint, bounded in time and size: it always resolves, with
// the parsed JSON or why not (timeout, error, malformed). Connections are kept alive, so a call
// costs one request on an open socket, not a TCP handshake.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export type HttpOutcome =
  | { ok: true; json: unknown }
  | { ok: false; reason: "timeout" | "error" | "malformed"; detail: string };

export class JsonClient {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });

  constructor(
    private readonly headers: Record<string, string> = {},
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  post(url: string, body: unknown, timeoutMs: number): Promise<HttpOutcome> {
    const payload = Buffer.from(JSON.stringify(body));
    const u = new URL(url);
    const secure = u.protocol === "https:";
    return new Promise((resolve) => {
      let settled = false;
      const done = (o: HttpOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const req = (secure ? httpsRequest : httpRequest)(
        u,
        {
          method: "POST",
          agent: secure ? this.https : this.http,
          headers: {
            ...this.headers,
            "content-type": "application/json",
            "content-length": String(payload.length),
          },
        },
        (res) => this.read(res, done),
      );
      const timer = setTimeout(() => {
        done({ ok: false, reason: "timeout", detail: `no answer in ${timeoutMs} ms` });
        req.destroy();
      }, timeoutMs);
      req.on("error", (err) => done({ ok: false, reason: "error", detail: err.message }));
      req.end(payload);
    });
  }

  private read(res: IncomingMessage, done: (o: HttpOutcome) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > this.maxBytes) {
        done({ ok: false, reason: "malformed", detail: `response over ${this.maxBytes} bytes` });
        res.destroy();
      } else chunks.push(c);
    });
    res.on("error", (err) => done({ ok: false, reason: "error", detail: err.message }));
    res.on("end", () => {
      const status = res.statusCode ?? 0;
      const text = Buffer.concat(chunks).toString("utf8");
      if (status < 200 || status > 299) {
        done({ ok: false, reason: "error", detail: `HTTP ${status}: ${text.slice(0, 120)}` });
        return;
      }
      try {
        done({ ok: true, json: JSON.parse(text) });
      } catch {
        done({ ok: false, reason: "malformed", detail: `not JSON: ${text.slice(0, 80)}` });
      }
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
