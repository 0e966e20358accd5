// `switchyard check FILE`: exit 0 with a one-screen summary, or 1 with every problem.

import { enumeratePaths } from "../envoy/paths.js";
import type { Policy } from "../policy/compile.js";
import { loadPolicyFile } from "../policy/load.js";
import { formatProblem } from "../policy/problems.js";

export async function runCheck(file: string, out: (s: string) => void): Promise<number> {
  const result = await loadPolicyFile(file);
  for (const w of result.warnings) out(formatProblem(file, w));
  if (!result.ok) {
    for (const e of result.errors) out(formatProblem(file, e));
    out(`${file}: ${result.errors.length} error(s), ${result.warnings.length} warning(s)`);
    return 1;
  }
  out(summarize(file, result.policy));
  return 0;
}

export function summarize(file: string, p: Policy): string {
  const d = p.doc;
  const lines = [`${file}: OK (policy ${p.hash})`];
  lines.push(`  classes   ${d.classes.join(" < ")} (default ${d.default_class})`);
  const feats = Object.entries(d.features).map(([n, f]) => {
    const extra = [f.cap ? `cap ${f.cap}` : "", f.floor ? `floor ${f.floor}` : ""].filter(Boolean).join(", ");
    return `${n}→${f.class}${extra ? ` (${extra})` : ""}`;
  });
  lines.push(`  features  ${feats.join("  ") || "(none)"}`);
  const tiers = Object.entries(d.modifiers.tiers).map(([t, s]) => `${t} ${s >= 0 ? "+" : ""}${s}`);
  const quota = p.quotaBands.map((b) => `>${b.above}% ${b.shift}`).join(", ");
  lines.push(
    `  modifiers tiers: ${tiers.join(", ") || "-"}; trial ${d.modifiers.trial}; quota: ${quota || "-"}`,
  );
  const c = d.classifier;
  if (c !== undefined) {
    const labels = Object.entries(c.labels).map(([l, cls]) => `${l}→${cls}`);
    const at = c[c.kind] as { url?: string; pool?: string } | undefined;
    const where = at?.url ?? (at?.pool === undefined ? "" : `pool ${at.pool}`);
    lines.push(
      `  classify  ${c.kind}${where ? ` (${where})` : ""}: ${labels.join("  ")}; fallback ${c.fallback}${c.kind === "heuristic" ? "" : `; cache ${c.cache.size}`}`,
    );
  }
  for (const c of d.classes) {
    const steps = (d.ladders[c] ?? []).map(
      (s) =>
        `{${Object.entries(s)
          .map(([pool, w]) => `${pool} ${w}`)
          .join(", ")}}`,
    );
    lines.push(`  ladder    ${c}: ${steps.join(" → ")}`);
  }
  for (const [name, pool] of Object.entries(d.pools)) {
    const caps = [pool.capabilities.vision ? "vision" : "", pool.capabilities.tools ? "tools" : ""].filter(
      Boolean,
    );
    if (pool.capabilities.context_window) caps.push(`ctx ${pool.capabilities.context_window}`);
    lines.push(
      `  pool      ${name}: ${pool.served_model}, ${pool.backends.length} backend(s), ${pool.reasoning.adapter}, ${caps.join(" ") || "no caps"}`,
    );
  }
  const r = d.retry;
  lines.push(
    `  retry     ${r.attempts_per_pool} attempt(s) per pool on ${r.retriable_status_codes.join("/")}, ${r.per_try_timeout_ms} ms to first byte; body limit ${d.limits.max_body_bytes} bytes`,
  );
  const paths = enumeratePaths(p).length;
  lines.push(`  envoy     ${paths} path cluster(s) (one per ladder path a request can take)`);
  return lines.join("\n");
}
