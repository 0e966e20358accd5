// Failure modes of the simulated backend, as a client (or Envoy) sees them on the wire.

import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CHAT, exchange, sseEvents } from "./http-client.js";
import { parseMode, type SimBackend, startSimBackend } from "./sim-backend.js";

const STREAM = { ...CHAT, stream: true };

describe("sim backend: failure modes", () => {
  let sim: SimBackend;
  before(async () => {
    sim = await startSimBackend({ name: "f", servedModel: "m1", ttftMs: 0, tokensPerSec: 0, tokens: 5 });
  });
  after(() => sim.close());

  test("status mode answers with the status, Retry-After and an error body, before any token", async () => {
    await sim.setMode({ status: 429, retryAfterS: 2 });
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: STREAM });
    assert.equal(r.status, 429);
    assert.equal(r.headers?.["retry-after"], "2");
    assert.equal(r.headers?.["x-sim-backend"], "f");
    const err = JSON.parse(r.body).error;
    assert.equal(err.code, 429);
    assert.equal(err.type, "Too Many Requests");
    await sim.setMode({ status: 503 });
    const r2 = await exchange(sim.port, { path: "/v1/completions", body: { prompt: "x" } });
    assert.equal(r2.status, 503);
    assert.equal(r2.headers?.["retry-after"], undefined);
    // Health and model listing keep answering, so they stay usable as probes.
    assert.equal((await exchange(sim.port, { path: "/health" })).status, 200);
    await sim.setMode("ok");
  });

  test("refuse closes the listener and the pooled connections; ok listens again on the same port", async () => {
    const port = sim.port;
    // A keep-alive connection opened before refusing must be dropped, not left half-alive.
    const idle = await openKeepAlive(port);
    await sim.setMode("refuse");
    assert.equal(sim.port, port);
    // The agent unrefs idle sockets, so the timer is also what keeps the event loop alive here.
    const dropped = await Promise.race([idle.closed.then(() => true), sleep(2000).then(() => false)]);
    assert.ok(dropped, "the idle keep-alive connection was closed by the server");
    const r = await exchange(port, { path: "/v1/chat/completions", body: CHAT });
    assert.equal(r.error?.code, "ECONNREFUSED");
    assert.equal(r.status, undefined);
    await sim.setMode("ok");
    assert.equal(sim.port, port);
    const ok = await exchange(port, { path: "/v1/chat/completions", body: CHAT });
    assert.equal(ok.status, 200);
  });

  test("refuse with durationMs turns itself back to ok", async () => {
    await sim.setMode("refuse", { durationMs: 150 });
    assert.equal((await exchange(sim.port, { path: "/health" })).error?.code, "ECONNREFUSED");
    await sleep(400);
    assert.equal(sim.mode, "ok");
    assert.equal((await exchange(sim.port, { path: "/health" })).status, 200);
  });

  test("reset drops the connection after reading the request, with no status", async () => {
    await sim.setMode("reset");
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
    assert.equal(r.status, undefined);
    assert.equal(r.error?.code, "ECONNRESET");
    assert.equal(sim.received.at(-1)?.path, "/v1/chat/completions", "the request was read first");
    await sim.setMode("ok");
  });

  test("dieAfterChunks sends headers and N events, then drops the stream", async () => {
    await sim.setMode({ dieAfterChunks: 3 });
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: STREAM });
    assert.equal(r.status, 200);
    assert.ok(r.error, "the client must see the stream fail");
    const events = sseEvents(r.body);
    assert.equal(events.length, 3);
    assert.ok(!events.includes("[DONE]"));
    // Non-streaming: a Content-Length that the body never reaches.
    const full = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
    assert.equal(full.status, 200);
    assert.ok(full.error);
    assert.ok(full.body.length < Number(full.headers?.["content-length"]));
    // Zero events: headers only.
    await sim.setMode({ dieAfterChunks: 0 });
    const bare = await exchange(sim.port, { path: "/v1/chat/completions", body: STREAM });
    assert.equal(bare.status, 200);
    assert.equal(bare.body, "");
    assert.ok(bare.error);
    await sim.setMode("ok");
  });

  test("errorAfterChunks reports an in-band error event and still ends with [DONE]", async () => {
    await sim.setMode({ errorAfterChunks: 2 });
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: STREAM });
    assert.equal(r.status, 200);
    assert.equal(r.error, undefined);
    const events = sseEvents(r.body);
    assert.equal(events.length, 4);
    assert.equal(JSON.parse(events[2] as string).error.type, "InternalServerError");
    assert.equal(events[3], "[DONE]");
    const full = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
    assert.equal(full.status, 500);
    await sim.setMode("ok");
  });

  test("x-sim-mode overrides the mode for one request", async () => {
    const path = "/v1/chat/completions";
    const s = await exchange(sim.port, { path, body: CHAT, headers: { "x-sim-mode": "status-503-retry-7" } });
    assert.equal(s.status, 503);
    assert.equal(s.headers?.["retry-after"], "7");
    const reset = await exchange(sim.port, { path, body: CHAT, headers: { "x-sim-mode": "reset" } });
    assert.equal(reset.error?.code, "ECONNRESET");
    const die = await exchange(sim.port, { path, body: STREAM, headers: { "x-sim-mode": "die-after-2" } });
    assert.equal(sseEvents(die.body).length, 2);
    assert.ok(die.error);
    const ok = await exchange(sim.port, { path, body: CHAT });
    assert.equal(ok.status, 200, "the next request is back to the backend's own mode");
    await sim.setMode({ status: 500 });
    const forcedOk = await exchange(sim.port, { path, body: CHAT, headers: { "x-sim-mode": "ok" } });
    assert.equal(forcedOk.status, 200);
    await sim.setMode("ok");
    const bad = await exchange(sim.port, { path, body: CHAT, headers: { "x-sim-mode": "refuse" } });
    assert.equal(bad.status, 400);
  });

  test("open counts in-flight responses and drops back to zero", async () => {
    await sim.setMode("ok", { ttftMs: 200 });
    const pending = exchange(sim.port, { path: "/v1/chat/completions", body: STREAM });
    await sleep(80);
    assert.equal(sim.stats().open, 1);
    await pending;
    assert.equal(sim.stats().open, 0);
    sim.setTiming({ ttftMs: 0 });
  });
});

