// The local stack: a simulated fleet for every loopback backend in the policy, two switchyard
// sidecars (restarted on the same ports when they exit, so restarting one to swap the policy
// fails no request) and Envoy, all on loopback, in the foreground; Ctrl-C stops everything.
//   npm run stack                      # examples/discourse.yml
//   npm run stack -- my-policy.yml
import { join, relative, resolve } from "node:path";
import { LocalStack } from "../devkit/local-stack.js";
import { type Proc, ROOT } from "../devkit/processes.js";
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

function banner(policyFile: string, policy: Policy, backends: number, stack: LocalStack): string {
  const h = policy.headers;
  const sidecars = stack.sidecars.map(
    (p, i) => `${p.name} (pid ${p.pid}, http://127.0.0.1:${stack.endpoint(i).httpPort}/status)`,
  );
  return `
switchyard stack is up (policy ${policyFile}, ${backends} simulated backends)
  requests   http://127.0.0.1:${P.proxy}/v1/chat/completions
  sidecars   ${sidecars.join("\n             ")}
  envoy      http://127.0.0.1:${P.envoyAdmin}/  (admin)
  log        one JSON line per request on stdout, read from ${relative(ROOT, stack.accessLogFile)}

try:
  curl -sN http://127.0.0.1:${P.proxy}/v1/chat/completions -H 'content-type: application/json' \\
    -H '${h.feature}: ai_bot' -H '${h.tier}: paid' \\
    -d '{"model":"auto","stream":true,"reasoning_effort":"low","messages":[{"role":"user","content":"hello"}]}' -D -

Edit the policy and both sidecars reload it. To swap it by restarting instead: kill one
sidecar's pid; the stack starts a new one on the same ports while Envoy sends everything to the
other; once it says "ready", do the same with the other one. No request fails.
Ctrl-C stops everything.`;
}

/**
 * A sidecar that exits while the stack runs (restarted to swap the policy, or killed) comes
 * back on the same ports; one that cannot start (an invalid policy) is tried again, less and
 * less often, while the other one serves.
 */
function supervise(stack: LocalStack, i: number, stopping: () => boolean, backoffMs = 1_000): void {
  const current = stack.sidecars[i] as Proc;
  void current.exited.then(async (code) => {
    if (stopping()) return;
    console.error(`stack: ${current.name} exited (${current.child.signalCode ?? code}); starting a new one`);
    try {
      const next = await stack.replace(i);
      console.error(`stack: ${next.name} ready (pid ${next.pid})`);
      supervise(stack, i, stopping);
    } catch {
      await new Promise((r) => setTimeout(r, backoffMs));
      supervise(stack, i, stopping, Math.min(backoffMs * 2, 10_000));
    }
  });
}

async function main(): Promise<number> {
  const policyFile = resolve(process.argv[2] ?? join(ROOT, "examples", "discourse.yml"));
  const loaded = await loadPolicyFile(policyFile);
  if (!loaded.ok) {
    console.error(`stack: ${policyFile} is not a valid policy; run: npx switchyard check ${policyFile}`);
    return 1;
  }
  const fleet = await startSimFleet(simsFor(loaded.policy));
  let stopping = false;
  let stack: LocalStack | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await stack?.stop();
    await fleet.close();
    process.exit(code);
  };
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));
  stack = await LocalStack.start({
    policyFile,
    dir: join(ROOT, ".run"),
    listenPort: P.proxy,
    adminPort: P.envoyAdmin,
    sidecars: [
      { grpcPort: P.grpc, httpPort: P.http },
      { grpcPort: P.grpc2, httpPort: P.http2 },
    ],
    output: "inherit",
  });
  for (let i = 0; i < stack.sidecars.length; i++) supervise(stack, i, () => stopping);
  const envoy = stack.envoy as Proc;
  void envoy.exited.then((code) => {
    if (stopping) return;
    console.error(`stack: envoy exited (${envoy.child.signalCode ?? code}); stopping`);
    void stop(1);
  });
  console.log(banner(policyFile, loaded.policy, fleet.backends.length, stack));
  return new Promise(() => {});
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`stack: ${(err as Error).message}`);
    process.exit(1);
  },
);
