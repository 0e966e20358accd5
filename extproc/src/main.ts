// Wiring only: load the policy, write Envoy's files, start gRPC + HTTP, reloads and shutdown.
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Classifiers } from "./classify/classifiers.js";
import type { BootstrapOptions } from "./envoy/bootstrap.js";
import { readWrittenClusters, renderXdsFiles, writeBootstrap, writeXds } from "./envoy/write-xds.js";
import { callerTokenInterceptor } from "./extproc/caller-token.js";
import { BodyOffload } from "./extproc/offload.js";
import { quietPeerResets } from "./extproc/quiet-resets.js";
import { addExtProc, newGrpcServer, newHooks } from "./extproc/server.js";
import { classifierEvents } from "./observe/classifier-events.js";
import { LogWriter } from "./observe/log-writer.js";
import { createMetrics, setPolicyInfo } from "./observe/metrics.js";
import { Recorder } from "./observe/recorder.js";
import { buildStatus } from "./observe/status.js";
import { backendName } from "./policy/backend-names.js";
import type { Policy } from "./policy/compile.js";
import { PolicyHolder } from "./policy/holder.js";
import { loadPolicyFile } from "./policy/load.js";
import { formatProblem } from "./policy/problems.js";
import { startAccessLogReader } from "./serve/access-log-reader.js";
import { startFleet } from "./serve/fleet.js";
import { createHttpServer, listen } from "./serve/http-endpoints.js";
import { Reloader } from "./serve/reloader.js";
import { onShutdownSignal } from "./serve/shutdown.js";
import { AccessLogJoiner } from "./telemetry/attempts.js";
import { EnvoyAdminPoller } from "./telemetry/envoy-admin.js";
import { WindowSet } from "./telemetry/window.js";
import { TOKEN_ENV } from "./vocab/names.js";

export interface ServeOptions {
  policyFile: string;
  xdsDir: string;
  grpcAddress: string;
  grpcPort: number;
  httpAddress: string;
  httpPort: number;
  /** Also write Envoy's bootstrap here (the local stack and tests use this). */
  bootstrapFile?: string | undefined;
  bootstrap: BootstrapOptions;
  envoyAdmin?: string | undefined;
  /** After SIGTERM: report not ready, keep serving this long (Envoy's health check moves new streams away), then stop. */
  drainMs: number;
  /** Envoy's access-log file (bootstrap.accessLogFile): read by whichever sidecar holds its lease. */
  accessLogFile: string;
  /** Rotate the access-log file past this size. */
  accessLogRotateBytes: number;
  /** gRPC streams must carry this token (Envoy sends it); undefined lets every caller in. */
  callerToken: string | undefined;
}

