// Upstream-level processing, once per attempt: learn which pool the chosen backend belongs
// to and give it the client's original body adapted for that pool.
import { parseChatBody, readBodyFacts } from "../facts/body.js";
import type { Policy } from "../policy/compile.js";
import type { PoolDoc } from "../policy/schema.js";
import { adaptForPool, applyPatch } from "../reasoning/adapt.js";
import { indexMembers, renderPatched } from "../reasoning/render-body.js";
import { adaptBodyBytes } from "./body-bytes.js";
import { H } from "./header-names.js";
import type { ProcessingRequest } from "./messages.js";
import { setHeaders } from "./messages.js";
import type { Step } from "./router-processor.js";
import { fromStruct } from "./struct.js";

export interface Attempt {
  requestId: string;
  attempt: number;
  cluster: string;
  backend: string;
  pool: string | undefined;
}

/** Told of each attempt as it starts; may return a record to mark once the body went out. */
export type AttemptObserver = (a: Attempt) => { bodySent: boolean } | undefined;

/** Backend address -> pool; `check` guarantees that an address belongs to one pool. */
export function poolsByAddress(policy: Policy): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, pool] of policy.pools) for (const b of pool.backends) m.set(b.address, name);
  return m;
}

export class UpstreamProcessor {
  private pool: string | undefined;
  private record: { bodySent: boolean } | undefined;

  constructor(
    private readonly policy: Policy,
    private readonly byAddress: ReadonlyMap<string, string>,
    private readonly observe?: AttemptObserver,
  ) {}

  handle(req: ProcessingRequest): Step | undefined {
    if (req.request_headers) {
      const attrs = fromStruct(req.attributes?.["envoy.filters.http.ext_proc"]);
      const backend = String(attrs["upstream.address"] ?? "");
      this.pool = this.byAddress.get(backend);
      this.record = this.observe?.({
        requestId: String(attrs["request.id"] ?? ""),
        attempt: Number(attrs["upstream.request_attempt_count"] ?? 0),
        cluster: String(attrs["xds.cluster_name"] ?? ""),
        backend,
        pool: this.pool,
      });
      // A request without a body has nothing more to adapt.
      return {
        response: { request_headers: { response: {} } },
        done: req.request_headers.end_of_stream === true,
      };
    }
    if (req.request_body) {
      // Envoy sends the body only once the connection to the backend is up.
      if (this.record) this.record.bodySent = true;
      return { response: { request_body: { response: this.adapt(req.request_body.body) } }, done: true };
    }
    return undefined;
  }

  private adapt(raw: Buffer | undefined) {
    const doc = this.pool === undefined ? undefined : this.policy.pools.get(this.pool);
    if (doc === undefined || raw === undefined) return {};
    const out = adaptBodyBytes(raw, doc) ?? adaptBodyText(raw, doc);
    if (out === undefined) return {}; // the router already rejected bodies like this; pass it on untouched
    // A body of another length needs its content-length fixed, or Envoy answers 500.
    return {
      header_mutation: { set_headers: setHeaders({ [H.contentLength]: String(out.length) }) },
      body_mutation: { body: out },
    };
  }
}

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
