// The remote classifiers over real HTTP against the simulated backend: the labelled set per
// kind, the cache, one call per prompt, timeouts, malformed answers, the breaker, readiness.
// Calls are counted at the sim (or through the classifier's events), never timed, except for
// one generous upper bound on a timeout.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, afterEach, before, describe, test } from "node:test";
import {
  classifierYaml,
  examplesYaml,
  LABELLED,
  policyWithClassifier,
  SIM_LABELER,
} from "../../../test/fixtures/classifier-set.js";
import { type SimBackend, startSimBackend } from "../../../test/sim/sim-backend.js";
import { readFacts } from "../facts/read-facts.js";
import type { FallbackReason } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { parsePolicy } from "../policy/load.js";
import type { Classifier, ClassifierEvents, Labelled } from "./classifier.js";
import { buildClassifier, Classifiers } from "./classifiers.js";

function load(classifier: string, env: NodeJS.ProcessEnv = {}): Policy {
  const r = parsePolicy(policyWithClassifier(classifier), env);
  if (!r.ok) assert.fail(r.errors.map((e) => `${e.path.join(".")}: ${e.message}`).join("\n"));
  return r.policy;
}

const chat = (text: string) => ({ model: "x", messages: [{ role: "user", content: text }] });

function classify(c: Classifier, policy: Policy, text: string, headers: Record<string, string> = {}) {
  const body = chat(text);
  return Promise.resolve(c.label(body, readFacts(policy, headers, body, 0)));
}

// A loaded test machine must not turn answers into timeouts: the longest timeout unless a test
// sets its own.
const longTimeout = (extra: string) => (extra.includes("timeout_ms") ? "" : "    timeout_ms: 1500\n");

const embeddingsYaml = (sim: SimBackend, extra = "") => `  embeddings:
    url: http://${sim.address}/v1/embeddings
    model: embedder
    threshold: 0.05
${longTimeout(extra)}${extra}    examples:
${examplesYaml()}
`;

const llmYaml = (sim: SimBackend, extra = "") => `  llm:
    url: http://${sim.address}/v1/chat/completions
    model: judge
${longTimeout(extra)}${extra}`;

const calls = (sim: SimBackend, path: string) => sim.received.filter((r) => r.path === path).length;

/** Counts each endpoint call's outcome. */
function counter(): ClassifierEvents & { outcomes: string[] } {
  const outcomes: string[] = [];
  return { outcomes, call: (_kind, outcome) => outcomes.push(outcome) };
}

