// Big bodies decided in the worker thread give the main thread's answer; too many waiting are
// shed at once with a 503 and Retry-After.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { readRepoFile } from "../../../test/fixtures/fixtures.js";
import { parsePolicy } from "../policy/load.js";
import { decodeDecision } from "./decision-record.js";
import type { ProcessingRequest } from "./messages.js";
import { BodyOffload } from "./offload.js";
import { RouterProcessor } from "./router-processor.js";
import type { PbStruct } from "./struct.js";

const loaded = parsePolicy(
  readRepoFile("examples/discourse.yml").replace(
    "max_body_bytes: 16777216",
    "max_body_bytes: 16777216\n  offload_body_bytes: 2048\n  max_queued_body_bytes: 4000000",
  ),
);
assert.ok(loaded.ok);
const policy = loaded.policy;
assert.equal(policy.doc.limits.offload_body_bytes, 2048);

const headers: ProcessingRequest = {
  request_headers: {
    headers: {
      headers: [
        { key: "x-discourse-ai-feature", raw_value: Buffer.from("ai_bot") },
        { key: "content-type", raw_value: Buffer.from("application/json") },
      ],
    },
  },
  attributes: {
    "envoy.filters.http.ext_proc": { fields: { "source.address": { stringValue: "127.0.0.1:9" } } },
  },
};
const bigBody = (bytes: number): ProcessingRequest => {
  // The bulk sits outside the prompt, so no context window refuses it.
  const pad = "x".repeat(bytes);
  const body = JSON.stringify({
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    metadata: { pad },
    reasoning_effort: "low",
  });
  return { request_body: { body: Buffer.from(body), end_of_stream: true } };
};
const inline = (body: ProcessingRequest) => {
  const p = new RouterProcessor(policy, () => 0);
  p.onRequestHeaders(headers.request_headers ?? {}, headers);
  return p.onRequestBody(body.request_body ?? {});
};
const record = (md: unknown) => decodeDecision((md as PbStruct).fields.switchyard?.structValue);

describe("BodyOffload", () => {
  const offload = new BodyOffload();
  after(() => offload.close());

  test("the worker decides on the main thread's fleet view, and the first pool is counted back", async () => {
    const closed = {
      samples: 0,
      inWindow: 0,
      ttftP50Ms: null,
      ttftP95Ms: null,
      errorRate: 0,
      probesOut: false,
      shedding: false,
    };
    const view = {
      at: 1,
      seq: 0,
      pools: new Map([
        ["qwen-large", { ...closed, breaker: "open" as const }],
        ["deepseek-flash", { ...closed, breaker: "closed" as const }],
      ]),
    };
    const routed: string[] = [];
    const step = await offload.run(policy, headers, bigBody(10_000), {
      view: () => view,
      routed: (p) => routed.push(p),
    });
    const rec = record(step.response.dynamic_metadata);
    assert.ok(rec.reasons.includes("skip:qwen-large:breaker_open"), rec.reasons.join(" "));
    assert.deepEqual(routed, [rec.path?.[0]]);
  });

  test("wants bodies at or above limits.offload_body_bytes", () => {
    assert.equal(offload.wants(policy, 2047), false);
    assert.equal(offload.wants(policy, 2048), true);
  });

  test("the worker's answer is the main thread's: class, path, rewritten body, metadata", async () => {
    const body = bigBody(100_000);
    const viaWorker = await offload.run(policy, headers, body);
    const here = inline(body);
    assert.ok(!(here instanceof Promise));
    const w = viaWorker.response.request_body?.response;
    const h = here.response.request_body?.response;
    assert.ok(w?.body_mutation && h?.body_mutation);
    assert.equal(Buffer.from(w.body_mutation.body).toString(), h.body_mutation.body.toString());
    assert.deepEqual(
      record(viaWorker.response.dynamic_metadata).path,
      record(here.response.dynamic_metadata).path,
    );
    assert.equal(record(viaWorker.response.dynamic_metadata).class, "frontier");
    assert.equal(viaWorker.done, true);
    assert.equal(offload.queuedBytes, 0);
  });

  test("a bad big body gets the same 400 from the worker", async () => {
    const bad: ProcessingRequest = { request_body: { body: Buffer.from(`{"model": ${"[".repeat(3000)}`) } };
    const step = await offload.run(policy, headers, bad);
    assert.equal(step.response.immediate_response?.status.code, 400);
  });

  test("past max_queued_body_bytes waiting, a new big body is shed at once: 503 overloaded, Retry-After", async () => {
    const shedBefore = offload.shed;
    const waiting = [
      offload.run(policy, headers, bigBody(1_500_000)),
      offload.run(policy, headers, bigBody(1_500_000)),
    ];
    const shed = offload.run(policy, headers, bigBody(1_500_000));
    assert.ok(!(shed instanceof Promise), "answered without waiting");
    const imm = shed.response.immediate_response;
    assert.equal(imm?.status.code, 503);
    assert.equal(JSON.parse(imm?.body?.toString() ?? "{}").error.code, "overloaded");
    assert.ok(imm?.headers?.set_headers?.some((h) => h.header.key === "retry-after"));
    assert.equal(offload.shed, shedBefore + 1);
    for (const s of await Promise.all(waiting)) assert.equal(s.response.immediate_response, undefined);
  });
});
