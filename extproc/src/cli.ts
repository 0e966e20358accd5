// switchyard check | explain | render | serve
import { parseArgs } from "node:util";
import { runCheck } from "./cli/check.js";
import {
  explainJson,
  explainText,
  parseHeaderArgs,
  readBodyArg,
  readFleetArg,
  runExplain,
  UsageError,
} from "./cli/explain.js";
import { loadPolicyFile } from "./policy/load.js";
import { formatProblem } from "./policy/problems.js";
import { DEFAULT_PORTS as P } from "./vocab/ports.js";

const USAGE = `usage:
  switchyard check FILE            (also: switchyard --check FILE)
  switchyard import FILE [--out POLICY]   convert a jolteon config into a policy
  switchyard explain FILE [-H "Name: value"]... [--body FILE] [--seed N] [--source IP] [--label LABEL] [--fleet FILE] [--json]
  switchyard render FILE --out DIR [--sidecar HOST:GRPC_PORT:HTTP_PORT]... [--listen-port ${P.proxy}] [--admin-port ${P.envoyAdmin}]
  switchyard serve FILE [--xds-dir DIR] [--grpc-port ${P.grpc}] [--http-port ${P.http}] [--bootstrap FILE] [--drain-ms 3000]`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "check":
      case "--check": // jolteon's spelling
        return await check(rest);
      case "import":
        return await importJolteon(rest);
      case "explain":
        return await explain(rest);
      case "render":
      case "serve": {
        const { runDataPlaneCommand } = await import("./cli/data-plane.js");
        return await runDataPlaneCommand(cmd, rest);
      }
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return 0;
      default:
        console.error(cmd === undefined ? USAGE : `unknown command '${cmd}'\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`switchyard: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

async function check(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError("check takes exactly one FILE");
  return runCheck(positionals[0] as string, (s) => console.log(s));
}

async function importJolteon(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: "string", short: "o" } },
  });
  if (positionals.length !== 1) throw new UsageError("import takes exactly one FILE");
  const { runImport } = await import("./cli/import.js");
  return runImport(
    positionals[0] as string,
    values.out,
    (s) => console.log(s),
    (s) => console.error(s),
  );
}

async function explain(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      header: { type: "string", short: "H", multiple: true, default: [] },
      body: { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean", default: false },
      source: { type: "string" },
      label: { type: "string" },
      fleet: { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("explain takes exactly one FILE");
  const file = positionals[0] as string;
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed wants an integer, got ${values.seed}`);
  const headers = parseHeaderArgs(values.header);
  const text = await readBodyArg(values.body);
  const loaded = await loadPolicyFile(file);
  if (!loaded.ok) {
    for (const e of loaded.errors) console.error(formatProblem(file, e));
    return 1;
  }
  if (values.label !== undefined) {
    // As if the caller had sent it in the label header.
    if (!loaded.policy.labels.has(values.label))
      throw new UsageError(
        `--label wants one of the classifier's labels: ${[...loaded.policy.labels.keys()].join(", ") || "(the policy has no classifier)"}`,
      );
    headers[loaded.policy.headers.label] = values.label;
  }
  const view = values.fleet === undefined ? undefined : await readFleetArg(values.fleet);
  const { ev, classified } = await runExplain(loaded.policy, headers, text, seed, values.source, view);
  console.log(
    values.json
      ? JSON.stringify(explainJson(loaded.policy, ev, classified))
      : explainText(loaded.policy, ev, classified),
  );
  return 0;
}

const isEntry =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"));
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
