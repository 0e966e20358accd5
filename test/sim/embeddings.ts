// The sim's /v1/embeddings: deterministic vectors from a hashed bag of words, so texts that share
// words are near each other and nothing else is. Enough to test a nearest-centroid classifier
// over real HTTP; no semantics beyond shared (lightly stemmed) words.
import { errorJson } from "./modes.js";

export const DEFAULT_EMBEDDING_DIM = 1024;

const STOP = new Set(
  "the and for are but not you your with this that from have has had was were what when where which who why how can could would should will into onto about than then them they their there here its it's our out all any some one two very just also only".split(
    " ",
  ),
);

/** Lowercase words of 3+ letters or digits, stop words out, a plural/-ing/-ed ending off. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(/[a-z0-9]+/g)) {
    let w = m[0];
    if (w.length < 3 || STOP.has(w)) continue;
    if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3);
    else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2);
    else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) w = w.slice(0, -1);
    out.push(w);
  }
  return out;
}

/** FNV-1a, then murmur3's finaliser so that near words land far apart. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** One unit vector per text: word counts in hashed slots (all zeros for a text without words). */
export function embedText(text: string, dim = DEFAULT_EMBEDDING_DIM): number[] {
  const v = new Array<number>(dim).fill(0);
  for (const w of words(text)) {
    const i = hash(w) % dim;
    v[i] = (v[i] as number) + 1;
  }
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return norm === 0 ? v : v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

/** The response to POST /v1/embeddings, as vLLM answers it (status and JSON text). */
export function embeddingsResponse(
  json: unknown,
  names: readonly string[],
  dim: number,
): { status: number; body: string } {
  const body = json as { model?: unknown; input?: unknown } | undefined;
  if (body === undefined || typeof body !== "object" || body === null)
    return { status: 400, body: errorJson(400, "JSON decode error") };
  if (typeof body.model === "string" && !names.includes(body.model))
    return {
      status: 404,
      body: errorJson(404, `The model \`${body.model}\` does not exist.`, "NotFoundError"),
    };
  const input = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(input) || input.length === 0 || !input.every((t) => typeof t === "string"))
    return { status: 400, body: errorJson(400, "input must be a string or a non-empty list of strings") };
  const data = input.map((t, index) => ({ object: "embedding", index, embedding: embedText(t, dim) }));
  const tokens = input.reduce((n, t) => n + words(t).length, 0);
  return {
    status: 200,
    body: JSON.stringify({
      id: `embd-${Date.now().toString(36)}`,
      object: "list",
      created: Math.floor(Date.now() / 1000),
      model: names[0],
      data,
      usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 },
    }),
  };
}
