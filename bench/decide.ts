// The router's per-request cost, as a report (no assertions): from the body's bytes to the
// first pool's body bytes, against a bare JSON.parse of the same bytes.
//
//   full = evaluate() (decode + parse + facts + decide) + rewriteForPool() for the first pool
//          on the path (the adapter's patch, spliced into the client's bytes)
//   bare = JSON.parse(buf.toString())
//
// Measurements of the two alternate in small batches so machine noise hits both alike.
// Run: npm run bench:decide
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { parsePolicy } from "../extproc/src/policy/load.js";
import { rewriteForPool } from "../extproc/src/reasoning/render-body.js";
import { evaluate, seededRandom } from "../extproc/src/routing/evaluate.js";
import { benchClassifier } from "./decide-classify.js";
import { fmtInt, fmtTime, type Stats, stats, verdict } from "./timing.js";

const TARGET_SMALL_RATE = 50_000;
const TARGET_RATIO = 2.0;

const policyFile = new URL("../../examples/discourse.yml", import.meta.url);
const loaded = parsePolicy(readFileSync(policyFile, "utf8"));
if (!loaded.ok) throw new Error("examples/discourse.yml does not load");
const policy = loaded.policy;
const rand = seededRandom(1);

interface Case {
  name: string;
  buf: Buffer;
  headers: Record<string, string>;
  /** Timed calls per batch, batches to warm up, and the time budget for measuring. */
  batch: number;
  warmBatches: number;
  budgetMs: number;
}

function smallBody(): Buffer {
  const para =
    "Discourse is a platform for community discussion. This topic asks how to configure the AI bot, " +
    "which persona to use, and why the answer took so long. ";
  const body = {
    model: "switchyard",
    stream: true,
    reasoning_effort: "medium",
    max_tokens: 1024,
    temperature: 0.7,
    messages: [
      { role: "system", content: `You are a helpful forum assistant. ${para}` },
      { role: "user", content: para.repeat(4) },
      { role: "assistant", content: para.repeat(3) },
      { role: "user", content: [{ type: "text", text: para.repeat(3) }] },
    ],
    user: "user-1234",
  };
  return Buffer.from(JSON.stringify(body));
}

function bigBody(): Buffer {
  // Four ~1.25 MB base64 images spread over two user turns: about 5 MB in all.
  const image = (seed: number) => {
    const raw = Buffer.alloc(940_000);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 131 + seed * 17) & 0xff;
    return { type: "image_url", image_url: { url: `data:image/png;base64,${raw.toString("base64")}` } };
  };
  const body = {
    model: "switchyard",
    stream: true,
    max_tokens: 512,
    messages: [
      { role: "system", content: "Describe the images." },
      {
        role: "user",
        content: [{ type: "text", text: "What changed between these two?" }, image(1), image(2)],
      },
      { role: "assistant", content: "The second one is brighter." },
      { role: "user", content: [{ type: "text", text: "And these?" }, image(3), image(4)] },
    ],
  };
  return Buffer.from(JSON.stringify(body));
}

let sink = 0;

function full(c: Case): void {
  const ev = evaluate(policy, c.headers, c.buf, rand);
  if (ev.kind !== "decided" || ev.decision.kind !== "route") throw new Error("the bench request must route");
  const pool = policy.pools.get(ev.decision.path[0] as string);
  if (pool === undefined) throw new Error("unknown pool");
  sink += rewriteForPool(c.buf, ev.body, ev.facts.body, pool).body.length;
}

function bare(c: Case): void {
  const body = JSON.parse(c.buf.toString()) as Record<string, unknown>;
  sink += Object.keys(body).length;
}

function timeBatch(fn: (c: Case) => void, c: Case, out: number[]): void {
  for (let i = 0; i < c.batch; i++) {
    const t0 = process.hrtime.bigint();
    fn(c);
    out.push(Number(process.hrtime.bigint() - t0));
  }
}

