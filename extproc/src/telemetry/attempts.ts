// The join step of the access-log path. Failed attempts, from Envoy's upstream log (the router filter's upstream_log: one entry per
// attempt that got no 2xx), kept by request id until that request's own entry arrives (or they
// expire), so the log line can list every attempt. Both kinds of entry are lines of one access-log
// file, and an attempt ends before its request, so the attempt entries come first.
import {
  type AccessLogEntry,
  attemptFailure,
  errorCodeOf,
  type FinishedRequest,
  isUpstreamEntry,
  readLogEntry,
} from "./access-log.js";

export interface FailedAttempt {
  backend: string;
  /** connect_failed, http_503, reset, per_try_timeout, … (see attemptFailure). */
  outcome: string;
  /** The attempt's Retry-After in seconds (429/503 back-off, telemetry/fleet-monitor.ts). */
  retryAfterS?: number;
}

const TTL_MS = 15 * 60 * 1000;

export class AttemptRegistry {
  private readonly byRequest = new Map<string, { at: number; failed: FailedAttempt[] }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Envoy's word on one failed attempt; attempts end in the order they ran. */
  fail(requestId: string, attempt: FailedAttempt): void {
    if (requestId === "") return;
    let entry = this.byRequest.get(requestId);
    if (!entry) {
      entry = { at: this.now(), failed: [] };
      this.byRequest.set(requestId, entry);
    }
    entry.failed.push(attempt);
  }

  /** Removes and returns the failed attempts of a finished request, in the order they ran. */
  take(requestId: string): FailedAttempt[] {
    const entry = this.byRequest.get(requestId);
    if (!entry) return [];
    this.byRequest.delete(requestId);
    return entry.failed;
  }

  /** Drops requests whose own entry never came (Envoy restarted, log dropped). */
  sweep(): void {
    const cutoff = this.now() - TTL_MS;
    for (const [id, e] of this.byRequest) if (e.at < cutoff) this.byRequest.delete(id);
  }

  get size(): number {
    return this.byRequest.size;
  }
}

export interface AttemptOutcome {
  attempt: number;
  pool: string | null;
  backend: string;
  outcome: string;
  retryAfterS?: number;
}

/**
 * Every attempt's fate, in the order they ran: the failed ones as Envoy's upstream log told
 * (connect_failed, http_503, reset, per_try_timeout), then the last one as the request ended,
 * unless that one failed too and is already listed. An attempt whose entry never came shows
 * as failed_before_response with no backend.
 */
export function attemptOutcomes(
  req: FinishedRequest,
  failed: readonly FailedAttempt[],
  poolOf: (backend: string) => string | undefined,
): AttemptOutcome[] {
  const total = Math.max(req.attemptCount, failed.length);
  const list: FailedAttempt[] = [...failed];
  const lastListed = total > 0 && failed.length >= total;
  if (!lastListed && req.backend !== "") {
    while (list.length < total - 1) list.push({ backend: "", outcome: "failed_before_response" });
    let outcome: string;
    if (req.brokenAfterResponse) outcome = "upstream_reset_after_response";
    else if (req.status === undefined || req.status === 0) outcome = req.flags.join(",") || "no_response";
    else outcome = `http_${req.status}`;
    list.push({ backend: req.backend, outcome });
  }
  return list.map((a, i) => ({
    attempt: i + 1,
    pool: a.backend === "" ? null : (poolOf(a.backend) ?? null),
    backend: a.backend,
    outcome: a.outcome,
    ...(a.retryAfterS === undefined ? {} : { retryAfterS: a.retryAfterS }),
  }));
}

/** How a request ended, in one word (the log line's `outcome`, a label of switchyard_requests_total). */
export type Outcome =
  | "ok"
  | "rejected"
  | "client_error"
  | "error"
  | "upstream_reset_after_response"
  | "client_disconnected";

export function outcomeOf(req: FinishedRequest): Outcome {
  if (req.decision.error !== undefined) return "rejected";
  if (req.clientDisconnected) return "client_disconnected";
  if (req.brokenAfterResponse) return "upstream_reset_after_response";
  if (req.status === undefined || req.status >= 500) return "error";
  if (req.status >= 400) return "client_error";
  return "ok";
}

/** One finished request with its attempts joined: what the log line, metrics and windows read. */
export interface RequestRecord {
  req: FinishedRequest;
  /** The pool of the backend that served (or last failed), or null. */
  pool: string | null;
  attempts: AttemptOutcome[];
  outcome: Outcome;
  /** The error code the client got (errorCodeOf), read by the log line and the metrics alike. */
  errorCode: string | undefined;
}

/**
 * Access-log entries in, records out: an attempt's entry is kept until its request's entry
 * arrives (Envoy writes them to one file, attempts first), which then comes out joined.
 */
export class AccessLogJoiner {
  readonly attempts: AttemptRegistry;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly poolOf: (backend: string) => string | undefined,
    now: () => number = Date.now,
  ) {
    this.attempts = new AttemptRegistry(now);
    this.sweeper = setInterval(() => this.attempts.sweep(), 60_000);
    this.sweeper.unref();
  }

  onEntry(entry: AccessLogEntry): RequestRecord | undefined {
    if (isUpstreamEntry(entry)) {
      const a = readLogEntry(entry);
      this.attempts.fail(a.joinKey, {
        backend: a.backend,
        outcome: attemptFailure(a),
        ...(a.retryAfterS === undefined ? {} : { retryAfterS: a.retryAfterS }),
      });
      return undefined;
    }
    const req = readLogEntry(entry);
    const attempts = attemptOutcomes(req, this.attempts.take(req.joinKey), this.poolOf);
    const pool = req.backend ? (this.poolOf(req.backend) ?? null) : null;
    return { req, pool, attempts, outcome: outcomeOf(req), errorCode: errorCodeOf(req) };
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
