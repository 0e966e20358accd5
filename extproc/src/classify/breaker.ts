// A breaker on the classifier endpoint: after `failures` failed calls in a row it opens, and
// for `openMs` no call is made (the fallback label applies at once, so a dead endpoint does not
// add its timeout to every request). Then one probe goes through (half-open): success closes the
// breaker, failure opens it again. The clock comes in, for tests.
export type BreakerState = "closed" | "open" | "half_open";

export class Breaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  state: BreakerState = "closed";

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
    private readonly onChange: (state: BreakerState) => void = () => {},
  ) {}

  /** Whether a call may go out now; in half-open state only one (the probe) does. */
  allow(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (this.now() < this.openUntil) return false;
      this.set("half_open");
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.state !== "closed") this.set("closed");
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.state === "half_open" || this.failures >= this.threshold) {
      this.openUntil = this.now() + this.openMs;
      if (this.state !== "open") this.set("open");
    }
  }

  private set(s: BreakerState): void {
    this.state = s;
    this.onChange(s);
  }
}
