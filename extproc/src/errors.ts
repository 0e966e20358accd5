// Every error a client can get from switchyard, defined once: code, HTTP status, OpenAI
// error type and message. The README's "Errors" table lists each code (a test checks it).

export interface ErrorDef {
  status: number;
  type: "invalid_request_error" | "server_error";
  describe: string;
}

export const ERRORS = {
  invalid_json: {
    status: 400,
    type: "invalid_request_error",
    describe: "the request body is not valid JSON",
  },
  body_not_object: {
    status: 400,
    type: "invalid_request_error",
    describe: "the request body is JSON but not an object",
  },
  nesting_too_deep: {
    status: 400,
    type: "invalid_request_error",
    describe:
      "a request setting (tools, chat_template_kwargs, …) nests arrays or objects deeper than 128 levels",
  },
  unsupported_media_type: {
    status: 415,
    type: "invalid_request_error",
    describe: "the request's content-type is not application/json",
  },
  body_too_large: {
    status: 413,
    type: "invalid_request_error",
    describe: "the request body is over the policy's limits.max_body_bytes",
  },
  no_capable_pool: {
    status: 400,
    type: "invalid_request_error",
    describe: "no pool on the class's ladder has a capability the request needs (vision, tools)",
  },
  context_length_exceeded: {
    status: 400,
    type: "invalid_request_error",
    describe: "the prompt estimate plus max_tokens exceeds every pool's context window on the ladder",
  },
  no_healthy_upstream: {
    status: 503,
    type: "server_error",
    describe: "every attempt on the ladder path failed before a response started (Envoy's local reply)",
  },
  upstream_timeout: {
    status: 504,
    type: "server_error",
    describe: "no backend answered within the per-try timeout",
  },
  overloaded: {
    status: 503,
    type: "server_error",
    describe: "too many large request bodies are waiting to be decided; retry after the Retry-After seconds",
  },
  internal_error: { status: 500, type: "server_error", describe: "switchyard failed to process the request" },
  not_found: {
    status: 404,
    type: "invalid_request_error",
    describe:
      "a path other than POST /v1/chat/completions, /v1/completions or GET /v1/models (Envoy's reply)",
  },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export interface ClientError {
  status: number;
  code: ErrorCode;
  type: ErrorDef["type"];
  message: string;
}

export function clientError(code: ErrorCode, message: string): ClientError {
  const def: ErrorDef = ERRORS[code];
  return { status: def.status, code, type: def.type, message };
}

/** The OpenAI-style JSON body: {"error": {"message", "type", "code"}}. */
export function errorBody(e: ClientError): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: null, code: e.code } });
}
