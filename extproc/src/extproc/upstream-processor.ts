// Upstream-level processing, for an attempt on a pool other than the one the router already
// rewrote the body for (Envoy skips this filter for the others; see render-xds.ts): learn
// which pool the chosen backend belongs to, ask for the body, take the router's rewrite back
// and adapt the client's body for this pool. An attempt that does reach here on the router's
// pool (no match data, say) gets a plain continue.
import { parseChatBody, readBodyFacts } from "../facts/body.js";
import type { Policy } from "../policy/compile.js";
import type { PoolDoc } from "../policy/schema.js";
import { adaptForPool, applyPatch } from "../reasoning/adapt.js";
import { indexMembers, renderPatched } from "../reasoning/render-body.js";
import { adaptBodyBytes, restoreBody, type Undo, undoFrom } from "./body-bytes.js";
import { H, UPSTREAM_NAMESPACE } from "./header-names.js";
import type { ProcessingRequest } from "./messages.js";
import { setHeaders } from "./messages.js";
import type { Step } from "./router-processor.js";
import { fromStruct } from "./struct.js";

/** Backend address -> pool; `check` guarantees that an address belongs to one pool. */
export function poolsByAddress(policy: Policy): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, pool] of policy.pools) for (const b of pool.backends) m.set(b.address, name);
  return m;
}

export class UpstreamProcessor {
  private pool: string | undefined;
  private undo: Undo | undefined;

  constructor(
    private readonly policy: Policy,
    private readonly byAddress: ReadonlyMap<string, string>,
  ) {}

  handle(req: ProcessingRequest): Step | undefined {
    if (req.request_headers) {
      const attrs = fromStruct(req.attributes?.["envoy.filters.http.ext_proc"]);
      const backend = String(attrs["upstream.address"] ?? "");
      this.pool = this.byAddress.get(backend);
      // A request without a body has nothing more to adapt.
      if (req.request_headers.end_of_stream === true) return { response: CONTINUE, done: true };
      const note = fromStruct(req.metadata_context?.filter_metadata?.[UPSTREAM_NAMESPACE]);
      if (note.adapted_for !== undefined && note.adapted_for === this.pool)
        return { response: CONTINUE, done: true };
      this.undo = undoFrom(note.undo);
      return { response: { ...CONTINUE, mode_override: { request_body_mode: "BUFFERED" } }, done: false };
    }
    if (req.request_body) {
      return { response: { request_body: { response: this.adapt(req.request_body.body) } }, done: true };
    }
    return undefined;
  }

  private adapt(raw: Buffer | undefined) {
    const doc = this.pool === undefined ? undefined : this.policy.pools.get(this.pool);
    if (doc === undefined || raw === undefined) return {};
    const original = this.undo === undefined ? raw : (restoreBody(raw, this.undo) ?? raw);
    const out = adaptBodyBytes(original, doc) ?? adaptBodyText(original, doc);
    if (out === undefined) return {}; // the router already rejected bodies like this; pass it on untouched
    // A body of another length needs its content-length fixed, or Envoy answers 500.
    return {
      header_mutation: { set_headers: setHeaders({ [H.contentLength]: String(out.length) }) },
      body_mutation: { body: out },
    };
  }
}

const CONTINUE = { request_headers: { response: {} } };

/** The text route: for the bodies adaptBodyBytes leaves (invalid UTF-8, odd shapes). */
export function adaptBodyText(raw: Buffer, doc: PoolDoc): Buffer | undefined {
  const text = raw.toString("utf8");
  const parsed = parseChatBody(text);
  if (!parsed.ok) return undefined;
  const patch = adaptForPool(parsed.body, readBodyFacts(parsed.body, raw.length, []), doc);
  const members = indexMembers(text);
  return Buffer.from(
    members ? renderPatched(members, patch) : JSON.stringify(applyPatch(parsed.body, patch)),
  );
}
