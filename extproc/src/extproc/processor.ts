// What a processor says per ext_proc phase; the stream loop (server.ts) dispatches on the
// message type and owns everything else (timing, faults, ending the stream).
import type { ProcessingRequest, ProcessingResponse } from "./messages.js";

export interface Step {
  response: ProcessingResponse;
  /** True when this was the last message: the server ends the stream after writing it. */
  done: boolean;
}

export interface Processor {
  /** The request's id, once known (for the one log line of an internal fault). */
  readonly requestId: string | undefined;
  onRequestHeaders(
    msg: NonNullable<ProcessingRequest["request_headers"]>,
    req: ProcessingRequest,
  ): Step | Promise<Step> | undefined;
  /** A promise when the answer waits on I/O (the router's classifier call); a Step otherwise. */
  onRequestBody(
    msg: NonNullable<ProcessingRequest["request_body"]>,
    req: ProcessingRequest,
  ): Step | Promise<Step> | undefined;
}
