// Where finished requests land: the access-log entry is joined with the attempts the
// upstream processor saw, written as one log line, counted in metrics and fed to the
// per-backend windows that /status (and latency-aware routing) read.
import type * as grpc from "@grpc/grpc-js";
import type { PolicyHolder } from "../extproc/server.js";
import { type AttemptOutcome, attemptOutcomes, buildLogLine } from "../observe/log-line.js";
import type { LogWriter } from "../observe/log-writer.js";
import type { Metrics } from "../observe/metrics.js";
import {
  attemptFailure,
  type FinishedRequest,
  isUpstreamEntry,
  type PbHttpLogEntry,
  readLogEntry,
} from "./access-log.js";
import { AttemptRegistry } from "./attempts.js";
import { WindowSet } from "./window.js";

export class TelemetryHub {
  readonly attempts = new AttemptRegistry();
  readonly windows = new WindowSet();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly holder: PolicyHolder,
    private readonly metrics: Metrics,
    private readonly writer: LogWriter,
  ) {
    this.sweeper = setInterval(() => this.attempts.sweep(), 60_000);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  onEntry(entry: PbHttpLogEntry): void {
    if (isUpstreamEntry(entry)) {
      const a = readLogEntry(entry);
      this.attempts.fail(a.requestId, { backend: a.backend, outcome: attemptFailure(a) });
      return;
    }
    const req = readLogEntry(entry);
    const policy = this.holder.policy;
    const poolOf = (b: string) => this.holder.addresses.get(b);
    const attempts = attemptOutcomes(req, this.attempts.take(req.requestId), poolOf);
    const line = buildLogLine(req, attempts, policy, poolOf);
    this.writer.write(line);
    this.record(req, line.class as string | null, line.pool as string | null, attempts);
  }

  private record(
    req: FinishedRequest,
    cls: string | null,
    pool: string | null,
    attempts: readonly AttemptOutcome[],
  ) {
    const m = this.metrics;
    const status = String(req.status ?? 0);
    m.requests.inc({ class: cls ?? "none", pool: pool ?? "none", status });
    const code =
      (req.decision.error as string | undefined) ??
      (req.status === 413 && !req.backend ? "body_too_large" : undefined);
    if (code) m.rejections.inc({ code });
    for (const a of attempts.slice(0, -1)) {
      if (a.backend === "") continue;
      m.attemptFailures.inc({ backend: a.backend, reason: a.outcome });
      this.windows.get(a.backend).add({ at: Date.now(), ttftMs: undefined, error: true });
    }
    if (!req.backend) return;
    const failed =
      req.status === undefined ||
      req.status >= 500 ||
      req.flags.some((f) => f === "UF" || f === "UT" || f === "UR");
    if (failed) m.attemptFailures.inc({ backend: req.backend, reason: req.flags[0] ?? `http_${req.status}` });
    const labels = { class: cls ?? "none", pool: pool ?? "none", backend: req.backend };
    if (req.ttftMs !== undefined && !failed) m.ttft.observe(labels, req.ttftMs / 1000);
    if (req.durationMs !== undefined) m.duration.observe(labels, req.durationMs / 1000);
    this.windows
      .get(req.backend)
      .add({ at: Date.now(), ttftMs: failed ? undefined : req.ttftMs, error: failed });
  }
}

/**
 * envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs. Envoy keeps one stream open
 * per worker for as long as it runs; `closeAll` answers them on shutdown so Envoy reconnects
 * (to another sidecar, if it has one) instead of the server waiting on them.
 */
export function accessLogService(hub: TelemetryHub, onError: (e: Error) => void) {
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
          hub.onEntry(entry);
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
