// Regression tests for the fault and abuse campaign (issue: hardening): hostile bodies get a
// defined answer, not a 500; the record of each request is its own; a stream that breaks after
// its 200 counts as an error; the policy reloads however the file is saved, and a reload that
// cannot write Envoy's files is refused while the running policy keeps serving.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { readFixture, type Stack } from "./harness.js";
import { AI_BOT, POOLS, post, TRANSLATE, taggedBody, useStack } from "./util.js";

const defaultStack = async () => ({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() });

/** Every log line switchyard wrote for client request id `id`, once `n` of them are there. */
const linesFor = (s: Stack, id: string, n: number) =>
  waitUntil(
    `${n} log line(s) for ${id}`,
    () => s.sidecars.flatMap((p) => p.jsonLines()).filter((l) => l.request_id === id),
    (found) => found.length >= n,
  );

const metric = async (s: Stack, name: string, labels: string[]) => {
  const text = await (await fetch(`${s.sidecarUrl}/metrics`)).text();
  return text
    .split("\n")
    .filter(
      (l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && labels.every((p) => l.includes(p)),
    )
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
};

describe("hardening: hostile bodies get a defined answer", () => {
  const stack = useStack(defaultStack);

  for (const field of ["model", "tools", "max_tokens", "reasoning_effort", "chat_template_kwargs"]) {
    it(`${field} nested 4,100 levels deep → 400 nesting_too_deep, logged`, async () => {
      const s = stack();
      const id = randomUUID();
      const deep = `${"[".repeat(4100)}${"]".repeat(4100)}`;
      const body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"${field}":${deep}}`;
      const r = await post(s.url, { headers: { ...AI_BOT, "x-request-id": id }, body });
      assert.equal(r.status, 400, r.body.toString().slice(0, 300));
      assert.equal(JSON.parse(r.body.toString()).error.code, "nesting_too_deep");
      const [line] = await linesFor(s, id, 1);
      assert.equal(line?.error, "nesting_too_deep");
    });
  }

  it("a lone surrogate in model is routed (the metadata carries U+FFFD), not a silent 500", async () => {
    const s = stack();
    const id = randomUUID();
    const body = '{"model":"\\ud800x","messages":[{"role":"user","content":"hi"}]}';
    const r = await post(s.url, { headers: { ...TRANSLATE, "x-request-id": id }, body });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    const [line] = await linesFor(s, id, 1);
    assert.equal(line?.model, "\ufffdx");
    assert.equal(line?.pool, "qwen-small");
  });

  it("a body sent as text/plain → 415 unsupported_media_type before any backend sees it", async () => {
    const s = stack();
    const r = await post(s.url, {
      headers: { ...TRANSLATE, "content-type": "text/plain" },
      body: taggedBody("plain"),
    });
    assert.equal(r.status, 415, r.body.toString());
    assert.equal(JSON.parse(r.body.toString()).error.code, "unsupported_media_type");
    assert.equal(
      s.sims.backends.reduce((n, b) => n + b.received.length, 0),
      0,
    );
  });
});

describe("hardening: one request, one record", () => {
  const stack = useStack(defaultStack);

  it("two requests with the same client x-request-id keep their own attempt lists", async () => {
    const s = stack();
    const id = randomUUID();
    // A: both qwen-large backends answer 503, the fallback to deepseek-flash is slow; B (same
    // id, another ladder) finishes while A's failed attempts wait for A's own entry.
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode({ status: 503 })));
    await Promise.all(POOLS.deepseek.map((n) => s.sims.byName(n).setMode("ok", { ttftMs: 1500 })));
    const a = post(s.url, { headers: { ...AI_BOT, "x-request-id": id }, body: taggedBody("dup-a") });
    await waitUntil(
      "A's fallback on deepseek-flash",
      () => POOLS.deepseek.reduce((n, name) => n + s.sims.byName(name).received.length, 0),
      (n) => n > 0,
    );
    const b = await post(s.url, { headers: { ...TRANSLATE, "x-request-id": id }, body: taggedBody("dup-b") });
    assert.equal(b.status, 200);
    assert.equal((await a).status, 200);
    const lines = await linesFor(s, id, 2);
    const byPool = Object.fromEntries(lines.map((l) => [l.pool, l.attempt_list]));
    assert.deepEqual(
      (byPool["qwen-small"] as { backend: string }[]).map((x) => x.backend.length > 0),
      [true],
      `B lists only its own attempt: ${JSON.stringify(lines)}`,
    );
    assert.deepEqual(
      (byPool["deepseek-flash"] as { outcome: string }[]).map((x) => x.outcome),
      ["http_503", "http_503", "http_200"],
    );
  });

  it("a stream that dies after its 200 is an error: outcome, attempt outcome, metrics and /status", async () => {
    const s = stack();
    await Promise.all(POOLS.qwenLarge.map((n) => s.sims.byName(n).setMode({ dieAfterChunks: 3 })));
    const id = randomUUID();
    const before = await metric(s, "switchyard_requests_total", ['outcome="upstream_reset_after_response"']);
    const r = await post(s.url, {
      headers: { ...AI_BOT, "x-request-id": id },
      body: taggedBody("die", { stream: true }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.complete, false);
    const [line] = await linesFor(s, id, 1);
    assert.equal(line?.outcome, "upstream_reset_after_response");
    const attempts = line?.attempt_list as { outcome: string; backend: string }[];
    assert.equal(attempts.at(-1)?.outcome, "upstream_reset_after_response");
    const backend = attempts.at(-1)?.backend as string;
    assert.equal(
      await metric(s, "switchyard_requests_total", ['outcome="upstream_reset_after_response"']),
      before + 1,
    );
    assert.ok(
      (await metric(s, "switchyard_attempt_failures_total", [
        `backend="${backend}"`,
        'reason="upstream_reset_after_response"',
      ])) >= 1,
    );
    const status = (await (await fetch(`${s.sidecarUrl}/status`)).json()) as {
      pools: { backends: { address: string; recent: { error_rate: number } }[] }[];
    };
    const recent = status.pools.flatMap((p) => p.backends).find((b) => b.address === backend)?.recent;
    assert.ok((recent?.error_rate ?? 0) > 0, JSON.stringify(recent));
  });
});

describe("hardening: reloads", () => {
  const stack = useStack(defaultStack);
  const reloads = (s: Stack, result: string) =>
    metric(s, "switchyard_policy_reloads_total", [`result="${result}"`]);
  const waitReloads = (s: Stack, result: string, n: number) =>
    waitUntil(
      `${n} ${result} reloads`,
      () => reloads(s, result),
      (v) => v >= n,
    );

  it("saves by rename (mv new policy.yml) reload every time, not just the first", async () => {
    const s = stack();
    const original = await readFile(s.policyFile, "utf8");
    for (let i = 1; i <= 3; i++) {
      const tmp = join(s.dir, `policy.${i}.tmp`);
      await writeFile(tmp, original.replace(/per_try_timeout_ms: \d+/, `per_try_timeout_ms: ${20000 + i}`));
      await rename(tmp, s.policyFile);
      await waitReloads(s, "applied", i);
    }
  });

  it("a reload whose Envoy files cannot be written is rejected; the running policy keeps serving", async () => {
    const s = stack();
    const xds = join(s.dir, "xds");
    const rejected = await reloads(s, "rejected");
    const kept = join(s.dir, "xds-kept");
    await rename(xds, kept);
    await writeFile(xds, "not a directory"); // mkdir and every write under it now fail
    try {
      const text = await readFile(s.policyFile, "utf8");
      await writeFile(s.policyFile, text.replace(/per_try_timeout_ms: \d+/, "per_try_timeout_ms: 29999"));
      await waitReloads(s, "rejected", rejected + 1);
      const r = await post(s.url, { headers: TRANSLATE, body: taggedBody("after-bad-reload") });
      assert.equal(r.status, 200);
      assert.match(s.logs(), /reload failed, keeping policy/);
    } finally {
      await rm(xds, { force: true });
      await rename(kept, xds).catch(() => mkdir(xds, { recursive: true }));
    }
  });
});

describe("hardening: routing headers count only from trusted callers", () => {
  // Loopback is not in the trusted range, so only the secret makes this test's client trusted.
  process.env.SWY_E2E_CALLER_SECRET = "e2e-secret-value";
  const stack = useStack(async () => ({
    policy: `${await readFixture("e2e-policy.yml")}
trust:
  sources: [10.0.0.0/8]
  secret: { header: x-caller-key, env: SWY_E2E_CALLER_SECRET }
`,
    sims: e2eFleet(),
  }));

  it("an untrusted caller asking for ai_bot/paid gets the default class; counted and logged", async () => {
    const s = stack();
    const id = randomUUID();
    const before = await metric(s, "switchyard_untrusted_requests_total", []);
    const r = await post(s.url, {
      headers: { ...AI_BOT, "X-Discourse-AI-Tier": "paid", "x-request-id": id },
      body: taggedBody("untrusted"),
    });
    assert.equal(r.status, 200);
    const [line] = await linesFor(s, id, 1);
    assert.equal(line?.trusted, false);
    assert.equal(line?.feature, null);
    assert.notEqual(line?.class, "frontier");
    assert.ok(((line?.reasons ?? []) as string[]).includes("trust:untrusted"));
    assert.equal(await metric(s, "switchyard_untrusted_requests_total", []), before + 1);
  });

  it("with the secret header the same request is trusted, and the secret never reaches the backend", async () => {
    const s = stack();
    const id = randomUUID();
    const r = await post(s.url, {
      headers: { ...AI_BOT, "x-caller-key": "e2e-secret-value", "x-request-id": id },
      body: taggedBody("trusted"),
    });
    assert.equal(r.status, 200);
    const [line] = await linesFor(s, id, 1);
    assert.equal(line?.trusted, true);
    assert.equal(line?.class, "frontier");
    const got = s.sims.backends.flatMap((b) => b.received);
    assert.equal(got.length, 1);
    assert.equal(JSON.stringify(got[0]).includes("e2e-secret-value"), false, JSON.stringify(got[0]));
    assert.equal(s.logs().includes("e2e-secret-value"), false, "the secret is not logged");
  });

  it("a wrong secret is not trusted", async () => {
    const s = stack();
    const id = randomUUID();
    await post(s.url, {
      headers: { ...AI_BOT, "x-caller-key": "guess", "x-request-id": id },
      body: taggedBody("wrong-secret"),
    });
    const [line] = await linesFor(s, id, 1);
    assert.equal(line?.trusted, false);
  });
});

/** Sends raw bytes, returns what came back once the server closed (or 3 s passed). */
function rawExchange(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname);
    let got = "";
    sock.on("data", (d) => {
      got += d.toString("latin1");
    });
    sock.on("close", () => resolve(got));
    sock.on("error", () => resolve(got));
    sock.write(text);
    sock.setTimeout(3000, () => sock.destroy());
  });
}

describe("hardening: requests Envoy's HTTP codec refuses are logged with a code", () => {
  const stack = useStack(defaultStack);
  const cases: [string, string, number, string][] = [
    [
      "an unknown method",
      "FOO /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n",
      400,
      "invalid_http_request",
    ],
    [
      "a control character in a header",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\n{}",
      400,
      "invalid_http_request",
    ],
    [
      "oversized headers",
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`,
      431,
      "request_headers_too_large",
    ],
    ["HTTP/1.0", "POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\n\r\n", 426, "upgrade_required"],
    ["a * target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"],
  ];
  for (const [name, text, status, code] of cases) {
    // Envoy 1.40 answers these in its codec, past local_reply_config: plain text (FINDINGS §14).
    it(`${name} → ${status}, and a log line with error ${code}`, async () => {
      const s = stack();
      const seen = s.switchyard.jsonLines().length;
      const reply = await rawExchange(s.url, text);
      assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `), reply.slice(0, 200));
      const lines = await waitUntil(
        `a log line for the ${status}`,
        () =>
          s.switchyard
            .jsonLines()
            .slice(seen)
            .filter((l) => l.status === status),
        (found) => found.length > 0,
      );
      assert.equal(lines[0]?.error, code);
    });
  }
});
