// docs/policy.md keeps up with the code: every policy key (walked from the zod schema), every
// adapter and effort, and every client error code are documented there.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ZodType, z } from "zod";
import { readRepoFile } from "../../../test/fixtures/fixtures.js";
import { ERRORS } from "../errors.js";
import { EFFORTS, PolicySchema } from "./schema.js";

const DOC = readRepoFile("docs/policy.md");

function unwrap(s: ZodType): ZodType {
  let cur = s;
  for (;;) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as ZodType;
    else if (cur instanceof z.ZodPipe) cur = cur.in as ZodType;
    else return cur;
  }
}

/** Every object key in the schema, with its dotted path for messages. */
function schemaKeys(schema: ZodType, path = ""): [string, string][] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, ZodType>).flatMap(([k, v]) => [
      [k, `${path}${k}`] as [string, string],
      ...schemaKeys(v, `${path}${k}.`),
    ]);
  }
  if (s instanceof z.ZodRecord) return schemaKeys(s.valueType as ZodType, `${path}*.`);
  if (s instanceof z.ZodArray) return schemaKeys(s.element as ZodType, `${path}[].`);
  return [];
}

test("the schema walk finds nested keys (sanity check of this test)", () => {
  const paths = schemaKeys(PolicySchema).map(([, p]) => p);
  assert.ok(paths.includes("pools.*.reasoning.effort_budgets.minimal"), paths.join(" "));
  assert.ok(paths.includes("modifiers.quota.[].above"), paths.join(" "));
  assert.ok(paths.length > 40, String(paths.length));
});

test("every policy key is documented in docs/policy.md", () => {
  const missing = schemaKeys(PolicySchema)
    .filter(([key]) => !DOC.includes(`\`${key}\``))
    .map(([, path]) => path);
  assert.deepEqual(missing, []);
});

test("every adapter and effort is documented", () => {
  const reasoning = unwrap(PolicySchema.shape.pools.valueType.shape.reasoning) as z.ZodObject;
  const names = (unwrap(reasoning.shape.adapter as ZodType) as z.ZodEnum).options as string[];
  assert.deepEqual(names, ["qwen3", "deepseek", "passthrough", "strip"]);
  for (const n of names) assert.ok(DOC.includes(`**\`${n}\`**`), `adapter ${n}`);
  for (const e of EFFORTS) assert.ok(DOC.includes(`\`${e}\``), `effort ${e}`);
});

test("every client error code is in the errors table with its status and type", () => {
  for (const [code, def] of Object.entries(ERRORS)) {
    const row = new RegExp(
      `^\\|\\s*\`${code}\`\\s*\\|\\s*${def.status}\\s*\\|\\s*\`${def.type}\`\\s*\\|`,
      "m",
    );
    assert.match(DOC, row, `error ${code}`);
  }
});
