// Failed attempts, from Envoy's upstream log (the router filter's upstream_log: one entry per
// attempt that got no 2xx), kept by request id until that request's own entry arrives (or they
// expire), so the log line can list every attempt. Both kinds of entry travel on one access-log
// stream, and an attempt ends before its request, so the attempt entries come first.

export interface FailedAttempt {
  backend: string;
  /** connect_failed, http_503, reset, per_try_timeout, … (see attemptFailure). */
  outcome: string;
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
