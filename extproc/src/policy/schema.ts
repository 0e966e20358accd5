// The policy file's shape. Strict everywhere: an unknown key is an error, so a typo never
// silently turns into a default. Cross-references (a ladder naming an unknown pool, ...)
// are checked afterwards in cross-check.ts, where the whole document is known.
import { isIP } from "node:net";
import { z } from "zod";
import { ClassifierSchema } from "./classifier.js";
import { DEFAULT_FLEET, FleetSchema } from "./fleet.js";
import { ModelsSchema } from "./models.js";

const NAME = /^[a-z][a-z0-9_-]{0,47}$/;
const name = (what: string) =>
  z.string().regex(NAME, `${what} must be lowercase letters, digits, '-' or '_', starting with a letter`);

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not a valid HTTP header name")
  .transform((h) => h.toLowerCase());

export const EFFORTS = ["none", "minimal", "low", "medium", "high"] as const;
export type Effort = (typeof EFFORTS)[number];

const HeadersSchema = z.strictObject({
  feature: headerName.default("x-llm-feature"),
  tier: headerName.default("x-llm-tier"),
  trial: headerName.default("x-llm-trial"),
  quota_used: headerName.default("x-llm-quota-used"),
  vision: headerName.default("x-llm-vision"),
  site: headerName.default("x-llm-site"),
  latency_budget_ms: headerName.default("x-llm-latency-budget-ms"),
  // A label the caller names (classifier.labels), used instead of classifying the content.
  label: headerName.default("x-llm-label"),
});

const FeatureSchema = z.strictObject({
  class: z.string(),
  cap: z.string().optional(),
  floor: z.string().optional(),
});

const shift = z.number().int().min(-10).max(10);

const QuotaBandSchema = z.strictObject({
  above: z.number().min(0),
  shift,
});

const ModifiersSchema = z.strictObject({
  tiers: z.record(name("tier"), shift).default({}),
  trial: shift.default(0),
  quota: z.array(QuotaBandSchema).default([]),
});

const weight = z.number();
// One ladder step: pool name -> weight, e.g. {qwen-small: 70, deepseek-flash: 30}.
const StepSchema = z.record(z.string(), weight);

const BackendSchema = z.strictObject({
  address: z.string().regex(/^[^\s:]+:\d{1,5}$/, "address must be host:port"),
  // Shown in the log line, metrics and /status instead of the address (e.g. dub-1).
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "a backend name is letters, digits and . _ : - (up to 64)")
    .optional(),
  weight: z.number().int().min(1).max(128).default(1),
});

const CapabilitiesSchema = z.strictObject({
  vision: z.boolean().default(false),
  tools: z.boolean().default(true),
  context_window: z.number().int().positive().optional(),
  max_output_tokens: z.number().int().positive().optional(),
});

const effortBudgets = z
  .strictObject({
    minimal: z.number().int().nonnegative().optional(),
    low: z.number().int().nonnegative().optional(),
    medium: z.number().int().nonnegative().optional(),
    high: z.number().int().nonnegative().optional(),
  })
  .optional();

const ReasoningSchema = z.strictObject({
  adapter: z.enum(["qwen3", "deepseek", "passthrough", "strip"]).default("passthrough"),
  // Keep the top-level reasoning_effort field; default: true for passthrough, false otherwise.
  forward_reasoning_effort: z.boolean().optional(),
  effort_budgets: effortBudgets,
  // Effort used when the client sends none; absent = leave the template's default alone.
  default_effort: z.enum(EFFORTS).optional(),
  // deepseek: client effort -> the value the template takes (e.g. {low: low, high: max}).
  // partialRecord: zod 4's record over an enum demands every key; a map names only some.
  effort_map: z.partialRecord(z.enum(EFFORTS), z.string().min(1)).optional(),
});

const PriceSchema = z.strictObject({
  input_per_mtok: z.number().nonnegative(),
  output_per_mtok: z.number().nonnegative(),
});

const PoolSchema = z.strictObject({
  served_model: z.string().min(1),
  backends: z.array(BackendSchema).min(1, "a pool needs at least one backend"),
  capabilities: CapabilitiesSchema.default({ vision: false, tools: true }),
  reasoning: ReasoningSchema.default({ adapter: "passthrough" }),
  price: PriceSchema.optional(),
});

const RetrySchema = z.strictObject({
  retriable_status_codes: z.array(z.number().int().min(400).max(599)).default([429, 502, 503, 504]),
  attempts_per_pool: z.number().int().min(1).max(5).default(2),
  per_try_timeout_ms: z.number().int().min(100).max(600_000).default(30_000),
});

const LimitsSchema = z.strictObject({
  max_body_bytes: z
    .number()
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  // Bodies this large are decided in a worker thread, off the loop that answers small requests.
  offload_body_bytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  // Big bodies waiting for the worker beyond this many bytes: new ones are shed with a 503.
  max_queued_body_bytes: z
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
});

const ResponseSchema = z.strictObject({
  // Adds x-switchyard-class / x-switchyard-pool to responses so clients can see what served them.
  decision_headers: z.boolean().default(true),
});

/** An IPv4 or IPv6 address with an optional /prefix, e.g. 10.0.0.0/8, ::1, fd00::/8. */
const cidr = z
  .string()
  .refine((s) => parseCidr(s) !== undefined, "not an IP address or CIDR range (e.g. 10.0.0.0/8)");

export function parseCidr(
  s: string,
): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const [address, bits, extra] = s.split("/");
  if (address === undefined || extra !== undefined) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

// Who may set routing headers. Absent: every caller (the policy's own choice; `check` warns).
const TrustSchema = z
  .strictObject({
    // Callers whose direct connection to Envoy comes from these ranges.
    sources: z.array(cidr).default([]),
    // Or callers that send this header with the secret held in this environment variable.
    secret: z
      .strictObject({
        header: headerName,
        env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not an environment variable name"),
      })
      .optional(),
  })
  .refine((t) => t.sources.length > 0 || t.secret !== undefined, "trust needs sources, a secret, or both");

export const PolicySchema = z.strictObject({
  version: z.literal(1),
  headers: HeadersSchema.default(HeadersSchema.parse({})),
  classes: z.array(name("class")).min(1, "at least one class is needed"),
  default_class: z.string(),
  features: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "feature names are lowercase"), FeatureSchema)
    .default({}),
  modifiers: ModifiersSchema.default({ tiers: {}, trial: 0, quota: [] }),
  ladders: z.record(z.string(), z.array(StepSchema)),
  pools: z.record(name("pool"), PoolSchema),
  retry: RetrySchema.default(RetrySchema.parse({})),
  limits: LimitsSchema.default(LimitsSchema.parse({})),
  response: ResponseSchema.default({ decision_headers: true }),
  models: ModelsSchema.default(ModelsSchema.parse({})),
  trust: TrustSchema.optional(),
  classifier: ClassifierSchema.optional(),
  fleet: FleetSchema.default(DEFAULT_FLEET),
});

export type PolicyDoc = z.output<typeof PolicySchema>;
export type PoolDoc = PolicyDoc["pools"][string];
export type ReasoningDoc = PoolDoc["reasoning"];
