#!/usr/bin/env node
// Entry point for `npx switchyard`; the TypeScript is compiled to dist/ by `npm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../dist/extproc/src/cli.js", import.meta.url));
if (!existsSync(cli)) {
  console.error("switchyard: dist/ is missing; run `npm run build` (or the README's test command) first");
  process.exit(2);
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
