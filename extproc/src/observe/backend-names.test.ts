// backends[].name: the log line, the metrics' backend label and /status show it (default: the
// address); the log line keeps the address beside it; names are unique and are no other address.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backendName } from "../policy/backend-names.js";
import { parsePolicy } from "../policy/load.js";
import type { RequestRecord } from "../telemetry/attempts.js";
import { buildLogLine } from "./log-line.js";

const policyWith = (backends: string) => {
  const r = parsePolicy(`version: 1
classes: [fast]
default_class: fast
ladders: { fast: [{ p: 1 }] }
pools: { p: { served_model: m, capabilities: { vision: true }, backends: ${backends} } }
`);
  return r;
};

describe("backend names", () => {
  const r = policyWith(`[{ address: "10.0.0.1:8000", name: dub-1 }, { address: "10.0.0.2:8000" }]`);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  const policy = r.policy;
  test("a named backend shows its name; an unnamed one its address", () => {
    assert.equal(backendName(policy, "10.0.0.1:8000"), "dub-1");
    assert.equal(backendName(policy, "10.0.0.2:8000"), "10.0.0.2:8000");
  });
  test("the log line: backend is the name, backend_address the address, attempts named too", () => {
    const record = {
      req: {
        decision: { reasons: [] },
        backend: "10.0.0.1:8000",
        startedAt: 0,
        requestId: "r",
        path: "/v1/chat/completions",
        attemptCount: 2,
        flags: [],
        details: "",
        failureReason: "",
        clientDisconnected: false,
        responseBytes: 0,
        requestBytes: 0,
        status: 200,
      },
      pool: "p",
      attempts: [
        { attempt: 1, pool: "p", backend: "10.0.0.2:8000", outcome: "connect_failed" },
        { attempt: 2, pool: "p", backend: "10.0.0.1:8000", outcome: "http_200" },
      ],
      outcome: "ok",
    } as unknown as RequestRecord;
    const line = buildLogLine(record, policy);
    assert.equal(line.backend, "dub-1");
    assert.equal(line.backend_address, "10.0.0.1:8000");
    assert.deepEqual(
      (line.attempt_list as { backend: string }[]).map((a) => a.backend),
      ["10.0.0.2:8000", "dub-1"],
    );
  });
  test("two backends with one name, or a name that is another backend's address, are errors", () => {
    const dup = policyWith(`[{ address: "10.0.0.1:8000", name: a }, { address: "10.0.0.2:8000", name: a }]`);
    assert.equal(dup.ok, false);
    assert.match(
      dup.ok ? "" : (dup.errors[0]?.message ?? ""),
      /backend name 'a' is also the name of 10\.0\.0\.1:8000/,
    );
    const clash = policyWith(
      `[{ address: "10.0.0.1:8000", name: "10.0.0.2:8000" }, { address: "10.0.0.2:8000" }]`,
    );
    assert.equal(clash.ok, false);
  });
});
