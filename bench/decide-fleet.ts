// The decision's cost with a live FleetView, as a report (no assertions): evaluate() on the
// small body of bench/decide.ts with no fleet (today's path) against the same call with a
// FleetView of every pool (windows warm, breakers closed), for the policy as it is (weighted)
// and with latency_first / cost_first on every step. Batches alternate so noise hits all alike.
// Run: npm run build && node dist/bench/decide-fleet.js
import { readFileSync } from "node:fs";
import { parsePolicy } from "../extproc/src/policy/load.js";
import { evaluate, seededRandom } from "../extproc/src/routing/evaluate.js";
import { type FleetView, NO_FLEET, type PoolView } from "../extproc/src/routing/fleet-view.js";

const text = readFileSync(new URL("../../examples/discourse.yml", import.meta.url), "utf8");
const load = (extra: string) => {
  const r = parsePolicy(text + extra);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.policy;
};
const weighted = load("");
const classes = weighted.classes;
const withStrategy = (s: string) =>
  load(
    `\nfleet:\n  strategies: {${classes.map((c) => `${c}: ${s}`).join(", ")}}\n  latency_budget_ms: {${classes.map((c) => `${c}: 800`).join(", ")}}\n`,
  );

const para =
  "Discourse is a platform for community discussion. This topic asks how to configure the AI bot. ";
const body = Buffer.from(
  JSON.stringify({
    model: "switchyard",
    stream: true,
    max_tokens: 1024,
    messages: [
      { role: "system", content: `You are a helpful forum assistant. ${para}` },
      { role: "user", content: para.repeat(8) },
    ],
  }),
);
const headers = { "x-discourse-ai-feature": "ai_bot", "x-discourse-ai-tier": "paid" };

const pools = new Map<string, PoolView>();
let i = 0;
for (const name of weighted.pools.keys())
  pools.set(name, {
    samples: 200,
    inWindow: 200,
    ttftP50Ms: 100 + 40 * i,
    ttftP95Ms: 300 + 90 * i++,
    errorRate: 0.01,
    breaker: "closed",
    probesOut: false,
    shedding: false,
  });
const live: FleetView = { at: Date.now(), pools, seq: 0 };

const cases = [
  { name: "weighted, no fleet (today)", policy: weighted, view: NO_FLEET },
  { name: "weighted, live fleet", policy: weighted, view: live },
  { name: "latency_first, live fleet", policy: withStrategy("latency_first"), view: live },
  { name: "cost_first, live fleet", policy: withStrategy("cost_first"), view: live },
];

let sink = 0;
const rand = seededRandom(1);
const BATCH = 2000;
const timeBatch = (c: (typeof cases)[number]) => {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < BATCH; k++) {
    const ev = evaluate(c.policy, headers, body, rand, undefined, undefined, c.view);
    if (ev.kind === "decided" && ev.decision.kind === "route") sink += ev.decision.path.length;
  }
  return Number(process.hrtime.bigint() - t0) / BATCH;
};
for (let w = 0; w < 20; w++) for (const c of cases) timeBatch(c);
const samples = cases.map(() => [] as number[]);
const until = Date.now() + 8000;
while (Date.now() < until)
  cases.forEach((c, j) => {
    samples[j]?.push(timeBatch(c));
  });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const base = median(samples[0] as number[]);
console.log(
  `decide with a FleetView (small body, ${BATCH} calls per batch, ${samples[0]?.length} batches each, median)`,
);
cases.forEach((c, j) => {
  const m = median(samples[j] as number[]);
  console.log(
    `  ${c.name.padEnd(28)} ${(m / 1000).toFixed(2)} µs/request  ${(((m - base) / base) * 100).toFixed(1)} % vs today`,
  );
});
if (sink < 0) console.log(sink);
