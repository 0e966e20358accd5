import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO_ROOT as ROOT } from "../../../test/fixtures/fixtures.js";
import { parsePolicy } from "../policy/load.js";
import { endpointFilesNamed, readWrittenClusters, renderXdsFiles, writeXds } from "./write-xds.js";

const load = (text: string) => {
  const r = parsePolicy(text);
  assert.ok(r.ok);
  return r.policy;
};
const names = (cds: string) =>
  (JSON.parse(cds) as { resources: { name: string }[] }).resources.map((c) => c.name).sort();

describe("renderXdsFiles", () => {
  const discourse = readFileSync(`${ROOT}/examples/discourse.yml`, "utf8");
  const a = load(discourse);
  const b = load(
    discourse.replace(
      "  fast:\n    - { qwen-small: 70, deepseek-flash: 30 }",
      "  fast:\n    - { qwen-large: 100 }",
    ),
  );

  it("keeps the previous policy's clusters for exactly one generation", () => {
    const first = renderXdsFiles(a);
    assert.ok(names(first.cds).includes("swy.qwen-small"));
    const second = renderXdsFiles(b, first.current);
    assert.ok(!names(renderXdsFiles(b).cds).includes("swy.qwen-small"), "b alone has no qwen-small path");
    assert.ok(names(second.cds).includes("swy.qwen-small"), "kept for requests decided before the reload");
    const third = renderXdsFiles(b, second.current);
    assert.ok(!names(third.cds).includes("swy.qwen-small"), "dropped one reload later");
    assert.deepEqual(names(third.cds), names(renderXdsFiles(b).cds));
  });

  it("a sidecar starting with a new policy keeps the clusters already written (its peer may route to them)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "swy-xds-"));
    assert.deepEqual(await readWrittenClusters(dir), [], "nothing written yet");
    await writeXds(dir, renderXdsFiles(a));
    const written = await readWrittenClusters(dir);
    const started = renderXdsFiles(b, written);
    assert.ok(names(started.cds).includes("swy.qwen-small"), "the old policy's path is still there");
    await writeXds(dir, started);
    assert.ok(names(await readFile(join(dir, "cds.json"), "utf8")).includes("swy.qwen-small"));
  });
});

describe("writeXds", () => {
  const discourse = readFileSync(`${ROOT}/examples/discourse.yml`, "utf8");
  const a = load(discourse);
  // qwen-small off every ladder and out of the pools: its cluster is kept one generation.
  const withoutQwenSmall = load(
    discourse
      .replace(
        "  fast:\n    - { qwen-small: 70, deepseek-flash: 30 }",
        "  fast:\n    - { deepseek-flash: 100 }",
      )
      .replace(/\n {4}- \{ qwen-small: \d+ \}/g, "")
      .replace(/\n {2}qwen-small:\n(?: {4}.*\n)+/, "\n"),
  );

  it("endpoint files under pools/, clusters naming them in the directory written to; unchanged files untouched", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-xds-"));
    const first = renderXdsFiles(a);
    await writeXds(dir, first);
    assert.deepEqual((await readdir(join(dir, "pools"))).sort(), [
      "deepseek-flash.json",
      "qwen-large.json",
      "qwen-small.json",
    ]);
    assert.deepEqual(
      endpointFilesNamed(await readFile(join(dir, "cds.json"), "utf8")).sort(),
      ["deepseek-flash", "qwen-large", "qwen-small"].map((p) => join(dir, "pools", `${p}.json`)),
    );
    const inode = async (f: string) => (await stat(join(dir, f))).ino;
    const before = await Promise.all(["cds.json", "rds.json", "pools/qwen-large.json"].map(inode));
    await writeXds(dir, renderXdsFiles(a, first.current));
    const after = await Promise.all(["cds.json", "rds.json", "pools/qwen-large.json"].map(inode));
    assert.deepEqual(after, before, "nothing rewritten when nothing changed");
  });

  it("a removed pool's endpoint file stays while its cluster is kept, and goes with it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-xds-"));
    const first = renderXdsFiles(a);
    await writeXds(dir, first);
    const second = renderXdsFiles(withoutQwenSmall, first.current);
    assert.ok(names(second.cds).includes("pool.qwen-small"), "kept one generation");
    await writeXds(dir, second);
    assert.ok((await readdir(join(dir, "pools"))).includes("qwen-small.json"));
    await writeXds(dir, renderXdsFiles(withoutQwenSmall, second.current));
    assert.deepEqual((await readdir(join(dir, "pools"))).sort(), ["deepseek-flash.json", "qwen-large.json"]);
  });

  it("an explicit xDS directory (Envoy's view) is what the clusters name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-xds-"));
    await writeXds(dir, renderXdsFiles(a, [], "/srv/envoy/xds"));
    const named = endpointFilesNamed(await readFile(join(dir, "cds.json"), "utf8"));
    assert.ok(named.length === 3 && named.every((p) => p.startsWith("/srv/envoy/xds/pools/")), named.join());
  });
});
