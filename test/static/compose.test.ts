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
};

const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8")) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

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

  it("Envoy shares the sidecar's network namespace (envoy.yaml dials 127.0.0.1)", () => {
    assert.equal(compose.services.envoy?.network_mode, "service:switchyard");
    const envoyYaml = readFileSync(join(ROOT, "envoy", "envoy.yaml"), "utf8");
    assert.match(envoyYaml, /address: 127\.0\.0\.1\s+port_value: 50051/);
  });

  it("the Dockerfile copies what the build needs", () => {
    const docker = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
    for (const dir of ["extproc", "test", "scripts", "bin", "examples"])
      assert.match(docker, new RegExp(`COPY ${dir} `));
  });
});
