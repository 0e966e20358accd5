// Virtual models: one per class (prefix + class name, e.g. `switchyard/frontier`) plus `auto`,
// listed by GET /v1/models, and aliases that name a class too. A request whose `model` is one
// of them gets that class as its base (routing/class-math.ts); anything else routes as before.
import { z } from "zod";
import type { Problem } from "./problems.js";
import type { PolicyDoc } from "./schema.js";

/** The id that asks for no class: the feature header or default_class decides. */
export const AUTO_MODEL = "auto";

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;
const modelId = z.string().regex(MODEL_ID, "a model id is letters, digits and . _ : / @ + - (up to 128)");

export const ModelsSchema = z.strictObject({
  // Each class's model id is prefix + class name; "" makes the class name itself the id.
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._:/@+-]{0,64}$/, "a prefix is letters, digits and . _ : / @ + - (up to 64)")
    .default("switchyard/"),
  // Further names for a class, e.g. {gpt-4o-mini: fast}: a client that sends one gets that class.
  aliases: z.record(modelId, z.string()).default({}),
});

export type ModelsDoc = z.output<typeof ModelsSchema>;

/** Each class's virtual model id, in class order. */
export function classModelIds(doc: Pick<PolicyDoc, "classes" | "models">): string[] {
  return doc.classes.map((c) => `${doc.models.prefix}${c}`);
}

/** Model id or alias -> class index, for the decision. */
export function compileModels(doc: Pick<PolicyDoc, "classes" | "models">): Map<string, number> {
  const m = new Map<string, number>();
  for (const [i, id] of classModelIds(doc).entries()) m.set(id, i);
  for (const [alias, cls] of Object.entries(doc.models.aliases)) {
    const i = doc.classes.indexOf(cls);
    if (i >= 0 && !m.has(alias)) m.set(alias, i);
  }
  return m;
}

/** Aliases must name a class and must not shadow a class's id or `auto`. */
export function modelProblems(doc: PolicyDoc): Problem[] {
  const out: Problem[] = [];
  const ids = new Set(classModelIds(doc));
  for (const [alias, cls] of Object.entries(doc.models.aliases)) {
    const path = ["models", "aliases", alias];
    if (!doc.classes.includes(cls))
      out.push({
        severity: "error",
        path,
        message: `'${cls}' is not a class; classes: ${doc.classes.join(", ")}`,
      });
    if (alias === AUTO_MODEL || ids.has(alias))
      out.push({
        severity: "error",
        path,
        message: `'${alias}' is already ${alias === AUTO_MODEL ? "the automatic model" : "a class's model id"}`,
      });
  }
  if (ids.has(AUTO_MODEL))
    out.push({
      severity: "error",
      path: ["models", "prefix"],
      message: `a class's model id would be '${AUTO_MODEL}', which means "no class"`,
    });
  const served = new Set(Object.values(doc.pools).map((p) => p.served_model));
  for (const id of [...ids, ...Object.keys(doc.models.aliases)])
    if (served.has(id))
      out.push({
        severity: "warning",
        path: ["models"],
        message: `'${id}' is also a pool's served_model: a request naming it gets a class, not that pool`,
      });
  return out;
}

/** GET /v1/models in OpenAI's list format: `auto` first, then one model per class. */
export function modelList(doc: Pick<PolicyDoc, "classes" | "models">): object {
  const model = (id: string) => ({ id, object: "model", created: 0, owned_by: "switchyard" });
  return { object: "list", data: [model(AUTO_MODEL), ...classModelIds(doc).map(model)] };
}
