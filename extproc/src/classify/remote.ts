// The two classifiers that call out: embeddings (any OpenAI-compatible /v1/embeddings; the
// policy's examples are embedded once, the request's text on each miss) and llm (any
// OpenAI-compatible chat endpoint, structured output parsed strictly to a declared label).
// Each answers a label index or why not; time, cache and breaker are the caller's business.
import type { FallbackReason } from "../facts/types.js";
import type { EmbeddingsDoc, LlmDoc } from "../policy/classifier.js";
import type { JsonClient } from "./http-json.js";
import { centroid, nearestCentroid, nearestNeighbours, unit } from "./vectors.js";

export type Answer =
  | { ok: true; label: number; scores?: number[] }
  | { ok: false; reason: FallbackReason; detail: string; scores?: number[] };

export interface Remote {
  readonly kind: "embeddings" | "llm";
  readonly timeoutMs: number;
  /** False until prepare() has succeeded (embeddings: the examples are embedded). */
  readonly ready: boolean;
  prepare(): Promise<void>;
  ask(text: string): Promise<Answer>;
}

/** Endpoints in turn (a pool's backends, or one URL). */
class RoundRobin {
  private next = 0;
  constructor(private readonly urls: readonly string[]) {}
  get url(): string {
    const u = this.urls[this.next % this.urls.length] as string;
    this.next = (this.next + 1) % this.urls.length;
    return u;
  }
}

const PREPARE_TIMEOUT_MS = 10_000;
const PREPARE_BATCH = 64;

export class EmbeddingsRemote implements Remote {
  readonly kind = "embeddings";
  readonly timeoutMs: number;
  ready = false;
  private readonly urls: RoundRobin;
  private centroids: (Float64Array | undefined)[] = [];
  private examples: { label: number; v: Float64Array }[] = [];
  private dim = 0;

  constructor(
    private readonly doc: EmbeddingsDoc,
    private readonly labels: readonly string[],
    urls: readonly string[],
    private readonly model: string,
    private readonly client: JsonClient,
  ) {
    this.timeoutMs = doc.timeout_ms;
    this.urls = new RoundRobin(urls);
  }

  async prepare(): Promise<void> {
    const texts: { label: number; text: string }[] = [];
    this.labels.forEach((l, label) => {
      for (const text of this.doc.examples[l] ?? []) texts.push({ label, text });
    });
    const examples: { label: number; v: Float64Array }[] = [];
    for (let i = 0; i < texts.length; i += PREPARE_BATCH) {
      const batch = texts.slice(i, i + PREPARE_BATCH);
      const got = await this.embed(
        batch.map((t) => t.text),
        PREPARE_TIMEOUT_MS,
      );
      if (!got.ok) throw new Error(`embedding the examples: ${got.reason}: ${got.detail}`);
      got.vectors.forEach((v, j) => {
        const u = unit(v);
        if (u) examples.push({ label: (batch[j] as { label: number }).label, v: u });
      });
    }
    this.examples = examples;
    this.centroids = this.labels.map((_l, i) =>
      centroid(examples.filter((e) => e.label === i).map((e) => e.v)),
    );
    this.dim = examples[0]?.v.length ?? 0;
    this.ready = true;
  }

  async ask(text: string): Promise<Answer> {
    const got = await this.embed([text], this.timeoutMs);
    if (!got.ok) return got;
    const raw = got.vectors[0] as number[];
    if (raw.length !== this.dim)
      return { ok: false, reason: "malformed", detail: `dimension ${raw.length}, examples have ${this.dim}` };
    const q = unit(raw);
    if (q === undefined) return { ok: false, reason: "below_threshold", detail: "zero vector" };
    const { threshold, k } = this.doc;
    const r =
      this.doc.method === "knn"
        ? nearestNeighbours(q, this.examples, this.labels.length, k, threshold)
        : nearestCentroid(q, this.centroids, threshold);
    if (r.label === undefined)
      return {
        ok: false,
        reason: "below_threshold",
        detail: `best similarity under ${threshold}`,
        scores: r.scores,
      };
    return { ok: true, label: r.label, scores: r.scores };
  }

  private async embed(
    input: string[],
    timeoutMs: number,
  ): Promise<{ ok: true; vectors: number[][] } | { ok: false; reason: FallbackReason; detail: string }> {
    const r = await this.client.post(this.urls.url, { model: this.model, input }, timeoutMs);
    if (!r.ok) return r;
    const vectors = parseEmbeddings(r.json, input.length);
    if (typeof vectors === "string") return { ok: false, reason: "malformed", detail: vectors };
    return { ok: true, vectors };
  }
}

