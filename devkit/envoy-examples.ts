// The committed Envoy examples, as the code renders them:
//   envoy/envoy.yaml            the bootstrap with default ports (docker-compose uses it)
//   envoy/xds-example/          cds.json, rds.json and pools/*.json (endpoints) for examples/discourse.yml
// `npm run render:examples` writes them (scripts/render-examples.ts); an e2e test fails when the
// committed files drift from what this renders.
import { join } from "node:path";
import { stringify } from "yaml";
import { DEFAULT_BOOTSTRAP, renderBootstrap } from "../extproc/src/envoy/bootstrap.js";
import { type RenderedFiles, renderXdsFiles } from "../extproc/src/envoy/write-xds.js";
import { loadPolicyFile } from "../extproc/src/policy/load.js";
import { ROOT } from "./processes.js";

export const BOOTSTRAP_FILE = join(ROOT, "envoy", "envoy.yaml");
export const XDS_EXAMPLE_DIR = join(ROOT, "envoy", "xds-example");
export const EXAMPLE_POLICY = join(ROOT, "examples", "discourse.yml");

export const BOOTSTRAP_HEADER = `# Envoy bootstrap for switchyard, rendered by \`npm run render:examples\` from
# extproc/src/envoy/bootstrap.ts with the default ports (listener 8080, admin 9901,
# switchyard gRPC 50051). Clusters (cds.json) and routes (rds.json) come from files that
# \`switchyard serve\` writes into /var/run/switchyard/xds; see envoy/xds-example/ for the
# files examples/discourse.yml produces. Do not edit by hand.
`;

export function bootstrapYaml(): string {
  return BOOTSTRAP_HEADER + stringify(renderBootstrap(DEFAULT_BOOTSTRAP), { lineWidth: 0 });
}

/** cds.json and rds.json for examples/discourse.yml. */
export async function exampleXdsFiles(): Promise<RenderedFiles> {
  const loaded = await loadPolicyFile(EXAMPLE_POLICY);
  if (!loaded.ok) throw new Error(`${EXAMPLE_POLICY} is invalid`);
  return renderXdsFiles(loaded.policy, [], DEFAULT_BOOTSTRAP.xdsDir);
}
