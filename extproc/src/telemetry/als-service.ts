// envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs. Envoy keeps one stream open
// per worker for as long as it runs; `closeAll` answers them on shutdown so Envoy reconnects
// (to another sidecar, if it has one) instead of the server waiting on them.
import type * as grpc from "@grpc/grpc-js";
import type { PbHttpLogEntry } from "./access-log.js";

export function accessLogService(onEntry: (entry: PbHttpLogEntry) => void, onError: (e: Error) => void) {
  const open = new Set<() => void>();
  const handler = (
    call: grpc.ServerReadableStream<{ http_logs?: { log_entry?: PbHttpLogEntry[] } }, object>,
    done: grpc.sendUnaryData<object>,
  ) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      open.delete(finish);
      done(null, {});
    };
    open.add(finish);
    call.on("data", (msg) => {
      for (const entry of msg.http_logs?.log_entry ?? []) {
        try {
          onEntry(entry);
        } catch (err) {
          onError(err as Error);
        }
      }
    });
    call.on("end", finish);
    call.on("error", () => {
      finished = true;
      open.delete(finish);
    });
  };
  return {
    handler,
    closeAll() {
      for (const finish of [...open]) finish();
    },
  };
}