/** OpenAI's embeddings response → one vector per input, in input order; a string says what is wrong. */
export function parseEmbeddings(json: unknown, n: number): number[][] | string {
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length !== n) return `expected data with ${n} embedding(s)`;
  const out: number[][] = new Array(n);
  for (const [i, item] of data.entries()) {
    const e = (item as { embedding?: unknown; index?: unknown } | null)?.embedding;
    const at = (item as { index?: unknown }).index;
    const idx = typeof at === "number" && Number.isInteger(at) ? at : i;
    if (!Array.isArray(e) || e.length === 0 || !e.every((x) => typeof x === "number" && Number.isFinite(x)))
      return `data[${i}].embedding is not a list of numbers`;
    if (idx < 0 || idx >= n || out[idx] !== undefined) return `data[${i}].index ${idx} is out of place`;
    out[idx] = e as number[];
  }
  const dim = out[0]?.length;
  if (out.some((v) => v.length !== dim)) return "embeddings of different dimensions";
  return out;
}

export class LlmRemote implements Remote {
  readonly kind = "llm";
  readonly timeoutMs: number;
  readonly ready = true;
  private readonly urls: RoundRobin;
  private readonly labelsText: string;
  private readonly index: Map<string, number>;

  constructor(
    private readonly doc: LlmDoc,
    private readonly labels: readonly string[],
    urls: readonly string[],
    private readonly model: string,
    private readonly client: JsonClient,
  ) {
    this.timeoutMs = doc.timeout_ms;
    this.urls = new RoundRobin(urls);
    const d = doc.descriptions;
    this.labelsText =
      d === undefined
        ? labels.join(", ")
        : `\n${labels.map((l) => (d[l] ? `- ${l}: ${d[l]}` : `- ${l}`)).join("\n")}\n`;
    this.index = new Map(labels.map((l, i) => [l, i]));
  }

  async prepare(): Promise<void> {}

  async ask(text: string): Promise<Answer> {
    const r = await this.client.post(this.urls.url, this.requestBody(text), this.timeoutMs);
    if (!r.ok) return r;
    const label = this.parse(r.json);
    if (typeof label === "string") return { ok: false, reason: "malformed", detail: label };
    return { ok: true, label };
  }

  /** The prompt with {{labels}} and {{text}} filled in, in one pass (the text is not re-scanned). */
  renderPrompt(text: string): string {
    return this.doc.prompt.replace(/\{\{(labels|text)\}\}/g, (_m, k: string) =>
      k === "labels" ? this.labelsText : text,
    );
  }

  requestBody(text: string): Record<string, unknown> {
    const body: Record<string, unknown> = {
      model: this.model,
      messages: [{ role: "user", content: this.renderPrompt(text) }],
      temperature: 0,
      max_tokens: this.doc.max_tokens,
      stream: false,
    };
    if (this.doc.output === "guided_choice") body.guided_choice = [...this.labels];
    else
      body.response_format = {
        type: "json_schema",
        json_schema: {
          name: "label",
          strict: true,
          schema: {
            type: "object",
            properties: { label: { type: "string", enum: [...this.labels] } },
            required: ["label"],
            additionalProperties: false,
          },
        },
      };
    return body;
  }

  /** The label index, or what is wrong with the answer. Strict: nothing but a declared label. */
  parse(json: unknown): number | string {
    const choice = (json as { choices?: unknown } | null)?.choices;
    const content = Array.isArray(choice)
      ? (choice[0] as { message?: { content?: unknown } } | undefined)?.message?.content
      : undefined;
    if (typeof content !== "string") return "no choices[0].message.content string";
    let label: unknown = content.trim();
    if (this.doc.output === "json_schema") {
      let obj: unknown;
      try {
        obj = JSON.parse(content);
      } catch {
        return `content is not JSON: ${clip(content)}`;
      }
      if (
        obj === null ||
        typeof obj !== "object" ||
        Array.isArray(obj) ||
        Object.keys(obj).join() !== "label"
      )
        return `content is not {"label": ...}: ${clip(content)}`;
      label = (obj as { label: unknown }).label;
    }
    const i = typeof label === "string" ? this.index.get(label) : undefined;
    return i === undefined ? `not a declared label: ${clip(JSON.stringify(label) ?? "")}` : i;
  }
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
