// A reason is one step of the decision's trace. `short` is a stable token for log lines and
// tests (e.g. "tier:paid+1"); `text` is the sentence `explain` prints.
export interface Reason {
  step: string;
  short: string;
  text: string;
}

export function reason(step: string, short: string, text: string): Reason {
  return { step, short, text };
}
