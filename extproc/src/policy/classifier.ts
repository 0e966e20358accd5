// The `classifier` section: how a request that no header describes gets a label from its
// content, and which class each label means. The shape is checked here (zod, strict), the
// references across the document in classifierProblems(); the running classifier (HTTP calls,
// cache, breaker) lives in classify/, above the pure decision.
import { z } from "zod";
import { didYouMean, type PathSeg, type Problem } from "./problems.js";
import type { PolicyDoc } from "./schema.js";

/** A feature whose class is this is labelled by the classifier. */
export const AUTO_CLASS = "auto";

export const CLASSIFIER_KINDS = ["heuristic", "embeddings", "llm"] as const;
export type ClassifierKind = (typeof CLASSIFIER_KINDS)[number];

/**
 * The router's ext_proc message timeout is 2 s (envoy/upstream-filters.ts); a classifier call
 * must give up well before Envoy gives up on the router.
 */
export const MAX_CLASSIFIER_TIMEOUT_MS = 1500;

const labelName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,47}$/,
    "a label is lowercase letters, digits, '-' or '_', starting with a letter",
  );

const count = (max: number) => z.number().int().min(0).max(max);

const regex = z.string().refine((s) => {
  try {
    new RegExp(s, "iu");
    return true;
  } catch {
    return false;
  }
}, "not a valid regular expression");

const RuleSchema = z
  .strictObject({
    label: z.string(),
    score: z.number().min(-100).max(100).default(1),
    // Conditions; all that are set must hold for the rule to add its score.
    min_chars: count(10_000_000).optional(),
    max_chars: count(10_000_000).optional(),
    min_messages: count(100_000).optional(),
    max_messages: count(100_000).optional(),
    code: z.boolean().optional(),
    math: z.boolean().optional(),
    tools: z.boolean().optional(),
    keywords: z.array(z.string().min(1).max(200)).min(1).optional(),
    regex: regex.optional(),
  })
  .refine(
    (r) => Object.keys(r).some((k) => k !== "label" && k !== "score"),
    "a rule needs at least one condition (min_chars, max_chars, min_messages, max_messages, code, math, tools, keywords, regex)",
  );

const HeuristicSchema = z.strictObject({
  rules: z.array(RuleSchema).min(1, "the heuristic needs at least one rule"),
  // The best label's score must reach this, else the fallback label applies.
  min_score: z.number().default(1),
});

const timeout = (fallback: number) =>
  z.number().int().min(1).max(MAX_CLASSIFIER_TIMEOUT_MS).default(fallback);

// Where the endpoint is: a URL, or one of the policy's pools (its backends, its served_model).
const endpoint = {
  url: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, "url must be http://host:port/path or https://…")
    .optional(),
  pool: z.string().optional(),
  model: z.string().min(1).optional(),
  // Sent as a bearer token; the key itself never goes in the policy file.
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not an environment variable name")
    .optional(),
};

const EmbeddingsSchema = z.strictObject({
  ...endpoint,
  timeout_ms: timeout(150),
  method: z.enum(["centroid", "knn"]).default("centroid"),
  k: z.number().int().min(1).max(50).default(5),
  // Cosine similarity the winning label must reach, else the fallback label applies.
  threshold: z.number().min(-1).max(1).default(0.5),
  examples: z.record(z.string(), z.array(z.string().min(1)).min(1)),
});

export const DEFAULT_LLM_PROMPT = `Classify the request below. Answer with one of these labels: {{labels}}.

Request:
{{text}}`;

const LlmSchema = z.strictObject({
  ...endpoint,
  timeout_ms: timeout(500),
  prompt: z.string().default(DEFAULT_LLM_PROMPT),
  // Optional one-line description per label, shown to the model in {{labels}}.
  descriptions: z.record(z.string(), z.string().min(1)).optional(),
  // json_schema: OpenAI's response_format (vLLM, SGLang, Ollama); guided_choice: vLLM's.
  output: z.enum(["json_schema", "guided_choice"]).default("json_schema"),
  max_tokens: z.number().int().min(1).max(1024).default(20),
});

export const ClassifierSchema = z.strictObject({
  kind: z.enum(CLASSIFIER_KINDS),
  // label -> class, e.g. {fast-path: fast, general: balanced, high-compute: frontier}.
  labels: z.record(labelName, z.string()),
  // The label used when the classifier cannot tell: no match, low similarity, timeout, error.
  fallback: z.string(),
  // Characters of the prompt's last user message that are classified (and hashed for the cache).
  input_chars: z.number().int().min(16).max(100_000).default(2000),
  cache: z
    .strictObject({ size: z.number().int().min(0).max(1_000_000).default(10_000) })
    .default({ size: 10_000 }),
  breaker: z
    .strictObject({
      failures: z.number().int().min(1).max(1000).default(5),
      open_ms: z.number().int().min(100).max(600_000).default(10_000),
    })
    .default({ failures: 5, open_ms: 10_000 }),
  heuristic: HeuristicSchema.optional(),
  embeddings: EmbeddingsSchema.optional(),
  llm: LlmSchema.optional(),
});