const VERSION = (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;

const log = (msg: string) => process.stderr.write(`switchyard: ${msg}\n`);

export async function serve(o: ServeOptions): Promise<number> {
  const first = await loadPolicyFile(o.policyFile);
  for (const w of first.warnings) log(formatProblem(o.policyFile, w));
  if (!first.ok) {
    for (const e of first.errors) log(formatProblem(o.policyFile, e));
    return 1;
  }
  const startedAt = Date.now();
  let loadedAt = startedAt;
  const holder = new PolicyHolder(first.policy);
  const metrics = createMetrics();
  setPolicyInfo(metrics, first.policy.hash);
  const writer = new LogWriter();
  writer.onDrop = (reason) => metrics.logLinesDropped.inc({ reason });
  const windows = new WindowSet();
  const joiner = new AccessLogJoiner((b) => holder.addresses.get(b));
  // The live fleet (windows, breakers, back-off): recorded from the access log, read by decisions.
  const fleet = startFleet({
    holder,
    windows,
    registry: metrics.registry,
    inFlight: () => poller.backends,
    xdsDir: o.xdsDir,
    log,
  });
  const recorder = new Recorder(holder, metrics, writer, windows, Date.now, fleet);
  const hooks = newHooks();
  hooks.fleet = fleet;
  hooks.offload = new BodyOffload(() => metrics.shed.inc({ reason: "body_queue" }));
  hooks.onFault = (phase, id, err) => {
    metrics.extprocFaults.inc({ phase });
    const where = (err.stack ?? err.message).replace(/\n\s*/g, " | ");
    log(`internal fault in ${phase} ext_proc, request ${id ?? "-"}: ${where}`);
  };
  // Label lookups cost more than the observation: resolve each phase's series once.
  const processed = {
    router: metrics.extprocSeconds.labels({ phase: "router" }),
    upstream: metrics.extprocSeconds.labels({ phase: "upstream" }),
  };
  hooks.onProcessed = (phase, seconds) => processed[phase].observe(seconds);
  const envoyAdmin = o.envoyAdmin ?? `http://127.0.0.1:${o.bootstrap.adminPort}`;
  const poller = new EnvoyAdminPoller(envoyAdmin, (backends) => {
    metrics.inFlight.reset();
    metrics.backendHealthy.reset();
    for (const [address, state] of backends) {
      const pool = holder.addresses.get(address) ?? "unknown";
      const backend = backendName(holder.policy, address);
      metrics.inFlight.set({ pool, backend }, state.rqActive);
      metrics.backendHealthy.set({ pool, backend }, state.healthy ? 1 : 0);
    }
  });
  poller.start();

  // Clusters of the previous policy stay one generation, for requests decided just before a
  // reload; at start-up, those already written (the other sidecar may still route to them).
  let lastClusters: readonly object[] = await readWrittenClusters(o.xdsDir);
  // Each policy's classifier, its examples embedded before the policy goes live (bounded wait).
  const classifiers = new Classifiers({ env: process.env, events: classifierEvents(metrics), log });
  const publish = async (policy: Policy) => {
    await classifiers.prepare(policy);
    const files = renderXdsFiles(policy, lastClusters, undefined, (p) => fleet.down(p));
    await writeXds(o.xdsDir, files);
    lastClusters = [...files.current];
    log(`policy ${policy.hash}: wrote ${files.clusterCount} clusters to ${o.xdsDir}`);
  };
  try {
    await publish(first.policy);
    // Envoy opens the access log at start-up: its directory must be there first.
    await mkdir(dirname(o.accessLogFile), { recursive: true });
    if (o.bootstrapFile) {
      await writeBootstrap(o.bootstrapFile, {
        ...o.bootstrap,
        sidecars: [{ address: o.grpcAddress, grpcPort: o.grpcPort, httpPort: o.httpPort }],
        xdsDir: o.xdsDir,
        accessLogFile: o.accessLogFile,
      });
    }
  } catch (err) {
    log(`cannot write Envoy's files: ${(err as Error).message}`);
    classifiers.close();
    poller.stop();
    joiner.close();
    return 1;
  }

  await quietPeerResets();
  const grpcServer = newGrpcServer(callerCheck(o.callerToken, metrics));
  addExtProc(grpcServer, holder, hooks, (p) => classifiers.for(p));
  const grpcPort = await new Promise<number>((res, rej) =>
    grpcServer.bindAsync(
      `${o.grpcAddress}:${o.grpcPort}`,
      grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? rej(err) : res(p)),
    ),
  );

  let ready = true;
  const http = createHttpServer({
    metrics,
    isReady: () => ready,
    streams: () => hooks.open,
    status: () =>
      buildStatus({
        version: VERSION,
        startedAt,
        now: Date.now(),
        policy: holder.policy,
        policyFile: o.policyFile,
        loadedAt,
        backends: poller.backends,
        envoy: { url: envoyAdmin, lastOk: poller.lastOk, error: poller.lastError },
        windows,
        streams: hooks.open,
        logDropped: writer.dropped,
        fleet,
      }),
  });
  const httpPort = await listen(http, o.httpPort, o.httpAddress);
  log(
    `gRPC on ${o.grpcAddress}:${grpcPort}, HTTP on ${o.httpAddress}:${httpPort}, policy ${first.policy.hash}`,
  );

  const reloader = new Reloader({
    file: o.policyFile,
    holder,
    publish,
    log,
    onResult: (result, policy) => {
      metrics.policyReloads.inc({ result });
      if (result === "rejected") return;
      loadedAt = Date.now();
      setPolicyInfo(metrics, policy.hash);
      fleet.configure();
    },
  });
  process.on("SIGHUP", () => {
    log(`SIGHUP: reloading ${o.policyFile}`);
    void reloader.reload();
  });
  const accessLog = startAccessLogReader({
    file: o.accessLogFile,
    joiner,
    record: (r) => recorder.record(r),
    observe: (r) => recorder.observe(r),
    poolOf: (b) => holder.addresses.get(b),
    written: () => writer.written(),
    metrics,
    envoyAdmin,
    rotateBytes: o.accessLogRotateBytes,
    log,
  });

  return onShutdownSignal({
    drainMs: o.drainMs,
    grpcServer,
    log,
    beginDrain: () => {
      ready = false;
      reloader.close();
    },
    beforeClose: async () => {
      classifiers.close();
      poller.stop();
      fleet.stop();
      await accessLog.stop();
      joiner.close();
      void hooks.offload?.close();
      writer.flush();
    },
    afterClose: () => http.close(),
  });
}

/** The caller-token check for the gRPC server; without a token, a warning and no check. */
function callerCheck(token: string | undefined, metrics: ReturnType<typeof createMetrics>) {
  if (token === undefined) {
    log(
      "no caller token (SWITCHYARD_GRPC_TOKEN or --grpc-token-file): any local process can open gRPC streams",
    );
    return [];
  }
  let lastWarned = 0;
  return [
    callerTokenInterceptor(token, (reason) => {
      metrics.grpcRefused.inc({ reason });
      if (Date.now() - lastWarned < 60_000) return;
      lastWarned = Date.now();
      log(
        `refused a gRPC stream with a ${reason} caller token: is Envoy's ${TOKEN_ENV} this sidecar's token? (counted in switchyard_grpc_refused_total; logged once a minute)`,
      );
    }),
  ];
}
