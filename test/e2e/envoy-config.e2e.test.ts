// The committed Envoy files are what the code renders, and the pinned Envoy accepts them.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { bootstrapYaml, exampleXdsFiles } from "../../devkit/envoy-examples.js";
import { envoyBin, ROOT } from "../../devkit/processes.js";

const run = promisify(execFile);

describe("Envoy configuration", () => {
  it("the pinned Envoy is the version in envoy/VERSION", async () => {
    const pinned = (await readFile(join(ROOT, "envoy", "VERSION"), "utf8")).trim();
    const { stdout } = await run(envoyBin(), ["--version"]);
    assert.match(stdout, new RegExp(`/${pinned.replaceAll(".", "\\.")}/`));
  });

  it("envoy/envoy.yaml is what bootstrap.ts renders (npm run render:examples)", async () => {
    assert.equal(await readFile(join(ROOT, "envoy", "envoy.yaml"), "utf8"), bootstrapYaml());
  });

  it("envoy/xds-example matches examples/discourse.yml", async () => {
    const files = await exampleXdsFiles();
    assert.equal(await readFile(join(ROOT, "envoy", "xds-example", "cds.json"), "utf8"), files.cds);
    assert.equal(await readFile(join(ROOT, "envoy", "xds-example", "rds.json"), "utf8"), files.rds);
    const pools = join(ROOT, "envoy", "xds-example", "pools");
    assert.deepEqual(
      (await readdir(pools)).map((f) => `pools/${f}`).sort(),
      [...files.eds.keys()].sort(),
      "one endpoint file per pool",
    );
    for (const [file, text] of files.eds)
      assert.equal(await readFile(join(ROOT, "envoy", "xds-example", file), "utf8"), text);
  });

  it("envoy --mode validate accepts envoy/envoy.yaml", async () => {
    // Validation needs the xDS paths to exist and opens the access log: point them at the
    // committed example files and a scratch directory.
    const dir = await mkdtemp(join(tmpdir(), "switchyard-validate-"));
    const text = (await readFile(join(ROOT, "envoy", "envoy.yaml"), "utf8"))
      .replaceAll("/var/run/switchyard/xds", join(ROOT, "envoy", "xds-example"))
      .replaceAll("/var/run/switchyard/access-log", dir);
    await writeFile(join(dir, "envoy.yaml"), text);
    const { stdout, stderr } = await run(envoyBin(), [
      "--mode",
      "validate",
      "-c",
      join(dir, "envoy.yaml"),
      "-l",
      "warning",
    ]);
    assert.match(stdout + stderr, /configuration .* OK/);
  });
});
