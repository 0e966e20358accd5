// The local stack: a simulated fleet for every loopback backend in the policy, switchyard,
// and Envoy, in the foreground; Ctrl-C stops everything.
//   npm run stack                      # examples/discourse.yml
//   npm run stack -- my-policy.yml
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadPolicyFile } from "../extproc/src/policy/load.js";
import { envoyBin, ROOT, waitFor } from "../test/e2e/harness.js";
import { type SimOptions, startSimFleet } from "../test/sim/sim-backend.js";

const PORTS = { listen: 8080, admin: 9901, grpc: 50051, http: 9090 };

async function main(): Promise<number> {
  const policyFile = resolve(process.argv[2] ?? join(ROOT, "examples", "discourse.yml"));
  const loaded = await loadPolicyFile(policyFile);
  if (!loaded.ok) {
    console.error(`stack: ${policyFile} is not a valid policy; run: npx switchyard check ${policyFile}`);
    return 1;
  }
  const sims: SimOptions[] = [];
  for (const [pool, doc] of loaded.policy.pools) {
    doc.backends.forEach((b, i) => {
      const [host, port] = [
        b.address.slice(0, b.address.lastIndexOf(":")),
        Number(b.address.split(":").pop()),
      ];
      if (host !== "127.0.0.1" && host !== "localhost") return;
      sims.push({
        name: `${pool}-${i + 1}`,
        servedModel: doc.served_model,
        host: "127.0.0.1",
        port,
        ttftMs: 150,
        tokensPerSec: 40,
        tokens: 60,
        earlyHeaders: true,
      });
    });
  }
  const fleet = await startSimFleet(sims);
  const run = join(ROOT, ".run");
  await mkdir(run, { recursive: true });
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[], name: string) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.once("exit", (code, signal) => {
      if (!stopping) {
        console.error(`stack: ${name} exited (${signal ?? code}); stopping`);
        void stop(1);
      }
    });
    children.push(child);
    return child;
  };
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of children.reverse()) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)),
    );
    await fleet.close();
    process.exit(code);
  };
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));

  const bootstrap = join(run, "envoy.json");
  start(
    process.execPath,
    [
      join(ROOT, "bin", "switchyard.js"),
      "serve",
      policyFile,
      ...["--xds-dir", join(run, "xds"), "--bootstrap", bootstrap],
      ...["--grpc-port", String(PORTS.grpc), "--http-port", String(PORTS.http)],
      ...[
        "--listen-address",
        "127.0.0.1",
        "--listen-port",
        String(PORTS.listen),
        "--admin-port",
        String(PORTS.admin),
      ],
    ],
    "switchyard",
  );
  await waitFor("switchyard", async () => (await fetch(`http://127.0.0.1:${PORTS.http}/readyz`)).ok);
  start(envoyBin(), ["-c", bootstrap, "--use-dynamic-base-id", "-l", "warning"], "envoy");
  await waitFor("envoy", async () => (await fetch(`http://127.0.0.1:${PORTS.admin}/ready`)).ok);

  const h = loaded.policy.headers;
  console.log(`
switchyard stack is up (policy ${policyFile}, ${fleet.backends.length} simulated backends)
  requests   http://127.0.0.1:${PORTS.listen}/v1/chat/completions
  sidecar    http://127.0.0.1:${PORTS.http}/healthz
  envoy      http://127.0.0.1:${PORTS.admin}/  (admin)

try:
  curl -sN http://127.0.0.1:${PORTS.listen}/v1/chat/completions -H 'content-type: application/json' \\
    -H '${h.feature}: ai_bot' -H '${h.tier}: paid' \\
    -d '{"model":"auto","stream":true,"reasoning_effort":"low","messages":[{"role":"user","content":"hello"}]}' -D -

Ctrl-C stops everything.`);
  return new Promise(() => {});
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`stack: ${(err as Error).message}`);
    process.exit(1);
  },
);