describe("sim backend: hang", () => {
  test("hang never answers; the client gives up and close() still resolves", async () => {
    const sim = await startSimBackend({ name: "h", servedModel: "m1", mode: "hang" });
    const t0 = Date.now();
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT, timeoutMs: 300 });
    assert.equal(r.error?.code, "TIMEOUT");
    assert.equal(r.status, undefined);
    assert.ok(Date.now() - t0 >= 290);
    // A second hung request is still open when the backend closes.
    const stuck = exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
    await sleep(50);
    assert.equal(sim.stats().open, 1);
    await sim.close();
    assert.ok((await stuck).error, "close() ends hung requests");
  });

  test("a backend can start refusing and still knows its port", async () => {
    const sim = await startSimBackend({ name: "r", servedModel: "m1", mode: "refuse" });
    try {
      assert.ok(sim.port > 0);
      assert.equal((await exchange(sim.port, { path: "/health" })).error?.code, "ECONNREFUSED");
    } finally {
      await sim.close();
    }
  });
});

test("keepAliveTimeoutMs closes idle connections, as vLLM's 5 s uvicorn default does", async () => {
  const sim = await startSimBackend({ name: "ka", servedModel: "m1", keepAliveTimeoutMs: 100 });
  try {
    const idle = await openKeepAlive(sim.port);
    const dropped = await Promise.race([idle.closed.then(() => true), sleep(2000).then(() => false)]);
    assert.ok(dropped, "the server closed the idle connection");
  } finally {
    await sim.close();
  }
});

test("parseMode accepts both spellings and rejects the rest", () => {
  assert.equal(parseMode("HANG"), "hang");
  assert.deepEqual(parseMode("status-504"), { status: 504 });
  assert.deepEqual(parseMode("status-429-retry-3"), { status: 429, retryAfterS: 3 });
  assert.deepEqual(parseMode("die-after-4"), { dieAfterChunks: 4 });
  assert.deepEqual(parseMode("error-after-0"), { errorAfterChunks: 0 });
  assert.deepEqual(parseMode({ status: 502 }), { status: 502 });
  assert.equal(parseMode("status-418"), undefined);
  assert.equal(parseMode({ status: 503, retryAfterS: -1 }), undefined);
  assert.equal(parseMode("die-after-x"), undefined);
  assert.equal(parseMode(42), undefined);
});

/** A keep-alive connection that has served one request and sits idle; `closed` resolves when it is dropped. */
async function openKeepAlive(port: number): Promise<{ closed: Promise<void> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/health", agent }, (res) => {
      const socket = res.socket;
      const closed = new Promise<void>((done) => socket.once("close", () => done())).finally(() =>
        agent.destroy(),
      );
      res.resume();
      res.on("end", () => resolve({ closed }));
    });
    req.on("error", reject);
    req.end();
  });
}
