import type { SimOptions } from "../sim/sim-backend.js";

/** The simulated fleet behind test/fixtures/e2e-policy.yml. */
export function e2eFleet(overrides: Partial<SimOptions> = {}): SimOptions[] {
  const pool = (names: string[], servedModel: string) =>
    names.map((name) => ({ name, servedModel, ttftMs: 5, tokensPerSec: 0, tokens: 8, ...overrides }));
  return [
    ...pool(["qs1", "qs2"], "Qwen/Qwen3-VL-8B-Instruct"),
    ...pool(["ql1", "ql2"], "Qwen/Qwen3-VL-235B-A22B-Instruct"),
    ...pool(["ds1", "ds2"], "deepseek-ai/DeepSeek-V4-Flash"),
  ];
}
