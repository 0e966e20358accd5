// The simulated vLLM backend's happy path: wire shapes, validation, recording, timing, admin API.
// Failure modes live in sim-failures.test.ts.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CHAT, exchange, sseEvents } from "./http-client.js";
import { type SimBackend, startSimBackend, startSimFleet } from "./sim-backend.js";

describe("sim backend: responses", () => {
  let sim: SimBackend;
  before(async () => {
    sim = await startSimBackend({ name: "alpha", servedModel: "m1", ttftMs: 5, tokensPerSec: 0, tokens: 5 });
  });
  after(() => sim.close());

  test("non-streaming chat completion has vLLM's shape and usage", async () => {
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
    assert.equal(r.status, 200);
    assert.equal(r.headers?.["x-sim-backend"], "alpha");
    assert.equal(r.headers?.["content-type"], "application/json");
    const j = JSON.parse(r.body);
    assert.equal(j.object, "chat.completion");
    assert.match(j.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(j.model, "m1");
    assert.equal(j.choices.length, 1);
    assert.equal(j.choices[0].message.role, "assistant");
    assert.equal(j.choices[0].message.content, "The simulated backend streams fake ");
    assert.equal(j.choices[0].finish_reason, "stop");
    assert.equal(j.usage.prompt_tokens, 7); // 26 chars / 4, rounded up
    assert.equal(j.usage.completion_tokens, 5);
    assert.equal(j.usage.total_tokens, 12);
  });

  test("streaming chat is framed like vLLM, byte for byte", async () => {
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true } };
    const r = await exchange(sim.port, {
      path: "/v1/chat/completions",
      body,
      headers: { "x-request-id": "rq1" },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers?.["content-type"], "text/event-stream; charset=utf-8");
    assert.equal(r.headers?.["transfer-encoding"], "chunked");
    assert.ok(r.body.endsWith("\n\ndata: [DONE]\n\n"));
    const events = sseEvents(r.body);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    assert.equal(chunks.length, 1 + 5 + 1); // role, tokens, usage
    for (const c of chunks) {
      assert.equal(c.id, "chatcmpl-rq1"); // vLLM builds the id from X-Request-Id
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.model, "m1");
    }
    assert.deepEqual(chunks[0].choices, [
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
    ]);
    assert.deepEqual(chunks[1].choices[0].delta, { content: "The " });
    assert.equal(chunks[4].choices[0].finish_reason, null);
    assert.equal(chunks[5].choices[0].finish_reason, "stop");
    assert.equal(chunks[5].choices[0].stop_reason, null);
    assert.deepEqual(chunks[6].choices, []);
    assert.deepEqual(chunks[6].usage, { prompt_tokens: 7, total_tokens: 12, completion_tokens: 5 });
  });

  test("no usage chunk unless asked for", async () => {
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, stream: true } });
    const events = sseEvents(r.body);
    assert.equal(events.length, 1 + 5 + 1);
    assert.ok(events.slice(0, -1).every((e) => JSON.parse(e).usage === undefined));
  });

  test("max_tokens and max_completion_tokens shorten the completion", async () => {
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, max_tokens: 2 } });
    const j = JSON.parse(r.body);
    assert.equal(j.usage.completion_tokens, 2);
    assert.equal(j.choices[0].finish_reason, "length");
    const body = { ...CHAT, stream: true, max_completion_tokens: 3, max_tokens: 1 };
    const s = await exchange(sim.port, { path: "/v1/chat/completions", body });
    const chunks = sseEvents(s.body)
      .slice(0, -1)
      .map((e) => JSON.parse(e));
    assert.equal(chunks.length, 1 + 3);
    assert.equal(chunks[3].choices[0].finish_reason, "length");
    // A larger max_tokens cannot lengthen it past the configured tokens.
    const big = await exchange(sim.port, {
      path: "/v1/chat/completions",
      body: { ...CHAT, max_tokens: 500 },
    });
    assert.equal(JSON.parse(big.body).usage.completion_tokens, 5);
  });

  test("completions endpoint, streaming and not", async () => {
    const body = { model: "m1", prompt: "Once upon a time", max_tokens: 3 };
    const r = await exchange(sim.port, { path: "/v1/completions", body });
    const j = JSON.parse(r.body);
    assert.equal(j.object, "text_completion");
    assert.match(j.id, /^cmpl-/);
    assert.equal(j.choices[0].text, "The simulated backend ");
    assert.equal(j.choices[0].finish_reason, "length");
    assert.equal(j.usage.prompt_tokens, 4);
    const s = await exchange(sim.port, { path: "/v1/completions", body: { ...body, stream: true } });
    const chunks = sseEvents(s.body)
      .slice(0, -1)
      .map((e) => JSON.parse(e));
    assert.equal(chunks.length, 3); // no role chunk for completions
    assert.deepEqual(chunks[0].choices[0], {
      index: 0,
      text: "The ",
      logprobs: null,
      finish_reason: null,
      stop_reason: null,
    });
  });

  test("an unknown model is a 404 with vLLM's error JSON", async () => {
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, model: "gpt-9" } });
    assert.equal(r.status, 404);
    assert.equal(r.headers?.["x-sim-backend"], "alpha");
    assert.deepEqual(JSON.parse(r.body), {
      error: {
        message: "The model `gpt-9` does not exist.",
        type: "NotFoundError",
        param: "model",
        code: 404,
      },
    });
  });

  test("a missing or empty model means the served model, as in vLLM", async () => {
    const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { messages: CHAT.messages } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).model, "m1");
  });

  test("malformed requests are 400s", async () => {
    const cases: Array<[string, Record<string, string>, unknown]> = [
      ["not json", { "content-type": "application/json" }, "{nope"],
      ["no messages", {}, { model: "m1" }],
      ["wrong content-type", { "content-type": "text/plain" }, JSON.stringify(CHAT)],
      ["stream_options without stream", {}, { ...CHAT, stream_options: { include_usage: true } }],
      ["max_tokens 0", {}, { ...CHAT, max_tokens: 0 }],
      ["over the context length", {}, { ...CHAT, max_tokens: 40_000 }],
    ];
    for (const [label, headers, body] of cases) {
      const r = await exchange(sim.port, { path: "/v1/chat/completions", headers, body });
      assert.equal(r.status, 400, label);
      const err = JSON.parse(r.body).error;
      assert.equal(err.code, 400, label);
      assert.equal(typeof err.message, "string", label);
    }
  });

  test("/v1/models lists the served model; /health is an empty 200", async () => {
    const m = await exchange(sim.port, { path: "/v1/models" });
    assert.equal(m.status, 200);
    const j = JSON.parse(m.body);
    assert.equal(j.object, "list");
    assert.equal(j.data.length, 1);
    const card = j.data[0];
    assert.equal(card.id, "m1");
    assert.equal(card.object, "model");
    assert.equal(card.owned_by, "vllm");
    assert.equal(card.root, "m1");
    assert.equal(card.max_model_len, 32768);
    assert.equal(typeof card.created, "number");
    const h = await exchange(sim.port, { path: "/health" });
    assert.equal(h.status, 200);
    assert.equal(h.body, "");
    assert.equal(h.headers?.["x-sim-backend"], "alpha");
    const nf = await exchange(sim.port, { path: "/v2/nothing" });
    assert.equal(nf.status, 404);
  });
});

