// Regenerates the committed Envoy examples from the code that renders them:
//   envoy/envoy.yaml            the bootstrap with default ports (docker-compose uses it)
//   envoy/xds-example/*.json    cds.json and rds.json for examples/discourse.yml
// A test fails when these files drift from what the code renders.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { DEFAULT_BOOTSTRAP, renderBootstrap } from "../extproc/src/envoy/bootstrap.js";
import { renderXdsFiles, writeXds } from "../extproc/src/envoy/write-xds.js";
import { loadPolicyFile } from "../extproc/src/policy/load.js";
import { ROOT } from "../test/e2e/harness.js";

export const BOOTSTRAP_HEADER = `# Envoy bootstrap for switchyard, rendered by \`npm run render:examples\` from
# extproc/src/envoy/bootstrap.ts with the default ports (listener 8080, admin 9901,
# switchyard gRPC 50051). Clusters (cds.json) and routes (rds.json) come from files that
# \`switchyard serve\` writes into /var/run/switchyard/xds; see envoy/xds-example/ for the
# files examples/discourse.yml produces. Do not edit by hand.
`;

export function bootstrapYaml(): string {
  return BOOTSTRAP_HEADER + stringify(renderBootstrap(DEFAULT_BOOTSTRAP), { lineWidth: 0 });
}

async function main() {
  await writeFile(join(ROOT, "envoy", "envoy.yaml"), bootstrapYaml());
  const loaded = await loadPolicyFile(join(ROOT, "examples", "discourse.yml"));
  if (!loaded.ok) throw new Error("examples/discourse.yml is invalid");
  await writeXds(join(ROOT, "envoy", "xds-example"), renderXdsFiles(loaded.policy));
  console.log("wrote envoy/envoy.yaml and envoy/xds-example/{cds,rds}.json");
}

if (process.argv[1]?.endsWith("render-examples.js")) await main();
