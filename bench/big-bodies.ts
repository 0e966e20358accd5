// Small requests beside big ones (a report, no assertions): 4 clients send ~15 MiB bodies in a
// loop while small requests arrive at a fixed rate; the report gives the small requests' latency
// with big bodies decided in the worker thread (limits.offload_body_bytes, the default) and on
// the main thread (offload off), alternating phases in one run so machine noise hits both.
// Run: npm run bench:big-bodies   (BIG_PHASE_S=10 BIG_ROUNDS=2 to change the length)
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePorts,
  type Proc,
  ROOT,
  startEnvoy,
  startProc,
  startSidecar,
  waitEnvoyReady,
  waitFor,
  waitReadyz,
} from "../devkit/processes.js";

const PHASE_S = Number(process.env.BIG_PHASE_S ?? 10);
const ROUNDS = Number(process.env.BIG_ROUNDS ?? 2);
const SMALL_RATE = 20;
const BIG_CLIENTS = 4;
const BIG_BYTES = 15 * 1024 * 1024;
const OFF = 256 * 1024 * 1024;

const policy = (sims: number[], offload: number) => `version: 1
classes: [standard]
default_class: standard
ladders: { standard: [{ bench: 100 }] }
pools:
  bench:
    served_model: bench-model
    backends: [${sims.map((p) => `{ address: "127.0.0.1:${p}" }`).join(", ")}]
limits: { max_body_bytes: 16777216, offload_body_bytes: ${offload} }
`;

function post(url: string, body: Buffer): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(
      `${url}/v1/chat/completions`,
      { method: "POST", headers: { "content-type": "application/json", "content-length": body.length } },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on("error", () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(body);
  });
}

const chat = (pad: number) =>
  Buffer.from(
    JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      metadata: { pad: "x".repeat(pad) },
    }),
  );

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number);
};

async function phase(url: string) {
  const until = performance.now() + PHASE_S * 1000;
  const big = chat(BIG_BYTES);
  const bigOut: number[] = [];
  const loops = Array.from({ length: BIG_CLIENTS }, async () => {
    while (performance.now() < until) bigOut.push((await post(url, big)).status);
  });
  const small: { status: number; ms: number }[] = [];
  const sends: Promise<void>[] = [];
  const smallBody = chat(100);
  while (performance.now() < until) {
    sends.push(post(url, smallBody).then((r) => void small.push(r)));
    await new Promise((r) => setTimeout(r, 1000 / SMALL_RATE));
  }
  await Promise.all([...loops, ...sends]);
  const ok = small.filter((r) => r.status === 200).map((r) => r.ms);
  return {
    smallP50: pct(ok, 0.5),
    smallP99: pct(ok, 0.99),
    smallFailed: small.length - ok.length,
    big: bigOut.length,
    bigByStatus: Object.entries(
      bigOut.reduce<Record<number, number>>((m, s) => {
        m[s] = (m[s] ?? 0) + 1;
        return m;
      }, {}),
    )
      .map(([s, n]) => `${s}×${n}`)
      .join(" "),
  };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-big-"));
  const [s1, s2, listen, admin, grpc, http] = (await freePorts(6)) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const procs: Proc[] = [];
  try {
    const fleet = [s1, s2].map((port, i) => ({
      name: `s${i}`,
      servedModel: "bench-model",
      host: "127.0.0.1",
      port,
      ttftMs: 5,
      tokensPerSec: 0,
      tokens: 8,
      maxModelLen: 100_000_000,
    }));
    await writeFile(join(dir, "fleet.json"), JSON.stringify(fleet));
    procs.push(
      startProc("sims", process.execPath, [
        join(ROOT, "dist/test/sim/main.js"),
        "--fleet",
        join(dir, "fleet.json"),
      ]),
    );
    for (const p of [s1, s2])
      await waitFor(`sim ${p}`, async () => (await fetch(`http://127.0.0.1:${p}/health`)).ok);
    const policyFile = join(dir, "policy.yml");
    await writeFile(policyFile, policy([s1, s2], 1024 * 1024));
    const bootstrap = join(dir, "envoy.json");
    const sidecar = startSidecar({
      policyFile,
      xdsDir: join(dir, "xds"),
      grpcPort: grpc,
      httpPort: http,
      flags: { bootstrap, "listen-address": "127.0.0.1", "listen-port": listen, "admin-port": admin },
      keepChunks: 200,
    });
    procs.push(sidecar);
    await waitReadyz(sidecar, http);
    const envoy = startEnvoy("envoy", bootstrap, { keepChunks: 200 });
    procs.push(envoy);
    await waitEnvoyReady(envoy, `http://127.0.0.1:${admin}`, { routes: "chat" });
    const url = `http://127.0.0.1:${listen}`;
    const metricsUrl = `http://127.0.0.1:${http}/metrics`;
    const reloads = async () =>
      Number(
        /switchyard_policy_reloads_total\{result="applied"\} (\d+)/.exec(
          await (await fetch(metricsUrl)).text(),
        )?.[1] ?? 0,
      );
    console.log(
      `big bodies bench: ${BIG_CLIENTS} clients × ${BIG_BYTES >> 20} MiB bodies in a loop, small requests at ${SMALL_RATE}/s, ${PHASE_S} s phases × ${ROUNDS} rounds`,
    );
    console.log(
      `${"offload".padEnd(10)}${"small p50".padStart(12)}${"small p99".padStart(12)}${"small failed".padStart(14)}  big answers`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      for (const offload of [true, false]) {
        const before = await reloads();
        await writeFile(policyFile, policy([s1, s2], offload ? 1024 * 1024 : OFF));
        const text = await readFile(policyFile, "utf8");
        if (round > 0 || !offload)
          await waitFor(`reload to ${text.length} bytes`, async () => (await reloads()) > before, 10_000);
        const r = await phase(url);
        console.log(
          `${(offload ? "worker" : "off").padEnd(10)}${`${r.smallP50.toFixed(1)} ms`.padStart(12)}${`${r.smallP99.toFixed(1)} ms`.padStart(12)}${String(r.smallFailed).padStart(14)}  ${r.big} (${r.bigByStatus})`,
        );
      }
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
