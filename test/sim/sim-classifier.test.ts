// The sim as a classifier endpoint: /v1/embeddings with deterministic hashed bag-of-words
// vectors, and non-streaming chat that answers a label in the shape the request asks for.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { embedText, words } from "./embeddings.js";
import { exchange } from "./http-client.js";
import { type SimBackend, startSimBackend } from "./sim-backend.js";

const LABELER = { labels: { a: ["apple"], b: ["banana"] }, fallback: "a" };
const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * (y[i] as number), 0);

describe("sim: /v1/embeddings", () => {
  let sim: SimBackend;
  before(async () => {
    sim = await startSimBackend({ name: "emb", servedModel: "embedder", ttftMs: 0, embeddingDim: 64 });
  });
  after(() => sim.close());

  it("one unit vector per input, in order, deterministic", async () => {
    const r = await exchange(sim.port, {
      path: "/v1/embeddings",
      body: { model: "embedder", input: ["red apples", "red apples", "green pears"] },
    });
    assert.equal(r.status, 200, r.body);
    const j = JSON.parse(r.body) as { object: string; data: { index: number; embedding: number[] }[] };
    assert.equal(j.object, "list");
    assert.deepEqual(
      j.data.map((d) => d.index),
      [0, 1, 2],
    );
    const [a, b, c] = j.data.map((d) => d.embedding) as [number[], number[], number[]];
    assert.equal(a.length, 64);
    assert.deepEqual(a, b);
    assert.ok(Math.abs(dot(a, a) - 1) < 1e-5);
    assert.ok(dot(a, c) < dot(a, b));
  });

  it("a string input, shared words make near vectors, plurals and stop words do not count", () => {
    assert.deepEqual(words("The apples and THE apple"), ["apple", "apple"]);
    const v = (t: string) => embedText(t, 256);
    assert.ok(
      dot(v("prove the theorem"), v("prove this lemma")) > dot(v("prove the theorem"), v("translate hello")),
    );
  });

  it("an unknown model is a 404, a missing input a 400; failure modes apply", async () => {
    const bad = await exchange(sim.port, { path: "/v1/embeddings", body: { model: "other", input: "x" } });
    assert.equal(bad.status, 404);
    const none = await exchange(sim.port, { path: "/v1/embeddings", body: { model: "embedder" } });
    assert.equal(none.status, 400);
    await sim.setMode({ status: 503 });
    const down = await exchange(sim.port, {
      path: "/v1/embeddings",
      body: { model: "embedder", input: "x" },
    });
    assert.equal(down.status, 503);
    await sim.setMode("ok");
  });
});

describe("sim: chat answers a label", () => {
  let sim: SimBackend;
  before(async () => {
    sim = await startSimBackend({ name: "llm", servedModel: "judge", ttftMs: 0, labeler: LABELER });
  });
  after(() => sim.close());

  const ask = async (content: string, extra: Record<string, unknown> = {}) => {
    const r = await exchange(sim.port, {
      path: "/v1/chat/completions",
      body: { model: "judge", messages: [{ role: "user", content }], ...extra },
    });
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { choices: { message: { content: string } }[] }).choices[0]?.message
      .content;
  };

  it('json_schema → {"label": …}; guided_choice or nothing → the bare label; no keyword → fallback', async () => {
    const schema = { response_format: { type: "json_schema", json_schema: { name: "label", schema: {} } } };
    assert.equal(await ask("a banana split", schema), '{"label":"b"}');
    assert.equal(await ask("a banana split", { guided_choice: ["a", "b"] }), "b");
    assert.equal(await ask("nothing here"), "a");
  });

  it("garbage and an undeclared label on request", async () => {
    sim.setLabeler({ ...LABELER, output: "garbage" });
    assert.match((await ask("banana")) ?? "", /Hmm/);
    sim.setLabeler({ ...LABELER, output: "unknown-label" });
    assert.equal(await ask("banana"), "no-such-label");
    sim.setLabeler(undefined);
    assert.match((await ask("banana")) ?? "", /simulated/);
  });
});
