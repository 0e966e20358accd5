// Router-level processing: headers + buffered body -> decision -> route selection. Answers the
// body message as the last one, so the stream loop ends the gRPC stream and a long SSE response
// holds no ext_proc stream open.
import { randomBytes } from "node:crypto";
import type { Classifier } from "../classify/classifier.js";
import type { Policy } from "../policy/compile.js";
import { rewriteForPool } from "../reasoning/render-body.js";
import { needsLabel } from "../routing/class-math.js";
import type { Decision } from "../routing/decide.js";
import { decideRead, type Evaluation, readRequest } from "../routing/evaluate.js";
import { type FleetView, NO_FLEET } from "../routing/fleet-view.js";
import { H, pathClusterName } from "../vocab/names.js";
import { type DecisionRecord, encodeMetadata, factsRecord, type UpstreamNote } from "./decision-record.js";
import {
  type CommonResponse,
  headerBag,
  immediateError,
  type ProcessingRequest,
  type ProcessingResponse,
  setHeaders,
} from "./messages.js";
import type { Processor, Step } from "./processor.js";
import { stringOf } from "./struct.js";

const EMPTY = Buffer.alloc(0);

/** Where the router gets the live fleet (telemetry/fleet-monitor.ts), as it gets the live policy. */
export interface FleetSource {
  view(): FleetView;
  /** The request went to `pool` first (counts a half-open pool's probes). */
  routed(pool: string): void;
}

/** Unique per process (random prefix) and per request (counter): cheap, and safe with several sidecars. */
const JOIN_PREFIX = randomBytes(6).toString("hex");
let joinCounter = 0;
const nextJoinKey = () => `${JOIN_PREFIX}-${(joinCounter++).toString(36)}`;

export class RouterProcessor implements Processor {
  private headers: Record<string, string> = {};
  private source: string | undefined;

  constructor(
    private readonly policy: Policy,
    private readonly rand: () => number = Math.random,
    private readonly classifier?: Classifier,
    private readonly fleet?: FleetSource,
  ) {}

  get requestId(): string | undefined {
    return this.headers[H.requestId];
  }

  onRequestHeaders(
    msg: NonNullable<ProcessingRequest["request_headers"]>,
    req?: ProcessingRequest,
  ): Step | Promise<Step> {
    this.headers = headerBag(msg.headers);
    const attrs = req?.attributes?.["envoy.filters.http.ext_proc"]?.fields;
    this.source = stringOf(attrs?.["source.address"]);
    if (msg.end_of_stream) return this.decide(EMPTY);
    return { response: { request_headers: { response: {} } }, done: false };
  }

  /** BUFFERED mode delivers the whole body in one message. */
  onRequestBody(msg: NonNullable<ProcessingRequest["request_body"]>): Step | Promise<Step> {
    return this.decide(msg.body ?? EMPTY);
  }

  private decide(body: Buffer): Step | Promise<Step> {
    const read = readRequest(this.policy, this.headers, body, this.source ?? null);
    if (read.kind === "bad_body") {
      const md = encodeMetadata({ error: read.error.code, reasons: read.reasons.map((r) => r.short) });
      return { response: { ...immediateError(read.error), dynamic_metadata: md }, done: true };
    }
    // A request no header describes gets its label first (classify/): at once from a header, the
    // heuristic or the cache, else after one bounded call. The decision itself stays pure.
    const c = this.classifier;
    const view = () => this.fleet?.view() ?? NO_FLEET;
    if (c !== undefined && needsLabel(this.policy, read.facts)) {
      const label = c.label(read.body, read.facts);
      if (label instanceof Promise)
        return label.then((l) => this.answer(decideRead(this.policy, read, this.rand, l, view()), body));
      return this.answer(decideRead(this.policy, read, this.rand, label, view()), body);
    }
    return this.answer(decideRead(this.policy, read, this.rand, undefined, view()), body);
  }

  private answer(ev: Extract<Evaluation, { kind: "decided" }>, body: Buffer): Step {
    const d = ev.decision;
    const reasons = d.reasons.map((r) => r.short);
    const record: DecisionRecord = factsRecord(ev.facts, reasons);
    if (d.kind === "reject") {
      const extra: Record<string, string> = this.policy.doc.response.decision_headers
        ? { [H.class]: d.className }
        : {};
      record.class = d.className;
      record.baseFrom = d.base;
      record.error = d.error.code;
      const md = encodeMetadata(record);
      return { response: { ...immediateError(d.error, extra), dynamic_metadata: md }, done: true };
    }
    return { response: this.route(d, record, ev, body), done: true };
  }

  private route(
    d: Extract<Decision, { kind: "route" }>,
    record: DecisionRecord,
    ev: Extract<Evaluation, { kind: "decided" }>,
    body: Buffer,
  ): ProcessingResponse {
    const retries = this.policy.doc.retry.attempts_per_pool * d.path.length - 1;
    const headers: Record<string, string> = {
      [H.cluster]: pathClusterName(d.path),
      [H.class]: d.className,
      [H.maxRetries]: String(retries),
      [H.joinKey]: nextJoinKey(),
    };
    const response: CommonResponse = { clear_route_cache: true };
    // Attempts normally go to the path's first pool: rewrite the body for it here, and Envoy
    // skips the upstream filter for attempts on that pool (render-xds.ts, upstreamExtProc).
    const firstName = d.path[0] as string;
    this.fleet?.routed(firstName);
    const first = this.policy.pools.get(firstName);
    let note: UpstreamNote | undefined;
    if (first && body.length > 0) {
      const pre = rewriteForPool(body, ev.body, ev.facts.body, first);
      // A body the pool takes as it is goes on untouched: nothing to send back to Envoy.
      if (!pre.unchanged) {
        headers[H.contentLength] = String(pre.body.length);
        response.body_mutation = { body: pre.body };
      }
      note = { adaptedFor: firstName, undo: pre.undo };
    }
    // The caller's secret goes no further than here: not to a backend, not into a log.
    const secret = this.policy.trust?.secret?.header;
    response.header_mutation = {
      set_headers: setHeaders(headers),
      ...(secret !== undefined && this.headers[secret] !== undefined ? { remove_headers: [secret] } : {}),
    };
    record.class = d.className;
    record.baseFrom = d.base;
    record.path = d.path;
    const md = encodeMetadata(record, note);
    return { request_body: { response }, dynamic_metadata: md };
  }
}
