// Real clients through Envoy: the official `openai` npm package and curl. Chat streaming and
// not, stream_options.include_usage, tools, an image part, /v1/completions, GET /v1/models and
// class-named models; errors arrive as the SDK's typed errors with the right status and code.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import OpenAI from "openai";
import { e2eFleet } from "./fleet.js";
import { readFixture } from "./harness.js";
import { logLine, POOLS, useStack } from "./util.js";

const run = promisify(execFile);
const QWEN_SMALL = "Qwen/Qwen3-VL-8B-Instruct";
const DEEPSEEK = "deepseek-ai/DeepSeek-V4-Flash";
const USER = [{ role: "user" as const, content: "hi" }];

/** The policy fixture plus the models section a chat UI relies on. */
async function clientPolicy(): Promise<string> {
  const base = await readFixture("e2e-policy.yml");
  return `${base}\nmodels:\n  prefix: switchyard/\n  aliases: { gpt-4o-mini: fast }\n`;
}

async function curl(...args: string[]): Promise<string> {
  const { stdout } = await run("curl", ["-sS", "--max-time", "20", ...args], { maxBuffer: 1 << 20 });
  return stdout;
}

describe("real clients: the openai SDK and curl through Envoy", () => {
  const stack = useStack(async () => ({ policy: await clientPolicy(), sims: e2eFleet() }));
  const client = (headers: Record<string, string> = {}) =>
    new OpenAI({ baseURL: `${stack().url}/v1`, apiKey: "unused", maxRetries: 0, defaultHeaders: headers });

  it("GET /v1/models: auto and one model per class, in OpenAI's list format", async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    assert.deepEqual(ids, ["auto", "switchyard/fast", "switchyard/balanced", "switchyard/frontier"]);
    const one = await client().models.retrieve("switchyard/frontier");
    assert.deepEqual([one.id, one.object, one.owned_by], ["switchyard/frontier", "model", "switchyard"]);
    const viaCurl = JSON.parse(await curl(`${stack().url}/v1/models`)) as { object: string; data: unknown[] };
    assert.equal(viaCurl.object, "list");
    assert.equal(viaCurl.data.length, 4);
  });

  it("chat, not streaming: a model named after a class sets the class; the log line says so", async () => {
    const id = randomUUID();
    const { data, response } = await client()
      .chat.completions.create(
        { model: "switchyard/fast", messages: USER },
        { headers: { "x-request-id": id } },
      )
      .withResponse();
    assert.equal(response.headers.get("x-switchyard-class"), "fast");
    assert.ok((POOLS.qwenSmall as readonly string[]).includes(response.headers.get("x-sim-backend") ?? ""));
    assert.equal(data.object, "chat.completion");
    assert.equal(data.model, QWEN_SMALL);
    assert.ok((data.choices[0]?.message.content ?? "").length > 0);
    // The id the client sent reaches the backend too (a runbook step follows it there).
    const sim = stack().sims.byName(response.headers.get("x-sim-backend") as string);
    assert.equal(sim.received.at(-1)?.headers["x-request-id"], id);
    const line = await logLine(stack(), id);
    assert.equal(line.request_id, id);
    assert.equal(line.class, "fast");
    assert.equal(line.base_from, "model");
    assert.equal(line.model, "switchyard/fast");
    assert.ok((line.reasons as string[]).includes("model:switchyard/fast"));
  });

  it("auto and a pool's served name leave the class to the feature header", async () => {
    for (const model of ["auto", DEEPSEEK]) {
      const id = randomUUID();
      const { response } = await client({ "X-Discourse-AI-Feature": "translate" })
        .chat.completions.create({ model, messages: USER }, { headers: { "x-request-id": id } })
        .withResponse();
      assert.equal(response.headers.get("x-switchyard-class"), "fast", model);
      assert.equal((await logLine(stack(), id)).base_from, "feature", model);
    }
  });

  it("an alias names a class, and the feature's cap still holds over a class model", async () => {
    const alias = await client()
      .chat.completions.create({ model: "gpt-4o-mini", messages: USER })
      .withResponse();
    assert.equal(alias.response.headers.get("x-switchyard-class"), "fast");
    const capped = await client({ "X-Discourse-AI-Feature": "translate" })
      .chat.completions.create({ model: "switchyard/frontier", messages: USER })
      .withResponse();
    assert.equal(capped.response.headers.get("x-switchyard-class"), "fast");
  });

  it("chat, streaming with stream_options.include_usage: every chunk parses, usage comes last", async () => {
    const stream = await client().chat.completions.create({
      model: "switchyard/balanced",
      messages: USER,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.object, "chat.completion.chunk");
      assert.equal(chunk.model, DEEPSEEK);
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks > 2 && text.length > 0, `${chunks} chunks: ${text}`);
    assert.equal(usage?.completion_tokens, 8);
  });

  it("tools: a forced function call comes back as the SDK's tool_calls", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ];
    const r = await client().chat.completions.create({
      model: "auto",
      messages: USER,
      tools,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    assert.equal(r.choices[0]?.finish_reason, "tool_calls");
    const call = r.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type === "function" ? call.function.name : undefined, "get_weather");
  });

  it("an image part goes to a vision pool", async () => {
    const { response } = await client()
      .chat.completions.create({
        model: "auto",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "what is it" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            ],
          },
        ],
      })
      .withResponse();
    // balanced is deepseek-flash (no vision) then qwen-small: the image skips deepseek-flash.
    assert.equal(response.headers.get("x-switchyard-pool"), "qwen-small");
  });

  it("/v1/completions, not streaming and streaming", async () => {
    const c = await client().completions.create({ model: "switchyard/fast", prompt: "Say hi" });
    assert.equal(c.object, "text_completion");
    assert.ok((c.choices[0]?.text ?? "").length > 0);
    let text = "";
    for await (const chunk of await client().completions.create({
      model: "switchyard/fast",
      prompt: "Say hi",
      stream: true,
    }))
      text += chunk.choices[0]?.text ?? "";
    assert.equal(text, c.choices[0]?.text);
  });

  it("errors are the SDK's typed errors with status and code", async () => {
    const tooLong = client().chat.completions.create({
      model: "auto",
      messages: USER,
      max_tokens: 10_000_000,
    });
    await assert.rejects(tooLong, (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.code, "context_length_exceeded");
      return true;
    });
    await assert.rejects(client().get("/nowhere"), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      assert.equal(e.code, "not_found");
      return true;
    });
    for (const name of POOLS.qwenSmall) await stack().sims.byName(name).setMode("refuse");
    const down = client({ "X-Discourse-AI-Feature": "translate" }).chat.completions.create({
      model: "auto",
      messages: USER,
    });
    await assert.rejects(down, (e: unknown) => {
      assert.ok(e instanceof OpenAI.InternalServerError, String(e));
      assert.equal(e.status, 503);
      assert.equal(e.code, "no_healthy_upstream");
      return true;
    });
  });

  it("curl: chat with and without streaming, and an error body", async () => {
    const url = `${stack().url}/v1/chat/completions`;
    const post = (body: object, ...extra: string[]) =>
      curl("-H", "content-type: application/json", ...extra, "-d", JSON.stringify(body), url);
    const full = JSON.parse(await post({ model: "switchyard/frontier", messages: USER })) as {
      model: string;
    };
    assert.equal(full.model, "Qwen/Qwen3-VL-235B-A22B-Instruct");
    const sse = await post({ model: "switchyard/fast", messages: USER, stream: true }, "-N");
    const events = sse.split("\n\n").filter((e) => e.startsWith("data: "));
    assert.equal(events.at(-1), "data: [DONE]");
    for (const e of events.slice(0, -1)) JSON.parse(e.slice("data: ".length));
    const status = await curl(
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      "content-type: application/json",
      "-d",
      "{",
      url,
    );
    assert.equal(status, "400");
    const err = JSON.parse(await curl("-H", "content-type: application/json", "-d", "{", url)) as {
      error: { code: string };
    };
    assert.equal(err.error.code, "invalid_json");
  });
});
