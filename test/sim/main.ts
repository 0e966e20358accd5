// CLI for the simulated vLLM backend, for the local demo stack and out-of-process tests.
//
//   node dist/test/sim/main.js --name a --model qwen-small [--model alias ...] --port 8001 \
//     [--host 127.0.0.1] [--ttft-ms 20] [--tokens-per-sec 200] [--tokens 16] [--mode ok]
//     [--max-model-len 32768] [--early-headers] [--keep-alive-ms 65000]
//   node dist/test/sim/main.js --fleet fleet.json      # JSON array of SimOptions
//
// --mode takes the string form: ok | refuse | reset | hang | status-<code>[-retry-<s>] |
// die-after-<n> | error-after-<n>. At runtime: POST /sim/mode {"mode": ..., "durationMs": ...}.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseMode, type SimBackend, type SimOptions, startSimFleet } from "./sim-backend.js";

const USAGE =
  "usage: main.js --name NAME --model SERVED_MODEL [--model ALIAS ...] [--port 0] [--host 127.0.0.1] [--ttft-ms 20]\n" +
  "         [--tokens-per-sec 200] [--tokens 16] [--mode ok] [--max-model-len 32768] [--early-headers]\n" +
  "         [--keep-alive-ms 65000]\n" +
  "       main.js --fleet FILE.json";

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`--${flag} needs a non-negative number, got ${v}`);
  return n;
}

function fromArgs(argv: string[]): SimOptions[] {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: "string" },
      // Repeatable, like vLLM's --served-model-name: the first names the responses.
      model: { type: "string", multiple: true },
      host: { type: "string" },
      port: { type: "string" },
      "ttft-ms": { type: "string" },
      "tokens-per-sec": { type: "string" },
      tokens: { type: "string" },
      mode: { type: "string" },
      "max-model-len": { type: "string" },
      "early-headers": { type: "boolean" },
      "keep-alive-ms": { type: "string" },
      fleet: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.fleet !== undefined) return fromFleetFile(values.fleet);
  const [served, ...aliases] = values.model ?? [];
  if (!values.name || !served) fail("--name and --model are required (or --fleet)");
  const mode = values.mode === undefined ? "ok" : parseMode(values.mode);
  if (mode === undefined) fail(`unknown --mode ${values.mode}`);
  return [
    {
      name: values.name,
      servedModel: served,
      aliases,
      host: values.host,
      port: num("port", values.port),
      ttftMs: num("ttft-ms", values["ttft-ms"]),
      tokensPerSec: num("tokens-per-sec", values["tokens-per-sec"]),
      tokens: num("tokens", values.tokens),
      maxModelLen: num("max-model-len", values["max-model-len"]),
      earlyHeaders: values["early-headers"],
      keepAliveTimeoutMs: num("keep-alive-ms", values["keep-alive-ms"]),
      mode,
    },
  ];
}

function fromFleetFile(file: string): SimOptions[] {
  let specs: unknown;
  try {
    specs = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    fail(`cannot read fleet file ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(specs)) fail(`fleet file ${file} must hold a JSON array of backends`);
  return specs.map((s, i) => {
    const spec = s as SimOptions & { mode?: unknown };
    if (typeof spec.name !== "string" || typeof spec.servedModel !== "string") {
      fail(`fleet entry ${i} needs string "name" and "servedModel"`);
    }
    if (
      spec.aliases !== undefined &&
      !(Array.isArray(spec.aliases) && spec.aliases.every((a) => typeof a === "string"))
    )
      fail(`fleet entry ${i} (${spec.name}): "aliases" must be an array of strings`);
    // Modes may be written in either spelling in the file; normalise to the object form.
    const mode = spec.mode === undefined ? "ok" : parseMode(spec.mode);
    if (mode === undefined)
      fail(`fleet entry ${i} (${spec.name}) has unknown mode ${JSON.stringify(spec.mode)}`);
    return { ...spec, mode };
  });
}

async function main(): Promise<void> {
  const specs = fromArgs(process.argv.slice(2));
  const fleet = await startSimFleet(specs);
  for (const b of fleet.backends) printListening(b);
  // A refusing backend has no listener, so nothing else would keep the process alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`sim: ${signal}, shutting down\n`);
    clearInterval(keepAlive);
    fleet.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

function printListening(b: SimBackend): void {
  process.stdout.write(`sim ${b.name} model=${b.servedModel} listening on ${b.address}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`sim: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
