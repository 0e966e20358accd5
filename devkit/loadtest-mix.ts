// The load test's workload: a small YAML mix of request kinds (features, tiers, trials, quota,
// vision, streaming, reasoning efforts, class models), each turned into the exact headers and
// body the load test sends, and the routing share the policy predicts for that mix, computed
// by running each kind through the data plane's own evaluate() (not hand-written).
import { parse } from "yaml";
import { z } from "zod";
import type { Policy } from "../extproc/src/policy/compile.js";
import { evaluate, seededRandom } from "../extproc/src/routing/evaluate.js";

const KindSchema = z.strictObject({
  name: z.string().min(1),
  weight: z.number().positive(),
  /** Request headers as sent, e.g. {X-Discourse-AI-Feature: ai_bot}. */
  headers: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  model: z.string().default("auto"),
  endpoint: z.enum(["chat", "completions"]).default("chat"),
  stream: z.boolean().default(false),
  /** One small PNG image part (chat only). */
  image: z.boolean().default(false),
  tools: z.boolean().default(false),
  reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high"]).optional(),
  max_tokens: z.number().int().positive().optional(),
});

export const MixSchema = z.strictObject({
  /** Output limit for kinds that set none. */
  max_tokens: z.number().int().positive().default(32),
  kinds: z.array(KindSchema).min(1),
});

export type Mix = z.output<typeof MixSchema>;
export type Kind = Mix["kinds"][number];

export function parseMix(text: string): Mix {
  const r = MixSchema.safeParse(parse(text));
  if (!r.success)
    throw new Error(r.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; "));
  return r.data;
}

const PNG =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const TOOL = {
  type: "function",
  function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } },
};

export interface PreparedRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The exact request a kind sends. */
export function requestFor(kind: Kind, mix: Mix): PreparedRequest {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const [k, v] of Object.entries(kind.headers)) headers[k.toLowerCase()] = String(v);
  const body: Record<string, unknown> = { model: kind.model, max_tokens: kind.max_tokens ?? mix.max_tokens };
  if (kind.endpoint === "completions") body.prompt = `load test: ${kind.name}`;
  else {
    const text = `load test: ${kind.name}`;
    body.messages = [
      {
        role: "user",
        content: kind.image
          ? [
              { type: "text", text },
              { type: "image_url", image_url: { url: PNG } },
            ]
          : text,
      },
    ];
  }
  if (kind.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (kind.tools) body.tools = [TOOL];
  if (kind.reasoning_effort !== undefined) body.reasoning_effort = kind.reasoning_effort;
  const path = kind.endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions";
  return { path, headers, body: Buffer.from(JSON.stringify(body)) };
}

/** Share of requests per "class → pool" (the path's first pool), or "rejected:<code>". */
export type Shares = Map<string, number>;

/**
 * The routing share the policy predicts for the mix: each kind's request is evaluated `samples`
 * times with seeded randomness (the weighted picks), weighted by the kind's share of the mix.
 * `source` is the caller's address as Envoy would see it (trust). `sent` (requests per kind name)
 * replaces the weights with what was actually sent, so the draw of kinds adds no noise.
 */
export function predictShares(
  policy: Policy,
  mix: Mix,
  samples = 2000,
  source = "127.0.0.1",
  sent?: ReadonlyMap<string, number>,
): Shares {
  const weight = (k: Kind) => (sent === undefined ? k.weight : (sent.get(k.name) ?? 0));
  const total = mix.kinds.reduce((a, k) => a + weight(k), 0);
  const shares: Shares = new Map();
  const rand = seededRandom(1);
  for (const kind of mix.kinds) {
    if (weight(kind) === 0) continue;
    const req = requestFor(kind, mix);
    for (let i = 0; i < samples; i++) {
      const ev = evaluate(policy, req.headers, req.body, rand, source);
      let key: string;
      if (ev.kind === "bad_body") key = `rejected:${ev.error.code}`;
      else if (ev.decision.kind === "reject") key = `rejected:${ev.decision.error.code}`;
      else key = `${ev.decision.className} → ${ev.decision.path[0]}`;
      shares.set(key, (shares.get(key) ?? 0) + weight(kind) / total / samples);
    }
  }
  return shares;
}

/** Draws kinds by weight. */
export function kindPicker(mix: Mix, rand: () => number): () => Kind {
  const total = mix.kinds.reduce((a, k) => a + k.weight, 0);
  return () => {
    let x = rand() * total;
    for (const k of mix.kinds) {
      x -= k.weight;
      if (x < 0) return k;
    }
    return mix.kinds.at(-1) as Kind;
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
