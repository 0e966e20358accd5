#!/usr/bin/env node
// Runs Biome's Linux x64 binary, installed as the devDependency @biomejs/cli-linux-x64.
// (The @biomejs/biome wrapper lists every platform's binary as an optional dependency, and
// `npm ci` then wants all of them in the lock file; CI and the dev machines are Linux x64.)
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve("@biomejs/cli-linux-x64/package.json")), "biome");
const r = spawnSync(bin, process.argv.slice(2), { stdio: "inherit" });
if (r.error) {
  console.error(`biome: ${r.error.message}`);
  process.exit(2);
}
process.exit(r.status ?? 1);