function measure(c: Case): { full: Stats; bare: Stats } {
  const sinkFull: number[] = [];
  const sinkBare: number[] = [];
  for (let i = 0; i < c.warmBatches; i++) {
    timeBatch(full, c, sinkFull);
    timeBatch(bare, c, sinkBare);
  }
  const f: number[] = [];
  const b: number[] = [];
  const deadline = Date.now() + c.budgetMs;
  for (let round = 0; Date.now() < deadline || round < 4; round++) {
    // Alternate which one goes first so neither always follows the other's garbage.
    if (round % 2 === 0) {
      timeBatch(full, c, f);
      timeBatch(bare, c, b);
    } else {
      timeBatch(bare, c, b);
      timeBatch(full, c, f);
    }
  }
  return { full: stats(f), bare: stats(b) };
}

const cases: Case[] = [
  {
    name: "chat ~2 KB",
    buf: smallBody(),
    headers: {
      "x-discourse-ai-feature": "ai_bot",
      "x-discourse-ai-tier": "paid",
      "x-discourse-ai-quota-used": "42",
    },
    batch: 2_000,
    warmBatches: 10,
    budgetMs: 8_000,
  },
  {
    name: "vision ~5 MB",
    buf: bigBody(),
    headers: { "x-discourse-ai-feature": "summarize", "x-discourse-ai-vision": "true" },
    batch: 10,
    warmBatches: 3,
    budgetMs: 16_000,
  },
];

const cpu = cpus()[0]?.model ?? "unknown cpu";
console.log(`switchyard decide bench: node ${process.version}, ${process.platform} ${process.arch}, ${cpu}`);
console.log(
  `policy examples/discourse.yml (${policy.hash}); one thread, after warm-up, full and bare interleaved`,
);
console.log(
  "full = evaluate (decode, parse, facts, decide) + rewriteForPool (adapter patch + byte splice, first pool)",
);
console.log("bare = JSON.parse(buf.toString())\n");
console.log(
  `${"body".padEnd(14)}${"bytes".padStart(11)}  ${"path".padEnd(6)}${"n".padStart(9)}${"per second".padStart(14)}${"p50".padStart(12)}${"p99".padStart(12)}`,
);

let allOk = true;
for (const c of cases) {
  const r = measure(c);
  for (const [label, s] of [
    ["full", r.full],
    ["bare", r.bare],
  ] as const) {
    const head =
      label === "full" ? `${c.name.padEnd(14)}${fmtInt(c.buf.length).padStart(11)}` : " ".repeat(25);
    console.log(
      `${head}  ${label.padEnd(6)}${fmtInt(s.n).padStart(9)}${`${fmtInt(s.rate)}/s`.padStart(14)}${fmtTime(s.p50).padStart(12)}${fmtTime(s.p99).padStart(12)}`,
    );
  }
  const ratio = r.full.mean / r.bare.mean;
  const ratioOk = ratio <= TARGET_RATIO;
  allOk &&= ratioOk;
  console.log(
    `${" ".repeat(25)}  ratio full/bare: mean ${ratio.toFixed(2)}x, p50 ${(r.full.p50 / r.bare.p50).toFixed(2)}x` +
      `   target ≤ ${TARGET_RATIO.toFixed(1)}x (mean): ${verdict(ratioOk)}`,
  );
  if (c === cases[0]) {
    const rateOk = r.full.rate >= TARGET_SMALL_RATE;
    allOk &&= rateOk;
    console.log(`${" ".repeat(25)}  target ≥ ${fmtInt(TARGET_SMALL_RATE)} decisions/s: ${verdict(rateOk)}`);
  }
  console.log("");
}
allOk = (await benchClassifier(readFileSync(policyFile, "utf8"), smallBody())) && allOk;
console.log(allOk ? "all targets met" : "some targets missed");
if (sink === 0) console.log("(sink)");
