// GET /v1/models (and /v1/models/<id>) answered by Envoy itself from the policy: OpenAI's list
// of virtual models (policy/models.ts), so SDKs and chat UIs that ask first get an answer
// without a round trip to the sidecar. Rendered into RDS, so a reload updates it.
import type { Policy } from "../policy/compile.js";
import { modelList } from "../policy/models.js";
import { T } from "./common.js";

const JSON_HEADER = [
  { header: { key: "content-type", value: "application/json" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
];

/** Routes that never reach the ext_proc server (nothing to decide). */
const NO_EXT_PROC = {
  "envoy.filters.http.ext_proc": {
    "@type": `${T}envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute`,
    disabled: true,
  },
};

function getRoute(name: string, path: string, body: object): object {
  return {
    name,
    match: { path, headers: [{ name: ":method", string_match: { exact: "GET" } }] },
    direct_response: { status: 200, body: { inline_string: JSON.stringify(body) } },
    response_headers_to_add: JSON_HEADER,
    typed_per_filter_config: NO_EXT_PROC,
  };
}

/** The list, then one route per model for `GET /v1/models/<id>` (the SDK's models.retrieve). */
export function renderModelsRoutes(policy: Policy): object[] {
  const list = modelList(policy.doc) as { data: { id: string }[] };
  return [
    getRoute("models", "/v1/models", list),
    // Clients percent-encode the id's `/` (switchyard%2Ffrontier); Envoy matches the path as sent.
    ...list.data.flatMap((m) =>
      [...new Set([m.id, encodeURIComponent(m.id)])].map((id) =>
        getRoute(`models/${id}`, `/v1/models/${id}`, m),
      ),
    ),
  ];
}
