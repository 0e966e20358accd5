// No Docker engine here: docker-compose.yml and the Dockerfile are checked statically.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { ROOT } from "../../devkit/processes.js";

type Service = {
  build?: { context: string; dockerfile: string };
  image?: string;
  volumes?: string[];
  network_mode?: string;
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  user?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
};

// `<<: *sidecar` merges (YAML 1.1 merge keys, which docker compose reads).
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const envoyYaml = readFileSync(join(ROOT, "envoy", "envoy.yaml"), "utf8");
/** The value after `flag` in a command line. */
const flag = (cmd: string[] | undefined, name: string) =>
  cmd?.includes(name) ? cmd[cmd.indexOf(name) + 1] : undefined;
const sidecars = Object.entries(services).filter(([, s]) => s.command?.[0] === "serve");

describe("docker-compose.yml", () => {
  it("every bind-mounted file and Dockerfile exists", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.build)
        assert.ok(existsSync(join(ROOT, svc.build.context, svc.build.dockerfile)), `${name}: Dockerfile`);
      for (const v of svc.volumes ?? []) {
        const src = v.split(":")[0] as string;
        if (src.startsWith(".")) assert.ok(existsSync(join(ROOT, src)), `${name}: ${src} is missing`);
        else
          assert.ok(
            compose.volumes && src in compose.volumes,
            `${name}: named volume ${src} is not declared`,
          );
      }
    }
  });

  it("Envoy runs the pinned version", () => {
    const pinned = readFileSync(join(ROOT, "envoy", "VERSION"), "utf8").trim();
    assert.equal(compose.services.envoy?.image, `envoyproxy/envoy:v${pinned}`);
  });

  it("every service shares the pod's network namespace (envoy.yaml dials 127.0.0.1)", () => {
    for (const [name, svc] of Object.entries(services))
      if (name !== "pod") assert.equal(svc.network_mode, "service:pod", name);
    assert.deepEqual(services.pod?.entrypoint, ["sleep", "infinity"], "the pod runs nothing that restarts");
  });

  it("only the proxy and Grafana are published", () => {
    for (const [name, svc] of Object.entries(services))
      if (name !== "pod") assert.equal(svc.ports, undefined, `${name} publishes no port`);
    const published = (services.pod?.ports ?? []).map((p) => p.split(":").slice(-1)[0]);
    assert.deepEqual(published.sort(), ["3000", "8080"]);
  });

  it("nothing else listens beyond loopback: sidecars keep their default 127.0.0.1, Prometheus binds it", () => {
    for (const [name, svc] of sidecars) {
      assert.equal(flag(svc.command, "--http-address"), undefined, name);
      assert.equal(flag(svc.command, "--grpc-address"), undefined, name);
    }
    assert.match(services.prometheus?.command?.join(" ") ?? "", /--web\.listen-address=127\.0\.0\.1:/);
    assert.match(envoyYaml, /admin:\s+address:\s+socket_address:\s+address: 127\.0\.0\.1/);
  });

  it("two sidecars, each one an endpoint of Envoy's sidecar cluster, restarted when they die", () => {
    assert.equal(sidecars.length, 2);
    for (const [name, svc] of sidecars) {
      const grpc = flag(svc.command, "--grpc-port");
      const http = flag(svc.command, "--http-port");
      const endpoint = new RegExp(
        `address: 127\\.0\\.0\\.1\\s+port_value: ${grpc}\\s+health_check_config:\\s+port_value: ${http}`,
      );
      assert.match(envoyYaml, endpoint, `${name}: gRPC ${grpc}, HTTP ${http}`);
      assert.equal((svc as { restart?: string }).restart, "unless-stopped", name);
    }
    const prom = readFileSync(join(ROOT, "deploy", "prometheus", "prometheus.yml"), "utf8");
    for (const [, svc] of sidecars) assert.ok(prom.includes(`127.0.0.1:${flag(svc.command, "--http-port")}`));
    const waits = services.envoy?.depends_on as Record<string, { condition: string }>;
    for (const [name] of sidecars) assert.equal(waits[name]?.condition, "service_healthy", name);
  });

  it("Envoy and the sidecars share the caller token, Envoy's access-log file and its flush interval", () => {
    assert.match(envoyYaml, /%ENVIRONMENT\(SWITCHYARD_GRPC_TOKEN\)%/);
    for (const name of ["envoy", ...sidecars.map(([n]) => n)])
      assert.match(
        services[name]?.environment?.SWITCHYARD_GRPC_TOKEN ?? "",
        /^\$\{SWITCHYARD_GRPC_TOKEN:\?/,
        name,
      );
    const logPath = /path: (\/var\/run\/switchyard\/access-log\/[^\s]+)/.exec(envoyYaml)?.[1];
    assert.ok(logPath, "envoy.yaml logs to a file under /var/run/switchyard/access-log");
    for (const name of ["envoy", ...sidecars.map(([n]) => n)])
      assert.ok(
        services[name]?.volumes?.includes("access-log:/var/run/switchyard/access-log"),
        `${name} mounts the access-log volume read-write`,
      );
    assert.equal(flag(services.envoy?.command, "--file-flush-interval-msec"), "100");
    assert.equal(services.envoy?.user, "1000:1000", "Envoy writes as the sidecars' user (node)");
    assert.notEqual(services["demo-fleet"]?.user, "1000:1000", "the fleet cannot write the access log");
  });

  it("the Dockerfile copies what the build needs", () => {
    const docker = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
    for (const dir of ["extproc", "test", "scripts", "bin", "examples"])
      assert.match(docker, new RegExp(`COPY ${dir} `));
  });
});
