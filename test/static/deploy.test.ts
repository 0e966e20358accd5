// deploy/: the Prometheus config and alert rules pass promtool, the alerts fire in
// promtool's rule tests, and every metric the dashboard and rules use is one switchyard exports.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "../../devkit/processes.js";
import { registerFleetMetrics } from "../../extproc/src/observe/fleet-metrics.js";
import { createMetrics } from "../../extproc/src/observe/metrics.js";

const run = promisify(execFile);
const prom = join(ROOT, "deploy", "prometheus");

async function exported(): Promise<Set<string>> {
  const m = createMetrics();
  // The fleet's metrics live in their own file, registered on the same registry by serve/fleet.ts.
  registerFleetMetrics(
    m.registry,
    () => undefined,
    () => {
      throw new Error("no policy in this test");
    },
  );
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    for (const suffix of ["_bucket", "_count", "_sum"]) names.add(metric.name + suffix);
  }
  return names;
}

function switchyardMetricsIn(text: string): string[] {
  return [...new Set(text.match(/switchyard_[a-z0-9_]+/g) ?? [])];
}

describe("deploy/prometheus", () => {
  it("promtool check config", async () => {
    const { stdout } = await run("promtool", ["check", "config", join(prom, "prometheus.yml")]);
    assert.match(stdout, /SUCCESS/);
  });
  it("promtool check rules", async () => {
    const { stdout } = await run("promtool", ["check", "rules", join(prom, "alerts.yml")]);
    assert.match(stdout, /SUCCESS: 3 rules found/);
  });
  it("promtool test rules: no-healthy-backend and error-rate alerts fire", async () => {
    const { stdout } = await run("promtool", ["test", "rules", join(prom, "alerts.test.yml")]);
    assert.match(stdout, /SUCCESS/);
  });
  it("alert rules use only exported metrics", async () => {
    const names = await exported();
    for (const m of switchyardMetricsIn(readFileSync(join(prom, "alerts.yml"), "utf8")))
      assert.ok(names.has(m), m);
  });
});

describe("deploy/grafana", () => {
  const dash = JSON.parse(
    readFileSync(join(ROOT, "deploy", "grafana", "dashboards", "switchyard.json"), "utf8"),
  ) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  it("every panel queries only exported metrics", async () => {
    const names = await exported();
    for (const p of dash.panels) {
      for (const t of p.targets) {
        const used = switchyardMetricsIn(t.expr);
        assert.ok(used.length > 0, `${p.title}: no switchyard metric`);
        for (const m of used) assert.ok(names.has(m), `${p.title}: ${m} is not exported`);
      }
    }
  });
  it("has the panels operators need", () => {
    const titles = dash.panels.map((p) => p.title.toLowerCase()).join(" | ");
    for (const want of [
      "share by class",
      "share by pool",
      "ttft",
      "duration",
      "attempt failures",
      "in flight",
      "rejections",
    ]) {
      assert.ok(titles.includes(want), `missing panel: ${want}`);
    }
  });
});
