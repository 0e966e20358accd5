// The sim's classifier mode for chat: instead of fake tokens, a non-streaming chat completion
// answers a label, chosen by counting each label's keywords in the last user message. The
// answer follows the request's structured-output ask: {"label": ...} for a json_schema
// response_format, the bare label for guided_choice (and without either). `output` makes it
// misbehave on purpose: garbage text, or a label nobody declared.

export interface SimLabeler {
  /** label -> keywords (lowercase; matched as substrings of the lowercased message). */
  labels: Record<string, string[]>;
  /** The answer when no keyword matches. */
  fallback: string;
  output?: "ok" | "garbage" | "unknown-label";
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown };
    if (m?.role === "user")
      return typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "");
  }
  return "";
}

export function pickLabel(l: SimLabeler, text: string): string {
  const t = text.toLowerCase();
  let best = l.fallback;
  let bestCount = 0;
  for (const [label, keywords] of Object.entries(l.labels)) {
    const n = keywords.reduce((c, k) => c + (t.includes(k) ? 1 : 0), 0);
    if (n > bestCount) {
      best = label;
      bestCount = n;
    }
  }
  return best;
}

/** The assistant message content the sim answers with. */
export function labelAnswer(l: SimLabeler, body: Record<string, unknown>): string {
  if (l.output === "garbage") return "Hmm, this one looks like it needs some thought!";
  const label = l.output === "unknown-label" ? "no-such-label" : pickLabel(l, lastUserText(body));
  const format = body.response_format as { type?: unknown } | undefined;
  return format?.type === "json_schema" ? JSON.stringify({ label }) : label;
}
