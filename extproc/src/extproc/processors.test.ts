// The router-level and upstream-level processors and the stream loop, message by message, as
// Envoy sends them (table-driven over ProcessingRequest): a processor bug shows here in
// milliseconds, not only in the end-to-end suite.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import type * as grpc from "@grpc/grpc-js";
import { discourse } from "../../../test/fixtures/fixtures.js";
import { parseChatBody, readBodyFacts } from "../facts/body.js";
import { PolicyHolder } from "../policy/holder.js";
import { rewriteForPool } from "../reasoning/render-body.js";
import { seededRandom } from "../routing/evaluate.js";
import { H, METADATA_NAMESPACE, PHASE_METADATA_KEY, UPSTREAM_NAMESPACE } from "../vocab/names.js";
import { decodeDecision, decodeNote, encodeMetadata } from "./decision-record.js";
import {
  BODY_MODE,
  type HeaderMutation,
  type ProcessingRequest,
  type ProcessingResponse,
} from "./messages.js";
import type { Step } from "./processor.js";
import { RouterProcessor } from "./router-processor.js";
import { extProcHandler, newHooks } from "./server.js";
import type { PbStruct } from "./struct.js";
import { UpstreamProcessor } from "./upstream-processor.js";

const policy = discourse();
/** Request headers from `source` (examples/discourse.yml trusts loopback and private ranges). */
const hdrs = (h: Record<string, string>, source = "127.0.0.1:40000"): ProcessingRequest => ({
  request_headers: { headers: { headers: Object.entries(h).map(([key, value]) => ({ key, value })) } },
  attributes: { "envoy.filters.http.ext_proc": { fields: { "source.address": { stringValue: source } } } },
});
const bodyMsg = (b: string | Buffer): ProcessingRequest => ({
  request_body: { body: Buffer.isBuffer(b) ? b : Buffer.from(b), end_of_stream: true },
});
const setHeader = (m: HeaderMutation | undefined, name: string) =>
  m?.set_headers?.find((h) => h.header.key === name)?.header.raw_value.toString("latin1");
const decision = (r: ProcessingResponse) =>
  decodeDecision((r.dynamic_metadata as PbStruct | undefined)?.fields[METADATA_NAMESPACE]?.structValue);
const note = (r: ProcessingResponse) =>
  decodeNote((r.dynamic_metadata as PbStruct | undefined)?.fields[UPSTREAM_NAMESPACE]?.structValue);

/** Runs the messages through one router processor; returns each step (no classifier: all at once). */
function router(messages: ProcessingRequest[]) {
  const p = new RouterProcessor(policy, seededRandom(3));
  return messages.map((m) =>
    sync(
      m.request_headers ? p.onRequestHeaders(m.request_headers, m) : p.onRequestBody(m.request_body ?? {}),
    ),
  );
}

function sync(s: Step | Promise<Step>): Step {
  assert.ok(!(s instanceof Promise), "answered at once");
  return s;
}

const AI_BOT = { "x-discourse-ai-feature": "ai_bot", "x-request-id": "req-1" };
const CHAT = JSON.stringify({
  model: "gpt",
  messages: [{ role: "user", content: "hi" }],
  reasoning_effort: "low",
});