test("aliases: every served name is accepted and listed, responses name the first (vLLM --served-model-name a b)", async () => {
  const sim = await startSimBackend({
    name: "multi",
    servedModel: "m1",
    aliases: ["client-name"],
    ttftMs: 0,
    tokensPerSec: 0,
  });
  try {
    const r = await exchange(sim.port, {
      path: "/v1/chat/completions",
      body: { ...CHAT, model: "client-name" },
    });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).model, "m1");
    const other = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, model: "m2" } });
    assert.equal(other.status, 404);
    const list = JSON.parse((await exchange(sim.port, { path: "/v1/models" })).body);
    assert.deepEqual(
      list.data.map((c: { id: string; root: string }) => [c.id, c.root]),
      [
        ["m1", "m1"],
        ["client-name", "m1"],
      ],
    );
  } finally {
    await sim.close();
  }
});

describe("sim backend: recording, timing, control", () => {
  test("records requests with parsed bodies, and clears them in place", async () => {
    const sim = await startSimBackend({ name: "rec", servedModel: "m1", ttftMs: 0, tokensPerSec: 0 });
    try {
      const received = sim.received;
      await exchange(sim.port, {
        path: "/v1/chat/completions?x=1",
        body: CHAT,
        headers: { "x-trace": "t1" },
      });
      await exchange(sim.port, {
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
        body: "{bad",
      });
      await exchange(sim.port, { path: "/health" }); // health checks are not recorded
      assert.equal(received.length, 2);
      const [first, second] = received;
      assert.equal(first?.method, "POST");
      assert.equal(first?.path, "/v1/chat/completions?x=1");
      assert.equal(first?.headers["x-trace"], "t1");
      assert.deepEqual(first?.body, CHAT);
      assert.equal(typeof first?.at, "number");
      assert.equal(second?.body, "{bad");
      assert.deepEqual(sim.stats(), { requests: 2, open: 0 });
      sim.clearReceived();
      assert.equal(received.length, 0);
      assert.equal(sim.stats().requests, 2);
    } finally {
      await sim.close();
    }
  });

  test("the first byte of a stream waits for ttft", async () => {
    const sim = await startSimBackend({
      name: "slow",
      servedModel: "m1",
      ttftMs: 200,
      tokensPerSec: 1000,
      tokens: 3,
    });
    try {
      const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, stream: true } });
      assert.equal(r.status, 200);
      assert.ok((r.firstByteMs ?? 0) >= 190, `first byte after ${r.firstByteMs} ms`);
      sim.setTiming({ ttftMs: 0 });
      const fast = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
      assert.equal(fast.status, 200);
    } finally {
      await sim.close();
    }
  });

  test("tokens are paced at tokensPerSec", async () => {
    const sim = await startSimBackend({
      name: "pace",
      servedModel: "m1",
      ttftMs: 0,
      tokensPerSec: 50,
      tokens: 6,
    });
    try {
      const t0 = Date.now();
      const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, stream: true } });
      // 6 tokens at 50/s: the last is due 5 intervals (100 ms) after the first.
      assert.ok(Date.now() - t0 >= 95, `took ${Date.now() - t0} ms`);
      assert.equal(sseEvents(r.body).length, 1 + 6 + 1);
    } finally {
      await sim.close();
    }
  });

  test("earlyHeaders sends the 200 before the first token, like real vLLM", async () => {
    const sim = await startSimBackend({
      name: "early",
      servedModel: "m1",
      ttftMs: 300,
      earlyHeaders: true,
      tokens: 1,
    });
    try {
      const r = await exchange(sim.port, { path: "/v1/chat/completions", body: { ...CHAT, stream: true } });
      assert.equal(r.status, 200);
      assert.ok((r.firstByteMs ?? 1000) < 250, `headers after ${r.firstByteMs} ms`);
      assert.equal(sseEvents(r.body).at(-1), "[DONE]");
    } finally {
      await sim.close();
    }
  });

  test("admin endpoints control the backend from outside the process", async () => {
    const sim = await startSimBackend({ name: "adm", servedModel: "m1", ttftMs: 0, tokensPerSec: 0 });
    try {
      await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
      const list = await exchange(sim.port, { path: "/sim/requests" });
      assert.equal(JSON.parse(list.body).length, 1);
      assert.equal(sim.received.length, 1, "admin calls are not recorded");
      const set = await exchange(sim.port, { path: "/sim/mode", body: { mode: "status-503", tokens: 2 } });
      assert.equal(set.status, 200);
      assert.equal(JSON.parse(set.body).mode, "status-503");
      assert.deepEqual(sim.mode, { status: 503 });
      const r = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
      assert.equal(r.status, 503);
      await exchange(sim.port, { path: "/sim/mode", body: { mode: { dieAfterChunks: 1 } } });
      assert.deepEqual(sim.mode, { dieAfterChunks: 1 });
      await exchange(sim.port, { path: "/sim/mode", body: { mode: "ok" } });
      const ok = await exchange(sim.port, { path: "/v1/chat/completions", body: CHAT });
      assert.equal(JSON.parse(ok.body).usage.completion_tokens, 2);
      const bad = await exchange(sim.port, { path: "/sim/mode", body: { mode: "explode" } });
      assert.equal(bad.status, 400);
      const del = await exchange(sim.port, { method: "DELETE", path: "/sim/requests" });
      assert.equal(del.status, 204);
      assert.equal(sim.received.length, 0);
    } finally {
      await sim.close();
    }
  });

  test("a fleet starts several backends and finds them by name", async () => {
    const fleet = await startSimFleet([
      { name: "a", servedModel: "small", ttftMs: 0 },
      { name: "b", servedModel: "large", ttftMs: 0 },
    ]);
    try {
      const b = fleet.byName("b");
      assert.notEqual(fleet.byName("a").port, b.port);
      assert.equal(b.address, `127.0.0.1:${b.port}`);
      assert.equal(b.url, `http://127.0.0.1:${b.port}`);
      const r = await exchange(b.port, { path: "/v1/chat/completions", body: { ...CHAT, model: "large" } });
      assert.equal(r.headers?.["x-sim-backend"], "b");
      assert.throws(() => fleet.byName("c"));
    } finally {
      await fleet.close();
    }
    await assert.rejects(
      startSimFleet([
        { name: "x", servedModel: "m" },
        { name: "x", servedModel: "m" },
      ]),
    );
  });
});
