// Wire shapes of vLLM's OpenAI-compatible responses: SSE chunks for streaming, the full JSON
// objects for non-streaming, and the /v1/models list. Field order and null-valued fields follow
// vLLM's pydantic output (chunks are dumped with exclude_unset, the usage chunk additionally with
// exclude_none).

import { randomUUID } from "node:crypto";

export type Endpoint = "chat" | "completion";
export type FinishReason = "length" | "stop";

export interface Usage {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
}

// A fixed vocabulary so completions look like text and are deterministic: token i is WORDS[i % n].
const WORDS = [
  "The ",
  "simulated ",
  "backend ",
  "streams ",
  "fake ",
  "tokens ",
  "at ",
  "a ",
  "steady ",
  "pace ",
  "so ",
  "routing ",
  "tests ",
  "stay ",
  "fast ",
  "and ",
  "repeatable. ",
];
// Words are plain ASCII without quotes or backslashes, so they can be spliced into JSON verbatim.

export function tokenText(i: number): string {
  return WORDS[i % WORDS.length] as string;
}

export function completionText(tokens: number): string {
  let text = "";
  for (let i = 0; i < tokens; i++) text += tokenText(i);
  return text;
}

export const DONE_EVENT = "data: [DONE]\n\n";

/**
 * Builds the SSE events of one stream. Everything that is constant for the stream is rendered
 * once into `head`, so a token event is a single string concatenation (the stream may be one of
 * thousands running in the process).
 */
export class StreamFramer {
  private readonly head: string;
  private readonly meta: string;

  constructor(
    private readonly endpoint: Endpoint,
    id: string,
    created: number,
    model: string,
  ) {
    const object = endpoint === "chat" ? "chat.completion.chunk" : "text_completion";
    this.meta = `{"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${JSON.stringify(model)},`;
    this.head = `data: ${this.meta}"choices":[{"index":0,`;
  }

  /** Chat streams open with an empty assistant delta; completions have no such event. */
  role(): string {
    return `${this.head}"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  /** vLLM puts finish_reason on the chunk carrying the last token rather than on an extra one. */
  token(i: number, finish: FinishReason | null): string {
    const end = finish === null ? `"finish_reason":null` : `"finish_reason":"${finish}","stop_reason":null`;
    if (this.endpoint === "chat") {
      return `${this.head}"delta":{"content":"${tokenText(i)}"},"logprobs":null,${end}}]}\n\n`;
    }
    const stop = finish === null ? `,"stop_reason":null` : "";
    return `${this.head}"text":"${tokenText(i)}","logprobs":null,${end}${stop}}]}\n\n`;
  }

  usage(u: Usage): string {
    return `data: ${this.meta}"choices":[],"usage":${JSON.stringify(u)}}\n\n`;
  }
}

/** In-band error event, as vLLM's stream generators emit when generation fails mid-stream. */
export function errorEvent(errorBody: string): string {
  return `data: ${errorBody}\n\n`;
}

export interface FullResponseArgs {
  endpoint: Endpoint;
  id: string;
  created: number;
  model: string;
  tokens: number;
  finish: FinishReason;
  usage: Usage;
  /** Answer with one call of this function (and finish_reason tool_calls) instead of text. */
  toolCall?: string;
  /** The content instead of the fake tokens' text. */
  text?: string;
}

/** The non-streaming `chat.completion` / `text_completion` object. */
export function fullResponse(a: FullResponseArgs): string {
  const text = a.text ?? completionText(a.tokens);
  const base = { id: a.id, object: "", created: a.created, model: a.model };
  if (a.endpoint === "completion") {
    const choice = {
      index: 0,
      text,
      logprobs: null,
      finish_reason: a.finish,
      stop_reason: null,
      prompt_logprobs: null,
    };
    return JSON.stringify({ ...base, object: "text_completion", choices: [choice], usage: a.usage });
  }
  const calls =
    a.toolCall === undefined
      ? []
      : [{ id: `chatcmpl-tool-${a.id}`, type: "function", function: { name: a.toolCall, arguments: "{}" } }];
  const message = {
    role: "assistant",
    content: a.toolCall === undefined ? text : null,
    refusal: null,
    annotations: null,
    audio: null,
    function_call: null,
    tool_calls: calls,
    reasoning_content: null,
  };
  const finish = a.toolCall === undefined ? a.finish : "tool_calls";
  const choice = { index: 0, message, logprobs: null, finish_reason: finish, stop_reason: null };
  return JSON.stringify({
    ...base,
    object: "chat.completion",
    choices: [choice],
    service_tier: null,
    system_fingerprint: null,
    usage: { ...a.usage, prompt_tokens_details: null },
    prompt_logprobs: null,
    kv_transfer_params: null,
  });
}

/** vLLM's ModelList: one card per served name, the first being the model's own (no LoRA adapters). */
export function modelList(names: readonly string[], maxModelLen: number): string {
  const created = Math.floor(Date.now() / 1000);
  const permission = {
    id: `modelperm-${randomUUID().replaceAll("-", "")}`,
    object: "model_permission",
    created,
    allow_create_engine: false,
    allow_sampling: true,
    allow_logprobs: true,
    allow_search_indices: false,
    allow_view: true,
    allow_fine_tuning: false,
    organization: "*",
    group: null,
    is_blocking: false,
  };
  const cards = names.map((id) => ({
    id,
    object: "model",
    created,
    owned_by: "vllm",
    // vLLM reports the model path here; the sim has none, so it repeats the first served name.
    root: names[0],
    parent: null,
    max_model_len: maxModelLen,
    permission: [permission],
  }));
  return JSON.stringify({ object: "list", data: cards });
}
