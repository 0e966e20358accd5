// Attempts seen by the upstream-level ext_proc, kept by request id until the access-log
// entry for that request arrives (or they expire), so the log line can list each attempt.

export interface AttemptRecord {
  attempt: number;
  pool: string | undefined;
  backend: string;
  /** False when the attempt never got to send its body (connection failed). */
  bodySent: boolean;
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
