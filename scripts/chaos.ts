// The chaos report (not a test): the counted fault scenarios of issue 10 against a local-style
// stack on loopback (the pinned Envoy, two switchyard sidecars, simulated backends), each under
// an open loop of 200 requests/s, half of them streaming. For every scenario it prints the
// responses by outcome and compares them with the log lines the sidecars wrote (matched by
// x-request-id): missing lines, and lines written twice.
//
//   npm run chaos                                   # every scenario, 20 s each, 200 requests/s
//   npm run chaos -- --only restart,kill9 --duration-s 30 --rate 200 --sidecars 1
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { LocalStack } from "../devkit/local-stack.js";
import { countOutcomes, OpenLoop } from "../devkit/open-loop.js";
import { envoyStats, freePorts, ROOT } from "../devkit/processes.js";
import { type SimFleet, startSimFleet } from "../test/sim/sim-backend.js";

/** The stack a scenario acts on. */
interface Stack {
  local: LocalStack;
  sims: SimFleet;
  policyFile: string;
}

/** The e2e fleet (three pools of two), streams of ~100 ms so that a fault finds some in flight. */
function fleetSpecs() {
  const pool = (names: string[], servedModel: string) =>
    names.map((name) => ({ name, servedModel, ttftMs: 20, tokensPerSec: 200, tokens: 16 }));
  return [
    ...pool(["qs1", "qs2"], "Qwen/Qwen3-VL-8B-Instruct"),
    ...pool(["ql1", "ql2"], "Qwen/Qwen3-VL-235B-A22B-Instruct"),
    ...pool(["ds1", "ds2"], "deepseek-ai/DeepSeek-V4-Flash"),
  ];
}

/** test/fixtures/e2e-policy.yml with its `${addr:NAME}` placeholders filled from the fleet. */
async function policyFor(sims: SimFleet): Promise<string> {
  const template = await readFile(join(ROOT, "test", "fixtures", "e2e-policy.yml"), "utf8");
  return template.replace(/\$\{addr:([\w-]+)\}/g, (_m, name: string) => sims.byName(name).address);
}

async function startChaosStack(sidecars: number): Promise<Stack> {
  const sims = await startSimFleet(fleetSpecs());
  const dir = await mkdtemp(join(tmpdir(), "switchyard-chaos-"));
  const policyFile = join(dir, "policy.yml");
  await writeFile(policyFile, await policyFor(sims));
  const [listenPort, adminPort, ...ports] = (await freePorts(2 + 2 * sidecars)) as number[];
  const local = await LocalStack.start({
    policyFile,
    dir,
    listenPort: listenPort as number,
    adminPort: adminPort as number,
    sidecars: Array.from({ length: sidecars }, (_, i) => ({
      grpcPort: ports[2 * i] as number,
      httpPort: ports[2 * i + 1] as number,
    })),
  });
  return { local, sims, policyFile };
}

interface Scenario {
  key: string;
  title: string;
  /** Runs beside the load, which started `FAULT_AT_MS` earlier. */
  fault: (s: Stack) => Promise<void>;
}

const FAULT_AT_MS = 4_000;
/** The load goes on at least this long after the fault is over (restarts take a few seconds). */
const AFTER_FAULT_MS = 4_000;

async function reload(s: Stack, from: string, to: string): Promise<void> {
  const text = await readFile(s.policyFile, "utf8");
  if (!text.includes(from)) throw new Error(`the policy has no ${from}`);
  await writeFile(s.policyFile, text.replace(from, to));
}

/** The swap: the frontier ladder loses its middle step, the fast one gains a pool (new path clusters). */
const SWAP: [string, string][] = [
  [
    "    - { qwen-large: 100 }\n    - { deepseek-flash: 100 }\n    - { qwen-small: 100 }",
    "    - { qwen-large: 100 }\n    - { qwen-small: 100 }",
  ],
  ["fast:\n    - { qwen-small: 100 }", "fast:\n    - { qwen-small: 50, deepseek-flash: 50 }"],
];

const FAST = "fast:\n    - { qwen-small: 100 }";
const FAST_SPLIT = "fast:\n    - { qwen-small: 50, deepseek-flash: 50 }";

