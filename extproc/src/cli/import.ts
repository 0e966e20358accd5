// `switchyard import FILE [--out POLICY]`: a jolteon config in, a switchyard policy out (stdout
// or POLICY), with a summary on stderr of the placeholders `check` will ask to fill in.
import { readFile, writeFile } from "node:fs/promises";
import { parsePolicy } from "../policy/load.js";
import { formatProblem } from "../policy/problems.js";
import { UsageError } from "./explain.js";
import { convertJolteon } from "./jolteon.js";

export async function runImport(
  file: string,
  out: string | undefined,
  print: (s: string) => void,
  tell: (s: string) => void,
): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let converted: ReturnType<typeof convertJolteon>;
  try {
    converted = convertJolteon(text);
  } catch (err) {
    tell(`switchyard import: ${file}: ${(err as Error).message}`);
    return 1;
  }
  if (out === undefined) print(converted.yaml);
  else await writeFile(out, converted.yaml);
  for (const n of converted.notes) tell(`import: ${n}`);
  const target = out ?? "the policy";
  if (converted.placeholders.length > 0)
    tell(
      `import: fill in ${converted.placeholders.length} placeholder(s): ${converted.placeholders.join(", ")}`,
    );
  // What check will say about the result, placeholders included.
  const result = parsePolicy(converted.yaml);
  const problems = result.ok ? result.warnings : [...result.errors, ...result.warnings];
  for (const p of problems) tell(formatProblem(target, p));
  tell(`import: then run: switchyard check ${out ?? "POLICY"}`);
  return 0;
}
