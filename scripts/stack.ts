// The local stack: a simulated fleet for every loopback backend in the policy, switchyard,
// and Envoy, in the foreground; Ctrl-C stops everything.
//   npm run stack                      # examples/discourse.yml
//   npm run stack -- my-policy.yml
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type Proc,
  ROOT,
  startEnvoy,
  startSidecar,
  waitEnvoyReady,
  waitReadyz,
} from "../devkit/processes.js";
import type { Policy } from "../extproc/src/policy/compile.js";
import { loadPolicyFile } from "../extproc/src/policy/load.js";
import { DEFAULT_PORTS as P } from "../extproc/src/vocab/ports.js";
import { type SimOptions, startSimFleet } from "../test/sim/sim-backend.js";

/** A sim for every backend of the policy on this machine, named POOL-N. */
function simsFor(policy: Policy): SimOptions[] {
  const sims: SimOptions[] = [];
  for (const [pool, doc] of policy.pools) {
    doc.backends.forEach((b, i) => {
      const host = b.address.slice(0, b.address.lastIndexOf(":"));
      if (host !== "127.0.0.1" && host !== "localhost") return;
      sims.push({
        name: `${pool}-${i + 1}`,
        servedModel: doc.served_model,
        host: "127.0.0.1",
        port: Number(b.address.split(":").pop()),
        ttftMs: 150,
        tokensPerSec: 40,
        tokens: 60,
        earlyHeaders: true,
      });
    });
  }
  return sims;
}

function banner(policyFile: string, policy: Policy, backends: number): string {
  const h = policy.headers;
  return `
switchyard stack is up (policy ${policyFile}, ${backends} simulated backends)
  requests   http://127.0.0.1:${P.proxy}/v1/chat/completions
  sidecar    http://127.0.0.1:${P.http}/healthz
  envoy      http://127.0.0.1:${P.envoyAdmin}/  (admin)

try:
  curl -sN http://127.0.0.1:${P.proxy}/v1/chat/completions -H 'content-type: application/json' \\
    -H '${h.feature}: ai_bot' -H '${h.tier}: paid' \\
    -d '{"model":"auto","stream":true,"reasoning_effort":"low","messages":[{"role":"user","content":"hello"}]}' -D -

Ctrl-C stops everything.`;
}

async function main(): Promise<number> {
  const policyFile = resolve(process.argv[2] ?? join(ROOT, "examples", "discourse.yml"));
  const loaded = await loadPolicyFile(policyFile);
  if (!loaded.ok) {
    console.error(`stack: ${policyFile} is not a valid policy; run: npx switchyard check ${policyFile}`);
    return 1;
  }
  const fleet = await startSimFleet(simsFor(loaded.policy));
  const run = join(ROOT, ".run");
  await mkdir(run, { recursive: true });
  const procs: Proc[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const p of [...procs].reverse()) await p.stop();
    await fleet.close();
    process.exit(code);
  };
  // Either process ending on its own takes the whole stack down.
  const watch = (p: Proc) => {
    procs.push(p);
    void p.exited.then(() => {
      if (stopping) return;
      console.error(`stack: ${p.name} exited (${p.child.signalCode ?? p.child.exitCode}); stopping`);
      void stop(1);
    });
    return p;
  };
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));

  const bootstrap = join(run, "envoy.json");
  const sidecar = watch(
    startSidecar({
      policyFile,
      xdsDir: join(run, "xds"),
      grpcPort: P.grpc,
      httpPort: P.http,
      flags: {
        bootstrap,
        "listen-address": "127.0.0.1",
        "listen-port": P.proxy,
        "admin-port": P.envoyAdmin,
      },
      output: "inherit",
    }),
  );
  await waitReadyz(sidecar, P.http);
  const envoy = watch(startEnvoy("envoy", bootstrap, { output: "inherit" }));
  await waitEnvoyReady(envoy, `http://127.0.0.1:${P.envoyAdmin}`, { clusters: "swy." });
  console.log(banner(policyFile, loaded.policy, fleet.backends.length));
  return new Promise(() => {});
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`stack: ${(err as Error).message}`);
    process.exit(1);
  },
);
