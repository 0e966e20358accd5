// The last step of the access-log path: one joined record -> the log line, the metrics and
// the per-backend windows that /status (and latency-aware routing) read.
import { backendName } from "../policy/backend-names.js";
import type { Policy } from "../policy/compile.js";
import type { PolicyHolder } from "../policy/holder.js";
import type { AttemptOutcome, RequestRecord } from "../telemetry/attempts.js";
import type { FleetMonitor, Outcome } from "../telemetry/fleet-monitor.js";
import type { WindowSet } from "../telemetry/window.js";
import type { CounterSeries } from "./fast-counter.js";
import type { HistogramSeries } from "./fast-histogram.js";
import { buildLogLine } from "./log-line.js";
import type { LogWriter } from "./log-writer.js";
import type { Metrics } from "./metrics.js";

/** A request's two latency series, by class, pool and backend. */
interface LatencySeries {
  ttft: HistogramSeries;
  duration: HistogramSeries;
}

export class Recorder {
  /**
   * Labelled series, resolved once per label combination (the access-log path records every
   * request). Those keyed by a backend's address hold its policy name: dropped with the policy.
   */
  private readonly requestSeries = new Map<string, CounterSeries>();
  private readonly rejectionSeries = new Map<string, CounterSeries>();
  private readonly failureSeries = new Map<string, CounterSeries>();
  private readonly latencySeries = new Map<string, LatencySeries>();
  private seriesPolicy: Policy | undefined;

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
    const policy = this.holder.policy;
    if (policy !== this.seriesPolicy) {
      this.seriesPolicy = policy;
      this.failureSeries.clear();
      this.latencySeries.clear();
    }
    this.writer.write(buildLogLine(r, policy));
    const { req, pool, attempts } = r;
    const m = this.metrics;
    const cls = req.decision.class ?? "none";
    const poolLabel = pool ?? "none";
    const status = String(req.status ?? 0);
    const reqKey = `${cls}\0${poolLabel}\0${status}\0${r.outcome}`;
    let reqSeries = this.requestSeries.get(reqKey);
    if (reqSeries === undefined) {
      reqSeries = m.requests.labels({ class: cls, pool: poolLabel, status, outcome: r.outcome });
      this.requestSeries.set(reqKey, reqSeries);
    }
    reqSeries.inc();
    // Refusals of the request itself (switchyard's, or Envoy's for bad HTTP), not failures of the fleet.
    const code = r.errorCode;
    if (code && req.status !== undefined && req.status < 500) {
      let s = this.rejectionSeries.get(code);
      if (s === undefined) {
        s = m.rejections.labels({ code });
        this.rejectionSeries.set(code, s);
      }
      s.inc();
    }
    if (req.decision.trusted === false) m.untrusted.inc();
    for (let i = 0; i < attempts.length - 1; i++) {
      const a = attempts[i] as AttemptOutcome;
      if (a.backend === "") continue;
      this.failure(policy, a.backend, a.outcome);
    }
    if (req.backend) {
      const broken = r.outcome === "upstream_reset_after_response";
      const failed = failedAttempt(r);
      if (failed) {
        const reason = broken ? "upstream_reset_after_response" : (req.flags[0] ?? `http_${req.status}`);
        this.failure(policy, req.backend, reason);
      }
      const latKey = `${cls}\0${poolLabel}\0${req.backend}`;
      let lat = this.latencySeries.get(latKey);
      if (lat === undefined) {
        const labels = { class: cls, pool: poolLabel, backend: backendName(policy, req.backend) };
        lat = { ttft: m.ttft.labels(labels), duration: m.duration.labels(labels) };
        this.latencySeries.set(latKey, lat);
      }
      if (req.ttftMs !== undefined && !failed) lat.ttft.observe(req.ttftMs / 1000);
      if (req.durationMs !== undefined) lat.duration.observe(req.durationMs / 1000);
    }
    this.observe(r);
  }

  private failure(policy: Policy, address: string, reason: string): void {
    const key = `${address}\0${reason}`;
    let s = this.failureSeries.get(key);
    if (s === undefined) {
      s = this.metrics.attemptFailures.labels({ backend: backendName(policy, address), reason });
      this.failureSeries.set(key, s);
    }
    s.inc();
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
    for (let i = 0; i < attempts.length - 1; i++) {
      const a = attempts[i] as AttemptOutcome;
      if (a.backend === "") continue;
      const status = HTTP_OUTCOME.exec(a.outcome)?.[1];
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

const HTTP_OUTCOME = /^http_(\d{3})$/;

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
