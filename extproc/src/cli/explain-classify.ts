// explain's classification step: for a request the classifier would label, run it as the
// sidecar does (the heuristic at once; embeddings embed the policy's examples first, then the
// text; llm asks the model), or take the label given with --label (as if sent in the label
// header). Shown before the trace, with the scores per label where the kind has them.
import { performance } from "node:perf_hooks";
import type { Labelled } from "../classify/classifier.js";
import { buildClassifier } from "../classify/classifiers.js";
import type { ClassifierKind } from "../policy/classifier.js";
import type { Policy } from "../policy/compile.js";
import { needsLabel } from "../routing/class-math.js";
import type { Reading } from "../routing/evaluate.js";

export interface Classification {
  kind: ClassifierKind;
  label: Labelled;
  ms: number;
}

/** The label the sidecar would give this request, or undefined when no label is needed. */
export async function classifyForExplain(
  policy: Policy,
  read: Extract<Reading, { kind: "read" }>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Classification | undefined> {
  if (!needsLabel(policy, read.facts)) return undefined;
  const c = buildClassifier(policy, { env });
  if (c === undefined) return undefined;
  try {
    let prepareError: string | undefined;
    if (read.facts.headers.label === undefined)
      await c.prepare().catch((err: Error) => {
        prepareError = err.message;
      });
    const t0 = performance.now();
    const label = await c.label(read.body, read.facts);
    const ms = performance.now() - t0;
    if (prepareError !== undefined) label.detail = prepareError;
    return { kind: c.kind, label, ms };
  } finally {
    c.close();
  }
}

export function classificationLine(policy: Policy, c: Classification): string {
  const l = c.label;
  const cls = policy.classes[policy.labels.get(l.name) ?? -1] ?? "?";
  const from = l.source === "fallback" ? `fallback: ${l.why}${l.detail ? `, ${l.detail}` : ""}` : l.source;
  const labels = [...policy.labels.keys()];
  const name = c.kind === "embeddings" ? "similarity" : "score";
  const scores = l.scores?.map((s, i) => `${labels[i]} ${Number.isFinite(s) ? round(s) : "-"}`).join(", ");
  return `classify  ${c.kind}: label ${l.name} (${from}, ${c.ms.toFixed(1)} ms) → class ${cls}${scores ? `; ${name}: ${scores}` : ""}`;
}

export function classificationJson(c: Classification): object {
  const l = c.label;
  return {
    kind: c.kind,
    label: l.name,
    source: l.source,
    ...(l.why === undefined ? {} : { why: l.why }),
    ...(l.detail === undefined ? {} : { detail: l.detail }),
    ...(l.scores === undefined
      ? {}
      : { scores: l.scores.map((s) => (Number.isFinite(s) ? round(s) : null)) }),
    ms: Math.round(c.ms * 10) / 10,
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
