// The last step of the access-log path: one joined record -> the log line, the metrics and
// the per-backend windows that /status (and latency-aware routing) read.
import { backendName } from "../policy/backend-names.js";
import type { PolicyHolder } from "../policy/holder.js";
import type { RequestRecord } from "../telemetry/attempts.js";
import type { FleetMonitor, Outcome } from "../telemetry/fleet-monitor.js";
import type { WindowSet } from "../telemetry/window.js";
import { buildLogLine } from "./log-line.js";
import type { LogWriter } from "./log-writer.js";
import type { Metrics } from "./metrics.js";

export class Recorder {
  constructor(
    private readonly holder: PolicyHolder,
    private readonly metrics: Metrics,
    private readonly writer: LogWriter,
    private readonly windows: WindowSet,
    private readonly now: () => number = Date.now,
    /** Takes every attempt's outcome into the live windows, breakers and back-off (else: windows only). */
    private readonly fleet?: FleetMonitor,
  ) {}

  private sample(o: Outcome, at: number): void {
    if (this.fleet) this.fleet.record(o);
    else this.windows.get(o.backend).add({ at, ttftMs: o.ttftMs, durationMs: o.durationMs, error: !o.ok });
  }

  /**
   * The request's log line and metrics, then its samples (observe). Only the sidecar holding
   * the access-log reader lease records, so each request is logged and counted once.
   */
  record(r: RequestRecord): void {
    const line = buildLogLine(r, this.holder.policy);
    this.writer.write(line);
    const { req, pool, attempts } = r;
    const m = this.metrics;
    const cls = req.decision.class ?? "none";
    m.requests.inc({ class: cls, pool: pool ?? "none", status: String(req.status ?? 0), outcome: r.outcome });
    // Refusals of the request itself (switchyard's, or Envoy's for bad HTTP), not failures of the fleet.
    const code = r.errorCode;
    if (code && req.status !== undefined && req.status < 500) m.rejections.inc({ code });
    if (req.decision.trusted === false) m.untrusted.inc();
    for (const a of attempts.slice(0, -1)) {
      if (a.backend === "") continue;
      m.attemptFailures.inc({ backend: backendName(this.holder.policy, a.backend), reason: a.outcome });
    }
    if (req.backend) {
      const broken = r.outcome === "upstream_reset_after_response";
      const failed = failedAttempt(r);
      if (failed) {
        const reason = broken ? "upstream_reset_after_response" : (req.flags[0] ?? `http_${req.status}`);
        m.attemptFailures.inc({ backend: backendName(this.holder.policy, req.backend), reason });
      }
      const labels = {
        class: cls,
        pool: pool ?? "none",
        backend: backendName(this.holder.policy, req.backend),
      };
      if (req.ttftMs !== undefined && !failed) m.ttft.observe(labels, req.ttftMs / 1000);
      if (req.durationMs !== undefined) m.duration.observe(labels, req.durationMs / 1000);
    }
    this.observe(r);
  }

  /**
   * The request's samples only: the traffic share and every attempt's outcome into the live
   * windows, breakers and back-off. A sidecar that does not hold the reader lease follows the
   * access log with this, so its decisions see the same fleet.
   */
  observe(r: RequestRecord): void {
    const { req, pool, attempts } = r;
    const at = this.now();
    if (req.decision.class !== undefined) this.windows.share.add(at, req.decision.class, pool ?? "none");
    for (const a of attempts.slice(0, -1)) {
      if (a.backend === "") continue;
      const status = /^http_(\d{3})$/.exec(a.outcome)?.[1];
      this.sample(
        {
          backend: a.backend,
          pool: a.pool ?? "none",
          ok: false,
          status: status === undefined ? undefined : Number(status),
          retryAfterS: a.retryAfterS,
        },
        at,
      );
    }
    const first = req.decision.path?.[0];
    if (this.fleet && first !== undefined && !attempts.some((a) => a.pool === first))
      this.fleet.missed(first);
    if (!req.backend) return;
    const failed = failedAttempt(r);
    // A 429 is the backend shedding: not a success (the monitor leaves it out of the windows'
    // error rate when it came with a Retry-After, and backs off instead).
    const shed = req.status === 429;
    this.sample(
      {
        backend: req.backend,
        pool: pool ?? "none",
        ok: !failed && !shed,
        ttftMs: failed ? undefined : req.ttftMs,
        durationMs: req.durationMs,
        status: req.status,
        retryAfterS: req.retryAfterS,
      },
      at,
    );
  }
}

/** The last attempt failed: a broken stream, no status, a 5xx, or Envoy's connect/timeout/reset flags. */
function failedAttempt(r: RequestRecord): boolean {
  const { req } = r;
  return (
    r.outcome === "upstream_reset_after_response" ||
    req.status === undefined ||
    req.status >= 500 ||
    req.flags.some((f) => f === "UF" || f === "UT" || f === "UR")
  );
}
