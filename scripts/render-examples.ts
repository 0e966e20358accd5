// Regenerates the committed Envoy examples from the code that renders them (see
// devkit/envoy-examples.ts): envoy/envoy.yaml and envoy/xds-example/{cds,rds}.json.
import { writeFile } from "node:fs/promises";
import { BOOTSTRAP_FILE, bootstrapYaml, exampleXdsFiles, XDS_EXAMPLE_DIR } from "../devkit/envoy-examples.js";
import { writeXds } from "../extproc/src/envoy/write-xds.js";

await writeFile(BOOTSTRAP_FILE, bootstrapYaml());
await writeXds(XDS_EXAMPLE_DIR, await exampleXdsFiles());
console.log("wrote envoy/envoy.yaml and envoy/xds-example/{cds,rds}.json, pools/*.json");
