import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { REPO_ROOT as ROOT } from "../../../test/fixtures/fixtures.js";
import { parsePolicy } from "../policy/load.js";
import { renderXdsFiles } from "./write-xds.js";

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
});
