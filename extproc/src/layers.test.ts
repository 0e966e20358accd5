// The folders of extproc/src are layers, and imports only go down them: a folder may import
// its own files and the folders below it, never one above. Shared vocabulary (header names,
// metadata keys, cluster names, the reason type, JSON) lives at the ground floor, vocab/.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, test } from "node:test";
import { repoPath } from "../../test/fixtures/fixtures.js";

/** Bottom to top. Files directly in src/ other than errors.ts are wiring (the top floor). */
const LAYERS = [
  ["vocab", "errors.ts"],
  ["policy"],
  ["facts"],
  ["routing"],
  ["reasoning"],
  ["classify"],
  ["envoy"],
  ["extproc"],
  ["telemetry"],
  ["observe"],
  ["serve", "cli", "main.ts", "cli.ts", "layers.test.ts"],
] as const;

const SRC = repoPath("extproc/src");

function layerOf(file: string): number {
  const first = relative(SRC, file).split("/")[0] as string;
  const i = LAYERS.findIndex((names) => (names as readonly string[]).includes(first));
  if (i < 0) throw new Error(`${relative(SRC, file)} is in no layer: add its folder to LAYERS`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/g;

/** Relative imports of `file` that resolve inside extproc/src. */
export function localImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2]) as string;
    const target = normalize(join(dirname(file), spec)).replace(/\.js$/, ".ts");
    if (!relative(SRC, target).startsWith("..")) out.push(target);
  }
  return out;
}

describe("layers: imports only go down", () => {
  const files = sources(SRC);
  test("every file of extproc/src belongs to a layer", () => {
    for (const f of files) layerOf(f);
  });
  test("no file imports a folder above its own", () => {
    const wrong: string[] = [];
    for (const f of files) {
      for (const target of localImports(f)) {
        if (layerOf(target) > layerOf(f)) wrong.push(`${relative(SRC, f)} → ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
  test("the checker sees an upward import", () => {
    const upward = join(SRC, "routing", "decide.ts");
    assert.ok(
      localImports(upward).some((t) => layerOf(t) < layerOf(upward)),
      "decide.ts imports lower layers",
    );
    assert.ok(layerOf(join(SRC, "observe", "x.ts")) > layerOf(join(SRC, "telemetry", "x.ts")));
  });
});
