// An open SSE response holds no ext_proc stream: the router-level filter's stream ends once the
// body is answered and the upstream filter's once the attempt's body is adapted, so 500 slow
// streams in flight leave 0 gRPC streams open, on switchyard's side and on Envoy's.
import assert from "node:assert/strict";
import { setMaxListeners } from "node:events";
import { Agent } from "node:http";
import { describe, it } from "node:test";
import { waitFor } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import {
  envoyStats,
  POOLS,
  policyWith,
  post,
  type RawResponse,
  TRANSLATE,
  taggedBody,
  useStack,
} from "./util.js";

const STREAMS = 500;
const RAMP = 50;
const GRPC_ACTIVE = "cluster.switchyard_grpc.upstream_rq_active";

describe("open SSE responses and ext_proc streams", () => {
  // A long per-try timeout: on a loaded machine a request can take more than the fixture's 3 s to
  // its first byte, and a retried or timed-out request is not what this test is about.
  const stack = useStack(async () => ({
    policy: await policyWith({ retry: { per_try_timeout_ms: 30_000 } }),
    sims: e2eFleet(),
  }));

  it(`${STREAMS} open streaming responses hold 0 ext_proc streams (switchyard and Envoy agree)`, async (t) => {
    const s = stack();
    // 30 tokens at 1/s: every stream would run 30 s; they are aborted once the check is done.
    for (const n of POOLS.qwenSmall) s.sims.byName(n).setTiming({ ttftMs: 50, tokensPerSec: 1, tokens: 30 });
    // Envoy's gauge counts every open stream on the ext_proc gRPC cluster: compare with the idle
    // value, so a long-lived stream that is not per request would not count.
    const idle = (await envoyStats(s, "switchyard_grpc.upstream_rq_active$"))[GRPC_ACTIVE];
    assert.notEqual(idle, undefined, "Envoy reports the gRPC cluster's active requests");

    const agent = new Agent({ keepAlive: false, maxSockets: STREAMS + 100 });
    const abort = new AbortController();
    setMaxListeners(STREAMS + 10, abort.signal);
    let firstBytes = 0;
    const settled: RawResponse[] = [];
    // Resolves at the next first byte or response end.
    let wake: () => void = () => {};
    const progress = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      });
    const started = Date.now();
    const responses: Promise<RawResponse>[] = [];
    try {
      for (let i = 0; i < STREAMS && settled.length === 0; i++) {
        // At most RAMP requests wait for their first byte at a time: 500 arriving at once queue up
        // in the sidecar (2 cores here) past Envoy's 2 s ext_proc message_timeout, a 504.
        while (i - firstBytes >= RAMP && settled.length === 0) await progress();
        responses.push(
          post(s.url, {
            headers: TRANSLATE,
            body: taggedBody(`open-${i}`, { stream: true }),
            agent,
            signal: abort.signal,
            onFirstByte: (status) => {
              if (status === 200) firstBytes++;
              wake();
            },
          }).then((r) => {
            settled.push(r);
            wake();
            return r;
          }),
        );
      }
      const ended = () =>
        settled.map((r) => `${r.status ?? r.error?.message}: ${r.body.toString().slice(0, 200)}`).join("\n");
      await waitFor(
        `first SSE bytes of all ${STREAMS} streams`,
        async () => firstBytes === STREAMS || settled.length > 0,
        30_000,
      ).catch((err: Error) => assert.fail(`${err.message}: ${firstBytes} of ${STREAMS}\n${ended()}`));
      assert.equal(settled.length, 0, `responses ended before the check:\n${ended()}`);
      t.diagnostic(`${STREAMS} streams sent their first bytes after ${Date.now() - started} ms`);

      const [streams, gauges, extProc] = await Promise.all([
        (await fetch(`${s.sidecarUrl}/debug/streams`)).json() as Promise<{
          router: number;
          upstream: number;
        }>,
        envoyStats(s, "switchyard_grpc.upstream_rq_active$"),
        envoyStats(s, "ext_proc.streams_(started|closed)$"),
      ]);
      const open = POOLS.qwenSmall.reduce((n, name) => n + s.sims.byName(name).stats().open, 0);
      t.diagnostic(
        `switchyard open streams ${JSON.stringify(streams)}, ${GRPC_ACTIVE} ${gauges[GRPC_ACTIVE]} (idle ${idle}), sims open ${open}`,
      );
      assert.ok(open >= STREAMS, `the backends still stream ${open} responses`);
      assert.deepEqual(streams, { router: 0, upstream: 0 });
      assert.equal(gauges[GRPC_ACTIVE], idle, "Envoy holds no ext_proc stream for an open response");
      // The router filter (http.llm.*) closed every stream it started; the upstream filter
      // (router upstream_http_filters, http.llmext_proc.upstream.*) started none: every attempt went to the pool the router had
      // already rewritten the body for, and its matcher skipped it.
      const opened = extProc["http.llm.ext_proc.streams_started"] ?? 0;
      assert.ok(opened >= STREAMS, `http.llm.ext_proc.streams_started ${opened}`);
      assert.equal(extProc["http.llm.ext_proc.streams_closed"], opened, "every started stream is closed");
      assert.equal(extProc["http.llmext_proc.upstream.streams_started"] ?? 0, 0);
      assert.equal(settled.length, 0, `every client response was still open during the check:\n${ended()}`);
    } finally {
      abort.abort();
      agent.destroy();
    }
    const ended = await Promise.all(responses);
    assert.equal(ended.filter((r) => r.status !== 200).length, 0, "every stream had started with 200");
    assert.equal(
      ended.filter((r) => r.complete).length,
      0,
      "every stream was cut by the abort, none had finished",
    );

    const stats = await envoyStats(s, "ext_proc");
    const interesting = Object.entries(stats).filter(([, v]) => v > 0);
    for (const [name, value] of interesting) t.diagnostic(`${name}: ${value}`);
    // The server, not Envoy, ended the streams: Envoy counts those as half-closed by the server.
    assert.ok(
      (stats["http.llm.ext_proc.server_half_closed"] ?? 0) >= STREAMS,
      "router streams ended by switchyard",
    );
    t.diagnostic(`took ${Date.now() - started} ms`);
  });
});
