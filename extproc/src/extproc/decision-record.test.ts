// The decision record and the upstream note survive their trip through Envoy's dynamic
// metadata (a protobuf Struct, encoded and decoded as protobufjs does it on the wire).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { METADATA_NAMESPACE, UPSTREAM_NAMESPACE } from "../vocab/names.js";
import { type DecisionRecord, decodeDecision, decodeNote, encodeMetadata } from "./decision-record.js";
import { loadEnvoyServices } from "./protos.js";
import type { PbStruct } from "./struct.js";

/** Through the real protobuf encoding of a ProcessingResponse, and back. */
function wire(s: PbStruct): PbStruct {
  const process = loadEnvoyServices().extProc.Process as {
    responseSerialize: (v: object) => Buffer;
    responseDeserialize: (b: Buffer) => { dynamic_metadata: PbStruct };
  };
  return process.responseDeserialize(process.responseSerialize({ dynamic_metadata: s })).dynamic_metadata;
}

describe("decision record round trip", () => {
  const full: DecisionRecord = {
    class: "frontier",
    baseFrom: "model",
    path: ["qwen-large", "deepseek-flash"],
    reasons: ["base:feature:ai_bot", "tier:paid+1"],
    model: "gpt-x",
    stream: true,
    reasoningEffort: "high",
    feature: "ai_bot",
    tier: "paid",
    trial: false,
    quotaUsed: 81.5,
    vision: true,
    site: "forum",
    trusted: false,
  };
  const cases: [string, DecisionRecord][] = [
    ["every field", full],
    [
      "a rejection: error, no path",
      { class: "fast", error: "no_capable_pool", reasons: ["reject:no_capable_pool"] },
    ],
    ["a bad body: reasons only", { error: "invalid_json", reasons: [] }],
  ];
  for (const [name, record] of cases) {
    test(name, () => {
      const md = wire(encodeMetadata(record));
      const back = decodeDecision(md.fields[METADATA_NAMESPACE]?.structValue);
      const defined = Object.fromEntries(Object.entries(back).filter(([, v]) => v !== undefined));
      assert.deepEqual(defined, record);
      assert.equal(md.fields[UPSTREAM_NAMESPACE], undefined, "no note without a rewrite");
    });
  }
  test("nothing in the entry: an empty record", () =>
    assert.deepEqual(decodeDecision(undefined).reasons, []));
});

describe("upstream note round trip", () => {
  test("adapted_for and the undo record come back as written", () => {
    const note = { adaptedFor: "qwen-large", undo: { keys: ["model", "x"], members: '"model":"a","x":[1]' } };
    const md = wire(encodeMetadata({ reasons: [] }, note));
    assert.deepEqual(decodeNote(md.fields[UPSTREAM_NAMESPACE]?.structValue), note);
  });
  test("decodeNote refuses anything but {adapted_for, undo: {keys: string[], members: string}}", () => {
    const bads: unknown[] = [
      undefined,
      { fields: {} },
      { fields: { adapted_for: { stringValue: "p" } } },
      { fields: { adapted_for: { stringValue: "p" }, undo: { stringValue: "x" } } },
      { fields: { adapted_for: { numberValue: 1 }, undo: { structValue: { fields: {} } } } },
      {
        fields: {
          adapted_for: { stringValue: "p" },
          undo: { structValue: { fields: { keys: { stringValue: "a" }, members: { stringValue: "" } } } },
        },
      },
    ];
    for (const bad of bads) assert.equal(decodeNote(bad as PbStruct), undefined, JSON.stringify(bad));
  });
});

describe("strings protobuf cannot carry", () => {
  test("a lone surrogate in the model (JSON allows \\ud800) reaches Envoy as U+FFFD, not invalid UTF-8", () => {
    const md = wire(encodeMetadata({ model: "\ud800x", reasons: [] }));
    assert.equal(decodeDecision(md.fields[METADATA_NAMESPACE]?.structValue).model, "\ufffdx");
  });
});