describe("router processor", () => {
  test("headers, then body: headers continue; body routes with cluster, retries, rewrite and record", () => {
    const [h, b] = router([hdrs(AI_BOT), bodyMsg(CHAT)]);
    assert.deepEqual(h, { response: { request_headers: { response: {} } }, done: false });
    assert.ok(b?.done);
    const common = b.response.request_body?.response;
    assert.equal(common?.clear_route_cache, true);
    assert.equal(setHeader(common?.header_mutation, H.cluster), "swy.qwen-large.deepseek-flash.qwen-small");
    assert.equal(setHeader(common?.header_mutation, H.maxRetries), "5");
    assert.equal(setHeader(common?.header_mutation, H.class), "frontier");
    const sent = common?.body_mutation?.body;
    assert.ok(sent);
    assert.equal(setHeader(common?.header_mutation, H.contentLength), String(sent.length));
    assert.equal(JSON.parse(sent.toString()).model, "Qwen/Qwen3-VL-235B-A22B-Instruct");
    const rec = decision(b.response);
    assert.equal(rec.class, "frontier");
    assert.deepEqual(rec.path, ["qwen-large", "deepseek-flash", "qwen-small"]);
    assert.equal(rec.feature, "ai_bot");
    assert.equal(note(b.response)?.adaptedFor, "qwen-large");
  });

  test("headers with end_of_stream (no body): decided at once, an empty body is invalid JSON", () => {
    const [h] = router([{ request_headers: { ...hdrs(AI_BOT).request_headers, end_of_stream: true } }]);
    assert.equal(h?.done, true);
    assert.equal(h?.response.immediate_response?.status.code, 400);
    assert.equal(decision(h?.response as ProcessingResponse).error, "invalid_json");
  });

  const rejections: [string, Record<string, string>, string, number, string][] = [
    ["bad JSON → 400 invalid_json", AI_BOT, "{nope", 400, "invalid_json"],
    ["a JSON array → 400 body_not_object", AI_BOT, "[1]", 400, "body_not_object"],
    [
      "a prompt no pool holds → 400 context_length_exceeded",
      AI_BOT,
      JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 10_000_000 }),
      400,
      "context_length_exceeded",
    ],
  ];
  for (const [name, headers, body, status, code] of rejections) {
    test(name, () => {
      const [, b] = router([hdrs(headers), bodyMsg(body)]);
      const imm = b?.response.immediate_response;
      assert.equal(imm?.status.code, status);
      assert.equal(JSON.parse(imm?.body?.toString() ?? "{}").error.code, code);
      assert.equal(decision(b?.response as ProcessingResponse).error, code);
      assert.equal(b?.done, true);
    });
  }

  test("an untrusted caller's routing headers are ignored: default class, and the record says so", () => {
    const [, b] = router([
      hdrs({ ...AI_BOT, "x-discourse-ai-tier": "paid" }, "203.0.113.9:5000"),
      bodyMsg(CHAT),
    ]);
    const rec = decision(b?.response as ProcessingResponse);
    assert.equal(rec.class, "balanced");
    assert.equal(rec.trusted, false);
    assert.equal(rec.feature, undefined);
    assert.ok(rec.reasons.includes("trust:untrusted"), rec.reasons.join(" "));
  });

  test("no source address from Envoy counts as untrusted, never as trusted", () => {
    const msg = hdrs(AI_BOT);
    delete msg.attributes;
    const [, b] = router([msg, bodyMsg(CHAT)]);
    assert.equal(decision(b?.response as ProcessingResponse).trusted, false);
  });

  test("a body the first pool takes as it is goes on untouched: no body mutation, an empty undo", () => {
    const served = JSON.stringify({ model: "Qwen/Qwen3-VL-235B-A22B-Instruct", messages: [] });
    const [, b] = router([hdrs(AI_BOT), bodyMsg(served)]);
    const common = b?.response.request_body?.response;
    assert.equal(common?.body_mutation, undefined);
    assert.equal(setHeader(common?.header_mutation, H.contentLength), undefined);
    assert.deepEqual(note(b?.response as ProcessingResponse), {
      adaptedFor: "qwen-large",
      undo: { keys: [], members: "" },
    });
  });
});