export type ClassifierDoc = z.output<typeof ClassifierSchema>;
export type HeuristicDoc = z.output<typeof HeuristicSchema>;
export type RuleDoc = HeuristicDoc["rules"][number];
export type EmbeddingsDoc = z.output<typeof EmbeddingsSchema>;
export type LlmDoc = z.output<typeof LlmSchema>;

/** label -> class index (empty without a classifier). */
export function compileLabels(doc: Pick<PolicyDoc, "classes" | "classifier">): Map<string, number> {
  const m = new Map<string, number>();
  for (const [label, cls] of Object.entries(doc.classifier?.labels ?? {})) {
    const i = doc.classes.indexOf(cls);
    if (i >= 0) m.set(label, i);
  }
  return m;
}

/** Checks across the document; `env` supplies api_key_env values. Pure. */
export function classifierProblems(doc: PolicyDoc, env: NodeJS.ProcessEnv): Problem[] {
  const out: Problem[] = [];
  const error = (path: PathSeg[], message: string) => out.push({ severity: "error", path, message });
  const warn = (path: PathSeg[], message: string) => out.push({ severity: "warning", path, message });
  const c = doc.classifier;
  if (doc.classes.includes(AUTO_CLASS))
    error(
      ["classes"],
      `'${AUTO_CLASS}' is reserved: a feature with class: auto is labelled by the classifier`,
    );
  for (const [feature, f] of Object.entries(doc.features)) {
    if (f.class === AUTO_CLASS && c === undefined)
      error(["features", feature, "class"], "class: auto needs a classifier section");
  }
  if (c === undefined) return out;

  const labels = Object.keys(c.labels);
  const needLabel = (path: PathSeg[], l: string) => {
    if (!(l in c.labels))
      error(path, `'${l}' is not a label${didYouMean(l, labels)}; labels: ${labels.join(", ")}`);
  };
  if (labels.length === 0) error(["classifier", "labels"], "at least one label is needed");
  for (const [label, cls] of Object.entries(c.labels)) {
    if (!doc.classes.includes(cls))
      error(
        ["classifier", "labels", label],
        `'${cls}' is not a class${didYouMean(cls, doc.classes)}; classes: ${doc.classes.join(", ")}`,
      );
  }
  needLabel(["classifier", "fallback"], c.fallback);

  for (const kind of CLASSIFIER_KINDS) {
    if (kind === c.kind && c[kind] === undefined)
      error(["classifier", kind], `kind ${kind} needs a classifier.${kind} section`);
    if (kind !== c.kind && c[kind] !== undefined)
      warn(["classifier", kind], `classifier.${kind} is not used: kind is ${c.kind}`);
  }
  c.heuristic?.rules.forEach((r, i) => {
    needLabel(["classifier", "heuristic", "rules", i, "label"], r.label);
  });
  if (c.embeddings !== undefined) {
    const e = c.embeddings;
    for (const l of Object.keys(e.examples)) needLabel(["classifier", "embeddings", "examples", l], l);
    for (const l of labels)
      if (l !== c.fallback && e.examples[l] === undefined)
        warn(["classifier", "embeddings", "examples"], `label '${l}' has no examples and is never chosen`);
    endpointProblems(doc, ["classifier", "embeddings"], e, env, error);
  }
  if (c.llm !== undefined) {
    const l = c.llm;
    if (!l.prompt.includes("{{text}}"))
      error(
        ["classifier", "llm", "prompt"],
        "the prompt template must contain {{text}} (the request's text)",
      );
    for (const d of Object.keys(l.descriptions ?? {})) needLabel(["classifier", "llm", "descriptions", d], d);
    endpointProblems(doc, ["classifier", "llm"], l, env, error);
  }
  return out;
}

function endpointProblems(
  doc: PolicyDoc,
  path: PathSeg[],
  e: {
    url?: string | undefined;
    pool?: string | undefined;
    model?: string | undefined;
    api_key_env?: string | undefined;
  },
  env: NodeJS.ProcessEnv,
  error: (path: PathSeg[], message: string) => void,
): void {
  if ((e.url === undefined) === (e.pool === undefined))
    error(path, "name the endpoint with url or pool (one of them)");
  if (e.pool !== undefined && doc.pools[e.pool] === undefined)
    error([...path, "pool"], `unknown pool '${e.pool}'${didYouMean(e.pool, Object.keys(doc.pools))}`);
  if (e.url !== undefined && e.model === undefined) error(path, "model is required with url");
  if (e.api_key_env !== undefined && (env[e.api_key_env] ?? "") === "")
    error([...path, "api_key_env"], `environment variable ${e.api_key_env} is not set or empty`);
}
