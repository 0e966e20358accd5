// The traffic share window: counts per class and serving pool, old buckets forgotten.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ShareWindow } from "./share.js";

test("counts per class and pool over the window; buckets older than it drop out", () => {
  const w = new ShareWindow(60_000);
  w.add(0, "fast", "qwen-small");
  w.add(5_000, "fast", "qwen-small");
  w.add(15_000, "fast", "deepseek-flash");
  w.add(20_000, "balanced", "none");
  assert.deepEqual(w.summary(30_000), {
    window_s: 60,
    total: 4,
    classes: [
      { class: "fast", total: 3, pools: { "qwen-small": 2, "deepseek-flash": 1 } },
      { class: "balanced", total: 1, pools: { none: 1 } },
    ],
  });
  const later = w.summary(75_000);
  assert.equal(later.total, 2, "the first bucket (0-10 s) is older than 60 s at 75 s");
  assert.deepEqual(later.classes[0]?.pools, { "deepseek-flash": 1 });
});
