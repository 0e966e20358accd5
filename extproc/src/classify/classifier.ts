// One policy's classifier: a label for a request no header describes, never slow and never
// fragile. The heuristic answers at once. The remote kinds answer at once from the LRU cache,
// else share one call per distinct prompt (concurrent identical prompts wait for the same
// call), bounded by the kind's timeout; any failure, a breaker that is open, or examples that
// are not embedded yet give the fallback label with its reason. The result never rejects.
import { performance } from "node:perf_hooks";
import type { ChatBody } from "../facts/body.js";
import type { FallbackReason, LabelFact, RequestFacts } from "../facts/types.js";
import type { ClassifierDoc, ClassifierKind } from "../policy/classifier.js";
import { Breaker, type BreakerState } from "./breaker.js";
import { compileHeuristic, type Heuristic } from "./heuristic.js";
import { JsonClient } from "./http-json.js";
import { type ClassifierInput, cacheKey, classifierInput } from "./input.js";
import { Lru } from "./lru.js";
import { type Answer, EmbeddingsRemote, LlmRemote, type Remote } from "./remote.js";

/** A label with what explain shows: scores per label (in label order) and a detail line. */
export interface Labelled extends LabelFact {
  scores?: number[];
  detail?: string;
}

export interface ClassifierEvents {
  /** Every label given, with the time it took (a cache hit or the heuristic: microseconds). */
  labelled?(kind: ClassifierKind, fact: LabelFact, seconds: number): void;
  cache?(hit: boolean): void;
  /** Each call to the endpoint and how it ended. */
  call?(kind: ClassifierKind, outcome: "ok" | FallbackReason, seconds: number): void;
  breaker?(state: BreakerState): void;
}

export interface ClassifierOptions {
  /** The endpoint URLs (a pool's backends, or the one url). */
  urls: readonly string[];
  model: string;
  env?: NodeJS.ProcessEnv;
  events?: ClassifierEvents;
  now?: () => number;
}

/** Reasons that count against the endpoint (the breaker); the others are answers. */
const FAILURES: ReadonlySet<FallbackReason> = new Set(["timeout", "error", "malformed"]);

export class Classifier {
  readonly kind: ClassifierKind;
  readonly labels: readonly string[];
  readonly breaker: Breaker;
  private readonly heuristic: Heuristic | undefined;
  private readonly remote: Remote | undefined;
  private readonly cache: Lru<number>;
  private readonly inflight = new Map<string, Promise<Answer>>();
  private readonly client: JsonClient | undefined;
  private readonly events: ClassifierEvents;

  constructor(
    readonly doc: ClassifierDoc,
    o: ClassifierOptions,
  ) {
    this.kind = doc.kind;
    this.labels = Object.keys(doc.labels);
    this.events = o.events ?? {};
    this.cache = new Lru(doc.cache.size);
    this.breaker = new Breaker(doc.breaker.failures, doc.breaker.open_ms, o.now, (s) =>
      this.events.breaker?.(s),
    );
    if (doc.kind === "heuristic" && doc.heuristic)
      this.heuristic = compileHeuristic(doc.heuristic, this.labels);
    const section = doc.kind === "embeddings" ? doc.embeddings : doc.kind === "llm" ? doc.llm : undefined;
    if (section) {
      const key = section.api_key_env === undefined ? undefined : o.env?.[section.api_key_env];
      this.client = new JsonClient(key ? { authorization: `Bearer ${key}` } : {});
      this.remote =
        doc.kind === "embeddings" && doc.embeddings
          ? new EmbeddingsRemote(doc.embeddings, this.labels, o.urls, o.model, this.client)
          : doc.llm
            ? new LlmRemote(doc.llm, this.labels, o.urls, o.model, this.client)
            : undefined;
    }
  }

  get ready(): boolean {
    return this.remote?.ready ?? true;
  }

  get cached(): number {
    return this.cache.length;
  }

  /** Embeds the examples (embeddings); throws with the reason when the endpoint cannot. */
  prepare(): Promise<void> {
    return this.remote?.prepare() ?? Promise.resolve();
  }

  close(): void {
    this.client?.close();
  }

  /** The request's label: at once (header, heuristic, cache, most fallbacks) or after one call. */
  label(body: ChatBody, facts: RequestFacts): Labelled | Promise<Labelled> {
    const t0 = performance.now();
    const named = facts.headers.label;
    if (named !== undefined) return this.give({ name: named, source: "header" }, t0);
    return this.labelInput(classifierInput(body, facts, this.doc.input_chars), t0);
  }

  labelInput(input: ClassifierInput, t0 = performance.now()): Labelled | Promise<Labelled> {
    if (this.heuristic) {
      const r = this.heuristic(input);
      const fact: Labelled =
        r.label === undefined
          ? this.fallback("no_match", "no rule reached min_score")
          : { name: this.labels[r.label] as string, source: "heuristic" };
      fact.scores = r.scores;
      return this.give(fact, t0);
    }
    const remote = this.remote;
    if (remote === undefined) return this.give(this.fallback("error", "no endpoint"), t0);
    if (input.text.trim() === "") return this.give(this.fallback("no_text", "no user text to classify"), t0);
    const key = cacheKey(input.text);
    const hit = this.cache.get(key);
    this.events.cache?.(hit !== undefined);
    if (hit !== undefined) return this.give({ name: this.labels[hit] as string, source: "cache" }, t0);
    if (!remote.ready) return this.give(this.fallback("not_ready", "examples not embedded yet"), t0);
    const shared = this.inflight.get(key);
    if (shared) return shared.then((a) => this.give(this.fromAnswer(a), t0));
    if (!this.breaker.allow())
      return this.give(this.fallback("breaker_open", "endpoint breaker is open"), t0);
    const call = this.call(remote, input.text, key);
    return call.then((a) => this.give(this.fromAnswer(a), t0));
  }

  private call(remote: Remote, text: string, key: string): Promise<Answer> {
    const t0 = performance.now();
    const p = remote
      .ask(text)
      .catch((err: Error): Answer => ({ ok: false, reason: "error", detail: err.message }))
      .then((a) => {
        this.inflight.delete(key);
        if (!a.ok && FAILURES.has(a.reason)) this.breaker.failure();
        else this.breaker.success();
        if (a.ok) this.cache.set(key, a.label);
        this.events.call?.(this.kind, a.ok ? "ok" : a.reason, (performance.now() - t0) / 1000);
        return a;
      });
    this.inflight.set(key, p);
    return p;
  }

  private fromAnswer(a: Answer): Labelled {
    const fact: Labelled = a.ok
      ? { name: this.labels[a.label] as string, source: this.kind as "embeddings" | "llm" }
      : this.fallback(a.reason, a.detail);
    if (a.scores) fact.scores = a.scores;
    return fact;
  }

  private fallback(why: FallbackReason, detail: string): Labelled {
    return { name: this.doc.fallback, source: "fallback", why, detail };
  }

  private give(fact: Labelled, t0: number): Labelled {
    this.events.labelled?.(this.kind, fact, (performance.now() - t0) / 1000);
    return fact;
  }
}