describe("embeddings classifier over HTTP", () => {
  let sim: SimBackend;
  const open: Classifier[] = [];
  const make = (policy: Policy, events?: ClassifierEvents) => {
    const c = buildClassifier(policy, { events }) as Classifier;
    open.push(c);
    return c;
  };
  before(async () => {
    sim = await startSimBackend({ name: "emb", servedModel: "embedder", ttftMs: 0 });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await sim.setMode("ok", { ttftMs: 0 });
    sim.clearReceived();
  });
  after(() => sim.close());

  for (const method of ["centroid", "knn"] as const) {
    test(`${method}: the labelled set (${LABELLED.length} prompts), every one right, one call each`, async () => {
      const policy = load(
        classifierYaml("embeddings", embeddingsYaml(sim, `    method: ${method}\n    k: 3\n`)),
      );
      const c = make(policy);
      await c.prepare();
      assert.equal(calls(sim, "/v1/embeddings"), 1, "the examples go in one batch");
      const got = await Promise.all(LABELLED.map(([text]) => classify(c, policy, text)));
      const wrong = LABELLED.filter(([, want], i) => got[i]?.name !== want).map(
        ([t], i) => `${t} → ${got[i]?.name}`,
      );
      assert.deepEqual(wrong, []);
      assert.ok(got.every((l) => l.source === "embeddings"));
      assert.equal(calls(sim, "/v1/embeddings"), 1 + LABELLED.length);
    });
  }

  test("a cache hit makes no call; the key is the normalised text", async () => {
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const c = make(policy);
    await c.prepare();
    const first = await classify(c, policy, "Prove the theorem, step by step");
    assert.equal(first.source, "embeddings");
    const before = calls(sim, "/v1/embeddings");
    const again = c.label(chat("  prove THE theorem,   step by step "), readFacts(policy, {}, chat("x"), 0));
    assert.ok(!(again instanceof Promise), "a hit answers at once");
    assert.deepEqual([again.name, again.source], ["high-compute", "cache"]);
    assert.equal(calls(sim, "/v1/embeddings"), before);
    assert.equal(c.cached, 1);
  });

  test("concurrent identical prompts share one call", async () => {
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const c = make(policy);
    await c.prepare();
    sim.setTiming({ ttftMs: 100 });
    const before = calls(sim, "/v1/embeddings");
    const got = await Promise.all(Array.from({ length: 8 }, () => classify(c, policy, "debug this crash")));
    assert.equal(calls(sim, "/v1/embeddings"), before + 1);
    assert.ok(got.every((l) => l.name === "high-compute" && l.source === "embeddings"));
  });

  test("a text like no example → the fallback label, below_threshold (the endpoint did answer)", async () => {
    const events = counter();
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const c = make(policy, events);
    await c.prepare();
    const l = await classify(c, policy, "zebra quokka xylophone");
    assert.deepEqual([l.name, l.source, l.why], ["general", "fallback", "below_threshold"]);
    assert.equal(c.breaker.state, "closed");
    assert.deepEqual(events.outcomes, ["below_threshold"]);
  });

  test("a slow endpoint: the fallback label, timeout, within the timeout plus a generous bound", async () => {
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim, "    timeout_ms: 100\n")));
    const c = make(policy);
    await c.prepare();
    sim.setTiming({ ttftMs: 5000 });
    const t0 = performance.now();
    const l = await classify(c, policy, "prove the theorem");
    const ms = performance.now() - t0;
    assert.deepEqual([l.name, l.source, l.why], ["general", "fallback", "timeout"]);
    assert.ok(ms < 100 + 1500, `fell back after ${ms.toFixed(0)} ms`);
  });

  test("an HTTP error → error; a fallback is not cached", async () => {
    const events = counter();
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const c = make(policy, events);
    await c.prepare();
    await sim.setMode({ status: 503 });
    const l = await classify(c, policy, "prove it");
    assert.deepEqual([l.source, l.why], ["fallback", "error"]);
    await sim.setMode("ok");
    assert.equal((await classify(c, policy, "prove it")).source, "embeddings", "called again, not cached");
    assert.deepEqual(events.outcomes, ["error", "ok"]);
  });

  test("examples not embedded yet → not_ready at once, no call; Classifiers retries until ready", async () => {
    await sim.setMode({ status: 503 });
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const logs: string[] = [];
    const set = new Classifiers({ retryMs: 50, log: (m) => logs.push(m) });
    try {
      await set.prepare(policy, 200);
      const c = set.for(policy) as Classifier;
      assert.equal(c.ready, false);
      const before = sim.received.length;
      const l = c.label(chat("prove it"), readFacts(policy, {}, chat("prove it"), 0)) as Labelled;
      assert.deepEqual([l.source, l.why], ["fallback", "not_ready"]);
      assert.equal(sim.received.length, before);
      await sim.setMode("ok");
      for (let i = 0; i < 200 && !c.ready; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(c.ready, true, logs.join("\n"));
      assert.equal((await classify(c, policy, "prove it")).name, "high-compute");
      assert.ok(logs.some((m) => m.includes("retrying")));
    } finally {
      set.close();
    }
  });

  test("a reload with the same classifier keeps it (cache and vectors); a changed one gets a new one", async () => {
    const yaml = classifierYaml("embeddings", embeddingsYaml(sim));
    const a = load(yaml);
    const b = load(`${yaml}\n# a comment changes the hash, not the classifier\n`);
    const c = load(yaml.replace("threshold: 0.05", "threshold: 0.06"));
    const set = new Classifiers();
    try {
      await set.prepare(a);
      await set.prepare(b);
      assert.equal(set.for(a), set.for(b));
      const embedded = calls(sim, "/v1/embeddings");
      await set.prepare(c);
      assert.notEqual(set.for(c), set.for(b));
      assert.equal(calls(sim, "/v1/embeddings"), embedded + 1);
    } finally {
      set.close();
    }
  });

  test("the label header: no call, source header", async () => {
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const c = make(policy);
    await c.prepare();
    const before = sim.received.length;
    const l = await classify(c, policy, "prove it", { "x-llm-label": "Fast-Path" });
    assert.deepEqual([l.name, l.source], ["fast-path", "header"]);
    assert.equal(sim.received.length, before);
  });

  test("no user text → the fallback label, no_text, no call", async () => {
    const policy = load(classifierYaml("embeddings", embeddingsYaml(sim)));
    const c = make(policy);
    await c.prepare();
    const body = { model: "x", messages: [{ role: "system", content: "be brief" }] };
    const l = (await c.label(body, readFacts(policy, {}, body, 0))) as Labelled;
    assert.deepEqual([l.source, l.why], ["fallback", "no_text"]);
    assert.equal(calls(sim, "/v1/embeddings"), 1);
  });
});

