// The router with a classifier: a label from a call makes the body step a promise, a label
// known at once (header, heuristic, cache, a feature that needs none) keeps it synchronous, and
// the stream loop answers either way, in order, with one fault path.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { after, before, describe, test } from "node:test";
import type * as grpc from "@grpc/grpc-js";
import {
  classifierYaml,
  HEURISTIC_YAML,
  policyWithClassifier,
  SIM_LABELER,
} from "../../../test/fixtures/classifier-set.js";
import { type SimBackend, startSimBackend } from "../../../test/sim/sim-backend.js";
import type { Classifier } from "../classify/classifier.js";
import { buildClassifier } from "../classify/classifiers.js";
import type { Policy } from "../policy/compile.js";
import { PolicyHolder } from "../policy/holder.js";
import { parsePolicy } from "../policy/load.js";
import { seededRandom } from "../routing/evaluate.js";
import { H, METADATA_NAMESPACE, PHASE_METADATA_KEY } from "../vocab/names.js";
import { decodeDecision } from "./decision-record.js";
import type { ProcessingRequest, ProcessingResponse } from "./messages.js";
import type { Step } from "./processor.js";
import { RouterProcessor } from "./router-processor.js";
import { extProcHandler, newHooks } from "./server.js";
import type { PbStruct } from "./struct.js";

function load(classifier: string): Policy {
  const r = parsePolicy(policyWithClassifier(classifier), {});
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("\n"));
  return r.policy;
}

const hdrs = (h: Record<string, string>): ProcessingRequest => ({
  request_headers: { headers: { headers: Object.entries(h).map(([key, value]) => ({ key, value })) } },
});
const bodyMsg = (text: string): ProcessingRequest => ({
  request_body: {
    body: Buffer.from(JSON.stringify({ model: "x", messages: [{ role: "user", content: text }] })),
    end_of_stream: true,
  },
});
const cluster = (s: Step) =>
  s.response.request_body?.response.header_mutation?.set_headers
    ?.find((h) => h.header.key === H.cluster)
    ?.header.raw_value.toString();
const record = (s: Step) =>
  decodeDecision(
    (s.response.dynamic_metadata as PbStruct | undefined)?.fields[METADATA_NAMESPACE]?.structValue,
  );

function run(
  policy: Policy,
  classifier: Classifier | undefined,
  headers: Record<string, string>,
  text: string,
) {
  const p = new RouterProcessor(policy, seededRandom(1), classifier);
  const h = hdrs({ "x-request-id": "r1", ...headers });
  const first = p.onRequestHeaders(h.request_headers ?? {}, h);
  assert.ok(!(first instanceof Promise));
  return p.onRequestBody(bodyMsg(text).request_body ?? {});
}

class FakeCall extends EventEmitter {
  written: ProcessingResponse[] = [];
  ended = false;
  metadata = { get: (k: string) => (k === PHASE_METADATA_KEY ? ["router"] : []) };
  write(r: ProcessingResponse) {
    this.written.push(r);
  }
  end() {
    this.ended = true;
  }
}

describe("router with a classifier", () => {
  let sim: SimBackend;
  let policy: Policy;
  let classifier: Classifier;
  before(async () => {
    sim = await startSimBackend({ name: "judge", servedModel: "judge", ttftMs: 20, labeler: SIM_LABELER });
    policy = load(
      classifierYaml(
        "llm",
        `  llm: { url: "http://${sim.address}/v1/chat/completions", model: judge, timeout_ms: 1500 }\n`,
      ),
    );
    classifier = buildClassifier(policy) as Classifier;
  });
  after(async () => {
    classifier.close();
    await sim.close();
  });

  test("a miss: the body step is a promise; the label picks the ladder and goes into the record", async () => {
    const out = run(policy, classifier, {}, "prove that the loop terminates");
    assert.ok(out instanceof Promise);
    const step = await out;
    assert.equal(cluster(step), "swy.large");
    const r = record(step);
    assert.deepEqual(
      [r.class, r.baseFrom, r.label, r.labelSource],
      ["frontier", "label", "high-compute", "llm"],
    );
    assert.ok(r.reasons.includes("label:high-compute:llm"));
  });

  test("a hit answers at once (source cache); a feature with a class never asks", () => {
    const hit = run(policy, classifier, {}, "prove that the loop terminates");
    assert.ok(!(hit instanceof Promise));
    assert.equal(record(hit).labelSource, "cache");
    const calls = sim.received.length;
    const feature = run(policy, classifier, { "x-feature": "ai_bot" }, "hello");
    assert.ok(!(feature instanceof Promise));
    assert.deepEqual([record(feature).label, record(feature).baseFrom], [undefined, "feature"]);
    assert.equal(sim.received.length, calls);
  });

  test("the heuristic answers at once", () => {
    const p = load(classifierYaml("heuristic", HEURISTIC_YAML));
    const out = run(p, buildClassifier(p), { "x-feature": "composer" }, "translate hello into German");
    assert.ok(!(out instanceof Promise));
    assert.equal(cluster(out), "swy.small");
    assert.equal(record(out).labelSource, "heuristic");
  });

  test("stream loop: a promised answer is written when it comes, then the stream ends", async () => {
    const hooks = newHooks();
    const seconds: number[] = [];
    hooks.onProcessed = (_phase, s) => seconds.push(s);
    const call = new FakeCall();
    extProcHandler(
      new PolicyHolder(policy),
      hooks,
      () => classifier,
    )(call as unknown as grpc.ServerDuplexStream<never, never>);
    call.emit("data", hdrs({ "x-request-id": "r2" }));
    call.emit("data", bodyMsg("debug this crash in the parser"));
    assert.equal(call.written.length, 1, "the body's answer waits for the label");
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (call.ended) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    assert.equal(call.written.length, 2);
    assert.equal(
      record({ response: call.written[1] as ProcessingResponse, done: true }).label,
      "high-compute",
    );
    assert.equal(seconds.length, 2);
    assert.equal(hooks.open.router, 0);
  });

  test("stream loop: a rejected answer takes the one fault path (a JSON 500, reported once)", async () => {
    const hooks = newHooks();
    const faults: string[] = [];
    hooks.onFault = (phase, id, err) => faults.push(`${phase} ${id} ${err.message}`);
    const broken = { label: () => Promise.reject(new Error("kaput")) } as unknown as Classifier;
    const call = new FakeCall();
    extProcHandler(
      new PolicyHolder(policy),
      hooks,
      () => broken,
    )(call as unknown as grpc.ServerDuplexStream<never, never>);
    call.emit("data", hdrs({ "x-request-id": "r3" }));
    call.emit("data", bodyMsg("anything"));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(faults, ["router r3 kaput"]);
    assert.equal(call.written[1]?.immediate_response?.status.code, 500);
    assert.equal(call.ended, true);
  });

  test("stream loop: a cancelled stream gets nothing written after the label comes", async () => {
    const hooks = newHooks();
    const call = new FakeCall();
    extProcHandler(
      new PolicyHolder(policy),
      hooks,
      () => classifier,
    )(call as unknown as grpc.ServerDuplexStream<never, never>);
    const cached = classifier.cached;
    call.emit("data", hdrs({ "x-request-id": "r4" }));
    call.emit("data", bodyMsg("refactor the scheduler"));
    call.emit("cancelled");
    while (classifier.cached === cached) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setImmediate(r));
    assert.equal(call.written.length, 1);
    assert.equal(hooks.open.router, 0);
  });
});
