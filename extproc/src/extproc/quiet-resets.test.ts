// A stream the peer resets still fails with Node's own error (code, message, events), only
// without a stack trace; every other error keeps its stack.
import assert from "node:assert/strict";
import { connect, constants, createServer, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { quietPeerResets } from "./quiet-resets.js";

/** A server stream that answered, then was reset by the client with INTERNAL_ERROR (as Envoy does). */
async function resetByPeer(): Promise<{ err: (Error & { code?: string }) | undefined; rstCode: number }> {
  const server = createServer();
  const seen = new Promise<{ err: Error | undefined; rstCode: number }>((resolve) => {
    server.on("stream", (stream: ServerHttp2Stream) => {
      let err: Error | undefined;
      stream.on("error", (e) => {
        err = e;
      });
      stream.on("close", () => resolve({ err, rstCode: stream.rstCode }));
      stream.respond({ ":status": 200 });
      stream.write("answered");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const req = client.request({ ":path": "/", ":method": "POST" });
  req.on("error", () => {});
  req.on("response", () => req.close(constants.NGHTTP2_INTERNAL_ERROR));
  const out = await seen;
  client.close();
  server.close();
  return out;
}

test("a peer's reset: the same error and events, without a stack trace; other errors keep theirs", async () => {
  const before = await resetByPeer();
  assert.equal(before.err?.code, "ERR_HTTP2_STREAM_ERROR");
  assert.match(before.err?.stack ?? "", /\n\s+at /);

  await quietPeerResets();
  await quietPeerResets(); // once is enough; a second call changes nothing
  const limit = Error.stackTraceLimit;
  const after = await resetByPeer();
  assert.equal(after.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
  assert.equal(after.err?.code, "ERR_HTTP2_STREAM_ERROR");
  assert.equal(after.err?.message, before.err?.message);
  assert.doesNotMatch(after.err?.stack ?? "", /\n\s+at /);
  assert.equal(Error.stackTraceLimit, limit);
  assert.match(new Error("elsewhere").stack ?? "", /\n\s+at /);
});
