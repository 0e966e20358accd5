// The gRPC side: one ext_proc stream loop shared by the router-level and upstream-level
// processors (the filter says which it is in the stream's initial metadata). The loop
// dispatches on the message type; a processor only says what it does per phase.
import * as grpc from "@grpc/grpc-js";
import type { Classifier } from "../classify/classifier.js";
import { clientError } from "../errors.js";
import type { Policy } from "../policy/compile.js";
import type { PolicyHolder } from "../policy/holder.js";
import { PHASE_METADATA_KEY, type Phase } from "../vocab/names.js";
import { immediateError, type ProcessingRequest, type ProcessingResponse } from "./messages.js";
import type { BodyOffload } from "./offload.js";
import type { Processor, Step } from "./processor.js";
import { loadEnvoyServices } from "./protos.js";
import { type FleetSource, RouterProcessor } from "./router-processor.js";
import { UpstreamProcessor } from "./upstream-processor.js";

export interface ExtProcHooks {
  /** Time spent handling one message, by phase. */
  onProcessed?: (phase: Phase, seconds: number) => void;
  /** Streams currently open, by phase (for tests and /status). */
  open: { router: number; upstream: number };
  /** An internal fault (a bug, never bad input): reported once, with the request id. */
  onFault?: (phase: Phase, requestId: string | undefined, err: Error) => void;
  /** Big router bodies go to a worker thread (offload.ts); absent: everything on this thread. */
  offload?: BodyOffload;
  /** The live fleet the router's decisions read (absent: weights only). */
  fleet?: FleetSource;
}

export function newHooks(): ExtProcHooks {
  return { open: { router: 0, upstream: 0 } };
}

function dispatch(processor: Processor, req: ProcessingRequest): Step | Promise<Step> | undefined {
  if (req.request_headers) return processor.onRequestHeaders(req.request_headers, req);
  if (req.request_body) return processor.onRequestBody(req.request_body, req);
  return undefined;
}

/** The one answer to an internal fault: a JSON 500 the client can read, and the stream ends. */
function faultStep(): Step {
  const error = clientError("internal_error", "switchyard could not process the request (internal error)");
  return { response: immediateError(error), done: true };
}

/** The classifier of a policy generation (classify/classifiers.ts), if it has one. */
export type ClassifierFor = (policy: Policy) => Classifier | undefined;

export function extProcHandler(holder: PolicyHolder, hooks: ExtProcHooks, classifierFor?: ClassifierFor) {
  return (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    const phase: Phase = call.metadata.get(PHASE_METADATA_KEY)[0] === "upstream" ? "upstream" : "router";
    const policy = holder.policy;
    const processor: Processor =
      phase === "upstream"
        ? new UpstreamProcessor(policy, holder.addresses)
        : new RouterProcessor(policy, Math.random, classifierFor?.(policy), hooks.fleet);
    hooks.open[phase]++;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      hooks.open[phase]--;
    };
    const write = (step: Step | undefined) => {
      if (step === undefined || closed) return;
      call.write(step.response);
      if (step.done) {
        call.end();
        close();
      }
    };
    // The one fault path, for a throw and for a rejected answer alike.
    const fault = (err: unknown) => {
      hooks.onFault?.(phase, processor.requestId, err as Error);
      write(faultStep());
    };
    /** One message; a promise only when the processor answers later (the classifier's call). */
    const handle = (req: ProcessingRequest): Promise<void> | undefined => {
      const started = process.hrtime.bigint();
      const processed = () => hooks.onProcessed?.(phase, Number(process.hrtime.bigint() - started) / 1e9);
      let out: Step | Promise<Step> | undefined;
      try {
        out = offloaded(req) ?? dispatch(processor, req);
      } catch (err) {
        fault(err);
        return undefined;
      }
      if (!(out instanceof Promise)) {
        processed();
        write(out);
        return undefined;
      }
      return out.then((step) => {
        processed();
        write(step);
      }, fault);
    };
    // A big router body is decided in the worker, from the headers message and this one.
    let headersMsg: ProcessingRequest | undefined;
    const offloaded = (req: ProcessingRequest): Step | Promise<Step> | undefined => {
      if (phase !== "router" || hooks.offload === undefined) return undefined;
      if (req.request_headers) headersMsg = req;
      const bytes = req.request_body?.body?.length;
      if (bytes === undefined || headersMsg === undefined || !hooks.offload.wants(policy, bytes))
        return undefined;
      return hooks.offload.run(policy, headersMsg, req, hooks.fleet);
    };
    // Messages are answered in order: one that arrives while an answer is pending waits for it.
    let pending: Promise<void> | undefined;
    const track = (p: Promise<void> | undefined) => {
      pending = p;
      const clear = () => {
        if (pending === p) pending = undefined;
      };
      p?.then(clear, clear);
    };
    call.on("data", (req: ProcessingRequest) => {
      if (closed) return;
      if (pending === undefined) track(handle(req));
      else track(pending.then(() => (closed ? undefined : handle(req))));
    });
    call.on("end", () => {
      if (!closed) call.end();
      close();
    });
    call.on("error", close);
    call.on("cancelled", close);
    call.on("close", close);
  };
}

/** `interceptors` run for every call before its handler (the caller-token check). */
export function newGrpcServer(interceptors: grpc.ServerInterceptor[] = []): grpc.Server {
  return new grpc.Server({
    "grpc.max_receive_message_length": 512 * 1024 * 1024,
    "grpc.max_send_message_length": 512 * 1024 * 1024,
    "grpc.keepalive_permit_without_calls": 1,
    interceptors,
  });
}

export function addExtProc(
  server: grpc.Server,
  holder: PolicyHolder,
  hooks: ExtProcHooks,
  classifierFor?: ClassifierFor,
): void {
  const { extProc } = loadEnvoyServices();
  server.addService(extProc, { Process: extProcHandler(holder, hooks, classifierFor) });
}
