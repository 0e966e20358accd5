// Small builders and readers for ext_proc messages. Requests arrive as protobufjs decoded them
// (keepCase; a field Envoy did not send reads as its default: null, "", 0, false, an empty
// list); responses are encoded from these plain objects as they are (protos.ts), so an enum is
// written as its number.
import { type ClientError, errorBody } from "../errors.js";
import type { HeaderBag } from "../facts/types.js";
import type { PbStruct } from "./struct.js";

export interface PbHeader {
  key: string;
  value?: string;
  raw_value?: Buffer;
}
export interface PbHeaderMap {
  headers?: PbHeader[];
}

export interface ProcessingRequest {
  request_headers?: { headers?: PbHeaderMap; end_of_stream?: boolean };
  request_body?: { body?: Buffer; end_of_stream?: boolean };
  response_headers?: unknown;
  response_body?: unknown;
  request_trailers?: unknown;
  response_trailers?: unknown;
  attributes?: Record<string, PbStruct>;
  /** The namespaces listed in metadata_options.forwarding_namespaces. */
  metadata_context?: { filter_metadata?: Record<string, PbStruct> };
  request?: string;
}

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction (checked against the protos by a test). */
export const OVERWRITE_IF_EXISTS_OR_ADD = 2;
/** envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode. */
export const BODY_MODE = { NONE: 0, BUFFERED: 2 } as const;

export interface HeaderMutation {
  set_headers?: {
    header: { key: string; raw_value: Buffer };
    append_action: typeof OVERWRITE_IF_EXISTS_OR_ADD;
  }[];
  remove_headers?: string[];
}

export interface CommonResponse {
  header_mutation?: HeaderMutation;
  body_mutation?: { body: Buffer };
  clear_route_cache?: boolean;
}

export interface ProcessingResponse {
  request_headers?: { response: CommonResponse };
  request_body?: { response: CommonResponse };
  response_headers?: { response: CommonResponse };
  response_body?: { response: CommonResponse };
  request_trailers?: object;
  response_trailers?: object;
  immediate_response?: {
    status: { code: number };
    headers?: HeaderMutation;
    body?: Buffer;
    details?: string;
  };
  dynamic_metadata?: PbStruct;
  /** Honoured in answer to request headers when the filter sets allow_mode_override. */
  mode_override?: { request_body_mode?: (typeof BODY_MODE)[keyof typeof BODY_MODE] };
}

export function headerBag(map: PbHeaderMap | undefined): Record<string, string> {
  const bag: Record<string, string> = {};
  for (const h of map?.headers ?? []) {
    const key = h.key.toLowerCase();
    if (bag[key] !== undefined) continue;
    bag[key] = h.raw_value && h.raw_value.length > 0 ? h.raw_value.toString("latin1") : (h.value ?? "");
  }
  return bag;
}

export function setHeaders(headers: Record<string, string>): HeaderMutation["set_headers"] {
  return Object.entries(headers).map(([key, value]) => ({
    header: { key, raw_value: Buffer.from(value, "latin1") },
    append_action: OVERWRITE_IF_EXISTS_OR_ADD,
  }));
}

export function immediateError(
  e: ClientError,
  extraHeaders: Record<string, string> = {},
): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: e.status },
      headers: { set_headers: setHeaders({ "content-type": "application/json", ...extraHeaders }) },
      body: Buffer.from(errorBody(e)),
      details: `switchyard_${e.code}`,
    },
  };
}

export type { HeaderBag };
