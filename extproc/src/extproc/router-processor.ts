// Router-level processing: headers + buffered body -> decision -> route selection.
// Answers the body message, then the stream loop ends the gRPC stream so that a long SSE
// response holds no ext_proc stream open.

import { pathClusterName } from "../envoy/cluster-name.js";
import { clientError } from "../errors.js";
import type { Policy } from "../policy/compile.js";
import type { Decision } from "../routing/decide.js";
import { type Evaluation, evaluate } from "../routing/evaluate.js";
import { adaptBodyBytesWithUndo } from "./body-bytes.js";
import { H, METADATA_NAMESPACE, UPSTREAM_NAMESPACE } from "./header-names.js";
import {
  type CommonResponse,
  headerBag,
  immediateError,
  type ProcessingRequest,
  type ProcessingResponse,
  setHeaders,
} from "./messages.js";
import { type Json, toStruct } from "./struct.js";

export interface Step {
  response: ProcessingResponse;
  /** True when this was the last message: the server ends the stream after writing it. */
  done: boolean;
}

export class RouterProcessor {
  private headers: Record<string, string> = {};

  constructor(
    private readonly policy: Policy,
    private readonly rand: () => number = Math.random,
  ) {}

  handle(req: ProcessingRequest): Step | undefined {
    if (req.request_headers) {
      this.headers = headerBag(req.request_headers.headers);
      if (req.request_headers.end_of_stream) return this.decide(Buffer.alloc(0));
      return { response: { request_headers: { response: {} } }, done: false };
    }
    if (req.request_body) {
      // BUFFERED mode delivers the whole body in one message.
      return this.decide(req.request_body.body ?? Buffer.alloc(0));
    }
    return undefined;
  }

  private decide(body: Buffer): Step {
    let ev: Evaluation;
    try {
      ev = evaluate(this.policy, this.headers, body.toString("utf8"), body.length, this.rand);
    } catch (err) {
      const error = clientError(
        "internal_error",
        `switchyard could not process the request: ${(err as Error).message}`,
      );
      return { response: immediateError(error), done: true };
    }
    if (ev.kind === "bad_body") {
      return {
        response: {
          ...immediateError(ev.error),
          dynamic_metadata: metadata(
            ev.reasons.map((r) => r.short),
            { error: ev.error.code },
          ),
        },
        done: true,
      };
    }
    const d = ev.decision;
    const shorts = d.reasons.map((r) => r.short);
    if (d.kind === "reject") {
      const extra: Record<string, string> = this.policy.doc.response.decision_headers
        ? { [H.class]: d.className }
        : {};
      const md = metadata(shorts, { class: d.className, error: d.error.code });
      return { response: { ...immediateError(d.error, extra), dynamic_metadata: md }, done: true };
    }
    return { response: this.route(d, shorts, ev, body), done: true };
  }

  private route(
    d: Extract<Decision, { kind: "route" }>,
    shorts: string[],
    ev: Evaluation,
    body: Buffer,
  ): ProcessingResponse {
    const retries = this.policy.doc.retry.attempts_per_pool * d.path.length - 1;
    const headers: Record<string, string> = {
      [H.cluster]: pathClusterName(d.path),
      [H.class]: d.className,
      [H.path]: d.path.join(","),
      [H.maxRetries]: String(retries),
    };
    const response: CommonResponse = { clear_route_cache: true };
    // Attempts normally go to the path's first pool: rewrite the body for it here, and Envoy
    // skips the upstream filter for attempts on that pool (render-xds.ts, upstreamExtProc).
    const firstName = d.path[0];
    const first = firstName === undefined ? undefined : this.policy.pools.get(firstName);
    const pre = first && body.length > 0 ? adaptBodyBytesWithUndo(body, first) : undefined;
    let upstream: Record<string, Json> | undefined;
    if (pre) {
      // A body the pool takes as it is goes on untouched: nothing to send back to Envoy.
      if (!pre.unchanged) {
        headers[H.contentLength] = String(pre.body.length);
        response.body_mutation = { body: pre.body };
      }
      upstream = { adapted_for: firstName ?? null, undo: { keys: pre.undo.keys, members: pre.undo.members } };
    }
    response.header_mutation = { set_headers: setHeaders(headers) };
    const facts = ev.kind === "decided" ? ev.facts : undefined;
    const md = metadata(
      shorts,
      {
        class: d.className,
        path: d.path.join(","),
        model: facts?.body.model,
        stream: facts?.body.stream,
        reasoning_effort: facts?.body.reasoningEffort,
        feature: facts?.headers.feature,
        tier: facts?.headers.tier,
        trial: facts?.headers.trial,
        quota_used: facts?.headers.quotaUsed,
        vision: facts ? facts.headers.vision || facts.body.imageCount > 0 : undefined,
        site: facts?.headers.site,
      },
      upstream,
    );
    return { request_body: { response }, dynamic_metadata: md };
  }
}

function metadata(
  reasons: string[],
  fields: Record<string, Json | undefined>,
  upstream?: Record<string, Json>,
) {
  return toStruct({
    [METADATA_NAMESPACE]: { ...dropUndefined(fields), reasons: reasons.join(" ") },
    [UPSTREAM_NAMESPACE]: upstream,
  });
}

function dropUndefined(o: Record<string, Json | undefined>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
