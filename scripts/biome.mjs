#!/usr/bin/env node
// Runs Biome's Linux x64 binary, installed as the optional dependency @biomejs/cli-linux-x64.
// (The @biomejs/biome wrapper lists every platform's binary as an optional dependency, and
// `npm ci` then wants all of them in the lock file; CI and the dev machines are Linux x64.)
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
let bin;
try {
  bin = join(dirname(require.resolve("@biomejs/cli-linux-x64/package.json")), "biome");
} catch {
  console.error("biome: @biomejs/cli-linux-x64 is not installed (lint runs on Linux x64 only)");
  process.exit(2);
}
const r = spawnSync(bin, process.argv.slice(2), { stdio: "inherit" });
if (r.error) {
  console.error(`biome: ${r.error.message}`);
  process.exit(2);
}
process.exit(r.status ?? 1);
