// An open-loop client for counted runs (the chaos report, the log-durability e2e test): a fixed
// rate whatever the answers, half the requests streaming, each tagged with its own x-request-id
// so that its response can be matched with its log line, and each response reduced to one
// outcome word: `200`, `200 cut` (a stream that broke), `<status> <error code>` (an
// OpenAI-shaped error) or `transport <code>` (no HTTP response).
import { Agent, request } from "node:http";
import { setTimeout as delay } from "node:timers/promises";

export interface LoadOptions {
  url: string;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Prefix of every x-request-id of this run. */
  tag: string;
  /** Give up on one request after this long (it counts as `transport timeout`). */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Outcome word by request id, for every request sent. */
  outcomes: Map<string, string>;
  sent: number;
}

/** Routing headers of the mix: frontier, fast and the default class, in turn. */
const MIX: Record<string, string>[] = [
  { "X-Discourse-AI-Feature": "ai_bot" },
  { "X-Discourse-AI-Feature": "translate" },
  {},
];

function body(i: number): string {
  return JSON.stringify({
    model: "any",
    stream: i % 2 === 0,
    messages: [{ role: "user", content: `chaos request ${i}` }],
  });
}

/** The error code of an OpenAI-shaped error body, if it is one. */
function errorCode(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown } };
    const code = parsed.error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

function outcomeOf(status: number, complete: boolean, text: string): string {
  if (status === 200) return complete ? "200" : "200 cut";
  return `${status} ${errorCode(text) ?? "(not JSON)"}`;
}

function send(agent: Agent, url: URL, id: string, i: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: string) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: "/v1/chat/completions",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "x-request-id": id, ...MIX[i % MIX.length] },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("error", () => {});
        res.on("close", () =>
          done(outcomeOf(res.statusCode ?? 0, res.complete, Buffer.concat(parts).toString())),
        );
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => done(`transport ${e.code ?? e.message}`));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
    req.end(body(i));
  });
}

/** An open loop: `rate` requests per second from start() until stop(). */
export class OpenLoop {
  readonly outcomes = new Map<string, string>();
  sent = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1_000 });
  private readonly pending: Promise<void>[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: Omit<LoadOptions, "durationMs">) {}

  /** Responses (or transport errors) so far. */
  get answered(): number {
    return this.outcomes.size;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops sending and waits for every answer. */
  async stop(): Promise<LoadResult> {
    this.running = false;
    await this.loop;
    await Promise.all(this.pending);
    this.agent.destroy();
    return { outcomes: this.outcomes, sent: this.sent };
  }

  private async run(): Promise<void> {
    const url = new URL(this.o.url);
    const started = performance.now();
    while (this.running) {
      const due = Math.floor(((performance.now() - started) / 1000) * this.o.rate);
      while (this.sent < due) {
        const i = this.sent++;
        const id = `${this.o.tag}-${i}`;
        const answer = send(this.agent, url, id, i, this.o.timeoutMs ?? 30_000);
        this.pending.push(answer.then((outcome) => void this.outcomes.set(id, outcome)));
      }
      await delay(5);
    }
  }
}

/** Sends `rate` requests per second for `durationMs`, then waits for every answer. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const loop = new OpenLoop(o);
  loop.start();
  await delay(o.durationMs);
  return loop.stop();
}

/** Outcome words and how many responses had each, most frequent first. */
export function countOutcomes(outcomes: Iterable<string>): [string, number][] {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}
