// Wiring only: load the policy, write Envoy's files, start gRPC + HTTP, handle signals.
import { watch } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import type { BootstrapOptions } from "./envoy/bootstrap.js";
import { renderXdsFiles, writeBootstrap, writeXds } from "./envoy/write-xds.js";
import { loadEnvoyServices } from "./extproc/protos.js";
import { addExtProc, newGrpcServer, newHooks, PolicyHolder } from "./extproc/server.js";
import { LogWriter } from "./observe/log-writer.js";
import { createMetrics, setPolicyInfo } from "./observe/metrics.js";
import { buildStatus } from "./observe/status.js";
import type { Policy } from "./policy/compile.js";
import { loadPolicyFile } from "./policy/load.js";
import { formatProblem } from "./policy/problems.js";
import { EnvoyAdminPoller } from "./telemetry/envoy-admin.js";
import { accessLogService, TelemetryHub } from "./telemetry/hub.js";

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
  const hub = new TelemetryHub(holder, metrics, writer);
  const hooks = newHooks();
  hooks.onError = (err) => log(`ext_proc error: ${err.stack ?? err.message}`);
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
      metrics.inFlight.set({ pool, backend: address }, state.rqActive);
      metrics.backendHealthy.set({ pool, backend: address }, state.healthy ? 1 : 0);
    }
  });
  poller.start();

  // Clusters of the previous policy stay one generation, for requests decided just before a reload.
  let lastClusters: readonly object[] = [];
  const publish = async (policy: Policy) => {
    const files = renderXdsFiles(policy, lastClusters);
    await writeXds(o.xdsDir, files);
    lastClusters = [...files.current];
    log(`policy ${policy.hash}: wrote ${files.clusterCount} clusters to ${o.xdsDir}`);
  };
  await publish(first.policy);
  if (o.bootstrapFile) {
    await writeBootstrap(o.bootstrapFile, {
      ...o.bootstrap,
      sidecars: [{ address: o.grpcAddress, grpcPort: o.grpcPort, httpPort: o.httpPort }],
      xdsDir: o.xdsDir,
    });
  }

  const grpcServer = newGrpcServer();
  addExtProc(grpcServer, holder, hooks);
  const accessLog = accessLogService(hub, (err) => log(`access log error: ${err.message}`));
  grpcServer.addService(loadEnvoyServices().accessLog, { StreamAccessLogs: accessLog.handler });
  const grpcPort = await new Promise<number>((res, rej) =>
    grpcServer.bindAsync(
      `${o.grpcAddress}:${o.grpcPort}`,
      grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? rej(err) : res(p)),
    ),
  );

  let ready = true;
  const http = createServer((req, res) => {
    if (req.url === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    if (req.url === "/readyz") {
      res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" });
      return void res.end(ready ? "ready\n" : "not ready\n");
    }
    if (req.url === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    if (req.url === "/status") {
      const status = buildStatus({
        version: VERSION,
        startedAt,
        now: Date.now(),
        policy: holder.policy,
        policyFile: o.policyFile,
        loadedAt,
        backends: poller.backends,
        envoy: { url: envoyAdmin, lastOk: poller.lastOk, error: poller.lastError },
        windows: hub.windows,
        streams: hooks.open,
        logDropped: writer.dropped,
      });
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(`${JSON.stringify(status, null, 2)}\n`);
    }
    if (req.url === "/debug/streams") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify(hooks.open));
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  await new Promise<void>((res) => http.listen(o.httpPort, o.httpAddress, res));
  const httpPort = (http.address() as { port: number }).port;
  log(
    `gRPC on ${o.grpcAddress}:${grpcPort}, HTTP on ${o.httpAddress}:${httpPort}, policy ${first.policy.hash}`,
  );

  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      const next = await loadPolicyFile(o.policyFile);
      if (!next.ok) {
        metrics.policyReloads.inc({ result: "rejected" });
        log(`reload rejected, keeping policy ${holder.policy.hash}:`);
        for (const e of next.errors) log(`  ${formatProblem(o.policyFile, e)}`);
        return;
      }
      if (next.policy.hash === holder.policy.hash) return;
      await publish(next.policy);
      // Give Envoy's directory watch time to load new clusters before requests name them.
      await new Promise((r) => setTimeout(r, 1000));
      holder.swap(next.policy);
      loadedAt = Date.now();
      setPolicyInfo(metrics, next.policy.hash);
      metrics.policyReloads.inc({ result: "applied" });
      log(`reloaded policy ${next.policy.hash}`);
    });
  };
  process.on("SIGHUP", reload);
  let debounce: NodeJS.Timeout | undefined;
  const watcher = watch(o.policyFile, () => {
    clearTimeout(debounce);
    debounce = setTimeout(reload, 200);
  });

  return new Promise<number>((resolveExit) => {
    const stop = async (signal: string) => {
      log(`${signal}: not ready; draining for ${o.drainMs} ms`);
      ready = false;
      watcher.close();
      await new Promise((r) => setTimeout(r, o.drainMs));
      poller.stop();
      accessLog.closeAll();
      hub.close();
      writer.flush();
      grpcServer.tryShutdown(() => {
        http.close();
        resolveExit(0);
      });
      // Streams still open after 10 s are cut.
      setTimeout(() => grpcServer.forceShutdown(), 10_000).unref();
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
  });
}
