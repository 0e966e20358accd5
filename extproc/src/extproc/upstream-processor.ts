// Upstream-level processing, for an attempt on a pool other than the one the router already
// rewrote the body for (Envoy skips this filter for the others; see render-xds.ts): learn
// which pool the chosen backend belongs to, ask for the body, take the router's rewrite back
// and adapt the client's body for this pool. An attempt that does reach here on the router's
// pool (no match data, say) gets a plain continue.
import { readBodyFacts } from "../facts/body.js";
import type { Policy } from "../policy/compile.js";
import { adaptForPool } from "../reasoning/adapt.js";
import { isNoOp, readSettings, renderPatched, restoreBody, type Undo } from "../reasoning/render-body.js";
import { H, UPSTREAM_NAMESPACE } from "../vocab/names.js";
import { decodeNote } from "./decision-record.js";
import { BODY_MODE, headerBag, type ProcessingRequest, setHeaders } from "./messages.js";
import type { Processor, Step } from "./processor.js";
import { fromStruct } from "./struct.js";

const CONTINUE = { request_headers: { response: {} } };

export class UpstreamProcessor implements Processor {
  private pool: string | undefined;
  private undo: Undo | undefined;
  requestId: string | undefined;

  constructor(
    private readonly policy: Policy,
    private readonly byAddress: ReadonlyMap<string, string>,
  ) {}

  onRequestHeaders(
    msg: NonNullable<ProcessingRequest["request_headers"]>,
    req: ProcessingRequest,
  ): Step | undefined {
    this.requestId = headerBag(msg.headers)[H.requestId];
    const attrs = fromStruct(req.attributes?.["envoy.filters.http.ext_proc"]);
    this.pool = this.byAddress.get(String(attrs["upstream.address"] ?? ""));
    // A request without a body has nothing more to adapt.
    if (msg.end_of_stream === true) return { response: CONTINUE, done: true };
    const note = decodeNote(req.metadata_context?.filter_metadata?.[UPSTREAM_NAMESPACE]);
    if (note !== undefined && note.adaptedFor === this.pool) return { response: CONTINUE, done: true };
    this.undo = note?.undo;
    return {
      response: { ...CONTINUE, mode_override: { request_body_mode: BODY_MODE.BUFFERED } },
      done: false,
    };
  }

  onRequestBody(msg: NonNullable<ProcessingRequest["request_body"]>): Step {
    return { response: { request_body: { response: this.adapt(msg.body) } }, done: true };
  }

  private adapt(raw: Buffer | undefined) {
    const doc = this.pool === undefined ? undefined : this.policy.pools.get(this.pool);
    if (doc === undefined || raw === undefined) return {};
    const original = this.undo === undefined ? raw : (restoreBody(raw, this.undo) ?? raw);
    // Only the settings are parsed; adapters never read the prompt.
    const read = readSettings(original);
    if (read === undefined) return {}; // the router already rejected bodies like this; pass it on untouched
    const patch = adaptForPool(read.settings, readBodyFacts(read.settings, original.length, []), doc);
    const noOp = isNoOp(read.settings, patch);
    if (noOp && read.base === raw) return {};
    const out = noOp ? read.base : renderPatched(read.base, read.members, patch);
    // A body of another length needs its content-length fixed, or Envoy answers 500.
    return {
      header_mutation: { set_headers: setHeaders({ [H.contentLength]: String(out.length) }) },
      body_mutation: { body: out },
    };
  }
}
