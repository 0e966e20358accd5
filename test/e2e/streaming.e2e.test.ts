// SSE through a real Envoy: the client gets exactly the bytes the backend sent, as they are sent,
// and a stream longer than every default Envoy timeout arrives whole.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import { POOLS, post, sseData, TRANSLATE, useStack } from "./util.js";

const QWEN_SMALL_MODEL = "Qwen/Qwen3-VL-8B-Instruct";

const streamBody = {
  model: QWEN_SMALL_MODEL,
  messages: [{ role: "user", content: "count to twenty" }],
  stream: true,
  stream_options: { include_usage: true },
};

/**
 * The sim stamps `created` (whole seconds) when a response starts: the one byte range in which
 * two answers to the same request may differ, when they straddle a second.
 */
const CREATED = /"created":(\d+)/g;
const createdStamps = (body: Buffer) =>
  [...body.toString("latin1").matchAll(CREATED)].map((m) => Number(m[1]));
const withoutCreated = (body: Buffer) => body.toString("latin1").replace(CREATED, '"created":0');

/** Seconds in an Envoy duration string ("300s", "0.5s"); undefined when absent. */
function seconds(d: unknown): number | undefined {
  if (d === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(String(d));
  if (!m) throw new Error(`not a duration: ${String(d)}`);
  return Number(m[1]);
}

describe("streaming through Envoy", () => {
  const stack = useStack(async () => ({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() }));

  it("the client gets the backend's SSE bytes unchanged, chunk by chunk as they are produced", async () => {
    const s = stack();
    // 20 tokens at 50/s: a stream of about 400 ms.
    for (const n of POOLS.qwenSmall) s.sims.byName(n).setTiming({ ttftMs: 20, tokensPerSec: 50, tokens: 20 });
    // The sim derives the chunk id from x-request-id (Envoy keeps a client's).
    const id = randomUUID();
    const headers = { "x-request-id": id };
    const [direct, proxied] = await Promise.all([
      post(s.sims.byName("qs1").url, { headers, body: streamBody }),
      post(s.url, { headers: { ...headers, ...TRANSLATE }, body: streamBody }),
    ]);
    assert.equal(direct.status, 200, direct.body.toString());
    assert.equal(proxied.status, 200, `${proxied.body}\n${s.logs()}`);
    assert.ok(direct.complete && proxied.complete, "both streams ended cleanly");
    assert.equal(proxied.headers["content-type"], direct.headers["content-type"]);
    assert.match(String(proxied.headers["content-type"]), /^text\/event-stream/);
    assert.ok(direct.body.includes(`chatcmpl-${id}`), "the sim used the request id");
    // Byte for byte, apart from the sim's own clock stamp.
    const [directAt, proxiedAt] = [createdStamps(direct.body), createdStamps(proxied.body)];
    assert.equal(new Set(directAt).size, 1, `one created stamp per response: ${directAt}`);
    assert.equal(new Set(proxiedAt).size, 1, `one created stamp per response: ${proxiedAt}`);
    assert.ok(
      Math.abs((proxiedAt[0] ?? 0) - (directAt[0] ?? 0)) <= 1,
      `stamps ${directAt[0]}, ${proxiedAt[0]}`,
    );
    assert.equal(proxied.body.length, direct.body.length);
    assert.equal(withoutCreated(proxied.body), withoutCreated(direct.body));
    const { events, rest } = sseData(proxied.body.toString());
    assert.equal(rest, "");
    assert.equal(events.length, 1 + 20 + 1 + 1, "role, 20 tokens, usage, [DONE]");
    assert.equal(events.at(-1), "[DONE]");
    // Not buffered: bytes kept arriving over the life of the stream.
    const first = proxied.chunks[0]?.atMs ?? 0;
    const last = proxied.chunks.at(-1)?.atMs ?? 0;
    assert.ok(proxied.chunks.length >= 5, `${proxied.chunks.length} chunks`);
    assert.ok(last - first >= 250, `first chunk at ${first} ms, last at ${last} ms`);
  });

  // 300 s streams rely on the same settings as this 20 s one: route timeout 0 (the default 15 s
  // would cut it), the HCM stream_idle_timeout of 300 s between bytes, and per_try_idle_timeout /
  // route idle_timeout of 300 s. The configuration test below checks those values.
  it("a 20 s stream (40 tokens at 2/s) outlives the 15 s default route timeout and ends with [DONE]", async (t) => {
    const s = stack();
    for (const n of POOLS.qwenSmall) s.sims.byName(n).setTiming({ ttftMs: 20, tokensPerSec: 2, tokens: 40 });
    const r = await post(s.url, { headers: TRANSLATE, body: { ...streamBody, stream_options: undefined } });
    t.diagnostic(`stream took ${(r.elapsedMs / 1000).toFixed(1)} s in ${r.chunks.length} chunks`);
    assert.equal(r.status, 200, `${r.body}\n${s.logs()}`);
    assert.equal(r.error, undefined, `stream broke after ${r.elapsedMs} ms: ${r.error?.message}`);
    assert.ok(r.complete);
    const { events, rest } = sseData(r.body.toString());
    assert.equal(rest, "");
    assert.equal(events.length, 1 + 40 + 1, "role, 40 tokens, [DONE]");
    assert.equal(events.at(-1), "[DONE]");
    assert.ok(r.elapsedMs > 19_000, `took ${r.elapsedMs} ms`);
  });

  it("the rendered config has no timeout that would cut a 300 s stream", async () => {
    const s = stack();
    const rds = JSON.parse(await readFile(join(s.dir, "xds", "rds.json"), "utf8")) as {
      resources: { virtual_hosts: { routes: { name: string; route?: Record<string, unknown> }[] }[] }[];
    };
    const routes = rds.resources.flatMap((rc) => rc.virtual_hosts.flatMap((vh) => vh.routes));
    const proxied = routes.filter((r) => r.route !== undefined);
    assert.deepEqual(
      proxied.map((r) => r.name),
      ["/v1/chat/completions", "/v1/completions"],
    );
    for (const r of proxied) {
      const route = r.route as Record<string, unknown>;
      const retry = route.retry_policy as Record<string, unknown>;
      assert.equal(route.timeout, "0s", `${r.name}: route timeout disabled`);
      assert.equal(route.max_stream_duration, undefined, `${r.name}: no max_stream_duration`);
      assert.ok((seconds(route.idle_timeout) ?? 300) >= 300, `${r.name}: idle_timeout ${route.idle_timeout}`);
      assert.ok((seconds(retry.per_try_idle_timeout) ?? 0) >= 300, `${r.name}: per_try_idle_timeout`);
      assert.equal(seconds(retry.per_try_timeout), 3, `${r.name}: per_try_timeout from the policy (3000 ms)`);
    }
    const bootstrap = JSON.parse(await readFile(join(s.dir, "envoy.json"), "utf8")) as {
      static_resources: {
        listeners: { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }[];
      };
    };
    const hcms = bootstrap.static_resources.listeners
      .flatMap((l) => l.filter_chains.flatMap((fc) => fc.filters))
      .map((f) => f.typed_config)
      .filter((c) => String(c["@type"]).endsWith("HttpConnectionManager"));
    assert.equal(hcms.length, 1);
    const hcm = hcms[0] as Record<string, unknown>;
    assert.ok(
      (seconds(hcm.stream_idle_timeout) ?? 0) >= 300,
      `stream_idle_timeout ${hcm.stream_idle_timeout}`,
    );
    assert.equal(hcm.request_timeout, "0s");
    assert.equal(
      (hcm.common_http_protocol_options as Record<string, unknown> | undefined)?.max_stream_duration,
      undefined,
    );
    // And Envoy loaded those routes, not some other file.
    const dump = await (await fetch(`${s.adminUrl}/config_dump?resource=dynamic_route_configs`)).text();
    const loaded = JSON.parse(dump) as { configs: { route_config: (typeof rds.resources)[number] }[] };
    const loadedRoutes = loaded.configs.flatMap((c) =>
      c.route_config.virtual_hosts.flatMap((vh) => vh.routes),
    );
    for (const r of loadedRoutes.filter((x) => x.route !== undefined)) {
      assert.equal((r.route as Record<string, unknown>).timeout, "0s", `${r.name} as loaded`);
    }
  });
});
