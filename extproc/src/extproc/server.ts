// The gRPC side: one ext_proc stream loop shared by the router-level and upstream-level
// processors (the filter says which it is in the stream's initial metadata). The loop
// dispatches on the message type; a processor only says what it does per phase.
import * as grpc from "@grpc/grpc-js";
import { clientError } from "../errors.js";
import type { PolicyHolder } from "../policy/holder.js";
import { PHASE_METADATA_KEY, type Phase } from "../vocab/names.js";
import { immediateError, type ProcessingRequest, type ProcessingResponse } from "./messages.js";
import type { Processor, Step } from "./processor.js";
import { loadEnvoyServices } from "./protos.js";
import { RouterProcessor } from "./router-processor.js";
import { UpstreamProcessor } from "./upstream-processor.js";

export interface ExtProcHooks {
  /** Time spent handling one message, by phase. */
  onProcessed?: (phase: Phase, seconds: number) => void;
  /** Streams currently open, by phase (for tests and /status). */
  open: { router: number; upstream: number };
  /** An internal fault (a bug, never bad input): reported once, with the request id. */
  onFault?: (phase: Phase, requestId: string | undefined, err: Error) => void;
}

export function newHooks(): ExtProcHooks {
  return { open: { router: 0, upstream: 0 } };
}

function dispatch(processor: Processor, req: ProcessingRequest): Step | undefined {
  if (req.request_headers) return processor.onRequestHeaders(req.request_headers, req);
  if (req.request_body) return processor.onRequestBody(req.request_body, req);
  return undefined;
}

/** The one answer to an internal fault: a JSON 500 the client can read, and the stream ends. */
function faultStep(): Step {
  const error = clientError("internal_error", "switchyard could not process the request (internal error)");
  return { response: immediateError(error), done: true };
}

export function extProcHandler(holder: PolicyHolder, hooks: ExtProcHooks) {
  return (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    const phase: Phase = call.metadata.get(PHASE_METADATA_KEY)[0] === "upstream" ? "upstream" : "router";
    const policy = holder.policy;
    const processor: Processor =
      phase === "upstream" ? new UpstreamProcessor(policy, holder.addresses) : new RouterProcessor(policy);
    hooks.open[phase]++;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      hooks.open[phase]--;
    };
    call.on("data", (req: ProcessingRequest) => {
      if (closed) return;
      let step: Step | undefined;
      const started = process.hrtime.bigint();
      try {
        step = dispatch(processor, req);
        hooks.onProcessed?.(phase, Number(process.hrtime.bigint() - started) / 1e9);
      } catch (err) {
        hooks.onFault?.(phase, processor.requestId, err as Error);
        step = faultStep();
      }
      if (step === undefined) return;
      call.write(step.response);
      if (step.done) {
        call.end();
        close();
      }
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

export function newGrpcServer(): grpc.Server {
  return new grpc.Server({
    "grpc.max_receive_message_length": 512 * 1024 * 1024,
    "grpc.max_send_message_length": 512 * 1024 * 1024,
    "grpc.keepalive_permit_without_calls": 1,
  });
}

export function addExtProc(server: grpc.Server, holder: PolicyHolder, hooks: ExtProcHooks): void {
  const { extProc } = loadEnvoyServices();
  server.addService(extProc, { Process: extProcHandler(holder, hooks) });
}
