// `switchyard explain FILE [-H "Name: value"]... [--body FILE] [--seed N] [--json]`:
// the whole trace of one decision, and the body each pool on the path would receive.
import { readFile } from "node:fs/promises";
import type { HeaderBag } from "../facts/types.js";
import type { Policy } from "../policy/compile.js";
import { rewriteForPool } from "../reasoning/render-body.js";
import { decideRead, type Evaluation, evaluate, readRequest, seededRandom } from "../routing/evaluate.js";
import { type FleetView, parseFleetJson } from "../routing/fleet-view.js";
import {
  type Classification,
  classificationJson,
  classificationLine,
  classifyForExplain,
} from "./explain-classify.js";

export const DEFAULT_BODY = JSON.stringify({
  model: "default",
  messages: [{ role: "user", content: "Hello" }],
});

export class UsageError extends Error {}

/** `--fleet FILE`: a /status document (or its `fleet` member), as the decision's FleetView. */
export async function readFleetArg(file: string): Promise<FleetView> {
  try {
    return parseFleetJson(JSON.parse(await readFile(file, "utf8")));
  } catch (err) {
    throw new UsageError(`cannot read --fleet ${file}: ${(err as Error).message}`);
  }
}

export function parseHeaderArgs(args: readonly string[]): Record<string, string> {
  const bag: Record<string, string> = {};
  for (const a of args) {
    const colon = a.indexOf(":");
    if (colon <= 0) throw new UsageError(`-H wants "Name: value", got ${JSON.stringify(a)}`);
    const name = a.slice(0, colon).trim().toLowerCase();
    if (bag[name] === undefined) bag[name] = a.slice(colon + 1).trim();
  }
  return bag;
}

export async function readBodyArg(file: string | undefined): Promise<string> {
  if (file === undefined) return DEFAULT_BODY;
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --body ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

export function explainJson(policy: Policy, ev: Evaluation, classified?: Classification): object {
  if (ev.kind === "bad_body") return { error: pickError(ev.error), reasons: ev.reasons.map((r) => r.short) };
  if (classified !== undefined)
    return { classification: classificationJson(classified), ...(explainJson(policy, ev) as object) };
  const d = ev.decision;
  const reasons = d.reasons.map((r) => r.short);
  if (d.kind === "reject")
    return { class: d.className, base_from: d.base, error: pickError(d.error), reasons };
  const bodies: Record<string, object> = {};
  for (const pool of d.path) {
    const body = bodyFor(policy, ev, pool);
    if (body) bodies[pool] = body;
  }
  return { class: d.className, base_from: d.base, ladder: d.ladder, path: d.path, bodies, reasons };
}

/** The body `pool` would receive, rendered by the data plane's own rewriter. */
function bodyFor(
  policy: Policy,
  ev: Extract<Evaluation, { kind: "decided" }>,
  pool: string,
): object | undefined {
  const doc = policy.pools.get(pool);
  if (!doc) return undefined;
  return JSON.parse(rewriteForPool(ev.raw, ev.body, ev.facts.body, doc).body.toString("utf8")) as object;
}

function pickError(e: { status: number; code: string; message: string }) {
  return { status: e.status, code: e.code, message: e.message };
}

export function explainText(policy: Policy, ev: Evaluation, classified?: Classification): string {
  const out: string[] = [];
  if (ev.kind === "bad_body") {
    out.push(`rejected ${ev.error.status} ${ev.error.code}: ${ev.error.message}`);
    return out.join("\n");
  }
  const { headers: h, body: b } = ev.facts;
  const show = (v: unknown) => (v === undefined ? "-" : String(v));
  out.push(
    `facts     feature=${show(h.feature)} tier=${show(h.tier)} trial=${h.trial} quota_used=${show(h.quotaUsed)} vision=${h.vision} site=${show(h.site)} latency_budget_ms=${show(h.latencyBudgetMs)}${ev.facts.trusted ? "" : " (caller not trusted: routing headers ignored)"}`,
  );
  out.push(
    `          model=${show(b.model)} stream=${b.stream} images=${b.imageCount} tools=${b.hasTools} reasoning_effort=${show(b.reasoningEffort)} ${b.maxTokensField ?? "max_tokens"}=${show(b.maxTokens)} prompt≈${b.promptTokens} tokens (${b.bytes} bytes)`,
  );
  if (classified !== undefined) out.push(classificationLine(policy, classified));
  out.push("trace");
  for (const r of ev.decision.reasons) out.push(`  ${r.step.padEnd(9)} ${r.text}`);
  const d = ev.decision;
  out.push(`class     ${d.className} (base class from ${BASE_LABEL[d.base]})`);
  if (d.kind === "reject") {
    out.push(`rejected  ${d.error.status} ${d.error.code}: ${d.error.message}`);
    return out.join("\n");
  }
  out.push(`ladder    ${d.className} (after filters)`);
  d.ladder.forEach((step, i) => {
    out.push(`  ${i + 1}. ${step.map((p) => `${p.pool} ${p.weight}`).join(", ")}`);
  });
  out.push(`path      ${d.path.join(" → ")}`);
  for (const pool of d.path) {
    const body = bodyFor(policy, ev, pool);
    if (!body) continue;
    out.push(`body for ${pool} (${policy.pools.get(pool)?.reasoning.adapter}):`);
    out.push(indent(JSON.stringify(body, elideLong, 2)));
  }
  return out.join("\n");
}

const BASE_LABEL = {
  feature: "the feature header",
  model: "the model name",
  label: "the classifier's label",
  default: "default_class",
} as const;

// Base64 images would flood the terminal; the JSON output keeps them whole.
function elideLong(_key: string, value: unknown): unknown {
  return typeof value === "string" && value.length > 200
    ? `${value.slice(0, 60)}… (${value.length} chars)`
    : value;
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** As runExplainEval, with the classifier's step when the request needs a label. */
export async function runExplain(
  policy: Policy,
  headers: HeaderBag,
  text: string,
  seed: number | undefined,
  source?: string,
  /** A fleet snapshot (`--fleet FILE`: /status output); absent: no live data. */
  view?: FleetView,
): Promise<{ ev: Evaluation; classified?: Classification }> {
  const rand = seed === undefined ? Math.random : seededRandom(seed);
  const read = readRequest(policy, headers, Buffer.from(text), source);
  if (read.kind === "bad_body") return { ev: read };
  const classified = await classifyForExplain(policy, read);
  return { ev: decideRead(policy, read, rand, classified?.label, view), classified };
}

export function runExplainEval(
  policy: Policy,
  headers: HeaderBag,
  text: string,
  seed: number | undefined,
  source?: string,
): Evaluation {
  const rand = seed === undefined ? Math.random : seededRandom(seed);
  return evaluate(policy, headers, Buffer.from(text), rand, source);
}
