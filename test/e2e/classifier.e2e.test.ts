// The classifier through a real Envoy: a request without a feature header (or with a
// class: auto feature) lands on the pool its content's label implies; the label and its source
// reach the log line and the metrics; a cache hit makes no call; a dead endpoint falls back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { examplesYaml } from "../fixtures/classifier-set.js";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import { logLine, POOLS, post, servedBy, useStack } from "./util.js";

const CLASSIFIER = `
classifier:
  kind: embeddings
  labels: { fast-path: fast, general: balanced, high-compute: frontier }
  fallback: general
  breaker: { failures: 2, open_ms: 600000 }
  embeddings:
    url: "http://\${addr:emb}/v1/embeddings"
    model: embedder
    # Generous for a loaded test machine; the slow-endpoint test's sim takes 5 s.
    timeout_ms: 1000
    threshold: 0.05
    examples:
${examplesYaml()}
`;

async function policy(): Promise<string> {
  const base = await readFixture("e2e-policy.yml");
  const withAuto = base.replace(
    "  textonly: { class: fast }\n",
    "  textonly: { class: fast }\n  composer: { class: auto, cap: balanced }\n",
  );
  assert.notEqual(withAuto, base, "e2e-policy.yml still has the textonly feature");
  return `${withAuto}${CLASSIFIER}`;
}

const ask = (id: string, text: string, headers: Record<string, string> = {}) => ({
  headers: { "x-request-id": id, ...headers },
  body: { model: "any", messages: [{ role: "user", content: text }] },
});

describe("classifier through Envoy", () => {
  const stack = useStack(async () => ({
    policy: await policy(),
    sims: [...e2eFleet(), { name: "emb", servedModel: "embedder", ttftMs: 0 }],
  }));
  const metric = async (name: string, labels: string[]) => {
    const text = await (await fetch(`${stack().sidecarUrl}/metrics`)).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith(`${name}{`) && labels.every((p) => l.includes(p)))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  };
  const embedCalls = () =>
    stack()
      .sims.byName("emb")
      .received.filter((r) => r.path === "/v1/embeddings").length;

  it("no feature header: a high-compute prompt lands on the frontier pool; the log line says why", async () => {
    const r = await post(stack().url, ask("cls-1", "Prove that the algorithm terminates, step by step"));
    assert.equal(r.status, 200, stack().logs());
    assert.ok((POOLS.qwenLarge as readonly string[]).includes(servedBy(r) ?? ""), `served by ${servedBy(r)}`);
    const line = await logLine(stack(), "cls-1");
    assert.equal(line.class, "frontier");
    assert.equal(line.base_from, "label");
    assert.equal(line.label, "high-compute");
    assert.equal(line.label_source, "embeddings");
    assert.ok((line.reasons as string[]).includes("label:high-compute:embeddings"));
  });

  it("a fast-path prompt lands on the fast pool; the same prompt again is a cache hit (no call)", async () => {
    const r = await post(stack().url, ask("cls-2", "Translate good night into German"));
    assert.equal(r.status, 200);
    assert.ok((POOLS.qwenSmall as readonly string[]).includes(servedBy(r) ?? ""), `served by ${servedBy(r)}`);
    const calls = embedCalls();
    const again = await post(stack().url, ask("cls-3", "translate  GOOD night into german"));
    assert.ok((POOLS.qwenSmall as readonly string[]).includes(servedBy(again) ?? ""));
    assert.equal(embedCalls(), calls);
    assert.equal((await logLine(stack(), "cls-3")).label_source, "cache");
    assert.ok((await metric("switchyard_classifier_cache_total", ['result="hit"'])) >= 1);
  });

  it("a class: auto feature keeps its cap; a feature with a class makes no call", async () => {
    const r = await post(
      stack().url,
      ask("cls-4", "Debug this crash and refactor the code", { "X-Discourse-AI-Feature": "composer" }),
    );
    assert.ok(
      (POOLS.deepseek as readonly string[]).includes(servedBy(r) ?? ""),
      "high-compute capped at balanced",
    );
    const line = await logLine(stack(), "cls-4");
    assert.deepEqual([line.label, line.class], ["high-compute", "balanced"]);
    const calls = embedCalls();
    const fixed = await post(stack().url, ask("cls-5", "hello", { "X-Discourse-AI-Feature": "ai_bot" }));
    assert.ok((POOLS.qwenLarge as readonly string[]).includes(servedBy(fixed) ?? ""));
    assert.equal(embedCalls(), calls);
    assert.equal((await logLine(stack(), "cls-5")).label, null);
  });

  it("a slow endpoint: the fallback label after the classifier's timeout, and the request is served", async () => {
    const emb = stack().sims.byName("emb");
    emb.setTiming({ ttftMs: 5000 });
    const r = await post(stack().url, ask("cls-slow", "Prove the invariant holds for every loop"));
    assert.equal(r.status, 200);
    assert.ok((POOLS.deepseek as readonly string[]).includes(servedBy(r) ?? ""), "general → balanced");
    const line = await logLine(stack(), "cls-slow");
    assert.deepEqual([line.label, line.label_source], ["general", "fallback"]);
    assert.ok((line.reasons as string[]).includes("classify:timeout"));
    emb.setTiming({ ttftMs: 0 });
    const ok = await post(stack().url, ask("cls-after", "Implement the parser and analyze its complexity"));
    assert.equal(
      (await logLine(stack(), "cls-after")).label_source,
      "embeddings",
      "the endpoint answers again",
    );
    assert.equal(ok.status, 200);
  });

  it("a dead endpoint: the fallback label (still served), then the breaker stops the calls", async () => {
    await stack().sims.byName("emb").setMode({ status: 503 });
    const calls = embedCalls();
    for (const [i, text] of ["optimize the sql query", "derive the integral", "prove the lemma"].entries()) {
      const r = await post(stack().url, ask(`cls-dead-${i}`, text));
      assert.equal(r.status, 200);
      assert.ok((POOLS.deepseek as readonly string[]).includes(servedBy(r) ?? ""), "general → balanced");
      const line = await logLine(stack(), `cls-dead-${i}`);
      assert.deepEqual([line.label, line.label_source], ["general", "fallback"]);
    }
    assert.equal(embedCalls(), calls + 2, "two failures open the breaker; the third makes no call");
    assert.ok((await metric("switchyard_classifier_fallbacks_total", ['reason="breaker_open"'])) >= 1);
    assert.equal(await metric("switchyard_classifier_breaker_state", ['state="open"']), 1);
  });
});
