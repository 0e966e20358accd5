// The two answers both floor servers give (bench/floor-extproc.ts in grpc-js, bench/go-floor in
// Go), encoded once: the same route answer switchyard gives (route header, clear_route_cache,
// the pool the body is meant for, so Envoy skips the upstream filter), minus the body rewrite:
// the sims also serve the name the bench's client sends (dataplane-stack.ts, CLIENT_MODEL).
import { setHeaders } from "../extproc/src/extproc/messages.js";
import { loadEnvoyServices } from "../extproc/src/extproc/protos.js";
import { toStruct } from "../extproc/src/extproc/struct.js";
import { H, METADATA_NAMESPACE, UPSTREAM_NAMESPACE } from "../extproc/src/vocab/names.js";

export interface FloorAnswers {
  /** The ProcessingResponse to the router's request headers, encoded. */
  headers: Buffer;
  /** The ProcessingResponse to the router's request body, encoded. */
  body: Buffer;
}

export function floorAnswers(cluster: string, pool: string): FloorAnswers {
  const process_ = loadEnvoyServices().extProc.Process;
  if (process_ === undefined) throw new Error("ExternalProcessor/Process missing from the loaded protos");
  return {
    headers: process_.responseSerialize({ request_headers: { response: {} } }),
    body: process_.responseSerialize({
      request_body: {
        response: {
          clear_route_cache: true,
          header_mutation: { set_headers: setHeaders({ [H.cluster]: cluster }) },
        },
      },
      dynamic_metadata: toStruct({
        [METADATA_NAMESPACE]: { class: "floor" },
        [UPSTREAM_NAMESPACE]: { adapted_for: pool, undo: { keys: [], members: "" } },
      }),
    }),
  };
}
