// The classifier's small parts: the LRU, the breaker, vectors, and the strict parsers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { policyWithClassifier } from "../../../test/fixtures/classifier-set.js";
import { parsePolicy } from "../policy/load.js";
import { Breaker, type BreakerState } from "./breaker.js";
import { endpointOf } from "./classifiers.js";
import { cacheKey, normalize } from "./input.js";
import { Lru } from "./lru.js";
import { LlmRemote, parseEmbeddings } from "./remote.js";
import { centroid, nearestCentroid, nearestNeighbours, unit } from "./vectors.js";

describe("lru", () => {
  test("keeps `size` entries, drops the least recently used; size 0 keeps nothing", () => {
    const l = new Lru<number>(2);
    l.set("a", 1);
    l.set("b", 2);
    assert.equal(l.get("a"), 1);
    l.set("c", 3);
    assert.deepEqual([l.get("a"), l.get("b"), l.get("c"), l.length], [1, undefined, 3, 2]);
    const off = new Lru<number>(0);
    off.set("a", 1);
    assert.equal(off.get("a"), undefined);
  });

  test("keys are a hash of the normalised text", () => {
    assert.equal(normalize("  Hello\n\tWORLD  "), "hello world");
    assert.equal(cacheKey("Hello World"), cacheKey("hello   world "));
    assert.notEqual(cacheKey("hello world"), cacheKey("hello word"));
    assert.equal(cacheKey("x".repeat(5000)).length, 44);
    assert.equal(normalize("a\u00a0\u00a0b\n"), "a b");
  });
});

describe("breaker", () => {
  test("opens after N failures in a row, lets one probe through after open_ms, closes on success", () => {
    let now = 0;
    const states: BreakerState[] = [];
    const b = new Breaker(
      2,
      100,
      () => now,
      (s) => states.push(s),
    );
    b.failure();
    b.success();
    b.failure();
    assert.equal(b.allow(), true, "a success resets the count");
    b.failure();
    assert.equal(b.state, "open");
    assert.equal(b.allow(), false);
    now = 100;
    assert.equal(b.allow(), true, "the probe");
    assert.equal(b.allow(), false, "only one probe");
    b.failure();
    assert.equal(b.state, "open", "a failed probe opens it again");
    now = 200;
    assert.equal(b.allow(), true);
    b.success();
    assert.equal(b.allow(), true);
    assert.deepEqual(states, ["open", "half_open", "open", "half_open", "closed"]);
  });
});

describe("vectors", () => {
  const a = unit([1, 0, 0]) as Float64Array;
  const b = unit([0, 1, 0]) as Float64Array;
  test("unit: zero and non-finite vectors have no direction", () => {
    assert.equal(unit([0, 0]), undefined);
    assert.equal(unit([Number.NaN, 1]), undefined);
  });
  test("nearest centroid with a threshold; knn votes by similarity", () => {
    const q = unit([0.9, 0.1, 0]) as Float64Array;
    assert.equal(nearestCentroid(q, [a, b], 0.5).label, 0);
    assert.equal(nearestCentroid(q, [a, b], 0.999).label, undefined);
    assert.equal(nearestCentroid(q, [undefined, b], 0).label, 1);
    const ex = [
      { label: 1, v: b },
      { label: 0, v: a },
      { label: 0, v: centroid([a, b]) as Float64Array },
    ];
    assert.equal(nearestNeighbours(q, ex, 2, 2, 0.5).label, 0);
  });
});

describe("strict parsers", () => {
  test("embeddings: one finite vector per input, same dimension, indices in place", () => {
    assert.deepEqual(
      parseEmbeddings(
        {
          data: [
            { index: 1, embedding: [2] },
            { index: 0, embedding: [1] },
          ],
        },
        2,
      ),
      [[1], [2]],
    );
    for (const bad of [
      {},
      { data: [] },
      { data: [{ embedding: ["1"] }] },
      { data: [{ embedding: [] }] },
      { data: [{ embedding: [1, null] }] },
      { data: [{ embedding: [1], index: 5 }] },
    ])
      assert.equal(typeof parseEmbeddings(bad, 1), "string", JSON.stringify(bad));
    assert.equal(typeof parseEmbeddings({ data: [{ embedding: [1] }, { embedding: [1, 2] }] }, 2), "string");
  });

  test("llm: only a declared label, in the declared shape", () => {
    const doc = { prompt: "{{text}}", output: "json_schema", max_tokens: 5, timeout_ms: 1 } as const;
    const json = new LlmRemote(doc, ["a", "b"], ["http://x"], "m", undefined as never);
    const guided = new LlmRemote(
      { ...doc, output: "guided_choice" },
      ["a", "b"],
      ["http://x"],
      "m",
      undefined as never,
    );
    const answer = (content: unknown) => ({ choices: [{ message: { content } }] });
    assert.equal(json.parse(answer('{"label":"b"}')), 1);
    assert.equal(json.parse(answer(' {"label": "a"}\n')), 0);
    for (const bad of [
      "b",
      '{"label":"c"}',
      '{"label":"a","why":"x"}',
      '["a"]',
      '```json\n{"label":"a"}\n```',
    ])
      assert.equal(typeof json.parse(answer(bad)), "string", bad);
    assert.equal(guided.parse(answer(" b\n")), 1);
    assert.equal(typeof guided.parse(answer("B")), "string");
    assert.equal(typeof guided.parse(answer(null)), "string");
    assert.equal(typeof guided.parse({}), "string");
  });
});

describe("endpoints", () => {
  const load = (section: string) => {
    const r = parsePolicy(policyWithClassifier(section), {});
    if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("; "));
    return r.policy;
  };
  const head = "classifier:\n  kind: llm\n  labels: { a: fast }\n  fallback: a\n";
  test("a pool: its backends in turn, its served_model", () => {
    assert.deepEqual(endpointOf(load(`${head}  llm: { pool: small }\n`)), {
      urls: ["http://127.0.0.1:1/v1/chat/completions"],
      model: "small-model",
    });
  });
  test("a url: as given, with its model", () => {
    assert.deepEqual(
      endpointOf(load(`${head}  llm: { url: "https://judge.internal/v1/chat/completions", model: j }\n`)),
      {
        urls: ["https://judge.internal/v1/chat/completions"],
        model: "j",
      },
    );
  });
});
