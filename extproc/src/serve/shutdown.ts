// SIGTERM / SIGINT: report not ready (Envoy's health check moves new streams to another
// sidecar), keep serving for the drain time, then close the gRPC server gracefully. Streams
// still open 10 s later are cut.
import type * as grpc from "@grpc/grpc-js";

export interface ShutdownOptions {
  drainMs: number;
  grpcServer: grpc.Server;
  /** Called first: stop reporting ready, stop watching files. */
  beginDrain: () => void;
  /** Called after the drain, before the gRPC server closes (stop reading the access log, flush). */
  beforeClose: () => void | Promise<void>;
  /** Called once the gRPC server has closed. */
  afterClose: () => void;
  log: (msg: string) => void;
}

const FORCE_AFTER_MS = 10_000;

/** Resolves with the exit code once a signal has stopped the server. */
export function onShutdownSignal(o: ShutdownOptions): Promise<number> {
  return new Promise<number>((resolveExit) => {
    const stop = async (signal: string) => {
      o.log(`${signal}: not ready; draining for ${o.drainMs} ms`);
      o.beginDrain();
      await new Promise((r) => setTimeout(r, o.drainMs));
      await o.beforeClose();
      o.grpcServer.tryShutdown(() => {
        o.afterClose();
        resolveExit(0);
      });
      setTimeout(() => o.grpcServer.forceShutdown(), FORCE_AFTER_MS).unref();
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
  });
}
