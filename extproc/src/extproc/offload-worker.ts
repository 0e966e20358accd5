// The worker side of offload.ts: the router's own processing for one big body, off the main
// thread. Policies arrive as text once per hash and are parsed here with this process's
// environment (trust.secret), so a decision here equals one on the main thread; each job
// carries the main thread's FleetView, so the live strategies and breakers apply here too.
import { parentPort } from "node:worker_threads";
import type { Policy } from "../policy/compile.js";
import { parsePolicy } from "../policy/load.js";
import { NO_FLEET } from "../routing/fleet-view.js";
import type { ProcessingRequest } from "./messages.js";
import type { OffloadJob, OffloadResult } from "./offload.js";
import { RouterProcessor } from "./router-processor.js";

const policies = new Map<string, Policy>();

const asBuffer = (u8: Uint8Array) =>
  Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

/** Structured clone turns Buffers into Uint8Arrays; the processor reads Buffers (bodies, raw header values). */
function revive(req: ProcessingRequest): ProcessingRequest {
  const body = req.request_body?.body;
  if (body) req.request_body = { ...req.request_body, body: asBuffer(body) };
  for (const h of req.request_headers?.headers?.headers ?? [])
    if (h.raw_value) h.raw_value = asBuffer(h.raw_value);
  return req;
}

function handle(job: OffloadJob): OffloadResult {
  if (job.policyText !== undefined && !policies.has(job.hash)) {
    const loaded = parsePolicy(job.policyText);
    if (!loaded.ok) return { id: job.id, error: `policy ${job.hash} does not load in the body worker` };
    policies.set(job.hash, loaded.policy);
    // Keep a few generations: a reload sends the new one, requests of the old one may still come.
    while (policies.size > 4) policies.delete(policies.keys().next().value as string);
  }
  const policy = policies.get(job.hash);
  if (policy === undefined) return { id: job.id, error: `policy ${job.hash} unknown to the body worker` };
  let routed: string | undefined;
  const view = job.view ?? NO_FLEET;
  const p = new RouterProcessor(policy, Math.random, undefined, {
    view: () => view,
    routed: (pool) => {
      routed = pool;
    },
  });
  const headers = revive(job.headers);
  if (headers.request_headers) p.onRequestHeaders(headers.request_headers, headers);
  const body = revive(job.body);
  const step = p.onRequestBody(body.request_body ?? {});
  if (step instanceof Promise) return { id: job.id, error: "the body worker cannot wait on a classifier" };
  return { id: job.id, step, routed };
}

parentPort?.on("message", (job: OffloadJob) => {
  let result: OffloadResult;
  try {
    result = handle(job);
  } catch (err) {
    result = { id: job.id, error: (err as Error).stack ?? String(err) };
  }
  parentPort?.postMessage(result);
});
