// `switchyard render FILE --out DIR` and `switchyard serve FILE ...`.
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BootstrapOptions, DEFAULT_BOOTSTRAP, type SidecarEndpoint } from "../envoy/bootstrap.js";
import { renderXdsFiles, writeBootstrap, writeXds } from "../envoy/write-xds.js";
import { loadCallerToken } from "../extproc/caller-token.js";
import { loadPolicyFile } from "../policy/load.js";
import { formatProblem } from "../policy/problems.js";
import { DEFAULT_PORTS } from "../vocab/ports.js";
import { UsageError } from "./explain.js";

const integer = (
  v: string | undefined,
  fallback: number,
  flag: string,
  max: number,
  what: string,
): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < 0 || n > max)
    throw new UsageError(`${flag} wants ${what}, got ${v}`);
  return n;
};
const port = (v: string | undefined, fallback: number, flag: string) =>
  integer(v, fallback, flag, 65535, "a port number");
const millis = (v: string | undefined, fallback: number, flag: string) =>
  integer(v, fallback, flag, Number.MAX_SAFE_INTEGER, "a number of milliseconds");
/** A size given in MiB (fractions allowed), in bytes. */
function mib(v: string | undefined, fallback: number, flag: string): number {
  if (v === undefined) return fallback * 1024 * 1024;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 1 << 20)
    throw new UsageError(`${flag} wants a size in MiB, got ${v}`);
  return Math.ceil(n * 1024 * 1024);
}

const bootstrapFlags = {
  "http-port": { type: "string" },
  // render only: one per sidecar Envoy should use, HOST:GRPC_PORT:HTTP_PORT (repeatable).
  sidecar: { type: "string", multiple: true },
  "listen-port": { type: "string" },
  "listen-address": { type: "string" },
  "admin-port": { type: "string" },
  "grpc-port": { type: "string" },
  "grpc-address": { type: "string" },
  // Where Envoy writes its access log; default: access-log/access.log beside the xDS directory.
  "access-log": { type: "string" },
} as const;

/** The access-log file for an xDS directory, unless --access-log names one. */
function accessLogFile(given: string | undefined, xdsDir: string): string {
  return given ?? join(dirname(xdsDir), "access-log", "access.log");
}

function parseSidecar(spec: string): SidecarEndpoint {
  const m = /^(.+):(\d+):(\d+)$/.exec(spec);
  if (!m) throw new UsageError(`--sidecar wants HOST:GRPC_PORT:HTTP_PORT, got ${spec}`);
  return {
    address: m[1] as string,
    grpcPort: port(m[2], 0, "--sidecar"),
    httpPort: port(m[3], 0, "--sidecar"),
  };
}

function bootstrapOptions(
  values: Record<string, string | boolean | string[] | undefined>,
  xdsDir: string,
): BootstrapOptions {
  const s = (k: string) => values[k] as string | undefined;
  const listed = (values.sidecar as string[] | undefined) ?? [];
  return {
    ...DEFAULT_BOOTSTRAP,
    listenAddress: s("listen-address") ?? DEFAULT_BOOTSTRAP.listenAddress,
    listenPort: port(s("listen-port"), DEFAULT_BOOTSTRAP.listenPort, "--listen-port"),
    adminPort: port(s("admin-port"), DEFAULT_BOOTSTRAP.adminPort, "--admin-port"),
    sidecars:
      listed.length > 0
        ? listed.map(parseSidecar)
        : [
            {
              address: s("grpc-address") ?? "127.0.0.1",
              grpcPort: port(s("grpc-port"), DEFAULT_PORTS.grpc, "--grpc-port"),
              httpPort: port(s("http-port"), DEFAULT_PORTS.http, "--http-port"),
            },
          ],
    xdsDir,
    accessLogFile: accessLogFile(s("access-log"), xdsDir),
  };
}

export async function runDataPlaneCommand(cmd: "render" | "serve", args: string[]): Promise<number> {
  if (cmd === "render") return render(args);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...bootstrapFlags,
      "xds-dir": { type: "string" },
      "http-address": { type: "string" },
      bootstrap: { type: "string" },
      "envoy-admin": { type: "string" },
      "drain-ms": { type: "string" },
      "access-log-rotate-mb": { type: "string" },
      "grpc-token-file": { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("serve takes exactly one FILE");
  const xdsDir = resolve(values["xds-dir"] ?? ".run/xds");
  // `kill -HUP $(pidof switchyard)` reloads, as with jolteon (the name fits comm's 15 bytes).
  process.title = "switchyard";
  const { serve } = await import("../main.js");
  return serve({
    policyFile: positionals[0] as string,
    xdsDir,
    grpcAddress: values["grpc-address"] ?? "127.0.0.1",
    grpcPort: port(values["grpc-port"], DEFAULT_PORTS.grpc, "--grpc-port"),
    httpAddress: values["http-address"] ?? "127.0.0.1",
    httpPort: port(values["http-port"], DEFAULT_PORTS.http, "--http-port"),
    bootstrapFile: values.bootstrap,
    bootstrap: bootstrapOptions(values, xdsDir),
    envoyAdmin: values["envoy-admin"],
    drainMs: millis(values["drain-ms"], 3000, "--drain-ms"),
    accessLogFile: resolve(accessLogFile(values["access-log"], xdsDir)),
    accessLogRotateBytes: mib(values["access-log-rotate-mb"], 64, "--access-log-rotate-mb"),
    callerToken: loadCallerToken(values["grpc-token-file"], process.env),
  });
}

async function render(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...bootstrapFlags, out: { type: "string" }, "xds-dir": { type: "string" } },
  });
  if (positionals.length !== 1 || values.out === undefined)
    throw new UsageError("render takes FILE and --out DIR");
  const file = positionals[0] as string;
  const loaded = await loadPolicyFile(file);
  if (!loaded.ok) {
    for (const e of loaded.errors) console.error(formatProblem(file, e));
    return 1;
  }
  const out = resolve(values.out);
  // --xds-dir is where Envoy will find the files: the pool clusters name their endpoint files there.
  const files = renderXdsFiles(loaded.policy, [], values["xds-dir"] ?? out);
  await writeXds(out, files);
  const opts = bootstrapOptions(values, values["xds-dir"] ?? out);
  await writeBootstrap(join(out, "envoy.json"), opts);
  console.log(
    `wrote ${out}/cds.json (${files.clusterCount} clusters), ${out}/pools/*.json (${files.eds.size} endpoint files), ${out}/rds.json, ${out}/envoy.json (bootstrap)`,
  );
  return 0;
}
