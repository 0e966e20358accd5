// The classifier of each policy generation. A reload whose classifier section (and endpoints)
// did not change keeps the running classifier, its cache and its embedded examples; a new one
// embeds its examples before the policy is swapped in (bounded wait), and keeps retrying in the
// background if the endpoint is not there yet (until then requests get the fallback label).
import type { Policy } from "../policy/compile.js";
import { Classifier, type ClassifierEvents } from "./classifier.js";

export interface ClassifiersOptions {
  env?: NodeJS.ProcessEnv;
  events?: ClassifierEvents;
  log?: (msg: string) => void;
  now?: () => number;
  /** Backoff between attempts to embed the examples (default 1 s, doubling to 30 s). */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;

/** The classifier a policy describes, or undefined when it has none. */
export function buildClassifier(
  policy: Policy,
  o: Omit<ClassifiersOptions, "log" | "retryMs"> = {},
): Classifier | undefined {
  const doc = policy.doc.classifier;
  if (doc === undefined) return undefined;
  const { urls, model } = endpointOf(policy);
  return new Classifier(doc, { urls, model, env: o.env, events: o.events, now: o.now });
}

/** The endpoint URLs and model of the policy's remote classifier (none for the heuristic). */
export function endpointOf(policy: Policy): { urls: string[]; model: string } {
  const doc = policy.doc.classifier;
  const section = doc?.kind === "embeddings" ? doc.embeddings : doc?.kind === "llm" ? doc.llm : undefined;
  if (section === undefined) return { urls: [], model: "" };
  const path = doc?.kind === "embeddings" ? "/v1/embeddings" : "/v1/chat/completions";
  const pool = section.pool === undefined ? undefined : policy.pools.get(section.pool);
  const urls =
    section.url !== undefined
      ? [section.url]
      : (pool?.backends ?? []).map((b) => `http://${b.address}${path}`);
  return { urls, model: section.model ?? pool?.served_model ?? "" };
}

export class Classifiers {
  private readonly byPolicy = new WeakMap<Policy, Classifier>();
  private current: { key: string; classifier: Classifier } | undefined;
  /** The generation before: requests decided under the policy still live (a reload may yet be refused) use it. */
  private previous: Classifier | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: ClassifiersOptions = {}) {}

  for(policy: Policy): Classifier | undefined {
    return this.byPolicy.get(policy);
  }

  /**
   * Gives `policy` its classifier (the running one when nothing changed) and waits up to `waitMs`
   * for its examples to be embedded; never throws.
   */
  async prepare(policy: Policy, waitMs = 5000): Promise<void> {
    if (policy.doc.classifier === undefined) return;
    const key = JSON.stringify([policy.doc.classifier, endpointOf(policy)]);
    if (this.current?.key === key) {
      this.byPolicy.set(policy, this.current.classifier);
      return;
    }
    const classifier = buildClassifier(policy, this.o) as Classifier;
    this.previous?.close();
    this.previous = this.current?.classifier;
    this.current = { key, classifier };
    this.byPolicy.set(policy, classifier);
    clearTimeout(this.retry);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.embed(classifier, this.o.retryMs ?? 1000),
      new Promise<void>((r) => {
        timer = setTimeout(r, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.current?.classifier.close();
    this.previous?.close();
  }

  /** Resolves once the classifier is ready; retries with backoff while it is the current one. */
  private embed(c: Classifier, backoffMs: number): Promise<void> {
    return new Promise((resolve) => {
      const attempt = (wait: number) => {
        c.prepare().then(
          () => {
            if (c.kind === "embeddings") this.o.log?.(`classifier: examples embedded`);
            resolve();
          },
          (err: Error) => {
            if (this.closed || this.current?.classifier !== c) return resolve();
            this.o.log?.(`classifier: ${err.message}; retrying in ${wait} ms (fallback label until then)`);
            this.retry = setTimeout(() => attempt(Math.min(wait * 2, MAX_RETRY_MS)), wait);
            this.retry.unref();
          },
        );
      };
      attempt(backoffMs);
    });
  }
}
