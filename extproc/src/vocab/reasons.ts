// A reason is one step of the decision's trace. `short` is a stable token for log lines and
// tests (e.g. "tier:paid+1"); `text` is the sentence `explain` prints. The hot path only needs
// `short`, so a sentence may be given as a function: it is built when `text` is first read.
export interface Reason {
  readonly step: string;
  readonly short: string;
  readonly text: string;
}

class LazyReason implements Reason {
  private made: string | undefined;
  constructor(
    readonly step: string,
    readonly short: string,
    private readonly make: () => string,
  ) {}
  get text(): string {
    if (this.made === undefined) this.made = this.make();
    return this.made;
  }
}

export function reason(step: string, short: string, text: string | (() => string)): Reason {
  return typeof text === "string" ? { step, short, text } : new LazyReason(step, short, text);
}