describe("upstream processor", () => {
  const holder = new PolicyHolder(policy);
  const raw = Buffer.from(CHAT);
  const parsed = parseChatBody(CHAT);
  assert.ok(parsed.ok);
  const facts = readBodyFacts(parsed.body, raw.length, []);
  const qwenLarge = policy.pools.get("qwen-large");
  const deepseek = policy.pools.get("deepseek-flash");
  assert.ok(qwenLarge && deepseek);
  const pre = rewriteForPool(raw, parsed.body, facts, qwenLarge);
  const md = encodeMetadata({ reasons: [] }, { adaptedFor: "qwen-large", undo: pre.undo });
  const attempt = (address: string, eos = false): ProcessingRequest => ({
    request_headers: { headers: { headers: [{ key: "x-request-id", value: "req-1" }] }, end_of_stream: eos },
    attributes: {
      "envoy.filters.http.ext_proc": { fields: { "upstream.address": { stringValue: address } } },
    },
    metadata_context: {
      filter_metadata: { [UPSTREAM_NAMESPACE]: md.fields[UPSTREAM_NAMESPACE]?.structValue as PbStruct },
    },
  });
  const run = (first: ProcessingRequest, body?: Buffer) => {
    const p = new UpstreamProcessor(policy, holder.addresses);
    const h = p.onRequestHeaders(first.request_headers ?? {}, first);
    const b = body === undefined ? undefined : p.onRequestBody({ body, end_of_stream: true });
    return { h, b, id: p.requestId };
  };

  test("an attempt on the pool the router rewrote for: continue, no body asked for", () => {
    const { h, id } = run(attempt("127.0.0.1:18111"));
    assert.deepEqual(h, { response: { request_headers: { response: {} } }, done: true });
    assert.equal(id, "req-1");
  });

  test("an attempt on another pool: asks for the body, takes the rewrite back, writes that pool's body", () => {
    const { h, b } = run(attempt("127.0.0.1:18121"), pre.body);
    assert.equal(h?.done, false);
    assert.deepEqual(h?.response.mode_override, { request_body_mode: BODY_MODE.BUFFERED });
    const out = b?.response.request_body?.response;
    const want = rewriteForPool(raw, parsed.body, facts, deepseek).body;
    assert.deepEqual(JSON.parse(out?.body_mutation?.body.toString() ?? ""), JSON.parse(want.toString()));
    assert.equal(setHeader(out?.header_mutation, H.contentLength), String(out?.body_mutation?.body.length));
  });

  test("a request without a body: continue at once", () => {
    const { h } = run(attempt("127.0.0.1:18121", true));
    assert.equal(h?.done, true);
    assert.equal(h?.response.mode_override, undefined);
  });

  test("a backend in no pool: the body passes untouched", () => {
    const { b } = run(attempt("127.0.0.1:1"), pre.body);
    assert.deepEqual(b?.response.request_body?.response, {});
  });
});

/** A duplex call as grpc-js hands it to the handler, recording what the server writes. */
class FakeCall extends EventEmitter {
  written: ProcessingResponse[] = [];
  ended = false;
  constructor(readonly phase: string) {
    super();
  }
  metadata = { get: (k: string) => (k === PHASE_METADATA_KEY ? [this.phase] : []) };
  write(r: ProcessingResponse) {
    this.written.push(r);
  }
  end() {
    this.ended = true;
  }
}

describe("stream loop", () => {
  test("routes, writes each step and ends the stream after the last; open streams counted", () => {
    const hooks = newHooks();
    const call = new FakeCall("router");
    extProcHandler(new PolicyHolder(policy), hooks)(call as unknown as grpc.ServerDuplexStream<never, never>);
    assert.equal(hooks.open.router, 1);
    call.emit("data", hdrs(AI_BOT));
    call.emit("data", bodyMsg(CHAT));
    assert.equal(call.written.length, 2);
    assert.equal(call.ended, true);
    assert.equal(hooks.open.router, 0);
  });

  test("an internal fault: one report with the request id, a JSON 500 to the client, the stream ends", () => {
    const hooks = newHooks();
    const faults: string[] = [];
    hooks.onFault = (phase, id, err) => faults.push(`${phase} ${id} ${err.message}`);
    // A policy whose pools map throws stands in for a bug anywhere in the processor.
    const broken = new PolicyHolder(policy);
    Object.defineProperty(broken, "policy", {
      get: () => ({ ...policy, pools: { get: () => assert.fail("boom") } }),
    });
    const call = new FakeCall("router");
    extProcHandler(broken, hooks)(call as unknown as grpc.ServerDuplexStream<never, never>);
    call.emit("data", hdrs(AI_BOT));
    call.emit("data", bodyMsg(CHAT));
    assert.equal(faults.length, 1);
    assert.match(faults[0] as string, /^router req-1 boom/);
    const imm = call.written[1]?.immediate_response;
    assert.equal(imm?.status.code, 500);
    assert.equal(JSON.parse(imm?.body?.toString() ?? "{}").error.code, "internal_error");
    assert.equal(call.ended, true);
  });
});
