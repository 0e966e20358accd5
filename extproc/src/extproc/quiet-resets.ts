// Envoy resets every ext_proc stream once the request is done (RST_STREAM INTERNAL_ERROR, also
// after switchyard ended the call; FINDINGS §11), and Node turns each such reset into an
// ERR_HTTP2_STREAM_ERROR whose stack trace is captured and then formatted by the stream's
// destroy: ~5 % of the sidecar's CPU in the data-plane bench, for an error nobody reads
// (grpc-js only marks the call cancelled). This makes just those errors stackless: while a
// server stream is destroyed without an error of its own (the peer reset it), the stack trace
// limit is 0. The error, its code and message, and every event stay as they were.
//
// Envoy's runtime flag `envoy.reloadable_features.ext_proc_graceful_grpc_close` does not help:
// Envoy still resets a stream the server ended first, and half-closes only when the HTTP
// request ends, so the server would have to hold every stream open for a whole SSE response.
import { connect, createServer, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";

type Destroy = (this: ServerHttp2Stream, err: Error | null, cb: (err?: Error | null) => void) => void;

const PATCHED = Symbol.for("switchyard.quietResets");

/** Installs the patch on Node's server-side HTTP/2 stream class (once per process). */
export async function quietPeerResets(): Promise<void> {
  const proto = (await serverStreamPrototype()) as { _destroy: Destroy; [PATCHED]?: true };
  if (proto[PATCHED]) return;
  const original = proto._destroy;
  if (typeof original !== "function") return;
  proto._destroy = function (this: ServerHttp2Stream, err, cb) {
    if (err != null) return original.call(this, err, cb);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return original.call(this, err, cb);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  proto[PATCHED] = true;
}

/** Node does not export ServerHttp2Stream: one stream on a loopback server shows its prototype. */
function serverStreamPrototype(): Promise<object> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.once("stream", (stream) => {
      resolve(Object.getPrototypeOf(stream));
      stream.respond({ ":status": 200 }, { endStream: true });
    });
    server.listen(0, "127.0.0.1", () => {
      const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      client.on("error", reject);
      const req = client.request({ ":path": "/" }, { endStream: true });
      req.on("error", reject);
      req.on("close", () => {
        client.close();
        server.close();
      });
      req.resume();
    });
  });
}
