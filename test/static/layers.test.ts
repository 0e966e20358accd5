// The folders around the product import each other one way only: scripts/, bench/ and test/
// share process start-up through devkit/, never through each other's internals, and the
// simulator (test/sim/) stands alone so that everyone may use it. (The product's own layers
// are checked in extproc/src.)
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { ROOT } from "../../devkit/processes.js";

interface Rule {
  /** Files under this folder (repository-relative, with a trailing slash)… */
  from: string;
  /** …may not import anything under this one ("" = anything in the repository)… */
  to: string;
  /** …except under this one. */
  unless?: string;
  why: string;
}

const RULES: Rule[] = [
  { from: "scripts/", to: "test/", unless: "test/sim/", why: "start processes through devkit/" },
  { from: "bench/", to: "test/", unless: "test/sim/", why: "start processes through devkit/" },
  { from: "devkit/", to: "test/", unless: "test/sim/", why: "devkit/ serves the tests, not the reverse" },
  { from: "test/", to: "scripts/", why: "what a test needs from a script belongs in devkit/" },
  { from: "test/", to: "bench/", why: "the bench is a report, not a test library" },
  { from: "scripts/", to: "bench/", why: "shared code belongs in devkit/" },
  { from: "bench/", to: "scripts/", why: "shared code belongs in devkit/" },
  { from: "devkit/", to: "scripts/", why: "devkit/ is below the scripts" },
  { from: "devkit/", to: "bench/", why: "devkit/ is below the bench" },
  { from: "test/sim/", to: "", unless: "test/sim/", why: "the simulator stands alone" },
];

/** Repository-relative paths (posix) of the files that `file` imports by a relative specifier. */
function importsOf(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("./") || spec.startsWith("../"))
    .map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)));
}

/** Every rule that `file` (repository-relative) breaks, one line per import. */
function violations(file: string, text: string): string[] {
  const out: string[] = [];
  for (const target of importsOf(file, text)) {
    for (const r of RULES) {
      if (!file.startsWith(r.from) || !target.startsWith(r.to)) continue;
      if (r.unless !== undefined && target.startsWith(r.unless)) continue;
      out.push(`${file} imports ${target}: ${r.from} may not import ${r.to || "outside itself"} (${r.why})`);
    }
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(e.name) ? [path] : [];
  });
}

describe("layers around the product", () => {
  for (const folder of ["scripts", "bench", "devkit", "test"]) {
    it(`${folder}/ imports only what its layer may`, () => {
      const files = sources(folder);
      assert.ok(files.length > 0, `no sources under ${folder}/`);
      const broken = files.flatMap((f) => violations(f, readFileSync(join(ROOT, f), "utf8")));
      assert.deepEqual(broken, []);
    });
  }

  const cases: [string, string, string, number][] = [
    ["scripts/ → test/e2e", "scripts/x.ts", 'import { ROOT } from "../test/e2e/harness.js";', 1],
    [
      "bench/ → test/e2e (multi-line, export from)",
      "bench/x.ts",
      'export {\n  a,\n} from "../test/e2e/util.js";',
      1,
    ],
    [
      "test/ → scripts/ (dynamic import)",
      "test/e2e/x.ts",
      'await import("../../scripts/render-examples.js");',
      1,
    ],
    ["test/sim → devkit/", "test/sim/x.ts", 'import { ROOT } from "../../devkit/processes.js";', 1],
    [
      "scripts/ → test/sim is fine",
      "scripts/x.ts",
      'import { startSimFleet } from "../test/sim/sim-backend.js";',
      0,
    ],
    ["test/ → devkit/ is fine", "test/e2e/x.ts", 'import { waitFor } from "../../devkit/processes.js";', 0],
    [
      "a string or comment is no import",
      "bench/x.ts",
      '// from "../test/e2e/harness.js"\nconst s = "import \'../scripts/a.js\'";',
      0,
    ],
  ];
  for (const [name, file, text, count] of cases) {
    it(`the check itself: ${name} → ${count} violation(s)`, () => {
      assert.equal(violations(file, text).length, count, violations(file, text).join("\n"));
    });
  }

  it("the check itself: imports resolve to repository-relative paths", () => {
    assert.deepEqual(importsOf("bench/a.ts", 'import "./b.js";\nimport x from "yaml";'), ["bench/b.js"]);
    assert.deepEqual(importsOf("test/e2e/a.ts", 'import "../../devkit/p.js";'), ["devkit/p.js"]);
  });
});
