// The gRPC side: one ext_proc stream loop shared by the router-level and upstream-level
// processors (the filter says which it is in the stream's initial metadata).
import * as grpc from "@grpc/grpc-js";
import type { Policy } from "../policy/compile.js";
import { PHASE_METADATA_KEY, type Phase } from "./header-names.js";
import type { ProcessingRequest, ProcessingResponse } from "./messages.js";
import { loadEnvoyServices } from "./protos.js";
import { RouterProcessor, type Step } from "./router-processor.js";
import { poolsByAddress, UpstreamProcessor } from "./upstream-processor.js";

export interface Processor {
  handle(req: ProcessingRequest): Step | undefined;
}

/** The live policy; a reload swaps it, streams already open keep the one they started with. */
export class PolicyHolder {
  private byAddress: Map<string, string>;
  constructor(private current: Policy) {
    this.byAddress = poolsByAddress(current);
  }
  get policy(): Policy {
    return this.current;
  }
  get addresses(): ReadonlyMap<string, string> {
    return this.byAddress;
  }
  swap(next: Policy): void {
    this.current = next;
    this.byAddress = poolsByAddress(next);
  }
}

export interface ExtProcHooks {
  /** Time spent handling one message, by phase. */
  onProcessed?: (phase: Phase, seconds: number) => void;
  /** Streams currently open, by phase (for tests and /status). */
  open: { router: number; upstream: number };
  onError?: (err: Error) => void;
}

export function newHooks(): ExtProcHooks {
  return { open: { router: 0, upstream: 0 } };
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
        step = processor.handle(req);
        hooks.onProcessed?.(phase, Number(process.hrtime.bigint() - started) / 1e9);
      } catch (err) {
        hooks.onError?.(err as Error);
        // grpc-js sends a status for an emitted error; Envoy then answers the client 500.
        call.emit("error", { code: grpc.status.INTERNAL, details: (err as Error).message });
        close();
        return;
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
