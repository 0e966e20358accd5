// Wiring only: load the policy, write Envoy's files, start gRPC + HTTP, handle signals.
import { watch } from "node:fs";
import { createServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import type { BootstrapOptions } from "./envoy/bootstrap.js";
import { renderXdsFiles, writeBootstrap, writeXds } from "./envoy/write-xds.js";
import { addExtProc, newGrpcServer, newHooks, PolicyHolder } from "./extproc/server.js";
import type { Policy } from "./policy/compile.js";
import { loadPolicyFile } from "./policy/load.js";
import { formatProblem } from "./policy/problems.js";

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
}

const log = (msg: string) => process.stderr.write(`switchyard: ${msg}\n`);

export async function serve(o: ServeOptions): Promise<number> {
  const first = await loadPolicyFile(o.policyFile);
  for (const w of first.warnings) log(formatProblem(o.policyFile, w));
  if (!first.ok) {
    for (const e of first.errors) log(formatProblem(o.policyFile, e));
    return 1;
  }
  const holder = new PolicyHolder(first.policy);
  const hooks = newHooks();
  hooks.onError = (err) => log(`ext_proc error: ${err.stack ?? err.message}`);

  // Clusters of the previous policy stay one generation, for requests decided just before a reload.
  let lastClusters: object[] = [];
  const publish = async (policy: Policy) => {
    const files = renderXdsFiles(policy, lastClusters);
    await writeXds(o.xdsDir, files);
    lastClusters = (JSON.parse(files.cds) as { resources: object[] }).resources;
    log(`policy ${policy.hash}: wrote ${files.clusterCount} clusters to ${o.xdsDir}`);
  };
  await publish(first.policy);
  if (o.bootstrapFile) {
    await writeBootstrap(o.bootstrapFile, { ...o.bootstrap, grpcPort: o.grpcPort, xdsDir: o.xdsDir });
  }

  const grpcServer = newGrpcServer();
  addExtProc(grpcServer, holder, hooks);
  const grpcPort = await new Promise<number>((res, rej) =>
    grpcServer.bindAsync(`${o.grpcAddress}:${o.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? rej(err) : res(p),
    ),
  );

  let ready = true;
  const http = createServer((req, res) => {
    if (req.url === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    if (req.url === "/readyz") {
      res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" });
      return void res.end(ready ? "ready\n" : "not ready\n");
    }
    if (req.url === "/debug/streams") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify(hooks.open));
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  await new Promise<void>((res) => http.listen(o.httpPort, o.httpAddress, res));
  const httpPort = (http.address() as { port: number }).port;
  log(`gRPC on ${o.grpcAddress}:${grpcPort}, HTTP on ${o.httpAddress}:${httpPort}, policy ${first.policy.hash}`);

  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      const next = await loadPolicyFile(o.policyFile);
      if (!next.ok) {
        log(`reload rejected, keeping policy ${holder.policy.hash}:`);
        for (const e of next.errors) log(`  ${formatProblem(o.policyFile, e)}`);
        return;
      }
      if (next.policy.hash === holder.policy.hash) return;
      await publish(next.policy);
      // Give Envoy's directory watch time to load new clusters before requests name them.
      await new Promise((r) => setTimeout(r, 1000));
      holder.swap(next.policy);
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
    const stop = (signal: string) => {
      log(`${signal}: draining`);
      ready = false;
      watcher.close();
      grpcServer.tryShutdown(() => {
        http.close();
        resolveExit(0);
      });
      // Streams still open after 10 s are cut.
      setTimeout(() => grpcServer.forceShutdown(), 10_000).unref();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