describe("llm classifier over HTTP", () => {
  let sim: SimBackend;
  const open: Classifier[] = [];
  const make = (
    policy: Policy,
    o: { events?: ClassifierEvents; now?: () => number; env?: NodeJS.ProcessEnv } = {},
  ) => {
    const c = buildClassifier(policy, o) as Classifier;
    open.push(c);
    return c;
  };
  before(async () => {
    sim = await startSimBackend({ name: "llm", servedModel: "judge", ttftMs: 0, labeler: SIM_LABELER });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    sim.setLabeler(SIM_LABELER);
    await sim.setMode("ok", { ttftMs: 0 });
    sim.clearReceived();
  });
  after(() => sim.close());

  test(`json_schema: the labelled set (${LABELLED.length} prompts), every one right; the request asks strictly`, async () => {
    const policy = load(classifierYaml("llm", llmYaml(sim)));
    const c = make(policy);
    const got = await Promise.all(LABELLED.map(([text]) => classify(c, policy, text)));
    const wrong = LABELLED.filter(([, want], i) => got[i]?.name !== want).map(
      ([t], i) => `${t} → ${got[i]?.name}`,
    );
    assert.deepEqual(wrong, []);
    assert.ok(got.every((l) => l.source === "llm"));
    assert.equal(calls(sim, "/v1/chat/completions"), LABELLED.length);
    const body = sim.received[0]?.body as Record<string, unknown>;
    assert.equal(body.model, "judge");
    assert.equal(body.temperature, 0);
    assert.equal(body.stream, false);
    const format = body.response_format as {
      json_schema: { schema: { properties: { label: { enum: string[] } } } };
    };
    assert.deepEqual(format.json_schema.schema.properties.label.enum, [
      "fast-path",
      "general",
      "high-compute",
    ]);
    const content = (body.messages as { content: string }[])[0]?.content ?? "";
    assert.match(content, /labels: fast-path, general, high-compute\./);
  });

  test("guided_choice and descriptions: the bare label comes back; {{labels}} lists the descriptions", async () => {
    const extra = "    output: guided_choice\n    descriptions: { fast-path: small talk and lookups }\n";
    const policy = load(classifierYaml("llm", llmYaml(sim, extra)));
    const c = make(policy);
    for (const [text, want] of LABELLED.slice(0, 4))
      assert.equal((await classify(c, policy, text)).name, want);
    const body = sim.received[0]?.body as { guided_choice: string[]; messages: { content: string }[] };
    assert.deepEqual(body.guided_choice, ["fast-path", "general", "high-compute"]);
    assert.match(body.messages[0]?.content ?? "", /- fast-path: small talk and lookups\n- general\n/);
  });

  test("the text goes into the template once, never re-expanded", async () => {
    const policy = load(classifierYaml("llm", llmYaml(sim, "    prompt: 'Q: {{text}} / {{labels}}'\n")));
    const c = make(policy);
    await classify(c, policy, "say {{labels}} please");
    const body = sim.received[0]?.body as { messages: { content: string }[] };
    assert.equal(body.messages[0]?.content, "Q: say {{labels}} please / fast-path, general, high-compute");
  });

  const fallbacks: [string, "garbage" | "unknown-label", FallbackReason][] = [
    ["text instead of JSON", "garbage", "malformed"],
    ["a label nobody declared", "unknown-label", "malformed"],
  ];
  for (const [name, output, why] of fallbacks) {
    test(`malformed output (${name}) → the fallback label, ${why}`, async () => {
      sim.setLabeler({ ...SIM_LABELER, output });
      const policy = load(classifierYaml("llm", llmYaml(sim)));
      const c = make(policy);
      const l = await classify(c, policy, "prove it");
      assert.deepEqual([l.name, l.source, l.why], ["general", "fallback", why]);
    });
  }

  test("a dead endpoint opens the breaker: no further calls until open_ms has passed, then one probe", async () => {
    let now = 1_000_000;
    const events = counter();
    const policy = load(classifierYaml("llm", llmYaml(sim), "  breaker: { failures: 3, open_ms: 30000 }\n"));
    const c = make(policy, { events, now: () => now });
    await sim.setMode("refuse");
    for (const t of ["one", "two", "three"]) assert.equal((await classify(c, policy, t)).why, "error");
    assert.equal(c.breaker.state, "open");
    for (const t of ["four", "five", "six", "seven"])
      assert.equal((await classify(c, policy, t)).why, "breaker_open");
    assert.deepEqual(events.outcomes, ["error", "error", "error"], "three calls, then none");
    await sim.setMode("ok");
    now += 30_000;
    const [probe, during] = [classify(c, policy, "prove it"), classify(c, policy, "hello")];
    assert.equal((await during).why, "breaker_open", "one probe at a time");
    assert.deepEqual([(await probe).name, (await probe).source], ["high-compute", "llm"]);
    assert.equal(c.breaker.state, "closed");
    assert.equal((await classify(c, policy, "hello")).source, "llm");
    assert.equal(events.outcomes.length, 5);
  });

  test("a hanging endpoint is a timeout and counts toward the breaker", async () => {
    const policy = load(
      classifierYaml(
        "llm",
        llmYaml(sim, "    timeout_ms: 50\n"),
        "  breaker: { failures: 2, open_ms: 60000 }\n",
      ),
    );
    const c = make(policy);
    await sim.setMode("hang");
    assert.equal((await classify(c, policy, "a")).why, "timeout");
    assert.equal((await classify(c, policy, "b")).why, "timeout");
    assert.equal((await classify(c, policy, "c")).why, "breaker_open");
  });

  test("api_key_env: the key goes out as a bearer token", async () => {
    const env = { JUDGE_KEY: "s3cret" };
    const policy = load(classifierYaml("llm", llmYaml(sim, "    api_key_env: JUDGE_KEY\n")), env);
    const c = make(policy, { env });
    await classify(c, policy, "hello");
    assert.equal(sim.received[0]?.headers.authorization, "Bearer s3cret");
  });
});
