// Attempts seen by the upstream-level ext_proc, kept by request id until the access-log
// entry for that request arrives (or they expire), so the log line can list each attempt.
// Envoy's upstream log (one entry per attempt that got no 2xx) says how an attempt failed.

export interface AttemptRecord {
  attempt: number;
  pool: string | undefined;
  backend: string;
  /** How the attempt failed, from Envoy's upstream log (connect_failed, http_503, …). */
  failure?: string;
}

const TTL_MS = 15 * 60 * 1000;

export class AttemptRegistry {
  private readonly byRequest = new Map<string, { at: number; attempts: AttemptRecord[] }>();

  constructor(private readonly now: () => number = Date.now) {}

  begin(requestId: string, attempt: AttemptRecord): AttemptRecord {
    if (requestId === "") return attempt;
    let entry = this.byRequest.get(requestId);
    if (!entry) {
      entry = { at: this.now(), attempts: [] };
      this.byRequest.set(requestId, entry);
    }
    entry.attempts.push(attempt);
    return attempt;
  }

  /**
   * Envoy's word on a failed attempt: goes to the earliest attempt on that backend that has no
   * outcome yet (attempts end in the order they start, and a retry never reuses a backend
   * while another one is left).
   */
  fail(requestId: string, backend: string, outcome: string): void {
    const a = this.byRequest
      .get(requestId)
      ?.attempts.filter((x) => x.backend === backend && x.failure === undefined)
      .sort((x, y) => x.attempt - y.attempt)[0];
    if (a) a.failure = outcome;
  }

  /** Removes and returns the attempts of a finished request, in attempt order. */
  take(requestId: string): AttemptRecord[] {
    const entry = this.byRequest.get(requestId);
    if (!entry) return [];
    this.byRequest.delete(requestId);
    return entry.attempts.sort((a, b) => a.attempt - b.attempt);
  }

  /** Drops requests whose log entry never came (Envoy restarted, log dropped). */
  sweep(): void {
    const cutoff = this.now() - TTL_MS;
    for (const [id, e] of this.byRequest) if (e.at < cutoff) this.byRequest.delete(id);
  }

  get size(): number {
    return this.byRequest.size;
  }
}
