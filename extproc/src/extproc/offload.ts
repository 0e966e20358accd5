// Big request bodies off the event loop. A 16 MiB body costs JSON.parse ~100 ms; on the one
// thread that also answers every small request's ext_proc messages, four clients sending such
// bodies pushed small requests' p50 from ~100 ms to ~700 ms. Bodies at or above
// `limits.offload_body_bytes` are decided in a worker thread (the same RouterProcessor, so the
// same answer), one at a time per worker; past `limits.max_queued_body_bytes` waiting, a new
// big body is shed at once with an OpenAI-shaped 503 and Retry-After, long before Envoy's
// message timeout would turn the wait into a 504. The worker decides on the main thread's
// FleetView of that moment, and the pool it routes to first is counted back on the main thread.
import { Worker } from "node:worker_threads";
import { clientError } from "../errors.js";
import type { Policy } from "../policy/compile.js";
import type { FleetView } from "../routing/fleet-view.js";
import { immediateError, type ProcessingRequest } from "./messages.js";
import type { Step } from "./processor.js";
import type { FleetSource } from "./router-processor.js";

/** What the worker is asked: the policy (by text, parsed once per hash) and the two messages. */
export interface OffloadJob {
  id: number;
  hash: string;
  policyText: string | undefined;
  headers: ProcessingRequest;
  body: ProcessingRequest;
  /** The live fleet as the main thread sees it now (structured clone keeps the Map). */
  view: FleetView | undefined;
}

export interface OffloadResult {
  id: number;
  step?: Step;
  error?: string;
  /** The pool the request goes to first: the main thread counts it (half-open probes). */
  routed?: string;
}

export const RETRY_AFTER_S = 1;

/** The 503 a shed request gets: the client may retry after a second. */
export function shedStep(queuedBytes: number): Step {
  const error = clientError(
    "overloaded",
    `switchyard is busy with ${Math.round(queuedBytes / 1048576)} MiB of large request bodies; retry after ${RETRY_AFTER_S} s`,
  );
  return { response: immediateError(error, { "retry-after": String(RETRY_AFTER_S) }), done: true };
}

interface Pending {
  resolve: (s: Step) => void;
  reject: (e: Error) => void;
  bytes: number;
  fleet: FleetSource | undefined;
}

export class BodyOffload {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly sentHashes = new Set<string>();
  private nextId = 0;
  /** Body bytes handed to the worker and not answered yet. */
  queuedBytes = 0;
  /** Bodies shed (answered 503) since start. */
  shed = 0;

  constructor(private readonly onShed: () => void = () => {}) {}

  /** Whether this body goes to the worker under this policy. */
  wants(policy: Policy, bodyBytes: number): boolean {
    // A policy with a classifier answers through its (main-thread) cache and breaker.
    return bodyBytes >= policy.doc.limits.offload_body_bytes && policy.doc.classifier === undefined;
  }

  /** The router's answer for these messages, from the worker; or at once a 503 when too much waits. */
  run(
    policy: Policy,
    headers: ProcessingRequest,
    body: ProcessingRequest,
    fleet?: FleetSource,
  ): Step | Promise<Step> {
    const bytes = body.request_body?.body?.length ?? 0;
    if (this.queuedBytes > 0 && this.queuedBytes + bytes > policy.doc.limits.max_queued_body_bytes) {
      this.shed++;
      this.onShed();
      return shedStep(this.queuedBytes);
    }
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const first = !this.sentHashes.has(policy.hash);
    this.sentHashes.add(policy.hash);
    const job: OffloadJob = {
      id,
      hash: policy.hash,
      policyText: first ? policy.source : undefined,
      headers,
      body,
      view: fleet?.view(),
    };
    this.queuedBytes += bytes;
    return new Promise<Step>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, bytes, fleet });
      worker.postMessage(job);
    });
  }

  close(): Promise<number> | undefined {
    const w = this.worker;
    this.worker = undefined;
    return w?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL("./offload-worker.js", import.meta.url));
    w.unref();
    w.on("message", (r: OffloadResult) => this.settle(r));
    // A dead worker fails what it held (each gets the one fault path); the next job starts a new one.
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = undefined;
      this.sentHashes.clear();
      for (const [id] of this.pending) this.settle({ id, error: err.message });
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`body worker exited (${code})`)));
    this.worker = w;
    return w;
  }

  private settle(r: OffloadResult): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    this.queuedBytes -= p.bytes;
    if (r.routed !== undefined) p.fleet?.routed(r.routed);
    if (r.step) p.resolve(r.step);
    else p.reject(new Error(r.error ?? "body worker gave no answer"));
  }
}
