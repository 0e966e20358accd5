// Reads a policy: YAML (with positions) -> zod shape check -> cross-references -> Policy.
// Every problem carries the YAML path and line:column; nothing here throws on bad input.
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { type ZodType, z } from "zod";
import { backendNameProblems } from "./backend-names.js";
import { classifierProblems } from "./classifier.js";
import { compilePolicy, type Policy } from "./compile.js";
import { crossCheck } from "./cross-check.js";
import { locate } from "./locate.js";
import { modelProblems } from "./models.js";
import { placeholderProblems } from "./placeholders.js";
import { didYouMean, type PathSeg, type Problem } from "./problems.js";
import { PolicySchema } from "./schema.js";
import { trustProblems } from "./trust-check.js";

export type LoadResult =
  | { ok: true; policy: Policy; warnings: Problem[] }
  | { ok: false; errors: Problem[]; warnings: Problem[] };

export async function loadPolicyFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const message = `cannot read policy file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    return { ok: false, errors: [{ severity: "error", path: [], message }], warnings: [] };
  }
  return parsePolicy(text);
}

/** `env` supplies trust.secret's value (the environment, for a running sidecar). */
export function parsePolicy(text: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const lines = new LineCounter();
  const yamlDoc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (yamlDoc.errors.length > 0) {
    const errors = yamlDoc.errors.map((e): Problem => {
      const pos = lines.linePos(e.pos[0]);
      const message = `invalid YAML: ${e.message.split("\n")[0]}`;
      return { severity: "error", path: [], message, line: pos.line, col: pos.col };
    });
    return { ok: false, errors, warnings: [] };
  }
  const at = (p: Problem, key = false): Problem => {
    const pos = locate(yamlDoc.contents, lines, p.path, { key });
    return pos === undefined ? p : { ...p, line: pos.line, col: pos.col };
  };

  const parsed = PolicySchema.safeParse(yamlDoc.toJS());
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap((issue) =>
      shapeProblems(issue).map((p) => at(p, issue.code === "unrecognized_keys")),
    );
    return { ok: false, errors: sortByLine(errors), warnings: [] };
  }
  const problems = [
    ...crossCheck(parsed.data),
    ...trustProblems(parsed.data, env),
    ...modelProblems(parsed.data),
    ...backendNameProblems(parsed.data),
    ...placeholderProblems(parsed.data),
    ...classifierProblems(parsed.data, env),
  ].map((p) => at(p, isKeyProblem(p)));
  const errors = problems.filter((p) => p.severity === "error");
  const warnings = sortByLine(problems.filter((p) => p.severity === "warning"));
  if (errors.length > 0) return { ok: false, errors: sortByLine(errors), warnings };
  return { ok: true, policy: compilePolicy(parsed.data, text, env), warnings };
}

function shapeProblems(issue: z.core.$ZodIssue): Problem[] {
  const path = issue.path.filter((s): s is PathSeg => typeof s !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const known = keysAt(PolicySchema, path);
    return issue.keys.map((k) => ({
      severity: "error",
      path: [...path, k],
      message: `unknown key '${k}'${didYouMean(k, known)}`,
    }));
  }
  if (issue.code === "invalid_type" && issue.message.includes("received undefined")) {
    return [{ severity: "error", path, message: `required key '${String(path.at(-1))}' is missing` }];
  }
  return [{ severity: "error", path, message: issue.message }];
}

// Unknown-key problems point at the key itself; value problems at the value.
function isKeyProblem(p: Problem): boolean {
  return p.path[0] === "ladders" && p.path.length === 4;
}

/** The keys an object schema at `path` accepts, for "did you mean". */
function keysAt(schema: ZodType, path: readonly PathSeg[]): string[] {
  let s: ZodType | undefined = unwrap(schema);
  for (const seg of path) {
    if (s instanceof z.ZodObject) s = unwrap(s.shape[String(seg)] as ZodType | undefined);
    else if (s instanceof z.ZodRecord) s = unwrap(s.valueType as ZodType);
    else if (s instanceof z.ZodArray) s = unwrap(s.element as ZodType);
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: ZodType | undefined): ZodType | undefined {
  let cur = s;
  for (;;) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as ZodType;
    else if (cur instanceof z.ZodPipe) cur = cur.in as ZodType;
    else return cur;
  }
}

function sortByLine(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}