const SCENARIOS: Scenario[] = [
  {
    key: "backend",
    title: "kill a backend (ql1 refuses connections)",
    fault: async (s) => s.sims.byName("ql1").setMode("refuse"),
  },
  {
    key: "reload",
    title: "reload twice (policy file edited, then edited back)",
    fault: async (s) => {
      await reload(s, FAST, FAST_SPLIT);
      await delay(6_000);
      await reload(s, FAST_SPLIT, FAST);
    },
  },
  {
    key: "restart",
    title: "restart the sidecars (SIGTERM, one after the other)",
    fault: async (s) => {
      for (let i = 0; i < s.local.sidecars.length; i++) await s.local.restartSidecar(i, "SIGTERM");
    },
  },
  {
    key: "swap",
    title: "swap the policy by restarting the sidecars (new ladders)",
    fault: async (s) => {
      // A new file: the running sidecars keep the old policy until they are restarted.
      const swapped = join(dirname(s.policyFile), "policy-swapped.yml");
      const text = await readFile(s.policyFile, "utf8");
      for (const [from] of SWAP) if (!text.includes(from)) throw new Error(`the policy has no ${from}`);
      await writeFile(
        swapped,
        SWAP.reduce((t, [from, to]) => t.replace(from, to), text),
      );
      s.local.usePolicy(swapped);
      for (let i = 0; i < s.local.sidecars.length; i++) await s.local.restartSidecar(i, "SIGTERM");
    },
  },
  {
    key: "kill9",
    title: "kill -9 the sidecar reading the access log (a new one starts at once)",
    fault: async (s) => {
      const reader = s.local.sidecars.findIndex((p) => p.log().includes("reading Envoy's access log"));
      await s.local.restartSidecar(Math.max(reader, 0), "SIGKILL");
    },
  },
  {
    key: "down",
    title: "all backends down for 6 s",
    fault: async (s) => {
      await Promise.all(s.sims.backends.map((b) => b.setMode("refuse", { durationMs: 6_000 })));
    },
  },
];

interface Row {
  scenario: string;
  /** How long the load ran. */
  seconds: number;
  sent: number;
  outcomes: [string, number][];
  logLines: number;
  missing: number;
  duplicated: number;
  sampleMissing: string[];
  /** For each failed outcome, what the log line of one such request says. */
  failureDetails: string[];
  /** Envoy's counters for the sidecar cluster that moved during the scenario. */
  sidecarCluster: Record<string, number>;
}

/** The sidecar cluster's connection, health-check and outlier counters. */
const SIDECAR_STATS =
  "^cluster\\.switchyard_grpc\\.(outlier_detection\\.ejections_enforced_total|health_check\\.failure|upstream_cx_connect_fail|upstream_rq_pending_failure_eject|upstream_cx_destroy_remote_with_active_rq|upstream_rq_rx_reset)$";

function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k.replace("cluster.switchyard_grpc.", "")] = d;
  }
  return out;
}

/** Log lines (by request id) of this run's requests, from every sidecar that ever ran. */
function linesFor(s: Stack, tag: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of s.local.allSidecars()) {
    for (const l of p.jsonLines()) {
      const id = l.request_id;
      if (typeof id === "string" && id.startsWith(`${tag}-`)) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** Response details, flags and attempts of one logged request per failed outcome. */
function failureDetails(s: Stack, outcomes: Map<string, string>): string[] {
  const wanted = new Map<string, string>();
  for (const [id, o] of outcomes) if (o !== "200" && !wanted.has(o)) wanted.set(o, id);
  const byId = new Map<string, Record<string, unknown>>();
  const ids = new Set(wanted.values());
  for (const p of s.local.allSidecars())
    for (const l of p.jsonLines()) if (ids.has(l.request_id as string)) byId.set(l.request_id as string, l);
  return [...wanted].map(([o, id]) => {
    const l = byId.get(id);
    if (!l) return `${o}: ${id} has no log line`;
    const what = { details: l.response_details, flags: l.response_flags, attempts: l.attempt_list };
    return `${o}: ${id} ${JSON.stringify(what)}`;
  });
}

/** Waits until every request has its line, or the count has not moved for 3 s. */
async function settleLines(s: Stack, tag: string, sent: number): Promise<Map<string, number>> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const lines = linesFor(s, tag);
    if (lines.size >= sent) return lines;
    if (lines.size !== last) {
      last = lines.size;
      since = Date.now();
    } else if (Date.now() - since > 3_000) return lines;
    await delay(250);
  }
}

