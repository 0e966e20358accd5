// switchyard's HTTP server: / (the live status page), /healthz, /readyz (what Envoy's health
// check asks), /metrics, /status and /debug/streams.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { Metrics } from "../observe/metrics.js";
import { STATUS_PAGE_HTML } from "../observe/status-page.js";

export interface Endpoints {
  metrics: Metrics;
  isReady: () => boolean;
  status: () => object;
  streams: () => object;
}

const text = (res: ServerResponse, status: number, body: string) =>
  void res.writeHead(status, { "content-type": "text/plain" }).end(body);
const json = (res: ServerResponse, body: string) =>
  void res.writeHead(200, { "content-type": "application/json" }).end(body);

export function createHttpServer(e: Endpoints): Server {
  return createServer((req, res) => {
    switch (req.url) {
      case "/":
        return void res
          .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
          .end(STATUS_PAGE_HTML);
      case "/healthz":
        return text(res, 200, "ok\n");
      case "/readyz":
        return e.isReady() ? text(res, 200, "ready\n") : text(res, 503, "not ready\n");
      case "/metrics":
        e.metrics.registry.metrics().then(
          (body) => res.writeHead(200, { "content-type": e.metrics.registry.contentType }).end(body),
          (err: Error) => text(res, 500, err.message),
        );
        return;
      case "/status":
        return json(res, `${JSON.stringify(e.status(), null, 2)}\n`);
      case "/debug/streams":
        return json(res, JSON.stringify(e.streams()));
      default:
        return text(res, 404, "not found\n");
    }
  });
}

export async function listen(server: Server, port: number, address: string): Promise<number> {
  await new Promise<void>((res) => server.listen(port, address, res));
  return (server.address() as { port: number }).port;
}
