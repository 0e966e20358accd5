// The ext_proc codec (protos.ts): requests reach the processors as protobufjs decoded them
// (a field Envoy did not send reads as its default, not as undefined), and responses are
// encoded from the processors' plain objects with no conversion. Same answers either way.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discourse } from "../../../test/fixtures/fixtures.js";
import { PolicyHolder } from "../policy/holder.js";
import { seededRandom } from "../routing/evaluate.js";
import { H, UPSTREAM_NAMESPACE } from "../vocab/names.js";
import { encodeMetadata } from "./decision-record.js";
import {
  BODY_MODE,
  OVERWRITE_IF_EXISTS_OR_ADD,
  type ProcessingRequest,
  type ProcessingResponse,
} from "./messages.js";
import { loadEnvoyServices, protobufRoot } from "./protos.js";
import { RouterProcessor } from "./router-processor.js";
import { fromStruct, type PbStruct, toStruct } from "./struct.js";
import { UpstreamProcessor } from "./upstream-processor.js";

const codec = loadEnvoyServices().extProc.Process as unknown as {
  requestSerialize: (m: ProcessingRequest) => Buffer;
  requestDeserialize: (b: Buffer) => ProcessingRequest;
  responseSerialize: (m: ProcessingResponse) => Buffer;
  responseDeserialize: (b: Buffer) => ProcessingResponse;
};
/** A request as Envoy's bytes reach the server. */
const wire = (m: ProcessingRequest) => codec.requestDeserialize(codec.requestSerialize(m));
const RESPONSE = protobufRoot().lookupType("envoy.service.ext_proc.v3.ProcessingResponse");
/** A response as Envoy reads it (enums by name), the per-request join key blanked, for comparing. */
function asEnvoyReadsIt(r: ProcessingResponse): object {
  const o = RESPONSE.toObject(RESPONSE.decode(codec.responseSerialize(r)), { enums: String, bytes: String });
  for (const h of o.request_body?.response?.header_mutation?.set_headers ?? [])
    if (h.header.key === H.joinKey) h.header.raw_value = "KEY";
  return o;
}

const policy = discourse();
const hdrs = (h: Record<string, string>, source?: string): ProcessingRequest => ({
  request_headers: { headers: { headers: Object.entries(h).map(([key, value]) => ({ key, value })) } },
  ...(source === undefined
    ? {}
    : {
        attributes: {
          "envoy.filters.http.ext_proc": { fields: { "source.address": { stringValue: source } } },
        },
      }),
});
const CHAT = JSON.stringify({
  model: "gpt",
  messages: [{ role: "user", content: "hi" }],
  reasoning_effort: "low",
});
const bodyMsg = (b: string): ProcessingRequest => ({
  request_body: { body: Buffer.from(b), end_of_stream: true },
});

function routeBoth(messages: ProcessingRequest[]) {
  const run = (msgs: ProcessingRequest[]) => {
    const p = new RouterProcessor(policy, seededRandom(3));
    return msgs.map((m) => {
      const s = m.request_headers
        ? p.onRequestHeaders(m.request_headers, m)
        : p.onRequestBody(m.request_body ?? {});
      assert.ok(!(s instanceof Promise));
      return s;
    });
  };
  return { plain: run(messages), decoded: run(messages.map(wire)) };
}

describe("ext_proc codec", () => {
  test("the enum numbers messages.ts writes are the protos' own", () => {
    const root = protobufRoot();
    const append = root.lookupEnum("envoy.config.core.v3.HeaderValueOption.HeaderAppendAction").values;
    assert.equal(append.OVERWRITE_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS_OR_ADD);
    const mode = root.lookupEnum(
      "envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode",
    ).values;
    assert.deepEqual({ NONE: mode.NONE, BUFFERED: mode.BUFFERED }, BODY_MODE);
    assert.equal(root.lookupEnum("google.protobuf.NullValue").values.NULL_VALUE, 0);
  });

  const cases: [string, ProcessingRequest[]][] = [
    [
      "trusted ai_bot → routed",
      [hdrs({ "x-discourse-ai-feature": "ai_bot", "x-request-id": "r1" }, "127.0.0.1:1"), bodyMsg(CHAT)],
    ],
    ["no source address → untrusted", [hdrs({ "x-discourse-ai-feature": "ai_bot" }), bodyMsg(CHAT)]],
    ["bad JSON → 400", [hdrs({}, "127.0.0.1:1"), bodyMsg("{nope")]],
  ];
  for (const [name, messages] of cases)
    test(`router, ${name}: the same answer from decoded messages, as Envoy reads it`, () => {
      const { plain, decoded } = routeBoth(messages);
      assert.deepEqual(
        decoded.map((s) => s.done),
        plain.map((s) => s.done),
      );
      assert.deepEqual(
        decoded.map((s) => asEnvoyReadsIt(s.response)),
        plain.map((s) => asEnvoyReadsIt(s.response)),
      );
    });

  test("upstream: a decoded attempt (attributes, forwarded note) asks for the body on another pool", () => {
    const md = encodeMetadata({ reasons: [] }, { adaptedFor: "qwen-large", undo: { keys: [], members: "" } });
    const attempt = (address: string): ProcessingRequest =>
      wire({
        request_headers: { headers: { headers: [{ key: "x-request-id", value: "req-1" }] } },
        attributes: {
          "envoy.filters.http.ext_proc": { fields: { "upstream.address": { stringValue: address } } },
        },
        metadata_context: {
          filter_metadata: { [UPSTREAM_NAMESPACE]: md.fields[UPSTREAM_NAMESPACE]?.structValue as PbStruct },
        },
      });
    const holder = new PolicyHolder(policy);
    const same = new UpstreamProcessor(policy, holder.addresses);
    const a = attempt("127.0.0.1:18111");
    assert.equal(same.onRequestHeaders(a.request_headers ?? {}, a)?.done, true);
    assert.equal(same.requestId, "req-1");
    const other = new UpstreamProcessor(policy, holder.addresses);
    const b = attempt("127.0.0.1:18121");
    assert.deepEqual(other.onRequestHeaders(b.request_headers ?? {}, b)?.response.mode_override, {
      request_body_mode: BODY_MODE.BUFFERED,
    });
  });

  test("a Struct through the wire reads back as the JSON it was (decoded Values carry defaults)", () => {
    const json = { s: "", n: 0, b: false, z: null, l: [1, "x", null, { k: true }], o: { e: {} } };
    const md = codec.responseDeserialize(codec.responseSerialize({ dynamic_metadata: toStruct(json) }));
    assert.deepEqual(fromStruct(md.dynamic_metadata), json);
  });
});