async function runScenario(s: Stack, sc: Scenario, rate: number, durationMs: number): Promise<Row> {
  const tag = `chaos-${sc.key}-${Date.now()}`;
  process.stderr.write(`chaos: ${sc.title}: ${rate} requests/s for ${durationMs / 1000} s\n`);
  const statsBefore = await envoyStats(s.local.adminUrl, SIDECAR_STATS);
  const loop = new OpenLoop({ url: s.local.url, rate, tag });
  const t0 = Date.now();
  loop.start();
  await delay(FAULT_AT_MS);
  await sc.fault(s);
  await delay(Math.max(durationMs - (Date.now() - t0), AFTER_FAULT_MS));
  const load = await loop.stop();
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  const lines = await settleLines(s, tag, load.sent);
  const missing = [...load.outcomes.keys()].filter((id) => !lines.has(id));
  let duplicated = 0;
  for (const n of lines.values()) duplicated += n - 1;
  // Back to a healthy fleet for the next scenario.
  await Promise.all(s.sims.backends.map((b) => b.setMode("ok")));
  return {
    scenario: sc.title,
    seconds,
    sent: load.sent,
    outcomes: countOutcomes(load.outcomes.values()),
    logLines: [...lines.values()].reduce((a, b) => a + b, 0),
    missing: missing.length,
    duplicated,
    sampleMissing: missing.slice(0, 5).map((id) => `${id} (${load.outcomes.get(id)})`),
    failureDetails: failureDetails(s, load.outcomes),
    sidecarCluster: moved(statsBefore, await envoyStats(s.local.adminUrl, SIDECAR_STATS)),
  };
}

function table(rows: Row[]): string {
  const head = ["scenario", "s", "requests", "responses by outcome", "log lines", "missing", "twice"];
  const body = rows.map((r) => [
    r.scenario,
    String(r.seconds),
    String(r.sent),
    r.outcomes.map(([o, n]) => `${o}: ${n}`).join(", "),
    String(r.logLines),
    String(r.missing),
    String(r.duplicated),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      rate: { type: "string", default: "200" },
      "duration-s": { type: "string", default: "20" },
      sidecars: { type: "string", default: "2" },
    },
  });
  const only = values.only?.split(",");
  const chosen = SCENARIOS.filter((s) => only === undefined || only.includes(s.key));
  if (chosen.length === 0) throw new Error(`--only names none of ${SCENARIOS.map((s) => s.key).join(", ")}`);
  const rate = Number(values.rate);
  const durationMs = Number(values["duration-s"]) * 1000;
  const stack = await startChaosStack(Number(values.sidecars));
  const rows: Row[] = [];
  try {
    for (const sc of chosen) rows.push(await runScenario(stack, sc, rate, durationMs));
  } finally {
    await stack.local.stop();
    await stack.sims.close();
  }
  const report = table(rows);
  console.log(
    `\n${values.sidecars} sidecar(s), ${rate} requests/s (half streaming), at least ${durationMs / 1000} s per scenario, the fault at ${FAULT_AT_MS / 1000} s\n`,
  );
  console.log(report);
  for (const r of rows) {
    if (r.sampleMissing.length > 0)
      console.log(`missing lines, ${r.scenario}: ${r.sampleMissing.join(", ")}`);
    for (const d of r.failureDetails) console.log(`${r.scenario}: ${d}`);
    console.log(`${r.scenario}: Envoy's sidecar cluster: ${JSON.stringify(r.sidecarCluster)}`);
  }
  await mkdir(join(ROOT, ".run"), { recursive: true });
  await writeFile(join(ROOT, ".run", "chaos.json"), `${JSON.stringify(rows, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`chaos: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
